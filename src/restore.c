/*-------------------------------------------------------------------------
 *
 * restore.c
 *	  Loading a dump: recognising the session that restores one.
 *
 * pg_dump dumps the rows of every table of the extension and the values of
 * their identity sequences (the script marks them all with
 * pg_extension_config_dump).  A restore creates the extension, then loads
 * the rows with COPY (INSERT with pg_dump --inserts), one table at a time
 * and usually each in its own transaction, in an order that depends on
 * the tool: alphabetical for pg_dump | psql and pg_restore, but pg_restore
 * -j loads tables side by side and pg_restore -L in any order.  The rows
 * describe work that was already done or decided, and must come back as
 * they were.  An event loaded by a restore was fanned out when it was
 * first inserted: its runs, its resolved waits and its id's deduplication
 * are in the dump too.  So the event trigger stores it and does nothing
 * else (events.c): a restore starts no run twice and resolves no wait
 * with an event older than the wait, whatever the order of the tables.
 *
 * A session is loading a dump when check_function_bodies is off by a SET
 * in the session (or a function's SET clause).  pg_dump's plain output
 * and every connection of pg_restore start with "SET check_function_bodies
 * = false", which PostgreSQL documents as what restoring a dump does, so
 * neither pg_dump | psql nor pg_restore needs anything from the user; a
 * value from postgresql.conf, ALTER ROLE or DATABASE ... SET or the
 * connection's options does not count.  Statements run by handlers and
 * steps, and the extension's own statements (as its owner), never count.
 *
 *-------------------------------------------------------------------------
 */
#include "inngest.h"

#include "miscadmin.h"
#include "utils/guc.h"
#include "utils/guc_tables.h"

#include "restore.h"

/*
 * Where the current value of check_function_bodies comes from.  The GUC
 * records of the server's own parameters never move, so the one found is
 * kept for the backend's life.
 */
static GucSource
check_function_bodies_source(void)
{
	static struct config_generic *record = NULL;

	if (record == NULL)
	{
		struct config_generic **vars = get_guc_variables();
		int			n = GetNumConfigOptions();
		int			i;

		for (i = 0; i < n; i++)
		{
			if (strcmp(vars[i]->name, "check_function_bodies") == 0)
			{
				record = vars[i];
				break;
			}
		}
		if (record == NULL)
			elog(ERROR, "parameter \"check_function_bodies\" not found");
	}
	return record->source;
}

/*
 * Is this session loading a dump?  See the file header: check_function_bodies
 * off by SET, in a statement of the session itself.  The first test is the
 * only one most statements pay.
 */
bool
restore_loading(void)
{
	if (check_function_bodies)
		return false;
	if (InSecurityRestrictedOperation() || InLocalUserIdChange())
		return false;
	return check_function_bodies_source() == PGC_S_SESSION;
}
