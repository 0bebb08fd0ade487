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
#include "utils/acl.h"
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

/*
 * Whether role administers the engine: a superuser, a role with the
 * privileges of the extension owner (who could write the tables anyway),
 * or a member of inngest_admin.  Admins drive every role's runs with
 * tick() and act on any function and run as its owner could.
 */
bool
inngest_is_admin(Oid role)
{
	Oid			admin;

	if (superuser_arg(role) || has_privs_of_role(role, inngest_schema_owner()))
		return true;
	admin = get_role_oid(INNGEST_ADMIN_ROLE, true);
	return OidIsValid(admin) && has_privs_of_role(role, admin);
}

/*
 * Whether role sees every run (row-level security of runs and steps lets
 * it): an admin, or a member of inngest_reader.
 */
bool
inngest_is_reader(Oid role)
{
	Oid			reader;

	if (inngest_is_admin(role))
		return true;
	reader = get_role_oid(INNGEST_READER_ROLE, true);
	return OidIsValid(reader) && has_privs_of_role(role, reader);
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
 * Before a handler or a step runs: a GUC nest level that ends it
 * (inngest_end_user_code).  Whatever the user's code sets, with SET, SET
 * LOCAL or set_config(), is then undone as if its subtransaction had rolled
 * back, as PostgreSQL does around an index build's user-defined functions:
 * a TimeZone, a tenant key or a search_path set by one run never reaches
 * the next run driven in the same session.
 */
int
inngest_begin_user_code(void)
{
	return NewGUCNestLevel();
}

void
inngest_end_user_code(int nestlevel)
{
	AtEOXact_GUC(false, nestlevel);
}

/*
 * Between two runs in a worker's session: drop what a handler may have
 * left there that would outlive its transaction and reach other roles'
 * runs: session-level advisory locks (the driver lock of the run included:
 * its drive is over).  Temporary tables, PREPARE, WITH HOLD cursors and
 * LISTEN are refused to user code already (it runs as a
 * security-restricted operation).  Never in a user's own session (tick()),
 * whose locks are the user's.
 */
void
inngest_reset_worker_session(void)
{
	LockReleaseSession(USER_LOCKMETHOD);
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
