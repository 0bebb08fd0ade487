/*-------------------------------------------------------------------------
 *
 * executor.c
 *	  Drive one run: call the handler, run the step it reaches, replay.
 *
 * The execution model (DESIGN.md section 3):
 *
 * 1. The handler is called inside a subtransaction with the run's memo
 *	  (step id -> output) in backend memory.
 * 2. A step_* call with a memoized id returns the memo.  With a new id it
 *	  records the step in RunState.pending and raises IG900; every later
 *	  step_* call of that invocation raises again at once, so a handler that
 *	  swallows the error with EXCEPTION WHEN OTHERS cannot get past it.
 * 3. However the handler ends, if a step is pending we roll its
 *	  subtransaction back (code outside steps leaves no trace), run the step
 *	  in a subtransaction of its own, and insert its memo row in the same
 *	  transaction as the step's writes: they commit together, once.
 * 4. We call the handler again (replay) until it returns (the run
 *	  completes, with the handler's own writes), fails, or blocks.
 * 5. A failed step is rolled back, its attempt and error recorded, and the
 *	  run is requeued with Inngest's backoff.
 *
 * A worker commits once per step (the checkpoint): just before the next
 * step runs, or with the run's outcome, so no run ever executes two steps
 * in one transaction.  inngest.tick() runs inside the caller's transaction
 * and only advances the command counter.
 *
 * A claim locks the run's row (FOR UPDATE SKIP LOCKED) and takes a
 * session-level advisory lock on its id.  Runs are claimed only from the
 * due index (wake_at <= now); a run whose progress is committed before its
 * outcome is marked 'running' and leaves that index.  The advisory lock lets
 * executor_recover() tell a 'running' run whose driver died from one that
 * is still driven.
 *
 *-------------------------------------------------------------------------
 */
#include "inngest.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "common/pg_prng.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "storage/lock.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "catalog.h"
#include "executor.h"
#include "flow.h"
#include "guc.h"
#include "ingest.h"
#include "jsonutil.h"
#include "progress.h"
#include "schedules.h"
#include "waits.h"
#include "worker.h"

/* Occurrences of a step id within one invocation */
typedef struct SeenEntry
{
	char		key[INNGEST_KEY_SIZE];	/* hash key: the step id as written */
	int			count;
} SeenEntry;

/*
 * Prepared plans of step queries, so that a function's steps are parsed and
 * planned once per backend, not once per run.  Keyed by a hash of the
 * query, its argument types and the search_path it resolves names with;
 * the entry keeps them to rule out collisions.  PostgreSQL's plan cache
 * revalidates each plan when what it depends on changes, and permissions
 * are checked at every execution, as the role running the step.
 */
typedef struct StepPlan
{
	uint64		hash;			/* hash key */
	char	   *query;
	char	   *search_path;
	int			nargs;
	Oid		   *argtypes;
	SPIPlanPtr	plan;
} StepPlan;

#define STEP_PLAN_CACHE_SIZE 1024

/*
 * How often one tick() may bring back runs that waited for a concurrency
 * slot it released (a bound, in case a probe and a claim keep disagreeing)
 */
#define TICK_MAX_PROMOTIONS 1000

typedef enum InvokeResult
{
	INVOKE_COMPLETED,			/* the handler returned; output is set */
	INVOKE_STEP,				/* a new step is pending */
	INVOKE_ERROR				/* the handler failed outside any step */
} InvokeResult;

/* Prepared statements of the hot path, kept for the backend's life */
typedef struct ExecutorPlans
{
	SPIPlanPtr	claim;
	SPIPlanPtr	clear_flow;
	SPIPlanPtr	mark_running;
	SPIPlanPtr	run_status;
} ExecutorPlans;

static ExecutorPlans plans;

static HTAB *step_plans = NULL;
static MemoryContext step_plan_cxt = NULL;

/* The run this backend is driving, if any */
static RunState *current_run = NULL;

/*
 * The run claimed last, until its drive ends normally: after an internal
 * error escapes the drive, the worker uses it to requeue that run.
 */
static int64 claimed_run_id = 0;

/*
 * The clock reading of the last claim that found nothing due: runs due by
 * then that it could not claim are locked by a live driver, so the next
 * wake-up to wait for is strictly after it.
 */
static TimestampTz last_claim_horizon = 0;


static RunState *run_state_create(int64 run_id, const char *function_id,
								  Jsonb *event, int attempt, bool commit_steps);
static void run_state_free(RunState *run);
static bool lock_run(int64 run_id, bool session);
static void unlock_run(int64 run_id);
static void drive(RunState *run);
static InvokeResult invoke_handler(RunState *run, Jsonb **output,
								   ErrorData **edata);
static bool execute_step(RunState *run, Jsonb **output, ErrorData **edata);
static bool checkpoint(RunState *run);
static Jsonb *value_to_jsonb(Datum value, Oid typid);

/* ----------------------------------------------------------------------
 * Interface for the step functions (steps.c)
 * ----------------------------------------------------------------------
 */

/* The run being driven, or NULL; for run_id() and attempt() */
RunState *
executor_active_run(void)
{
	return current_run;
}

/*
 * The run whose handler is executing, or an error naming the caller: step
 * functions are meaningful only there (not outside a run, not in a step).
 */
RunState *
executor_current_run(const char *caller)
{
	if (current_run != NULL && current_run->in_step)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s cannot be called inside a step", caller),
				 errdetail("Steps cannot be nested; call it from the handler itself.")));
	if (current_run == NULL || !current_run->in_handler)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s can only be called by a handler that inngest_pg is running", caller),
				 errhint("Register the handler with inngest.create_function() and send it an event.")));
	return current_run;
}

/* Raise the internal "step discovered" signal for the pending step */
static void
pg_attribute_noreturn()
raise_discovered(RunState *run)
{
	ereport(ERROR,
			(errcode(ERRCODE_INNGEST_STEP_DISCOVERED),
			 errmsg("inngest step \"%s\" must run before the handler can continue",
					run->pending.key),
			 errhint("inngest_pg raises this to interrupt the handler; a handler must not swallow it.")));
}

/*
 * The memo key of the next occurrence of step_id in this invocation: the id
 * itself, then "id:1", "id:2", ... so that steps in loops stay distinct.
 * Once a step is pending every step call re-raises at once.
 */
char *
executor_step_key(RunState *run, const char *step_id)
{
	char		base[INNGEST_KEY_SIZE];
	bool		found;
	SeenEntry  *seen;
	size_t		len = strlen(step_id);

	if (run->discovered)
		raise_discovered(run);

	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("step id must not be empty")));
	if (len > INNGEST_MAX_ID_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("step id \"%.40s...\" is too long", step_id),
				 errdetail("The limit is %d bytes.", INNGEST_MAX_ID_LEN)));

	strlcpy(base, step_id, sizeof(base));
	seen = hash_search(run->seen, base, HASH_ENTER, &found);
	seen->count = found ? seen->count + 1 : 0;

	if (seen->count == 0)
		return MemoryContextStrdup(run->invoke_cxt, base);
	return MemoryContextStrdup(run->invoke_cxt,
							   psprintf("%s:%d", base, seen->count));
}

MemoEntry *
executor_memo_lookup(RunState *run, const char *key)
{
	return hash_search(run->memo, key, HASH_FIND, NULL);
}

/*
 * Record run->pending as the invocation's new step and interrupt the
 * handler.  The caller has filled run->pending (in run->invoke_cxt).
 */
void
executor_discover(RunState *run)
{
	if (run->nsteps >= INNGEST_MAX_STEPS)
		executor_fatal(run, ERRCODE_PROGRAM_LIMIT_EXCEEDED,
					   "run exceeded the limit of %d steps", INNGEST_MAX_STEPS);
	run->discovered = true;
	raise_discovered(run);
}

/*
 * A misuse of the step API that no retry can fix (a bad duration, too many
 * steps): raise it in the handler, and fail the run with it however the
 * handler ends, even if it catches the error.
 */
void
executor_fatal(RunState *run, int sqlerrcode, const char *fmt,...)
{
	va_list		args;
	char		buf[1024];
	MemoryContext oldcxt;

	va_start(args, fmt);
	vsnprintf(buf, sizeof(buf), fmt, args);
	va_end(args);

	oldcxt = MemoryContextSwitchTo(run->cxt);
	run->fatal = palloc0(sizeof(ErrorData));
	run->fatal->sqlerrcode = sqlerrcode;
	run->fatal->message = pstrdup(buf);
	MemoryContextSwitchTo(oldcxt);

	ereport(ERROR, (errcode(sqlerrcode), errmsg("%s", buf)));
}

/* ----------------------------------------------------------------------
 * Run state and locks
 * ----------------------------------------------------------------------
 */

static RunState *
run_state_create(int64 run_id, const char *function_id, Jsonb *event,
				 int attempt, bool commit_steps)
{
	MemoryContext cxt = AllocSetContextCreate(TopMemoryContext,
											  "inngest run",
											  ALLOCSET_DEFAULT_SIZES);
	RunState   *run = MemoryContextAllocZero(cxt, sizeof(RunState));
	HASHCTL		ctl;

	run->cxt = cxt;
	run->invoke_cxt = AllocSetContextCreate(cxt, "inngest invocation",
											ALLOCSET_DEFAULT_SIZES);
	run->run_id = run_id;
	strlcpy(run->function_id, function_id, sizeof(run->function_id));
	run->event = (Jsonb *) MemoryContextAlloc(cxt, VARSIZE(event));
	memcpy(run->event, event, VARSIZE(event));
	run->attempt = attempt;
	run->commit_steps = commit_steps;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = INNGEST_KEY_SIZE;
	ctl.entrysize = sizeof(MemoEntry);
	ctl.hcxt = cxt;
	run->memo = hash_create("inngest memo", 16, &ctl,
							HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	return run;
}

static void
run_state_free(RunState *run)
{
	if (current_run == run)
		current_run = NULL;
	MemoryContextDelete(run->cxt);
}

/* The per-invocation state: step-id occurrence counts, the pending step */
static void
reset_invocation(RunState *run)
{
	HASHCTL		ctl;

	MemoryContextReset(run->invoke_cxt);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = INNGEST_KEY_SIZE;
	ctl.entrysize = sizeof(SeenEntry);
	ctl.hcxt = run->invoke_cxt;
	run->seen = hash_create("inngest step ids", 16, &ctl,
							HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	run->discovered = false;
	memset(&run->pending, 0, sizeof(run->pending));
}

static void
set_run_locktag(LOCKTAG *tag, int64 run_id)
{
	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId,
						 (uint32) ((uint64) run_id >> 32),
						 (uint32) run_id,
						 INNGEST_LOCKTAG_RUN);
}

/* Try to take the lock that says "this run has a live driver" */
static bool
lock_run(int64 run_id, bool session)
{
	LOCKTAG		tag;

	set_run_locktag(&tag, run_id);
	return LockAcquire(&tag, ExclusiveLock, session, true) != LOCKACQUIRE_NOT_AVAIL;
}

static void
unlock_run(int64 run_id)
{
	LOCKTAG		tag;

	set_run_locktag(&tag, run_id);
	LockRelease(&tag, ExclusiveLock, true);
}

/*
 * Why the run's handler cannot be called (it was dropped, or its owner may
 * no longer execute it), or NULL.  Such a run fails with that reason
 * instead of breaking the executor.
 */
static const char *
handler_problem(RunState *run)
{
	if (!SearchSysCacheExists1(PROCOID, ObjectIdGetDatum(run->handler)))
		return psprintf("handler function %u of \"%s\" no longer exists",
						run->handler, run->function_id);
	if (pg_proc_aclcheck(run->handler, run->owner, ACL_EXECUTE) != ACLCHECK_OK)
		return psprintf("role %s may no longer execute handler %s",
						GetUserNameFromId(run->owner, true),
						format_procedure(run->handler));
	return NULL;
}








/* ----------------------------------------------------------------------
 * Claiming and driving
 * ----------------------------------------------------------------------
 */

/*
 * Claim the next due run and drive it as far as it can go now.  Must be
 * called in a transaction with SPI connected, as the extension owner.
 * Returns false when no run is due.
 */
bool
executor_run_next(bool commit_steps)
{
	static const Oid types[1] = {TIMESTAMPTZOID};
	Datum		values[1];
	SPIPlanPtr	plan;
	int			ret;
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	int64		run_id;
	char	   *function_id;
	Jsonb	   *event;
	int			attempt;
	bool		fresh;
	Datum		started_at;
	char	   *status;
	TimestampTz created_at;
	TimestampTz queue_at;
	bool		flow_marks;
	bool		was_set_aside;
	RunState   *run;
	InngestFunction *fn;

	if (current_run != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("a run cannot drive other runs"),
				 errhint("Do not call inngest.tick() from a handler or a step.")));

	/*
	 * The claim only locks the row: while the drive's first transaction is
	 * open, SKIP LOCKED keeps other executors away, and nobody else can see
	 * the run in progress.  Only a drive that commits a checkpoint before
	 * the run's outcome marks it 'running' (mark_running), so a one-step
	 * run is claimed, run and completed with a single update of its row.
	 */
	plan = inngest_keep_plan(&plans.claim,
				   "SELECT id, function_id, event, attempt, started_at, status, "
				   "created_at, wake_at, "
				   "pending_key IS NOT NULL OR blocked_on IS NOT NULL, "
				   "queue_at IS NOT NULL "
				   "FROM inngest.runs WHERE wake_at <= $1 "
				   "ORDER BY wake_at, id LIMIT 1 FOR UPDATE SKIP LOCKED",
				   1, types);
	values[0] = TimestampTzGetDatum(inngest_clock());
	ret = SPI_execute_plan(plan, values, NULL, false, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not claim a run: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0)
	{
		last_claim_horizon = DatumGetTimestampTz(values[0]);
		return false;
	}

	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	run_id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
	function_id = TextDatumGetCString(SPI_getbinval(tup, desc, 2, &isnull));
	event = DatumGetJsonbP(SPI_getbinval(tup, desc, 3, &isnull));
	attempt = DatumGetInt32(SPI_getbinval(tup, desc, 4, &isnull));
	started_at = SPI_getbinval(tup, desc, 5, &isnull);
	fresh = isnull;
	started_at = isnull ? TimestampTzGetDatum(inngest_clock()) : started_at;
	status = TextDatumGetCString(SPI_getbinval(tup, desc, 6, &isnull));
	created_at = DatumGetTimestampTz(SPI_getbinval(tup, desc, 7, &isnull));
	queue_at = DatumGetTimestampTz(SPI_getbinval(tup, desc, 8, &isnull));
	flow_marks = DatumGetBool(SPI_getbinval(tup, desc, 9, &isnull));
	was_set_aside = DatumGetBool(SPI_getbinval(tup, desc, 10, &isnull));

	/* a live driver holds the lock only in a race we lost: leave it be */
	if (!lock_run(run_id, true))
		return true;
	claimed_run_id = run_id;

	run = run_state_create(run_id, function_id, event, attempt, commit_steps);
	run->started_at = DatumGetTimestampTz(started_at);
	run->queue_at = queue_at;
	run->was_set_aside = was_set_aside;
	SPI_freetuptable(SPI_tuptable);

	/*
	 * A debounced or batched run stops gathering events once claimed, and a
	 * run made due while set aside for a slot leaves that queue.
	 */
	if (flow_marks)
	{
		static const Oid ctypes[1] = {INT8OID};
		Datum		cvalues[1] = {Int64GetDatum(run_id)};

		(void) inngest_run_plan(&plans.clear_flow,
								"UPDATE inngest.runs SET pending_key = NULL, "
								"blocked_on = NULL WHERE id = $1",
								1, ctypes, cvalues, NULL, SPI_OK_UPDATE);
	}

	PG_TRY();
	{
		catalog_refresh();
		fn = catalog_lookup_function(run->function_id);
		if (fn == NULL)
			progress_fail(run, progress_error_jsonb(NULL));
		else
		{
			const char *problem;

			run->handler = fn->handler;
			run->owner = fn->owner;
			run->retries = fn->retries;
			run->search_path = MemoryContextStrdup(run->cxt, fn->search_path);
			run->has_cancel_on = fn->cancel_on != NIL;
			if (fn->timeout_finish != NULL)
				run->deadline = progress_add_interval(run->started_at, fn->timeout_finish);

			problem = handler_problem(run);
			/*
			 * Only a run with waits can have pending matches: one that has
			 * started before, or whose function has cancelOn rules.  The
			 * look-up is skipped for the common fresh run.
			 */
			if ((!fresh || run->has_cancel_on) &&
				!waits_apply_run_hits(run->run_id))
			{
				/*
				 * An event matched one of its waits while another driver
				 * held it: that is applied now (cancelled, or its wait
				 * resolved, which queued it again with the memo); the next
				 * claim drives it if it is still to run.
				 */
			}
			else if (fresh && fn->timeout_start != NULL &&
				progress_add_interval(created_at, fn->timeout_start) <= inngest_clock())
				(void) waits_cancel_run(run->run_id, false, "timeouts.start");
			else if (run->deadline != 0 && run->deadline <= inngest_clock())
				(void) waits_cancel_run(run->run_id, false, "timeouts.finish");
			else if (problem != NULL)
			{
				ErrorData	ed;

				memset(&ed, 0, sizeof(ed));
				ed.sqlerrcode = ERRCODE_UNDEFINED_FUNCTION;
				ed.message = (char *) problem;
				progress_fail(run, progress_error_jsonb(&ed));
			}
			else if (!slots_enter(run, fn, fresh))
			{
				/* no free slot: set aside until one frees, unspun */
			}
			else
			{
				fmgr_info_cxt(run->handler, &run->flinfo, run->cxt);
				if (strcmp(status, "sleeping") == 0)
					progress_wake_sleeper(run);
				else if (strcmp(status, "waiting") == 0)
					waits_timeout_step(run->run_id);	/* the timeout came */
				if (!fresh)
					progress_load_memo(run);
				current_run = run;
				drive(run);
			}
		}
	}
	PG_FINALLY();
	{
		current_run = NULL;
		slots_release(run);
		unlock_run(run_id);
		run_state_free(run);
	}
	PG_END_TRY();

	claimed_run_id = 0;
	return true;
}

/*
 * The run run_id was cancelled in this transaction (say, by an event its
 * own step sent): if it is the one being driven, stop after this step.
 */
void
executor_note_cancelled(int64 run_id)
{
	if (current_run != NULL && current_run->run_id == run_id)
		current_run->cancelled = true;
}

void
executor_forget_claim(void)
{
	claimed_run_id = 0;
}

int64
executor_claimed_run(void)
{
	return claimed_run_id;
}

/*
 * An internal error (not the handler's, not a step's: those are handled in
 * the drive) escaped while driving run_id, and its transaction was rolled
 * back.  Count it as a failed attempt, so that a run that keeps breaking
 * the executor ends as failed instead of looping.  Runs in a new
 * transaction with SPI connected.
 */
void
executor_requeue_after_internal_error(int64 run_id, ErrorData *edata)
{
	Oid			types[4] = {INT8OID, JSONBOID, TIMESTAMPTZOID, INT4OID};
	Datum		values[4];
	Oid			save_userid;
	int			save_sec;
	int			ret;

	claimed_run_id = 0;
	inngest_become_owner(&save_userid, &save_sec);
	values[0] = Int64GetDatum(run_id);
	values[1] = JsonbPGetDatum(progress_error_jsonb(edata));
	values[2] = TimestampTzGetDatum(inngest_clock());
	values[3] = Int32GetDatum(PROGRESS_FIRST_BACKOFF_SECS);
	ret = SPI_execute_with_args("UPDATE inngest.runs r SET "
								"attempt = r.attempt + 1, error = $2, "
								"status = CASE WHEN r.attempt + 1 > "
								"  COALESCE(f.retries, 0) "
								"  THEN 'failed' ELSE 'queued' END, "
								"wake_at = CASE WHEN r.attempt + 1 > "
								"  COALESCE(f.retries, 0) THEN NULL "
								"  ELSE $3 + pg_catalog.make_interval(secs => "
								"  $4 * pg_catalog.power(2, r.attempt)) END, "
								"ended_at = CASE WHEN r.attempt + 1 > "
								"  COALESCE(f.retries, 0) THEN $3 END, "
								"active_key = CASE WHEN r.attempt + 1 > "
								"  COALESCE(f.retries, 0) THEN NULL ELSE r.active_key END "
								"FROM inngest.runs r0 LEFT JOIN inngest.functions f "
								"  ON f.id = r0.function_id "
								"WHERE r.id = $1 AND r0.id = r.id "
								"AND r.status IN ('queued', 'running')",
								4, types, values, NULL, false, 0);
	if (ret != SPI_OK_UPDATE)
		elog(WARNING, "could not requeue run %lld after an internal error",
			 (long long) run_id);
	inngest_restore_user(save_userid, save_sec);
	worker_request_wake();
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
drive(RunState *run)
{
	bool		uncommitted_step = false;

	for (;;)
	{
		Jsonb	   *output = NULL;
		ErrorData  *edata = NULL;
		InvokeResult result;

		if (run->cancelled)
			return;

		result = invoke_handler(run, &output, &edata);

		if (run->fatal != NULL)
		{
			progress_fail(run, progress_error_jsonb(run->fatal));
			return;
		}

		if (result == INVOKE_COMPLETED)
		{
			progress_complete(run, output);
			return;
		}
		if (result == INVOKE_ERROR)
		{
			progress_failure(run, false, edata);
			return;
		}

		/* a sleep is bookkeeping, not work: no checkpoint needed before it */
		if (run->pending.kind == STEP_SLEEP)
		{
			if (run->pending.until > inngest_clock())
			{
				progress_sleep(run);
				return;
			}
			progress_record_step(run, NULL, inngest_clock());	/* already past */
			continue;
		}

		if (run->pending.kind == STEP_WAIT || run->pending.kind == STEP_INVOKE)
		{
			EventLockRequest locks[3];
			int			nlocks = progress_wait_locks(run, locks);

			/*
			 * A worker that already holds event-name locks (earlier runs of
			 * its transaction) commits before it takes new ones, so that it
			 * never waits for a lock while holding one (see waits.c).  Names
			 * it holds exclusively already cost no wait: many runs waiting
			 * for the same event name share a commit.
			 */
			if (run->commit_steps && waits_holding_locks() &&
				!waits_hold_exclusively(locks, nlocks) && !checkpoint(run))
				return;
			if (run->pending.kind == STEP_WAIT)
				progress_wait(run);
			else
				progress_invoke(run);
			return;
		}

		/* a new step: checkpoint the previous one, then run it */
		if (uncommitted_step && !checkpoint(run))
			return;
		if (!execute_step(run, &output, &edata))
		{
			progress_failure(run, true, edata);
			return;
		}
		uncommitted_step = true;
	}
}

/*
 * Call the handler once, in a subtransaction, as the function's owner.
 * The subtransaction is kept only if the handler returned without reaching
 * a new step: then its writes commit with the run's completion.
 */
static InvokeResult
invoke_handler(RunState *run, Jsonb **output, ErrorData **edata)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	Oid			save_userid;
	int			save_sec;
	InvokeResult result;

	reset_invocation(run);
	GetUserIdAndSecContext(&save_userid, &save_sec);

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);

	PG_TRY();
	{
		LOCAL_FCINFO(fcinfo, 1);
		Datum		retval;
		int			nestlevel;

		SetUserIdAndSecContext(run->owner,
							   save_sec | SECURITY_LOCAL_USERID_CHANGE |
							   SECURITY_RESTRICTED_OPERATION);
		nestlevel = inngest_push_search_path(run->search_path);
		PushActiveSnapshot(GetTransactionSnapshot());

		InitFunctionCallInfoData(*fcinfo, &run->flinfo, 1, InvalidOid, NULL, NULL);
		fcinfo->args[0].value = JsonbPGetDatum(run->event);
		fcinfo->args[0].isnull = false;

		run->in_handler = true;
		retval = FunctionCallInvoke(fcinfo);
		run->in_handler = false;

		PopActiveSnapshot();
		inngest_pop_search_path(nestlevel);
		SetUserIdAndSecContext(save_userid, save_sec);

		if (run->discovered)
		{
			/* the handler swallowed the signal: undo it all the same */
			RollbackAndReleaseCurrentSubTransaction();
			result = INVOKE_STEP;
		}
		else
		{
			*output = NULL;
			if (!fcinfo->isnull)
			{
				Jsonb	   *j = DatumGetJsonbP(retval);

				*output = MemoryContextAlloc(run->cxt, VARSIZE(j));
				memcpy(*output, j, VARSIZE(j));
			}
			ReleaseCurrentSubTransaction();
			result = INVOKE_COMPLETED;
		}
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *ed;

		run->in_handler = false;
		MemoryContextSwitchTo(run->cxt);
		ed = CopyErrorData();
		FlushErrorState();

		/* also restores the user id and pops the snapshot */
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;

		if (run->discovered)
			result = INVOKE_STEP;
		else
		{
			*edata = ed;
			result = INVOKE_ERROR;
		}
	}
	PG_END_TRY();

	return result;
}

/* The hash of what makes a step query's plan reusable */
static uint64
step_plan_hash(PendingStep *step)
{
	uint64		h;

	h = hash_bytes_extended((const unsigned char *) step->query,
							strlen(step->query), 0);
	h ^= hash_bytes_extended((const unsigned char *) step->search_path,
							 strlen(step->search_path), 1);
	if (step->nargs > 0)
		h ^= hash_bytes_extended((const unsigned char *) step->argtypes,
								 sizeof(Oid) * step->nargs, 2);
	return h;
}

/*
 * The cached plan of the pending step's query, prepared now if need be
 * (errors of preparation are the step's), or NULL when a different query
 * collides with it in the cache: then the caller executes it unprepared.
 */
static SPIPlanPtr
step_plan(PendingStep *step)
{
	uint64		hash = step_plan_hash(step);
	StepPlan   *entry;
	bool		found;
	SPIPlanPtr	plan;
	MemoryContext oldcxt;

	if (step_plans == NULL || hash_get_num_entries(step_plans) >= STEP_PLAN_CACHE_SIZE)
	{
		HASHCTL		ctl;

		/* start over: free every kept plan */
		if (step_plans != NULL)
		{
			HASH_SEQ_STATUS status;

			hash_seq_init(&status, step_plans);
			while ((entry = hash_seq_search(&status)) != NULL)
				SPI_freeplan(entry->plan);
			MemoryContextDelete(step_plan_cxt);
		}
		step_plan_cxt = AllocSetContextCreate(TopMemoryContext,
											  "inngest step plans",
											  ALLOCSET_DEFAULT_SIZES);
		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(uint64);
		ctl.entrysize = sizeof(StepPlan);
		ctl.hcxt = step_plan_cxt;
		step_plans = hash_create("inngest step plans", 64, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}

	entry = hash_search(step_plans, &hash, HASH_FIND, &found);
	if (found)
	{
		if (strcmp(entry->query, step->query) == 0 &&
			strcmp(entry->search_path, step->search_path) == 0 &&
			entry->nargs == step->nargs &&
			memcmp(entry->argtypes, step->argtypes, sizeof(Oid) * step->nargs) == 0)
			return entry->plan;
		return NULL;
	}

	plan = SPI_prepare(step->query, step->nargs, step->argtypes);
	if (plan == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not prepare the query of step \"%s\": %s",
						step->key, SPI_result_code_string(SPI_result))));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");

	entry = hash_search(step_plans, &hash, HASH_ENTER, &found);
	oldcxt = MemoryContextSwitchTo(step_plan_cxt);
	entry->query = pstrdup(step->query);
	entry->search_path = pstrdup(step->search_path);
	entry->nargs = step->nargs;
	entry->argtypes = palloc(sizeof(Oid) * (step->nargs + 1));
	memcpy(entry->argtypes, step->argtypes, sizeof(Oid) * step->nargs);
	entry->plan = plan;
	MemoryContextSwitchTo(oldcxt);
	return plan;
}

/* The step's output as jsonb, checked against the size limit */
static Jsonb *
step_output(PendingStep *step, Datum value, Oid typid, MemoryContext cxt)
{
	Jsonb	   *j = value_to_jsonb(value, typid);
	Jsonb	   *copy;

	if (VARSIZE(j) > (Size) inngest_max_step_output_size * 1024)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("output of step \"%s\" is too large (%zu bytes)",
						step->key, (Size) VARSIZE(j)),
				 errdetail("The limit is inngest.max_step_output_size = %d kB.",
						   inngest_max_step_output_size)));
	copy = MemoryContextAlloc(cxt, VARSIZE(j));
	memcpy(copy, j, VARSIZE(j));
	return copy;
}

/*
 * STEP_RUN: execute the query as the function's owner, with the handler's
 * search_path; its first column of its first row is the output.
 */
static Jsonb *
run_query_step(RunState *run, Oid save_sec)
{
	PendingStep *step = &run->pending;
	int			nestlevel;
	int			ret;
	SPIPlanPtr	plan;
	Jsonb	   *result = NULL;

	SetUserIdAndSecContext(run->owner,
						   save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	nestlevel = inngest_push_search_path(step->search_path);

	run->in_step = true;
	plan = step_plan(step);
	if (plan != NULL)
		ret = SPI_execute_plan(plan, step->args, step->argnulls, false, 0);
	else
		ret = SPI_execute_with_args(step->query, step->nargs, step->argtypes,
									step->args, step->argnulls, false, 0);
	run->in_step = false;
	if (ret < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("step query failed: %s", SPI_result_code_string(ret))));

	if (SPI_tuptable != NULL && SPI_processed > 0)
	{
		bool		isnull;
		Datum		value = SPI_getbinval(SPI_tuptable->vals[0],
										  SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			result = step_output(step, value,
								 SPI_gettypeid(SPI_tuptable->tupdesc, 1), run->cxt);
	}
	if (SPI_tuptable != NULL)
		SPI_freetuptable(SPI_tuptable);
	inngest_pop_search_path(nestlevel);
	return result;
}

/*
 * STEP_SEND: insert the event (as the extension owner: sending is what the
 * step API is for); the output is Inngest's {"ids": [...]}.
 */
static Jsonb *
send_event_step(RunState *run, Oid save_sec)
{
	PendingStep *step = &run->pending;
	JsonbParseState *state = NULL;
	JsonbValue	v;
	int64		seq;
	char	   *id;
	Jsonb	   *result;

	SetUserIdAndSecContext(inngest_schema_owner(),
						   save_sec | SECURITY_LOCAL_USERID_CHANGE);
	seq = ingest_send_event(step->event_name, step->event_data);

	id = psprintf(INT64_FORMAT, seq);
	(void) pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	v.type = jbvString;
	v.val.string.val = "ids";
	v.val.string.len = 3;
	(void) pushJsonbValue(&state, WJB_KEY, &v);
	(void) pushJsonbValue(&state, WJB_BEGIN_ARRAY, NULL);
	v.val.string.val = id;
	v.val.string.len = strlen(id);
	(void) pushJsonbValue(&state, WJB_ELEM, &v);
	(void) pushJsonbValue(&state, WJB_END_ARRAY, NULL);
	result = JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL));
	return step_output(step, JsonbPGetDatum(result), JSONBOID, run->cxt);
}

/*
 * Run the pending step in a subtransaction and, on success, record its
 * memo in the same transaction as its writes.  Returns false (with
 * *edata) on failure, after rolling the step back.
 */
static bool
execute_step(RunState *run, Jsonb **output, ErrorData **edata)
{
	PendingStep *step = &run->pending;
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	Oid			save_userid;
	int			save_sec;
	volatile bool ok = true;
	Jsonb	   *volatile result = NULL;
	TimestampTz started = inngest_clock();

	GetUserIdAndSecContext(&save_userid, &save_sec);

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);

	PG_TRY();
	{
		PushActiveSnapshot(GetTransactionSnapshot());
		if (step->kind == STEP_SEND)
			result = send_event_step(run, save_sec);
		else
			result = run_query_step(run, save_sec);
		PopActiveSnapshot();
		SetUserIdAndSecContext(save_userid, save_sec);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		run->in_step = false;
		MemoryContextSwitchTo(run->cxt);
		*edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
		ok = false;
	}
	PG_END_TRY();

	if (!ok)
		return false;

	progress_record_step(run, result, started);
	*output = result;
	return true;
}





/*
 * After a step: a worker commits (the checkpoint) and starts the next
 * transaction; tick() only makes the step visible to the replay.  Returns
 * false if the run must stop: its status was changed by someone else, or
 * its function was deleted, while the step ran.
 */
static bool
checkpoint(RunState *run)
{
	static const Oid types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(run->run_id)};
	SPIPlanPtr	plan;
	int			ret;
	bool		isnull;
	char	   *status;
	Oid			save_userid;
	int			save_sec;

	if (!run->commit_steps)
	{
		CommandCounterIncrement();
		return true;
	}

	/* from this commit on, others can see the run in progress */
	if (!run->marked_running)
	{
		static const Oid mtypes[2] = {INT8OID, TIMESTAMPTZOID};
		Datum		mvalues[2];

		mvalues[0] = Int64GetDatum(run->run_id);
		mvalues[1] = TimestampTzGetDatum(run->started_at);
		plan = inngest_keep_plan(&plans.mark_running,
					   "UPDATE inngest.runs SET status = 'running', "
					   "started_at = $2, wake_at = NULL WHERE id = $1",
					   2, mtypes);
		ret = SPI_execute_plan(plan, mvalues, NULL, false, 0);
		if (ret != SPI_OK_UPDATE)
			elog(ERROR, "could not update run %lld", (long long) run->run_id);
		run->marked_running = true;
	}

	GetUserIdAndSecContext(&save_userid, &save_sec);
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	inngest_set_local_search_path();
	SetUserIdAndSecContext(save_userid, save_sec);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());

	plan = inngest_keep_plan(&plans.run_status,
				   "SELECT status FROM inngest.runs WHERE id = $1", 1, types);
	ret = SPI_execute_plan(plan, values, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read run %lld", (long long) run->run_id);
	if (SPI_processed == 0)
		return false;
	status = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[0],
											   SPI_tuptable->tupdesc, 1, &isnull));
	if (strcmp(status, "running") != 0)
		return false;

	catalog_refresh();
	if (catalog_lookup_function(run->function_id) == NULL)
	{
		progress_fail(run, progress_error_jsonb(NULL));
		return false;
	}

	/* the commit gave back its concurrency slots: the next step needs them */
	return slots_enter(run, NULL, false);
}








/*
 * Convert any SQL value to jsonb as to_jsonb() would.  to_jsonb looks up
 * its argument's type in the call expression, so we give it one.
 */
static Jsonb *
value_to_jsonb(Datum value, Oid typid)
{
	FmgrInfo	flinfo;
	FuncExpr   *expr;

	if (typid == JSONBOID)
		return DatumGetJsonbP(value);

	fmgr_info(F_TO_JSONB, &flinfo);
	expr = makeFuncExpr(F_TO_JSONB, JSONBOID,
						list_make1(makeNullConst(typid, -1, InvalidOid)),
						InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
	flinfo.fn_expr = (Node *) expr;
	return DatumGetJsonbP(FunctionCall1(&flinfo, value));
}

/* ----------------------------------------------------------------------
 * tick(), wake-up times and recovery
 * ----------------------------------------------------------------------
 */

/*
 * Do the work due now in the calling session's transaction: claim and
 * drive runs until none is due (including runs this work created) or
 * max_runs have been advanced.  Returns the number of runs advanced.
 */
int
executor_tick(int max_runs)
{
	Oid			save_userid;
	int			save_sec;
	int			count = 0;
	int			promotions = 0;

	if (current_run != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("inngest.tick() cannot be called inside a run")));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	inngest_become_owner(&save_userid, &save_sec);

	/* cron schedules due by inngest.now() start their runs */
	if (schedules_fire(inngest_clock(), 1000) > 0)
		CommandCounterIncrement();

	/* first, matches recorded while their runs were busy */
	if (waits_apply_hits() > 0)
		CommandCounterIncrement();

	/* runs set aside for a concurrency slot that may be free now */
	(void) slots_begin_transaction();

	while (max_runs <= 0 || count < max_runs)
	{
		CHECK_FOR_INTERRUPTS();
		if (!executor_run_next(false))
		{
			/* matches left for runs that were busy may make some due */
			if (waits_apply_hits() > 0)
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
executor_next_wake(void)
{
	Oid			types[1] = {TIMESTAMPTZOID};
	Datum		values[1] = {TimestampTzGetDatum(last_claim_horizon)};
	int			ret;
	bool		isnull;
	Datum		d;

	ret = SPI_execute_with_args("SELECT wake_at FROM inngest.runs "
								"WHERE wake_at > $1 ORDER BY wake_at LIMIT 1",
								1, types, values, NULL, true, 1);
	if (ret != SPI_OK_SELECT || SPI_processed == 0)
		return 0;
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return isnull ? 0 : DatumGetTimestampTz(d);
}

/*
 * Requeue runs left "running" by a driver that is gone (a crash, a killed
 * session): their advisory lock is free.  Returns how many were requeued.
 */
int
executor_recover(void)
{
	static const Oid types[2] = {INT8OID, TIMESTAMPTZOID};
	int			ret;
	uint64		i;
	uint64		n;
	int64	   *ids;
	int			count = 0;

	ret = SPI_execute("SELECT id FROM inngest.runs WHERE status = 'running' "
					  "FOR UPDATE SKIP LOCKED", false, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not look for interrupted runs");
	n = SPI_processed;
	ids = palloc(sizeof(int64) * (n + 1));
	for (i = 0; i < n; i++)
	{
		bool		isnull;

		ids[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
											 SPI_tuptable->tupdesc, 1, &isnull));
	}

	for (i = 0; i < n; i++)
	{
		Datum		values[2];

		if (!lock_run(ids[i], false))
			continue;			/* a live driver has it */
		values[0] = Int64GetDatum(ids[i]);
		values[1] = TimestampTzGetDatum(inngest_clock());
		ret = SPI_execute_with_args("UPDATE inngest.runs SET status = 'queued', "
									"wake_at = $2 WHERE id = $1",
									2, (Oid *) types, values, NULL, false, 0);
		if (ret != SPI_OK_UPDATE)
			elog(ERROR, "could not requeue run %lld", (long long) ids[i]);
		count++;
	}
	if (count > 0)
		worker_request_wake();
	return count;
}
