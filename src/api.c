/*-------------------------------------------------------------------------
 *
 * api.c
 *	  Management functions of the SQL API: create_function,
 *	  delete_function, compile_expression, tick, now, run_id, attempt;
 *	  and running internal SQL as the extension's owner.
 *
 * Users cannot write the extension's tables; the C code writes them as the
 * owner of the inngest schema (the role that created the extension), and
 * runs handlers and steps as the role that created the function.
 *
 *-------------------------------------------------------------------------
 */
#include "inngest.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonpath.h"
#include "utils/syscache.h"

#include "api.h"
#include "catalog.h"
#include "executor.h"
#include "expr.h"

PG_FUNCTION_INFO_V1(inngest_now);
PG_FUNCTION_INFO_V1(inngest_create_function);
PG_FUNCTION_INFO_V1(inngest_delete_function);
PG_FUNCTION_INFO_V1(inngest_compile_expression);
PG_FUNCTION_INFO_V1(inngest_tick);
PG_FUNCTION_INFO_V1(inngest_run_id);
PG_FUNCTION_INFO_V1(inngest_attempt);

/* The owner of schema inngest: the role that created the extension */
Oid
inngest_schema_owner(void)
{
	Oid			nsp = get_namespace_oid("inngest", false);
	HeapTuple	tup;
	Oid			owner;

	tup = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(nsp));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for namespace %u", nsp);
	owner = ((Form_pg_namespace) GETSTRUCT(tup))->nspowner;
	ReleaseSysCache(tup);
	return owner;
}

/*
 * Switch to the extension owner for internal statements, in the manner of
 * a SECURITY DEFINER function (SET ROLE is refused meanwhile).
 */
void
inngest_become_owner(Oid *save_userid, int *save_sec)
{
	GetUserIdAndSecContext(save_userid, save_sec);
	SetUserIdAndSecContext(inngest_schema_owner(),
						   *save_sec | SECURITY_LOCAL_USERID_CHANGE);
}

void
inngest_restore_user(Oid save_userid, int save_sec)
{
	SetUserIdAndSecContext(save_userid, save_sec);
}

/*
 * Set search_path until inngest_pop_search_path(), as a function's SET
 * clause would.  Callers must pop before their transaction or
 * subtransaction ends.
 */
int
inngest_push_search_path(const char *path)
{
	int			nestlevel = NewGUCNestLevel();

	(void) set_config_option("search_path", path, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	return nestlevel;
}

void
inngest_pop_search_path(int nestlevel)
{
	AtEOXact_GUC(true, nestlevel);
}

/*
 * For the rest of the transaction (SET LOCAL), search only pg_catalog:
 * workers call this at the start of every transaction they run.
 */
void
inngest_set_local_search_path(void)
{
	(void) set_config_option("search_path", "pg_catalog", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_LOCAL, true, 0, false);
}

/* inngest.now(): inngest.fake_now if set, else the real clock */
Datum
inngest_now(PG_FUNCTION_ARGS)
{
	PG_RETURN_TIMESTAMPTZ(inngest_clock());
}

/* inngest.create_function(config jsonb, handler regproc) RETURNS text */
Datum
inngest_create_function(PG_FUNCTION_ARGS)
{
	Jsonb	   *config = PG_GETARG_JSONB_P(0);
	Oid			handler = PG_GETARG_OID(1);

	PG_RETURN_TEXT_P(cstring_to_text(catalog_create_function(config, handler)));
}

/* inngest.delete_function(id text) */
Datum
inngest_delete_function(PG_FUNCTION_ARGS)
{
	catalog_delete_function(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	PG_RETURN_VOID();
}

/* inngest.compile_expression(expression text) RETURNS jsonpath */
Datum
inngest_compile_expression(PG_FUNCTION_ARGS)
{
	char	   *expr = text_to_cstring(PG_GETARG_TEXT_PP(0));

	PG_RETURN_JSONPATH_P(expr_compile(expr, EXPR_SCOPE_EVENT, "expression"));
}

/* inngest.tick(max_runs int DEFAULT NULL) RETURNS int */
Datum
inngest_tick(PG_FUNCTION_ARGS)
{
	int			max_runs = 0;

	if (!PG_ARGISNULL(0))
	{
		max_runs = PG_GETARG_INT32(0);
		if (max_runs < 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("max_runs must be at least 1, not %d", max_runs),
					 errhint("Pass NULL to advance every run that is due.")));
	}
	PG_RETURN_INT32(executor_tick(max_runs));
}

/* inngest.run_id(): the run being driven, NULL outside one */
Datum
inngest_run_id(PG_FUNCTION_ARGS)
{
	RunState   *run = executor_active_run();

	if (run == NULL)
		PG_RETURN_NULL();
	PG_RETURN_INT64(run->run_id);
}

/* inngest.attempt(): zero-based attempt of what is executing, as Inngest's */
Datum
inngest_attempt(PG_FUNCTION_ARGS)
{
	RunState   *run = executor_active_run();

	if (run == NULL)
		PG_RETURN_NULL();
	PG_RETURN_INT32(run->attempt);
}
