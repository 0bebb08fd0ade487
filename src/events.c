/*-------------------------------------------------------------------------
 *
 * events.c
 *	  Events in: validate them, deduplicate them by id, resolve the waits
 *	  they match and start a run of every function whose trigger matches.
 *
 * One function, events_fan_out(), does this for a batch of stored events.
 * The statement-level trigger on inngest.events calls it with the
 * statement's transition table, so INSERT ... SELECT of 100,000 events
 * costs two passes over them, one deduplication statement and one INSERT
 * of runs per 10,000 runs, with no SQL parsed per event: event names are
 * looked up in the function cache and "if" conditions are precompiled
 * jsonpath.  Events the extension sends itself (system events such as
 * inngest/function.finished, step_send_event) are stored by
 * events_publish() directly through the table's access method, without an
 * INSERT statement, and fanned out by the same function: no trigger runs
 * nested inside the executor.
 *
 *-------------------------------------------------------------------------
 */
#include "inngest.h"

#include "access/detoast.h"
#include "access/table.h"
#include "access/tupdesc.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "catalog.h"
#include "events.h"
#include "expr.h"
#include "flow.h"
#include "guc.h"
#include "jsonutil.h"
#include "lifecycle.h"
#include "restore.h"
#include "runs.h"
#include "security.h"
#include "slots.h"
#include "spiutil.h"
#include "waits.h"

/* Runs are created, and waits looked up, in batches of this many */
#define FAN_OUT_BATCH 10000

/* Columns of inngest.events, by number */
typedef struct EventColumns
{
	int			seq;
	int			id;
	int			name;
	int			data;
	int			ts;
	int			depth;
} EventColumns;

/* The distinct event names of a batch */
typedef struct NameEntry
{
	char		name[INNGEST_KEY_SIZE]; /* hash key */
	bool		waited;			/* some run may wait for it */
} NameEntry;

/* The state of one fan-out */
typedef struct FanOut
{
	HTAB	   *names;
	int64	   *accepted;		/* seqs of events first with their id */
	int			naccepted;
	NewRuns    *runs;			/* runs to create */
	bool		cancel_on;		/* a function of those has cancelOn */
	int			nwaited;		/* events to look up waits for */
	int			waited_cap;
	Datum	   *waited_names;
	Datum	   *waited_events;
	Datum	   *waited_about;	/* oid: the run a system event reports on */
	Datum	   *waited_seqs;	/* int8: the events' seq */
	Oid			about;			/* the source's (EventSource.about) */
	Oid			relid;			/* inngest.events */
	/* what may_receive found for the last function owner it looked at */
	Oid			last_owner;
	bool		last_may_read;
	bool		last_rls;
} FanOut;

/* The event trigger's source: the statement's transition table */
typedef struct TableSource
{
	EventSource base;
	Tuplestorestate *store;
	TupleTableSlot *slot;
	EventColumns col;
} TableSource;

/* events_publish()'s source: one event */
typedef struct OneEvent
{
	EventSource base;
	EventRow	row;
	bool		done;
} OneEvent;

static SPIPlanPtr dedup_plan = NULL;

PG_FUNCTION_INFO_V1(inngest_events_trigger);

static bool rls_hides(Oid relid, Oid role, int64 seq);

/* Find the columns of inngest.events in desc */
static void
event_columns(TupleDesc desc, EventColumns *col)
{
	col->seq = SPI_fnumber(desc, "seq");
	col->id = SPI_fnumber(desc, "id");
	col->name = SPI_fnumber(desc, "name");
	col->data = SPI_fnumber(desc, "data");
	col->ts = SPI_fnumber(desc, "ts");
	col->depth = SPI_fnumber(desc, "depth");
	if (col->seq <= 0 || col->id <= 0 || col->name <= 0 || col->data <= 0 ||
		col->ts <= 0 || col->depth <= 0)
		elog(ERROR, "inngest.events does not have the expected columns");
}

static int
int64_cmp(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}

/*
 * Record event ids in the 24-hour window and return the sequence numbers
 * of the events that were first with their id (sorted), in *accepted.
 * A concurrent insert of the same id waits for ours, through the unique
 * index, so exactly one of them is accepted.
 */
static int
dedup_events(Datum *ids, Datum *seqs, int count, int64 **accepted)
{
	static const Oid types[4] = {TEXTARRAYOID, INT8ARRAYOID, TIMESTAMPTZOID,
	TIMESTAMPTZOID};
	Datum		values[4];
	uint64		n;
	uint64		i;

	/*
	 * The real clock, not inngest.fake_now: ids are shared by every role,
	 * and a test session's clock in 2099 must not hold an id for 75 years.
	 */
	TimestampTz now = GetCurrentTimestamp();

	values[0] = PointerGetDatum(construct_array(ids, count, TEXTOID, -1, false,
												TYPALIGN_INT));
	values[1] = PointerGetDatum(construct_array(seqs, count, INT8OID, 8,
												FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[2] = TimestampTzGetDatum(now + (int64) INNGEST_DEDUP_WINDOW_SECS * USECS_PER_SEC);
	values[3] = TimestampTzGetDatum(now);
	n = inngest_run_plan(&dedup_plan,
					 "INSERT INTO inngest.event_ids AS e (id, seq, expires_at) "
					 "SELECT DISTINCT ON (u.id) u.id, u.seq, $3 "
					 "FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.text[]), "
					 "pg_catalog.unnest($2::pg_catalog.int8[])) AS u(id, seq) ORDER BY u.id, u.seq "
					 "ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, "
					 "expires_at = excluded.expires_at WHERE e.expires_at <= $4 "
					 "RETURNING e.seq", 4, types, values, NULL, SPI_OK_INSERT_RETURNING);

	*accepted = palloc(sizeof(int64) * (n + 1));
	for (i = 0; i < n; i++)
	{
		bool		isnull;

		(*accepted)[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
													 SPI_tuptable->tupdesc, 1, &isnull));
	}
	SPI_freetuptable(SPI_tuptable);
	qsort(*accepted, n, sizeof(int64), int64_cmp);
	return (int) n;
}


/*
 * Reject bad events with an error naming the problem.  The reserved names
 * and the size limit are for events from outside (outside): the
 * extension's own (a run's outcome with its event and output) must never
 * fail the run they report on.
 */
static void
validate_event(text *name, Datum data_datum, bool outside)
{
	Size		size;
	Jsonb	   *head;

	if (VARSIZE_ANY_EXHDR(name) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("event name must not be empty")));
	if (VARSIZE_ANY_EXHDR(name) > INNGEST_MAX_ID_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("event name \"%s\" is too long", inngest_clip(text_to_cstring(name), 40)),
				 errdetail("The limit is %d bytes.", INNGEST_MAX_ID_LEN)));

	/*
	 * The engine's own events (a run's end, which an invoke's wait takes as
	 * the callee's result) cannot be forged: the prefix is reserved, as in
	 * Inngest.
	 */
	if (outside && VARSIZE_ANY_EXHDR(name) >= (int) strlen(INNGEST_RESERVED_PREFIX) &&
		strncmp(VARDATA_ANY(name), INNGEST_RESERVED_PREFIX,
				strlen(INNGEST_RESERVED_PREFIX)) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_RESERVED_NAME),
				 errmsg("event name \"%s\" is reserved",
						inngest_clip(text_to_cstring(name), 40)),
				 errdetail("Names starting with \"%s\" are the engine's own events.",
						   INNGEST_RESERVED_PREFIX)));

	size = toast_raw_datum_size(data_datum);
	if (outside && size > (Size) inngest_max_event_size * 1024)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("data of event \"%s\" is too large (%zu bytes)",
						text_to_cstring(name), size),
				 errdetail("The limit is inngest.max_event_size = %d kB.",
						   inngest_max_event_size)));

	/* the root header says object/array/scalar; no need to detoast it all */
	head = (Jsonb *) PG_DETOAST_DATUM_SLICE(data_datum, 0, sizeof(uint32));
	if (!JB_ROOT_IS_OBJECT(head) || JB_ROOT_IS_SCALAR(head))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("data of event \"%s\" must be a JSON object",
						text_to_cstring(name)),
				 errhint("Wrap the value: jsonb_build_object('value', ...).")));
}

/* The NUL-terminated name of a row, as a names key */
static void
name_key(EventRow *row, char *key)
{
	int			len = Min(VARSIZE_ANY_EXHDR(row->name), INNGEST_KEY_SIZE - 1);

	memcpy(key, VARDATA_ANY(row->name), len);
	key[len] = '\0';
}

/*
 * Lock the batch's event names in share mode (see waits.c: an event's
 * look-up of waits must follow any wait committed before it), with the
 * cancelOn names of the functions they trigger in exclusive mode (their
 * runs register cancelOn waits), and mark the names that have waits.
 */
static void
lock_and_find_waited(HTAB *names)
{
	HASH_SEQ_STATUS status;
	NameEntry  *entry;
	int			nreq = 0;
	int			cap = 16;
	EventLockRequest *requests = palloc(sizeof(EventLockRequest) * cap);

	hash_seq_init(&status, names);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		List	   *triggers = catalog_event_triggers(entry->name, strlen(entry->name));
		int			need = 1;
		ListCell   *lc;

		foreach(lc, triggers)
			need += list_length(((InngestTrigger *) lfirst(lc))->function->cancel_on);
		if (nreq + need > cap)
		{
			cap = Max(cap * 2, nreq + need);
			requests = repalloc(requests, sizeof(EventLockRequest) * cap);
		}

		requests[nreq].name = entry->name;
		requests[nreq].mode = EVENT_LOCK_SEND;
		nreq++;
		foreach(lc, triggers)
			waits_cancel_on_locks(((InngestTrigger *) lfirst(lc))->function,
								  requests, &nreq);
	}
	Assert(nreq <= cap);
	waits_lock_events(requests, nreq);

	hash_seq_init(&status, names);
	while ((entry = hash_seq_search(&status)) != NULL)
		entry->waited = waits_name_is_waited(entry->name);
}

/*
 * Pass 1: validate every event, collect the distinct names, lock them and
 * deduplicate the events that carry an id.
 */
static void
collect_events(EventSource *src, FanOut *fo)
{
	MemoryContext rowcxt = AllocSetContextCreate(CurrentMemoryContext,
												 "inngest event row",
												 ALLOCSET_DEFAULT_SIZES);
	Datum	   *ids = NULL;
	Datum	   *seqs = NULL;
	int			nids = 0;
	int			cap = 0;
	EventRow	row;
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = INNGEST_KEY_SIZE;
	ctl.entrysize = sizeof(NameEntry);
	ctl.hcxt = CurrentMemoryContext;
	fo->names = hash_create("inngest event names", 16, &ctl,
							HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);

	src->rescan(src);
	while (src->next(src, &row))
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(rowcxt);
		char		key[INNGEST_KEY_SIZE];
		bool		found;
		NameEntry  *entry;

		validate_event(row.name, row.data, !src->system);
		MemoryContextSwitchTo(oldcxt);
		name_key(&row, key);
		entry = hash_search(fo->names, key, HASH_ENTER, &found);
		if (!found)
			entry->waited = false;

		if (row.id != NULL)
		{
			if (nids == cap)
			{
				cap = Max(64, cap * 2);
				ids = ids ? repalloc(ids, sizeof(Datum) * cap) : palloc(sizeof(Datum) * cap);
				seqs = seqs ? repalloc(seqs, sizeof(Datum) * cap) : palloc(sizeof(Datum) * cap);
			}
			ids[nids] = PointerGetDatum(DatumGetTextPCopy(PointerGetDatum(row.id)));
			seqs[nids] = Int64GetDatum(row.seq);
			nids++;
		}
		MemoryContextReset(rowcxt);
	}
	MemoryContextDelete(rowcxt);

	lock_and_find_waited(fo->names);
	if (nids > 0)
		fo->naccepted = dedup_events(ids, seqs, nids, &fo->accepted);
}

/*
 * Resolve the waits of the events gathered so far, then create the runs
 * gathered so far.  Events resolve the waits that exist before this
 * batch's runs; a match whose run is being driven is kept for the
 * executors, so that an event never waits for a driver.
 */
static void
flush(FanOut *fo)
{
	ListCell   *lc;

	if (fo->nwaited > 0)
	{
		foreach(lc, waits_find_hits(fo->waited_names, fo->waited_events,
									fo->waited_about, fo->waited_seqs,
									fo->nwaited, fo->relid))
		{
			WaitHit    *hit = lfirst(lc);

			/* a wait or cancelOn of a role that may not see this row */
			if (OidIsValid(hit->owner) && rls_hides(fo->relid, hit->owner, hit->seq))
				continue;

			if (!lifecycle_apply_hit(hit, true))
				waits_defer_hit(hit);
		}
		fo->nwaited = 0;
	}
	if (fo->runs->n == 0)
		return;
	if (!fo->cancel_on)
	{
		(void) runs_create(fo->runs, false);
		return;
	}

	/* some runs have cancelOn rules to register: the new rows say which */
	{
		uint64		n = runs_create(fo->runs, true);
		SPITupleTable *tuptable = SPI_tuptable;
		uint64		i;

		for (i = 0; i < n; i++)
		{
			HeapTuple	tup = tuptable->vals[i];
			bool		isnull;
			InngestFunction *fn;

			fn = catalog_lookup_function(TextDatumGetCString(SPI_getbinval(tup, tuptable->tupdesc, 2, &isnull)));
			if (fn != NULL && fn->cancel_on != NIL)
				waits_register_cancel_on(DatumGetInt64(SPI_getbinval(tup, tuptable->tupdesc, 1, &isnull)),
										 fn,
										 DatumGetJsonbP(SPI_getbinval(tup, tuptable->tupdesc, 3, &isnull)));
		}
		SPI_freetuptable(tuptable);
		fo->cancel_on = false;
	}
}

/* The error of a run that would be deeper than inngest.max_depth */
static Jsonb *
too_deep(int depth)
{
	JsonbParseState *state = NULL;

	(void) pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	jsonb_push_string(&state, "reason", "inngest.max_depth", strlen("inngest.max_depth"));
	jsonb_push_int64(&state, "depth", depth);
	jsonb_push_int64(&state, "max_depth", inngest_max_depth);
	jsonb_push_string(&state, "message",
					  "the event was sent by a chain of runs longer than inngest.max_depth",
					  strlen("the event was sent by a chain of runs longer than inngest.max_depth"));
	return JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL));
}

/* inngest.events */
static Oid
events_relid(void)
{
	return get_relname_relid("events", get_namespace_oid("inngest", false));
}

/*
 * Whether role may receive events (a trigger or a wait on an event name):
 * it must be able to read them, so SELECT on inngest.events.
 */
bool
events_may_subscribe(Oid role)
{
	return pg_class_aclcheck(events_relid(), role, ACL_SELECT) == ACLCHECK_OK;
}

/*
 * A step's sendEvent: its run's role needs the INSERT right on the
 * columns a sender chooses, as for an INSERT of its own.  The event is
 * then stored by the extension (events_publish), with depth and seq the
 * engine's.
 */
void
events_check_sender(Oid role, const char *event_name, const char *function_id)
{
	Oid			relid = events_relid();
	char	   *rolename = GetUserNameFromId(role, true);

	/* the table's right (superusers have it), or the columns' */
	if (pg_class_aclcheck(relid, role, ACL_INSERT) == ACLCHECK_OK)
		return;
	if (pg_attribute_aclcheck(relid, get_attnum(relid, "name"), role, ACL_INSERT) == ACLCHECK_OK &&
		pg_attribute_aclcheck(relid, get_attnum(relid, "data"), role, ACL_INSERT) == ACLCHECK_OK)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied to send event \"%s\"", event_name),
			 errdetail("Role %s, which inngest function \"%s\" runs as, may not insert into inngest.events.",
					   rolename ? rolename : "?", function_id),
			 errhint("GRANT INSERT (id, name, data, ts) ON inngest.events TO the function's owner.")));
}

/*
 * Whether row-level security enabled on inngest.events hides the event
 * seq from role: its policies decide, evaluated as that role.  Costs one
 * relcache look-up when the table has no row-level security.
 */
static bool
rls_hides(Oid relid, Oid role, int64 seq)
{
	static SPIPlanPtr visible_plan = NULL;
	static const Oid types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(seq)};
	Oid			save_userid;
	int			save_sec;
	uint64		n;

	if (check_enable_rls(relid, role, true) != RLS_ENABLED)
		return false;
	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(role, save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	n = inngest_run_plan(&visible_plan,
						 "SELECT FROM inngest.events WHERE seq = $1",
						 1, types, values, NULL, SPI_OK_SELECT);
	SetUserIdAndSecContext(save_userid, save_sec);
	return n == 0;
}

/*
 * Whether the event may start a run of fn (or resolve a wait of its run):
 * fn's owner must be able to read it.  That is SELECT on inngest.events;
 * with row-level security enabled on inngest.events for that role, the
 * row must be visible to it; and a system event about a run is received
 * only by roles that may see that run (its owner's, or inngest_reader).
 * The last owner's rights are remembered: a batch's events mostly go to
 * the same functions.
 */
static bool
may_receive(FanOut *fo, Oid owner, EventRow *row)
{
	if (owner != fo->last_owner)
	{
		fo->last_owner = owner;
		fo->last_may_read = pg_class_aclcheck(fo->relid, owner, ACL_SELECT) == ACLCHECK_OK;
		fo->last_rls = fo->last_may_read &&
			check_enable_rls(fo->relid, owner, true) == RLS_ENABLED;
	}
	if (!fo->last_may_read)
		return false;
	if (OidIsValid(fo->about) && !has_privs_of_role(owner, fo->about) &&
		!inngest_is_reader(owner))
		return false;
	if (fo->last_rls && rls_hides(fo->relid, owner, row->seq))
		return false;
	return true;
}

/*
 * Start a run of each function whose trigger matches the event, at the
 * event's depth; beyond inngest.max_depth the runs are created skipped,
 * so that functions triggering each other cannot loop forever.
 */
static void
start_runs(FanOut *fo, List *triggers, EventRow *row, Jsonb *event, int depth)
{
	InngestFunction *started = NULL;
	ListCell   *lc;

	foreach(lc, triggers)
	{
		InngestTrigger *trig = lfirst(lc);
		InngestFunction *fn = trig->function;

		/*
		 * One run per function and event, however many of its triggers
		 * match: a function's triggers are adjacent in the list.
		 */
		if (fn == started)
			continue;
		if (trig->condition != NULL && !expr_match(trig->condition, event, NULL))
			continue;
		if (!may_receive(fo, fn->owner, row))
			continue;
		started = fn;
		if (depth > inngest_max_depth)
		{
			(void) runs_create_skipped(fn->id, event, too_deep(depth));
			continue;
		}
		if (fn->flow != NULL && fn->flow->admission)
		{
			/* rules decide whether and when it starts (flow.c) */
			(void) flow_admit(fn, event);
			continue;
		}
		/* a busy concurrency key: the run is created set aside (slots.c) */
		runs_add(fo->runs, fn->id, event, inngest_clock(),
				 slots_ingest_park(fn, event), NULL);
		fo->cancel_on |= fn->cancel_on != NIL;
		if (fo->runs->n >= FAN_OUT_BATCH)
			flush(fo);
	}
}

/*
 * Pass 2: for each accepted event that some function or wait listens for,
 * build the event as handlers see it, gather it for the wait look-up and
 * start the runs it triggers.
 */
static void
dispatch_events(EventSource *src, FanOut *fo)
{
	EventRow	row;
	int			outer_depth = runs_set_depth(0);

	src->rescan(src);
	while (src->next(src, &row))
	{
		List	   *triggers;
		char		key[INNGEST_KEY_SIZE];
		NameEntry  *entry;
		Jsonb	   *event;
		char	   *id;

		triggers = catalog_event_triggers(VARDATA_ANY(row.name),
										  VARSIZE_ANY_EXHDR(row.name));
		name_key(&row, key);
		entry = hash_search(fo->names, key, HASH_FIND, NULL);
		if (triggers == NIL && !entry->waited)
			continue;
		if (row.id != NULL &&
			bsearch(&row.seq, fo->accepted, fo->naccepted, sizeof(int64),
					int64_cmp) == NULL)
			continue;			/* a duplicate: stored, starts nothing */

		/* the user's id, else our sequence number: every event has one */
		id = row.id ? text_to_cstring(row.id) : psprintf(INT64_FORMAT, row.seq);
		event = jsonb_event(VARDATA_ANY(row.name), VARSIZE_ANY_EXHDR(row.name),
							DatumGetJsonbP(row.data), id, strlen(id), row.ts);

		if (entry->waited)
		{
			if (fo->nwaited == fo->waited_cap)
			{
				fo->waited_cap *= 2;
				fo->waited_names = repalloc(fo->waited_names,
											sizeof(Datum) * fo->waited_cap);
				fo->waited_events = repalloc(fo->waited_events,
											 sizeof(Datum) * fo->waited_cap);
				fo->waited_about = repalloc(fo->waited_about,
											sizeof(Datum) * fo->waited_cap);
				fo->waited_seqs = repalloc(fo->waited_seqs,
										   sizeof(Datum) * fo->waited_cap);
			}
			fo->waited_names[fo->nwaited] =
				PointerGetDatum(DatumGetTextPCopy(PointerGetDatum(row.name)));
			fo->waited_events[fo->nwaited] = JsonbPGetDatum(event);
			fo->waited_about[fo->nwaited] = ObjectIdGetDatum(fo->about);
			fo->waited_seqs[fo->nwaited] = Int64GetDatum(row.seq);
			fo->nwaited++;
		}
		(void) runs_set_depth(row.depth);
		start_runs(fo, triggers, &row, event, row.depth);
		if (fo->nwaited >= FAN_OUT_BATCH)
			flush(fo);
	}
	flush(fo);
	(void) runs_set_depth(outer_depth);
}

/*
 * The fan-out of a batch of stored events: validate them (an invalid one
 * is an error that rolls the batch back), deduplicate by id, resolve the
 * waits they match and start the runs they trigger, all in the caller's
 * transaction.  SPI connected, as the extension owner.
 */
void
events_fan_out(EventSource *src)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext,
											  "inngest fan-out",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext oldcxt = MemoryContextSwitchTo(cxt);
	FanOut		fo;

	memset(&fo, 0, sizeof(fo));
	catalog_refresh();
	collect_events(src, &fo);

	/* room for a few; the arrays grow up to FAN_OUT_BATCH */
	fo.runs = runs_new_batch(16);
	fo.waited_cap = 16;
	fo.waited_names = palloc(sizeof(Datum) * fo.waited_cap);
	fo.waited_events = palloc(sizeof(Datum) * fo.waited_cap);
	fo.waited_about = palloc(sizeof(Datum) * fo.waited_cap);
	fo.waited_seqs = palloc(sizeof(Datum) * fo.waited_cap);
	fo.about = src->about;
	fo.relid = events_relid();
	fo.last_owner = InvalidOid;
	slots_ingest_begin();
	dispatch_events(src, &fo);

	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(cxt);
}

/* ----------------------------------------------------------------------
 * The event trigger
 * ----------------------------------------------------------------------
 */

static bool
transition_next(EventSource *src, EventRow *row)
{
	TableSource *ts = (TableSource *) src;
	TupleTableSlot *slot = ts->slot;
	bool		isnull;
	Datum		id;

	if (!tuplestore_gettupleslot(ts->store, true, false, slot))
		return false;
	row->name = DatumGetTextPP(slot_getattr(slot, ts->col.name, &isnull));
	row->data = slot_getattr(slot, ts->col.data, &isnull);
	id = slot_getattr(slot, ts->col.id, &isnull);
	row->id = isnull ? NULL : DatumGetTextPP(id);
	row->seq = DatumGetInt64(slot_getattr(slot, ts->col.seq, &isnull));
	row->ts = DatumGetTimestampTz(slot_getattr(slot, ts->col.ts, &isnull));
	row->depth = DatumGetInt32(slot_getattr(slot, ts->col.depth, &isnull));
	return true;
}

static void
transition_rescan(EventSource *src)
{
	tuplestore_rescan(((TableSource *) src)->store);
}

/*
 * AFTER INSERT ... FOR EACH STATEMENT on inngest.events: the fan-out of
 * the statement's events, as the extension owner.  Events loaded by a
 * session restoring a dump are only stored: they were fanned out when
 * they were first inserted, and what that did is in the dump too
 * (restore.c).
 */
Datum
inngest_events_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TableSource src;
	TupleDesc	desc;
	Oid			save_userid;
	int			save_sec;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_AFTER(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event) ||
		!TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
		elog(ERROR, "inngest_events_trigger must be an AFTER INSERT statement trigger");
	if (trigdata->tg_newtable == NULL)
		elog(ERROR, "inngest_events_trigger needs a NEW TABLE transition table");
	if (restore_loading())
		return PointerGetDatum(NULL);

	desc = RelationGetDescr(trigdata->tg_relation);
	src.base.next = transition_next;
	src.base.rescan = transition_rescan;
	src.base.system = false;
	src.base.about = InvalidOid;
	src.store = trigdata->tg_newtable;
	src.slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	event_columns(desc, &src.col);

	inngest_become_owner(&save_userid, &save_sec);
	inngest_spi_connect();
	events_fan_out(&src.base);
	SPI_finish();
	inngest_restore_user(save_userid, save_sec);
	ExecDropSingleTupleTableSlot(src.slot);

	return PointerGetDatum(NULL);
}

/* ----------------------------------------------------------------------
 * Events the extension sends itself
 * ----------------------------------------------------------------------
 */

static bool
one_next(EventSource *src, EventRow *row)
{
	OneEvent   *one = (OneEvent *) src;

	if (one->done)
		return false;
	*row = one->row;
	one->done = true;
	return true;
}

static void
one_rescan(EventSource *src)
{
	((OneEvent *) src)->done = false;
}

/*
 * Store an event in inngest.events as an INSERT would (its identity seq,
 * its indexes, row triggers), through the executor's single-row insert,
 * which fires no statement trigger.  Returns its seq.
 */
static int64
store_event(text *name, Jsonb *data, TimestampTz ts, int depth)
{
	static Oid	known_relid = InvalidOid;
	static Oid	known_seqid = InvalidOid;
	Oid			relid = get_relname_relid("events", get_namespace_oid("inngest", false));
	Relation	rel = table_open(relid, RowExclusiveLock);
	TupleDesc	desc = RelationGetDescr(rel);
	EState	   *estate = CreateExecutorState();
	RangeTblEntry *rte = makeNode(RangeTblEntry);
	ResultRelInfo *rri = makeNode(ResultRelInfo);
	TupleTableSlot *slot;
	EventColumns col;
	int64		seq;

	event_columns(desc, &col);
	/* the identity's sequence, looked up again if the table is another */
	if (relid != known_relid)
	{
		known_seqid = getIdentitySequence(relid, col.seq, false);
		known_relid = relid;
	}
	seq = nextval_internal(known_seqid, false);

	rte->rtekind = RTE_RELATION;
	rte->relid = relid;
	rte->relkind = rel->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
	ExecInitRangeTable(estate, list_make1(rte));
	InitResultRelInfo(rri, rel, 1, NULL, 0);
	estate->es_output_cid = GetCurrentCommandId(true);
	ExecOpenIndices(rri, false);

	slot = ExecInitExtraTupleSlot(estate, desc, &TTSOpsVirtual);
	ExecClearTuple(slot);
	memset(slot->tts_isnull, true, sizeof(bool) * desc->natts);
	slot->tts_values[col.seq - 1] = Int64GetDatum(seq);
	slot->tts_isnull[col.seq - 1] = false;
	slot->tts_values[col.name - 1] = PointerGetDatum(name);
	slot->tts_isnull[col.name - 1] = false;
	slot->tts_values[col.data - 1] = JsonbPGetDatum(data);
	slot->tts_isnull[col.data - 1] = false;
	slot->tts_values[col.ts - 1] = TimestampTzGetDatum(ts);
	slot->tts_isnull[col.ts - 1] = false;
	slot->tts_values[col.depth - 1] = Int32GetDatum(depth);
	slot->tts_isnull[col.depth - 1] = false;
	ExecStoreVirtualTuple(slot);

	/* row triggers a DBA may have added fire as for an INSERT */
	AfterTriggerBeginQuery();
	ExecSimpleRelationInsert(rri, estate, slot);
	AfterTriggerEndQuery(estate);

	ExecCloseIndices(rri);
	ExecResetTupleTable(estate->es_tupleTable, false);
	FreeExecutorState(estate);
	table_close(rel, NoLock);
	CommandCounterIncrement();
	return seq;
}

static int64
publish(const char *name, Jsonb *data, bool system, int depth, Oid about)
{
	OneEvent	one;

	memset(&one, 0, sizeof(one));
	one.base.next = one_next;
	one.base.rescan = one_rescan;
	one.base.system = system;
	one.base.about = about;
	one.row.name = cstring_to_text(name);
	one.row.data = JsonbPGetDatum(data);
	one.row.id = NULL;
	one.row.ts = inngest_clock();
	one.row.depth = depth;
	one.row.seq = store_event(one.row.name, data, one.row.ts, depth);
	events_fan_out(&one.base);
	return one.row.seq;
}

/*
 * Send an event from inside the extension on behalf of a step
 * (step_send_event) of a run at depth - 1, and return its seq.  It is stored and fanned out like
 * any other, so functions may trigger on it and waits see it, but without
 * an INSERT statement: no trigger runs nested inside the caller.  SPI
 * connected, as the extension owner.
 */
int64
events_publish(const char *name, Jsonb *data, int depth)
{
	return publish(name, data, false, depth, InvalidOid);
}

/*
 * The same for a system event (inngest/function.finished, ...): it is not
 * held to inngest.max_event_size, since it carries a run's event and
 * output, each within their own limits, and must never fail that run.
 * about: the owner of that run (InvalidOid if its function is gone): only
 * roles that may see the run receive the event (may_receive).
 */
int64
events_publish_system(const char *name, Jsonb *data, int depth, Oid about)
{
	return publish(name, data, true, depth, about);
}
