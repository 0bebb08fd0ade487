/*-------------------------------------------------------------------------
 *
 * slots.c
 *	  Concurrency limits: slots held while a run executes, and the queue of
 *	  runs waiting for one.
 *
 * A concurrency key (the function, or a key value; scope env: shared by
 * every function using the same key expression) has "limit" slots.  A slot
 * is a transaction-level advisory lock on (hash of the key, slot number),
 * taken with a try-lock by the executor before a step runs and released
 * when that transaction ends: so a slot is held exactly while a step
 * executes and until its writes are committed, and a run that sleeps or
 * waits holds none.  A crashed executor's slots go with its transaction.
 * The same backend re-entering a slot it holds (a worker driving several
 * runs of one key in one transaction) runs them one after another, which
 * the limit allows.
 *
 * "mode": "run" limits runs in flight instead: a run holds its place from
 * its first step until it ends, sleeping included, which no lock can span.
 * Such a run carries its key in runs.active_key (cleared when it ends),
 * and a run may start while fewer than "limit" runs carry it; a try-lock
 * on slot 0 of the key serializes that check with other starts.
 *
 * A run that finds no slot is set aside ("parked"): wake_at NULL, so it
 * leaves the due index and is never claimed in vain, and blocked_on = the
 * key, queue_at = its place (FIFO, with priority).  It comes back when a
 * slot frees: whoever releases a key or parks a run on one remembers the
 * key, and at its next transaction (after its commit, so the slot it held
 * is free and the park it wrote is visible) probes the key's slots and
 * makes the heads of the queue due again, at their old place.  A run
 * parked while the slot holder was committing is thus always seen by one
 * of the two: the holder's probe comes after its commit, and the parker's
 * after the park's commit.  A sweep every second covers keys whose last
 * holder was not an executor (a tick() session that went away, a run
 * cancelled by SQL).
 *
 *-------------------------------------------------------------------------
 */
#include "inngest.h"

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "config.h"
#include "runs.h"
#include "slots.h"
#include "spiutil.h"

/* How often the sweep runs */
#define SLOTS_SWEEP_MS			1000

/* One concurrency key of a run */
typedef struct SlotKey
{
	uint64		hash;			/* hash key in the touched table */
	char	   *key;			/* identity: "fn:<id>:<n>:<value>" or
								 * "env:<expression>:<value>" */
	int			limit;
	bool		run_mode;
} SlotKey;

typedef struct RunSlots
{
	int			n;
	SlotKey		keys[FLOW_MAX_CONCURRENCY];
	int			blocked;		/* the key that had no free slot */
} RunSlots;

typedef struct SlotPlans
{
	SPIPlanPtr	count_active;
	SPIPlanPtr	blocked_heads;
	SPIPlanPtr	any_blocked;
	SPIPlanPtr	key_blocked;
	SPIPlanPtr	queued_ahead;
} SlotPlans;

static SlotPlans plans;

/*
 * Keys released or parked on since the last probe, by hash (a 64-bit
 * collision would only merge two keys' probes).  In touched_cxt.
 */
static HTAB *touched = NULL;
static MemoryContext touched_cxt = NULL;

static TimestampTz last_sweep = 0;

static void
set_slot_tag(LOCKTAG *tag, uint64 hash, int slot)
{
	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, (uint32) (hash >> 32),
						 ((uint32) hash & 0xFFFF0000) | (uint32) slot,
						 INNGEST_LOCKTAG_SLOT);
}

/* The identity of concurrency entry i of fn for event */
static char *
key_identity(InngestFunction *fn, int i, Jsonb *event)
{
	ConcurrencyLimit *cl = &fn->flow->concurrency[i];
	char	   *value = cl->key ? expr_eval_key(cl->key, event) : "";

	if (cl->env)
		return psprintf("env:%s:%s", cl->key_source, value);
	return psprintf("fn:%s:%d:%s", fn->id, i, value);
}

static void
fill_key(SlotKey *sk, char *key, ConcurrencyLimit *cl)
{
	sk->key = key;
	sk->hash = hash_bytes_extended((const unsigned char *) key, strlen(key), 0);
	sk->limit = cl->limit;
	sk->run_mode = cl->run_mode;
}

/*
 * Compute the concurrency keys of the run being claimed (fn has
 * concurrency limits), in the run's memory.
 */
static void
slots_prepare(RunState *run, InngestFunction *fn)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(run->cxt);
	RunSlots   *slots = palloc0(sizeof(RunSlots));
	Jsonb	   *event = run->event;
	int			i;

	for (i = 0; i < fn->flow->nconcurrency; i++)
		fill_key(&slots->keys[i], key_identity(fn, i, event),
				 &fn->flow->concurrency[i]);
	slots->n = fn->flow->nconcurrency;
	slots->blocked = -1;
	run->slots = slots;
	MemoryContextSwitchTo(oldcxt);
}

/* Try one slot of a step-mode key for this transaction */
static bool
try_step_slot(SlotKey *sk, int *taken)
{
	int			s;

	for (s = 1; s <= sk->limit; s++)
	{
		LOCKTAG		tag;

		set_slot_tag(&tag, sk->hash, s);
		if (LockAcquire(&tag, ExclusiveLock, false, true) != LOCKACQUIRE_NOT_AVAIL)
		{
			*taken = s;
			return true;
		}
	}
	return false;
}

/* Runs of the key in flight, other than run_id */
static int64
count_active(const char *key, int64 run_id)
{
	Oid			types[2] = {TEXTOID, INT8OID};
	Datum		values[2];
	bool		isnull;

	values[0] = CStringGetTextDatum(key);
	values[1] = Int64GetDatum(run_id);
	(void) inngest_run_plan(&plans.count_active,
							"SELECT pg_catalog.count(*) FROM inngest.runs "
							"WHERE active_key = $1 AND id <> $2",
							2, types, values, NULL, SPI_OK_SELECT);
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
									   SPI_tuptable->tupdesc, 1, &isnull));
}

/* Try to take a place among the key's runs in flight (mode run) */
static bool
try_run_slot(SlotKey *sk, int64 run_id)
{
	LOCKTAG		tag;

	set_slot_tag(&tag, sk->hash, 0);
	if (LockAcquire(&tag, ExclusiveLock, false, true) == LOCKACQUIRE_NOT_AVAIL)
		return false;			/* another run of the key is starting */
	if (count_active(sk->key, run_id) >= sk->limit)
	{
		LockRelease(&tag, ExclusiveLock, false);
		return false;
	}
	runs_set_active_key(run_id, sk->key);
	return true;
}

/*
 * The key's queue lock: transactions that set runs aside on the key hold
 * it in share mode until they commit, so that a run about to take a free
 * slot can tell that runs it cannot see yet are queued ahead of it.
 */
static void
set_queue_tag(LOCKTAG *tag, uint64 hash)
{
	set_slot_tag(tag, hash, 0xFFFF);
}

/*
 * Are runs of the key set aside ahead of this one (earlier in its queue)?
 * Then this run must not overtake them, even with a slot free: FIFO.  A
 * transaction still setting runs aside on the key (holding its queue lock)
 * counts as ahead: its runs came first.  (Not asked for a run that was set
 * aside and brought back: the heads come back in queue order.)
 */
static bool
queued_ahead(SlotKey *sk, RunState *run)
{
	Oid			types[3] = {TEXTOID, TIMESTAMPTZOID, INT8OID};
	Datum		values[3];
	LOCKTAG		tag;

	set_queue_tag(&tag, sk->hash);
	if (LockAcquire(&tag, ExclusiveLock, false, true) == LOCKACQUIRE_NOT_AVAIL)
		return true;
	LockRelease(&tag, ExclusiveLock, false);

	values[0] = CStringGetTextDatum(sk->key);
	values[1] = TimestampTzGetDatum(run->queue_at);
	values[2] = Int64GetDatum(run->run_id);
	return inngest_run_plan(&plans.queued_ahead,
							"SELECT 1 FROM inngest.runs WHERE blocked_on = $1 "
							"AND (queue_at, id) < ($2, $3) LIMIT 1",
							3, types, values, NULL, SPI_OK_SELECT) > 0;
}

/*
 * Take a slot of every concurrency key of the run for this transaction.
 * fresh: the run has not started (a "mode": "run" key is taken then, and
 * kept until the run ends).  Returns false, holding nothing new, if some
 * key has no free slot, or has runs waiting ahead of this one; the caller
 * then parks the run (and the probe of the key brings back the head).
 *
 * Passes: step slots (advisory locks, cheap) first; then the queue order;
 * then the (at most one) run-mode place, which once taken is written to
 * the run, so nothing may fail after it.
 */
static bool
slots_acquire(RunState *run, bool fresh)
{
	RunSlots   *slots = run->slots;
	int			taken[FLOW_MAX_CONCURRENCY] = {0};
	int			pass;
	int			i;

	for (pass = 0; pass < 3; pass++)
	{
		for (i = 0; i < slots->n; i++)
		{
			SlotKey    *sk = &slots->keys[i];
			bool		ok;

			if (pass == 1)
				ok = (sk->run_mode && !fresh) || run->was_set_aside ||
					!queued_ahead(sk, run);
			else if (sk->run_mode != (pass == 2))
				continue;
			else if (sk->run_mode)
				ok = !fresh || try_run_slot(sk, run->run_id);
			else
				ok = try_step_slot(sk, &taken[i]);
			if (!ok)
			{
				/* give back what this call took: a parked run holds nothing */
				for (i = 0; i < slots->n; i++)
				{
					LOCKTAG		tag;

					if (taken[i] == 0)
						continue;
					set_slot_tag(&tag, slots->keys[i].hash, taken[i]);
					LockRelease(&tag, ExclusiveLock, false);
				}
				slots->blocked = sk - slots->keys;
				return false;
			}
		}
	}
	return true;
}

/*
 * An empty table keyed by a key's 64-bit hash, in the backend-lived
 * context *cxt (created on first use, emptied on every later one).
 */
static HTAB *
key_table(const char *name, Size entrysize, MemoryContext *cxt)
{
	HASHCTL		ctl;

	if (*cxt == NULL)
		*cxt = AllocSetContextCreate(TopMemoryContext, "inngest key table",
									 ALLOCSET_SMALL_SIZES);
	else
		MemoryContextReset(*cxt);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(uint64);
	ctl.entrysize = entrysize;
	ctl.hcxt = *cxt;
	return hash_create(name, 64, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

/* Remember a key to probe at the next transaction */
static void
touch(SlotKey *sk)
{
	SlotKey    *entry;
	bool		found;

	if (touched == NULL)
		touched = key_table("inngest touched keys", sizeof(SlotKey), &touched_cxt);
	entry = hash_search(touched, &sk->hash, HASH_ENTER, &found);
	if (!found)
	{
		entry->key = MemoryContextStrdup(touched_cxt, sk->key);
		entry->limit = sk->limit;
		entry->run_mode = sk->run_mode;
	}
}

/*
 * Set the run aside until a slot of the key that blocked it frees (see
 * runs_park), holding the key's queue lock until commit.
 */
static void
slots_park(RunState *run)
{
	SlotKey    *sk = &run->slots->keys[run->slots->blocked];
	LOCKTAG		tag;

	Assert(run->slots->blocked >= 0);
	set_queue_tag(&tag, sk->hash);
	(void) LockAcquire(&tag, ShareLock, false, false);
	runs_park(run->run_id, sk->key, run->queue_at);
	touch(sk);
}

/* The drive of the run ends: its keys are worth a probe after the commit */
void
slots_release(RunState *run)
{
	int			i;

	if (run->slots == NULL)
		return;
	for (i = 0; i < run->slots->n; i++)
		touch(&run->slots->keys[i]);
}

/*
 * How many runs of the key could start now.  (A slot this backend holds
 * counts as one: the run it lets through is claimed next, in this
 * transaction.  Bringing back more at once was tried: the rest became due
 * at the commit, other executors claimed them only to set them aside
 * again, and the queue order made everyone yield to those.)
 */
static int
free_slots(SlotKey *sk)
{
	int			free = 0;
	int			s;

	if (sk->run_mode)
	{
		int64		active = count_active(sk->key, 0);

		return active >= sk->limit ? 0 : sk->limit - (int) active;
	}
	for (s = 1; s <= sk->limit; s++)
	{
		LOCKTAG		tag;

		/* a session-level probe, given back at once */
		set_slot_tag(&tag, sk->hash, s);
		if (LockAcquire(&tag, ExclusiveLock, true, true) != LOCKACQUIRE_NOT_AVAIL)
		{
			LockRelease(&tag, ExclusiveLock, true);
			free++;
		}
	}
	return free;
}

/*
 * Probe the keys touched since the last call and make the heads of their
 * queues due again, as many as there are free slots.  Returns how many.
 * Called with SPI connected, as the extension owner:
 *
 * - with consume, at the start of a transaction (a worker's, or tick()'s),
 *   after the commit of what touched the keys: the protocol of the file
 *   header, after which the keys are forgotten;
 * - without, when a transaction has run out of due runs: the keys it
 *   released are free for itself (its own slots, its own ended runs), so
 *   the runs waiting for them can go on in the same transaction.  The keys
 *   are still probed after the commit, for other sessions' sake.
 */
int
slots_promote(bool consume)
{
	Datum	   *keys;
	Datum	   *counts;
	int			n = 0;
	long		ntouched;
	HASH_SEQ_STATUS status;
	SlotKey    *sk;

	if (touched == NULL || (ntouched = hash_get_num_entries(touched)) == 0)
		return 0;

	keys = palloc(sizeof(Datum) * ntouched);
	counts = palloc(sizeof(Datum) * ntouched);
	hash_seq_init(&status, touched);
	while ((sk = hash_seq_search(&status)) != NULL)
	{
		int			free = free_slots(sk);

		if (free > 0)
		{
			keys[n] = CStringGetTextDatum(sk->key);
			counts[n] = Int32GetDatum(free);
			n++;
		}
	}
	if (consume)
	{
		/* forgotten only once probed: an error above keeps them */
		touched = NULL;
		MemoryContextReset(touched_cxt);
	}
	if (n == 0)
		return 0;

	return runs_promote(PointerGetDatum(construct_array(keys, n, TEXTOID, -1, false,
														TYPALIGN_INT)),
						PointerGetDatum(construct_array(counts, n, INT4OID, 4, true,
														TYPALIGN_INT)));
}

/*
 * The safety net: every second, find the keys that have runs set aside
 * and probe them (see the file header).  Returns true if some run is set
 * aside, so that an idle executor comes back in a second.
 */
static bool
slots_sweep(void)
{
	TimestampTz now = GetCurrentTimestamp();
	uint64		n;
	uint64		i;
	SPITupleTable *tuptable;

	if (!TimestampDifferenceExceeds(last_sweep, now, SLOTS_SWEEP_MS))
		return touched != NULL && hash_get_num_entries(touched) > 0;
	last_sweep = now;

	/* one head per key, by a skip scan of runs_blocked */
	n = inngest_run_plan(&plans.blocked_heads,
						 "WITH RECURSIVE k(key) AS ("
						 "  (SELECT blocked_on FROM inngest.runs "
						 "   WHERE blocked_on IS NOT NULL ORDER BY blocked_on LIMIT 1) "
						 "  UNION ALL "
						 "  SELECT (SELECT blocked_on FROM inngest.runs "
						 "    WHERE blocked_on > k.key ORDER BY blocked_on LIMIT 1) "
						 "  FROM k WHERE k.key IS NOT NULL) "
						 "SELECT k.key, h.function_id, h.event FROM k, LATERAL "
						 "  (SELECT function_id, event FROM inngest.runs "
						 "   WHERE blocked_on = k.key ORDER BY queue_at, id LIMIT 1) h "
						 "WHERE k.key IS NOT NULL LIMIT 10000",
						 0, NULL, NULL, NULL, SPI_OK_SELECT);
	if (n == 0)
		return false;
	tuptable = SPI_tuptable;
	catalog_refresh();
	for (i = 0; i < n; i++)
	{
		HeapTuple	tup = tuptable->vals[i];
		bool		isnull;
		char	   *key = TextDatumGetCString(SPI_getbinval(tup, tuptable->tupdesc, 1, &isnull));
		InngestFunction *fn;
		int			e = 0;

		fn = catalog_lookup_function(TextDatumGetCString(SPI_getbinval(tup, tuptable->tupdesc, 2, &isnull)));
		for (; fn != NULL && fn->flow != NULL && e < fn->flow->nconcurrency; e++)
		{
			Jsonb	   *event = DatumGetJsonbP(SPI_getbinval(tup, tuptable->tupdesc, 3, &isnull));
			char	   *identity = key_identity(fn, e, event);

			if (strcmp(identity, key) == 0)
			{
				SlotKey		sk;

				fill_key(&sk, identity, &fn->flow->concurrency[e]);
				touch(&sk);
				break;
			}
		}
		if (fn == NULL || fn->flow == NULL || e == fn->flow->nconcurrency)
		{
			/* the limit was removed since: let the run go and see */
			SlotKey		sk;
			ConcurrencyLimit one = {.limit = 1};

			fill_key(&sk, key, &one);
			touch(&sk);
		}
	}
	(void) slots_promote(true);
	return true;
}

/* ----------------------------------------------------------------------
 * Setting runs aside as they are created
 *
 * A run of a key whose slots are all taken, or whose queue already has
 * runs set aside, is created set aside: a flood of events for one busy key
 * never enters the due queue, where each run would be claimed only to be
 * set aside (and, while a long step holds back vacuum, leave a dead index
 * entry that every later claim steps over).  The decision is taken once
 * per key and statement.  A slot freed between this probe and the
 * event's commit is found by the sweep.
 * ----------------------------------------------------------------------
 */

typedef struct IngestKey
{
	uint64		hash;			/* hash key */
	bool		park;
} IngestKey;

static HTAB *ingest_keys = NULL;
static MemoryContext ingest_cxt = NULL;
static int	any_blocked = -1;	/* is any run set aside? -1: not asked */

/* Start a statement's decisions (the event trigger, ingest_start_run) */
void
slots_ingest_begin(void)
{
	/* the table is made on first use: most statements never need it */
	ingest_keys = NULL;
	any_blocked = -1;
}

/* Does the key have runs set aside? */
static bool
queue_nonempty(SlotKey *sk)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];

	if (any_blocked < 0)
		any_blocked = inngest_run_plan(&plans.any_blocked,
									   "SELECT 1 FROM inngest.runs "
									   "WHERE blocked_on IS NOT NULL LIMIT 1",
									   0, NULL, NULL, NULL, SPI_OK_SELECT) > 0;
	if (!any_blocked)
		return false;
	values[0] = CStringGetTextDatum(sk->key);
	return inngest_run_plan(&plans.key_blocked,
							"SELECT 1 FROM inngest.runs WHERE blocked_on = $1 LIMIT 1",
							1, types, values, NULL, SPI_OK_SELECT) > 0;
}

/*
 * The concurrency key a new run of fn with this event must wait for, or
 * NULL if it may be due at once.  Allocates in the current context.
 */
char *
slots_ingest_park(InngestFunction *fn, Jsonb *event)
{
	int			i;

	if (fn->flow == NULL || fn->flow->nconcurrency == 0)
		return NULL;
	if (ingest_keys == NULL)
		ingest_keys = key_table("inngest ingest keys", sizeof(IngestKey),
								&ingest_cxt);
	for (i = 0; i < fn->flow->nconcurrency; i++)
	{
		SlotKey		sk;
		IngestKey  *entry;
		bool		found;

		fill_key(&sk, key_identity(fn, i, event), &fn->flow->concurrency[i]);
		entry = hash_search(ingest_keys, &sk.hash, HASH_ENTER, &found);
		if (!found)
			entry->park = queue_nonempty(&sk) || free_slots(&sk) == 0;
		if (entry->park)
		{
			LOCKTAG		tag;

			/* runs set aside on the key are committing: see queued_ahead */
			set_queue_tag(&tag, sk.hash);
			(void) LockAcquire(&tag, ShareLock, false, false);
			return sk.key;
		}
	}
	return NULL;
}

/*
 * Before a run's step: take a slot of each of its concurrency keys for
 * this transaction, or set the run aside until one frees (false: the
 * caller stops driving it).  fn is given at the claim, where the run's
 * keys are computed (and fresh says it has not started); it is NULL after
 * a checkpoint, when the slots the commit gave back are taken again.
 */
bool
slots_enter(RunState *run, InngestFunction *fn, bool fresh)
{
	if (fn != NULL && fn->flow != NULL && fn->flow->nconcurrency > 0)
		slots_prepare(run, fn);
	if (run->slots == NULL || slots_acquire(run, fresh))
		return true;
	slots_park(run);
	return false;
}

/*
 * At the start of a worker's transaction or of tick(): the sweep, then the
 * probe of the keys touched by this backend's last transaction (now
 * committed).  Returns true if runs are set aside somewhere, so that an
 * idle executor comes back for the sweep.
 */
bool
slots_begin_transaction(void)
{
	bool		blocked = slots_sweep();

	(void) slots_promote(true);
	CommandCounterIncrement();
	return blocked;
}
