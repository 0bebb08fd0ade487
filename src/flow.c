/*-------------------------------------------------------------------------
 *
 * flow.c
 *	  Flow control at admission: whether and when a run starts when its
 *	  event arrives (idempotency, rateLimit, singleton, batchEvents,
 *	  debounce, throttle, priority).
 *
 * Everything decided at admission is decided in the event's transaction,
 * so it commits or rolls back with the event:
 *
 * - idempotency: inngest.idempotency_keys holds (function, key) for 24
 *	 hours; a second event with the key starts nothing, like a duplicate
 *	 event id.
 * - rateLimit and throttle are the generic cell rate algorithm (GCRA) that
 *	 Inngest uses, over one row per key in inngest.flow_state holding the
 *	 "theoretical arrival time".  rateLimit drops: an event over the limit
 *	 gets a run with status 'skipped'.  throttle delays: the run is queued
 *	 with wake_at at the time the algorithm lets it start.  Concurrent
 *	 events of one key serialize on the key's row, briefly.
 * - singleton: the runs of a key that have not ended carry it in
 *	 runs.active_key; an advisory lock on the key serializes admissions.
 * - debounce and batchEvents: the run being gathered carries
 *	 runs.pending_key, unique while set.  An event upserts it: debounce
 *	 replaces its event and pushes its start back, batching appends the
 *	 event.  The executor clears pending_key when it claims the run, so a
 *	 later event gathers a new one; an event racing with that claim waits
 *	 for the claim's row lock and then inserts.
 * - priority: wake_at is moved earlier (or later) by the run's priority in
 *	 seconds, and the queue is ordered by wake_at.
 *
 * Concurrency limits act while runs execute: see slots.c.  The keys are
 * parsed in config.c; the runs are written by runs.c.
 *
 *-------------------------------------------------------------------------
 */
#include "inngest.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "config.h"
#include "expr.h"
#include "flow.h"
#include "guc.h"
#include "jsonutil.h"
#include "lifecycle.h"
#include "runs.h"
#include "slots.h"
#include "spiutil.h"
#include "waits.h"
#include "wake.h"

#define SECS(n) ((int64) (n) * USECS_PER_SEC)

typedef struct FlowPlans
{
	SPIPlanPtr	idempotency;
	SPIPlanPtr	gcra;
	SPIPlanPtr	singleton_active;
	SPIPlanPtr	cleanup_state;
	SPIPlanPtr	cleanup_keys;
} FlowPlans;

static FlowPlans plans;

/* "<kind>:<function id>:<key value>", or without the key */
static char *
scoped_key(const char *kind, InngestFunction *fn, ExprValue *key, Jsonb *event)
{
	if (key == NULL)
		return psprintf("%s:%s", kind, fn->id);
	return psprintf("%s:%s:%s", kind, fn->id, expr_eval_key(key, event));
}

/* idempotency: true if this key was first in the last 24 hours */
static bool
admit_idempotent(InngestFunction *fn, Jsonb *event)
{
	Oid			types[4] = {TEXTOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[4];
	TimestampTz now = inngest_clock();

	values[0] = CStringGetTextDatum(fn->id);
	values[1] = CStringGetTextDatum(expr_eval_key(fn->flow->idempotency, event));
	values[2] = TimestampTzGetDatum(now + SECS(INNGEST_DEDUP_WINDOW_SECS));
	values[3] = TimestampTzGetDatum(now);
	return inngest_run_plan(&plans.idempotency,
							"INSERT INTO inngest.idempotency_keys AS k "
							"(function_id, key, expires_at) VALUES ($1, $2, $3) "
							"ON CONFLICT (function_id, key) DO UPDATE "
							"SET expires_at = excluded.expires_at "
							"WHERE k.expires_at <= $4",
							4, types, values, NULL, SPI_OK_INSERT) == 1;
}

/*
 * The generic cell rate algorithm (GCRA) over the key's row in
 * inngest.flow_state, as Inngest's rateLimit and throttle use it.  With
 * emission interval t (period / limit) and tolerance tau, a run conforms
 * now if the key's theoretical arrival time (TAT) is at most tau ahead of
 * now; admitting it sets TAT = max(TAT, now) + t.
 *
 * Dropping (queue false): returns whether the run conforms now, changing
 * nothing if not.  Queueing: every run is admitted, and *start is the
 * earliest time it conforms, max(now, TAT' - t - tau), so runs over the
 * limit start one per t, in order.  Concurrent events of one key
 * serialize on its row.
 */
static bool
gcra(const char *key, int64 t, int64 tau, bool queue, TimestampTz *start)
{
	Oid			types[5] = {TEXTOID, TIMESTAMPTZOID, INTERVALOID, INTERVALOID,
	BOOLOID};
	Datum		values[5];
	TimestampTz now = inngest_clock();
	bool		isnull;
	TimestampTz tat;

	values[0] = CStringGetTextDatum(key);
	values[1] = TimestampTzGetDatum(now);
	values[2] = inngest_usecs_interval(t);
	values[3] = inngest_usecs_interval(tau);
	values[4] = BoolGetDatum(queue);
	if (inngest_run_plan(&plans.gcra,
						 "INSERT INTO inngest.flow_state AS s (key, tat) "
						 "VALUES ($1, $2 + $3) "
						 "ON CONFLICT (key) DO UPDATE "
						 "SET tat = GREATEST(s.tat, $2) + $3 "
						 "WHERE $5 OR s.tat - $4 <= $2 "
						 "RETURNING tat",
						 5, types, values, NULL, SPI_OK_INSERT_RETURNING) == 0)
		return false;
	tat = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0],
											SPI_tuptable->tupdesc, 1, &isnull));
	SPI_freetuptable(SPI_tuptable);
	if (start != NULL)
		*start = Max(now, tat - t - tau);
	return true;
}

/* rateLimit: "limit" runs may start at once, then one per period / limit */
static bool
admit_rate(InngestFunction *fn, Jsonb *event)
{
	FlowConfig *flow = fn->flow;
	int64		t = flow->rate_period / flow->rate_limit;

	return gcra(scoped_key("rate", fn, flow->rate_key, event),
				t, t * (flow->rate_limit - 1), false, NULL);
}

/* throttle: limit + burst runs start at once, then one per period / limit */
static TimestampTz
throttle_start(InngestFunction *fn, Jsonb *event)
{
	FlowConfig *flow = fn->flow;
	int64		t = flow->throttle_period / flow->throttle_limit;
	TimestampTz start;

	(void) gcra(scoped_key("throttle", fn, flow->throttle_key, event),
				t, t * (flow->throttle_limit + flow->throttle_burst - 1), true, &start);
	return start;
}

/* A run that will not start, with the reason (and the run that made it so) */
static int64
skip_run(InngestFunction *fn, Jsonb *event, const char *reason, int64 other_run)
{
	JsonbParseState *state = NULL;

	(void) pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	jsonb_push_string(&state, "reason", reason, strlen(reason));
	if (other_run != 0)
		jsonb_push_int64(&state, "run_id", other_run);
	return runs_create_skipped(fn->id, event,
							   JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL)));
}

/*
 * singleton: serialize admissions of the key with an advisory lock held to
 * the end of the transaction, and look for its run that has not ended.
 * Returns 0 if the new run may start (mode cancel: after cancelling the
 * existing ones), else the run that makes it skip.
 */
static int64
singleton_conflict(InngestFunction *fn, const char *key)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	LOCKTAG		tag;
	uint64		hash = hash_bytes_extended((const unsigned char *) key,
										   strlen(key), 0);
	uint64		n;
	uint64		i;
	int64	   *runs;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) (hash >> 32),
						 (uint32) hash, INNGEST_LOCKTAG_SINGLETON);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);

	values[0] = CStringGetTextDatum(key);
	n = inngest_run_plan(&plans.singleton_active,
						 "SELECT id FROM inngest.runs WHERE active_key = $1 "
						 "ORDER BY id",
						 1, types, values, NULL, SPI_OK_SELECT);
	if (n == 0)
		return 0;
	runs = palloc(sizeof(int64) * n);
	for (i = 0; i < n; i++)
	{
		bool		isnull;

		runs[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
											  SPI_tuptable->tupdesc, 1, &isnull));
	}
	SPI_freetuptable(SPI_tuptable);
	if (!fn->flow->singleton_cancel)
		return runs[0];
	for (i = 0; i < n; i++)
		(void) lifecycle_request_cancel(runs[i], "singleton");
	return 0;
}

/* debounce: gather the key's pending run, or start gathering one */
static int64
admit_debounce(InngestFunction *fn, Jsonb *event, bool *inserted)
{
	FlowConfig *flow = fn->flow;

	return runs_gather_debounce(fn->id, event,
								scoped_key("debounce", fn, flow->debounce_key, event),
								flow->debounce_period, flow->debounce_timeout,
								inserted);
}

/* batchEvents: append the event to the key's open batch, or open one */
static int64
admit_batch(InngestFunction *fn, Jsonb *event, bool *inserted)
{
	FlowConfig *flow = fn->flow;

	/* events outside the batch condition, and batches of one, start at once */
	if (flow->batch_max == 1 ||
		(flow->batch_if != NULL && !expr_match(flow->batch_if, event, NULL)))
		return runs_gather_batch(fn->id, event, NULL, 0, flow->batch_max, inserted);
	return runs_gather_batch(fn->id, event,
							 scoped_key("batch", fn, flow->batch_key, event),
							 flow->batch_timeout, flow->batch_max, inserted);
}

/* The priority of a run in seconds, clamped to Inngest's range */
static int
run_priority(InngestFunction *fn, Jsonb *event)
{
	Jsonb	   *value = expr_eval_value(fn->flow->priority, event);
	JsonbValue	scalar;
	float8		secs;

	if (value == NULL || !JB_ROOT_IS_SCALAR(value) ||
		!JsonbExtractScalar(&value->root, &scalar) || scalar.type != jbvNumeric)
		return 0;				/* not a number: no priority, as in Inngest */
	secs = DatumGetFloat8(DirectFunctionCall1(numeric_float8,
											  NumericGetDatum(scalar.val.numeric)));
	if (secs > FLOW_MAX_PRIORITY)
		return FLOW_MAX_PRIORITY;
	if (secs < -FLOW_MAX_PRIORITY)
		return -FLOW_MAX_PRIORITY;
	return (int) rint(secs);
}

/*
 * Start a run of fn for event under its flow-control rules, in the event's
 * transaction.  Returns the run's id, or 0 if no run was created (an
 * idempotent duplicate, or an event gathered into an existing run).  The
 * caller has SPI connected, runs as the extension owner and holds the
 * event-name locks of fn's cancelOn rules.
 */
int64
flow_admit(InngestFunction *fn, Jsonb *event)
{
	FlowConfig *flow = fn->flow;
	char	   *singleton = NULL;
	bool		inserted;
	int64		run_id;

	if (flow->idempotency != NULL && !admit_idempotent(fn, event))
		return 0;
	if (flow->rate_limit > 0 && !admit_rate(fn, event))
		return skip_run(fn, event, "rateLimit", 0);
	if (flow->singleton_key != NULL)
	{
		int64		other;

		singleton = scoped_key("singleton", fn, flow->singleton_key, event);
		other = singleton_conflict(fn, singleton);
		if (other != 0)
			return skip_run(fn, event, "singleton", other);
	}

	if (flow->batch_max == 0 && flow->debounce_period == 0)
	{
		TimestampTz wake_at = inngest_clock();

		if (flow->throttle_limit > 0)
			wake_at = throttle_start(fn, event);
		if (flow->priority != NULL)
			wake_at -= SECS(run_priority(fn, event));
		/* a busy concurrency key: the run is created set aside (slots.c) */
		return lifecycle_create_run(fn, event, wake_at, singleton,
									slots_ingest_park(fn, event));
	}

	/* a run gathering events (batchEvents or debounce) */
	if (flow->batch_max > 0)
		run_id = admit_batch(fn, event, &inserted);
	else
		run_id = admit_debounce(fn, event, &inserted);
	if (fn->cancel_on != NIL)
	{
		/*
		 * Only debounce can have cancelOn here (batching rejects it): the
		 * run now has this event, so its cancelOn waits match against it.
		 */
		if (!inserted)
			waits_forget_run(run_id);
		waits_register_cancel_on(run_id, fn, event);
	}
	wake_executors_at_commit();
	return inserted ? run_id : 0;
}

/*
 * Forget expired state: rate and throttle rows whose arrival time has
 * passed are the same as no row, and idempotency keys older than 24
 * hours no longer apply.  Called every minute by the executors.
 */
void
flow_cleanup(void)
{
	Oid			types[1] = {TIMESTAMPTZOID};
	Datum		values[1] = {TimestampTzGetDatum(inngest_clock())};

	(void) inngest_run_plan(&plans.cleanup_state,
							"DELETE FROM inngest.flow_state WHERE ctid = ANY (ARRAY("
							"SELECT ctid FROM inngest.flow_state WHERE tat < $1 "
							"LIMIT 10000 FOR UPDATE SKIP LOCKED))",
							1, types, values, NULL, SPI_OK_DELETE);
	(void) inngest_run_plan(&plans.cleanup_keys,
							"DELETE FROM inngest.idempotency_keys WHERE ctid = ANY (ARRAY("
							"SELECT ctid FROM inngest.idempotency_keys WHERE expires_at < $1 "
							"LIMIT 10000 FOR UPDATE SKIP LOCKED))",
							1, types, values, NULL, SPI_OK_DELETE);
}
