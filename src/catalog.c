/*-------------------------------------------------------------------------
 *
 * catalog.c
 *	  Function definitions: storing them (inngest.functions, triggers and
 *	  schedules) and the backend-local cache that the event trigger and
 *	  the executor read.
 *
 * The cache maps event names to the triggers that listen for them and
 * function ids to what runs need (handler, owner, retries, parsed
 * options), with every "if" expression already compiled to jsonpath.  It
 * is rebuilt from inngest.functions and inngest.triggers when a relcache
 * invalidation of inngest.functions arrives; statement triggers on both
 * tables send one for every write (create_function, delete_function, or
 * the COPY of a restore, which would send none by itself), so every
 * backend sees a change at its next transaction without polling.  The keys
 * of a configuration are parsed in config.c.
 *
 * The handler is stored as regprocedure, its name with its argument types,
 * so that pg_dump dumps it in a form that a restore finds again even when
 * the name is overloaded.
 *
 * Callers hold pointers into the cache (a trigger list, a function) while
 * they do work that may rebuild it: the event trigger's fan-out publishes
 * system events, whose own fan-out refreshes the cache.  So a rebuild never
 * frees the cache it replaces: it retires it, and retired caches are freed
 * when the transaction ends, when nothing can point into them any more.
 *
 *-------------------------------------------------------------------------
 */
#include "inngest.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_proc.h"
#include "commands/extension.h"
#include "storage/lmgr.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
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
#include "config.h"
#include "cron.h"
#include "guc.h"
#include "security.h"
#include "spiutil.h"
#include "wake.h"

/* Event name -> list of InngestTrigger */
typedef struct EventTriggers
{
	char		name[INNGEST_KEY_SIZE];	/* hash key */
	List	   *triggers;
} EventTriggers;

typedef struct CatalogPlans
{
	SPIPlanPtr	upsert_schedule;
	SPIPlanPtr	drop_other_schedules;
	SPIPlanPtr	owned_by;
	SPIPlanPtr	reassign;
	SPIPlanPtr	drop_owned;
} CatalogPlans;

static CatalogPlans plans;

static MemoryContext cache_cxt = NULL;
static List *retired_cxts = NIL;	/* earlier caches, freed at xact end */
static bool xact_callback_registered = false;
static HTAB *functions_by_id = NULL;
static HTAB *triggers_by_event = NULL;
static bool cache_valid = false;
static bool callback_registered = false;
static Oid	functions_relid = InvalidOid;

PG_FUNCTION_INFO_V1(inngest_functions_changed);

static void catalog_relcache_callback(Datum arg, Oid relid);
static void catalog_rebuild(void);
static Oid	catalog_functions_relid(void);
static void check_handler(Oid handler);

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

/* At the end of a transaction, the caches it replaced go */
static void
catalog_xact_callback(XactEvent event, void *arg)
{
	ListCell   *lc;

	if (event != XACT_EVENT_COMMIT && event != XACT_EVENT_ABORT &&
		event != XACT_EVENT_PARALLEL_COMMIT &&
		event != XACT_EVENT_PARALLEL_ABORT && event != XACT_EVENT_PREPARE)
		return;
	foreach(lc, retired_cxts)
		MemoryContextDelete((MemoryContext) lfirst(lc));
	list_free(retired_cxts);
	retired_cxts = NIL;
}

/* Keep the current cache's memory until the end of the transaction */
static void
retire_cache(void)
{
	MemoryContext oldcxt;

	if (cache_cxt == NULL)
		return;
	if (!xact_callback_registered)
	{
		RegisterXactCallback(catalog_xact_callback, NULL);
		xact_callback_registered = true;
	}
	oldcxt = MemoryContextSwitchTo(TopMemoryContext);
	retired_cxts = lappend(retired_cxts, cache_cxt);
	MemoryContextSwitchTo(oldcxt);
	cache_cxt = NULL;
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

	retire_cache();
	cache_cxt = AllocSetContextCreate(CacheMemoryContext,
									  "inngest function cache",
									  ALLOCSET_DEFAULT_SIZES);
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
	inngest_spi_connect();
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
			config_parse_run_options(DatumGetJsonbP(SPI_getbinval(tup, desc, 8, &isnull)), fn);
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

/*
 * inngest._functions_changed(): AFTER INSERT OR UPDATE OR DELETE OR
 * TRUNCATE FOR EACH STATEMENT on inngest.functions and inngest.triggers,
 * the two tables the cache is built from.  Every backend, this one
 * included, rebuilds its cache at its next transaction (or command).
 */
Datum
inngest_functions_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event))
		elog(ERROR, "inngest_functions_changed must be a statement trigger");
	CacheInvalidateRelcacheByRelid(catalog_functions_relid());
	return PointerGetDatum(NULL);
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

/* The handler must be (event jsonb) RETURNS jsonb and executable by us */
static void
check_handler(Oid handler)
{
	HeapTuple	tp;
	Form_pg_proc proc;
	AclResult	aclresult;
	bool		ok;

	Oid			nsp;

	tp = SearchSysCache1(PROCOID, ObjectIdGetDatum(handler));
	if (!HeapTupleIsValid(tp))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("handler function with OID %u does not exist", handler)));
	proc = (Form_pg_proc) GETSTRUCT(tp);
	nsp = proc->pronamespace;
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

	/* as if it were called by name: a handler given by OID is no way round */
	aclresult = pg_namespace_aclcheck(nsp, GetUserId(), ACL_USAGE);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_SCHEMA, get_namespace_name(nsp));
	aclresult = pg_proc_aclcheck(handler, GetUserId(), ACL_EXECUTE);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_FUNCTION, get_func_name(handler));
}

/*
 * What the creator's function will receive and who may invoke it: a
 * function with event triggers or cancelOn rules reads events, so its
 * owner needs SELECT on inngest.events (the fan-out checks again at each
 * event, in case it was revoked); the roles "invokers" names must exist.
 */
static void
check_access(FunctionConfig *fc, Oid caller)
{
	ListCell   *lc;

	if (fc->receives &&
		pg_class_aclcheck(get_relname_relid("events", get_namespace_oid("inngest", false)),
						  caller, ACL_SELECT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to receive events: role %s may not read inngest.events",
						GetUserNameFromId(caller, false)),
				 errdetail("Inngest function \"%s\" has event triggers or cancelOn rules, and receives the events it matches.",
						   fc->id),
				 errhint("GRANT SELECT ON inngest.events TO %s;",
						 GetUserNameFromId(caller, false))));
	foreach(lc, fc->invokers)
	{
		const char *name = lfirst(lc);

		if (strcmp(name, "PUBLIC") != 0 && !OidIsValid(get_role_oid(name, true)))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("role \"%s\" in configuration key \"invokers\" does not exist",
							name)));
	}
}

/*
 * Whether caller may act as the owner of a function that owner owns: with
 * the privileges of that role, or as an admin (inngest_is_admin:
 * superusers, inngest_admin).  A function whose
 * owner was dropped (by DROP ROLE in a backend that had not loaded the
 * library, see roles.c) belongs to nobody: the extension owner, who could
 * write inngest.functions directly anyway, and the roles with its
 * privileges may act on it too.
 */
bool
catalog_may_act_as_owner(Oid caller, Oid owner)
{
	if (has_privs_of_role(caller, owner) || inngest_is_admin(caller))
		return true;
	return !inngest_role_exists(owner) &&
		has_privs_of_role(caller, inngest_schema_owner());
}

/*
 * Whether the functions of role may invoke fn (step_invoke), whose run
 * then runs with the rights of fn's owner and returns its output to the
 * caller: role has the privileges of fn's owner, or is an admin, or fn's
 * "invokers" names a role it has the privileges of (or PUBLIC).
 */
bool
catalog_may_invoke(Oid role, InngestFunction *fn)
{
	ListCell   *lc;

	if (has_privs_of_role(role, fn->owner) || inngest_is_admin(role))
		return true;
	foreach(lc, fn->invokers)
	{
		const char *name = lfirst(lc);
		Oid			invoker;

		if (strcmp(name, "PUBLIC") == 0)
			return true;
		invoker = get_role_oid(name, true);
		if (OidIsValid(invoker) && has_privs_of_role(role, invoker))
			return true;
	}
	return false;
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
	if (!catalog_may_act_as_owner(caller, owner))
	{
		if (!inngest_role_exists(owner))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("must be owner of inngest function \"%s\"", id),
					 errdetail("Its owner, the role with OID %u, was dropped.", owner),
					 errhint("The extension owner or a superuser may delete or replace it.")));
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be owner of inngest function \"%s\"", id),
				 errdetail("It belongs to role %s.", GetUserNameFromId(owner, false))));
	}
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
 * Store the cron triggers of a function (validated by the caller) in
 * inngest.schedules, one row per position, with the next slot to fire
 * (schedules.c fires them).  A schedule whose text did not change keeps its next slot,
 * so replacing a definition with the same schedule neither skips nor
 * repeats one.  Runs as the extension owner with SPI connected.
 */
static void
store_schedules(const char *function_id, int n, const int *positions,
				char **crons)
{
	Oid			types[4] = {TEXTOID, INT4OID, TEXTOID, TIMESTAMPTZOID};
	Datum		values[4];
	Datum	   *kept = palloc(sizeof(Datum) * (n + 1));
	Oid			dtypes[2] = {TEXTOID, INT4ARRAYOID};
	Datum		dvalues[2];
	int			i;

	values[0] = CStringGetTextDatum(function_id);
	for (i = 0; i < n; i++)
	{
		CronSchedule sched;
		TimestampTz next;

		cron_parse_or_error(crons[i], &sched);
		next = cron_next_time(&sched, inngest_clock());
		values[1] = Int32GetDatum(positions[i]);
		values[2] = CStringGetTextDatum(crons[i]);
		values[3] = TimestampTzGetDatum(next);
		(void) inngest_run_plan(&plans.upsert_schedule,
								"INSERT INTO inngest.schedules AS s "
								"(function_id, position, cron, next_at) "
								"VALUES ($1, $2, $3, $4) "
								"ON CONFLICT (function_id, position) DO UPDATE "
								"SET cron = excluded.cron, next_at = CASE "
								"WHEN s.cron = excluded.cron THEN s.next_at "
								"ELSE excluded.next_at END",
								4, types, values, NULL, SPI_OK_INSERT);
		kept[i] = Int32GetDatum(positions[i]);
	}
	dvalues[0] = values[0];
	dvalues[1] = PointerGetDatum(construct_array(kept, n, INT4OID, 4, true,
												 TYPALIGN_INT));
	(void) inngest_run_plan(&plans.drop_other_schedules,
							"DELETE FROM inngest.schedules WHERE function_id = $1 "
							"AND position <> ALL ($2)",
							2, dtypes, dvalues, NULL, SPI_OK_DELETE);
	wake_launcher_at_commit();
}

/*
 * Validate a createFunction configuration and store it (upsert by id).
 * All validation happens before the first write, so bad input changes
 * nothing.  Returns the function id.
 */
char *
catalog_create_function(Jsonb *config, Oid handler)
{
	FunctionConfig fc;
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

	config_parse(config, &fc);
	check_handler(handler);
	check_access(&fc, caller);

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
	inngest_spi_connect();
	inngest_become_owner(&save_userid, &save_sec);
	(void) check_existing_owner(fc.id, caller, false);
	inngest_lock_role(caller);	/* not dropped before we commit */

	{
		Oid			types[8] = {TEXTOID, TEXTOID, OIDOID, OIDOID, INT4OID, JSONBOID,
		TIMESTAMPTZOID, TEXTOID};
		Datum		values[8];

		values[0] = CStringGetTextDatum(fc.id);
		values[1] = CStringGetTextDatum(fc.name);
		values[2] = ObjectIdGetDatum(handler);
		values[3] = ObjectIdGetDatum(caller);
		values[4] = Int32GetDatum(fc.retries);
		values[5] = JsonbPGetDatum(config);
		values[6] = TimestampTzGetDatum(inngest_clock());
		values[7] = CStringGetTextDatum(search_path);
		spi_exec_checked("INSERT INTO inngest.functions AS f "
						 "(id, name, handler, owner, retries, search_path, config, "
						 "created_at, updated_at) "
						 "VALUES ($1, $2, $3::pg_catalog.regprocedure, $4::pg_catalog.regrole, "
						 "$5, $8, $6, $7, $7) "
						 "ON CONFLICT (id) DO UPDATE SET name = excluded.name, "
						 "handler = excluded.handler, owner = excluded.owner, "
						 "retries = excluded.retries, search_path = excluded.search_path, "
						 "config = excluded.config, updated_at = excluded.updated_at",
						 8, types, values, NULL, SPI_OK_INSERT);

		spi_exec_checked("DELETE FROM inngest.triggers WHERE function_id = $1",
						 1, types, values, NULL, SPI_OK_DELETE);
	}

	foreach(lc, fc.triggers)
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
		values[0] = CStringGetTextDatum(fc.id);
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
	store_schedules(fc.id, ncrons, cron_positions, crons);

	inngest_restore_user(save_userid, save_sec);
	SPI_finish();
	inngest_pop_search_path(nestlevel);

	/* the trigger on inngest.functions has invalidated every cache */
	return fc.id;
}

/*
 * Remove a definition (its triggers and schedules go with it).  The caller
 * (api.c) cancels its runs in the same transaction.
 */
void
catalog_delete_function(const char *id)
{
	Oid			caller = GetUserId();
	Oid			save_userid;
	int			save_sec;
	Oid			types[1] = {TEXTOID};
	Datum		values[1];

	inngest_spi_connect();
	inngest_become_owner(&save_userid, &save_sec);
	values[0] = CStringGetTextDatum(id);
	(void) check_existing_owner(id, caller, true);

	spi_exec_checked("DELETE FROM inngest.functions WHERE id = $1",
					 1, types, values, NULL, SPI_OK_DELETE);
	inngest_restore_user(save_userid, save_sec);
	SPI_finish();
}

/*
 * Whether the extension exists in this database; if it does, it is locked
 * in share mode until the end of the transaction.  Every transaction of
 * the workers and of tick() takes this lock before it touches the
 * extension's tables: DROP EXTENSION takes the extension's lock in
 * exclusive mode before it locks any of them, so it waits for the step in
 * progress to commit instead of deadlocking with it (the step's
 * transaction holding some tables, DROP others).
 */
bool
catalog_lock_extension(void)
{
	/*
	 * The OID locked last time: pg_extension has no syscache, so this saves
	 * one catalog scan per transaction.  The scan after the lock is the one
	 * that counts (the extension may have been dropped, or dropped and
	 * created again, while we waited); as RangeVarGetRelidExtended does, a
	 * lock on a stale OID is given back and the current one locked.
	 */
	static Oid	extoid = InvalidOid;

	for (;;)
	{
		Oid			current;

		if (!OidIsValid(extoid))
			extoid = get_extension_oid("inngest_pg", true);
		if (!OidIsValid(extoid))
			return false;
		LockDatabaseObject(ExtensionRelationId, extoid, 0, AccessShareLock);
		current = get_extension_oid("inngest_pg", true);
		if (current == extoid)
			return true;
		UnlockDatabaseObject(ExtensionRelationId, extoid, 0, AccessShareLock);
		extoid = current;
	}
}

/* ----------------------------------------------------------------------
 * Ownership and roles (roles.c calls these for REASSIGN OWNED, DROP OWNED
 * and DROP ROLE; PostgreSQL has checked the caller's rights)
 * ----------------------------------------------------------------------
 *
 * The check for DROP ROLE reads with the latest snapshot, whatever the
 * transaction's isolation level, as PostgreSQL's own check reads the
 * catalogs as they are now: a function committed after the transaction's
 * snapshot was taken still counts.  The writes run like any statement (the
 * foreign keys of triggers and schedules need their triggers fired); under
 * REPEATABLE READ one may miss a function created meanwhile, which then
 * keeps its owner, and DROP ROLE still refuses.
 */

/* An oid[] of the roles in the list */
static Datum
role_array(List *roles)
{
	Datum	   *elems = palloc(sizeof(Datum) * (list_length(roles) + 1));
	ListCell   *lc;
	int			n = 0;

	foreach(lc, roles)
		elems[n++] = ObjectIdGetDatum(lfirst_oid(lc));
	return PointerGetDatum(construct_array(elems, n, OIDOID, sizeof(Oid),
										   true, TYPALIGN_INT));
}

/*
 * The ids of the functions that role owns, in id order, at most max of
 * them (a list of char *); *total is how many it owns.
 */
List *
catalog_functions_owned_by(Oid role, int max, int64 *total)
{
	static const Oid types[2] = {OIDOID, INT4OID};
	Datum		values[2];
	MemoryContext outer = CurrentMemoryContext;
	Oid			save_userid;
	int			save_sec;
	List	   *ids = NIL;
	uint64		i;

	values[0] = ObjectIdGetDatum(role);
	values[1] = Int32GetDatum(max);
	*total = 0;
	inngest_spi_connect();
	inngest_become_owner(&save_userid, &save_sec);
	(void) inngest_run_plan_latest(&plans.owned_by,
								   "SELECT id, count(*) OVER () FROM inngest.functions "
								   "WHERE owner::pg_catalog.oid = $1 ORDER BY id LIMIT $2",
								   2, types, values, NULL, SPI_OK_SELECT);
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		char	   *id = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		MemoryContext oldcxt = MemoryContextSwitchTo(outer);

		ids = lappend(ids, pstrdup(id));
		MemoryContextSwitchTo(oldcxt);
		*total = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
											 SPI_tuptable->tupdesc, 2, &isnull));
	}
	inngest_restore_user(save_userid, save_sec);
	SPI_finish();
	return ids;
}

/*
 * REASSIGN OWNED: the functions owned by the roles (an Oid list) now
 * belong to new_owner, and run as that role from their next step.  Returns
 * how many changed hands.
 */
uint64
catalog_reassign_functions(List *roles, Oid new_owner)
{
	static const Oid types[2] = {OIDARRAYOID, OIDOID};
	Datum		values[2];
	Oid			save_userid;
	int			save_sec;
	uint64		n;

	values[0] = role_array(roles);
	values[1] = ObjectIdGetDatum(new_owner);
	inngest_spi_connect();
	inngest_become_owner(&save_userid, &save_sec);
	inngest_lock_role(new_owner);	/* not dropped before we commit */
	n = inngest_run_plan(&plans.reassign,
						 "UPDATE inngest.functions "
						 "SET owner = $2::pg_catalog.regrole "
						 "WHERE owner::pg_catalog.oid = ANY ($1) "
						 "AND owner::pg_catalog.oid <> $2",
						 2, types, values, NULL, SPI_OK_UPDATE);
	inngest_restore_user(save_userid, save_sec);
	SPI_finish();

	/* every backend, this one included, rebuilds its cache */
	if (n > 0)
		CacheInvalidateRelcacheByRelid(catalog_functions_relid());
	return n;
}

/*
 * DROP OWNED: delete the functions owned by the roles (an Oid list), with
 * their triggers and schedules.  Returns their ids (a list of char *): the
 * caller cancels their runs in the same transaction, as delete_function.
 */
List *
catalog_drop_functions_owned(List *roles)
{
	static const Oid types[1] = {OIDARRAYOID};
	Datum		values[1];
	MemoryContext outer = CurrentMemoryContext;
	Oid			save_userid;
	int			save_sec;
	List	   *ids = NIL;
	uint64		i;

	values[0] = role_array(roles);
	inngest_spi_connect();
	inngest_become_owner(&save_userid, &save_sec);
	(void) inngest_run_plan(&plans.drop_owned,
							"DELETE FROM inngest.functions "
							"WHERE owner::pg_catalog.oid = ANY ($1) RETURNING id",
							1, types, values, NULL, SPI_OK_DELETE_RETURNING);
	for (i = 0; i < SPI_processed; i++)
	{
		char	   *id = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		MemoryContext oldcxt = MemoryContextSwitchTo(outer);

		ids = lappend(ids, pstrdup(id));
		MemoryContextSwitchTo(oldcxt);
	}
	inngest_restore_user(save_userid, save_sec);
	SPI_finish();

	if (ids != NIL)
		CacheInvalidateRelcacheByRelid(catalog_functions_relid());
	return ids;
}
