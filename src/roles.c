/*-------------------------------------------------------------------------
 *
 * roles.c
 *	  Role commands and the inngest functions roles own: REASSIGN OWNED and
 *	  DROP OWNED carry over to them, and DROP ROLE is refused while the role
 *	  owns some.
 *
 * inngest.functions.owner is a regrole column.  Rows of an extension's
 * table are not catalog objects, so pg_shdepend does not know them and
 * PostgreSQL's own handling of owned objects passes them by.  A
 * ProcessUtility hook does for them what PostgreSQL does for owned objects,
 * in the current database and only if the extension is installed there:
 *
 *	REASSIGN OWNED BY a TO b	a's functions now belong to b (and run as b)
 *	DROP OWNED BY a				a's functions are deleted, their runs cancelled
 *	DROP ROLE a					refused while a owns functions here
 *
 * All three act after PostgreSQL's own processing: it has checked that the
 * caller may do this (and, for DROP ROLE, taken the role's lock, which it
 * keeps until the transaction ends), and an error here rolls the command
 * back with the rest of the transaction.
 *
 * The hook is installed when the library is loaded: in every backend when
 * it is preloaded (shared_preload_libraries), otherwise only in backends
 * that have called an inngest function.  A backend without it, or DROP
 * ROLE in another database, leaves functions whose owner no longer exists;
 * their runs fail with a clear error (drive.c), and the extension owner may
 * delete them (catalog_may_act_as_owner).  The README's "Security model"
 * says so.
 *
 *-------------------------------------------------------------------------
 */
#include "inngest.h"

#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"

#include "catalog.h"
#include "roles.h"
#include "runs.h"
#include "security.h"
#include "spiutil.h"

/* How many function ids the error of DROP ROLE names */
#define ROLES_MAX_LISTED	10

/* A role that DROP ROLE is about to drop */
typedef struct DroppedRole
{
	Oid			oid;
	char	   *name;
} DroppedRole;

static ProcessUtility_hook_type prev_utility_hook = NULL;

static void roles_utility_hook(PlannedStmt *pstmt, const char *queryString,
							   bool readOnlyTree, ProcessUtilityContext context,
							   ParamListInfo params, QueryEnvironment *queryEnv,
							   DestReceiver *dest, QueryCompletion *qc);

/* Install the hook, after whatever hook was there (_PG_init) */
void
roles_install_hook(void)
{
	prev_utility_hook = ProcessUtility_hook;
	ProcessUtility_hook = roles_utility_hook;
}

/* Whether the extension is installed in the current database */
static bool
extension_installed(void)
{
	return OidIsValid(get_extension_oid("inngest_pg", true));
}

/* The roles of a list of RoleSpec, as an Oid list (they exist) */
static List *
role_oids(List *rolespecs)
{
	List	   *oids = NIL;
	ListCell   *lc;

	foreach(lc, rolespecs)
		oids = lappend_oid(oids, get_rolespec_oid(lfirst(lc), false));
	return oids;
}

/*
 * The existing roles that DROP ROLE names, looked up before it drops them
 * (afterwards their names lead nowhere).  Roles it will refuse to drop
 * (missing, or named CURRENT_USER and the like) are left out: it errors or
 * skips them itself.
 */
static List *
roles_to_drop(DropRoleStmt *stmt)
{
	List	   *roles = NIL;
	ListCell   *lc;

	foreach(lc, stmt->roles)
	{
		RoleSpec   *spec = lfirst(lc);
		DroppedRole *role;
		Oid			oid;

		if (spec->roletype != ROLESPEC_CSTRING)
			continue;
		oid = get_role_oid(spec->rolename, true);
		if (!OidIsValid(oid))
			continue;
		role = palloc(sizeof(DroppedRole));
		role->oid = oid;
		role->name = pstrdup(spec->rolename);
		roles = lappend(roles, role);
	}
	return roles;
}

/*
 * DROP ROLE has dropped these roles: if one of them owns inngest functions
 * here, refuse, as PostgreSQL refuses to drop a role that owns objects.
 * The error rolls the drop back.
 */
static void
check_dropped_roles(List *roles)
{
	ListCell   *lc;

	foreach(lc, roles)
	{
		DroppedRole *role = lfirst(lc);
		int64		total;
		List	   *ids = catalog_functions_owned_by(role->oid, ROLES_MAX_LISTED, &total);
		StringInfoData list;
		ListCell   *lc2;
		char	   *db;

		if (ids == NIL)
			continue;
		initStringInfo(&list);
		foreach(lc2, ids)
			appendStringInfo(&list, "%s\"%s\"", list.len > 0 ? ", " : "",
							 (char *) lfirst(lc2));
		if (total > list_length(ids))
			appendStringInfo(&list, " and %lld more",
							 (long long) (total - list_length(ids)));
		db = get_database_name(MyDatabaseId);
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("role \"%s\" cannot be dropped because it owns inngest functions",
						role->name),
				 errdetail_plural("It owns %lld inngest function in database \"%s\": %s.",
								  "It owns %lld inngest functions in database \"%s\": %s.",
								  (unsigned long) total,
								  (long long) total, db, list.data),
				 errhint("Use REASSIGN OWNED BY %s TO another role, or DROP OWNED BY %s, in database \"%s\" first.",
						 quote_identifier(role->name),
						 quote_identifier(role->name), db)));
	}
}

/*
 * DROP OWNED has dropped what the roles own: their inngest functions go
 * too, and the runs of those not being driven are cancelled (a run being
 * driven notices at its next step), as delete_function does.
 */
static void
drop_owned(List *roles)
{
	List	   *ids = catalog_drop_functions_owned(roles);
	ListCell   *lc;
	Oid			save_userid;
	int			save_sec;

	if (ids == NIL)
		return;
	inngest_spi_connect();
	inngest_become_owner(&save_userid, &save_sec);
	foreach(lc, ids)
		runs_cancel_function((char *) lfirst(lc));
	inngest_restore_user(save_userid, save_sec);
	SPI_finish();
}

/*
 * After PostgreSQL's processing of a role command, do its part for inngest
 * functions.  Internal SQL runs with search_path = pg_catalog, whatever
 * the caller's, as in every other entry point of the extension.
 */
static void
after_role_command(Node *stmt, List *dropped)
{
	int			nestlevel;

	if (!extension_installed())
		return;
	nestlevel = inngest_push_search_path("pg_catalog");
	switch (nodeTag(stmt))
	{
		case T_ReassignOwnedStmt:
			{
				ReassignOwnedStmt *ro = (ReassignOwnedStmt *) stmt;
				List	   *from = role_oids(ro->roles);
				Oid			to = get_rolespec_oid(ro->newrole, false);
				Oid			save_userid;
				int			save_sec;

				(void) catalog_reassign_functions(from, to);
				/* their runs follow, for row-level security and rights */
				inngest_spi_connect();
				inngest_become_owner(&save_userid, &save_sec);
				(void) runs_reassign(from, to);
				inngest_restore_user(save_userid, save_sec);
				SPI_finish();
				break;
			}
		case T_DropOwnedStmt:
			drop_owned(role_oids(((DropOwnedStmt *) stmt)->roles));
			break;
		case T_DropRoleStmt:
			check_dropped_roles(dropped);
			break;
		default:
			break;
	}
	inngest_pop_search_path(nestlevel);
}

/*
 * The hook: every utility statement goes through; only REASSIGN OWNED,
 * DROP OWNED and DROP ROLE are looked at, and nothing else touches the
 * catalogs here (transaction control passes straight through).
 */
static void
roles_utility_hook(PlannedStmt *pstmt, const char *queryString,
				   bool readOnlyTree, ProcessUtilityContext context,
				   ParamListInfo params, QueryEnvironment *queryEnv,
				   DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *stmt = pstmt->utilityStmt;
	bool		ours = IsA(stmt, ReassignOwnedStmt) || IsA(stmt, DropOwnedStmt) ||
		IsA(stmt, DropRoleStmt);
	List	   *dropped = NIL;

	if (IsA(stmt, DropRoleStmt) && extension_installed())
		dropped = roles_to_drop((DropRoleStmt *) stmt);

	if (prev_utility_hook)
		prev_utility_hook(pstmt, queryString, readOnlyTree, context, params,
						  queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);

	if (ours)
		after_role_command(stmt, dropped);
}
