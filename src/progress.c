/*-------------------------------------------------------------------------
 *
 * progress.c
 *	  Recording a run's progress: the memo of its steps, its sleeps, waits
 *	  and invocations, its retries, and its outcome with the system event.
 *
 * The executor (executor.c) decides what a run does next; this file writes
 * what happened, in the transaction of the step it concerns, so that a
 * step's writes, its memo and the run's state commit together.
 *
 *-------------------------------------------------------------------------
 */
#include "inngest.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/pg_prng.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "executor.h"
#include "guc.h"
#include "ingest.h"
#include "jsonutil.h"
#include "progress.h"
#include "waits.h"
#include "worker.h"

/* Prepared statements, kept for the backend's life */
typedef struct ProgressPlans
{
	SPIPlanPtr	load_memo;
	SPIPlanPtr	insert_step;
	SPIPlanPtr	upsert_step;
	SPIPlanPtr	reset_attempt;
	SPIPlanPtr	sleep_step;
	SPIPlanPtr	wake_sleeper;
	SPIPlanPtr	wait_step;
	SPIPlanPtr	invoke_step;
	SPIPlanPtr	leave_run;
	SPIPlanPtr	complete;
	SPIPlanPtr	fail;
	SPIPlanPtr	retry;
	SPIPlanPtr	lock_own_run;
} ProgressPlans;

static ProgressPlans plans;

/* The statuses of a run that has not ended, for SQL */
#define UNFINISHED_STATUSES "('queued', 'running', 'sleeping', 'waiting')"

static bool leave_run(RunState *run, const char *status, TimestampTz wake);
static Jsonb *system_event_data(RunState *run, const char *key, Jsonb *value);
static TimestampTz wake_time(RunState *run, TimestampTz wake);

/*
 * Lock the run's row before an event name: whoever else locks both (a
 * cancel sending inngest/function.cancelled) takes them in that order, and
 * the event trigger never waits for a run's row, so no cycle can form.  A
 * claim holds the row already; a checkpoint commit has released it.
 */
static void
lock_own_run(RunState *run)
{
	static const Oid types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(run->run_id)};
	int			ret;

	if (!run->commit_steps)
		return;					/* tick(): one transaction, the claim's lock */
	ret = SPI_execute_plan(inngest_keep_plan(&plans.lock_own_run,
											 "SELECT FROM inngest.runs WHERE id = $1 FOR UPDATE",
											 1, types),
						   values, NULL, false, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not lock run %lld", (long long) run->run_id);
}

/*
 * Inngest's retry backoff, by number of failed attempts; jitter of up to
 * 10% is added so that runs failing together do not retry together.
 */
static const int backoff_seconds[] = {
	15, 30, 60, 120, 300, 600, 1200, 2400, 3600, 7200,
	14400, 28800, 43200, 86400
};

/*
 * The handler reached step_wait_for_event: register the wait (under the
 * event name's lock, see waits.c), record the step as waiting and let the
 * run go until an event resolves it or its timeout comes.
 */
void
progress_wait(RunState *run)
{
	PendingStep *step = &run->pending;
	EventLockRequest lock = {step->event_name, EVENT_LOCK_WAIT};
	static const Oid stypes[4] = {INT8OID, TEXTOID, INT4OID, TIMESTAMPTZOID};
	Datum		values[4];

	lock_own_run(run);
	waits_lock_events(&lock, 1);
	if (!leave_run(run, "waiting", wake_time(run, step->until)))
		return;
	waits_register(run->run_id, "wait", step->key, step->event_name,
				   step->match_path, run->event, step->condition, step->until);

	values[0] = Int64GetDatum(run->run_id);
	values[1] = CStringGetTextDatum(step->key);
	values[2] = Int32GetDatum(run->nsteps);
	values[3] = TimestampTzGetDatum(inngest_clock());
	(void) inngest_run_plan(&plans.wait_step,
							"INSERT INTO inngest.steps (run_id, step_id, position, kind, "
							"status, attempts, started_at) "
							"VALUES ($1, $2, $3, 'wait', 'waiting', 1, $4)",
							4, stypes, values, NULL, SPI_OK_INSERT);
}

/* The three events that end an invoked run */
static const char *const invoke_end_events[] = {
	"inngest/function.finished", "inngest/function.failed",
	"inngest/function.cancelled"
};

/*
 * The event-name locks the pending wait or invoke step will take (at most
 * three); the executor checks them against what its transaction holds.
 */
int
progress_wait_locks(RunState *run, EventLockRequest *out)
{
	int			i;

	if (run->pending.kind == STEP_WAIT)
	{
		out[0].name = run->pending.event_name;
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
 * The handler reached step_invoke: start a run of the other function (its
 * event is inngest/function.invoked with the given data) and wait for the
 * event that ends it; step_invoke turns that into the result or an error.
 */
void
progress_invoke(RunState *run)
{
	PendingStep *step = &run->pending;
	EventLockRequest locks[lengthof(invoke_end_events)];
	JsonbParseState *state = NULL;
	Jsonb	   *event;
	Jsonb	   *match;
	int64		callee;
	ArrayType  *path;
	int			i;
	static const Oid stypes[4] = {INT8OID, TEXTOID, INT4OID, TIMESTAMPTZOID};
	Datum		values[4];
	int			ret;

	catalog_refresh();
	if (catalog_lookup_function(step->event_name) == NULL)
	{
		ErrorData	ed;

		memset(&ed, 0, sizeof(ed));
		ed.sqlerrcode = ERRCODE_UNDEFINED_OBJECT;
		ed.message = psprintf("step \"%s\" invokes inngest function \"%s\", which does not exist",
							  step->key, step->event_name);
		progress_fail(run, progress_error_jsonb(&ed));
		return;
	}

	for (i = 0; i < lengthof(invoke_end_events); i++)
	{
		locks[i].name = invoke_end_events[i];
		locks[i].mode = EVENT_LOCK_WAIT;
	}
	lock_own_run(run);
	waits_lock_events(locks, lengthof(invoke_end_events));
	if (!leave_run(run, "waiting", wake_time(run, step->until)))
		return;

	(void) pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	jsonb_push_string(&state, "name", "inngest/function.invoked",
					  strlen("inngest/function.invoked"));
	jsonb_push_jsonb(&state, "data", step->event_data);
	{
		char	   *id = psprintf("invoke-" INT64_FORMAT "-%s", run->run_id, step->key);

		jsonb_push_string(&state, "id", id, strlen(id));
	}
	jsonb_push_int64(&state, "ts", inngest_clock() / 1000 +
					 (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * 1000);
	event = JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL));
	callee = ingest_start_run(step->event_name, event);

	/* wait for whichever event ends the callee: data.run_id = callee */
	state = NULL;
	(void) pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	{
		JsonbValue	k;

		k.type = jbvString;
		k.val.string.val = "data";
		k.val.string.len = 4;
		(void) pushJsonbValue(&state, WJB_KEY, &k);
		(void) pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
		jsonb_push_int64(&state, "run_id", callee);
		(void) pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	}
	match = JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL));
	path = waits_parse_match("data.run_id", step->key);
	for (i = 0; i < lengthof(invoke_end_events); i++)
		waits_register(run->run_id, "invoke", step->key, invoke_end_events[i],
					   path, match, NULL, step->until);

	values[0] = Int64GetDatum(run->run_id);
	values[1] = CStringGetTextDatum(step->key);
	values[2] = Int32GetDatum(run->nsteps);
	values[3] = TimestampTzGetDatum(inngest_clock());
	ret = SPI_execute_plan(inngest_keep_plan(&plans.invoke_step,
											 "INSERT INTO inngest.steps (run_id, step_id, position, "
											 "kind, status, attempts, started_at) "
											 "VALUES ($1, $2, $3, 'invoke', 'waiting', 1, $4)",
											 4, stypes),
						   values, NULL, false, 0);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "could not record step \"%s\"", step->key);
}

TimestampTz
progress_add_interval(TimestampTz t, Interval *interval)
{
	return DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
												   TimestampTzGetDatum(t),
												   IntervalPGetDatum(interval)));
}

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

/* A sleeping run's time has come: its sleep step is completed */
void
progress_wake_sleeper(RunState *run)
{
	static const Oid types[1] = {INT8OID};
	Datum		values[1];

	values[0] = Int64GetDatum(run->run_id);
	(void) inngest_run_plan(&plans.wake_sleeper,
							"UPDATE inngest.steps SET status = 'completed' "
							"WHERE run_id = $1 AND status = 'sleeping'",
							1, types, values, NULL, SPI_OK_UPDATE);
}

/* Load the outputs of the run's completed steps */
void
progress_load_memo(RunState *run)
{
	static const Oid types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(run->run_id)};
	SPIPlanPtr	plan;
	int			ret;
	uint64		i;

	plan = inngest_keep_plan(&plans.load_memo,
				   "SELECT step_id, output FROM inngest.steps "
				   "WHERE run_id = $1 AND status = 'completed'", 1, types);
	/* not read-only: a fresh snapshot, after our own writes (wake_sleeper) */
	ret = SPI_execute_plan(plan, values, NULL, false, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not load the memo of run %lld", (long long) run->run_id);

	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		char	   *key = TextDatumGetCString(SPI_getbinval(tup, desc, 1, &isnull));
		Datum		output = SPI_getbinval(tup, desc, 2, &isnull);
		MemoEntry  *m;
		char		keybuf[INNGEST_KEY_SIZE];

		strlcpy(keybuf, key, sizeof(keybuf));
		m = hash_search(run->memo, keybuf, HASH_ENTER, NULL);
		m->output = NULL;
		if (!isnull)
		{
			Jsonb	   *j = DatumGetJsonbP(output);

			m->output = MemoryContextAlloc(run->cxt, VARSIZE(j));
			memcpy(m->output, j, VARSIZE(j));
		}
		run->nsteps++;
	}
	SPI_freetuptable(SPI_tuptable);
}

static const char *
step_kind_name(StepKind kind)
{
	switch (kind)
	{
		case STEP_RUN:
			return "run";
		case STEP_SEND:
			return "send";
		case STEP_SLEEP:
			return "sleep";
		case STEP_WAIT:
			return "wait";
		case STEP_INVOKE:
			return "invoke";
	}
	return "run";				/* keep the compiler quiet */
}

/*
 * The pending step completed with output: insert its memo row (in the
 * current transaction, with the step's writes) and make it visible to the
 * replay.
 */
void
progress_record_step(RunState *run, Jsonb *output, TimestampTz started)
{
	PendingStep *step = &run->pending;
	static const Oid types[8] = {INT8OID, TEXTOID, INT4OID, JSONBOID,
	INT4OID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID};
	Datum		values[8];
	char		nulls[8] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};

	values[0] = Int64GetDatum(run->run_id);
	values[1] = CStringGetTextDatum(step->key);
	values[2] = Int32GetDatum(run->nsteps);
	values[3] = output ? JsonbPGetDatum(output) : (Datum) 0;
	nulls[3] = output ? ' ' : 'n';
	values[4] = Int32GetDatum(run->attempt + 1);
	values[5] = TimestampTzGetDatum(started);
	values[6] = TimestampTzGetDatum(inngest_clock());
	values[7] = CStringGetTextDatum(step_kind_name(step->kind));

	/* after failed attempts the row exists: only then pay for ON CONFLICT */
	if (run->attempt == 0)
		(void) inngest_run_plan(&plans.insert_step,
								"INSERT INTO inngest.steps (run_id, step_id, position, kind, "
								"status, output, attempts, started_at, ended_at) "
								"VALUES ($1, $2, $3, $8, 'completed', $4, $5, $6, $7)",
								8, types, values, nulls, SPI_OK_INSERT);
	else
		(void) inngest_run_plan(&plans.upsert_step,
							"INSERT INTO inngest.steps AS s (run_id, step_id, position, kind, "
							"status, output, attempts, started_at, ended_at) "
							"VALUES ($1, $2, $3, $8, 'completed', $4, $5, $6, $7) "
							"ON CONFLICT (run_id, step_id) DO UPDATE SET "
							"status = 'completed', output = excluded.output, "
							"attempts = excluded.attempts, ended_at = excluded.ended_at",
							8, types, values, nulls, SPI_OK_INSERT);

	if (run->attempt > 0)
	{
		static const Oid rtypes[1] = {INT8OID};

		(void) inngest_run_plan(&plans.reset_attempt,
								"UPDATE inngest.runs SET attempt = 0, error = NULL "
								"WHERE id = $1",
								1, rtypes, values, NULL, SPI_OK_UPDATE);
		run->attempt = 0;
	}

	/* the replay sees the memo, and the step's writes */
	{
		MemoEntry  *m = hash_search(run->memo, step->key, HASH_ENTER, NULL);

		m->output = output;
		run->nsteps++;
	}
	CommandCounterIncrement();
}

/*
 * The handler reached a sleep whose time has not come: record the step as
 * sleeping and let the run go until then.  It holds nothing meanwhile; the
 * claim that wakes it marks the step completed (executor_run_next).
 */
void
progress_sleep(RunState *run)
{
	PendingStep *step = &run->pending;
	static const Oid stypes[5] = {INT8OID, TEXTOID, INT4OID, TIMESTAMPTZOID,
	TIMESTAMPTZOID};
	Datum		values[5];

	if (!leave_run(run, "sleeping", wake_time(run, step->until)))
		return;

	values[0] = Int64GetDatum(run->run_id);
	values[1] = CStringGetTextDatum(step->key);
	values[2] = Int32GetDatum(run->nsteps);
	values[3] = TimestampTzGetDatum(inngest_clock());
	values[4] = TimestampTzGetDatum(step->until);
	(void) inngest_run_plan(&plans.sleep_step,
							"INSERT INTO inngest.steps (run_id, step_id, position, kind, "
							"status, attempts, started_at, ended_at) "
							"VALUES ($1, $2, $3, 'sleep', 'sleeping', 1, $4, $5)",
							5, stypes, values, NULL, SPI_OK_INSERT);
}

/*
 * The run leaves the executor in status (sleeping, waiting) until wake
 * (0: until an event).  Returns false if it was cancelled meanwhile (a
 * worker's run between checkpoints has no row lock): then it stays so.
 */
static bool
leave_run(RunState *run, const char *status, TimestampTz wake)
{
	static const Oid types[4] = {INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};

	values[0] = Int64GetDatum(run->run_id);
	values[1] = TimestampTzGetDatum(wake);
	nulls[1] = wake != 0 ? ' ' : 'n';
	values[2] = TimestampTzGetDatum(run->started_at);
	values[3] = CStringGetTextDatum(status);
	(void) inngest_run_plan(&plans.leave_run,
							"UPDATE inngest.runs SET status = $4, attempt = 0, "
							"error = NULL, wake_at = $2, started_at = $3 WHERE id = $1 "
							"AND status IN " UNFINISHED_STATUSES,
							4, types, values, nulls, SPI_OK_UPDATE);
	/* idle executors recompute their next wake-up */
	worker_request_wake();
	return SPI_processed == 1;
}

/* ----------------------------------------------------------------------
 * Outcomes
 * ----------------------------------------------------------------------
 */

static bool
is_non_retriable(int sqlerrcode)
{
	return sqlerrcode == ERRCODE_INNGEST_NON_RETRIABLE ||
		sqlerrcode == ERRCODE_SYNTAX_ERROR ||
		sqlerrcode == ERRCODE_PROGRAM_LIMIT_EXCEEDED;
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
 * An attempt failed, in a step or in the handler outside any step.  Either
 * requeue the run after the backoff or, when retries are exhausted or the
 * error is non-retriable, fail it.
 */
void
progress_failure(RunState *run, bool in_step, ErrorData *edata)
{
	int			failures = run->attempt + 1;
	bool		final = is_non_retriable(edata->sqlerrcode) ||
		failures > run->retries;
	Jsonb	   *error = progress_error_jsonb(edata);
	TimestampTz now = inngest_clock();
	int			ret;

	if (in_step)
	{
		static const Oid types[7] = {INT8OID, TEXTOID, INT4OID, TEXTOID,
		JSONBOID, INT4OID, TIMESTAMPTZOID};
		Datum		values[7];

		values[0] = Int64GetDatum(run->run_id);
		values[1] = CStringGetTextDatum(run->pending.key);
		values[2] = Int32GetDatum(run->nsteps);
		values[3] = CStringGetTextDatum(final ? "failed" : "retrying");
		values[4] = JsonbPGetDatum(error);
		values[5] = Int32GetDatum(failures);
		values[6] = TimestampTzGetDatum(now);
		ret = SPI_execute_with_args("INSERT INTO inngest.steps AS s (run_id, step_id, "
									"position, kind, status, error, attempts, started_at, ended_at) "
									"VALUES ($1, $2, $3, 'run', $4, $5, $6, $7, $7) "
									"ON CONFLICT (run_id, step_id) DO UPDATE SET "
									"status = excluded.status, error = excluded.error, "
									"attempts = excluded.attempts, ended_at = excluded.ended_at",
									7, (Oid *) types, values, NULL, false, 0);
		if (ret != SPI_OK_INSERT)
			elog(ERROR, "could not record the failure of step \"%s\"",
				 run->pending.key);
	}

	if (final)
	{
		run->attempt = failures;
		progress_fail(run, error);
		return;
	}

	{
		static const Oid types[5] = {INT8OID, INT4OID, JSONBOID, TIMESTAMPTZOID,
		TIMESTAMPTZOID};
		Datum		values[5];

		values[0] = Int64GetDatum(run->run_id);
		values[1] = Int32GetDatum(failures);
		values[2] = JsonbPGetDatum(error);
		values[3] = TimestampTzGetDatum(wake_time(run, backoff_until(failures)));
		values[4] = TimestampTzGetDatum(run->started_at);
		(void) inngest_run_plan(&plans.retry,
								"UPDATE inngest.runs SET status = 'queued', attempt = $2, "
								"error = $3, wake_at = $4, started_at = $5 WHERE id = $1 "
								"AND status IN " UNFINISHED_STATUSES,
								5, types, values, NULL, SPI_OK_UPDATE);
		worker_request_wake();
	}
}

/* Build {"function_id", "run_id", "event", key: value} for system events */
static Jsonb *
system_event_data(RunState *run, const char *key, Jsonb *value)
{
	JsonbParseState *state = NULL;

	(void) pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	jsonb_push_string(&state, "function_id", run->function_id,
					  strlen(run->function_id));
	jsonb_push_int64(&state, "run_id", run->run_id);
	jsonb_push_jsonb(&state, "event", run->event);
	jsonb_push_jsonb(&state, key, value);
	return JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL));
}

/*
 * After the UPDATE that ended the run: unless it matched nothing (the run
 * was cancelled while its last step ran), drop its waits and send the
 * system event {function_id, run_id, event, key: value}.
 */
static void
announce_end(RunState *run, const char *event_name, const char *key, Jsonb *value)
{
	if (SPI_processed == 0)
		return;
	if (run->has_cancel_on)
		waits_forget_run(run->run_id);
	ingest_send_event(event_name, system_event_data(run, key, value));
}

void
progress_complete(RunState *run, Jsonb *output)
{
	static const Oid types[4] = {INT8OID, JSONBOID, TIMESTAMPTZOID,
	TIMESTAMPTZOID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};

	if (output != NULL && VARSIZE(output) > (Size) inngest_max_step_output_size * 1024)
	{
		ErrorData	ed;

		memset(&ed, 0, sizeof(ed));
		ed.sqlerrcode = ERRCODE_PROGRAM_LIMIT_EXCEEDED;
		ed.message = psprintf("output of run %lld is too large (%zu bytes)",
							  (long long) run->run_id, (Size) VARSIZE(output));
		progress_fail(run, progress_error_jsonb(&ed));
		return;
	}

	values[0] = Int64GetDatum(run->run_id);
	values[1] = output ? JsonbPGetDatum(output) : (Datum) 0;
	nulls[1] = output ? ' ' : 'n';
	values[2] = TimestampTzGetDatum(inngest_clock());
	values[3] = TimestampTzGetDatum(run->started_at);
	(void) inngest_run_plan(&plans.complete,
							"UPDATE inngest.runs SET status = 'completed', output = $2, "
							"error = NULL, attempt = 0, started_at = $4, ended_at = $3, "
							"wake_at = NULL, active_key = NULL WHERE id = $1 AND status IN " UNFINISHED_STATUSES,
							4, types, values, nulls, SPI_OK_UPDATE);
	announce_end(run, "inngest/function.finished", "result", output);
}

void
progress_fail(RunState *run, Jsonb *error)
{
	static const Oid types[5] = {INT8OID, JSONBOID, TIMESTAMPTZOID, INT4OID,
	TIMESTAMPTZOID};
	Datum		values[5];

	values[0] = Int64GetDatum(run->run_id);
	values[1] = JsonbPGetDatum(error);
	values[2] = TimestampTzGetDatum(inngest_clock());
	values[3] = Int32GetDatum(run->attempt);
	values[4] = TimestampTzGetDatum(run->started_at);
	(void) inngest_run_plan(&plans.fail,
							"UPDATE inngest.runs SET status = 'failed', error = $2, "
							"attempt = $4, started_at = $5, ended_at = $3, wake_at = NULL, "
							"active_key = NULL WHERE id = $1 AND status IN " UNFINISHED_STATUSES,
							5, types, values, NULL, SPI_OK_UPDATE);
	announce_end(run, "inngest/function.failed", "error", error);
}

/*
 * An error as jsonb: {"message", "sqlstate", "detail", "hint", "context"}.
 * NULL stands for "the run's function no longer exists".
 */
Jsonb *
progress_error_jsonb(ErrorData *edata)
{
	JsonbParseState *state = NULL;
	ErrorData	gone;

	if (edata == NULL)
	{
		memset(&gone, 0, sizeof(gone));
		gone.sqlerrcode = ERRCODE_UNDEFINED_OBJECT;
		gone.message = "the run's function was deleted";
		edata = &gone;
	}

#define PUSH_TEXT(name, s) \
	do { if ((s) != NULL) \
		jsonb_push_string(&state, (name), (s), strlen(s)); } while (0)

	(void) pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	PUSH_TEXT("message", edata->message ? edata->message : "unknown error");
	PUSH_TEXT("sqlstate", unpack_sql_state(edata->sqlerrcode));
	PUSH_TEXT("detail", edata->detail);
	PUSH_TEXT("hint", edata->hint);
	PUSH_TEXT("context", edata->context);
#undef PUSH_TEXT
	return JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL));
}
