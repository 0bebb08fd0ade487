/*-------------------------------------------------------------------------
 *
 * catalog.c
 *	  Function definitions: create_function's validation and storage, and
 *	  the backend-local cache that the event trigger and the executor read.
 *
 * The cache maps event names to the triggers that listen for them and
 * function ids to what the executor needs (handler, owner, retries), with
 * every "if" expression already compiled to jsonpath.  It is rebuilt from
 * inngest.functions and inngest.triggers when a relcache invalidation of
 * inngest.functions arrives; create_function and delete_function send one,
 * so every backend sees a change at its next transaction without polling.
 *
 *-------------------------------------------------------------------------
 */
#include "inngest.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "cron.h"
#include "expr.h"
#include "flow.h"
#include "schedules.h"
#include "worker.h"
#include "waits.h"

/* Event name -> list of InngestTrigger */
typedef struct EventTriggers
{
	char		name[INNGEST_KEY_SIZE];	/* hash key */
	List	   *triggers;
} EventTriggers;

/* One parsed trigger of a configuration being created */
typedef struct TriggerConfig
{
	char	   *cron;			/* a cron trigger's schedule, or NULL */
	char	   *event;
	char	   *expression;
	JsonPath   *condition;
} TriggerConfig;

static MemoryContext cache_cxt = NULL;
static HTAB *functions_by_id = NULL;
static HTAB *triggers_by_event = NULL;
static bool cache_valid = false;
static bool callback_registered = false;
static Oid	functions_relid = InvalidOid;

/* Top-level keys of a configuration */
static const char *const known_keys[] = {
	"id", "name", "triggers", "event", "if", "cron", "retries", "cancelOn", "timeouts",
	"concurrency", "throttle", "rateLimit", "debounce", "batchEvents",
	"priority", "idempotency", "singleton"
};

#define INNGEST_MAX_CANCEL_ON 5

static void catalog_relcache_callback(Datum arg, Oid relid);
static void catalog_rebuild(void);
static Oid	catalog_functions_relid(void);
static void check_handler(Oid handler);
static void parse_run_options(Jsonb *config, InngestFunction *fn);
static List *parse_triggers(Jsonb *config);
static void parse_trigger_object(JsonbContainer *obj, const char *prefix,
								 bool check_keys, List **triggers);

/* ----------------------------------------------------------------------
 * The cache
 * ----------------------------------------------------------------------
 */

/*
 * Any relcache invalidation of inngest.functions (or a global one) marks
 * the cache stale.  The callback must not do catalog access, so it only
 * flips a flag; catalog_refresh() rebuilds.
 */
static void
catalog_relcache_callback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == functions_relid)
	{
		cache_valid = false;
		/* the extension may have been dropped and recreated: look it up again */
		functions_relid = InvalidOid;
	}
}

void
catalog_invalidate(void)
{
	cache_valid = false;
}

static Oid
catalog_functions_relid(void)
{
	Oid			nsp = get_namespace_oid("inngest", false);

	return get_relname_relid("functions", nsp);
}

/* Rebuild the cache if an invalidation marked it stale */
void
catalog_refresh(void)
{
	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(catalog_relcache_callback, (Datum) 0);
		callback_registered = true;
	}

	/* functions_relid is reset by invalidations; a rebuild sets it again */
	if (cache_valid && OidIsValid(functions_relid))
		return;

	/*
	 * Mark valid before reading: an invalidation that arrives while we read
	 * flips it back, so the next call rebuilds again rather than keeping a
	 * cache that missed a change.
	 */
	cache_valid = true;
	PG_TRY();
	{
		catalog_rebuild();
	}
	PG_CATCH();
	{
		cache_valid = false;
		PG_RE_THROW();
	}
	PG_END_TRY();
}

static void
catalog_rebuild(void)
{
	HASHCTL		ctl;
	Oid			save_userid;
	int			save_sec;
	int			ret;
	uint64		i;
	MemoryContext oldcxt;

	if (cache_cxt == NULL)
		cache_cxt = AllocSetContextCreate(CacheMemoryContext,
										  "inngest function cache",
										  ALLOCSET_DEFAULT_SIZES);
	else
		MemoryContextReset(cache_cxt);
	functions_by_id = NULL;
	triggers_by_event = NULL;

	functions_relid = catalog_functions_relid();

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = INNGEST_KEY_SIZE;
	ctl.entrysize = sizeof(InngestFunction);
	ctl.hcxt = cache_cxt;
	functions_by_id = hash_create("inngest functions", 64, &ctl,
								  HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	ctl.entrysize = sizeof(EventTriggers);
	triggers_by_event = hash_create("inngest event triggers", 64, &ctl,
									HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);

	inngest_become_owner(&save_userid, &save_sec);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	ret = SPI_execute("SELECT f.id, f.handler::pg_catalog.oid, "
					  "f.owner::pg_catalog.oid, f.retries, t.event, t.condition, "
					  "f.search_path, f.config "
					  "FROM inngest.functions f "
					  "LEFT JOIN inngest.triggers t ON t.function_id = f.id "
					  "ORDER BY f.id, t.position", true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read inngest.functions: %s",
			 SPI_result_code_string(ret));

	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		char	   *id = TextDatumGetCString(SPI_getbinval(tup, desc, 1, &isnull));
		InngestFunction *fn;
		bool		found;
		Datum		event;

		fn = hash_search(functions_by_id, id, HASH_ENTER, &found);
		if (!found)
		{
			fn->handler = DatumGetObjectId(SPI_getbinval(tup, desc, 2, &isnull));
			fn->owner = DatumGetObjectId(SPI_getbinval(tup, desc, 3, &isnull));
			fn->retries = DatumGetInt32(SPI_getbinval(tup, desc, 4, &isnull));
			fn->search_path =
				MemoryContextStrdup(cache_cxt,
									TextDatumGetCString(SPI_getbinval(tup, desc, 7, &isnull)));
			oldcxt = MemoryContextSwitchTo(cache_cxt);
			parse_run_options(DatumGetJsonbP(SPI_getbinval(tup, desc, 8, &isnull)), fn);
			MemoryContextSwitchTo(oldcxt);
		}

		event = SPI_getbinval(tup, desc, 5, &isnull);
		if (!isnull)
		{
			char	   *name = TextDatumGetCString(event);
			EventTriggers *et;
			InngestTrigger *trig;
			Datum		cond;

			et = hash_search(triggers_by_event, name, HASH_ENTER, &found);
			if (!found)
				et->triggers = NIL;
			oldcxt = MemoryContextSwitchTo(cache_cxt);
			trig = palloc0(sizeof(InngestTrigger));
			trig->function = fn;
			cond = SPI_getbinval(tup, desc, 6, &isnull);
			if (!isnull)
				trig->condition = DatumGetJsonPathPCopy(cond);
			et->triggers = lappend(et->triggers, trig);
			MemoryContextSwitchTo(oldcxt);
		}
	}

	SPI_finish();
	inngest_restore_user(save_userid, save_sec);
}

/* The function with this id, or NULL (call catalog_refresh() first) */
InngestFunction *
catalog_lookup_function(const char *id)
{
	char		key[INNGEST_KEY_SIZE];

	Assert(functions_by_id != NULL);
	if (strlen(id) >= INNGEST_KEY_SIZE)
		return NULL;
	strlcpy(key, id, sizeof(key));
	return hash_search(functions_by_id, key, HASH_FIND, NULL);
}

/* Triggers listening for the event name (not NUL-terminated), or NIL */
List *
catalog_event_triggers(const char *name, int len)
{
	char		key[INNGEST_KEY_SIZE];
	EventTriggers *et;

	Assert(triggers_by_event != NULL);
	if (len > INNGEST_MAX_ID_LEN || hash_get_num_entries(triggers_by_event) == 0)
		return NIL;
	memcpy(key, name, len);
	key[len] = '\0';
	et = hash_search(triggers_by_event, key, HASH_FIND, NULL);
	return et ? et->triggers : NIL;
}

/* ----------------------------------------------------------------------
 * create_function / delete_function
 * ----------------------------------------------------------------------
 */

/* Fetch an optional key of a JSON object */
bool
config_get_key(JsonbContainer *obj, const char *key, JsonbValue *out)
{
	return getKeyJsonValueFromContainer(obj, key, strlen(key), out) != NULL;
}

static const char *
jbv_type_name(JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return "null";
		case jbvString:
			return "a string";
		case jbvNumeric:
			return "a number";
		case jbvBool:
			return "a boolean";
		case jbvBinary:
			return JsonContainerIsArray(v->val.binary.data) ? "an array" : "an object";
		default:
			return "a JSON value";
	}
}

void
pg_attribute_noreturn()
config_wrong_type(const char *key, const char *expected, JsonbValue *v)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("configuration key \"%s\" must be %s, not %s",
					key, expected, jbv_type_name(v))));
}

/* A string-valued key: non-empty, at most INNGEST_MAX_ID_LEN bytes */
static char *
get_name_value(JsonbValue *v, const char *key)
{
	if (v->type != jbvString)
		config_wrong_type(key, "a string", v);
	if (v->val.string.len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("configuration key \"%s\" must not be empty", key)));
	if (v->val.string.len > INNGEST_MAX_ID_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("configuration key \"%s\" is too long", key),
				 errdetail("The limit is %d bytes.", INNGEST_MAX_ID_LEN)));
	return pnstrdup(v->val.string.val, v->val.string.len);
}

void
pg_attribute_noreturn()
config_unknown_key(const char *key, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown configuration key \"%s\"", key),
			 errhint("%s", hint)));
}

/* Check that the top-level object has only keys we know */
static void
check_top_level_keys(Jsonb *config)
{
	JsonbIterator *it = JsonbIteratorInit(&config->root);
	JsonbValue	v;
	JsonbIteratorToken tok;

	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *key;
		int			i;

		if (tok != WJB_KEY)
			continue;
		key = pnstrdup(v.val.string.val, v.val.string.len);
		for (i = 0; i < lengthof(known_keys); i++)
			if (strcmp(key, known_keys[i]) == 0)
				break;
		if (i < lengthof(known_keys))
			continue;
		config_unknown_key(key, "Valid keys are id, name, triggers (or event and if, or cron), retries, cancelOn, timeouts, concurrency, throttle, rateLimit, debounce, batchEvents, priority, idempotency and singleton.");
	}
}

/*
 * A cron trigger: obj's "cron" (the configuration key is key), a schedule
 * checked now so that a bad one is an error naming its field before
 * anything is written (cron_sql.c).
 */
static void
parse_cron_trigger(JsonbContainer *obj, const char *key, List **triggers)
{
	TriggerConfig *tc = palloc0(sizeof(TriggerConfig));
	CronSchedule sched;
	JsonbValue	v;

	(void) config_get_key(obj, "cron", &v);
	if (v.type != jbvString)
		config_wrong_type(key, "a string", &v);
	tc->cron = pnstrdup(v.val.string.val, v.val.string.len);
	cron_parse_or_error(tc->cron, &sched);
	*triggers = lappend(*triggers, tc);
}

/*
 * Parse one trigger object {"event": ..., "if": ...}.  For the top-level
 * shorthand the caller has checked the keys already (check_keys false).
 */
static void
parse_trigger_object(JsonbContainer *obj, const char *prefix, bool check_keys,
					 List **triggers)
{
	JsonbIterator *it = JsonbIteratorInit(obj);
	JsonbValue	v;
	JsonbIteratorToken tok;
	TriggerConfig *tc = palloc0(sizeof(TriggerConfig));
	char	   *key;

	while (check_keys && (tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok != WJB_KEY)
			continue;
		key = psprintf("%s.%.*s", prefix, v.val.string.len, v.val.string.val);
		if (v.val.string.len == 5 && strncmp(v.val.string.val, "event", 5) == 0)
			continue;
		if (v.val.string.len == 2 && strncmp(v.val.string.val, "if", 2) == 0)
			continue;
		if (v.val.string.len == 4 && strncmp(v.val.string.val, "cron", 4) == 0)
			continue;
		config_unknown_key(key, "A trigger has \"event\" and an optional \"if\", or \"cron\".");
	}

	/* {"cron": "0 8 * * 1"} */
	if (check_keys && config_get_key(obj, "cron", &v))
	{
		key = psprintf("%s.cron", prefix);
		if (config_get_key(obj, "event", &v) || config_get_key(obj, "if", &v))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("configuration key \"%s\" cannot be given with \"event\" or \"if\"",
							key),
					 errhint("A trigger is either {\"event\": ..., \"if\": ...} or {\"cron\": ...}.")));
		parse_cron_trigger(obj, key, triggers);
		return;
	}

	key = psprintf("%s%sevent", prefix, prefix[0] ? "." : "");
	if (!config_get_key(obj, "event", &v))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("configuration key \"%s\" is required", key)));
	tc->event = get_name_value(&v, key);

	if (config_get_key(obj, "if", &v) && v.type != jbvNull)
	{
		key = psprintf("%s%sif", prefix, prefix[0] ? "." : "");
		if (v.type != jbvString)
			config_wrong_type(key, "a string", &v);
		tc->expression = pnstrdup(v.val.string.val, v.val.string.len);
		tc->condition = expr_compile(tc->expression, EXPR_SCOPE_EVENT, key);
	}
	*triggers = lappend(*triggers, tc);
}

/* The triggers of a configuration: "triggers": [...] or "event"/"if" */
static List *
parse_triggers(Jsonb *config)
{
	List	   *triggers = NIL;
	JsonbValue	v;
	bool		has_event = config_get_key(&config->root, "event", &v);
	bool		has_cron = config_get_key(&config->root, "cron", &v);

	if (config_get_key(&config->root, "triggers", &v))
	{
		JsonbIterator *it;
		JsonbValue	elem;
		JsonbIteratorToken tok;
		int			n = 0;

		if (has_event || has_cron)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("configuration keys \"triggers\" and \"%s\" cannot both be given",
							has_event ? "event" : "cron"),
					 errhint("Put every trigger in \"triggers\".")));
		if (v.type != jbvBinary || !JsonContainerIsArray(v.val.binary.data))
			config_wrong_type("triggers", "an array", &v);

		it = JsonbIteratorInit(v.val.binary.data);
		while ((tok = JsonbIteratorNext(&it, &elem, true)) != WJB_DONE)
		{
			char	   *prefix;

			if (tok != WJB_ELEM)
				continue;
			prefix = psprintf("triggers[%d]", n);
			if (elem.type != jbvBinary || !JsonContainerIsObject(elem.val.binary.data))
				config_wrong_type(prefix, "an object", &elem);
			parse_trigger_object(elem.val.binary.data, prefix, true, &triggers);
			n++;
		}
		if (config_get_key(&config->root, "if", &v))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("configuration key \"if\" belongs inside a trigger when \"triggers\" is given")));
	}
	else
	{
		/* the top-level shorthands: "event" (and "if"), "cron" */
		if (has_event)
			parse_trigger_object(&config->root, "", false, &triggers);
		if (has_cron)
		{
			if (!has_event && config_get_key(&config->root, "if", &v))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("configuration key \"if\" applies to an event trigger, not to \"cron\"")));
			parse_cron_trigger(&config->root, "cron", &triggers);
		}
	}

	if (triggers == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("function configuration has no trigger"),
				 errhint("Add \"triggers\": [{\"event\": \"app/some.event\"}].")));
	if (list_length(triggers) > INNGEST_MAX_TRIGGERS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("configuration key \"triggers\" has %d entries", list_length(triggers)),
				 errdetail("A function may have at most %d triggers.", INNGEST_MAX_TRIGGERS)));
	return triggers;
}

/*
 * A duration: Inngest's "30m", "2h", "7d" or PostgreSQL's "1 day 2 hours";
 * positive, at most a year.
 */
Interval *
config_parse_duration(JsonbValue *v, const char *key)
{
	char	   *text;
	Interval   *volatile result = NULL;
	Interval	zero;
	Interval   *year;
	MemoryContext oldcxt = CurrentMemoryContext;

	if (v->type != jbvString)
		config_wrong_type(key, "a duration string like \"30m\" or \"1 day\"", v);
	text = pnstrdup(v->val.string.val, v->val.string.len);
	PG_TRY();
	{
		result = DatumGetIntervalP(DirectFunctionCall3(interval_in,
													   CStringGetDatum(text),
													   ObjectIdGetDatum(InvalidOid),
													   Int32GetDatum(-1)));
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(oldcxt);
		FlushErrorState();
		result = NULL;
	}
	PG_END_TRY();

	memset(&zero, 0, sizeof(zero));
	year = DatumGetIntervalP(DirectFunctionCall3(interval_in,
												 CStringGetDatum("1 year"),
												 ObjectIdGetDatum(InvalidOid),
												 Int32GetDatum(-1)));
	if (result == NULL ||
		DatumGetInt32(DirectFunctionCall2(interval_cmp, IntervalPGetDatum(result),
										  IntervalPGetDatum(&zero))) <= 0 ||
		DatumGetInt32(DirectFunctionCall2(interval_cmp, IntervalPGetDatum(result),
										  IntervalPGetDatum(year))) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("configuration key \"%s\" must be a duration from 1 second to 1 year, not \"%s\"",
						key, text),
				 errhint("Write it like \"30m\", \"2h\", \"7d\" or \"1 day 2 hours\".")));
	return result;
}

/*
 * cancelOn: [{event, match, if, timeout}], at most 5.  Each event is
 * matched like step_wait_for_event's: match is a path compared between the
 * run's event and the incoming one, "if" an expression over both.
 */
static List *
parse_cancel_on(JsonbValue *v)
{
	List	   *rules = NIL;
	JsonbIterator *it;
	JsonbValue	elem;
	JsonbIteratorToken tok;
	int			n = 0;

	if (v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data))
		config_wrong_type("cancelOn", "an array", v);
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &elem, true)) != WJB_DONE)
	{
		char	   *prefix;
		JsonbContainer *obj;
		JsonbIterator *kit;
		JsonbValue	kv;
		JsonbIteratorToken ktok;
		CancelRule *rule;

		if (tok != WJB_ELEM)
			continue;
		prefix = psprintf("cancelOn[%d]", n++);
		if (n > INNGEST_MAX_CANCEL_ON)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("configuration key \"cancelOn\" has more than %d entries",
							INNGEST_MAX_CANCEL_ON)));
		if (elem.type != jbvBinary || !JsonContainerIsObject(elem.val.binary.data))
			config_wrong_type(prefix, "an object", &elem);
		obj = elem.val.binary.data;

		kit = JsonbIteratorInit(obj);
		while ((ktok = JsonbIteratorNext(&kit, &kv, true)) != WJB_DONE)
		{
			if (ktok != WJB_KEY)
				continue;
			if ((kv.val.string.len == 5 && strncmp(kv.val.string.val, "event", 5) == 0) ||
				(kv.val.string.len == 5 && strncmp(kv.val.string.val, "match", 5) == 0) ||
				(kv.val.string.len == 2 && strncmp(kv.val.string.val, "if", 2) == 0) ||
				(kv.val.string.len == 7 && strncmp(kv.val.string.val, "timeout", 7) == 0))
				continue;
			config_unknown_key(psprintf("%s.%.*s", prefix, kv.val.string.len, kv.val.string.val),
						"A cancelOn rule has \"event\" and optional \"match\", \"if\" and \"timeout\".");
		}

		rule = palloc0(sizeof(CancelRule));
		if (!config_get_key(obj, "event", &kv))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("configuration key \"%s.event\" is required", prefix)));
		rule->event = get_name_value(&kv, psprintf("%s.event", prefix));
		if (config_get_key(obj, "match", &kv) && kv.type != jbvNull)
		{
			char	   *key = psprintf("%s.match", prefix);

			if (kv.type != jbvString)
				config_wrong_type(key, "a string", &kv);
			rule->match_path = waits_parse_match(pnstrdup(kv.val.string.val,
														  kv.val.string.len), key);
		}
		if (config_get_key(obj, "if", &kv) && kv.type != jbvNull)
		{
			char	   *key = psprintf("%s.if", prefix);

			if (kv.type != jbvString)
				config_wrong_type(key, "a string", &kv);
			rule->condition = expr_compile(pnstrdup(kv.val.string.val, kv.val.string.len),
										   EXPR_SCOPE_ASYNC, key);
		}
		if (config_get_key(obj, "timeout", &kv) && kv.type != jbvNull)
			rule->timeout = config_parse_duration(&kv, psprintf("%s.timeout", prefix));
		rules = lappend(rules, rule);
	}
	return rules;
}

/* timeouts: {start, finish} */
static void
parse_timeouts(JsonbValue *v, Interval **start, Interval **finish)
{
	JsonbContainer *obj;
	JsonbIterator *it;
	JsonbValue	kv;
	JsonbIteratorToken tok;

	*start = *finish = NULL;
	if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
		config_wrong_type("timeouts", "an object", v);
	obj = v->val.binary.data;
	it = JsonbIteratorInit(obj);
	while ((tok = JsonbIteratorNext(&it, &kv, true)) != WJB_DONE)
	{
		if (tok != WJB_KEY)
			continue;
		if ((kv.val.string.len == 5 && strncmp(kv.val.string.val, "start", 5) == 0) ||
			(kv.val.string.len == 6 && strncmp(kv.val.string.val, "finish", 6) == 0))
			continue;
		config_unknown_key(psprintf("timeouts.%.*s", kv.val.string.len, kv.val.string.val),
					"timeouts has \"start\" and \"finish\".");
	}
	if (config_get_key(obj, "start", &kv) && kv.type != jbvNull)
		*start = config_parse_duration(&kv, "timeouts.start");
	if (config_get_key(obj, "finish", &kv) && kv.type != jbvNull)
		*finish = config_parse_duration(&kv, "timeouts.finish");
}

/*
 * The options of a definition that the executor and the event trigger
 * apply (cancelOn, timeouts), parsed into fn.  At create_function this
 * validates them; the cache parses the stored configuration again.
 */
static void
parse_run_options(Jsonb *config, InngestFunction *fn)
{
	JsonbValue	v;

	fn->cancel_on = NIL;
	fn->timeout_start = fn->timeout_finish = NULL;
	if (config_get_key(&config->root, "cancelOn", &v) && v.type != jbvNull)
		fn->cancel_on = parse_cancel_on(&v);
	if (config_get_key(&config->root, "timeouts", &v) && v.type != jbvNull)
		parse_timeouts(&v, &fn->timeout_start, &fn->timeout_finish);
	fn->flow = flow_parse_config(config, fn->cancel_on != NIL);
}

/* The handler must be (event jsonb) RETURNS jsonb and executable by us */
static void
check_handler(Oid handler)
{
	HeapTuple	tp;
	Form_pg_proc proc;
	AclResult	aclresult;
	bool		ok;

	tp = SearchSysCache1(PROCOID, ObjectIdGetDatum(handler));
	if (!HeapTupleIsValid(tp))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("handler function with OID %u does not exist", handler)));
	proc = (Form_pg_proc) GETSTRUCT(tp);
	ok = proc->prokind == PROKIND_FUNCTION &&
		proc->pronargs == 1 &&
		proc->proargtypes.values[0] == JSONBOID &&
		proc->prorettype == JSONBOID &&
		!proc->proretset;
	ReleaseSysCache(tp);

	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_FUNCTION_DEFINITION),
				 errmsg("handler %s has the wrong signature",
						format_procedure(handler)),
				 errdetail("A handler must be a function (event jsonb) RETURNS jsonb.")));

	aclresult = pg_proc_aclcheck(handler, GetUserId(), ACL_EXECUTE);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_FUNCTION, get_func_name(handler));
}

/*
 * The owner of an existing definition, or InvalidOid; errors if it exists
 * and the current user may not act as its owner.  Locks the row.
 */
static Oid
check_existing_owner(const char *id, Oid caller, bool must_exist)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(id)};
	Oid			owner = InvalidOid;
	int			ret;

	ret = SPI_execute_with_args("SELECT owner::pg_catalog.oid FROM inngest.functions "
								"WHERE id = $1 FOR UPDATE",
								1, argtypes, values, NULL, false, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read inngest.functions: %s",
			 SPI_result_code_string(ret));
	if (SPI_processed == 0)
	{
		if (must_exist)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("inngest function \"%s\" does not exist", id)));
		return InvalidOid;
	}
	{
		bool		isnull;

		owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
											   SPI_tuptable->tupdesc, 1, &isnull));
	}
	if (!has_privs_of_role(caller, owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be owner of inngest function \"%s\"", id),
				 errdetail("It belongs to role %s.",
						   GetUserNameFromId(owner, true) ? GetUserNameFromId(owner, true) : "(dropped)")));
	return owner;
}

static void
spi_exec_checked(const char *sql, int nargs, Oid *types, Datum *values,
				 const char *nulls, int expected)
{
	int			ret = SPI_execute_with_args(sql, nargs, types, values, nulls,
											false, 0);

	if (ret != expected)
		elog(ERROR, "inngest_pg internal statement failed (%s): %s",
			 SPI_result_code_string(ret), sql);
}

/*
 * Validate a createFunction configuration and store it (upsert by id).
 * All validation happens before the first write, so bad input changes
 * nothing.  Returns the function id.
 */
char *
catalog_create_function(Jsonb *config, Oid handler)
{
	JsonbValue	v;
	char	   *id;
	char	   *name;
	int			retries = INNGEST_DEFAULT_RETRIES;
	List	   *triggers;
	ListCell   *lc;
	Oid			caller = GetUserId();
	Oid			save_userid;
	int			save_sec;
	int			position = 0;
	char	   *search_path;
	int			nestlevel;
	int			cron_positions[INNGEST_MAX_TRIGGERS];
	char	   *crons[INNGEST_MAX_TRIGGERS];
	int			ncrons = 0;

	if (!JB_ROOT_IS_OBJECT(config) || JB_ROOT_IS_SCALAR(config))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("function configuration must be a JSON object")));

	check_top_level_keys(config);

	if (!config_get_key(&config->root, "id", &v))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("configuration key \"id\" is required")));
	id = get_name_value(&v, "id");

	name = id;
	if (config_get_key(&config->root, "name", &v) && v.type != jbvNull)
		name = get_name_value(&v, "name");

	if (config_get_key(&config->root, "retries", &v) && v.type != jbvNull)
	{
		Numeric		num;
		bool		have_error = false;

		if (v.type != jbvNumeric)
			config_wrong_type("retries", "a number", &v);
		num = v.val.numeric;
		retries = numeric_int4_opt_error(num, &have_error);
		if (have_error ||
			DatumGetInt32(DirectFunctionCall1(numeric_scale, NumericGetDatum(num))) != 0 ||
			retries < 0 || retries > INNGEST_MAX_RETRIES)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("configuration key \"retries\" must be an integer from 0 to %d",
							INNGEST_MAX_RETRIES)));
	}

	triggers = parse_triggers(config);
	{
		InngestFunction options;

		parse_run_options(config, &options);
	}
	check_handler(handler);

	/*
	 * The handler will run with the creator's search_path, whoever drives
	 * it; pg_temp goes last so that nobody's temporary objects can shadow
	 * its names.  Our own statements run with pg_catalog only.
	 */
	search_path = pstrdup(GetConfigOption("search_path", false, false));
	if (strstr(search_path, "pg_temp") == NULL)
		search_path = psprintf("%s%spg_temp", search_path,
							   search_path[0] != '\0' ? ", " : "");
	nestlevel = inngest_push_search_path("pg_catalog");

	/* Store it, as the extension owner: users cannot write our tables */
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	inngest_become_owner(&save_userid, &save_sec);
	(void) check_existing_owner(id, caller, false);

	{
		Oid			types[8] = {TEXTOID, TEXTOID, OIDOID, OIDOID, INT4OID, JSONBOID,
		TIMESTAMPTZOID, TEXTOID};
		Datum		values[8];

		values[0] = CStringGetTextDatum(id);
		values[1] = CStringGetTextDatum(name);
		values[2] = ObjectIdGetDatum(handler);
		values[3] = ObjectIdGetDatum(caller);
		values[4] = Int32GetDatum(retries);
		values[5] = JsonbPGetDatum(config);
		values[6] = TimestampTzGetDatum(inngest_clock());
		values[7] = CStringGetTextDatum(search_path);
		spi_exec_checked("INSERT INTO inngest.functions AS f "
						 "(id, name, handler, owner, retries, search_path, config, "
						 "created_at, updated_at) "
						 "VALUES ($1, $2, $3::pg_catalog.regproc, $4::pg_catalog.regrole, "
						 "$5, $8, $6, $7, $7) "
						 "ON CONFLICT (id) DO UPDATE SET name = excluded.name, "
						 "handler = excluded.handler, owner = excluded.owner, "
						 "retries = excluded.retries, search_path = excluded.search_path, "
						 "config = excluded.config, updated_at = excluded.updated_at",
						 8, types, values, NULL, SPI_OK_INSERT);

		spi_exec_checked("DELETE FROM inngest.triggers WHERE function_id = $1",
						 1, types, values, NULL, SPI_OK_DELETE);
	}

	foreach(lc, triggers)
	{
		TriggerConfig *tc = lfirst(lc);
		Oid			types[5] = {TEXTOID, INT4OID, TEXTOID, TEXTOID, JSONPATHOID};
		Datum		values[5];
		char		nulls[5] = {' ', ' ', ' ', ' ', ' '};

		if (tc->cron != NULL)
		{
			cron_positions[ncrons] = position++;
			crons[ncrons++] = tc->cron;
			continue;
		}
		values[0] = CStringGetTextDatum(id);
		values[1] = Int32GetDatum(position++);
		values[2] = CStringGetTextDatum(tc->event);
		if (tc->expression)
		{
			values[3] = CStringGetTextDatum(tc->expression);
			values[4] = PointerGetDatum(tc->condition);
		}
		else
			nulls[3] = nulls[4] = 'n';
		spi_exec_checked("INSERT INTO inngest.triggers "
						 "(function_id, position, event, expression, condition) "
						 "VALUES ($1, $2, $3, $4, $5)",
						 5, types, values, nulls, SPI_OK_INSERT);
	}
	schedules_store(id, ncrons, cron_positions, crons);

	inngest_restore_user(save_userid, save_sec);
	SPI_finish();
	inngest_pop_search_path(nestlevel);

	/* every backend, this one included, rebuilds its cache */
	CacheInvalidateRelcacheByRelid(catalog_functions_relid());
	return id;
}

/*
 * Remove a definition.  Runs not started yet are cancelled; a run being
 * driven right now notices at its next step that its function is gone.
 */
void
catalog_delete_function(const char *id)
{
	Oid			caller = GetUserId();
	Oid			save_userid;
	int			save_sec;
	Oid			types[2] = {TEXTOID, TIMESTAMPTZOID};
	Datum		values[2];

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	inngest_become_owner(&save_userid, &save_sec);
	values[0] = CStringGetTextDatum(id);
	(void) check_existing_owner(id, caller, true);

	spi_exec_checked("DELETE FROM inngest.functions WHERE id = $1",
					 1, types, values, NULL, SPI_OK_DELETE);
	values[1] = TimestampTzGetDatum(inngest_clock());
	spi_exec_checked("UPDATE inngest.runs SET status = 'cancelled', ended_at = $2, "
					 "wake_at = NULL, active_key = NULL, blocked_on = NULL, "
					 "pending_key = NULL "
					 "WHERE function_id = $1 "
					 "AND (wake_at IS NOT NULL OR blocked_on IS NOT NULL) "
					 "AND status IN ('queued', 'sleeping', 'waiting')",
					 2, types, values, NULL, SPI_OK_UPDATE);

	inngest_restore_user(save_userid, save_sec);
	SPI_finish();

	CacheInvalidateRelcacheByRelid(catalog_functions_relid());
}
