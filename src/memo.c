/*-------------------------------------------------------------------------
 *
 * memo.c
 *	  The memo of runs: inngest.steps, one row per step of a run, holding a
 *	  completed step's output (what a replay returns instead of running the
 *	  step again), or the state of the step that is retrying, sleeping or
 *	  waiting.
 *
 * Every row is written in the transaction of the step it concerns, so a
 * step's database writes and its memo commit together.  This file owns
 * every statement on inngest.steps.
 *
 *-------------------------------------------------------------------------
 */
#include "inngest.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"

#include "guc.h"
#include "memo.h"
#include "spiutil.h"

typedef struct MemoPlans
{
	SPIPlanPtr	load;
	SPIPlanPtr	insert;
	SPIPlanPtr	upsert;
	SPIPlanPtr	failure;
	SPIPlanPtr	open;
	SPIPlanPtr	complete_sleep;
	SPIPlanPtr	complete_wait;
	SPIPlanPtr	cancel_open;
} MemoPlans;

static MemoPlans plans;

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
 * The run's completed steps (MemoRow list, in the caller's memory
 * context), read after this transaction's own writes.
 *
 * An SPI call returns in SPI's procedure context, which the next
 * SPI_finish() frees: the rows are copied into the context that was
 * current on entry (the run's, which lives across the drive's commits).
 */
List *
memo_load(int64 run_id)
{
	static const Oid types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(run_id)};
	MemoryContext cxt = CurrentMemoryContext;
	MemoryContext spicxt;
	List	   *rows = NIL;
	uint64		n;
	uint64		i;

	n = inngest_run_plan(&plans.load,
						 "SELECT step_id, output FROM inngest.steps "
						 "WHERE run_id = $1 AND status = 'completed'",
						 1, types, values, NULL, SPI_OK_SELECT);
	spicxt = MemoryContextSwitchTo(cxt);
	for (i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		MemoRow    *row = palloc(sizeof(MemoRow));
		bool		isnull;
		Datum		output;

		row->step_id = TextDatumGetCString(SPI_getbinval(tup, desc, 1, &isnull));
		output = SPI_getbinval(tup, desc, 2, &isnull);
		row->output = isnull ? NULL : DatumGetJsonbPCopy(output);
		rows = lappend(rows, row);
	}
	MemoryContextSwitchTo(spicxt);
	SPI_freetuptable(SPI_tuptable);
	return rows;
}

/*
 * A step completed with output (NULL: SQL NULL), in the current
 * transaction with its writes.  After failed attempts (attempts > 1) its
 * row exists already: only then is ON CONFLICT paid for.
 */
void
memo_record(int64 run_id, const char *step_id, StepKind kind, int position,
			int attempts, Jsonb *output, TimestampTz started)
{
	static const Oid types[8] = {INT8OID, TEXTOID, INT4OID, JSONBOID,
	INT4OID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID};
	Datum		values[8];
	char		nulls[8] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};

	values[0] = Int64GetDatum(run_id);
	values[1] = CStringGetTextDatum(step_id);
	values[2] = Int32GetDatum(position);
	values[3] = output ? JsonbPGetDatum(output) : (Datum) 0;
	nulls[3] = output ? ' ' : 'n';
	values[4] = Int32GetDatum(attempts);
	values[5] = TimestampTzGetDatum(started);
	values[6] = TimestampTzGetDatum(inngest_clock());
	values[7] = CStringGetTextDatum(step_kind_name(kind));

	if (attempts <= 1)
		(void) inngest_run_plan(&plans.insert,
								"INSERT INTO inngest.steps (run_id, step_id, position, kind, "
								"status, output, attempts, started_at, ended_at) "
								"VALUES ($1, $2, $3, $8, 'completed', $4, $5, $6, $7)",
								8, types, values, nulls, SPI_OK_INSERT);
	else
		(void) inngest_run_plan(&plans.upsert,
								"INSERT INTO inngest.steps AS s (run_id, step_id, position, kind, "
								"status, output, attempts, started_at, ended_at) "
								"VALUES ($1, $2, $3, $8, 'completed', $4, $5, $6, $7) "
								"ON CONFLICT (run_id, step_id) DO UPDATE SET "
								"status = 'completed', output = excluded.output, "
								"attempts = excluded.attempts, ended_at = excluded.ended_at",
								8, types, values, nulls, SPI_OK_INSERT);
}

/*
 * A step's attempts-th attempt failed: 'retrying', or 'failed' if final.
 * kind: a query's ('run') or a sendEvent's ('send').
 */
void
memo_record_failure(int64 run_id, const char *step_id, StepKind kind,
					int position, bool final, Jsonb *error, int attempts)
{
	static const Oid types[8] = {INT8OID, TEXTOID, INT4OID, TEXTOID,
	JSONBOID, INT4OID, TIMESTAMPTZOID, TEXTOID};
	Datum		values[8];

	values[0] = Int64GetDatum(run_id);
	values[1] = CStringGetTextDatum(step_id);
	values[2] = Int32GetDatum(position);
	values[3] = CStringGetTextDatum(final ? "failed" : "retrying");
	values[4] = JsonbPGetDatum(error);
	values[5] = Int32GetDatum(attempts);
	values[6] = TimestampTzGetDatum(inngest_clock());
	values[7] = CStringGetTextDatum(step_kind_name(kind));
	(void) inngest_run_plan(&plans.failure,
							"INSERT INTO inngest.steps AS s (run_id, step_id, "
							"position, kind, status, error, attempts, started_at, ended_at) "
							"VALUES ($1, $2, $3, $8, $4, $5, $6, $7, $7) "
							"ON CONFLICT (run_id, step_id) DO UPDATE SET "
							"status = excluded.status, error = excluded.error, "
							"attempts = excluded.attempts, ended_at = excluded.ended_at",
							8, types, values, NULL, SPI_OK_INSERT);
}

/*
 * A step that is not done yet: a sleep ('sleeping' until its end, which
 * memo_complete_sleep marks done) or a wait or invoke ('waiting' for an
 * event, memo_complete_wait).
 */
static void
record_open(int64 run_id, const char *step_id, int position, StepKind kind,
			const char *status, TimestampTz started, TimestampTz ends)
{
	static const Oid types[7] = {INT8OID, TEXTOID, INT4OID, TIMESTAMPTZOID,
	TEXTOID, TEXTOID, TIMESTAMPTZOID};
	Datum		values[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};

	values[0] = Int64GetDatum(run_id);
	values[1] = CStringGetTextDatum(step_id);
	values[2] = Int32GetDatum(position);
	values[3] = TimestampTzGetDatum(started);
	values[4] = CStringGetTextDatum(step_kind_name(kind));
	values[5] = CStringGetTextDatum(status);
	values[6] = TimestampTzGetDatum(ends);
	nulls[6] = ends != 0 ? ' ' : 'n';
	(void) inngest_run_plan(&plans.open,
							"INSERT INTO inngest.steps (run_id, step_id, position, kind, "
							"status, attempts, started_at, ended_at) "
							"VALUES ($1, $2, $3, $5, $6, 1, $4, $7)",
							7, types, values, nulls, SPI_OK_INSERT);
}

/* A sleep step reached at started, until "until" */
void
memo_record_sleep(int64 run_id, const char *step_id, int position,
				  TimestampTz started, TimestampTz until)
{
	record_open(run_id, step_id, position, STEP_SLEEP, "sleeping", started, until);
}

/* A step reached at started that waits for an event (STEP_WAIT, STEP_INVOKE) */
void
memo_record_wait(int64 run_id, const char *step_id, int position,
				 StepKind kind, TimestampTz started)
{
	record_open(run_id, step_id, position, kind, "waiting", started, 0);
}

/* A sleeping run's time has come: its sleep step is completed */
void
memo_complete_sleep(int64 run_id)
{
	static const Oid types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(run_id)};

	(void) inngest_run_plan(&plans.complete_sleep,
							"UPDATE inngest.steps SET status = 'completed' "
							"WHERE run_id = $1 AND status = 'sleeping'",
							1, types, values, NULL, SPI_OK_UPDATE);
}

/*
 * The run's waiting step (a run has at most one) completes with output:
 * the event it waited for, or NULL at the timeout.
 */
void
memo_complete_wait(int64 run_id, Jsonb *output)
{
	static const Oid types[3] = {INT8OID, JSONBOID, TIMESTAMPTZOID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};

	values[0] = Int64GetDatum(run_id);
	values[1] = output ? JsonbPGetDatum(output) : (Datum) 0;
	nulls[1] = output ? ' ' : 'n';
	values[2] = TimestampTzGetDatum(inngest_clock());
	(void) inngest_run_plan_latest(&plans.complete_wait,
								   "UPDATE inngest.steps SET status = 'completed', "
								   "output = $2, ended_at = $3 "
								   "WHERE run_id = $1 AND status = 'waiting'",
								   3, types, values, nulls, SPI_OK_UPDATE);
}

/* The run was cancelled: its sleeping or waiting step is too */
void
memo_cancel_open(int64 run_id)
{
	static const Oid types[2] = {INT8OID, TIMESTAMPTZOID};
	Datum		values[2];

	values[0] = Int64GetDatum(run_id);
	values[1] = TimestampTzGetDatum(inngest_clock());
	(void) inngest_run_plan_latest(&plans.cancel_open,
								   "UPDATE inngest.steps SET status = 'cancelled', "
								   "ended_at = $2 WHERE run_id = $1 "
								   "AND status IN ('sleeping', 'waiting')",
								   2, types, values, NULL, SPI_OK_UPDATE);
}
