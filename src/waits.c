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
 * which the executors apply as soon as the run is free.  Applying a match
 * (resuming the run, or cancelling it) is lifecycle.c's; this file finds
 * and keeps them.  Event inserts thus
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

#include "config.h"
#include "guc.h"
#include "spiutil.h"
#include "waits.h"
#include "wake.h"

typedef struct WaitPlans
{
	SPIPlanPtr	insert_wait;
	SPIPlanPtr	insert_key;
	SPIPlanPtr	candidates;
	SPIPlanPtr	wait_exists;
	SPIPlanPtr	drop_step_waits;
	SPIPlanPtr	insert_hit;
	SPIPlanPtr	take_hits;
	SPIPlanPtr	drop_run_waits;
	SPIPlanPtr	waited_names;
	SPIPlanPtr	take_run_hits;
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
		uint64		n;
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
			n = inngest_run_plan_latest(&plans.waited_names,
										"SELECT DISTINCT event FROM inngest.wait_keys",
										0, NULL, NULL, NULL, SPI_OK_SELECT);
			for (i = 0; i < n; i++)
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
 * Insert a wait of run_id.  The caller holds the event name's lock in
 * EVENT_LOCK_WAIT mode.  The match value is the run's event at match_path
 * (NULL path: no match key; a missing field never matches).
 */
void
waits_register(int64 run_id, const char *kind, const char *step_id,
			   const char *event, ArrayType *match_path, Jsonb *run_event,
			   JsonPath *condition, TimestampTz expires_at)
{
	static const Oid types[9] = {INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTARRAYOID,
	JSONBOID, JSONPATHOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[9];
	char		nulls[9] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};

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

	(void) inngest_run_plan_latest(&plans.insert_wait,
								   "INSERT INTO inngest.waits (run_id, kind, step_id, event, "
								   "match_path, match_value, condition, expires_at, created_at) "
								   "VALUES ($1, $2, $3, $4, COALESCE($5, '{}'), "
								   "CASE WHEN $5 IS NULL THEN NULL ELSE $6 #> $5 END, "
								   "$7, $8, $9)", 9, types, values, nulls, SPI_OK_INSERT);

	/* the (name, path) pair incoming events must look up; a new one is
	 * announced to every backend's cache of waited names */
	if (inngest_run_plan_latest(&plans.insert_key,
								"INSERT INTO inngest.wait_keys (event, match_path) "
								"SELECT $4, COALESCE($5, '{}') WHERE NOT EXISTS "
								"(SELECT FROM inngest.wait_keys WHERE event = $4 "
								" AND match_path = COALESCE($5, '{}')) "
								"ON CONFLICT DO NOTHING", 9, types, values, nulls,
								SPI_OK_INSERT) > 0)
		CacheInvalidateRelcacheByRelid(lookup_wait_keys_relid());
}

/*
 * Register the cancelOn rules of fn for a new run as waits of kind
 * 'cancel'.  The caller holds the rules' event names in EVENT_LOCK_WAIT
 * (waits_cancel_on_locks).
 */
void
waits_register_cancel_on(int64 run_id, InngestFunction *fn, Jsonb *event)
{
	ListCell   *lc;

	foreach(lc, fn->cancel_on)
	{
		CancelRule *rule = lfirst(lc);
		TimestampTz expires = 0;

		if (rule->timeout != NULL)
			expires = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
															  TimestampTzGetDatum(inngest_clock()),
															  IntervalPGetDatum(rule->timeout)));
		waits_register(run_id, "cancel", NULL, rule->event, rule->match_path,
					   event, rule->condition, expires);
	}
}

/*
 * Append to requests (from *n on) the event-name locks that registering
 * fn's cancelOn waits needs; requests has room for list_length(cancel_on)
 * more.
 */
void
waits_cancel_on_locks(InngestFunction *fn, EventLockRequest *requests, int *n)
{
	ListCell   *lc;

	foreach(lc, fn->cancel_on)
	{
		requests[*n].name = ((CancelRule *) lfirst(lc))->event;
		requests[*n].mode = EVENT_LOCK_WAIT;
		(*n)++;
	}
}

/* ----------------------------------------------------------------------
 * Finding the waits events resolve
 * ----------------------------------------------------------------------
 */

/*
 * The rows (wait_id, run_id, kind, step_id, event[, owner, seq]) of the
 * last result as a WaitHit list, in the current memory context; the result is freed.
 */
static List *
read_hits(uint64 n)
{
	List	   *hits = NIL;
	uint64		i;

	for (i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		WaitHit    *hit = palloc(sizeof(WaitHit));
		bool		isnull;
		Datum		step;

		hit->wait_id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		hit->run_id = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
		hit->cancel = strcmp(TextDatumGetCString(SPI_getbinval(tup, desc, 3, &isnull)),
							 "cancel") == 0;
		step = SPI_getbinval(tup, desc, 4, &isnull);
		hit->step_id = isnull ? NULL : TextDatumGetCString(step);
		hit->event = DatumGetJsonbPCopy(SPI_getbinval(tup, desc, 5, &isnull));
		hit->owner = InvalidOid;
		hit->seq = 0;
		if (desc->natts >= 7)
		{
			hit->owner = DatumGetObjectId(SPI_getbinval(tup, desc, 6, &isnull));
			hit->seq = DatumGetInt64(SPI_getbinval(tup, desc, 7, &isnull));
		}
		hits = lappend(hits, hit);
	}
	if (SPI_tuptable != NULL)
		SPI_freetuptable(SPI_tuptable);
	return hits;
}

/*
 * Who may receive an event through a wait, as through a trigger (events.c,
 * may_receive): an invoke's wait is the engine's own; waitForEvent and
 * cancelOn need their run's owner to hold SELECT on inngest.events ($5),
 * and a system event about a run (about <> 0) reaches only the roles that
 * may see that run.
 */
#define RECEIVE_SQL \
	"AND (c.kind = 'invoke' OR " \
	"  (pg_catalog.has_table_privilege(r.owner::pg_catalog.oid, $5, 'SELECT') " \
	"   AND (c.about = 0 " \
	"    OR pg_catalog.pg_has_role(r.owner::pg_catalog.oid, c.about, 'USAGE') " \
	"    OR pg_catalog.pg_has_role(r.owner::pg_catalog.oid, '" INNGEST_READER_ROLE "', 'USAGE')))) "

/*
 * The waits that the accepted events (names[i], events[i], in insertion
 * order; about[i]: see events_publish_system) resolve, as a WaitHit list in event order.  The caller holds the
 * names' locks in EVENT_LOCK_SEND mode.  One event resolves every wait it
 * matches; a wait is resolved by the first event (lifecycle.c applies
 * them in order).
 */
List *
waits_find_hits(Datum *names, Datum *events, Datum *about, Datum *seqs,
				int n, Oid events_relid)
{
	static const Oid types[6] = {TEXTARRAYOID, JSONBARRAYOID, TIMESTAMPTZOID,
	OIDARRAYOID, OIDOID, INT8ARRAYOID};
	Datum		values[6];

	if (n == 0)
		return NIL;
	values[0] = PointerGetDatum(construct_array(names, n, TEXTOID, -1, false,
												TYPALIGN_INT));
	values[1] = PointerGetDatum(construct_array(events, n, JSONBOID, -1, false,
												TYPALIGN_INT));
	values[2] = TimestampTzGetDatum(inngest_clock());
	values[3] = PointerGetDatum(construct_array(about, n, OIDOID, 4, true,
												TYPALIGN_INT));
	values[4] = ObjectIdGetDatum(events_relid);
	values[5] = PointerGetDatum(construct_array(seqs, n, INT8OID, 8,
												FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	return read_hits(inngest_run_plan_latest(&plans.candidates,
											 "WITH u AS (SELECT * FROM ROWS FROM "
											 "  (pg_catalog.unnest($1::pg_catalog.text[]), "
											 "   pg_catalog.unnest($2::pg_catalog.jsonb[]), "
											 "   pg_catalog.unnest($4::pg_catalog.oid[]), "
											 "   pg_catalog.unnest($6::pg_catalog.int8[])) "
											 "  WITH ORDINALITY AS u(name, ev, about, seq, ord)), "
											 "c AS ("
											 "  SELECT w.id, w.run_id, w.kind, w.step_id, w.condition, "
											 "   w.expires_at, u.ev, u.about, u.seq, u.ord "
											 "  FROM u JOIN inngest.wait_keys k ON k.event = u.name "
											 "   AND k.match_path <> '{}' "
											 "  JOIN inngest.waits w ON w.event = u.name "
											 "   AND w.match_path = k.match_path "
											 "   AND w.match_value = (u.ev #> k.match_path) "
											 "  UNION ALL "
											 "  SELECT w.id, w.run_id, w.kind, w.step_id, w.condition, "
											 "   w.expires_at, u.ev, u.about, u.seq, u.ord "
											 "  FROM u JOIN inngest.wait_keys k ON k.event = u.name "
											 "   AND k.match_path = '{}' "
											 "  JOIN inngest.waits w ON w.event = u.name "
											 "   AND w.match_path = '{}') "
											 "SELECT c.id, c.run_id, c.kind, c.step_id, c.ev, "
											 "CASE WHEN c.kind <> 'invoke' THEN r.owner::pg_catalog.oid "
											 "ELSE 0::pg_catalog.oid END, c.seq FROM c "
											 "JOIN inngest.runs r ON r.id = c.run_id "
											 "WHERE (c.condition IS NULL OR pg_catalog.jsonb_path_match(c.ev, "
											 "  c.condition, pg_catalog.jsonb_build_object('event', r.event), "
											 "  true) IS TRUE) "
											 "AND (c.expires_at IS NULL OR c.expires_at > $3) "
											 RECEIVE_SQL
											 "ORDER BY c.ord, c.id", 6, types, values, NULL,
											 SPI_OK_SELECT));
}

/*
 * Keep a match for the executors: its run was being driven when the event
 * came (inngest.wait_hits), and an event never waits for a driver.
 */
void
waits_defer_hit(WaitHit *hit)
{
	static const Oid types[3] = {INT8OID, INT8OID, JSONBOID};
	Datum		values[3];

	values[0] = Int64GetDatum(hit->wait_id);
	values[1] = Int64GetDatum(hit->run_id);
	values[2] = JsonbPGetDatum(hit->event);
	(void) inngest_run_plan_latest(&plans.insert_hit,
								   "INSERT INTO inngest.wait_hits (wait_id, run_id, event) "
								   "VALUES ($1, $2, $3)", 3, types, values, NULL,
								   SPI_OK_INSERT);
	wake_executors_at_commit();
}

/*
 * Take up to 100 kept matches, of any run (oldest first), for the caller
 * to apply: executors and tick() call this before claiming runs.
 */
List *
waits_take_deferred(void)
{
	return read_hits(inngest_run_plan_latest(&plans.take_hits,
											 "WITH h AS (DELETE FROM inngest.wait_hits WHERE id IN "
											 "  (SELECT id FROM inngest.wait_hits ORDER BY id LIMIT 100 "
											 "   FOR UPDATE SKIP LOCKED) "
											 "  RETURNING id, wait_id, run_id, event) "
											 "SELECT h.wait_id, h.run_id, w.kind, w.step_id, h.event "
											 "FROM h JOIN inngest.waits w ON w.id = h.wait_id "
											 "ORDER BY h.id", 0, NULL, NULL, NULL, SPI_OK_SELECT));
}

/*
 * Take the kept matches of one run, which the caller has just claimed (its
 * row is locked): a cancel kept while another transaction held the run
 * must not be overtaken by driving it.
 */
List *
waits_take_run_deferred(int64 run_id)
{
	static const Oid types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(run_id)};

	return read_hits(inngest_run_plan_latest(&plans.take_run_hits,
											 "WITH h AS (DELETE FROM inngest.wait_hits "
											 "  WHERE run_id = $1 RETURNING id, wait_id, run_id, event) "
											 "SELECT h.wait_id, h.run_id, w.kind, w.step_id, h.event "
											 "FROM h JOIN inngest.waits w ON w.id = h.wait_id "
											 "ORDER BY h.id", 1, types, values, NULL, SPI_OK_SELECT));
}

/* Whether the wait still exists (its run has not been resumed by another) */
bool
waits_exists(int64 wait_id)
{
	static const Oid types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(wait_id)};

	return inngest_run_plan_latest(&plans.wait_exists,
								   "SELECT FROM inngest.waits WHERE id = $1",
								   1, types, values, NULL, SPI_OK_SELECT) > 0;
}

/* The run's waiting step ended: its step waits go, its cancelOn waits stay */
void
waits_drop_step_waits(int64 run_id)
{
	static const Oid types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(run_id)};

	(void) inngest_run_plan_latest(&plans.drop_step_waits,
								   "DELETE FROM inngest.waits WHERE run_id = $1 "
								   "AND kind <> 'cancel'", 1, types, values, NULL,
								   SPI_OK_DELETE);
}

/* Drop every wait of a run that has ended */
void
waits_forget_run(int64 run_id)
{
	static const Oid types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(run_id)};

	(void) inngest_run_plan_latest(&plans.drop_run_waits,
								   "DELETE FROM inngest.waits WHERE run_id = $1",
								   1, types, values, NULL, SPI_OK_DELETE);
}
