/*-------------------------------------------------------------------------
 *
 * waits.c
 *	  Runs waiting for events.  step_wait_for_event, cancelOn and
 *	  step_invoke (waiting for the callee's end) are one mechanism: a row of
 *	  inngest.waits with the awaited event name, a precomputed match value
 *	  and an expiry.  An incoming event finds its waits by index on (name,
 *	  match path, match value), so its cost does not grow with the number of
 *	  runs waiting for other values.
 *
 * Never missing an event.  A wait counts events committed after the wait's
 * own commit (Inngest's rule: earlier events do not count).  An event whose
 * trigger ran before the wait was committed cannot see it, so the two are
 * serialized by a lock on the event name: inserting events of a name takes
 * it in share mode (held to commit, so the trigger's look-up happens after
 * any wait committed before it), registering a wait takes it exclusively
 * (waiting until every in-flight insert of that name has committed, and
 * those events then precede the wait).  So no event committed after the
 * wait's commit can have run its trigger before the wait was visible.
 * Locks on several names are taken in one sorted pass, so two statements
 * cannot deadlock on them.
 *
 * Never waiting for a run.  The trigger locks the waiting run's row with
 * SKIP LOCKED: a run that is being driven right now (a step executing, or
 * its timeout being handled) gets the match as a row of inngest.wait_hits,
 * which the executors apply as soon as the run is free.  Event inserts thus
 * never wait for a driver (which could wait for the event name's lock).
 *
 *-------------------------------------------------------------------------
 */
#include "inngest.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "storage/sinval.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "executor.h"
#include "ingest.h"
#include "jsonutil.h"
#include "waits.h"
#include "worker.h"

/* Field4 of the advisory lock on an event name */
#define INNGEST_LOCKTAG_EVENT	0x4948

typedef struct WaitPlans
{
	SPIPlanPtr	insert_wait;
	SPIPlanPtr	insert_key;
	SPIPlanPtr	candidates;
	SPIPlanPtr	lock_run;
	SPIPlanPtr	lock_run_nowait;
	SPIPlanPtr	wait_exists;
	SPIPlanPtr	complete_step;
	SPIPlanPtr	drop_step_waits;
	SPIPlanPtr	requeue;
	SPIPlanPtr	insert_hit;
	SPIPlanPtr	take_hits;
	SPIPlanPtr	cancel;
	SPIPlanPtr	drop_run_waits;
	SPIPlanPtr	waited_names;
	SPIPlanPtr	take_run_hits;
	SPIPlanPtr	cancel_steps;
} WaitPlans;

static WaitPlans plans;

/*
 * The event names that have waits (inngest.wait_keys), cached per backend:
 * every event statement asks, and the set changes only when a name is
 * waited on for the first time, which sends a relcache invalidation of
 * inngest.wait_keys.  Read after taking the name's lock and accepting
 * invalidations, it includes every key committed before (see the header).
 */
static HTAB *waited_names = NULL;
static MemoryContext waited_cxt = NULL;
static bool waited_valid = false;
static bool waited_callback_registered = false;
static Oid	wait_keys_relid = InvalidOid;

/* Event-name locks this transaction holds; reset at its end */
static int	event_locks_held = 0;

static bool xact_callback_registered = false;

typedef struct LockItem
{
	uint64		hash;
	LOCKMODE	mode;
} LockItem;

static bool apply_hit(int64 wait_id, int64 run_id, const char *kind,
					  const char *step_id, Jsonb *event, bool nowait);

/* A match of a wait by an event, as the look-ups return it */
typedef struct WaitHit
{
	int64		wait_id;
	int64		run_id;
	char	   *kind;
	char	   *step_id;		/* NULL for cancel waits */
	Jsonb	   *event;
} WaitHit;

/* Row i of a result (wait_id, run_id, kind, step_id, event) */
static void
read_hit(SPITupleTable *tuptable, uint64 i, WaitHit *hit)
{
	HeapTuple	tup = tuptable->vals[i];
	TupleDesc	desc = tuptable->tupdesc;
	bool		isnull;
	Datum		step;

	hit->wait_id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
	hit->run_id = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
	hit->kind = TextDatumGetCString(SPI_getbinval(tup, desc, 3, &isnull));
	step = SPI_getbinval(tup, desc, 4, &isnull);
	hit->step_id = isnull ? NULL : TextDatumGetCString(step);
	hit->event = DatumGetJsonbP(SPI_getbinval(tup, desc, 5, &isnull));
}

/*
 * Execute a plan with the latest snapshot, whatever the transaction's
 * isolation level: an event inserted in a REPEATABLE READ transaction must
 * still see every wait committed before it took the event name's lock.
 */
static int
exec_latest(SPIPlanPtr plan, Datum *values, const char *nulls, bool read_only,
			long count)
{
	return SPI_execute_snapshot(plan, values, nulls, GetLatestSnapshot(),
								InvalidSnapshot, read_only, false, count);
}

static void
waited_relcache_callback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == wait_keys_relid)
	{
		waited_valid = false;
		wait_keys_relid = InvalidOid;
	}
}

static Oid
lookup_wait_keys_relid(void)
{
	return get_relname_relid("wait_keys", get_namespace_oid("inngest", false));
}

/*
 * Whether some run may wait for events of this name.  The caller holds the
 * name's lock (EVENT_LOCK_SEND) and has SPI connected.
 */
bool
waits_name_is_waited(const char *name)
{
	char		key[INNGEST_KEY_SIZE];

	if (!waited_callback_registered)
	{
		CacheRegisterRelcacheCallback(waited_relcache_callback, (Datum) 0);
		waited_callback_registered = true;
	}
	/* a key committed before we took the lock has sent its invalidation */
	AcceptInvalidationMessages();
	if (!waited_valid || !OidIsValid(wait_keys_relid))
	{
		HASHCTL		ctl;
		int			ret;
		uint64		i;

		waited_valid = true;
		wait_keys_relid = lookup_wait_keys_relid();
		if (waited_cxt == NULL)
			waited_cxt = AllocSetContextCreate(CacheMemoryContext, "inngest waited names",
											   ALLOCSET_SMALL_SIZES);
		else
			MemoryContextReset(waited_cxt);
		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = INNGEST_KEY_SIZE;
		ctl.entrysize = INNGEST_KEY_SIZE;
		ctl.hcxt = waited_cxt;
		waited_names = hash_create("inngest waited names", 16, &ctl,
								   HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
		PG_TRY();
		{
			ret = exec_latest(inngest_keep_plan(&plans.waited_names,
												"SELECT DISTINCT event FROM inngest.wait_keys",
												0, NULL), NULL, NULL, true, 0);
			if (ret != SPI_OK_SELECT)
				elog(ERROR, "could not read inngest.wait_keys");
			for (i = 0; i < SPI_processed; i++)
			{
				bool		isnull;
				char	   *ev = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[i],
																	SPI_tuptable->tupdesc,
																	1, &isnull));

				strlcpy(key, ev, sizeof(key));
				(void) hash_search(waited_names, key, HASH_ENTER, NULL);
			}
		}
		PG_CATCH();
		{
			waited_valid = false;
			PG_RE_THROW();
		}
		PG_END_TRY();
	}
	if (strlen(name) >= INNGEST_KEY_SIZE)
		return false;
	strlcpy(key, name, sizeof(key));
	return hash_search(waited_names, key, HASH_FIND, NULL) != NULL;
}

/* ----------------------------------------------------------------------
 * Locks on event names
 * ----------------------------------------------------------------------
 */

static int
lock_item_cmp(const void *a, const void *b)
{
	const LockItem *x = a;
	const LockItem *y = b;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return (int) y->mode - (int) x->mode;	/* stronger first */
}

static void
waits_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_PREPARE)
	{
		event_locks_held = 0;
	}
}

/*
 * Whether this transaction holds event-name locks (it sent events or
 * registered waits).  A worker that drives several runs in one transaction
 * commits before registering a wait then, so that its locks are only ever
 * taken in one sorted pass, as the event trigger's are.
 */
bool
waits_holding_locks(void)
{
	return event_locks_held > 0;
}


static void
set_event_locktag(LOCKTAG *tag, uint64 hash)
{
	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, (uint32) (hash >> 32), (uint32) hash,
						 INNGEST_LOCKTAG_EVENT);
}

/*
 * Whether this transaction already holds every requested name exclusively:
 * then taking them again waits for nobody.
 */
bool
waits_hold_exclusively(EventLockRequest *requests, int n)
{
	int			i;

	for (i = 0; i < n; i++)
	{
		LOCKTAG		tag;

		set_event_locktag(&tag, hash_bytes_extended((const unsigned char *) requests[i].name,
													strlen(requests[i].name), 0));
		if (!LockHeldByMe(&tag, ExclusiveLock))
			return false;
	}
	return true;
}

/*
 * Take the locks on event names the requests ask for, until the end of the
 * transaction: share mode to send, exclusive to register a wait (see the
 * file header).  Sorted, and each name once in its strongest mode.
 */
void
waits_lock_events(EventLockRequest *requests, int n)
{
	LockItem   *items;
	int			i;
	uint64		last = 0;
	bool		have_last = false;

	if (n <= 0)
		return;
	items = palloc(sizeof(LockItem) * n);
	for (i = 0; i < n; i++)
	{
		items[i].hash = hash_bytes_extended((const unsigned char *) requests[i].name,
											strlen(requests[i].name), 0);
		items[i].mode = requests[i].mode == EVENT_LOCK_WAIT ? ExclusiveLock : ShareLock;
	}
	qsort(items, n, sizeof(LockItem), lock_item_cmp);

	for (i = 0; i < n; i++)
	{
		LOCKTAG		tag;

		if (have_last && items[i].hash == last)
			continue;			/* the stronger mode came first */
		set_event_locktag(&tag, items[i].hash);
		(void) LockAcquire(&tag, items[i].mode, false, false);
		if (!xact_callback_registered)
		{
			RegisterXactCallback(waits_xact_callback, NULL);
			xact_callback_registered = true;
		}
		event_locks_held++;
		last = items[i].hash;
		have_last = true;
	}
	pfree(items);
}

/* ----------------------------------------------------------------------
 * Registering waits
 * ----------------------------------------------------------------------
 */

/*
 * Parse Inngest's "match" shorthand, "data.user_id" (the incoming event's
 * data.user_id must equal the run's), into a text[] path.  key names the
 * argument or configuration key, for messages.
 */
/* Whether match is a valid match path (see waits_parse_match) */
bool
waits_valid_match(const char *match)
{
	const char *p = match;

	if (strncmp(p, "event.", 6) == 0 || strncmp(p, "async.", 6) == 0)
		p += 6;
	for (;;)
	{
		const char *start = p;

		while (isalnum((unsigned char) *p) || *p == '_' || *p == '-')
			p++;
		if (p == start || (*p != '.' && *p != '\0'))
			return false;
		if (*p == '\0')
			return true;
		p++;
	}
}

ArrayType *
waits_parse_match(const char *match, const char *key)
{
	Datum	   *parts;
	int			nparts = 0;
	const char *p = match;
	int			maxparts = strlen(match) / 2 + 2;

	if (strncmp(p, "event.", 6) == 0)
		p += 6;
	else if (strncmp(p, "async.", 6) == 0)
		p += 6;

	parts = palloc(sizeof(Datum) * maxparts);
	for (;;)
	{
		const char *start = p;

		while (isalnum((unsigned char) *p) || *p == '_' || *p == '-')
			p++;
		if (p == start || (*p != '.' && *p != '\0'))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("\"%s\" is not a valid match path in \"%s\"", match, key),
					 errhint("A match path names a field of both events, like \"data.user_id\".")));
		parts[nparts++] = PointerGetDatum(cstring_to_text_with_len(start, p - start));
		if (*p == '\0')
			break;
		p++;
	}
	return construct_array(parts, nparts, TEXTOID, -1, false, TYPALIGN_INT);
}

/*
 * Insert a wait of run_id.  The caller holds the event name's lock in
 * EVENT_LOCK_WAIT mode.  The match value is the run's event at match_path
 * (NULL path: no match key; a missing field never matches).
 */
void
waits_register(int64 run_id, const char *kind, const char *step_id,
			   const char *event, ArrayType *match_path, Jsonb *run_event,
			   JsonPath *condition, TimestampTz expires_at)
{
	Oid			types[9] = {INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTARRAYOID,
	JSONBOID, JSONPATHOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[9];
	char		nulls[9] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	SPIPlanPtr	plan;
	int			ret;

	values[0] = Int64GetDatum(run_id);
	values[1] = CStringGetTextDatum(kind);
	values[2] = step_id ? CStringGetTextDatum(step_id) : (Datum) 0;
	nulls[2] = step_id ? ' ' : 'n';
	values[3] = CStringGetTextDatum(event);
	values[4] = match_path ? PointerGetDatum(match_path) : (Datum) 0;
	nulls[4] = match_path ? ' ' : 'n';
	values[5] = JsonbPGetDatum(run_event);
	values[6] = condition ? PointerGetDatum(condition) : (Datum) 0;
	nulls[6] = condition ? ' ' : 'n';
	values[7] = TimestampTzGetDatum(expires_at);
	nulls[7] = expires_at != 0 ? ' ' : 'n';
	values[8] = TimestampTzGetDatum(inngest_clock());

	plan = inngest_keep_plan(&plans.insert_wait,
							 "INSERT INTO inngest.waits (run_id, kind, step_id, event, "
							 "match_path, match_value, condition, expires_at, created_at) "
							 "VALUES ($1, $2, $3, $4, COALESCE($5, '{}'), "
							 "CASE WHEN $5 IS NULL THEN NULL ELSE $6 #> $5 END, "
							 "$7, $8, $9)", 9, types);
	ret = exec_latest(plan, values, nulls, false, 0);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "could not register a wait of run %lld", (long long) run_id);

	/* the (name, path) pair incoming events must look up; a new one is
	 * announced to every backend's cache of waited names */
	plan = inngest_keep_plan(&plans.insert_key,
							 "INSERT INTO inngest.wait_keys (event, match_path) "
							 "SELECT $4, COALESCE($5, '{}') WHERE NOT EXISTS "
							 "(SELECT FROM inngest.wait_keys WHERE event = $4 "
							 " AND match_path = COALESCE($5, '{}')) "
							 "ON CONFLICT DO NOTHING", 9, types);
	ret = exec_latest(plan, values, nulls, false, 0);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "could not register a wait key");
	if (SPI_processed > 0)
		CacheInvalidateRelcacheByRelid(lookup_wait_keys_relid());
}

/* ----------------------------------------------------------------------
 * Resolving waits
 * ----------------------------------------------------------------------
 */

/*
 * The statement trigger's part: find the waits that the accepted events
 * (names[i], events[i], in insertion order) resolve, and resolve them.  The
 * caller holds the names' locks in EVENT_LOCK_SEND mode.  One event
 * resolves every wait it matches; a wait is resolved by the first event.
 */
void
waits_resolve_events(Datum *names, Datum *events, int n)
{
	Oid			types[3] = {TEXTARRAYOID, JSONBARRAYOID, TIMESTAMPTZOID};
	Datum		values[3];
	SPIPlanPtr	plan;
	int			ret;
	uint64		i;
	uint64		nrows;
	SPITupleTable *tuptable;

	if (n == 0)
		return;

	plan = inngest_keep_plan(&plans.candidates,
							 "WITH u AS (SELECT * FROM ROWS FROM "
							 "  (pg_catalog.unnest($1::pg_catalog.text[]), "
							 "   pg_catalog.unnest($2::pg_catalog.jsonb[])) "
							 "  WITH ORDINALITY AS u(name, ev, ord)), "
							 "c AS ("
							 "  SELECT w.id, w.run_id, w.kind, w.step_id, w.condition, "
							 "   w.expires_at, u.ev, u.ord "
							 "  FROM u JOIN inngest.wait_keys k ON k.event = u.name "
							 "   AND k.match_path <> '{}' "
							 "  JOIN inngest.waits w ON w.event = u.name "
							 "   AND w.match_path = k.match_path "
							 "   AND w.match_value = (u.ev #> k.match_path) "
							 "  UNION ALL "
							 "  SELECT w.id, w.run_id, w.kind, w.step_id, w.condition, "
							 "   w.expires_at, u.ev, u.ord "
							 "  FROM u JOIN inngest.wait_keys k ON k.event = u.name "
							 "   AND k.match_path = '{}' "
							 "  JOIN inngest.waits w ON w.event = u.name "
							 "   AND w.match_path = '{}') "
							 "SELECT c.id, c.run_id, c.kind, c.step_id, c.ev FROM c "
							 "JOIN inngest.runs r ON r.id = c.run_id "
							 "WHERE (c.condition IS NULL OR pg_catalog.jsonb_path_match(c.ev, "
							 "  c.condition, pg_catalog.jsonb_build_object('event', r.event), "
							 "  true) IS TRUE) "
							 "AND (c.expires_at IS NULL OR c.expires_at > $3) "
							 "ORDER BY c.ord, c.id", 3, types);
	values[0] = PointerGetDatum(construct_array(names, n, TEXTOID, -1, false,
												TYPALIGN_INT));
	values[1] = PointerGetDatum(construct_array(events, n, JSONBOID, -1, false,
												TYPALIGN_INT));
	values[2] = TimestampTzGetDatum(inngest_clock());
	ret = exec_latest(plan, values, NULL, false, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not look up waits: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0)
		return;

	/* applying hits runs more SPI statements: keep this result */
	tuptable = SPI_tuptable;
	nrows = SPI_processed;
	for (i = 0; i < nrows; i++)
	{
		WaitHit		hit;

		read_hit(tuptable, i, &hit);

		if (!apply_hit(hit.wait_id, hit.run_id, hit.kind, hit.step_id, hit.event, true))
		{
			/* the run is being driven: leave the match to the executors */
			Oid			htypes[3] = {INT8OID, INT8OID, JSONBOID};
			Datum		hvalues[3];

			hvalues[0] = Int64GetDatum(hit.wait_id);
			hvalues[1] = Int64GetDatum(hit.run_id);
			hvalues[2] = JsonbPGetDatum(hit.event);
			plan = inngest_keep_plan(&plans.insert_hit,
									 "INSERT INTO inngest.wait_hits (wait_id, run_id, event) "
									 "VALUES ($1, $2, $3)", 3, htypes);
			ret = exec_latest(plan, hvalues, NULL, false, 0);
			if (ret != SPI_OK_INSERT)
				elog(ERROR, "could not record a wait hit");
			worker_request_wake();
		}
	}
	SPI_freetuptable(tuptable);
}

/*
 * The run's waiting step (a run has at most one) completes with output (an
 * event, or NULL at the timeout), and its step waits are dropped; its
 * cancelOn waits stay.  The caller holds the run's row lock.
 */
static void
finish_waiting_step(int64 run_id, Jsonb *output)
{
	Oid			types[3] = {INT8OID, JSONBOID, TIMESTAMPTZOID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	int			ret;

	values[0] = Int64GetDatum(run_id);
	values[1] = output ? JsonbPGetDatum(output) : (Datum) 0;
	nulls[1] = output ? ' ' : 'n';
	values[2] = TimestampTzGetDatum(inngest_clock());
	ret = exec_latest(inngest_keep_plan(&plans.complete_step,
										"UPDATE inngest.steps SET status = 'completed', "
										"output = $2, ended_at = $3 "
										"WHERE run_id = $1 AND status = 'waiting'",
										3, types),
					  values, nulls, false, 0);
	if (ret != SPI_OK_UPDATE)
		elog(ERROR, "could not complete the waiting step of run %lld", (long long) run_id);
	ret = exec_latest(inngest_keep_plan(&plans.drop_step_waits,
										"DELETE FROM inngest.waits WHERE run_id = $1 "
										"AND kind <> 'cancel'", 1, types),
					  values, NULL, false, 0);
	if (ret != SPI_OK_DELETE)
		elog(ERROR, "could not drop the waits of run %lld", (long long) run_id);
}

/* Lock the run's row; its status, or NULL if locked (nowait) or gone */
static char *
lock_run(int64 run_id, bool nowait)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(run_id)};
	SPIPlanPtr	plan;
	int			ret;
	bool		isnull;
	char	   *status;

	if (nowait)
		plan = inngest_keep_plan(&plans.lock_run_nowait,
								 "SELECT status FROM inngest.runs WHERE id = $1 "
								 "FOR UPDATE SKIP LOCKED", 1, types);
	else
		plan = inngest_keep_plan(&plans.lock_run,
								 "SELECT status FROM inngest.runs WHERE id = $1 "
								 "FOR UPDATE", 1, types);
	ret = exec_latest(plan, values, NULL, false, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not lock run %lld", (long long) run_id);
	if (SPI_processed == 0)
		return NULL;
	status = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[0],
											   SPI_tuptable->tupdesc, 1, &isnull));
	SPI_freetuptable(SPI_tuptable);
	return status;
}

static bool
is_finished(const char *status)
{
	return strcmp(status, "completed") == 0 || strcmp(status, "failed") == 0 ||
		strcmp(status, "cancelled") == 0 || strcmp(status, "skipped") == 0;
}

/*
 * Apply one match of a wait by an event.  With nowait, returns false if the
 * run is locked by its driver (nothing done); otherwise true.
 */
static bool
apply_hit(int64 wait_id, int64 run_id, const char *kind, const char *step_id,
		  Jsonb *event, bool nowait)
{
	Oid			types[4] = {INT8OID, TEXTOID, JSONBOID, TIMESTAMPTZOID};
	Datum		values[4];
	SPIPlanPtr	plan;
	int			ret;
	char	   *status = lock_run(run_id, nowait);

	if (status == NULL)
		return !nowait;

	if (strcmp(kind, "cancel") == 0)
	{
		if (!is_finished(status))
			(void) waits_cancel_run(run_id, false, "cancelOn");
		return true;
	}

	/* a wait or an invoke: only if the run still waits for this */
	if (strcmp(status, "waiting") != 0)
		return true;
	values[0] = Int64GetDatum(wait_id);
	plan = inngest_keep_plan(&plans.wait_exists,
							 "SELECT FROM inngest.waits WHERE id = $1", 1, types);
	ret = exec_latest(plan, values, NULL, false, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read wait %lld", (long long) wait_id);
	if (SPI_processed == 0)
		return true;

	finish_waiting_step(run_id, event);

	values[0] = Int64GetDatum(run_id);
	values[3] = TimestampTzGetDatum(inngest_clock());
	plan = inngest_keep_plan(&plans.requeue,
							 "UPDATE inngest.runs SET status = 'queued', wake_at = $4 "
							 "WHERE id = $1", 4, types);
	ret = exec_latest(plan, values, NULL, false, 0);
	if (ret != SPI_OK_UPDATE)
		elog(ERROR, "could not requeue run %lld", (long long) run_id);
	worker_request_wake();
	return true;
}

/*
 * Apply the hits just taken from inngest.wait_hits (SPI_tuptable: wait_id,
 * run_id, kind, step_id, event), waiting for each run's driver if need be.
 * Returns how many.
 */
static int
apply_hit_rows(void)
{
	SPITupleTable *tuptable = SPI_tuptable;
	uint64		nrows = SPI_processed;
	uint64		i;

	for (i = 0; i < nrows; i++)
	{
		WaitHit		hit;

		read_hit(tuptable, i, &hit);

		(void) apply_hit(hit.wait_id, hit.run_id, hit.kind, hit.step_id, hit.event, false);
	}
	if (tuptable)
		SPI_freetuptable(tuptable);
	return (int) nrows;
}

/*
 * Apply the matches recorded for runs that were being driven when their
 * event came (executors and tick() call this).  Returns how many.
 */
int
waits_apply_hits(void)
{
	SPIPlanPtr	plan;
	int			ret;

	plan = inngest_keep_plan(&plans.take_hits,
							 "WITH h AS (DELETE FROM inngest.wait_hits WHERE id IN "
							 "  (SELECT id FROM inngest.wait_hits ORDER BY id LIMIT 100 "
							 "   FOR UPDATE SKIP LOCKED) "
							 "  RETURNING id, wait_id, run_id, event) "
							 "SELECT h.wait_id, h.run_id, w.kind, w.step_id, h.event "
							 "FROM h JOIN inngest.waits w ON w.id = h.wait_id "
							 "ORDER BY h.id", 0, NULL);
	ret = exec_latest(plan, NULL, NULL, false, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read wait hits: %s", SPI_result_code_string(ret));
	return apply_hit_rows();
}

/*
 * Apply the pending matches of one run, which the caller has just claimed
 * (its row is locked): a cancel recorded while another transaction held
 * the run must not be overtaken by driving it.  Returns false if the run
 * is no longer to be driven (cancelled, or its wait resolved).
 */
bool
waits_apply_run_hits(int64 run_id)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(run_id)};
	int			ret;
	bool		drive = true;

	ret = exec_latest(inngest_keep_plan(&plans.take_run_hits,
										"WITH h AS (DELETE FROM inngest.wait_hits "
										"  WHERE run_id = $1 RETURNING id, wait_id, run_id, event) "
										"SELECT h.wait_id, h.run_id, w.kind, w.step_id, h.event "
										"FROM h JOIN inngest.waits w ON w.id = h.wait_id "
										"ORDER BY h.id", 1, types),
					  values, NULL, false, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read the wait hits of run %lld", (long long) run_id);
	if (apply_hit_rows() > 0)
		drive = false;
	return drive;
}

/*
 * A waiting run's timeout has come (the executor claimed it): its waiting
 * step completes with NULL, and its step waits are dropped.
 */
void
waits_timeout_step(int64 run_id)
{
	finish_waiting_step(run_id, NULL);
}

/* Drop every wait of a run that has ended */
void
waits_forget_run(int64 run_id)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(run_id)};
	SPIPlanPtr	plan;
	int			ret;

	plan = inngest_keep_plan(&plans.drop_run_waits,
							 "DELETE FROM inngest.waits WHERE run_id = $1", 1, types);
	ret = exec_latest(plan, values, NULL, false, 0);
	if (ret != SPI_OK_DELETE)
		elog(ERROR, "could not drop the waits of run %lld", (long long) run_id);
}

/*
 * Cancel a run that has not ended: status cancelled, its waits dropped,
 * inngest/function.cancelled sent.  Locks the run's row (waiting for a step
 * that is executing to finish, unless nowait).  Returns false if the run had
 * already ended (or, with nowait, is being driven).  Runs as the extension
 * owner with SPI connected.
 */
bool
waits_cancel_run(int64 run_id, bool nowait, const char *reason)
{
	Oid			types[3] = {INT8OID, TIMESTAMPTZOID, TEXTOID};
	Datum		values[3];
	SPIPlanPtr	plan;
	int			ret;
	char	   *status = lock_run(run_id, nowait);
	bool		isnull;
	JsonbParseState *state = NULL;
	char	   *function_id;
	Jsonb	   *event;

	if (status == NULL || is_finished(status))
		return false;

	values[0] = Int64GetDatum(run_id);
	values[1] = TimestampTzGetDatum(inngest_clock());
	values[2] = CStringGetTextDatum(reason);
	plan = inngest_keep_plan(&plans.cancel,
							 "UPDATE inngest.runs SET status = 'cancelled', ended_at = $2, "
							 "wake_at = NULL, active_key = NULL, blocked_on = NULL, "
							 "pending_key = NULL WHERE id = $1 RETURNING function_id, event",
							 3, types);
	ret = exec_latest(plan, values, NULL, false, 0);
	if (ret != SPI_OK_UPDATE_RETURNING || SPI_processed != 1)
		elog(ERROR, "could not cancel run %lld", (long long) run_id);
	function_id = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[0],
													SPI_tuptable->tupdesc, 1, &isnull));
	event = DatumGetJsonbPCopy(SPI_getbinval(SPI_tuptable->vals[0],
											 SPI_tuptable->tupdesc, 2, &isnull));
	SPI_freetuptable(SPI_tuptable);

	waits_forget_run(run_id);
	executor_note_cancelled(run_id);
	ret = exec_latest(inngest_keep_plan(&plans.cancel_steps,
										"UPDATE inngest.steps SET status = 'cancelled', "
										"ended_at = $2 WHERE run_id = $1 "
										"AND status IN ('sleeping', 'waiting')", 3, types),
					  values, NULL, false, 0);
	if (ret != SPI_OK_UPDATE)
		elog(ERROR, "could not cancel the steps of run %lld", (long long) run_id);

	(void) pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	jsonb_push_string(&state, "function_id", function_id, strlen(function_id));
	jsonb_push_int64(&state, "run_id", run_id);
	jsonb_push_jsonb(&state, "event", event);
	jsonb_push_string(&state, "reason", reason, strlen(reason));
	(void) ingest_send_event("inngest/function.cancelled",
							 JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL)));
	return true;
}
