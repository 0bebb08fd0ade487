/*-------------------------------------------------------------------------
 *
 * flow.c
 *	  Flow control: the configuration keys, and the admission of runs when
 *	  an event arrives (idempotency, rateLimit, singleton, batchEvents,
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
 * Concurrency limits act while runs execute: see slots.c.
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

#include "catalog.h"
#include "expr.h"
#include "flow.h"
#include "ingest.h"
#include "jsonutil.h"
#include "waits.h"
#include "worker.h"

/* Field4 of the advisory lock that serializes singleton admissions */
#define INNGEST_LOCKTAG_SINGLETON	0x494A

#define SECS(n) ((int64) (n) * USECS_PER_SEC)

typedef struct FlowPlans
{
	SPIPlanPtr	idempotency;
	SPIPlanPtr	gcra;
	SPIPlanPtr	singleton_active;
	SPIPlanPtr	insert_run;
	SPIPlanPtr	insert_skipped;
	SPIPlanPtr	debounce;
	SPIPlanPtr	batch;
	SPIPlanPtr	cleanup_state;
	SPIPlanPtr	cleanup_keys;
} FlowPlans;

static FlowPlans plans;

/* ----------------------------------------------------------------------
 * Configuration
 * ----------------------------------------------------------------------
 */

/* Check that obj has only the given keys (NULL-terminated) */
static void
check_keys(JsonbContainer *obj, const char *prefix, const char *const *keys,
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

/* A duration in [min, max] seconds, in microseconds */
static int64
get_period(JsonbValue *v, const char *key, int64 min, int64 max,
		   const char *range)
{
	Interval   *iv = config_parse_duration(v, key);
	int64		usecs = iv->time + iv->day * USECS_PER_DAY +
		(int64) iv->month * DAYS_PER_MONTH * USECS_PER_DAY;

	if (usecs < min || usecs > max)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("configuration key \"%s\" must be from %s, not \"%.*s\"",
						key, range, v->val.string.len, v->val.string.val)));
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
	check_keys(obj, prefix, names,
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
FlowConfig *
flow_parse_config(Jsonb *config, bool has_cancel_on)
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
 * Admission
 * ----------------------------------------------------------------------
 */

/*
 * The event that keys are evaluated on: the run's, or for a batch the
 * first event of it (as Inngest does).
 */
Jsonb *
flow_key_event(InngestFunction *fn, Jsonb *event)
{
	JsonbValue	v;
	JsonbValue *first;

	if (fn->flow == NULL || fn->flow->batch_max == 0 ||
		!config_get_key(&event->root, "events", &v) || v.type != jbvBinary)
		return event;
	first = getIthJsonbValueFromContainer(v.val.binary.data, 0);
	if (first == NULL)
		return event;
	return JsonbValueToJsonb(first);
}

/* "<kind>:<function id>:<key value>", or without the key */
static char *
scoped_key(const char *kind, InngestFunction *fn, ExprValue *key, Jsonb *event)
{
	if (key == NULL)
		return psprintf("%s:%s", kind, fn->id);
	return psprintf("%s:%s:%s", kind, fn->id, expr_eval_key(key, event));
}

static Datum
usecs_interval(int64 usecs)
{
	Interval   *iv = palloc0(sizeof(Interval));

	iv->time = usecs;
	return IntervalPGetDatum(iv);
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
	values[2] = usecs_interval(t);
	values[3] = usecs_interval(tau);
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

/* A run that will not start, with the reason */
static int64
insert_skipped(InngestFunction *fn, Jsonb *event, const char *reason,
			   int64 other_run)
{
	Oid			types[4] = {TEXTOID, JSONBOID, JSONBOID, TIMESTAMPTZOID};
	Datum		values[4];
	JsonbParseState *state = NULL;
	bool		isnull;
	int64		run_id;

	(void) pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	jsonb_push_string(&state, "reason", reason, strlen(reason));
	if (other_run != 0)
		jsonb_push_int64(&state, "run_id", other_run);
	values[0] = CStringGetTextDatum(fn->id);
	values[1] = JsonbPGetDatum(event);
	values[2] = JsonbPGetDatum(JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL)));
	values[3] = TimestampTzGetDatum(inngest_clock());
	(void) inngest_run_plan(&plans.insert_skipped,
							"INSERT INTO inngest.runs (function_id, event, status, error, "
							"created_at, ended_at) VALUES ($1, $2, 'skipped', $3, $4, $4) "
							"RETURNING id",
							4, types, values, NULL, SPI_OK_INSERT_RETURNING);
	run_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
										 SPI_tuptable->tupdesc, 1, &isnull));
	SPI_freetuptable(SPI_tuptable);
	return run_id;
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
		(void) waits_cancel_run(runs[i], false, "singleton");
	return 0;
}

/* The id and "was inserted" of a run an upsert RETURNING id, xmax = 0 gave */
static int64
upserted_run(bool *inserted)
{
	bool		isnull;
	int64		run_id;

	run_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
										 SPI_tuptable->tupdesc, 1, &isnull));
	*inserted = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
										   SPI_tuptable->tupdesc, 2, &isnull));
	SPI_freetuptable(SPI_tuptable);
	return run_id;
}

/* debounce: gather the key's pending run, or start gathering one */
static int64
admit_debounce(InngestFunction *fn, Jsonb *event, bool *inserted)
{
	FlowConfig *flow = fn->flow;
	Oid			types[6] = {TEXTOID, JSONBOID, TIMESTAMPTZOID, TEXTOID,
	INTERVALOID, TIMESTAMPTZOID};
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	TimestampTz now = inngest_clock();

	values[0] = CStringGetTextDatum(fn->id);
	values[1] = JsonbPGetDatum(event);
	values[2] = TimestampTzGetDatum(now + flow->debounce_period);
	values[3] = CStringGetTextDatum(scoped_key("debounce", fn, flow->debounce_key, event));
	/* the latest start: timeout after the first event, if there is one */
	if (flow->debounce_timeout > 0)
		values[4] = usecs_interval(flow->debounce_timeout);
	else
		nulls[4] = 'n';
	values[5] = TimestampTzGetDatum(now);
	(void) inngest_run_plan(&plans.debounce,
							"INSERT INTO inngest.runs AS r (function_id, event, status, "
							"wake_at, created_at, pending_key) "
							"VALUES ($1, $2, 'queued', LEAST($3, $6 + $5), $6, $4) "
							"ON CONFLICT (pending_key) WHERE pending_key IS NOT NULL "
							"DO UPDATE SET event = excluded.event, "
							"wake_at = LEAST($3, r.created_at + $5) "
							"RETURNING id, xmax OPERATOR(pg_catalog.=) 0",
							6, types, values, nulls, SPI_OK_INSERT_RETURNING);
	return upserted_run(inserted);
}

/* batchEvents: append the event to the key's open batch, or open one */
static int64
admit_batch(InngestFunction *fn, Jsonb *event, bool *inserted)
{
	FlowConfig *flow = fn->flow;
	Oid			types[6] = {TEXTOID, JSONBOID, TIMESTAMPTZOID, TEXTOID,
	TIMESTAMPTZOID, INT4OID};
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	TimestampTz now = inngest_clock();
	bool		alone;

	/* events outside the batch condition, and batches of one, start at once */
	alone = flow->batch_max == 1 ||
		(flow->batch_if != NULL && !expr_match(flow->batch_if, event, NULL));

	values[0] = CStringGetTextDatum(fn->id);
	values[1] = JsonbPGetDatum(event);
	values[2] = TimestampTzGetDatum(alone ? now : now + flow->batch_timeout);
	if (alone)
		nulls[3] = 'n';
	else
		values[3] = CStringGetTextDatum(scoped_key("batch", fn, flow->batch_key, event));
	values[4] = TimestampTzGetDatum(now);
	values[5] = Int32GetDatum(flow->batch_max);
	(void) inngest_run_plan(&plans.batch,
							"INSERT INTO inngest.runs AS r (function_id, event, status, "
							"wake_at, created_at, pending_key) "
							"VALUES ($1, pg_catalog.jsonb_build_object('events', "
							"  pg_catalog.jsonb_build_array($2)), 'queued', $3, $5, $4) "
							"ON CONFLICT (pending_key) WHERE pending_key IS NOT NULL "
							"DO UPDATE SET "
							"event = pg_catalog.jsonb_build_object('events', "
							"  (r.event OPERATOR(pg_catalog.->) 'events') "
							"  OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_array($2)), "
							"wake_at = CASE WHEN pg_catalog.jsonb_array_length("
							"  r.event OPERATOR(pg_catalog.->) 'events') + 1 >= $6 "
							"  THEN $5 ELSE r.wake_at END, "
							"pending_key = CASE WHEN pg_catalog.jsonb_array_length("
							"  r.event OPERATOR(pg_catalog.->) 'events') + 1 >= $6 "
							"  THEN NULL ELSE r.pending_key END "
							"RETURNING id, xmax OPERATOR(pg_catalog.=) 0",
							6, types, values, nulls, SPI_OK_INSERT_RETURNING);
	return upserted_run(inserted);
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
		return insert_skipped(fn, event, "rateLimit", 0);
	if (flow->singleton_key != NULL)
	{
		int64		other;

		singleton = scoped_key("singleton", fn, flow->singleton_key, event);
		other = singleton_conflict(fn, singleton);
		if (other != 0)
			return insert_skipped(fn, event, "singleton", other);
	}

	if (flow->batch_max == 0 && flow->debounce_period == 0)
	{
		TimestampTz wake_at = inngest_clock();

		if (flow->throttle_limit > 0)
			wake_at = throttle_start(fn, event);
		if (flow->priority != NULL)
			wake_at -= SECS(run_priority(fn, event));
		/* a busy concurrency key: the run is created set aside (slots.c) */
		return ingest_insert_run(fn, event, wake_at, singleton,
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
		ingest_register_cancel_waits(run_id, fn, event);
	}
	worker_request_wake();
	return inserted ? run_id : 0;
}

/*
 * Forget expired state: rate and throttle rows whose arrival time has
 * passed are the same as no row, and idempotency keys older than 24
 * hours no longer apply.  Called now and then by the executors.
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
