/*-------------------------------------------------------------------------
 *
 * config.c
 *	  The configuration of create_function: Inngest's createFunction keys
 *	  (id, name, triggers, retries, cancelOn, timeouts and the flow-control
 *	  keys), parsed and validated in one place.
 *
 * Every key is checked before anything is written, and a bad one is an
 * error naming it ("configuration key \"throttle.period\" must be ...").
 * create_function parses a configuration to validate it (config_parse);
 * the function cache (catalog.c) parses the stored one again into the
 * form the event trigger and the executor read (config_parse_run_options):
 * expressions are compiled here, once, never per event.
 *
 * The flow-control keys that are objects are described by tables of their
 * fields, which parse_object() reads, so that their checks, messages and
 * ranges are alike.
 *
 *-------------------------------------------------------------------------
 */
#include "inngest.h"

#include <ctype.h>
#include <math.h>

#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "config.h"
#include "cron.h"
#include "expr.h"

#define SECS(n) ((int64) (n) * USECS_PER_SEC)

/* Top-level keys of a configuration */
static const char *const known_keys[] = {
	"id", "name", "triggers", "event", "if", "cron", "retries", "cancelOn", "timeouts",
	"concurrency", "throttle", "rateLimit", "debounce", "batchEvents",
	"priority", "idempotency", "singleton", "invokers"
};

/* The keys of the objects inside a configuration, NULL-terminated */
static const char *const trigger_keys[] = {"event", "if", "cron", NULL};
static const char *const cancel_keys[] = {"event", "match", "if", "timeout", NULL};
static const char *const timeout_keys[] = {"start", "finish", NULL};

#define INNGEST_MAX_CANCEL_ON 5
#define INNGEST_MAX_INVOKERS 32

static bool config_get_key(JsonbContainer *obj, const char *key, JsonbValue *out);
static void config_wrong_type(const char *key, const char *expected,
							  JsonbValue *v) pg_attribute_noreturn();
static void config_unknown_key(const char *key, const char *hint)
			pg_attribute_noreturn();
static Interval *config_parse_duration(JsonbValue *v, const char *key);
static List *parse_invokers(JsonbValue *v);

/* ----------------------------------------------------------------------
 * Helpers
 * ----------------------------------------------------------------------
 */

/* Fetch an optional key of a JSON object */
static bool
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

static void
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

static void
pg_attribute_noreturn()
config_unknown_key(const char *key, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown configuration key \"%s\"", key),
			 errhint("%s", hint)));
}

/* Check that obj has only the given keys (NULL-terminated) */
static void
check_object_keys(JsonbContainer *obj, const char *prefix, const char *const *keys,
		   const char *hint)
{
	JsonbIterator *it = JsonbIteratorInit(obj);
	JsonbValue	v;
	JsonbIteratorToken tok;

	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		const char *const *k;

		if (tok != WJB_KEY)
			continue;
		for (k = keys; *k != NULL; k++)
			if (strlen(*k) == v.val.string.len &&
				strncmp(*k, v.val.string.val, v.val.string.len) == 0)
				break;
		if (*k == NULL)
			config_unknown_key(psprintf("%s.%.*s", prefix, v.val.string.len,
										v.val.string.val), hint);
	}
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
		config_unknown_key(key, "Valid keys are id, name, triggers (or event and if, or cron), retries, cancelOn, timeouts, concurrency, throttle, rateLimit, debounce, batchEvents, priority, idempotency, singleton and invokers.");
	}
}

/* ----------------------------------------------------------------------
 * Triggers
 * ----------------------------------------------------------------------
 */

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
	JsonbValue	v;
	TriggerConfig *tc = palloc0(sizeof(TriggerConfig));
	char	   *key;

	if (check_keys)
		check_object_keys(obj, prefix, trigger_keys,
						  "A trigger has \"event\" and an optional \"if\", or \"cron\".");

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

/* "triggers" as an array of trigger objects */
static List *
parse_trigger_array(JsonbContainer *array)
{
	List	   *triggers = NIL;
	JsonbIterator *it = JsonbIteratorInit(array);
	JsonbValue	elem;
	JsonbIteratorToken tok;
	int			n = 0;

	while ((tok = JsonbIteratorNext(&it, &elem, true)) != WJB_DONE)
	{
		char	   *prefix;

		if (tok != WJB_ELEM)
			continue;
		prefix = psprintf("triggers[%d]", n++);
		if (elem.type != jbvBinary || !JsonContainerIsObject(elem.val.binary.data))
			config_wrong_type(prefix, "an object", &elem);
		parse_trigger_object(elem.val.binary.data, prefix, true, &triggers);
	}
	return triggers;
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
		if (has_event || has_cron)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("configuration keys \"triggers\" and \"%s\" cannot both be given",
							has_event ? "event" : "cron"),
					 errhint("Put every trigger in \"triggers\".")));
		if (v.type != jbvBinary)
			config_wrong_type("triggers", "an array or an object", &v);

		/* one trigger may be given as an object, as Inngest's SDKs allow */
		if (JsonContainerIsObject(v.val.binary.data))
			parse_trigger_object(v.val.binary.data, "triggers", true, &triggers);
		else
			triggers = parse_trigger_array(v.val.binary.data);
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

/* ----------------------------------------------------------------------
 * Durations, cancelOn, timeouts
 * ----------------------------------------------------------------------
 */

/* Units of Inngest's duration strings, longest first, in microseconds */
static const struct
{
	const char *name;
	double		usecs;
}			duration_units[] = {
	{"ms", 1e3}, {"s", 1e6}, {"m", 60e6}, {"h", 3600e6}, {"d", 86400e6},
	{"w", 7 * 86400e6}, {"y", 365.25 * 86400e6}
};

/* Beyond any duration we accept: stops the sum before it could overflow */
#define DURATION_CAP_USECS	1e17

/*
 * Inngest's duration strings, the "ms" format of its SDKs: digits alone
 * are milliseconds ("60000" is a minute); otherwise one or more
 * <number><unit> with no spaces ("30s", "1.5h", "1h30m"), units ms, s, m,
 * h, d, w and y (a day is 24 hours, a year 365.25 days).  Returns false if
 * text is not one (the caller may try PostgreSQL's interval syntax);
 * *usecs is the duration, capped far above any limit we accept.
 */
bool
config_inngest_duration(const char *text, int64 *usecs)
{
	const char *p = text;
	double		total = 0;

	if (*p == '\0')
		return false;
	if (strspn(p, "0123456789") == strlen(p))
	{
		total = strlen(p) > 15 ? DURATION_CAP_USECS : strtod(p, NULL) * 1e3;
		*usecs = (int64) Min(total, DURATION_CAP_USECS);
		return true;
	}
	while (*p != '\0')
	{
		double		n = 0;
		double		scale = 1;
		bool		digits = false;
		int			i;

		for (; isdigit((unsigned char) *p); p++, digits = true)
			n = Min(n * 10 + (*p - '0'), DURATION_CAP_USECS);
		if (*p == '.')
			for (p++; isdigit((unsigned char) *p); p++, digits = true)
				n += (*p - '0') * (scale /= 10);
		if (!digits)
			return false;
		for (i = 0; i < lengthof(duration_units); i++)
		{
			size_t		len = strlen(duration_units[i].name);

			if (strncmp(p, duration_units[i].name, len) == 0 &&
				!isalpha((unsigned char) p[len]))
				break;
		}
		if (i == lengthof(duration_units))
			return false;
		total = Min(total + n * duration_units[i].usecs, DURATION_CAP_USECS);
		p += strlen(duration_units[i].name);
	}
	*usecs = (int64) total;
	return true;
}

/*
 * A configuration duration, in microseconds: a JSON number (milliseconds,
 * as in Inngest), one of Inngest's duration strings, or PostgreSQL's
 * interval syntax ("1 day 2 hours", a day being 24 hours and a month 30
 * days); *text is how it was written, for errors.  Errors if it is none of
 * these.
 */
static int64
duration_usecs(JsonbValue *v, const char *key, char **text)
{
	int64		usecs = -1;
	MemoryContext oldcxt = CurrentMemoryContext;

	if (v->type == jbvNumeric)
	{
		*text = DatumGetCString(DirectFunctionCall1(numeric_out,
													NumericGetDatum(v->val.numeric)));
		usecs = (int64) Min(Max(strtod(*text, NULL), -1) * 1e3, DURATION_CAP_USECS);
	}
	else if (v->type == jbvString)
	{
		*text = pnstrdup(v->val.string.val, v->val.string.len);
		if (!config_inngest_duration(*text, &usecs))
		{
			PG_TRY();
			{
				Interval   *iv = DatumGetIntervalP(DirectFunctionCall3(interval_in,
																	   CStringGetDatum(*text),
																	   ObjectIdGetDatum(InvalidOid),
																	   Int32GetDatum(-1)));

				usecs = iv->time + iv->day * USECS_PER_DAY +
					(int64) iv->month * DAYS_PER_MONTH * USECS_PER_DAY;
			}
			PG_CATCH();
			{
				/* not an interval either: the error below says what is */
				MemoryContextSwitchTo(oldcxt);
				FlushErrorState();
				usecs = -1;
			}
			PG_END_TRY();
		}
	}
	else
		config_wrong_type(key, "a duration like \"30m\" or a number of milliseconds", v);
	return usecs;
}

/*
 * A duration of a configuration key: from 1 second to 1 year, the one rule
 * for every duration key (batchEvents' timeout narrows it).  Returned as
 * an interval of that many microseconds.
 */
static Interval *
config_parse_duration(JsonbValue *v, const char *key)
{
	char	   *text;
	int64		usecs = duration_usecs(v, key, &text);
	Interval   *result;

	if (usecs < USECS_PER_SEC || usecs > INNGEST_MAX_DURATION_USECS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("configuration key \"%s\" must be a duration from 1 second to 1 year, not \"%s\"",
						key, text),
				 errhint("Write it like \"30s\", \"5m\", \"2h\", \"7d\" or \"1 day 2 hours\"; a number, or digits alone, is milliseconds.")));
	result = palloc0(sizeof(Interval));
	result->time = usecs;
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
		JsonbValue	kv;
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

		check_object_keys(obj, prefix, cancel_keys,
						  "A cancelOn rule has \"event\" and optional \"match\", \"if\" and \"timeout\".");

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
			rule->match_path = expr_compile_match(pnstrdup(kv.val.string.val,
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
	JsonbValue	kv;

	*start = *finish = NULL;
	if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
		config_wrong_type("timeouts", "an object", v);
	obj = v->val.binary.data;
	check_object_keys(obj, "timeouts", timeout_keys,
					  "timeouts has \"start\" and \"finish\".");
	if (config_get_key(obj, "start", &kv) && kv.type != jbvNull)
		*start = config_parse_duration(&kv, "timeouts.start");
	if (config_get_key(obj, "finish", &kv) && kv.type != jbvNull)
		*finish = config_parse_duration(&kv, "timeouts.finish");
}

/* ----------------------------------------------------------------------
 * Flow control
 * ----------------------------------------------------------------------
 */

static JsonbContainer *
get_object(JsonbValue *v, const char *key)
{
	if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
		config_wrong_type(key, "an object", v);
	return v->val.binary.data;
}

/* An integer in [min, max] */
static int
get_int(JsonbValue *v, const char *key, int min, int max)
{
	bool		have_error = false;
	int			result;

	if (v->type != jbvNumeric)
		config_wrong_type(key, "a number", v);
	result = numeric_int4_opt_error(v->val.numeric, &have_error);
	if (have_error ||
		DatumGetInt32(DirectFunctionCall1(numeric_scale,
										  NumericGetDatum(v->val.numeric))) != 0 ||
		result < min || result > max)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("configuration key \"%s\" must be an integer from %d to %d, not %s",
						key, min, max,
						DatumGetCString(DirectFunctionCall1(numeric_out,
															NumericGetDatum(v->val.numeric))))));
	return result;
}

/* A duration in [min, max] microseconds */
static int64
get_period(JsonbValue *v, const char *key, int64 min, int64 max,
		   const char *range)
{
	char	   *text;
	int64		usecs = config_parse_duration(v, key)->time;

	if (usecs < min || usecs > max)
	{
		(void) duration_usecs(v, key, &text);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("configuration key \"%s\" must be from %s, not \"%s\"",
						key, range, text)));
	}
	return usecs;
}

static ExprValue *
get_expression(JsonbValue *v, const char *key)
{
	if (v->type != jbvString)
		config_wrong_type(key, "an expression string", v);
	if (v->val.string.len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("configuration key \"%s\" must not be empty", key)));
	return expr_compile_value(pnstrdup(v->val.string.val, v->val.string.len), key);
}

/* An optional key of obj that is present and not null */
static bool
has(JsonbContainer *obj, const char *key, JsonbValue *v)
{
	return config_get_key(obj, key, v) && v->type != jbvNull;
}

static void
pg_attribute_noreturn()
required(const char *key)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("configuration key \"%s\" is required", key)));
}

/*
 * The flow-control keys that are objects are described by tables of their
 * fields, which parse_object() reads: the checks, the messages and the
 * ranges are then the same for every key, and a field is one line.
 */
typedef enum FieldKind
{
	FIELD_INT,					/* an integer in [min, max] */
	FIELD_PERIOD,				/* a duration in [min, max] microseconds */
	FIELD_VALUE,				/* a value expression (ExprValue *) */
	FIELD_CONDITION,			/* a predicate expression (JsonPath *) */
	FIELD_MODE					/* one of modes; stored as "not the first" */
} FieldKind;

typedef struct FieldSpec
{
	const char *name;
	FieldKind	kind;
	bool		required;
	int64		min;
	int64		max;
	const char *range;			/* FIELD_PERIOD: [min, max] as users write it */
	const char *const *modes;	/* FIELD_MODE: the allowed strings, NULL-ended */
	size_t		offset;			/* where the value goes in the target struct */
} FieldSpec;

#define INT_FIELD(n, req, lo, hi, s, f) {n, FIELD_INT, req, lo, hi, NULL, NULL, offsetof(s, f)}
#define PERIOD_FIELD(n, req, lo, hi, r, s, f) \
	{n, FIELD_PERIOD, req, SECS(lo), SECS(hi), r, NULL, offsetof(s, f)}
#define VALUE_FIELD(n, req, s, f) {n, FIELD_VALUE, req, 0, 0, NULL, NULL, offsetof(s, f)}
#define CONDITION_FIELD(n, s, f) {n, FIELD_CONDITION, false, 0, 0, NULL, NULL, offsetof(s, f)}
#define MODE_FIELD(n, req, m, s, f) {n, FIELD_MODE, req, 0, 0, NULL, m, offsetof(s, f)}

#define WEEK (7 * 24 * 3600)

static const char *const scopes[] = {"fn", "env", "account", NULL};
static const char *const step_or_run[] = {"step", "run", NULL};
static const char *const skip_or_cancel[] = {"skip", "cancel", NULL};

static const FieldSpec concurrency_fields[] = {
	INT_FIELD("limit", true, 1, FLOW_MAX_LIMIT, ConcurrencyLimit, limit),
	VALUE_FIELD("key", false, ConcurrencyLimit, key),
	MODE_FIELD("scope", false, scopes, ConcurrencyLimit, env),
	MODE_FIELD("mode", false, step_or_run, ConcurrencyLimit, run_mode),
	{NULL}
};
static const FieldSpec throttle_fields[] = {
	INT_FIELD("limit", true, 1, 10000, FlowConfig, throttle_limit),
	PERIOD_FIELD("period", true, 1, WEEK, "1s to 7d", FlowConfig, throttle_period),
	INT_FIELD("burst", false, 0, 10000, FlowConfig, throttle_burst),
	VALUE_FIELD("key", false, FlowConfig, throttle_key),
	{NULL}
};
static const FieldSpec rate_limit_fields[] = {
	INT_FIELD("limit", true, 1, 10000, FlowConfig, rate_limit),
	PERIOD_FIELD("period", true, 1, 24 * 3600, "1s to 24h", FlowConfig, rate_period),
	VALUE_FIELD("key", false, FlowConfig, rate_key),
	{NULL}
};
static const FieldSpec debounce_fields[] = {
	PERIOD_FIELD("period", true, 1, WEEK, "1s to 7d", FlowConfig, debounce_period),
	VALUE_FIELD("key", false, FlowConfig, debounce_key),
	PERIOD_FIELD("timeout", false, 1, WEEK, "1s to 7d", FlowConfig, debounce_timeout),
	{NULL}
};
static const FieldSpec batch_fields[] = {
	INT_FIELD("maxSize", true, 1, 100, FlowConfig, batch_max),
	PERIOD_FIELD("timeout", true, 1, 60, "1s to 60s", FlowConfig, batch_timeout),
	VALUE_FIELD("key", false, FlowConfig, batch_key),
	CONDITION_FIELD("if", FlowConfig, batch_if),
	{NULL}
};
static const FieldSpec priority_fields[] = {
	VALUE_FIELD("run", false, FlowConfig, priority),
	{NULL}
};
static const FieldSpec singleton_fields[] = {
	VALUE_FIELD("key", true, FlowConfig, singleton_key),
	MODE_FIELD("mode", true, skip_or_cancel, FlowConfig, singleton_cancel),
	{NULL}
};

/* "a", "b" or "c" (with quotes) */
static char *
quoted_list(const char *const *words, const char *last_sep)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	for (i = 0; words[i] != NULL; i++)
		appendStringInfo(&buf, "%s\"%s\"",
						 i == 0 ? "" : words[i + 1] == NULL ? last_sep : ", ",
						 words[i]);
	return buf.data;
}

/* Parse the JSON object v, the configuration key prefix, into target */
static void
parse_object(JsonbValue *v, const char *prefix, const FieldSpec *fields,
			 void *target)
{
	JsonbContainer *obj = get_object(v, prefix);
	const char *names[8];
	const FieldSpec *f;
	int			n = 0;

	for (f = fields; f->name != NULL; f++)
		names[n++] = f->name;
	names[n] = NULL;
	check_object_keys(obj, prefix, names,
			   psprintf("%s has %s.", prefix, quoted_list(names, " and ")));

	for (f = fields; f->name != NULL; f++)
	{
		char	   *key = psprintf("%s.%s", prefix, f->name);
		char	   *dest = (char *) target + f->offset;
		JsonbValue	kv;
		char	   *text;
		int			i;

		if (!has(obj, f->name, &kv))
		{
			if (f->required)
				required(key);
			continue;
		}
		switch (f->kind)
		{
			case FIELD_INT:
				*(int *) dest = get_int(&kv, key, (int) f->min, (int) f->max);
				break;
			case FIELD_PERIOD:
				*(int64 *) dest = get_period(&kv, key, f->min, f->max, f->range);
				break;
			case FIELD_VALUE:
				*(ExprValue **) dest = get_expression(&kv, key);
				break;
			case FIELD_CONDITION:
			case FIELD_MODE:
				if (kv.type != jbvString)
					config_wrong_type(key, "a string", &kv);
				text = pnstrdup(kv.val.string.val, kv.val.string.len);
				if (f->kind == FIELD_CONDITION)
				{
					*(JsonPath **) dest = expr_compile(text, EXPR_SCOPE_EVENT, key);
					break;
				}
				for (i = 0; f->modes[i] != NULL; i++)
					if (strcmp(text, f->modes[i]) == 0)
						break;
				if (f->modes[i] == NULL)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("configuration key \"%s\" must be %s, not \"%s\"",
									key, quoted_list(f->modes, " or "), text)));
				*(bool *) dest = i > 0;
				break;
		}
	}
}

/* One concurrency entry: a number, or {limit, key, scope, mode} */
static void
parse_concurrency_entry(JsonbValue *v, const char *prefix, ConcurrencyLimit *cl)
{
	JsonbValue	kv;

	memset(cl, 0, sizeof(*cl));
	if (v->type == jbvNumeric)
	{
		cl->limit = get_int(v, prefix, 1, FLOW_MAX_LIMIT);
		return;
	}
	parse_object(v, prefix, concurrency_fields, cl);
	if (cl->key != NULL)
	{
		/* an env-scoped key is shared by the functions using this text */
		(void) has(v->val.binary.data, "key", &kv);
		cl->key_source = pnstrdup(kv.val.string.val, kv.val.string.len);
	}
	else if (cl->env)
	{
		(void) has(v->val.binary.data, "scope", &kv);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("configuration key \"%s.key\" is required with scope \"%.*s\"",
						prefix, kv.val.string.len, kv.val.string.val),
				 errhint("A shared limit is identified by its key, e.g. \"key\": \"'openai'\".")));
	}
}

static void
parse_concurrency(JsonbValue *v, FlowConfig *flow)
{
	if (v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data))
	{
		JsonbIterator *it = JsonbIteratorInit(v->val.binary.data);
		JsonbValue	elem;
		JsonbIteratorToken tok;
		int			n = 0;

		while ((tok = JsonbIteratorNext(&it, &elem, true)) != WJB_DONE)
		{
			if (tok != WJB_ELEM)
				continue;
			if (n == FLOW_MAX_CONCURRENCY)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("configuration key \"concurrency\" has more than %d entries",
								FLOW_MAX_CONCURRENCY),
						 errhint("Inngest allows up to two limits, e.g. one per function and one per key.")));
			parse_concurrency_entry(&elem, psprintf("concurrency[%d]", n),
									&flow->concurrency[n]);
			n++;
		}
		if (n == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("configuration key \"concurrency\" must not be an empty array")));
		flow->nconcurrency = n;
		if (n == 2 && flow->concurrency[0].run_mode && flow->concurrency[1].run_mode)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("only one \"concurrency\" entry may have \"mode\": \"run\"")));
	}
	else if (v->type == jbvNumeric ||
			 (v->type == jbvBinary && JsonContainerIsObject(v->val.binary.data)))
	{
		parse_concurrency_entry(v, "concurrency", &flow->concurrency[0]);
		flow->nconcurrency = 1;
	}
	else
		config_wrong_type("concurrency", "a number, an object or an array", v);
}

static void
parse_idempotency(JsonbValue *v, FlowConfig *flow)
{
	flow->idempotency = get_expression(v, "idempotency");
}

/*
 * The flow-control keys of a configuration: objects described by their
 * fields, or parsed by a function of their own
 */
static const struct
{
	const char *key;
	const FieldSpec *fields;
	void		(*parse) (JsonbValue *v, FlowConfig *flow);
}			flow_keys[] =
{
	{"concurrency", NULL, parse_concurrency},
	{"throttle", throttle_fields, NULL},
	{"rateLimit", rate_limit_fields, NULL},
	{"debounce", debounce_fields, NULL},
	{"batchEvents", batch_fields, NULL},
	{"priority", priority_fields, NULL},
	{"idempotency", NULL, parse_idempotency},
	{"singleton", singleton_fields, NULL},
};

static void
pg_attribute_noreturn()
incompatible(const char *a, const char *b, const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("configuration keys \"%s\" and \"%s\" cannot be combined", a, b),
			 errdetail("%s", why)));
}

/* Reject the combinations Inngest rejects, and those with no meaning here */
static void
check_combinations(FlowConfig *flow, bool has_cancel_on)
{
	bool		run_mode = false;
	int			i;

	for (i = 0; i < flow->nconcurrency; i++)
		run_mode |= flow->concurrency[i].run_mode;

	if (flow->batch_max > 0)
	{
		const char *why = "A batch run starts from many events, so per-event rules cannot apply to it.";

		if (has_cancel_on)
			incompatible("batchEvents", "cancelOn", why);
		if (flow->debounce_period > 0)
			incompatible("batchEvents", "debounce", why);
		if (flow->idempotency != NULL)
			incompatible("batchEvents", "idempotency", why);
		if (flow->priority != NULL)
			incompatible("batchEvents", "priority", why);
		if (flow->rate_limit > 0)
			incompatible("batchEvents", "rateLimit", why);
		if (flow->singleton_key != NULL)
			incompatible("batchEvents", "singleton", why);
		if (flow->throttle_limit > 0)
			incompatible("batchEvents", "throttle", why);
	}
	if (flow->debounce_period > 0)
	{
		const char *why = "debounce decides when the run starts.";

		if (flow->throttle_limit > 0)
			incompatible("debounce", "throttle", why);
		if (flow->priority != NULL)
			incompatible("debounce", "priority", why);
		if (flow->singleton_key != NULL)
			incompatible("debounce", "singleton",
						 "A debounced run is pending while it gathers events; singleton would skip them instead.");
	}
	if (flow->singleton_key != NULL && run_mode)
		incompatible("singleton", "concurrency",
					 "singleton is already a limit of one run in flight per key; "
					 "\"mode\": \"run\" concurrency cannot be added to it.");
}

/*
 * Parse and validate the flow-control keys of a configuration.  Returns
 * NULL if it has none.  Allocates in the current memory context.
 */
static FlowConfig *
parse_flow(Jsonb *config, bool has_cancel_on)
{
	FlowConfig *flow = palloc0(sizeof(FlowConfig));
	JsonbContainer *root = &config->root;
	JsonbValue	v;
	bool		any = false;
	int			i;

	for (i = 0; i < lengthof(flow_keys); i++)
	{
		if (!has(root, flow_keys[i].key, &v))
			continue;
		if (flow_keys[i].fields != NULL)
			parse_object(&v, flow_keys[i].key, flow_keys[i].fields, flow);
		else
			flow_keys[i].parse(&v, flow);
		any = true;
	}
	if (!any)
		return NULL;

	check_combinations(flow, has_cancel_on);
	flow->admission = flow->throttle_limit > 0 || flow->rate_limit > 0 ||
		flow->debounce_period > 0 || flow->batch_max > 0 ||
		flow->priority != NULL || flow->idempotency != NULL ||
		flow->singleton_key != NULL;
	return flow;
}

/* ----------------------------------------------------------------------
 * The whole configuration
 * ----------------------------------------------------------------------
 */

/*
 * The options of a definition that runs apply (cancelOn, timeouts, flow
 * control), parsed into fn.  At create_function this validates them;
 * catalog.c parses the stored configuration again for its cache.
 */
void
config_parse_run_options(Jsonb *config, InngestFunction *fn)
{
	JsonbValue	v;

	fn->cancel_on = NIL;
	fn->invokers = NIL;
	fn->timeout_start = fn->timeout_finish = NULL;
	if (config_get_key(&config->root, "invokers", &v) && v.type != jbvNull)
		fn->invokers = parse_invokers(&v);
	if (config_get_key(&config->root, "cancelOn", &v) && v.type != jbvNull)
		fn->cancel_on = parse_cancel_on(&v);
	if (config_get_key(&config->root, "timeouts", &v) && v.type != jbvNull)
		parse_timeouts(&v, &fn->timeout_start, &fn->timeout_finish);
	fn->flow = parse_flow(config, fn->cancel_on != NIL);
}


/*
 * "invokers": the roles whose functions may invoke this one (step_invoke),
 * besides its owner's own (and those of roles with its privileges):
 * role names, or "PUBLIC" for every role.  Names are kept as written and
 * resolved at each invoke, so a dropped or renamed role grants nothing.
 * Whether the roles exist is the catalog's check (catalog.c).
 */
static List *
parse_invokers(JsonbValue *v)
{
	List	   *names = NIL;
	JsonbIterator *it;
	JsonbValue	elem;
	JsonbIteratorToken tok;

	if (v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data))
		config_wrong_type("invokers", "an array of role names", v);
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &elem, true)) != WJB_DONE)
	{
		char	   *key;

		if (tok != WJB_ELEM)
			continue;
		key = psprintf("invokers[%d]", list_length(names));
		if (list_length(names) >= INNGEST_MAX_INVOKERS)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("configuration key \"invokers\" has more than %d entries",
							INNGEST_MAX_INVOKERS),
					 errhint("Grant one role to the invoking roles and list that role.")));
		if (elem.type != jbvString)
			config_wrong_type(key, "a role name", &elem);
		if (elem.val.string.len == 0 || elem.val.string.len >= NAMEDATALEN)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("configuration key \"%s\" must be a role name of 1 to %d bytes",
							key, NAMEDATALEN - 1)));
		names = lappend(names, pnstrdup(elem.val.string.val, elem.val.string.len));
	}
	return names;
}

/* "retries": an integer from 0 to INNGEST_MAX_RETRIES */
static int
parse_retries(JsonbValue *v)
{
	Numeric		num;
	bool		have_error = false;
	int			retries;

	if (v->type != jbvNumeric)
		config_wrong_type("retries", "a number", v);
	num = v->val.numeric;
	retries = numeric_int4_opt_error(num, &have_error);
	if (have_error ||
		DatumGetInt32(DirectFunctionCall1(numeric_scale, NumericGetDatum(num))) != 0 ||
		retries < 0 || retries > INNGEST_MAX_RETRIES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("configuration key \"retries\" must be an integer from 0 to %d",
						INNGEST_MAX_RETRIES)));
	return retries;
}

/*
 * Validate a whole createFunction configuration, and return what is stored
 * beside it (id, name, retries, triggers) in *out.  Errors name the bad
 * key; nothing has been written yet when they are raised.
 */
void
config_parse(Jsonb *config, FunctionConfig *out)
{
	JsonbValue	v;
	InngestFunction options;

	if (!JB_ROOT_IS_OBJECT(config) || JB_ROOT_IS_SCALAR(config))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("function configuration must be a JSON object")));

	check_top_level_keys(config);

	if (!config_get_key(&config->root, "id", &v))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("configuration key \"id\" is required")));
	out->id = get_name_value(&v, "id");

	out->name = out->id;
	if (config_get_key(&config->root, "name", &v) && v.type != jbvNull)
		out->name = get_name_value(&v, "name");

	out->retries = INNGEST_DEFAULT_RETRIES;
	if (config_get_key(&config->root, "retries", &v) && v.type != jbvNull)
		out->retries = parse_retries(&v);

	out->triggers = parse_triggers(config);
	config_parse_run_options(config, &options);
	out->invokers = options.invokers;
	out->receives = options.cancel_on != NIL;
	{
		ListCell   *lc;

		foreach(lc, out->triggers)
			out->receives |= ((TriggerConfig *) lfirst(lc))->event != NULL;
	}
}
