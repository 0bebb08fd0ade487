/*-------------------------------------------------------------------------
 *
 * runs.c
 *	  The run-state module: the one place that inserts, claims, updates and
 *	  ends rows of inngest.runs.
 *
 * Each transition of a run (doc/design.md, "Run states") is one function
 * here with one prepared statement, named after the transition.  The
 * decisions around them (what a failure means, which waits to drop, which
 * system event to send) are lifecycle.c's; this file only writes what was
 * decided, so that every change of a run's status can be found by name.
 *
 * wake_at is set exactly while a run has something to do at a time: due
 * now, backing off, sleeping until then, or waiting with a timeout.  It is
 * NULL while a run is driven between commits, while it waits without a
 * timeout, while it is set aside for a concurrency slot, and once it has
 * ended, so the partial index runs_due holds only runs that will be due.
 *
 * A run that a driver holds has two locks: its row, locked by the claim
 * (FOR UPDATE SKIP LOCKED) until the drive's first commit, and a
 * session-level advisory lock on its id for the whole drive, which tells
 * runs_recover() a 'running' run whose driver died from a live one.
 *
 *-------------------------------------------------------------------------
 */
#include "inngest.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "guc.h"
#include "runs.h"
#include "spiutil.h"
#include "wake.h"

/* The statuses of a run that has not ended, for SQL */
#define UNFINISHED_STATUSES "('queued', 'running', 'sleeping', 'waiting')"

/*
 * A run goes on (sleeps, waits, retries, completes) only if nobody asked
 * for it to be cancelled meanwhile; the caller then cancels it instead.
 */
#define NO_CANCEL_REQUEST \
	"AND NOT EXISTS (SELECT FROM inngest.cancel_requests c WHERE c.run_id = $1)"

/*
 * Runs are created by one statement, for one run or ten thousand; the
 * variant with RETURNING is prepared separately because returning every
 * new run's event costs the bulk insert of events that need none of them.
 */
#define CREATE_RUNS_SQL \
	"INSERT INTO inngest.runs (function_id, event, status, wake_at, " \
	"created_at, active_key, blocked_on, queue_at, depth, owner) " \
	"SELECT u.f, u.e, 'queued', CASE WHEN u.b IS NULL THEN u.w END, $6, " \
	"u.a, u.b, CASE WHEN u.b IS NOT NULL THEN u.w END, u.d, u.o " \
	"FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.text[]), " \
	"pg_catalog.unnest($2::pg_catalog.jsonb[]), " \
	"pg_catalog.unnest($3::pg_catalog.timestamptz[]), " \
	"pg_catalog.unnest($4::pg_catalog.text[]), " \
	"pg_catalog.unnest($5::pg_catalog.text[]), " \
	"pg_catalog.unnest($7::pg_catalog.int4[]), " \
	"pg_catalog.unnest($8::pg_catalog.oid[])) AS u(f, e, w, b, a, d, o)"

/*
 * The owner of a new run, for the statements that create one run: the
 * owner of its function, at this moment (REASSIGN OWNED moves it later)
 */
#define FUNCTION_OWNER_SQL \
	"(SELECT f.owner FROM inngest.functions f WHERE f.id OPERATOR(pg_catalog.=) $1)"

/* Prepared statements, kept for the backend's life */
typedef struct RunsPlans
{
	SPIPlanPtr	create;
	SPIPlanPtr	create_returning;
	SPIPlanPtr	create_skipped;
	SPIPlanPtr	gather_debounce;
	SPIPlanPtr	gather_batch;
	SPIPlanPtr	claim;
	SPIPlanPtr	claim_own;
	SPIPlanPtr	reassign;
	SPIPlanPtr	clear_flow_marks;
	SPIPlanPtr	mark_running;
	SPIPlanPtr	status;
	SPIPlanPtr	request_cancel;
	SPIPlanPtr	take_cancel_request;
	SPIPlanPtr	cancel_requests;
	SPIPlanPtr	lock;
	SPIPlanPtr	lock_skip;
	SPIPlanPtr	next_wake;
	SPIPlanPtr	suspend;
	SPIPlanPtr	resume;
	SPIPlanPtr	reset_attempt;
	SPIPlanPtr	retry;
	SPIPlanPtr	complete;
	SPIPlanPtr	fail;
	SPIPlanPtr	cancel;
	SPIPlanPtr	cancel_function;
	SPIPlanPtr	park;
	SPIPlanPtr	set_active_key;
	SPIPlanPtr	promote_heads;
	SPIPlanPtr	promote;
	SPIPlanPtr	internal_error;
	SPIPlanPtr	running;
	SPIPlanPtr	requeue;
} RunsPlans;

static RunsPlans plans;

/*
 * The depth of the runs created now: that of the event that starts them
 * (see runs_set_depth).
 */
static int	creation_depth = 0;

static Datum
text_or_null(const char *s, char *null)
{
	*null = s ? ' ' : 'n';
	return s ? CStringGetTextDatum(s) : (Datum) 0;
}

/* Column i (1-based) of row 0 of the last result */
static Datum
result_value(int i, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, i, isnull);
}

/* The text in column 1 of the last result's first row, which is freed */
static char *
returned_text(void)
{
	bool		isnull;
	char	   *s = TextDatumGetCString(result_value(1, &isnull));

	SPI_freetuptable(SPI_tuptable);
	return s;
}

/* The int8 in column 1 of the last result's first row, which is freed */
static int64
returned_id(void)
{
	bool		isnull;
	int64		id = DatumGetInt64(result_value(1, &isnull));

	SPI_freetuptable(SPI_tuptable);
	return id;
}

/* ----------------------------------------------------------------------
 * Creation
 * ----------------------------------------------------------------------
 */

/*
 * The runs created from now on have this depth (their event's: how many
 * runs led to it, see inngest.max_depth); returns the previous one, which
 * the caller restores.
 */
int
runs_set_depth(int depth)
{
	int			previous = creation_depth;

	creation_depth = depth;
	return previous;
}

/*
 * An empty batch of runs to create, with room for cap at first; it grows
 * as runs are added (most batches hold one run: a system event's).
 */
NewRuns *
runs_new_batch(int cap)
{
	NewRuns    *batch = palloc0(sizeof(NewRuns));

	batch->cap = Max(cap, 1);
	batch->function_ids = palloc(sizeof(Datum) * batch->cap);
	batch->events = palloc(sizeof(Datum) * batch->cap);
	batch->wake_at = palloc(sizeof(Datum) * batch->cap);
	batch->blocked_on = palloc(sizeof(Datum) * batch->cap);
	batch->blocked_null = palloc(sizeof(bool) * batch->cap);
	batch->active_key = palloc(sizeof(Datum) * batch->cap);
	batch->active_null = palloc(sizeof(bool) * batch->cap);
	batch->depth = palloc(sizeof(Datum) * batch->cap);
	batch->owners = palloc(sizeof(Datum) * batch->cap);
	return batch;
}

static void
grow_batch(NewRuns *batch)
{
	batch->cap *= 2;
	batch->function_ids = repalloc(batch->function_ids, sizeof(Datum) * batch->cap);
	batch->events = repalloc(batch->events, sizeof(Datum) * batch->cap);
	batch->wake_at = repalloc(batch->wake_at, sizeof(Datum) * batch->cap);
	batch->blocked_on = repalloc(batch->blocked_on, sizeof(Datum) * batch->cap);
	batch->blocked_null = repalloc(batch->blocked_null, sizeof(bool) * batch->cap);
	batch->active_key = repalloc(batch->active_key, sizeof(Datum) * batch->cap);
	batch->active_null = repalloc(batch->active_null, sizeof(bool) * batch->cap);
	batch->depth = repalloc(batch->depth, sizeof(Datum) * batch->cap);
	batch->owners = repalloc(batch->owners, sizeof(Datum) * batch->cap);
}

/*
 * Add a run of function_id with event to the batch: due at wake_at, or set
 * aside on the concurrency key blocked_on with wake_at as its place in the
 * key's queue; with the singleton key active_key if not NULL.
 */
void
runs_add(NewRuns *batch, const char *function_id, Jsonb *event,
		 TimestampTz wake_at, const char *blocked_on, const char *active_key)
{
	InngestFunction *fn = catalog_lookup_function(function_id);
	int			i;

	/* runs are created only for functions that exist (the cache is fresh) */
	if (fn == NULL)
		elog(ERROR, "inngest function \"%s\" is not in the function cache",
			 function_id);
	if (batch->n == batch->cap)
		grow_batch(batch);
	i = batch->n++;
	batch->function_ids[i] = CStringGetTextDatum(function_id);
	batch->owners[i] = ObjectIdGetDatum(fn->owner);
	batch->events[i] = JsonbPGetDatum(event);
	batch->wake_at[i] = TimestampTzGetDatum(wake_at);
	batch->blocked_on[i] = blocked_on ? CStringGetTextDatum(blocked_on) : (Datum) 0;
	batch->blocked_null[i] = blocked_on == NULL;
	batch->active_key[i] = active_key ? CStringGetTextDatum(active_key) : (Datum) 0;
	batch->active_null[i] = active_key == NULL;
	batch->depth[i] = Int32GetDatum(creation_depth);
	batch->any_blocked |= blocked_on != NULL;
	batch->any_active |= active_key != NULL;
}

static Datum
text_array(Datum *values, bool *nulls, int n)
{
	int			dims[1] = {n};
	int			lbs[1] = {1};

	return PointerGetDatum(construct_md_array(values, nulls, 1, dims, lbs,
											  TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * Create the batch's runs, status 'queued', in one statement, and empty
 * the batch.  With returning, SPI_tuptable holds (id, function_id, event)
 * of each new run.  Returns how many were created.
 */
uint64
runs_create(NewRuns *batch, bool returning)
{
	static const Oid types[8] = {TEXTARRAYOID, JSONBARRAYOID,
	TIMESTAMPTZARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TIMESTAMPTZOID,
	INT4ARRAYOID, OIDARRAYOID};
	Datum		values[8];
	uint64		n;

	if (batch->n == 0)
		return 0;
	values[0] = PointerGetDatum(construct_array(batch->function_ids, batch->n,
												TEXTOID, -1, false, TYPALIGN_INT));
	values[1] = PointerGetDatum(construct_array(batch->events, batch->n,
												JSONBOID, -1, false, TYPALIGN_INT));
	values[2] = PointerGetDatum(construct_array(batch->wake_at, batch->n,
												TIMESTAMPTZOID, 8, FLOAT8PASSBYVAL,
												TYPALIGN_DOUBLE));
	values[3] = text_array(batch->blocked_on, batch->blocked_null, batch->n);
	values[4] = text_array(batch->active_key, batch->active_null, batch->n);
	values[5] = TimestampTzGetDatum(inngest_clock());
	values[6] = PointerGetDatum(construct_array(batch->depth, batch->n,
												INT4OID, 4, true, TYPALIGN_INT));
	values[7] = PointerGetDatum(construct_array(batch->owners, batch->n,
												OIDOID, 4, true, TYPALIGN_INT));
	if (returning)
		n = inngest_run_plan(&plans.create_returning,
							 CREATE_RUNS_SQL " RETURNING id, function_id, event",
							 8, types, values, NULL, SPI_OK_INSERT_RETURNING);
	else
		n = inngest_run_plan(&plans.create, CREATE_RUNS_SQL,
							 8, types, values, NULL, SPI_OK_INSERT);
	batch->n = 0;
	batch->any_blocked = batch->any_active = false;
	wake_executors_at_commit();
	return n;
}

/* Create one run (see runs_add); returns its id */
int64
runs_create_one(const char *function_id, Jsonb *event, TimestampTz wake_at,
				const char *blocked_on, const char *active_key)
{
	NewRuns    *batch = runs_new_batch(1);

	runs_add(batch, function_id, event, wake_at, blocked_on, active_key);
	(void) runs_create(batch, true);
	return returned_id();
}

/* A run that will not start (rateLimit, singleton, max_depth), with the reason */
int64
runs_create_skipped(const char *function_id, Jsonb *event, Jsonb *error)
{
	static const Oid types[5] = {TEXTOID, JSONBOID, JSONBOID, TIMESTAMPTZOID,
	INT4OID};
	Datum		values[5];

	values[0] = CStringGetTextDatum(function_id);
	values[1] = JsonbPGetDatum(event);
	values[2] = JsonbPGetDatum(error);
	values[3] = TimestampTzGetDatum(inngest_clock());
	values[4] = Int32GetDatum(creation_depth);
	(void) inngest_run_plan(&plans.create_skipped,
							"INSERT INTO inngest.runs (function_id, event, status, error, "
							"created_at, ended_at, depth, owner) "
							"VALUES ($1, $2, 'skipped', $3, $4, $4, $5, "
							FUNCTION_OWNER_SQL ") RETURNING id",
							5, types, values, NULL, SPI_OK_INSERT_RETURNING);
	return returned_id();
}

/* The id and "was inserted" of a run an upsert RETURNING id, xmax = 0 gave */
static int64
upserted_run(bool *inserted)
{
	bool		isnull;

	*inserted = DatumGetBool(result_value(2, &isnull));
	return returned_id();
}

/*
 * debounce: the key's pending run (runs.pending_key) takes this event and
 * starts a period from now, but no later than timeout (if not 0) after its
 * first event; or, if the key has none, a new one starts gathering.
 */
int64
runs_gather_debounce(const char *function_id, Jsonb *event, const char *key,
					 int64 period, int64 timeout, bool *inserted)
{
	static const Oid types[7] = {TEXTOID, JSONBOID, TIMESTAMPTZOID, TEXTOID,
	INTERVALOID, TIMESTAMPTZOID, INT4OID};
	Datum		values[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};
	TimestampTz now = inngest_clock();

	values[6] = Int32GetDatum(creation_depth);
	values[0] = CStringGetTextDatum(function_id);
	values[1] = JsonbPGetDatum(event);
	values[2] = TimestampTzGetDatum(now + period);
	values[3] = CStringGetTextDatum(key);
	values[4] = timeout > 0 ? inngest_usecs_interval(timeout) : (Datum) 0;
	nulls[4] = timeout > 0 ? ' ' : 'n';
	values[5] = TimestampTzGetDatum(now);
	(void) inngest_run_plan(&plans.gather_debounce,
							"INSERT INTO inngest.runs AS r (function_id, event, status, "
							"wake_at, created_at, pending_key, depth, owner) "
							"VALUES ($1, $2, 'queued', LEAST($3, $6 + $5), $6, $4, $7, "
							FUNCTION_OWNER_SQL ") "
							"ON CONFLICT (pending_key) WHERE pending_key IS NOT NULL "
							"DO UPDATE SET event = excluded.event, "
							"wake_at = LEAST($3, r.created_at + $5), depth = excluded.depth "
							"RETURNING id, xmax OPERATOR(pg_catalog.=) 0",
							7, types, values, nulls, SPI_OK_INSERT_RETURNING);
	return upserted_run(inserted);
}

/*
 * batchEvents: append the event to the key's open batch (runs.pending_key)
 * or open one, due timeout from now; the batch closes when it holds max
 * events.  A NULL key is an event that starts a batch of its own, now.
 * The run's event is the batch's first event (name, data, id, ts), as
 * Inngest gives a batch handler "event", with "events": all of them.
 */
int64
runs_gather_batch(const char *function_id, Jsonb *event, const char *key,
				  int64 timeout, int max, bool *inserted)
{
	static const Oid types[7] = {TEXTOID, JSONBOID, TIMESTAMPTZOID, TEXTOID,
	TIMESTAMPTZOID, INT4OID, INT4OID};
	Datum		values[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};
	TimestampTz now = inngest_clock();

	values[6] = Int32GetDatum(creation_depth);
	values[0] = CStringGetTextDatum(function_id);
	values[1] = JsonbPGetDatum(event);
	values[2] = TimestampTzGetDatum(key == NULL ? now : now + timeout);
	values[3] = text_or_null(key, &nulls[3]);
	values[4] = TimestampTzGetDatum(now);
	values[5] = Int32GetDatum(max);
	(void) inngest_run_plan(&plans.gather_batch,
							"INSERT INTO inngest.runs AS r (function_id, event, status, "
							"wake_at, created_at, pending_key, depth, owner) "
							"VALUES ($1, $2 OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object("
							"  'events', pg_catalog.jsonb_build_array($2)), 'queued', $3, $5, $4, $7, "
							FUNCTION_OWNER_SQL ") "
							"ON CONFLICT (pending_key) WHERE pending_key IS NOT NULL "
							"DO UPDATE SET depth = GREATEST(r.depth, excluded.depth), "
							"event = r.event OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object("
							"  'events', (r.event OPERATOR(pg_catalog.->) 'events') "
							"  OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_array($2)), "
							"wake_at = CASE WHEN pg_catalog.jsonb_array_length("
							"  r.event OPERATOR(pg_catalog.->) 'events') + 1 >= $6 "
							"  THEN $5 ELSE r.wake_at END, "
							"pending_key = CASE WHEN pg_catalog.jsonb_array_length("
							"  r.event OPERATOR(pg_catalog.->) 'events') + 1 >= $6 "
							"  THEN NULL ELSE r.pending_key END "
							"RETURNING id, xmax OPERATOR(pg_catalog.=) 0",
							7, types, values, nulls, SPI_OK_INSERT_RETURNING);
	return upserted_run(inserted);
}

/* ----------------------------------------------------------------------
 * Claiming and driving
 * ----------------------------------------------------------------------
 */

/*
 * The claim: the first due run, skipping those another transaction holds;
 * filter narrows it to the runs a role may drive (tick() by a non-admin).
 */
#define CLAIM_SQL(filter) \
	"SELECT id, function_id, event, attempt, started_at, status, " \
	"created_at, wake_at, " \
	"pending_key IS NOT NULL OR blocked_on IS NOT NULL, " \
	"queue_at IS NOT NULL, depth, " \
	"(SELECT true FROM inngest.cancel_requests c " \
	"  WHERE c.run_id = inngest.runs.id LIMIT 1) IS NOT NULL " \
	"FROM inngest.runs WHERE wake_at <= $1 " filter
#define CLAIM_ORDER_SQL "ORDER BY wake_at, id LIMIT 1 FOR UPDATE SKIP LOCKED"

/*
 * Claim the next run due at now: lock its row (SKIP LOCKED: runs other
 * drivers hold are passed over) and read it into *out, whose strings live
 * in SPI's memory until SPI_finish.  Returns false when none is due.
 * driver: InvalidOid for any run (the workers, an admin's tick()), else
 * only the runs whose owner that role has the privileges of.
 * Whether a cancel was asked for it is read with it, by a scalar subquery
 * with LIMIT: an EXISTS there may be planned as a hashed subplan that
 * hashes the whole table at every claim.
 *
 * The claim only locks the row: while the drive's first transaction is
 * open, SKIP LOCKED keeps other executors away, and nobody else can see
 * the run in progress.  Only a drive that commits a checkpoint before the
 * run's outcome marks it 'running' (runs_mark_running), so a one-step run
 * is claimed, run and completed with a single update of its row.
 */
bool
runs_claim_next(TimestampTz now, Oid driver, ClaimedRun *out)
{
	static const Oid types[2] = {TIMESTAMPTZOID, OIDOID};
	Datum		values[2] = {TimestampTzGetDatum(now), ObjectIdGetDatum(driver)};
	bool		isnull;
	Datum		started_at;
	uint64		n;

	if (!OidIsValid(driver))
		n = inngest_run_plan(&plans.claim, CLAIM_SQL("") " " CLAIM_ORDER_SQL,
							 1, types, values, NULL, SPI_OK_SELECT);
	else
		n = inngest_run_plan(&plans.claim_own,
							 CLAIM_SQL("AND pg_catalog.pg_has_role($2, owner, 'USAGE')")
							 " " CLAIM_ORDER_SQL,
							 2, types, values, NULL, SPI_OK_SELECT);
	if (n == 0)
		return false;

	out->id = DatumGetInt64(result_value(1, &isnull));
	out->function_id = TextDatumGetCString(result_value(2, &isnull));
	out->event = DatumGetJsonbP(result_value(3, &isnull));
	out->attempt = DatumGetInt32(result_value(4, &isnull));
	started_at = result_value(5, &isnull);
	out->fresh = isnull;
	out->started_at = isnull ? 0 : DatumGetTimestampTz(started_at);
	out->status = TextDatumGetCString(result_value(6, &isnull));
	out->created_at = DatumGetTimestampTz(result_value(7, &isnull));
	out->queue_at = DatumGetTimestampTz(result_value(8, &isnull));
	out->flow_marks = DatumGetBool(result_value(9, &isnull));
	out->was_set_aside = DatumGetBool(result_value(10, &isnull));
	out->depth = DatumGetInt32(result_value(11, &isnull));
	out->cancel_requested = DatumGetBool(result_value(12, &isnull));
	return true;
}

/*
 * A claimed run that was gathering events (debounce, batchEvents) stops
 * gathering, and one that was set aside for a concurrency slot leaves
 * that queue.
 */
void
runs_clear_flow_marks(int64 run_id)
{
	static const Oid types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(run_id)};

	(void) inngest_run_plan(&plans.clear_flow_marks,
							"UPDATE inngest.runs SET pending_key = NULL, "
							"blocked_on = NULL WHERE id = $1",
							1, types, values, NULL, SPI_OK_UPDATE);
}

/*
 * queued -> running: the drive commits a step before the run's outcome,
 * and from that commit on others can see the run in progress.
 */
void
runs_mark_running(RunState *run)
{
	static const Oid types[2] = {INT8OID, TIMESTAMPTZOID};
	Datum		values[2];

	values[0] = Int64GetDatum(run->run_id);
	values[1] = TimestampTzGetDatum(run->started_at);
	(void) inngest_run_plan(&plans.mark_running,
							"UPDATE inngest.runs SET status = 'running', "
							"started_at = $2, wake_at = NULL WHERE id = $1",
							2, types, values, NULL, SPI_OK_UPDATE);
	run->marked_running = true;
}

/*
 * The run's status, or NULL if it no longer exists; and whether a cancel
 * was asked for while it was being driven (runs_request_cancel).
 */
char *
runs_status(int64 run_id, bool *cancel_requested)
{
	static const Oid types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(run_id)};
	bool		isnull;
	char	   *status;

	if (inngest_run_plan(&plans.status,
						 "SELECT status, (SELECT true FROM inngest.cancel_requests c "
						 "  WHERE c.run_id = r.id LIMIT 1) IS NOT NULL "
						 "FROM inngest.runs r WHERE id = $1",
						 1, types, values, NULL, SPI_OK_SELECT) == 0)
		return NULL;
	status = TextDatumGetCString(result_value(1, &isnull));
	*cancel_requested = DatumGetBool(result_value(2, &isnull));
	SPI_freetuptable(SPI_tuptable);
	return status;
}

/*
 * Ask for the run to be cancelled at its next step boundary: its row is
 * locked by its driver, and cancel_run must not wait for a step.  The
 * driver applies it (runs_take_cancel_request) at its next checkpoint, or
 * before writing the run's outcome.
 */
void
runs_request_cancel(int64 run_id, const char *reason)
{
	static const Oid types[3] = {INT8OID, TEXTOID, TIMESTAMPTZOID};
	Datum		values[3];

	values[0] = Int64GetDatum(run_id);
	values[1] = CStringGetTextDatum(reason);
	values[2] = TimestampTzGetDatum(inngest_clock());
	(void) inngest_run_plan_latest(&plans.request_cancel,
								   "INSERT INTO inngest.cancel_requests (run_id, reason, requested_at) "
								   "VALUES ($1, $2, $3) ON CONFLICT (run_id) DO NOTHING",
								   3, types, values, NULL, SPI_OK_INSERT);
	/* if its driver lets it go without looking, an executor applies it */
	wake_note_cancel_request();
}

/*
 * Up to 100 runs with a cancel request that nobody holds now (their row
 * locked for the caller, SKIP LOCKED), oldest request first, as a list of
 * run ids (int64 *, in the current memory context).
 */
List *
runs_cancel_requests(void)
{
	List	   *ids = NIL;
	uint64		n;
	uint64		i;

	n = inngest_run_plan_latest(&plans.cancel_requests,
								"SELECT c.run_id FROM inngest.cancel_requests c "
								"JOIN inngest.runs r ON r.id = c.run_id "
								"ORDER BY c.requested_at LIMIT 100 "
								"FOR UPDATE OF r SKIP LOCKED",
								0, NULL, NULL, NULL, SPI_OK_SELECT);
	for (i = 0; i < n; i++)
	{
		bool		isnull;
		int64	   *id = palloc(sizeof(int64));

		*id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
										  SPI_tuptable->tupdesc, 1, &isnull));
		ids = lappend(ids, id);
	}
	SPI_freetuptable(SPI_tuptable);
	return ids;
}

/*
 * The reason of the cancel asked for the run, which is forgotten; NULL if
 * none was.
 */
char *
runs_take_cancel_request(int64 run_id)
{
	static const Oid types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(run_id)};

	if (inngest_run_plan_latest(&plans.take_cancel_request,
								"DELETE FROM inngest.cancel_requests WHERE run_id = $1 "
								"RETURNING reason",
								1, types, values, NULL, SPI_OK_DELETE_RETURNING) == 0)
		return NULL;
	return returned_text();
}

/*
 * Lock the run's row as it is now (the latest snapshot) and return its
 * status; NULL if it is gone, or with skip_locked if another transaction
 * holds it.
 */
char *
runs_lock(int64 run_id, bool skip_locked)
{
	static const Oid types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(run_id)};
	uint64		n;

	if (skip_locked)
		n = inngest_run_plan_latest(&plans.lock_skip,
									"SELECT status FROM inngest.runs WHERE id = $1 "
									"FOR UPDATE SKIP LOCKED",
									1, types, values, NULL, SPI_OK_SELECT);
	else
		n = inngest_run_plan_latest(&plans.lock,
									"SELECT status FROM inngest.runs WHERE id = $1 "
									"FOR UPDATE",
									1, types, values, NULL, SPI_OK_SELECT);
	return n == 0 ? NULL : returned_text();
}

/* The earliest wake-up time strictly after "after", or 0 if none */
TimestampTz
runs_next_wake(TimestampTz after)
{
	static const Oid types[1] = {TIMESTAMPTZOID};
	Datum		values[1] = {TimestampTzGetDatum(after)};
	bool		isnull;
	Datum		d;

	if (inngest_run_plan(&plans.next_wake,
						 "SELECT wake_at FROM inngest.runs "
						 "WHERE wake_at > $1 ORDER BY wake_at LIMIT 1",
						 1, types, values, NULL, SPI_OK_SELECT) == 0)
		return 0;
	d = result_value(1, &isnull);
	return isnull ? 0 : DatumGetTimestampTz(d);
}

static void
set_driver_locktag(LOCKTAG *tag, int64 run_id)
{
	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId,
						 (uint32) ((uint64) run_id >> 32),
						 (uint32) run_id,
						 INNGEST_LOCKTAG_RUN);
}

/*
 * Try to take the lock that says "this run has a live driver": for the
 * session (a drive, across its commits) or the transaction (recovery).
 */
bool
runs_lock_driver(int64 run_id, bool session)
{
	LOCKTAG		tag;

	set_driver_locktag(&tag, run_id);
	return LockAcquire(&tag, ExclusiveLock, session, true) != LOCKACQUIRE_NOT_AVAIL;
}

/*
 * After user code ran in a drive: make sure the driver lock is still held.
 * pg_advisory_unlock_all() in a handler or a step releases every
 * session-level advisory lock of the session, this one included; it is
 * taken back at once, before anything of the drive commits.  Returns false
 * if another session took it meanwhile (recovery found the run without a
 * driver): that session drives the run now.
 */
bool
runs_keep_driver(int64 run_id)
{
	LOCKTAG		tag;

	set_driver_locktag(&tag, run_id);
	if (LockHeldByMe(&tag, ExclusiveLock))
		return true;
	return LockAcquire(&tag, ExclusiveLock, true, true) != LOCKACQUIRE_NOT_AVAIL;
}

void
runs_unlock_driver(int64 run_id)
{
	LOCKTAG		tag;

	set_driver_locktag(&tag, run_id);
	LockRelease(&tag, ExclusiveLock, true);
}

/* ----------------------------------------------------------------------
 * Leaving the executor, and coming back
 * ----------------------------------------------------------------------
 */

/*
 * The run leaves the executor in status (sleeping, waiting) until wake
 * (0: until an event).  Returns false if it was cancelled meanwhile (a
 * worker's run between checkpoints has no row lock): then it stays so; or
 * if a cancel was asked for.
 */
static bool
suspend(RunState *run, const char *status, TimestampTz wake)
{
	static const Oid types[4] = {INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	uint64		n;

	values[0] = Int64GetDatum(run->run_id);
	values[1] = TimestampTzGetDatum(wake);
	nulls[1] = wake != 0 ? ' ' : 'n';
	values[2] = TimestampTzGetDatum(run->started_at);
	values[3] = CStringGetTextDatum(status);
	n = inngest_run_plan(&plans.suspend,
						 "UPDATE inngest.runs SET status = $4, attempt = 0, "
						 "error = NULL, wake_at = $2, started_at = $3 WHERE id = $1 "
						 "AND status IN " UNFINISHED_STATUSES " " NO_CANCEL_REQUEST,
						 4, types, values, nulls, SPI_OK_UPDATE);
	/* idle executors recompute their next wake-up */
	wake_executors_at_commit();
	return n == 1;
}

/* -> sleeping, until wake */
bool
runs_sleep(RunState *run, TimestampTz wake)
{
	return suspend(run, "sleeping", wake);
}

/* -> waiting for an event, until wake (its timeout; 0: none) */
bool
runs_wait(RunState *run, TimestampTz wake)
{
	return suspend(run, "waiting", wake);
}

/* waiting -> queued: the event it waited for came (the caller locked it) */
void
runs_resume(int64 run_id)
{
	static const Oid types[2] = {INT8OID, TIMESTAMPTZOID};
	Datum		values[2];

	values[0] = Int64GetDatum(run_id);
	values[1] = TimestampTzGetDatum(inngest_clock());
	(void) inngest_run_plan_latest(&plans.resume,
								   "UPDATE inngest.runs SET status = 'queued', wake_at = $2 "
								   "WHERE id = $1",
								   2, types, values, NULL, SPI_OK_UPDATE);
	wake_executors_at_commit();
}

/* A step succeeded after failed attempts: the run's failures are reset */
void
runs_reset_attempt(RunState *run)
{
	static const Oid types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(run->run_id)};

	(void) inngest_run_plan(&plans.reset_attempt,
							"UPDATE inngest.runs SET attempt = 0, error = NULL "
							"WHERE id = $1",
							1, types, values, NULL, SPI_OK_UPDATE);
	run->attempt = 0;
}

/*
 * -> queued after its failures-th failure, due again at wake (backoff).
 * Returns false if it had ended, or a cancel was asked for.
 */
bool
runs_retry(RunState *run, int failures, Jsonb *error, TimestampTz wake)
{
	static const Oid types[5] = {INT8OID, INT4OID, JSONBOID, TIMESTAMPTZOID,
	TIMESTAMPTZOID};
	Datum		values[5];
	uint64		n;

	values[0] = Int64GetDatum(run->run_id);
	values[1] = Int32GetDatum(failures);
	values[2] = JsonbPGetDatum(error);
	values[3] = TimestampTzGetDatum(wake);
	values[4] = TimestampTzGetDatum(run->started_at);
	n = inngest_run_plan(&plans.retry,
							"UPDATE inngest.runs SET status = 'queued', attempt = $2, "
							"error = $3, wake_at = $4, started_at = $5 WHERE id = $1 "
							"AND status IN " UNFINISHED_STATUSES " " NO_CANCEL_REQUEST,
							5, types, values, NULL, SPI_OK_UPDATE);
	wake_executors_at_commit();
	return n == 1;
}

/* ----------------------------------------------------------------------
 * Ending
 * ----------------------------------------------------------------------
 */

/*
 * -> completed with output.  Returns false if the run had ended already
 * (cancelled while its last step ran), or a cancel was asked for: then
 * nothing changes.
 */
bool
runs_complete(RunState *run, Jsonb *output)
{
	static const Oid types[4] = {INT8OID, JSONBOID, TIMESTAMPTZOID,
	TIMESTAMPTZOID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};

	values[0] = Int64GetDatum(run->run_id);
	values[1] = output ? JsonbPGetDatum(output) : (Datum) 0;
	nulls[1] = output ? ' ' : 'n';
	values[2] = TimestampTzGetDatum(inngest_clock());
	values[3] = TimestampTzGetDatum(run->started_at);
	return inngest_run_plan(&plans.complete,
							"UPDATE inngest.runs SET status = 'completed', output = $2, "
							"error = NULL, attempt = 0, started_at = $4, ended_at = $3, "
							"wake_at = NULL, active_key = NULL WHERE id = $1 "
							"AND status IN " UNFINISHED_STATUSES " " NO_CANCEL_REQUEST,
							4, types, values, nulls, SPI_OK_UPDATE) == 1;
}

/* -> failed with error; false if the run had ended already */
bool
runs_fail(RunState *run, Jsonb *error)
{
	static const Oid types[5] = {INT8OID, JSONBOID, TIMESTAMPTZOID, INT4OID,
	TIMESTAMPTZOID};
	Datum		values[5];

	values[0] = Int64GetDatum(run->run_id);
	values[1] = JsonbPGetDatum(error);
	values[2] = TimestampTzGetDatum(inngest_clock());
	values[3] = Int32GetDatum(run->attempt);
	values[4] = TimestampTzGetDatum(run->started_at);
	return inngest_run_plan(&plans.fail,
							"UPDATE inngest.runs SET status = 'failed', error = $2, "
							"attempt = $4, started_at = $5, ended_at = $3, wake_at = NULL, "
							"active_key = NULL WHERE id = $1 AND status IN " UNFINISHED_STATUSES,
							5, types, values, NULL, SPI_OK_UPDATE) == 1;
}

/*
 * -> cancelled.  The caller has locked the row and checked that the run
 * has not ended; its function id, event, depth and owner are returned for
 * the system event.
 */
bool
runs_cancel(int64 run_id, char **function_id, Jsonb **event, int *depth,
			Oid *owner)
{
	static const Oid types[2] = {INT8OID, TIMESTAMPTZOID};
	Datum		values[2];
	bool		isnull;

	values[0] = Int64GetDatum(run_id);
	values[1] = TimestampTzGetDatum(inngest_clock());
	if (inngest_run_plan_latest(&plans.cancel,
								"UPDATE inngest.runs SET status = 'cancelled', ended_at = $2, "
								"wake_at = NULL, active_key = NULL, blocked_on = NULL, "
								"pending_key = NULL WHERE id = $1 "
								"RETURNING function_id, event, depth, owner",
								2, types, values, NULL, SPI_OK_UPDATE_RETURNING) != 1)
		elog(ERROR, "could not cancel run %lld", (long long) run_id);
	*function_id = TextDatumGetCString(result_value(1, &isnull));
	*event = DatumGetJsonbPCopy(result_value(2, &isnull));
	*depth = DatumGetInt32(result_value(3, &isnull));
	*owner = DatumGetObjectId(result_value(4, &isnull));
	SPI_freetuptable(SPI_tuptable);
	return true;
}

/*
 * The function was deleted: its runs that are not being driven (queued,
 * sleeping, waiting, set aside) are cancelled; a run being driven right
 * now notices at its next step that its function is gone.
 */
void
runs_cancel_function(const char *function_id)
{
	static const Oid types[2] = {TEXTOID, TIMESTAMPTZOID};
	Datum		values[2];

	values[0] = CStringGetTextDatum(function_id);
	values[1] = TimestampTzGetDatum(inngest_clock());
	(void) inngest_run_plan(&plans.cancel_function,
							"UPDATE inngest.runs SET status = 'cancelled', ended_at = $2, "
							"wake_at = NULL, active_key = NULL, blocked_on = NULL, "
							"pending_key = NULL "
							"WHERE function_id = $1 "
							"AND (wake_at IS NOT NULL OR blocked_on IS NOT NULL) "
							"AND status IN ('queued', 'sleeping', 'waiting')",
							2, types, values, NULL, SPI_OK_UPDATE);
}

/*
 * REASSIGN OWNED: the runs owned by the roles (an Oid list) now belong to
 * new_owner, as their functions do (catalog_reassign_functions), so that
 * new_owner sees them and their next steps run with its rights.  Returns
 * how many changed hands.
 */
uint64
runs_reassign(List *roles, Oid new_owner)
{
	static const Oid types[2] = {OIDARRAYOID, OIDOID};
	Datum	   *elems = palloc(sizeof(Datum) * Max(list_length(roles), 1));
	Datum		values[2];
	ListCell   *lc;
	int			n = 0;

	foreach(lc, roles)
		elems[n++] = ObjectIdGetDatum(lfirst_oid(lc));
	values[0] = PointerGetDatum(construct_array(elems, n, OIDOID, 4, true,
												TYPALIGN_INT));
	values[1] = ObjectIdGetDatum(new_owner);
	return inngest_run_plan(&plans.reassign,
							"UPDATE inngest.runs SET owner = $2::pg_catalog.regrole "
							"WHERE owner::pg_catalog.oid OPERATOR(pg_catalog.=) ANY ($1) "
							"AND owner::pg_catalog.oid OPERATOR(pg_catalog.<>) $2",
							2, types, values, NULL, SPI_OK_UPDATE);
}

/* ----------------------------------------------------------------------
 * Concurrency keys (slots.c decides; these write)
 * ----------------------------------------------------------------------
 */

/*
 * Set the run aside until a slot of key frees: it leaves the due index,
 * keeping its place (queue_at) in the key's queue.  A run set aside between
 * steps is 'queued' again; a sleeper or waiter keeps its status, so that it
 * resumes as one.
 */
void
runs_park(int64 run_id, const char *key, TimestampTz queue_at)
{
	static const Oid types[3] = {INT8OID, TEXTOID, TIMESTAMPTZOID};
	Datum		values[3];

	values[0] = Int64GetDatum(run_id);
	values[1] = CStringGetTextDatum(key);
	values[2] = TimestampTzGetDatum(queue_at);
	(void) inngest_run_plan(&plans.park,
							"UPDATE inngest.runs SET wake_at = NULL, blocked_on = $2, "
							"queue_at = $3, status = CASE status WHEN 'running' "
							"THEN 'queued' ELSE status END WHERE id = $1",
							3, types, values, NULL, SPI_OK_UPDATE);
}

/* The run is in flight on a "mode": "run" key until it ends */
void
runs_set_active_key(int64 run_id, const char *key)
{
	static const Oid types[2] = {INT8OID, TEXTOID};
	Datum		values[2];

	values[0] = Int64GetDatum(run_id);
	values[1] = CStringGetTextDatum(key);
	(void) inngest_run_plan(&plans.set_active_key,
							"UPDATE inngest.runs SET active_key = $2 WHERE id = $1",
							2, types, values, NULL, SPI_OK_UPDATE);
}

/*
 * Make the heads of the queues of keys (text[]) due again, counts[i]
 * (int4[]) of key i, at their old place.  Returns how many.
 *
 * The heads are locked by one statement and brought back by primary key:
 * two plans that stay right whatever the table's size (an UPDATE joining
 * the heads was planned as a scan of all runs).
 */
int
runs_promote(Datum keys, Datum counts)
{
	static const Oid types[2] = {TEXTARRAYOID, INT4ARRAYOID};
	static const Oid ptypes[2] = {INT8OID, TIMESTAMPTZOID};
	Datum		values[2] = {keys, counts};
	SPITupleTable *heads;
	uint64		n;
	uint64		i;

	n = inngest_run_plan(&plans.promote_heads,
						 "SELECT h.id FROM ROWS FROM "
						 "  (pg_catalog.unnest($1::pg_catalog.text[]), "
						 "   pg_catalog.unnest($2::pg_catalog.int4[])) AS k(key, n), "
						 "  LATERAL (SELECT id FROM inngest.runs "
						 "    WHERE blocked_on = k.key ORDER BY queue_at, id "
						 "    LIMIT k.n FOR UPDATE SKIP LOCKED) h",
						 2, types, values, NULL, SPI_OK_SELECT);
	heads = SPI_tuptable;
	for (i = 0; i < n; i++)
	{
		Datum		pvalues[2];
		bool		isnull;

		pvalues[0] = SPI_getbinval(heads->vals[i], heads->tupdesc, 1, &isnull);
		pvalues[1] = TimestampTzGetDatum(inngest_clock());
		(void) inngest_run_plan(&plans.promote,
								"UPDATE inngest.runs SET blocked_on = NULL, "
								"wake_at = LEAST(queue_at, $2) WHERE id = $1",
								2, ptypes, pvalues, NULL, SPI_OK_UPDATE);
	}
	SPI_freetuptable(heads);
	if (n > 0)
		wake_executors_at_commit();
	return (int) n;
}

/* ----------------------------------------------------------------------
 * Failures of the engine itself
 * ----------------------------------------------------------------------
 */

/*
 * An internal error (not the handler's, not a step's: those are the
 * lifecycle's) escaped while driving run_id, and its transaction was
 * rolled back.  Count it as a failed attempt, so that a run that keeps
 * breaking the executor ends as failed instead of looping; only once per
 * claim (the attempt it was claimed at).  Runs in a new transaction with
 * SPI connected, as the extension owner.
 */
void
runs_retry_after_internal_error(int64 run_id, int attempt, Jsonb *error)
{
	static const Oid types[5] = {INT8OID, JSONBOID, TIMESTAMPTZOID, INT4OID,
	INT4OID};
	Datum		values[5];
	int			ret;

	values[0] = Int64GetDatum(run_id);
	values[1] = JsonbPGetDatum(error);
	values[2] = TimestampTzGetDatum(inngest_clock());
	values[3] = Int32GetDatum(RUNS_FIRST_BACKOFF_SECS);
	values[4] = Int32GetDatum(attempt);
	ret = SPI_execute_plan(inngest_keep_plan(&plans.internal_error,
											 "UPDATE inngest.runs r SET "
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
											 "AND r.status IN ('queued', 'running') "
											 "AND r.attempt = $5",
											 5, types),
						   values, NULL, false, 0);
	if (ret != SPI_OK_UPDATE)
		elog(WARNING, "could not requeue run %lld after an internal error",
			 (long long) run_id);
	wake_executors_at_commit();
}

/*
 * running -> queued for runs whose driver is gone (a crash, a killed
 * session): their driver lock is free.  Returns how many were requeued.
 */
int
runs_recover(void)
{
	static const Oid types[2] = {INT8OID, TIMESTAMPTZOID};
	uint64		i;
	uint64		n;
	int64	   *ids;
	int			count = 0;

	n = inngest_run_plan(&plans.running,
						 "SELECT id FROM inngest.runs WHERE status = 'running' "
						 "FOR UPDATE SKIP LOCKED",
						 0, NULL, NULL, NULL, SPI_OK_SELECT);
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

		if (!runs_lock_driver(ids[i], false))
			continue;			/* a live driver has it */
		values[0] = Int64GetDatum(ids[i]);
		values[1] = TimestampTzGetDatum(inngest_clock());
		(void) inngest_run_plan(&plans.requeue,
								"UPDATE inngest.runs SET status = 'queued', "
								"wake_at = $2 WHERE id = $1",
								2, types, values, NULL, SPI_OK_UPDATE);
		count++;
	}
	if (count > 0)
		wake_executors_at_commit();
	return count;
}
