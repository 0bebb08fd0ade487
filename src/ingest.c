/*-------------------------------------------------------------------------
 *
 * ingest.c
 *	  The statement-level trigger on inngest.events: validate events,
 *	  deduplicate them by id, and start a run of every function whose
 *	  trigger matches.
 *
 * The trigger sees the whole statement's rows through its transition
 * table, so INSERT ... SELECT of 100,000 events costs one pass over them,
 * one deduplication statement and one INSERT of runs per 10,000 runs,
 * with no SQL parsed per event: event names are looked up in the
 * function cache and "if" conditions are precompiled jsonpath.
 *
 *-------------------------------------------------------------------------
 */
#include "inngest.h"

#include "access/detoast.h"
#include "access/tupdesc.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "catalog.h"
#include "expr.h"
#include "flow.h"
#include "guc.h"
#include "ingest.h"
#include "jsonutil.h"
#include "waits.h"
#include "worker.h"

/* Runs are inserted in batches of this many */
#define INGEST_BATCH 10000

/* Columns of inngest.events, by name, resolved per statement */
typedef struct EventColumns
{
	int			seq;
	int			id;
	int			name;
	int			data;
	int			ts;
} EventColumns;

/*
 * Work accumulated across events: runs to insert, and events to match
 * against waits.  Flushed every INGEST_BATCH of either.
 */
typedef struct RunBatch
{
	int			n;
	Datum		function_ids[INGEST_BATCH];
	Datum		events[INGEST_BATCH];
	Datum		parked[INGEST_BATCH];	/* concurrency key to wait for */
	bool		parked_nulls[INGEST_BATCH];
	bool		any_parked;
	bool		cancel_on;		/* a function of these runs has cancelOn */
	int			nwaited;
	Datum		waited_names[INGEST_BATCH];
	Datum		waited_events[INGEST_BATCH];
} RunBatch;

/* The distinct event names of a statement */
typedef struct NameEntry
{
	char		name[INNGEST_KEY_SIZE]; /* hash key */
	bool		waited;			/* some run may wait for it */
} NameEntry;

static SPIPlanPtr insert_runs_plan = NULL;
static SPIPlanPtr dedup_plan = NULL;
static SPIPlanPtr send_plan = NULL;
static SPIPlanPtr insert_runs_returning_plan = NULL;
static SPIPlanPtr insert_run_plan = NULL;

PG_FUNCTION_INFO_V1(inngest_events_trigger);

/*
 * Register the cancelOn waits of the runs an INSERT ... RETURNING id,
 * function_id, event just created (in SPI_tuptable).
 */
static void
register_new_runs_cancel_waits(void)
{
	SPITupleTable *tuptable = SPI_tuptable;
	uint64		nrows = SPI_processed;
	uint64		i;

	for (i = 0; i < nrows; i++)
	{
		bool		isnull;
		HeapTuple	tup = tuptable->vals[i];
		InngestFunction *fn;

		fn = catalog_lookup_function(TextDatumGetCString(SPI_getbinval(tup, tuptable->tupdesc, 2, &isnull)));
		if (fn != NULL && fn->cancel_on != NIL)
			ingest_register_cancel_waits(DatumGetInt64(SPI_getbinval(tup, tuptable->tupdesc, 1, &isnull)),
										 fn,
										 DatumGetJsonbP(SPI_getbinval(tup, tuptable->tupdesc, 3, &isnull)));
	}
	SPI_freetuptable(tuptable);
}

/* Insert the accumulated runs in one statement */
static void
flush_runs(RunBatch *batch)
{
	Oid			types[4] = {TEXTARRAYOID, JSONBARRAYOID, TIMESTAMPTZOID,
	TEXTARRAYOID};
	Datum		values[4];
	SPIPlanPtr	plan;
	int			ret;
	int			dims[1];
	int			lbs[1] = {1};

	/* events resolve the waits that exist before this statement's runs */
	if (batch->nwaited > 0)
	{
		waits_resolve_events(batch->waited_names, batch->waited_events,
							 batch->nwaited);
		batch->nwaited = 0;
	}
	if (batch->n == 0)
		return;

	values[0] = PointerGetDatum(construct_array(batch->function_ids, batch->n,
												TEXTOID, -1, false, TYPALIGN_INT));
	values[1] = PointerGetDatum(construct_array(batch->events, batch->n,
												JSONBOID, -1, false, TYPALIGN_INT));
	values[2] = TimestampTzGetDatum(inngest_clock());
	dims[0] = batch->n;
	values[3] = PointerGetDatum(construct_md_array(batch->parked, batch->parked_nulls,
												   1, dims, lbs, TEXTOID, -1, false,
												   TYPALIGN_INT));

	if (batch->any_parked || batch->cancel_on)
	{
		/*
		 * Some runs wait for a busy concurrency key (created set aside), or
		 * have cancelOn rules to register.
		 */
		plan = inngest_keep_plan(&insert_runs_returning_plan,
								 "INSERT INTO inngest.runs (function_id, event, status, wake_at, "
								 "created_at, blocked_on, queue_at) "
								 "SELECT u.f, u.e, 'queued', CASE WHEN u.b IS NULL THEN $3 END, $3, "
								 "u.b, CASE WHEN u.b IS NOT NULL THEN $3 END "
								 "FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.text[]), "
								 "pg_catalog.unnest($2::pg_catalog.jsonb[]), "
								 "pg_catalog.unnest($4::pg_catalog.text[])) AS u(f, e, b) "
								 "RETURNING id, function_id, event", 4, types);
		ret = SPI_execute_plan(plan, values, NULL, false, 0);
		if (ret != SPI_OK_INSERT_RETURNING)
			elog(ERROR, "could not insert runs: %s", SPI_result_code_string(ret));
		register_new_runs_cancel_waits();
	}
	else
	{
		plan = inngest_keep_plan(&insert_runs_plan,
								 "INSERT INTO inngest.runs (function_id, event, status, wake_at, created_at) "
								 "SELECT u.f, u.e, 'queued', $3, $3 "
								 "FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.text[]), "
								 "pg_catalog.unnest($2::pg_catalog.jsonb[])) AS u(f, e)", 3, types);
		ret = SPI_execute_plan(plan, values, NULL, false, 0);
		if (ret != SPI_OK_INSERT)
			elog(ERROR, "could not insert runs: %s", SPI_result_code_string(ret));
	}
	batch->n = 0;
	batch->any_parked = false;
	batch->cancel_on = false;
	worker_request_wake();
}

/*
 * Register the cancelOn rules of fn for a new run as waits of kind
 * 'cancel'.  The caller holds the rules' event names in EVENT_LOCK_WAIT.
 */
void
ingest_register_cancel_waits(int64 run_id, InngestFunction *fn, Jsonb *event)
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

/* Lock requests for the cancelOn event names of fn */
static EventLockRequest *
cancel_lock_requests(InngestFunction *fn, int *n)
{
	EventLockRequest *requests = palloc(sizeof(EventLockRequest) *
										(list_length(fn->cancel_on) + 1));
	ListCell   *lc;

	*n = 0;
	foreach(lc, fn->cancel_on)
	{
		requests[*n].name = ((CancelRule *) lfirst(lc))->event;
		requests[*n].mode = EVENT_LOCK_WAIT;
		(*n)++;
	}
	return requests;
}

/*
 * Start one run of a function with the given event, outside the event
 * trigger (rerun, invoke): with its cancelOn waits.  Returns the run's id.
 * The caller has SPI connected and runs as the extension owner.
 */
int64
ingest_start_run(const char *function_id, Jsonb *event)
{
	InngestFunction *fn;

	catalog_refresh();
	fn = catalog_lookup_function(function_id);
	if (fn == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("inngest function \"%s\" does not exist", function_id)));
	if (fn->cancel_on != NIL)
	{
		int			n;
		EventLockRequest *requests = cancel_lock_requests(fn, &n);

		waits_lock_events(requests, n);
	}

	return ingest_insert_run(fn, event, inngest_clock(), NULL, NULL);
}

/*
 * Insert one run of fn, due at wake_at, or set aside on the concurrency
 * key blocked_on (then wake_at is its place in the key's queue), with the
 * singleton key active_key if not NULL; register its cancelOn waits (the
 * caller holds their event-name locks) and wake the workers at commit.
 * Returns the run's id.  The caller has SPI connected and runs as the
 * extension owner.
 */
int64
ingest_insert_run(InngestFunction *fn, Jsonb *event, TimestampTz wake_at,
				  const char *active_key, const char *blocked_on)
{
	Oid			types[6] = {TEXTOID, JSONBOID, TIMESTAMPTZOID, TEXTOID,
	TIMESTAMPTZOID, TEXTOID};
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	bool		isnull;
	int64		run_id;

	values[0] = CStringGetTextDatum(fn->id);
	values[1] = JsonbPGetDatum(event);
	values[2] = TimestampTzGetDatum(wake_at);
	values[3] = active_key ? CStringGetTextDatum(active_key) : (Datum) 0;
	nulls[3] = active_key ? ' ' : 'n';
	values[4] = TimestampTzGetDatum(inngest_clock());
	values[5] = blocked_on ? CStringGetTextDatum(blocked_on) : (Datum) 0;
	nulls[5] = blocked_on ? ' ' : 'n';
	(void) inngest_run_plan(&insert_run_plan,
							"INSERT INTO inngest.runs (function_id, event, status, "
							"wake_at, created_at, active_key, blocked_on, queue_at) "
							"VALUES ($1, $2, 'queued', CASE WHEN $6 IS NULL THEN $3 END, "
							"$5, $4, $6, CASE WHEN $6 IS NOT NULL THEN $3 END) RETURNING id",
							6, types, values, nulls, SPI_OK_INSERT_RETURNING);
	run_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
										 SPI_tuptable->tupdesc, 1, &isnull));
	SPI_freetuptable(SPI_tuptable);
	if (fn->cancel_on != NIL)
		ingest_register_cancel_waits(run_id, fn, event);
	worker_request_wake();
	return run_id;
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
dedup_events(Datum *ids, Datum *seqs, int n, int64 **accepted)
{
	Oid			types[4] = {TEXTARRAYOID, INT8ARRAYOID, TIMESTAMPTZOID,
	TIMESTAMPTZOID};
	Datum		values[4];
	SPIPlanPtr	plan;
	int			ret;
	uint64		i;
	TimestampTz now = inngest_clock();

	plan = inngest_keep_plan(&dedup_plan,
					 "INSERT INTO inngest.event_ids AS e (id, seq, expires_at) "
					 "SELECT DISTINCT ON (u.id) u.id, u.seq, $3 "
					 "FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.text[]), "
					 "pg_catalog.unnest($2::pg_catalog.int8[])) AS u(id, seq) ORDER BY u.id, u.seq "
					 "ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, "
					 "expires_at = excluded.expires_at WHERE e.expires_at <= $4 "
					 "RETURNING e.seq", 4, types);
	values[0] = PointerGetDatum(construct_array(ids, n, TEXTOID, -1, false,
												TYPALIGN_INT));
	values[1] = PointerGetDatum(construct_array(seqs, n, INT8OID, 8,
												FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[2] = TimestampTzGetDatum(now + (int64) INNGEST_DEDUP_WINDOW_SECS * USECS_PER_SEC);
	values[3] = TimestampTzGetDatum(now);
	ret = SPI_execute_plan(plan, values, NULL, false, 0);
	if (ret != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "could not deduplicate events: %s", SPI_result_code_string(ret));

	*accepted = palloc(sizeof(int64) * (SPI_processed + 1));
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		(*accepted)[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
													 SPI_tuptable->tupdesc, 1, &isnull));
	}
	qsort(*accepted, SPI_processed, sizeof(int64), int64_cmp);
	return (int) SPI_processed;
}

/* The event as a handler sees it: {"name", "data", "id", "ts"} */
static Jsonb *
event_jsonb(text *name, Jsonb *data, text *id, int64 seq, TimestampTz ts)
{
	JsonbParseState *state = NULL;

	(void) pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	jsonb_push_string(&state, "name", VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name));
	jsonb_push_jsonb(&state, "data", data);
	/* the user's id, else our sequence number, so that every event has one */
	if (id != NULL)
		jsonb_push_string(&state, "id", VARDATA_ANY(id), VARSIZE_ANY_EXHDR(id));
	else
	{
		char	   *seqtext = psprintf(INT64_FORMAT, seq);

		jsonb_push_string(&state, "id", seqtext, strlen(seqtext));
	}
	/* Inngest's ts: milliseconds since the Unix epoch */
	jsonb_push_int64(&state, "ts", ts / 1000 +
					 (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * 1000);
	return JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL));
}

/* Reject bad events with an error naming the problem */
static void
validate_event(text *name, Datum data_datum, int64 seq)
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
				 errmsg("event name \"%.40s...\" is too long", text_to_cstring(name)),
				 errdetail("The limit is %d bytes.", INNGEST_MAX_ID_LEN)));

	size = toast_raw_datum_size(data_datum);
	if (size > (Size) inngest_max_event_size * 1024)
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

/*
 * Lock the statement's event names in share mode (see waits.c: an event's
 * look-up of waits must follow any wait committed before it) and mark the
 * names that have waits.
 */
static void
lock_and_find_waited(HTAB *names)
{
	HASH_SEQ_STATUS status;
	NameEntry  *entry;
	int			n = hash_get_num_entries(names);
	int			nreq = 0;
	int			cap = n + 8;
	EventLockRequest *requests = palloc(sizeof(EventLockRequest) * cap);

	hash_seq_init(&status, names);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		ListCell   *lc;

		requests[nreq].name = entry->name;
		requests[nreq].mode = EVENT_LOCK_SEND;
		nreq++;

		/* runs started by these events register their cancelOn waits */
		foreach(lc, catalog_event_triggers(entry->name, strlen(entry->name)))
		{
			InngestFunction *fn = ((InngestTrigger *) lfirst(lc))->function;
			ListCell   *rc;

			foreach(rc, fn->cancel_on)
			{
				if (nreq == cap)
				{
					cap *= 2;
					requests = repalloc(requests, sizeof(EventLockRequest) * cap);
				}
				requests[nreq].name = ((CancelRule *) lfirst(rc))->event;
				requests[nreq].mode = EVENT_LOCK_WAIT;
				nreq++;
			}
		}
	}
	waits_lock_events(requests, nreq);

	hash_seq_init(&status, names);
	while ((entry = hash_seq_search(&status)) != NULL)
		entry->waited = waits_name_is_waited(entry->name);
}

/*
 * AFTER INSERT ... FOR EACH STATEMENT on inngest.events.
 */
Datum
inngest_events_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Tuplestorestate *store;
	TupleDesc	desc;
	TupleTableSlot *slot;
	EventColumns col;
	Oid			save_userid;
	int			save_sec;
	MemoryContext rowcxt;
	MemoryContext oldcxt;
	Datum	   *dedup_ids = NULL;
	Datum	   *dedup_seqs = NULL;
	int			ndedup = 0;
	int			dedup_cap = 0;
	int64	   *accepted = NULL;
	int			naccepted = 0;
	HTAB	   *names;
	HASHCTL		ctl;
	RunBatch   *batch;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_AFTER(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event) ||
		!TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
		elog(ERROR, "inngest_events_trigger must be an AFTER INSERT statement trigger");
	store = trigdata->tg_newtable;
	if (store == NULL)
		elog(ERROR, "inngest_events_trigger needs a NEW TABLE transition table");

	desc = RelationGetDescr(trigdata->tg_relation);
	col.seq = SPI_fnumber(desc, "seq");
	col.id = SPI_fnumber(desc, "id");
	col.name = SPI_fnumber(desc, "name");
	col.data = SPI_fnumber(desc, "data");
	col.ts = SPI_fnumber(desc, "ts");
	if (col.seq <= 0 || col.id <= 0 || col.name <= 0 || col.data <= 0 || col.ts <= 0)
		elog(ERROR, "inngest.events does not have the expected columns");

	slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "inngest event row",
								   ALLOCSET_DEFAULT_SIZES);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = INNGEST_KEY_SIZE;
	ctl.entrysize = sizeof(NameEntry);
	ctl.hcxt = CurrentMemoryContext;
	names = hash_create("inngest event names", 16, &ctl,
						HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);

	inngest_become_owner(&save_userid, &save_sec);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	catalog_refresh();

	/* Pass 1: validate every event, collect names and ids */
	tuplestore_rescan(store);
	while (tuplestore_gettupleslot(store, true, false, slot))
	{
		bool		isnull;
		text	   *name;
		Datum		id;
		char		key[INNGEST_KEY_SIZE];
		NameEntry  *entry;
		bool		found;

		oldcxt = MemoryContextSwitchTo(rowcxt);
		name = DatumGetTextPP(slot_getattr(slot, col.name, &isnull));
		validate_event(name, slot_getattr(slot, col.data, &isnull),
					   DatumGetInt64(slot_getattr(slot, col.seq, &isnull)));
		MemoryContextSwitchTo(oldcxt);
		memcpy(key, VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name));
		key[VARSIZE_ANY_EXHDR(name)] = '\0';
		entry = hash_search(names, key, HASH_ENTER, &found);
		if (!found)
			entry->waited = false;

		id = slot_getattr(slot, col.id, &isnull);
		if (!isnull)
		{
			if (ndedup == dedup_cap)
			{
				dedup_cap = Max(64, dedup_cap * 2);
				dedup_ids = dedup_ids ? repalloc(dedup_ids, sizeof(Datum) * dedup_cap)
					: palloc(sizeof(Datum) * dedup_cap);
				dedup_seqs = dedup_seqs ? repalloc(dedup_seqs, sizeof(Datum) * dedup_cap)
					: palloc(sizeof(Datum) * dedup_cap);
			}
			dedup_ids[ndedup] = PointerGetDatum(DatumGetTextPCopy(id));
			dedup_seqs[ndedup] = slot_getattr(slot, col.seq, &isnull);
			ndedup++;
		}
		MemoryContextReset(rowcxt);
	}

	lock_and_find_waited(names);
	if (ndedup > 0)
		naccepted = dedup_events(dedup_ids, dedup_seqs, ndedup, &accepted);

	/* Pass 2: resolve waits, start a run of every matching function */
	batch = palloc(sizeof(RunBatch));
	batch->n = 0;
	batch->nwaited = 0;
	batch->cancel_on = false;
	batch->any_parked = false;
	slots_ingest_begin();
	tuplestore_rescan(store);
	while (tuplestore_gettupleslot(store, true, false, slot))
	{
		bool		isnull;
		bool		id_isnull;
		text	   *name;
		List	   *triggers;
		ListCell   *lc;
		Datum		id_datum;
		int64		seq;
		Jsonb	   *event;
		char		key[INNGEST_KEY_SIZE];
		NameEntry  *entry;

		name = DatumGetTextPP(slot_getattr(slot, col.name, &isnull));
		triggers = catalog_event_triggers(VARDATA_ANY(name),
										  VARSIZE_ANY_EXHDR(name));
		memcpy(key, VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name));
		key[VARSIZE_ANY_EXHDR(name)] = '\0';
		entry = hash_search(names, key, HASH_FIND, NULL);
		if (triggers == NIL && !entry->waited)
			continue;

		seq = DatumGetInt64(slot_getattr(slot, col.seq, &isnull));
		id_datum = slot_getattr(slot, col.id, &id_isnull);
		if (!id_isnull &&
			bsearch(&seq, accepted, naccepted, sizeof(int64), int64_cmp) == NULL)
			continue;		/* a duplicate: stored, starts nothing */

		/* the event as handlers see it, in the batch's memory */
		event = event_jsonb(name,
							DatumGetJsonbP(slot_getattr(slot, col.data, &isnull)),
							id_isnull ? NULL : DatumGetTextPP(id_datum),
							seq,
							DatumGetTimestampTz(slot_getattr(slot, col.ts, &isnull)));

		if (entry->waited)
		{
			batch->waited_names[batch->nwaited] =
				PointerGetDatum(DatumGetTextPCopy(PointerGetDatum(name)));
			batch->waited_events[batch->nwaited] = JsonbPGetDatum(event);
			batch->nwaited++;
		}

		foreach(lc, triggers)
		{
			InngestTrigger *trig = lfirst(lc);

			if (trig->condition != NULL &&
				!expr_match(trig->condition, event, NULL))
				continue;
			if (trig->function->flow != NULL && trig->function->flow->admission)
			{
				/* rules decide whether and when it starts (flow.c) */
				(void) flow_admit(trig->function, event);
				continue;
			}
			batch->function_ids[batch->n] =
				CStringGetTextDatum(trig->function->id);
			{
				/* a busy concurrency key: the run is created set aside */
				char	   *park = slots_ingest_park(trig->function, event);

				batch->parked[batch->n] = park ? CStringGetTextDatum(park) : (Datum) 0;
				batch->parked_nulls[batch->n] = park == NULL;
				batch->any_parked |= park != NULL;
			}
			if (trig->function->cancel_on != NIL)
				batch->cancel_on = true;
			batch->events[batch->n] = JsonbPGetDatum(event);
			batch->n++;
			if (batch->n == INGEST_BATCH)
				flush_runs(batch);
		}
		if (batch->nwaited == INGEST_BATCH)
			flush_runs(batch);
	}
	flush_runs(batch);

	SPI_finish();
	inngest_restore_user(save_userid, save_sec);
	ExecDropSingleTupleTableSlot(slot);
	MemoryContextDelete(rowcxt);

	return PointerGetDatum(NULL);
}

/*
 * Send an event from inside the extension (system events, step_send_event)
 * and return its seq.  It goes through inngest.events like any other, so
 * functions may trigger on it.  The caller has SPI connected and runs as
 * the extension owner.
 */
int64
ingest_send_event(const char *name, Jsonb *data)
{
	Oid			types[2] = {TEXTOID, JSONBOID};
	Datum		values[2];
	SPIPlanPtr	plan;
	int			ret;
	bool		isnull;
	int64		seq;

	plan = inngest_keep_plan(&send_plan,
							 "INSERT INTO inngest.events (name, data) VALUES ($1, $2) "
							 "RETURNING seq", 2, types);
	values[0] = CStringGetTextDatum(name);
	values[1] = JsonbPGetDatum(data);
	ret = SPI_execute_plan(plan, values, NULL, false, 0);
	if (ret != SPI_OK_INSERT_RETURNING || SPI_processed != 1)
		elog(ERROR, "could not send event \"%s\": %s", name,
			 SPI_result_code_string(ret));
	seq = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
									  SPI_tuptable->tupdesc, 1, &isnull));
	SPI_freetuptable(SPI_tuptable);
	return seq;
}
