/*-------------------------------------------------------------------------
 *
 * restore.c
 *	  Loading a dump: recognising the session that restores one, and the
 *	  workers holding still until it has finished.
 *
 * pg_dump dumps the rows of every table of the extension and the values of
 * their identity sequences (the script marks them all with
 * pg_extension_config_dump).  A restore creates the extension, then loads
 * the rows with COPY (INSERT with pg_dump --inserts), one table at a time
 * and usually each in its own transaction, in an order that depends on
 * the tool: alphabetical for pg_dump | psql and pg_restore, but pg_restore
 * -j loads tables side by side and pg_restore -L in any order.  The rows
 * describe work that was already done or decided, and must come back as
 * they were:
 *
 *	- An event loaded by a restore was fanned out when it was first
 *	  inserted: its runs, its resolved waits and its id's deduplication are
 *	  in the dump too.  The event trigger stores it and does nothing else
 *	  (events.c), so a restore starts no run twice and resolves no wait with
 *	  an event older than the wait.
 *	- A run must not be driven before its memo (inngest.steps), its waits
 *	  and its function are loaded, or it would do its steps again.  So the
 *	  workers drive nothing, fire no schedule and apply no kept match in a
 *	  database while a session that has loaded runs, kept matches or
 *	  schedules into it is connected: the first such statement of the
 *	  session takes the "restore" lock (a session-level advisory lock) and
 *	  keeps it until the session ends; the executors, the launcher and
 *	  tick() try the lock at the start of each transaction and before each
 *	  claim, and hold still while it is taken.  When the session ends the launcher requeues the
 *	  runs that the dump caught between two steps ('running', with no
 *	  driver any more) and the executors resume.
 *	- Function definitions loaded by COPY are seen by every backend: the
 *	  triggers on inngest.functions and inngest.triggers invalidate their
 *	  caches (catalog.c).
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

#include "commands/trigger.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lock.h"
#include "utils/guc.h"
#include "utils/guc_tables.h"

#include "restore.h"
#include "wake.h"

PG_FUNCTION_INFO_V1(inngest_restore_trigger);

/* The restore lock of this database */
static void
restore_locktag(LOCKTAG *tag)
{
	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, 0, 0, INNGEST_LOCKTAG_RESTORE);
}

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

/*
 * At the end of a session that held the workers: let go of them first
 * (the lock would go a little later, with the session's others), then
 * wake them to go on.
 */
static void
restore_session_end(int code, Datum arg)
{
	LOCKTAG		tag;

	restore_locktag(&tag);
	if (LockHeldByMe(&tag, RowExclusiveLock))
		LockRelease(&tag, RowExclusiveLock, true);
	wake_workers_now();
}

/*
 * Hold the workers of this database until this session ends.  Waits for
 * the transactions of workers (and tick() callers) that started before: a
 * run they claimed before the restore began is theirs to finish.
 */
static void
restore_hold_workers(void)
{
	static bool exit_callback_registered = false;
	LOCKTAG		tag;

	restore_locktag(&tag);
	if (LockHeldByMe(&tag, RowExclusiveLock))
		return;
	(void) LockAcquire(&tag, RowExclusiveLock, true, false);
	if (!exit_callback_registered)
	{
		before_shmem_exit(restore_session_end, (Datum) 0);
		exit_callback_registered = true;
	}
	wake_restore_started();
}

/*
 * Is a dump being loaded into this database by another session?  If not,
 * no session can start loading one until the current transaction ends
 * (the lock taken here is held till then), so whoever drives runs in this
 * transaction never sees a half-loaded dump.  Needs a transaction.
 */
bool
restore_in_progress(void)
{
	LOCKTAG		tag;

	restore_locktag(&tag);
	return LockAcquire(&tag, ShareLock, false, true) == LOCKACQUIRE_NOT_AVAIL;
}

/*
 * inngest._restore_trigger(): BEFORE INSERT FOR EACH STATEMENT on the
 * tables that the workers act on by themselves (runs, wait_hits,
 * schedules).  In a session loading a dump, it holds the workers until
 * the session ends; otherwise it does nothing.
 */
Datum
inngest_restore_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event))
		elog(ERROR, "inngest_restore_trigger must be a statement trigger");
	if (restore_loading())
		restore_hold_workers();
	return PointerGetDatum(NULL);
}
