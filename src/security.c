/*-------------------------------------------------------------------------
 *
 * security.c
 *	  Running internal SQL as the extension's owner, and the search_path
 *	  that SQL and handlers resolve names with.
 *
 * Users cannot write the extension's tables; the C code writes them as the
 * owner of the inngest schema (the role that created the extension), in
 * the manner of a SECURITY DEFINER function, and runs handlers and steps as
 * the role that created the function (replay.c, stepexec.c).
 *
 *-------------------------------------------------------------------------
 */
#include "inngest.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_namespace.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/guc.h"
#include "utils/syscache.h"

#include "security.h"

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
 * Before recording role as the owner of a function: lock it against DROP
 * ROLE until the transaction ends, then check that it still exists, as
 * PostgreSQL does before recording an owner in pg_shdepend.  DROP ROLE
 * holds the role's lock while it checks what the role owns (roles.c), so
 * the two cannot miss each other: either the drop sees the function, or
 * this sees the role gone.  A session whose role was dropped by another
 * session gets the error.
 */
void
inngest_lock_role(Oid role)
{
	LockSharedObject(AuthIdRelationId, role, 0, AccessShareLock);
	if (!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(role)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("role with OID %u does not exist", role),
				 errdetail("The role was dropped.")));
}

/* Whether role exists: an owner recorded before its role was dropped does not */
bool
inngest_role_exists(Oid role)
{
	return SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(role));
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
