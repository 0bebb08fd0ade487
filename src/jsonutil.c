/*-------------------------------------------------------------------------
 *
 * jsonutil.c
 *	  Building jsonb in C, key by key: events as handlers see them, errors
 *	  as runs and steps record them, system events.
 *
 *-------------------------------------------------------------------------
 */
#include "inngest.h"

#include "mb/pg_wchar.h"
#include "utils/datetime.h"
#include "utils/elog.h"
#include "utils/numeric.h"

#include "jsonutil.h"

static void
push_key(JsonbParseState **state, const char *key)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	(void) pushJsonbValue(state, WJB_KEY, &k);
}

/* Add "key": "value" (len bytes) to the object being built */
void
jsonb_push_string(JsonbParseState **state, const char *key, const char *value,
				  int len)
{
	JsonbValue	v;

	push_key(state, key);
	v.type = jbvString;
	v.val.string.val = (char *) value;
	v.val.string.len = len;
	(void) pushJsonbValue(state, WJB_VALUE, &v);
}

/* Add "key": value (a number) */
void
jsonb_push_int64(JsonbParseState **state, const char *key, int64 value)
{
	JsonbValue	v;

	push_key(state, key);
	v.type = jbvNumeric;
	v.val.numeric = int64_to_numeric(value);
	(void) pushJsonbValue(state, WJB_VALUE, &v);
}

/* Add "key": value (any jsonb; NULL becomes JSON null) */
void
jsonb_push_jsonb(JsonbParseState **state, const char *key, Jsonb *value)
{
	JsonbValue	v;

	push_key(state, key);
	if (value == NULL)
	{
		v.type = jbvNull;
		(void) pushJsonbValue(state, WJB_VALUE, &v);
	}
	else if (JB_ROOT_IS_SCALAR(value))
	{
		(void) JsonbExtractScalar(&value->root, &v);
		(void) pushJsonbValue(state, WJB_VALUE, &v);
	}
	else
	{
		v.type = jbvBinary;
		v.val.binary.data = &value->root;
		v.val.binary.len = VARSIZE(value) - VARHDRSZ;
		(void) pushJsonbValue(state, WJB_VALUE, &v);
	}
}

/* Inngest's "ts": milliseconds since the Unix epoch */
int64
inngest_unix_ms(TimestampTz t)
{
	return t / 1000 +
		(int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * 1000;
}

/*
 * An event as a handler sees it: {"name", "data", "id", "ts"}.  Every
 * event a run receives is built here: inserted ones (events.c), the
 * invoked function's (lifecycle.c) and cron's (schedules.c).
 */
Jsonb *
jsonb_event(const char *name, int namelen, Jsonb *data, const char *id,
			int idlen, TimestampTz ts)
{
	JsonbParseState *state = NULL;

	(void) pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	jsonb_push_string(&state, "name", name, namelen);
	jsonb_push_jsonb(&state, "data", data);
	jsonb_push_string(&state, "id", id, idlen);
	jsonb_push_int64(&state, "ts", inngest_unix_ms(ts));
	return JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL));
}

/*
 * An error as jsonb: {"message", "sqlstate", "detail", "hint", "context"}.
 * NULL stands for "the run's function no longer exists".
 */
Jsonb *
jsonb_error(ErrorData *edata)
{
	JsonbParseState *state = NULL;
	ErrorData	gone;

	if (edata == NULL)
	{
		memset(&gone, 0, sizeof(gone));
		gone.sqlerrcode = ERRCODE_UNDEFINED_OBJECT;
		gone.message = "the run's function was deleted";
		edata = &gone;
	}

#define PUSH_TEXT(name, s) \
	do { if ((s) != NULL) \
		jsonb_push_string(&state, (name), (s), strlen(s)); } while (0)

	(void) pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	PUSH_TEXT("message", edata->message ? edata->message : "unknown error");
	PUSH_TEXT("sqlstate", unpack_sql_state(edata->sqlerrcode));
	PUSH_TEXT("detail", edata->detail);
	PUSH_TEXT("hint", edata->hint);
	PUSH_TEXT("context", edata->context);
#undef PUSH_TEXT
	return JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL));
}

/* jsonb_error() of an error made here: a code and a message */
Jsonb *
jsonb_error_message(int sqlerrcode, const char *message)
{
	ErrorData	ed;

	memset(&ed, 0, sizeof(ed));
	ed.sqlerrcode = sqlerrcode;
	ed.message = (char *) message;
	return jsonb_error(&ed);
}

/*
 * text as an error message quotes it: whole if at most maxbytes bytes,
 * otherwise its first maxbytes bytes cut between characters, and "...".
 * Never a partial multibyte character: the message may be stored in a
 * run's error, and invalid text there would break COPY and pg_dump.
 */
char *
inngest_clip(const char *text, int maxbytes)
{
	int			len = strlen(text);

	if (len <= maxbytes)
		return pstrdup(text);
	len = pg_mbcliplen(text, len, maxbytes);
	return psprintf("%.*s...", len, text);
}
