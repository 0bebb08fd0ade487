/*-------------------------------------------------------------------------
 *
 * jsonutil.c
 *	  Small helpers shared by the subsystems: building jsonb objects key by
 *	  key (events, errors, system events), and preparing SPI plans once.
 *
 *-------------------------------------------------------------------------
 */
#include "inngest.h"

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

/*
 * Prepare sql once per backend and keep the plan in *slot.  PostgreSQL's
 * plan cache revalidates it when the tables it uses change (or are dropped
 * and created again with the extension).
 */
SPIPlanPtr
inngest_keep_plan(SPIPlanPtr *slot, const char *sql, int nargs,
				  const Oid *types)
{
	if (*slot == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare(sql, nargs, (Oid *) types);

		if (plan == NULL)
			elog(ERROR, "could not prepare \"%s\": %s", sql,
				 SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "SPI_keepplan failed");
		*slot = plan;
	}
	return *slot;
}

/*
 * Execute the kept plan in *slot (prepared from sql on first use) with a
 * fresh snapshot; an outcome other than expected is an internal error.
 * Returns SPI_processed.
 */
uint64
inngest_run_plan(SPIPlanPtr *slot, const char *sql, int nargs, const Oid *types,
				 Datum *values, const char *nulls, int expected)
{
	int			ret;

	ret = SPI_execute_plan(inngest_keep_plan(slot, sql, nargs, types),
						   values, nulls, false, 0);
	if (ret != expected)
		elog(ERROR, "inngest_pg internal statement failed (%s): %s",
			 SPI_result_code_string(ret), sql);
	return SPI_processed;
}
