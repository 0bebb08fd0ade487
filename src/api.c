/*-------------------------------------------------------------------------
 *
 * api.c
 *	  Management functions of the SQL API: create_function,
 *	  delete_function, compile_expression, tick, now, run_id, attempt,
 *	  cancel_run, cancel_runs, rerun.
 *
 * Each checks what the calling role may do, then does it as the owner of
 * the inngest schema (security.c): users cannot write the extension's
 * tables themselves.
 *
 *-------------------------------------------------------------------------
 */
#include "inngest.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/acl.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonpath.h"
#include "utils/syscache.h"

#include "api.h"
#include "catalog.h"
#include "drive.h"
#include "expr.h"
#include "guc.h"
#include "lifecycle.h"
#include "replay.h"
#include "runs.h"
#include "security.h"
#include "spiutil.h"

PG_FUNCTION_INFO_V1(inngest_now);
PG_FUNCTION_INFO_V1(inngest_create_function);
PG_FUNCTION_INFO_V1(inngest_delete_function);
PG_FUNCTION_INFO_V1(inngest_compile_expression);
PG_FUNCTION_INFO_V1(inngest_tick);
PG_FUNCTION_INFO_V1(inngest_run_id);
PG_FUNCTION_INFO_V1(inngest_attempt);
PG_FUNCTION_INFO_V1(inngest_cancel_run);
PG_FUNCTION_INFO_V1(inngest_cancel_runs);
PG_FUNCTION_INFO_V1(inngest_rerun);

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

/*
 * inngest.delete_function(id text): the definition goes, and its runs that
 * are not being driven are cancelled (a run being driven notices at its
 * next step).
 */
Datum
inngest_delete_function(PG_FUNCTION_ARGS)
{
	char	   *id = text_to_cstring(PG_GETARG_TEXT_PP(0));
	Oid			save_userid;
	int			save_sec;

	catalog_delete_function(id);
	inngest_spi_connect();
	inngest_become_owner(&save_userid, &save_sec);
	runs_cancel_function(id);
	inngest_restore_user(save_userid, save_sec);
	SPI_finish();
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
	PG_RETURN_INT32(drive_tick(max_runs));
}

/* inngest.run_id(): the run being driven, NULL outside one */
Datum
inngest_run_id(PG_FUNCTION_ARGS)
{
	RunState   *run = replay_active_run();

	if (run == NULL)
		PG_RETURN_NULL();
	PG_RETURN_INT64(run->run_id);
}

/* inngest.attempt(): zero-based attempt of what is executing, as Inngest's */
Datum
inngest_attempt(PG_FUNCTION_ARGS)
{
	RunState   *run = replay_active_run();

	if (run == NULL)
		PG_RETURN_NULL();
	PG_RETURN_INT32(run->attempt);
}

/*
 * The function of a run, after checking that the caller may act on it: as
 * the run's owner (or a role with its privileges), an admin, or the
 * extension owner if that role was dropped.  A run the caller may not see
 * (row-level security of inngest.runs) is reported as not existing, as a
 * SELECT would show it; a reader who sees it but may not act is refused
 * without naming whose it is.  SPI connected, as the extension owner;
 * caller is the calling role.
 */
static char *
run_function_checked(int64 run_id, Oid caller, Jsonb **event)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(run_id)};
	int			ret;
	bool		isnull;
	char	   *function_id;
	Oid			owner;

	ret = SPI_execute_with_args("SELECT function_id, owner::pg_catalog.oid, event "
								"FROM inngest.runs WHERE id = $1",
								1, types, values, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read run %lld", (long long) run_id);
	owner = SPI_processed == 0 ? InvalidOid :
		DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
									   SPI_tuptable->tupdesc, 2, &isnull));
	if (SPI_processed == 0 ||
		(!catalog_may_act_as_owner(caller, owner) && !inngest_is_reader(caller)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("run %lld does not exist", (long long) run_id)));
	if (!catalog_may_act_as_owner(caller, owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for run %lld", (long long) run_id),
				 errhint("Only the owner of the run's function, a role with its privileges, or a member of inngest_admin may act on it.")));
	function_id = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[0],
													SPI_tuptable->tupdesc, 1, &isnull));
	if (event)
		*event = DatumGetJsonbPCopy(SPI_getbinval(SPI_tuptable->vals[0],
												  SPI_tuptable->tupdesc, 3, &isnull));
	return function_id;
}

/* inngest.cancel_run(run_id bigint) RETURNS boolean */
Datum
inngest_cancel_run(PG_FUNCTION_ARGS)
{
	int64		run_id = PG_GETARG_INT64(0);
	Oid			caller = GetUserId();
	Oid			save_userid;
	int			save_sec;
	bool		cancelled;

	inngest_spi_connect();
	inngest_become_owner(&save_userid, &save_sec);
	(void) run_function_checked(run_id, caller, NULL);
	cancelled = lifecycle_request_cancel(run_id, "cancel_run");
	inngest_restore_user(save_userid, save_sec);
	SPI_finish();
	PG_RETURN_BOOL(cancelled);
}

/*
 * inngest.cancel_runs(function_id, started_after, started_before, "if")
 * RETURNS int: Inngest's bulk cancellation.
 */
Datum
inngest_cancel_runs(PG_FUNCTION_ARGS)
{
	char	   *function_id;
	Oid			caller = GetUserId();
	Oid			save_userid;
	int			save_sec;
	JsonPath   *condition = NULL;
	Oid			types[3] = {TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	int			ret;
	uint64		i;
	uint64		n;
	int64	   *ids;
	Jsonb	  **events;
	int			count = 0;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("function_id must not be null")));
	function_id = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (!PG_ARGISNULL(3))
		condition = expr_compile(text_to_cstring(PG_GETARG_TEXT_PP(3)),
								 EXPR_SCOPE_EVENT, "if");

	inngest_spi_connect();
	inngest_become_owner(&save_userid, &save_sec);
	catalog_refresh();
	{
		InngestFunction *fn = catalog_lookup_function(function_id);

		if (fn == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("inngest function \"%s\" does not exist", function_id)));
		if (!catalog_may_act_as_owner(caller, fn->owner))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("must be owner of inngest function \"%s\"", function_id)));
	}

	values[0] = CStringGetTextDatum(function_id);
	values[1] = PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1);
	nulls[1] = PG_ARGISNULL(1) ? 'n' : ' ';
	values[2] = PG_ARGISNULL(2) ? (Datum) 0 : PG_GETARG_DATUM(2);
	nulls[2] = PG_ARGISNULL(2) ? 'n' : ' ';
	ret = SPI_execute_with_args("SELECT id, event FROM inngest.runs "
								"WHERE function_id = $1 "
								"AND status IN ('queued', 'running', 'sleeping', 'waiting') "
								"AND ($2 IS NULL OR COALESCE(started_at, created_at) >= $2) "
								"AND ($3 IS NULL OR COALESCE(started_at, created_at) < $3) "
								"ORDER BY id", 3, types, values, nulls, false, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read the runs of \"%s\"", function_id);
	n = SPI_processed;
	ids = palloc(sizeof(int64) * (n + 1));
	events = palloc(sizeof(Jsonb *) * (n + 1));
	for (i = 0; i < n; i++)
	{
		bool		isnull;

		ids[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
											 SPI_tuptable->tupdesc, 1, &isnull));
		events[i] = DatumGetJsonbPCopy(SPI_getbinval(SPI_tuptable->vals[i],
													 SPI_tuptable->tupdesc, 2, &isnull));
	}
	for (i = 0; i < n; i++)
	{
		if (condition != NULL && !expr_match(condition, events[i], NULL))
			continue;
		if (lifecycle_request_cancel(ids[i], "cancel_runs"))
			count++;
	}

	inngest_restore_user(save_userid, save_sec);
	SPI_finish();
	PG_RETURN_INT32(count);
}

/* inngest.rerun(run_id bigint) RETURNS bigint */
Datum
inngest_rerun(PG_FUNCTION_ARGS)
{
	int64		run_id = PG_GETARG_INT64(0);
	Oid			caller = GetUserId();
	Oid			save_userid;
	int			save_sec;
	char	   *function_id;
	Jsonb	   *event;
	int64		new_id;

	inngest_spi_connect();
	inngest_become_owner(&save_userid, &save_sec);
	function_id = run_function_checked(run_id, caller, &event);
	new_id = lifecycle_start_run(function_id, event, 0);
	inngest_restore_user(save_userid, save_sec);
	SPI_finish();
	PG_RETURN_INT64(new_id);
}
