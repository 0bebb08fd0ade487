/*-------------------------------------------------------------------------
 *
 * drive.c
 *	  Driving runs: claim a due run, replay its handler, run the step it
 *	  reaches, checkpoint, and repeat until the run ends or must wait.
 *
 * This file is the straight path of a run through the engine
 * (doc/design.md, "From an event to a completed run"): runs_claim_next()
 * picks the run, replay_invoke() calls its handler (replay.c),
 * stepexec_run() runs the step it reached (stepexec.c), and the lifecycle
 * (lifecycle.c) records what happened, in the step's transaction.
 *
 * A worker commits once per step (the checkpoint): just before the next
 * step runs, or with the run's outcome, so no run ever executes two steps
 * in one transaction.  inngest.tick() runs inside the caller's transaction
 * and only advances the command counter.
 *
 * Runs are claimed only from the due index (wake_at <= now); a run whose
 * progress is committed before its outcome is marked 'running' and leaves
 * that index.  The driver lock (runs.c) lets recovery tell a 'running' run
 * whose driver died from one that is still driven.
 *
 *-------------------------------------------------------------------------
 */
#include "inngest.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "catalog.h"
#include "drive.h"
#include "flow.h"
#include "guc.h"
#include "jsonutil.h"
#include "lifecycle.h"
#include "memo.h"
#include "replay.h"
#include "restore.h"
#include "runs.h"
#include "schedules.h"
#include "security.h"
#include "slots.h"
#include "spiutil.h"
#include "stepexec.h"
#include "waits.h"

/*
 * How often one tick() may bring back runs that waited for a concurrency
 * slot it released (a bound, in case a probe and a claim keep disagreeing)
 */
#define TICK_MAX_PROMOTIONS 1000

/* How often expired flow-control state is deleted */
#define FLOW_CLEANUP_MS			60000

/*
 * The run claimed last, until its drive ends normally: after an internal
 * error escapes the drive, the worker uses it to requeue that run.
 */
static int64 claimed_run_id = 0;
static int	claimed_attempt = 0;

/*
 * The clock reading of the last claim that found nothing due: runs due by
 * then that it could not claim are locked by a live driver, so the next
 * wake-up to wait for is strictly after it.
 */
static TimestampTz last_claim_horizon = 0;

static TimestampTz last_cleanup = 0;

/*
 * A worker's transaction: when it started, and whether it holds the writes
 * of runs other than the one being driven (their steps, their outcomes),
 * which must commit within DRIVE_BATCH_MAX_MS of its start.
 */
static TimestampTz xact_started = 0;
static bool xact_holds_outcomes = false;

static void drive(Replay *rp);

/* ----------------------------------------------------------------------
 * Claiming
 * ----------------------------------------------------------------------
 */

/* The state of a claimed run for its drive, in a memory context of its own */
static RunState *
run_state_create(ClaimedRun *claim, bool commit_steps)
{
	MemoryContext cxt = AllocSetContextCreate(TopMemoryContext,
											  "inngest run",
											  ALLOCSET_DEFAULT_SIZES);
	RunState   *run = MemoryContextAllocZero(cxt, sizeof(RunState));

	run->cxt = cxt;
	run->run_id = claim->id;
	strlcpy(run->function_id, claim->function_id, sizeof(run->function_id));
	run->event = (Jsonb *) MemoryContextAlloc(cxt, VARSIZE(claim->event));
	memcpy(run->event, claim->event, VARSIZE(claim->event));
	run->attempt = claim->attempt;
	run->started_at = claim->fresh ? inngest_clock() : claim->started_at;
	run->queue_at = claim->queue_at;
	run->was_set_aside = claim->was_set_aside;
	run->depth = claim->depth;
	run->commit_steps = commit_steps;
	return run;
}

/* Take what the drive needs from the run's function definition */
static void
run_state_set_function(RunState *run, InngestFunction *fn)
{
	run->handler = fn->handler;
	run->owner = fn->owner;
	run->retries = fn->retries;
	run->search_path = MemoryContextStrdup(run->cxt, fn->search_path);
	run->has_cancel_on = fn->cancel_on != NIL;
	if (fn->timeout_finish != NULL)
		run->deadline = inngest_add_interval(run->started_at, fn->timeout_finish);
}

/*
 * The error of a run whose function's owner role was dropped.  That
 * happens only by DROP ROLE where the hook of roles.c did not act (in
 * another database, or a backend that had not loaded the library): running
 * as that role would fail with "invalid role OID" somewhere in the handler.
 */
static Jsonb *
owner_dropped_error(RunState *run)
{
	return jsonb_error_message(ERRCODE_UNDEFINED_OBJECT,
							   psprintf("the owner of inngest function \"%s\" (the role with OID %u) was dropped",
										run->function_id, run->owner));
}

/*
 * Why the run's handler cannot be called (it was dropped, its owner role
 * was dropped, or its owner may no longer execute it), as the run's error,
 * or NULL.  Such a run fails with that reason instead of breaking the
 * executor.
 */
static Jsonb *
handler_problem(RunState *run)
{
	if (!SearchSysCacheExists1(PROCOID, ObjectIdGetDatum(run->handler)))
		return jsonb_error_message(ERRCODE_UNDEFINED_FUNCTION,
								   psprintf("handler function %u of \"%s\" no longer exists",
											run->handler, run->function_id));
	if (!inngest_role_exists(run->owner))
		return owner_dropped_error(run);
	if (pg_proc_aclcheck(run->handler, run->owner, ACL_EXECUTE) != ACLCHECK_OK)
		return jsonb_error_message(ERRCODE_UNDEFINED_FUNCTION,
								   psprintf("role %s may no longer execute handler %s",
											GetUserNameFromId(run->owner, true),
											format_procedure(run->handler)));
	return NULL;
}

/*
 * Everything that decides, at its claim, whether a run is driven now: its
 * function, the matches kept for it, its timeouts, its handler, its
 * concurrency slots.  Drives it if so.
 */
static void
start_drive(RunState *run, ClaimedRun *claim)
{
	InngestFunction *fn;
	Jsonb	   *problem;
	Replay	   *rp;

	catalog_refresh();
	fn = catalog_lookup_function(run->function_id);
	if (fn == NULL)
	{
		lifecycle_fail(run, jsonb_error(NULL));
		return;
	}
	run_state_set_function(run, fn);
	problem = handler_problem(run);

	/*
	 * Only a run with waits can have kept matches: one that has started
	 * before, or whose function has cancelOn rules.  An event matched one
	 * of its waits while another driver held it: that is applied now
	 * (cancelled, or its wait resolved, which queued it again with the
	 * memo); the next claim drives it if it is still to run.
	 */
	if ((!claim->fresh || run->has_cancel_on) &&
		!lifecycle_apply_run_deferred(run->run_id))
		return;
	/* a cancel asked for while another transaction held it */
	if (claim->cancel_requested && lifecycle_cancel_if_requested(run))
		return;
	if (claim->fresh && fn->timeout_start != NULL &&
		inngest_add_interval(claim->created_at, fn->timeout_start) <= inngest_clock())
	{
		(void) lifecycle_cancel(run->run_id, false, "timeouts.start");
		return;
	}
	if (run->deadline != 0 && run->deadline <= inngest_clock())
	{
		(void) lifecycle_cancel(run->run_id, false, "timeouts.finish");
		return;
	}
	if (problem != NULL)
	{
		lifecycle_fail(run, problem);
		return;
	}
	if (!slots_enter(run, fn, claim->fresh))
		return;					/* no free slot: set aside until one frees */

	rp = replay_begin(run);
	if (strcmp(claim->status, "sleeping") == 0)
		memo_complete_sleep(run->run_id);
	else if (strcmp(claim->status, "waiting") == 0)
		lifecycle_wait_timed_out(run->run_id);	/* the timeout came */
	if (!claim->fresh)
		replay_load_memo(rp);
	lifecycle_track(run);
	drive(rp);
}

/* The drive of run (NULL: it never began) is over: free what it holds */
static void
end_drive(RunState *run)
{
	lifecycle_track(NULL);
	replay_end();
	if (run != NULL)
	{
		slots_release(run);
		MemoryContextDelete(run->cxt);
	}
}

/*
 * Claim the next due run and drive it as far as it can go now.  Must be
 * called in a transaction with SPI connected, as the extension owner.
 * Returns false when no run is due, or while a dump is being restored (a
 * restored run may not have its memo yet: restore.c).  driver: see
 * runs_claim_next (tick() by a role that is not an admin).
 */
bool
drive_run_next(bool commit_steps, Oid driver)
{
	ClaimedRun	claim;
	TimestampTz now = inngest_clock();
	RunState   *volatile run = NULL;

	if (replay_in_progress())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("a run cannot drive other runs"),
				 errhint("Do not call inngest.tick() from a handler or a step.")));

	/* a drive's checkpoint starts a transaction: look again in each */
	if (restore_in_progress())
		return false;
	if (!runs_claim_next(now, driver, &claim))
	{
		last_claim_horizon = now;
		return false;
	}

	/* a live driver holds the lock only in a race we lost: leave it be */
	if (!runs_lock_driver(claim.id, true))
		return true;
	claimed_run_id = claim.id;
	claimed_attempt = claim.attempt;

	/*
	 * From here on the driver lock is ours.  When the drive ends it is given
	 * back (and the run's memory freed).  When an internal error escapes, a
	 * worker keeps it until it has counted the failed attempt
	 * (drive_forget_claim), so that no other executor drives the run again
	 * in between and counts the same failure twice; tick() gives it back at
	 * once, the error going to its caller.
	 */
	PG_TRY();
	{
		run = run_state_create(&claim, commit_steps);
		SPI_freetuptable(SPI_tuptable);
		if (claim.flow_marks)
			runs_clear_flow_marks(run->run_id);
		start_drive(run, &claim);
		/* what it wrote now waits for this transaction's commit */
		xact_holds_outcomes = true;
	}
	PG_CATCH();
	{
		end_drive(run);
		if (!commit_steps)
			drive_forget_claim();
		PG_RE_THROW();
	}
	PG_END_TRY();

	end_drive(run);
	drive_forget_claim();
	/* nothing the run's code left in a worker's session reaches the next */
	if (commit_steps)
		inngest_reset_worker_session();
	return true;
}

/*
 * The claimed run's drive is over: give back its driver lock (if it was
 * kept after an internal error, see drive_run_next).
 */
void
drive_forget_claim(void)
{
	if (claimed_run_id != 0)
		runs_unlock_driver(claimed_run_id);
	claimed_run_id = 0;
}

/*
 * The run whose drive an internal error interrupted (0: none), and the
 * attempt it was claimed at: a worker counts that failure once.
 */
int64
drive_claimed_run(int *attempt)
{
	*attempt = claimed_attempt;
	return claimed_run_id;
}

/* ----------------------------------------------------------------------
 * Driving
 * ----------------------------------------------------------------------
 */

/*
 * After the run's handler or a step returned: the run's driver lock is
 * still this session's (runs_keep_driver).  If user code released it and
 * another session took it, this drive stops and rolls back; the other
 * session drives the run, so there is no failed attempt to count here.
 */
static void
keep_driver_lock(RunState *run)
{
	if (runs_keep_driver(run->run_id))
		return;
	claimed_run_id = 0;
	ereport(ERROR,
			(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
			 errmsg("run %lld is being driven by another session",
					(long long) run->run_id),
			 errdetail("A handler or step of the run released the run's driver lock (pg_advisory_unlock_all()).")));
}

/*
 * After a step: a worker commits (the checkpoint) and starts the next
 * transaction; tick() only makes the step visible to the replay.  Returns
 * false if the run must stop: its status was changed by someone else, or
 * its function was deleted or its owner dropped, while the step ran.
 */
static bool
checkpoint(RunState *run)
{
	InngestFunction *fn;
	char	   *status;
	bool		cancel_requested;
	Oid			save_userid;
	int			save_sec;

	if (!run->commit_steps)
	{
		CommandCounterIncrement();
		return true;
	}

	/* from this commit on, others can see the run in progress */
	if (!run->marked_running)
		runs_mark_running(run);

	GetUserIdAndSecContext(&save_userid, &save_sec);
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	inngest_set_local_search_path();
	SetUserIdAndSecContext(save_userid, save_sec);
	inngest_spi_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	xact_started = GetCurrentTimestamp();
	xact_holds_outcomes = false;
	if (!catalog_lock_extension())
		return false;			/* dropped between two steps */

	status = runs_status(run->run_id, &cancel_requested);
	if (status == NULL || strcmp(status, "running") != 0)
		return false;
	if (cancel_requested && lifecycle_cancel_if_requested(run))
		return false;

	catalog_refresh();
	fn = catalog_lookup_function(run->function_id);
	if (fn == NULL)
	{
		lifecycle_fail(run, jsonb_error(NULL));
		return false;
	}

	/*
	 * REASSIGN OWNED may have given the function to another role meanwhile:
	 * the next step runs as that role.  An owner dropped behind the hook's
	 * back fails the run, as at a claim.
	 */
	run->owner = fn->owner;
	if (!inngest_role_exists(run->owner))
	{
		lifecycle_fail(run, owner_dropped_error(run));
		return false;
	}

	/* the commit gave back its concurrency slots: the next step needs them */
	return slots_enter(run, NULL, false);
}

/*
 * A step completed with output: its memo row, in the current transaction
 * with its writes, and the memo the replay sees, with those writes.
 */
static void
record_step(Replay *rp, Jsonb *output, TimestampTz started)
{
	lifecycle_step_done(rp->run, rp->pending.key, rp->pending.kind, output,
						started);
	replay_remember(rp, rp->pending.key, output);
	CommandCounterIncrement();
}

/*
 * A wait or invoke step: register it and let the run go (unless the
 * checkpoint it may need finds the run ended).
 */
static void
suspend_for_event(Replay *rp)
{
	RunState   *run = rp->run;
	PendingStep *step = &rp->pending;
	EventLockRequest locks[LIFECYCLE_MAX_WAIT_LOCKS];
	int			nlocks = lifecycle_wait_locks(step->kind, step->event_name, locks);

	/*
	 * A worker that already holds event-name locks (earlier runs of its
	 * transaction) commits before it takes new ones, so that it never waits
	 * for a lock while holding one (see waits.c).  Names it holds
	 * exclusively already cost no wait: many runs waiting for the same
	 * event name share a commit.
	 */
	if (run->commit_steps && waits_holding_locks() &&
		!waits_hold_exclusively(locks, nlocks) && !checkpoint(run))
		return;
	if (step->kind == STEP_WAIT)
		lifecycle_wait(run, step->key, step->event_name, step->match_path,
					   step->condition, step->until);
	else
		lifecycle_invoke(run, step->key, step->event_name, step->event_data,
						 step->until);
}

/*
 * When the step about to run must stop so that the other runs of this
 * worker transaction commit in time (0: no limit): runs driven together in
 * one transaction share its commit, but a run's outcome must not wait
 * behind another run's slow step for longer than the batch's time.
 */
static TimestampTz
batch_end(RunState *run)
{
	if (!run->commit_steps || !xact_holds_outcomes)
		return 0;
	return xact_started + (int64) DRIVE_BATCH_MAX_MS * 1000;
}

/*
 * Run the pending step and record it.  Returns false if the run stops
 * here: the step failed (retry or failure recorded), or the run's
 * timeouts.finish came.
 */
static bool
run_step(Replay *rp)
{
	RunState   *run = rp->run;

	for (;;)
	{
		Jsonb	   *output = NULL;
		ErrorData  *edata = NULL;
		TimestampTz started;
		TimestampTz limit;
		StepResult	result;

		/*
		 * tick() holds the run for its whole transaction: a cancel asked
		 * for meanwhile is looked for before every step (a worker looks
		 * at its checkpoints).
		 */
		if (!run->commit_steps && lifecycle_cancel_if_requested(run))
			return false;

		/* timeouts.finish is checked between steps, and stops a step */
		if (run->deadline != 0 && run->deadline <= inngest_clock())
		{
			(void) lifecycle_cancel(run->run_id, false, "timeouts.finish");
			return false;
		}
		limit = batch_end(run);
		if (limit != 0 && limit <= GetCurrentTimestamp())
		{
			/* the batch's time is up already: commit the others first */
			if (!checkpoint(run))
				return false;
			limit = 0;
		}

		started = inngest_clock();
		result = stepexec_run(rp, limit, &output, &edata);
		keep_driver_lock(run);
		switch (result)
		{
			case STEP_DONE:
				record_step(rp, output, started);
				return true;
			case STEP_FAILED:
				lifecycle_failure(run, rp->pending.key, rp->pending.kind, edata);
				return false;
			case STEP_OVER_DEADLINE:
				(void) lifecycle_cancel(run->run_id, false, "timeouts.finish");
				return false;
			case STEP_OVER_BUDGET:
				/* rolled back: commit the other runs, then run it again */
				if (!checkpoint(run))
					return false;
				continue;
		}
	}
}

/*
 * The replay loop: invoke the handler, run the step it reaches, repeat
 * until the run completes, fails or must wait.
 *
 * A step's checkpoint (the commit of its writes and its memo) is taken just
 * before the next step runs, or with the run's outcome: replaying the
 * handler between the two changes nothing durable, so a one-step run costs
 * one commit, and an n-step run n commits.
 */
static void
drive(Replay *rp)
{
	RunState   *run = rp->run;
	bool		uncommitted_step = false;

	for (;;)
	{
		Jsonb	   *output = NULL;
		ErrorData  *edata = NULL;
		InvokeResult result;

		if (run->cancelled)
			return;

		result = replay_invoke(rp, &output, &edata);
		keep_driver_lock(run);

		if (rp->fatal != NULL)
		{
			lifecycle_fail(run, jsonb_error(rp->fatal));
			return;
		}
		if (result == INVOKE_COMPLETED)
		{
			lifecycle_complete(run, output);
			return;
		}
		if (result == INVOKE_ERROR)
		{
			lifecycle_failure(run, NULL, STEP_RUN, edata);
			return;
		}

		/* a sleep is bookkeeping, not work: no checkpoint needed before it */
		if (rp->pending.kind == STEP_SLEEP)
		{
			if (rp->pending.until > inngest_clock())
			{
				lifecycle_sleep(run, rp->pending.key, rp->pending.until);
				return;
			}
			record_step(rp, NULL, inngest_clock());	/* already past */
			continue;
		}
		if (rp->pending.kind == STEP_WAIT || rp->pending.kind == STEP_INVOKE)
		{
			suspend_for_event(rp);
			return;
		}

		/* a new step: checkpoint the previous one, then run it */
		if (uncommitted_step && !checkpoint(run))
			return;
		uncommitted_step = true;
		if (!run_step(rp))
			return;
	}
}

/* ----------------------------------------------------------------------
 * tick(), transactions of the workers, wake-up times
 * ----------------------------------------------------------------------
 */

/*
 * What every transaction that drives runs does first (a worker's, or
 * tick()'s): apply the matches and cancel requests kept for runs that were
 * busy, delete expired flow-control state now and then, and bring back the
 * runs that waited for concurrency slots this backend's last transaction
 * released.
 * Returns true if runs are set aside somewhere, so that an idle executor
 * comes back for the sweep (slots.c).
 */
bool
drive_begin_transaction(void)
{
	TimestampTz now = GetCurrentTimestamp();

	xact_started = now;
	xact_holds_outcomes = false;
	if (lifecycle_apply_deferred() + lifecycle_apply_cancel_requests() > 0)
		CommandCounterIncrement();
	if (TimestampDifferenceExceeds(last_cleanup, now, FLOW_CLEANUP_MS))
	{
		last_cleanup = now;
		flow_cleanup();
	}
	return slots_begin_transaction();
}

/*
 * Do the work due now in the calling session's transaction: fire due cron
 * schedules, claim and drive runs until none is due (including runs this
 * work created) or max_runs have been advanced.  Returns the number of
 * runs advanced; none while another session is restoring a dump.
 *
 * An admin (inngest_is_admin) drives every role's runs, as the workers
 * do.  Anyone else drives only the runs and schedules of functions whose
 * owner they have the privileges of: their own clock (inngest.fake_now,
 * which only a superuser or a role granted SET on it may set) and their
 * statement_timeout then touch nobody else's runs.
 */
int
drive_tick(int max_runs)
{
	Oid			save_userid;
	int			save_sec;
	int			count = 0;
	int			promotions = 0;
	Oid			caller = GetUserId();
	Oid			driver;

	if (replay_in_progress())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("inngest.tick() cannot be called inside a run")));
	if (restore_in_progress())
	{
		ereport(NOTICE,
				(errmsg("a dump is being restored into this database"),
				 errdetail("Runs are held until the session restoring it ends.")));
		return 0;
	}

	inngest_spi_connect();
	inngest_become_owner(&save_userid, &save_sec);
	(void) catalog_lock_extension();
	driver = inngest_is_admin(caller) ? InvalidOid : caller;

	/* cron schedules due by inngest.now() start their runs */
	if (schedules_fire(inngest_clock(), 1000, driver) > 0)
		CommandCounterIncrement();

	(void) drive_begin_transaction();

	while (max_runs <= 0 || count < max_runs)
	{
		CHECK_FOR_INTERRUPTS();
		if (!drive_run_next(false, driver))
		{
			/* matches left for runs that were busy may make some due */
			if (lifecycle_apply_deferred() > 0)
			{
				CommandCounterIncrement();
				continue;
			}
			/* so may the concurrency keys that runs just released */
			if (promotions++ < TICK_MAX_PROMOTIONS && slots_promote(false) > 0)
			{
				CommandCounterIncrement();
				continue;
			}
			break;
		}
		CommandCounterIncrement();
		count++;
	}

	inngest_restore_user(save_userid, save_sec);
	SPI_finish();
	return count;
}

/*
 * The earliest wake-up time after the last claim that found nothing, or 0
 * when none is scheduled.  Runs already due then were locked by another
 * driver: waiting for them would spin, and their driver needs no help.
 */
TimestampTz
drive_next_wake(void)
{
	return runs_next_wake(last_claim_horizon);
}
