/*-------------------------------------------------------------------------
 *
 * lifecycle.c
 *	  A run's life around its steps: what happens when it starts, sleeps,
 *	  waits for an event, invokes another function, fails, completes or is
 *	  cancelled, and the system events that tell others.
 *
 * The executor (drive.c) decides what a run does next; this file does
 * it: it writes the run's new state (runs.c, the one writer of
 * inngest.runs), its memo rows (memo.c) and its waits (waits.c), all in
 * the transaction of the step they concern, so that a step's writes, its
 * memo and the run's state commit together.  System events are published
 * in C (events.c), not by an INSERT that would re-enter the event trigger.
 *
 *-------------------------------------------------------------------------
 */
#include "inngest.h"

#include "common/pg_prng.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "events.h"
#include "expr.h"
#include "guc.h"
#include "jsonutil.h"
#include "lifecycle.h"
#include "memo.h"
#include "runs.h"
#include "waits.h"
#include "wake.h"

/* The three events that end an invoked run */
static const char *const invoke_end_events[LIFECYCLE_MAX_WAIT_LOCKS] = {
	"inngest/function.finished", "inngest/function.failed",
	"inngest/function.cancelled"
};

/*
 * Inngest's retry backoff, by number of failed attempts; jitter of up to
 * 10% is added so that runs failing together do not retry together.
 */
static const int backoff_seconds[] = {
	RUNS_FIRST_BACKOFF_SECS, 30, 60, 120, 300, 600, 1200, 2400, 3600, 7200,
	14400, 28800, 43200, 86400
};

/* The run this backend is driving, if any (drive.c tells us) */
static RunState *tracked_run = NULL;

/*
 * The executor is driving run (NULL: none): cancelling it from within its
 * own transaction (say, by an event its own step sent) stops the drive
 * after this step.
 */
void
lifecycle_track(RunState *run)
{
	tracked_run = run;
}

/* ----------------------------------------------------------------------
 * Starting
 * ----------------------------------------------------------------------
 */

/*
 * Create one run of fn for event (see runs_add for wake_at, active_key and
 * blocked_on) and register its cancelOn waits; the caller holds their
 * event-name locks.  Returns the run's id.  SPI connected, as the
 * extension owner.
 */
int64
lifecycle_create_run(InngestFunction *fn, Jsonb *event, TimestampTz wake_at,
					 const char *active_key, const char *blocked_on)
{
	int64		run_id = runs_create_one(fn->id, event, wake_at, blocked_on,
										 active_key);

	if (fn->cancel_on != NIL)
		waits_register_cancel_on(run_id, fn, event);
	return run_id;
}

/*
 * Start one run of a function with the given event, outside the event
 * trigger (rerun, cron: depth 0; invoke: the caller's depth + 1), due now.
 * Returns the run's id.  SPI connected, as the extension owner.
 */
int64
lifecycle_start_run(const char *function_id, Jsonb *event, int depth)
{
	InngestFunction *fn;
	int			outer_depth;
	int64		run_id;

	catalog_refresh();
	fn = catalog_lookup_function(function_id);
	if (fn == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("inngest function \"%s\" does not exist", function_id)));
	if (fn->cancel_on != NIL)
	{
		int			n = 0;
		EventLockRequest *requests = palloc(sizeof(EventLockRequest) *
											list_length(fn->cancel_on));

		waits_cancel_on_locks(fn, requests, &n);
		waits_lock_events(requests, n);
	}
	outer_depth = runs_set_depth(depth);
	run_id = lifecycle_create_run(fn, event, inngest_clock(), NULL, NULL);
	(void) runs_set_depth(outer_depth);
	return run_id;
}

/* ----------------------------------------------------------------------
 * Steps, sleeps, waits and invocations
 * ----------------------------------------------------------------------
 */

/*
 * When a run that leaves the executor must be looked at again: at its wake
 * time, or at its finish deadline if that comes first (0: no time).
 */
static TimestampTz
wake_time(RunState *run, TimestampTz wake)
{
	if (run->deadline != 0 && (wake == 0 || run->deadline < wake))
		return run->deadline;
	return wake;
}

/*
 * Lock the run's row before an event name: whoever else locks both (a
 * cancel sending inngest/function.cancelled) takes them in that order, and
 * the event trigger never waits for a run's row, so no cycle can form.  A
 * claim holds the row already; a checkpoint commit has released it.
 */
static void
lock_own_run(RunState *run)
{
	if (run->commit_steps)
		(void) runs_lock(run->run_id, false);
	/* else tick(): one transaction, the claim's lock */
}

/*
 * A step completed with output, in the current transaction with its
 * writes: its memo row; the run's failures start again from zero.
 */
void
lifecycle_step_done(RunState *run, const char *step_id, StepKind kind,
					Jsonb *output, TimestampTz started)
{
	memo_record(run->run_id, step_id, kind, run->nsteps, run->attempt + 1,
				output, started);
	if (run->attempt > 0)
		runs_reset_attempt(run);
	run->nsteps++;
}

/*
 * The handler reached a sleep whose time has not come: record the step as
 * sleeping and let the run go until then.  It holds nothing meanwhile; the
 * claim that wakes it marks the step completed (drive.c).
 */
void
lifecycle_sleep(RunState *run, const char *step_id, TimestampTz until)
{
	if (!runs_sleep(run, wake_time(run, until)))
	{
		(void) lifecycle_cancel_if_requested(run);
		return;
	}
	memo_record_sleep(run->run_id, step_id, run->nsteps, run->step_reached, until);
}

/*
 * The event-name locks a wait (the awaited name) or invoke step (the three
 * events that end the callee) takes, in out (LIFECYCLE_MAX_WAIT_LOCKS);
 * the executor checks them against what its transaction holds.
 */
int
lifecycle_wait_locks(StepKind kind, const char *event_name,
					 EventLockRequest *out)
{
	int			i;

	if (kind == STEP_WAIT)
	{
		out[0].name = event_name;
		out[0].mode = EVENT_LOCK_WAIT;
		return 1;
	}
	for (i = 0; i < lengthof(invoke_end_events); i++)
	{
		out[i].name = invoke_end_events[i];
		out[i].mode = EVENT_LOCK_WAIT;
	}
	return lengthof(invoke_end_events);
}

/*
 * The handler reached step_wait_for_event: register the wait (under the
 * event name's lock, see waits.c), record the step as waiting and let the
 * run go until an event resolves it or its timeout comes.
 */
void
lifecycle_wait(RunState *run, const char *step_id, const char *event_name,
			   ArrayType *match_path, JsonPath *condition, TimestampTz until)
{
	EventLockRequest lock[LIFECYCLE_MAX_WAIT_LOCKS];

	lock_own_run(run);
	waits_lock_events(lock, lifecycle_wait_locks(STEP_WAIT, event_name, lock));
	if (!runs_wait(run, wake_time(run, until)))
	{
		(void) lifecycle_cancel_if_requested(run);
		return;
	}
	waits_register(run->run_id, "wait", step_id, event_name, match_path,
				   run->event, condition, until);
	memo_record_wait(run->run_id, step_id, run->nsteps, STEP_WAIT, run->step_reached);
}

/*
 * The handler reached step_invoke: start a run of the other function (its
 * event is inngest/function.invoked with the given data) and wait for the
 * event that ends it; step_invoke turns that into the result or an error.
 */
void
lifecycle_invoke(RunState *run, const char *step_id, const char *function_id,
				 Jsonb *data, TimestampTz until)
{
	EventLockRequest locks[LIFECYCLE_MAX_WAIT_LOCKS];
	JsonbParseState *state = NULL;
	Jsonb	   *match;
	char	   *id;
	int64		callee;
	ArrayType  *path;
	int			i;
	InngestFunction *fn;

	catalog_refresh();
	fn = catalog_lookup_function(function_id);
	if (fn == NULL)
	{
		lifecycle_fail(run, jsonb_error_message(ERRCODE_UNDEFINED_OBJECT,
												psprintf("step \"%s\" invokes inngest function \"%s\", which does not exist",
														 step_id, function_id)));
		return;
	}
	if (!catalog_may_invoke(run->owner, fn))
	{
		lifecycle_fail(run, jsonb_error_message(ERRCODE_INSUFFICIENT_PRIVILEGE,
												psprintf("permission denied for step \"%s\" to invoke inngest function \"%s\"",
														 step_id, function_id)));
		return;
	}
	if (run->depth + 1 > inngest_max_depth)
	{
		lifecycle_fail(run, jsonb_error_message(ERRCODE_PROGRAM_LIMIT_EXCEEDED,
												psprintf("step \"%s\" cannot invoke \"%s\": the chain of runs would be longer than inngest.max_depth (%d)",
														 step_id, function_id, inngest_max_depth)));
		return;
	}

	lock_own_run(run);
	waits_lock_events(locks, lifecycle_wait_locks(STEP_INVOKE, NULL, locks));
	if (!runs_wait(run, wake_time(run, until)))
	{
		(void) lifecycle_cancel_if_requested(run);
		return;
	}

	id = psprintf("invoke-" INT64_FORMAT "-%s", run->run_id, step_id);
	callee = lifecycle_start_run(function_id,
								 jsonb_event("inngest/function.invoked",
											 strlen("inngest/function.invoked"),
											 data, id, strlen(id), inngest_clock()),
								 run->depth + 1);

	/* wait for whichever event ends the callee: data.run_id = callee */
	(void) pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	{
		JsonbParseState *dstate = NULL;

		char	   *callee_id = psprintf(INT64_FORMAT, callee);

		(void) pushJsonbValue(&dstate, WJB_BEGIN_OBJECT, NULL);
		jsonb_push_string(&dstate, "run_id", callee_id, strlen(callee_id));
		jsonb_push_jsonb(&state, "data",
						 JsonbValueToJsonb(pushJsonbValue(&dstate, WJB_END_OBJECT, NULL)));
	}
	match = JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL));
	path = expr_compile_match("data.run_id", step_id);
	for (i = 0; i < lengthof(invoke_end_events); i++)
		waits_register(run->run_id, "invoke", step_id, invoke_end_events[i],
					   path, match, NULL, until);
	memo_record_wait(run->run_id, step_id, run->nsteps, STEP_INVOKE, run->step_reached);
}

/*
 * A waiting run's timeout has come (the executor claimed it): its waiting
 * step completes with NULL, and its step waits are dropped.
 */
void
lifecycle_wait_timed_out(int64 run_id)
{
	memo_complete_wait(run_id, NULL);
	waits_drop_step_waits(run_id);
}

/* ----------------------------------------------------------------------
 * Outcomes
 * ----------------------------------------------------------------------
 */

/*
 * Errors no retry can fix: IG001 (the handler says so), a query that does
 * not parse or whose parameters do not match the step's arguments, a
 * limit, and transaction control in a step (COMMIT, ROLLBACK, a procedure
 * that commits: a step runs inside the executor's transaction).
 */
static bool
is_non_retriable(int sqlerrcode)
{
	return sqlerrcode == ERRCODE_INNGEST_NON_RETRIABLE ||
		sqlerrcode == ERRCODE_SYNTAX_ERROR ||
		sqlerrcode == ERRCODE_PROGRAM_LIMIT_EXCEEDED ||
		sqlerrcode == ERRCODE_UNDEFINED_PARAMETER ||
		sqlerrcode == ERRCODE_INVALID_TRANSACTION_TERMINATION;
}

static TimestampTz
backoff_until(int failures)
{
	int			idx = Min(failures, lengthof(backoff_seconds)) - 1;
	int64		delay = (int64) backoff_seconds[idx] * USECS_PER_SEC;

	delay += (int64) (pg_prng_double(&pg_global_prng_state) * 0.1 * delay);
	return inngest_clock() + delay;
}

/*
 * An attempt failed, in a step (step_id, of kind) or in the handler
 * outside any step (step_id NULL).  Either requeue the run after the backoff or, when retries are
 * exhausted or the error is non-retriable, fail it.
 */
void
lifecycle_failure(RunState *run, const char *step_id, StepKind kind,
				  ErrorData *edata)
{
	int			failures = run->attempt + 1;
	bool		final = is_non_retriable(edata->sqlerrcode) ||
		failures > run->retries;
	Jsonb	   *error = jsonb_error(edata);

	if (step_id != NULL)
		memo_record_failure(run->run_id, step_id, kind, run->nsteps, final,
							error, failures);
	if (final)
	{
		run->attempt = failures;
		lifecycle_fail(run, error);
		return;
	}
	if (!runs_retry(run, failures, error, wake_time(run, backoff_until(failures))))
		(void) lifecycle_cancel_if_requested(run);
}

/*
 * Build {"function_id", "run_id", "event", key: value} for system events.
 * run_id is a string, as Inngest's run ids are.
 */
static Jsonb *
system_event_data(const char *function_id, int64 run_id, Jsonb *event,
				  const char *key, Jsonb *value)
{
	JsonbParseState *state = NULL;
	char	   *id = psprintf(INT64_FORMAT, run_id);

	(void) pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	jsonb_push_string(&state, "function_id", function_id, strlen(function_id));
	jsonb_push_string(&state, "run_id", id, strlen(id));
	jsonb_push_jsonb(&state, "event", event);
	jsonb_push_jsonb(&state, key, value);
	return JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL));
}

/*
 * A run's error as system events carry it: Inngest's shape ("name",
 * "message", "stack": here the SQLSTATE and the error's context) added to
 * ours (sqlstate, detail, hint).
 */
static Jsonb *
system_error(Jsonb *error)
{
	JsonbParseState *state = NULL;
	JsonbValue *sqlstate = getKeyJsonValueFromContainer(&error->root, "sqlstate", 8, NULL);
	JsonbValue *context = getKeyJsonValueFromContainer(&error->root, "context", 7, NULL);

	(void) pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	if (sqlstate != NULL && sqlstate->type == jbvString)
		jsonb_push_string(&state, "name", sqlstate->val.string.val, sqlstate->val.string.len);
	if (context != NULL && context->type == jbvString)
		jsonb_push_string(&state, "stack", context->val.string.val, context->val.string.len);
	return DatumGetJsonbP(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(error),
											  JsonbPGetDatum(JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL)))));
}

/*
 * The run ended (ended: the UPDATE matched; it did not if the run was
 * cancelled while its last step ran): drop its waits and send the system
 * events.  Completed: inngest/function.finished with "result".  Failed:
 * inngest/function.failed, then inngest/function.finished, both with
 * "error", as Inngest sends "finished" for every end but a cancel.
 */
static void
announce_end(RunState *run, bool ended, Jsonb *result, Jsonb *error)
{
	if (!ended)
		return;
	if (run->has_cancel_on)
		waits_forget_run(run->run_id);
	if (error != NULL)
	{
		error = system_error(error);
		(void) events_publish_system("inngest/function.failed",
									 system_event_data(run->function_id, run->run_id,
													   run->event, "error", error),
									 run->depth + 1, run->owner);
	}
	(void) events_publish_system("inngest/function.finished",
								 system_event_data(run->function_id, run->run_id,
												   run->event,
												   error != NULL ? "error" : "result",
												   error != NULL ? error : result),
								 run->depth + 1, run->owner);
}

/* The handler returned output: the run completes, with its own writes */
void
lifecycle_complete(RunState *run, Jsonb *output)
{
	if (output != NULL && VARSIZE(output) > (Size) inngest_max_step_output_size * 1024)
	{
		lifecycle_fail(run, jsonb_error_message(ERRCODE_PROGRAM_LIMIT_EXCEEDED,
												psprintf("output of run %lld is too large (%zu bytes)",
														 (long long) run->run_id,
														 (Size) VARSIZE(output))));
		return;
	}
	if (runs_complete(run, output))
		announce_end(run, true, output, NULL);
	else
		(void) lifecycle_cancel_if_requested(run);
}

/* The run fails with error (jsonb_error's shape) */
void
lifecycle_fail(RunState *run, Jsonb *error)
{
	announce_end(run, runs_fail(run, error), NULL, error);
}

static bool
is_finished(const char *status)
{
	return strcmp(status, "completed") == 0 || strcmp(status, "failed") == 0 ||
		strcmp(status, "cancelled") == 0 || strcmp(status, "skipped") == 0;
}

/*
 * Cancel a run whose row the caller holds and which has not ended: status
 * cancelled, its open step, its waits and any cancel request too,
 * inngest/function.cancelled sent.
 */
static void
cancel_locked(int64 run_id, const char *reason)
{
	char	   *function_id;
	Jsonb	   *event;
	int			depth;
	Oid			owner;
	JsonbParseState *state = NULL;

	(void) runs_cancel(run_id, &function_id, &event, &depth, &owner);
	(void) runs_take_cancel_request(run_id);
	waits_forget_run(run_id);
	if (tracked_run != NULL && tracked_run->run_id == run_id)
		tracked_run->cancelled = true;
	memo_cancel_open(run_id);

	(void) pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	jsonb_push_string(&state, "function_id", function_id, strlen(function_id));
	{
		char	   *id = psprintf(INT64_FORMAT, run_id);

		jsonb_push_string(&state, "run_id", id, strlen(id));
	}
	jsonb_push_jsonb(&state, "event", event);
	jsonb_push_string(&state, "reason", reason, strlen(reason));
	(void) events_publish_system("inngest/function.cancelled",
								 JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL)),
								 depth + 1, owner);
}

/*
 * Cancel a run that has not ended.  Locks the run's row (waiting for its
 * holder, unless nowait).  Returns false if the run had already ended (or,
 * with nowait, is held).  For the engine's own decisions, taken where the
 * run is not being driven by someone else; SPI connected, as the
 * extension owner.
 */
bool
lifecycle_cancel(int64 run_id, bool nowait, const char *reason)
{
	char	   *status = runs_lock(run_id, nowait);

	if (status == NULL || is_finished(status))
		return false;
	cancel_locked(run_id, reason);
	return true;
}

/*
 * Cancel a run on someone's request (cancel_run, cancel_runs, a singleton
 * in mode "cancel"), without waiting for a step: a run that is not being
 * driven is cancelled now; one whose driver holds it gets a cancel
 * request, which its driver applies at the run's next step boundary
 * (before its next step starts, or instead of its sleep, wait, retry or
 * completion).  Returns false if the run had already ended.
 */
bool
lifecycle_request_cancel(int64 run_id, const char *reason)
{
	char	   *status = runs_lock(run_id, true);
	bool		requested;

	if (status != NULL)
	{
		if (is_finished(status))
			return false;
		cancel_locked(run_id, reason);
		return true;
	}
	status = runs_status(run_id, &requested);
	if (status == NULL || is_finished(status))
		return false;
	runs_request_cancel(run_id, reason);
	return true;
}

/*
 * Apply the cancel requests of runs that nobody drives now (their driver
 * let them go, sleeping or waiting, before it looked): executors and
 * tick() call this at the start of their transactions.  A request for a
 * run that ended meanwhile is dropped.  Returns how many were applied.
 */
int
lifecycle_apply_cancel_requests(void)
{
	ListCell   *lc;
	int			n = 0;

	/* nothing to look for unless a request was committed since */
	if (!wake_cancel_requests_changed())
		return 0;
	foreach(lc, runs_cancel_requests())
	{
		int64		run_id = *(int64 *) lfirst(lc);
		char	   *reason = runs_take_cancel_request(run_id);

		if (reason != NULL && lifecycle_cancel(run_id, false, reason))
			n++;
	}
	return n;
}

/*
 * The run being driven reached a step boundary: if a cancel was asked for
 * meanwhile, cancel it now (its driver holds it) and return true.
 */
bool
lifecycle_cancel_if_requested(RunState *run)
{
	char	   *reason = runs_take_cancel_request(run->run_id);

	if (reason == NULL)
		return false;
	(void) lifecycle_cancel(run->run_id, false, reason);
	run->cancelled = true;
	return true;
}

/* ----------------------------------------------------------------------
 * Events that resolve waits
 * ----------------------------------------------------------------------
 */

/*
 * Apply one match of a wait by an event: a cancelOn match cancels the run,
 * a step's wait resumes it with the event as the step's output.  With
 * nowait, returns false if the run is locked by its driver (nothing done;
 * the caller keeps the match for later); otherwise true.
 */
bool
lifecycle_apply_hit(WaitHit *hit, bool nowait)
{
	char	   *status = runs_lock(hit->run_id, nowait);

	if (status == NULL)
		return !nowait;

	if (hit->cancel)
	{
		if (!is_finished(status))
			(void) lifecycle_cancel(hit->run_id, false, "cancelOn");
		return true;
	}

	/* a wait or an invoke: only if the run still waits for this */
	if (strcmp(status, "waiting") != 0 || !waits_exists(hit->wait_id))
		return true;
	memo_complete_wait(hit->run_id, hit->event);
	waits_drop_step_waits(hit->run_id);
	runs_resume(hit->run_id);
	return true;
}

/* Apply hits taken from the kept ones, waiting for drivers; how many */
static int
apply_taken(List *hits)
{
	ListCell   *lc;

	foreach(lc, hits)
		(void) lifecycle_apply_hit(lfirst(lc), false);
	return list_length(hits);
}

/*
 * Apply the matches kept for runs that were being driven when their event
 * came (executors and tick() call this).  Returns how many.
 */
int
lifecycle_apply_deferred(void)
{
	return apply_taken(waits_take_deferred());
}

/*
 * Apply the kept matches of one run, which the caller has just claimed.
 * Returns false if the run is no longer to be driven now (cancelled, or
 * its wait resolved, which queued it again with the memo).
 */
bool
lifecycle_apply_run_deferred(int64 run_id)
{
	return apply_taken(waits_take_run_deferred(run_id)) == 0;
}
