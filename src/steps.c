/*-------------------------------------------------------------------------
 *
 * steps.c
 *	  The step functions a handler calls: inngest.step_run(...).
 *
 * On replay a step call returns its memo.  The first time a step id is
 * reached it is not executed here, inside the handler: its query and
 * arguments are copied into the run's pending step and the handler is
 * interrupted, so that the executor can run it in a transaction of its
 * own, where its writes and its memo commit together (replay.c,
 * drive.c).
 *
 *-------------------------------------------------------------------------
 */
#include "inngest.h"

#include "funcapi.h"
#include "parser/parser.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "config.h"
#include "expr.h"
#include "guc.h"
#include "replay.h"
#include "steps.h"

PG_FUNCTION_INFO_V1(inngest_step_run);
PG_FUNCTION_INFO_V1(inngest_step_sleep);
PG_FUNCTION_INFO_V1(inngest_step_sleep_text);
PG_FUNCTION_INFO_V1(inngest_step_sleep_until);
PG_FUNCTION_INFO_V1(inngest_step_send_event);
PG_FUNCTION_INFO_V1(inngest_step_wait_for_event);
PG_FUNCTION_INFO_V1(inngest_step_invoke);

/* The longest a run may sleep or wait */
#define MAX_SLEEP "1 year"

/* The memo as the function result; a copy, the caller may free it */
static Datum
memo_result(FunctionCallInfo fcinfo, MemoEntry *memo)
{
	Jsonb	   *copy;

	if (memo->output == NULL)
		PG_RETURN_NULL();
	copy = palloc(VARSIZE(memo->output));
	memcpy(copy, memo->output, VARSIZE(memo->output));
	PG_RETURN_JSONB_P(copy);
}

/*
 * The memo key of this call's step id, and its memo if the step has
 * completed (else NULL).  Raises at once if a step is already pending.
 */
static MemoEntry *
step_lookup(FunctionCallInfo fcinfo, Replay *rp, char **key)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("step id must not be null")));
	*key = replay_step_key(rp, text_to_cstring(PG_GETARG_TEXT_PP(0)));
	return replay_memo_lookup(rp, *key);
}

/*
 * now + 1 year: sleeps and waits may not be longer, as in Inngest.  Later
 * than that is a misuse no retry fixes, so it fails the run.
 */
static void
check_resume_time(Replay *rp, const char *key, TimestampTz until)
{
	TimestampTz limit;

	limit = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
													TimestampTzGetDatum(inngest_clock()),
													DirectFunctionCall3(interval_in,
																		CStringGetDatum(MAX_SLEEP),
																		ObjectIdGetDatum(InvalidOid),
																		Int32GetDatum(-1))));
	if (until > limit)
		replay_fatal(rp, ERRCODE_INVALID_PARAMETER_VALUE,
					   "step \"%s\" would resume at %s, more than %s from now",
					   key, timestamptz_to_str(until), MAX_SLEEP);
}

/*
 * now + d, for a sleep's duration or a wait's timeout ("what" names it in
 * messages): negative or beyond a year fails the run.
 */
static TimestampTz
resume_after(Replay *rp, const char *key, Interval *d, const char *what)
{
	Interval	zero;
	TimestampTz until;

	memset(&zero, 0, sizeof(zero));
	if (DatumGetInt32(DirectFunctionCall2(interval_cmp, IntervalPGetDatum(d),
										  IntervalPGetDatum(&zero))) < 0)
		replay_fatal(rp, ERRCODE_INVALID_PARAMETER_VALUE,
					   "%s of step \"%s\" must not be negative", what, key);
	until = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
													TimestampTzGetDatum(inngest_clock()),
													IntervalPGetDatum(d)));
	check_resume_time(rp, key, until);
	return until;
}

/* A new sleep step until the given time */
static void
pg_attribute_noreturn()
discover_sleep(Replay *rp, const char *key, TimestampTz until)
{
	PendingStep *step = replay_new_step(rp, key, STEP_SLEEP);

	step->until = until;
	replay_discover(rp);
}

/*
 * inngest.step_sleep(step_id text, duration interval) RETURNS void
 *
 * The run leaves the executor and holds nothing until the time comes.
 */
Datum
inngest_step_sleep(PG_FUNCTION_ARGS)
{
	Replay	   *rp = replay_current("inngest.step_sleep()");
	char	   *key;
	Interval   *duration;
	TimestampTz until;

	if (step_lookup(fcinfo, rp, &key) != NULL)
		PG_RETURN_VOID();

	if (PG_ARGISNULL(1))
		replay_fatal(rp, ERRCODE_NULL_VALUE_NOT_ALLOWED,
					   "duration of step \"%s\" must not be null", key);
	duration = PG_GETARG_INTERVAL_P(1);
	until = resume_after(rp, key, duration, "duration");

	discover_sleep(rp, key, until);
}

/* text in PostgreSQL's interval syntax, or NULL if it is not */
static Interval *
interval_or_null(const char *text)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	Interval   *volatile result = NULL;

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
	}
	PG_END_TRY();
	return result;
}

/*
 * inngest.step_sleep(step_id text, duration text) RETURNS void
 *
 * The same with Inngest's duration strings, as step.sleep takes them:
 * "30s", "1h30m", "7d", digits alone for milliseconds
 * (config_inngest_duration), or PostgreSQL's interval syntax.  A literal
 * ('30m') resolves to this overload; an interval value to the other one.
 */
Datum
inngest_step_sleep_text(PG_FUNCTION_ARGS)
{
	Replay	   *rp = replay_current("inngest.step_sleep()");
	char	   *key;
	char	   *written;
	int64		usecs;
	Interval   *duration;

	if (step_lookup(fcinfo, rp, &key) != NULL)
		PG_RETURN_VOID();

	if (PG_ARGISNULL(1))
		replay_fatal(rp, ERRCODE_NULL_VALUE_NOT_ALLOWED,
					   "duration of step \"%s\" must not be null", key);
	written = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (config_inngest_duration(written, &usecs))
	{
		duration = palloc0(sizeof(Interval));
		duration->time = usecs;
	}
	else if ((duration = interval_or_null(written)) == NULL)
		replay_fatal(rp, ERRCODE_INVALID_PARAMETER_VALUE,
					   "duration of step \"%s\" must be like '30s', '1h30m', '7d' or an interval, not \"%s\"",
					   key, written);
	discover_sleep(rp, key, resume_after(rp, key, duration, "duration"));
}

/*
 * inngest.step_sleep_until(step_id text, until timestamptz) RETURNS void
 *
 * A time already past resumes at once.
 */
Datum
inngest_step_sleep_until(PG_FUNCTION_ARGS)
{
	Replay	   *rp = replay_current("inngest.step_sleep_until()");
	char	   *key;
	TimestampTz until;

	if (step_lookup(fcinfo, rp, &key) != NULL)
		PG_RETURN_VOID();

	if (PG_ARGISNULL(1))
		replay_fatal(rp, ERRCODE_NULL_VALUE_NOT_ALLOWED,
					   "time of step \"%s\" must not be null", key);
	until = PG_GETARG_TIMESTAMPTZ(1);
	if (TIMESTAMP_NOT_FINITE(until))
		replay_fatal(rp, ERRCODE_INVALID_PARAMETER_VALUE,
					   "time of step \"%s\" must be finite", key);
	check_resume_time(rp, key, until);

	discover_sleep(rp, key, until);
}

/*
 * inngest.step_send_event(step_id text, name text, data jsonb) RETURNS jsonb
 *
 * Sends the event once (memoized) and returns {"ids": [...]}.
 */
Datum
inngest_step_send_event(PG_FUNCTION_ARGS)
{
	Replay	   *rp = replay_current("inngest.step_send_event()");
	char	   *key;
	MemoEntry  *memo;
	PendingStep *step;
	text	   *name;
	Jsonb	   *data;
	MemoryContext oldcxt;

	memo = step_lookup(fcinfo, rp, &key);
	if (memo != NULL)
		return memo_result(fcinfo, memo);

	if (PG_ARGISNULL(1) || VARSIZE_ANY_EXHDR(PG_GETARG_TEXT_PP(1)) == 0)
		replay_fatal(rp, ERRCODE_INVALID_PARAMETER_VALUE,
					   "event name of step \"%s\" must not be empty", key);
	name = PG_GETARG_TEXT_PP(1);
	if (PG_ARGISNULL(2))
		replay_fatal(rp, ERRCODE_NULL_VALUE_NOT_ALLOWED,
					   "event data of step \"%s\" must not be null", key);
	data = PG_GETARG_JSONB_P(2);
	if (!JB_ROOT_IS_OBJECT(data) || JB_ROOT_IS_SCALAR(data))
		replay_fatal(rp, ERRCODE_INVALID_PARAMETER_VALUE,
					   "event data of step \"%s\" must be a JSON object", key);

	oldcxt = MemoryContextSwitchTo(rp->invoke_cxt);
	step = replay_new_step(rp, key, STEP_SEND);
	step->event_name = text_to_cstring(name);
	step->event_data = palloc(VARSIZE(data));
	memcpy(step->event_data, data, VARSIZE(data));
	MemoryContextSwitchTo(oldcxt);

	replay_discover(rp);
}

/*
 * inngest.step_wait_for_event(step_id text, event text, timeout interval,
 *                             match text DEFAULT NULL, "if" text DEFAULT NULL)
 *   RETURNS jsonb
 *
 * The first matching event ({name, data, id, ts}) committed after the wait
 * is registered, or NULL at the timeout.  match is Inngest's shorthand
 * ("data.user_id": the incoming event's data.user_id equals this run's);
 * "if" is an expression over event (this run's) and async (the incoming).
 */
Datum
inngest_step_wait_for_event(PG_FUNCTION_ARGS)
{
	Replay	   *rp = replay_current("inngest.step_wait_for_event()");
	char	   *key;
	MemoEntry  *memo;
	PendingStep *step;
	Interval   *timeout;
	TimestampTz until;
	MemoryContext oldcxt;
	char	   *match = NULL;
	char	   *cond = NULL;

	memo = step_lookup(fcinfo, rp, &key);
	if (memo != NULL)
		return memo_result(fcinfo, memo);

	if (PG_ARGISNULL(1) || VARSIZE_ANY_EXHDR(PG_GETARG_TEXT_PP(1)) == 0)
		replay_fatal(rp, ERRCODE_INVALID_PARAMETER_VALUE,
					   "event name of step \"%s\" must not be empty", key);
	if (VARSIZE_ANY_EXHDR(PG_GETARG_TEXT_PP(1)) > INNGEST_MAX_ID_LEN)
		replay_fatal(rp, ERRCODE_INVALID_PARAMETER_VALUE,
					   "event name of step \"%s\" is too long", key);
	if (PG_ARGISNULL(2))
		replay_fatal(rp, ERRCODE_NULL_VALUE_NOT_ALLOWED,
					   "step \"%s\" needs a timeout", key);
	timeout = PG_GETARG_INTERVAL_P(2);
	until = resume_after(rp, key, timeout, "timeout");

	if (!PG_ARGISNULL(3))
	{
		match = text_to_cstring(PG_GETARG_TEXT_PP(3));
		if (!expr_valid_match(match))
			replay_fatal(rp, ERRCODE_INVALID_PARAMETER_VALUE,
						   "\"%s\" is not a valid match path in step \"%s\"",
						   match, key);
	}
	if (!PG_ARGISNULL(4))
		cond = text_to_cstring(PG_GETARG_TEXT_PP(4));

	oldcxt = MemoryContextSwitchTo(rp->invoke_cxt);
	step = replay_new_step(rp, key, STEP_WAIT);
	step->event_name = text_to_cstring(PG_GETARG_TEXT_PP(1));
	step->until = until;
	step->match_path = match ? expr_compile_match(match, key) : NULL;
	step->condition = NULL;
	if (cond != NULL)
	{
		ErrorData  *volatile edata = NULL;

		PG_TRY();
		{
			step->condition = expr_compile(cond, EXPR_SCOPE_ASYNC, "if");
		}
		PG_CATCH();
		{
			MemoryContextSwitchTo(rp->invoke_cxt);
			edata = CopyErrorData();
			FlushErrorState();
		}
		PG_END_TRY();
		if (edata != NULL)
			replay_fatal(rp, edata->sqlerrcode, "step \"%s\": %s", key,
						   edata->message);
	}
	MemoryContextSwitchTo(oldcxt);

	replay_discover(rp);
}

/*
 * What an invoke step's memo (the event that ended the callee, or NULL at
 * the timeout) means for the caller: the callee's output, or an IG001
 * error, which fails the caller unless its handler catches it.
 */
static Datum
invoke_result(FunctionCallInfo fcinfo, const char *key, MemoEntry *memo)
{
	JsonbValue	v;
	JsonbValue *name;
	JsonbValue *data;
	JsonbValue *field;

	if (memo->output == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INNGEST_NON_RETRIABLE),
				 errmsg("step \"%s\": the invoked function did not finish in time", key)));

	name = getKeyJsonValueFromContainer(&memo->output->root, "name", 4, NULL);
	data = getKeyJsonValueFromContainer(&memo->output->root, "data", 4, NULL);
	if (name == NULL || name->type != jbvString || data == NULL || data->type != jbvBinary)
		elog(ERROR, "step \"%s\": unexpected invoke memo", key);

	/* "finished" reports a failure too, with "error" instead of "result" */
	if (name->val.string.len == strlen("inngest/function.finished") &&
		strncmp(name->val.string.val, "inngest/function.finished", name->val.string.len) == 0 &&
		getKeyJsonValueFromContainer(data->val.binary.data, "error", 5, NULL) == NULL)
	{
		field = getKeyJsonValueFromContainer(data->val.binary.data, "result", 6, &v);
		if (field == NULL || field->type == jbvNull)
			PG_RETURN_NULL();
		PG_RETURN_JSONB_P(JsonbValueToJsonb(field));
	}

	field = getKeyJsonValueFromContainer(data->val.binary.data, "function_id", 11, NULL);
	if (getKeyJsonValueFromContainer(data->val.binary.data, "error", 5, NULL) != NULL)
	{
		JsonbValue *error = getKeyJsonValueFromContainer(data->val.binary.data, "error", 5, NULL);
		JsonbValue *message = NULL;

		if (error != NULL && error->type == jbvBinary)
			message = getKeyJsonValueFromContainer(error->val.binary.data, "message", 7, NULL);
		ereport(ERROR,
				(errcode(ERRCODE_INNGEST_NON_RETRIABLE),
				 errmsg("step \"%s\": invoked function \"%.*s\" failed: %.*s", key,
						field ? field->val.string.len : 0, field ? field->val.string.val : "",
						message && message->type == jbvString ? message->val.string.len : 0,
						message && message->type == jbvString ? message->val.string.val : "")));
	}
	ereport(ERROR,
			(errcode(ERRCODE_INNGEST_NON_RETRIABLE),
			 errmsg("step \"%s\": invoked function \"%.*s\" was cancelled", key,
					field ? field->val.string.len : 0, field ? field->val.string.val : "")));
	PG_RETURN_NULL();			/* keep the compiler quiet */
}

/*
 * inngest.step_invoke(step_id text, function_id text, data jsonb DEFAULT '{}',
 *                     timeout interval DEFAULT NULL) RETURNS jsonb
 *
 * Runs the other function (its event is inngest/function.invoked with this
 * data) and returns its output.  Its failure, cancellation or the timeout
 * raise SQLSTATE IG001 here.
 */
Datum
inngest_step_invoke(PG_FUNCTION_ARGS)
{
	Replay	   *rp = replay_current("inngest.step_invoke()");
	char	   *key;
	MemoEntry  *memo;
	PendingStep *step;
	Jsonb	   *data;
	TimestampTz until = 0;
	MemoryContext oldcxt;

	memo = step_lookup(fcinfo, rp, &key);
	if (memo != NULL)
		return invoke_result(fcinfo, key, memo);

	if (PG_ARGISNULL(1) || VARSIZE_ANY_EXHDR(PG_GETARG_TEXT_PP(1)) == 0)
		replay_fatal(rp, ERRCODE_INVALID_PARAMETER_VALUE,
					   "function id of step \"%s\" must not be empty", key);
	if (PG_ARGISNULL(2))
		replay_fatal(rp, ERRCODE_NULL_VALUE_NOT_ALLOWED,
					   "data of step \"%s\" must not be null", key);
	data = PG_GETARG_JSONB_P(2);
	if (!JB_ROOT_IS_OBJECT(data) || JB_ROOT_IS_SCALAR(data))
		replay_fatal(rp, ERRCODE_INVALID_PARAMETER_VALUE,
					   "data of step \"%s\" must be a JSON object", key);
	if (!PG_ARGISNULL(3))
		until = resume_after(rp, key, PG_GETARG_INTERVAL_P(3), "timeout");

	oldcxt = MemoryContextSwitchTo(rp->invoke_cxt);
	step = replay_new_step(rp, key, STEP_INVOKE);
	step->event_name = text_to_cstring(PG_GETARG_TEXT_PP(1));
	step->event_data = palloc(VARSIZE(data));
	memcpy(step->event_data, data, VARSIZE(data));
	step->until = until;
	MemoryContextSwitchTo(oldcxt);

	replay_discover(rp);
}

/*
 * inngest.step_run(step_id text, query text [, VARIADIC args "any"])
 *
 * The query's first column of its first row, as jsonb (NULL if no row),
 * becomes the step's memoized output.  Arguments are bound as $1, $2, ...
 * never spliced into the SQL.
 */
Datum
inngest_step_run(PG_FUNCTION_ARGS)
{
	Replay	   *rp = replay_current("inngest.step_run()");
	char	   *key;
	MemoEntry  *memo;
	char	   *query;
	PendingStep *step;
	MemoryContext oldcxt;
	Datum	   *args = NULL;
	Oid		   *types = NULL;
	bool	   *nulls = NULL;
	int			nargs = 0;
	int			i;

	memo = step_lookup(fcinfo, rp, &key);
	if (memo != NULL)
		return memo_result(fcinfo, memo);

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("query of step \"%s\" must not be null", key)));
	query = text_to_cstring(PG_GETARG_TEXT_PP(1));

	/*
	 * A query that does not parse can never succeed: report it now, from
	 * the handler, as a syntax error, which fails the run without retries.
	 */
	(void) raw_parser(query, RAW_PARSE_DEFAULT);

	if (PG_NARGS() > 2)
	{
		nargs = extract_variadic_args(fcinfo, 2, true, &args, &types, &nulls);
		if (nargs < 0)
			nargs = 0;			/* VARIADIC NULL: no arguments */
	}

	/* copy everything the executor needs out of the handler's memory */
	oldcxt = MemoryContextSwitchTo(rp->invoke_cxt);
	step = replay_new_step(rp, key, STEP_RUN);
	step->query = pstrdup(query);
	step->nargs = nargs;
	step->argtypes = palloc(sizeof(Oid) * (nargs + 1));
	step->args = palloc(sizeof(Datum) * (nargs + 1));
	step->argnulls = palloc(nargs + 1);
	for (i = 0; i < nargs; i++)
	{
		int16		typlen;
		bool		typbyval;

		step->argtypes[i] = types[i];
		step->argnulls[i] = nulls[i] ? 'n' : ' ';
		if (nulls[i])
			step->args[i] = (Datum) 0;
		else
		{
			get_typlenbyval(types[i], &typlen, &typbyval);
			step->args[i] = datumCopy(args[i], typbyval, typlen);
		}
	}
	step->argnulls[nargs] = '\0';
	step->search_path = pstrdup(GetConfigOption("search_path", false, false));
	MemoryContextSwitchTo(oldcxt);

	replay_discover(rp);
}
