/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  The launcher and executor background workers.
 *
 * The supervisor (registered at preload, connected to no database) keeps
 * a launcher running in inngest.database while it exists.  The launcher
 * requeues runs whose driver died, fires cron schedules and keeps
 * inngest.workers executors running.  An executor loops: claim a due run and drive it, committing
 * after every step; when nothing is due it sleeps on its latch until the
 * earliest wake-up time.  Any transaction that makes a run due sets every
 * executor's latch when it commits, so a new event is picked up at once
 * and an idle system does no polling (inngest.idle_timeout is only a
 * safety net).
 *
 * While another session loads a dump into the database (restore.c), both
 * workers hold still: no run is claimed, no schedule fired, no kept match
 * applied.  When it has finished, the launcher requeues the runs that the
 * dump caught while they were running, as after a crash.
 *
 * The shared memory that holds the workers' latches, and waking them at
 * commit, are wake.c's.
 *
 *-------------------------------------------------------------------------
 */
#include "inngest.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "drive.h"
#include "guc.h"
#include "jsonutil.h"
#include "restore.h"
#include "runs.h"
#include "schedules.h"
#include "security.h"
#include "slots.h"
#include "spiutil.h"
#include "wake.h"
#include "worker.h"

/*
 * An executor whose rounds fail waits before the next one, 50 ms after the
 * first failure, doubling up to 5 s; after EXECUTOR_MAX_FAILURES failures
 * in a row it exits, and the launcher starts a new one (a fresh session)
 * EXECUTOR_RESTART_DELAY_MS later.  A persistent error thus costs a few
 * log lines a second at most, never a loop at full speed.
 */
#define EXECUTOR_FIRST_BACKOFF_MS	50
#define EXECUTOR_MAX_BACKOFF_MS		5000
#define EXECUTOR_MAX_FAILURES		8
#define EXECUTOR_RESTART_DELAY_MS	5000

/* How often the supervisor looks for the database, the launcher for DROP */
#define SUPERVISOR_CHECK_MS			2000
#define DROP_CHECK_MS				500

typedef enum RoundResult
{
	ROUND_IDLE,					/* nothing was due */
	ROUND_WORKED,				/* runs were driven */
	ROUND_FAILED				/* an error ended the round */
} RoundResult;


/*
 * Register the supervisor (from _PG_init, when preloaded).  It connects to
 * no database: it starts the launcher when inngest.database exists, which
 * starts the executors, so that their number follows inngest.workers.
 */
void
worker_register_launcher(void)
{
	BackgroundWorker bgw;

	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	/* never on a standby: it starts once recovery has finished */
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = 5;
	snprintf(bgw.bgw_library_name, BGW_MAXLEN, "inngest_pg");
	snprintf(bgw.bgw_function_name, BGW_MAXLEN, "inngest_supervisor_main");
	snprintf(bgw.bgw_name, BGW_MAXLEN, "inngest_pg supervisor");
	snprintf(bgw.bgw_type, BGW_MAXLEN, "inngest_pg supervisor");
	RegisterBackgroundWorker(&bgw);
}

/* ----------------------------------------------------------------------
 * Shared helpers of the two workers
 * ----------------------------------------------------------------------
 */


static void
begin_work(void)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	inngest_set_local_search_path();
	inngest_spi_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
}

static void
end_work(void)
{
	PopActiveSnapshot();
	SPI_finish();
	CommitTransactionCommand();
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
}

/*
 * Requeue runs whose driver died, after a crash or an executor's exit, or
 * that a restored dump caught while they were running (after_restore, for
 * the log).  Returns how many, or -1 while a dump is being restored (try
 * again once it has been).
 */
static int
recover_runs(bool after_restore)
{
	int			n = 0;
	Oid			save_userid;
	int			save_sec;

	begin_work();
	if (restore_in_progress())
		n = -1;
	else if (catalog_lock_extension())
	{
		pgstat_report_activity(STATE_RUNNING, "recovering interrupted runs");
		inngest_become_owner(&save_userid, &save_sec);
		n = runs_recover();
		inngest_restore_user(save_userid, save_sec);
	}
	end_work();
	if (after_restore && n >= 0)
		ereport(LOG,
				(errmsg("inngest_pg resumes after the restore of a dump into database \"%s\"",
						inngest_database),
				 errdetail("%d run(s) that were running when the dump was taken were requeued.",
						   n)));
	else if (n > 0)
		ereport(LOG,
				(errmsg("inngest_pg requeued %d run(s) interrupted by a crash", n)));
	return n;
}

/* ----------------------------------------------------------------------
 * The supervisor
 *
 * Connected to no database, it can tell whether inngest.database exists
 * without failing to connect to it: it starts the launcher when it does,
 * and otherwise says so once in the log and waits for it quietly (a
 * launcher connecting to a missing database would fail and be restarted
 * every few seconds, forever).  A database being dropped (its lock held
 * exclusively by DROP DATABASE) is waited out the same way.
 * ----------------------------------------------------------------------
 */

/*
 * The database's oid, or InvalidOid.  A process connected to no database
 * has no relcache entries for the indexes of shared catalogs, so this
 * scans pg_database itself, as the autovacuum launcher does.
 */
static Oid
database_oid(const char *name)
{
	Relation	rel = table_open(DatabaseRelationId, AccessShareLock);
	TableScanDesc scan = table_beginscan_catalog(rel, 0, NULL);
	HeapTuple	tup;
	Oid			dboid = InvalidOid;

	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);

		if (strcmp(NameStr(db->datname), name) == 0)
		{
			dboid = db->oid;
			break;
		}
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	return dboid;
}

/* Whether the database exists and is not being dropped or renamed now */
static bool
database_available(void)
{
	Oid			dboid;
	bool		available = false;

	StartTransactionCommand();
	dboid = database_oid(inngest_database);
	if (OidIsValid(dboid))
	{
		LOCKTAG		tag;

		SET_LOCKTAG_OBJECT(tag, InvalidOid, DatabaseRelationId, dboid, 0);
		if (LockAcquire(&tag, AccessShareLock, false, true) != LOCKACQUIRE_NOT_AVAIL)
		{
			LockRelease(&tag, AccessShareLock, false);
			available = true;
		}
	}
	CommitTransactionCommand();
	return available;
}

/*
 * Start a worker process of ours, a child of this one: the launcher (of the
 * supervisor) or an executor (of the launcher).  It is never restarted by
 * the postmaster; its parent notices its end and starts it again.
 */
static BackgroundWorkerHandle *
start_worker(const char *function, const char *type, const char *name,
			 Datum arg)
{
	BackgroundWorker bgw;
	BackgroundWorkerHandle *handle;

	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(bgw.bgw_library_name, BGW_MAXLEN, "inngest_pg");
	snprintf(bgw.bgw_function_name, BGW_MAXLEN, "%s", function);
	snprintf(bgw.bgw_name, BGW_MAXLEN, "%s", name);
	snprintf(bgw.bgw_type, BGW_MAXLEN, "%s", type);
	bgw.bgw_main_arg = arg;
	bgw.bgw_notify_pid = MyProcPid;
	if (!RegisterDynamicBackgroundWorker(&bgw, &handle))
	{
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("could not start background worker \"%s\"", name),
				 errhint("Raise max_worker_processes: it must leave room for inngest.workers + 2.")));
		return NULL;
	}
	return handle;
}

static BackgroundWorkerHandle *
start_launcher(void)
{
	return start_worker("inngest_launcher_main", "inngest_pg launcher",
						"inngest_pg launcher", (Datum) 0);
}

void
inngest_supervisor_main(Datum main_arg)
{
	BackgroundWorkerHandle *launcher = NULL;
	bool		said_missing = false;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("inngest_pg supervisor");

	for (;;)
	{
		pid_t		pid;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (launcher != NULL && GetBackgroundWorkerPid(launcher, &pid) == BGWH_STOPPED)
		{
			pfree(launcher);
			launcher = NULL;
		}
		if (launcher == NULL)
		{
			if (database_available())
			{
				if (said_missing)
					ereport(LOG,
							(errmsg("inngest_pg starts its workers: database \"%s\" exists",
									inngest_database)));
				said_missing = false;
				launcher = start_launcher();
			}
			else if (!said_missing)
			{
				ereport(LOG,
						(errmsg("inngest_pg waits for database \"%s\", which does not exist or is being dropped",
								inngest_database),
						 errhint("Create it, or set inngest.database to a database with the extension.")));
				said_missing = true;
			}
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 SUPERVISOR_CHECK_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* ----------------------------------------------------------------------
 * The launcher
 * ----------------------------------------------------------------------
 */

/*
 * Fire the due cron schedules, each in its own transaction (a failure of
 * one does not hold back the others).  Returns the next fire time, or 0;
 * in a second while a dump is being restored.
 */
static TimestampTz
fire_schedules(void)
{
	volatile TimestampTz next = 0;

	for (;;)
	{
		MemoryContext oldcxt = CurrentMemoryContext;
		volatile bool more = false;

		PG_TRY();
		{
			Oid			save_userid;
			int			save_sec;

			begin_work();
			if (restore_in_progress())
				next = GetCurrentTimestamp() + USECS_PER_SEC;
			else if (catalog_lock_extension())
			{
				inngest_become_owner(&save_userid, &save_sec);
				pgstat_report_activity(STATE_RUNNING, "firing cron schedules");
				more = schedules_fire(GetCurrentTimestamp(), 1, InvalidOid) > 0;
				next = schedules_next_fire();
				inngest_restore_user(save_userid, save_sec);
			}
			end_work();
		}
		PG_CATCH();
		{
			MemoryContextSwitchTo(oldcxt);
			EmitErrorReport();
			FlushErrorState();
			AbortCurrentTransaction();
			/* try again in a second rather than at once */
			return GetCurrentTimestamp() + USECS_PER_SEC;
		}
		PG_END_TRY();
		if (!more)
			return next;
		CHECK_FOR_INTERRUPTS();
	}
}

static BackgroundWorkerHandle *
start_executor(int slot)
{
	char		name[BGW_MAXLEN];

	snprintf(name, sizeof(name), "inngest_pg executor %d", slot);
	return start_worker("inngest_executor_main", "inngest_pg executor", name,
						Int32GetDatum(slot));
}

/*
 * Whether someone waits to drop (or rename) our database: the launcher holds
 * a share lock on it for its whole life, which DROP DATABASE must take
 * exclusively before it counts the sessions connected to the database.  So
 * a plain DROP DATABASE, or one WITH (FORCE), is not refused or blocked for
 * long: the launcher sees the waiter within DROP_CHECK_MS, stops the
 * executors and leaves, and the supervisor waits for the database to exist
 * again.
 */
static bool
database_dropped(void)
{
	LOCKTAG		tag;

	SET_LOCKTAG_OBJECT(tag, InvalidOid, DatabaseRelationId, MyDatabaseId, 0);
	return LockHasWaiters(&tag, AccessShareLock, true);
}

static void
release_database_lock(int code, Datum arg)
{
	UnlockSharedObjectForSession(DatabaseRelationId, MyDatabaseId, 0, AccessShareLock);
}

/* Milliseconds from now until t (0: no time), at most limit */
static long
ms_until(TimestampTz t, long limit)
{
	long		secs;
	int			usecs;

	if (t == 0)
		return limit;
	TimestampDifference(GetCurrentTimestamp(), t, &secs, &usecs);
	return Min(limit, secs * 1000 + (usecs + 999) / 1000);
}

void
inngest_launcher_main(Datum main_arg)
{
	BackgroundWorkerHandle **handles;
	TimestampTz *restart_at;
	bool		recovered = false;
	uint64		restores_seen = 0;
	bool		restore_logged = false;
	int			i;
	long		timeout;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(inngest_database, NULL, 0);
	pgstat_report_appname("inngest_pg launcher");

	/*
	 * See database_dropped().  A session lock of this kind outlives the
	 * process unless it is released: release it on every way out.
	 */
	StartTransactionCommand();
	LockSharedObjectForSession(DatabaseRelationId, MyDatabaseId, 0, AccessShareLock);
	CommitTransactionCommand();
	before_shmem_exit(release_database_lock, (Datum) 0);

	(void) wake_attach_launcher();
	restores_seen = wake_restores_started();

	handles = MemoryContextAllocZero(TopMemoryContext,
									 sizeof(BackgroundWorkerHandle *) * Max(inngest_workers, 1));
	restart_at = MemoryContextAllocZero(TopMemoryContext,
										sizeof(TimestampTz) * Max(inngest_workers, 1));

	for (;;)
	{
		bool		executor_died = false;
		TimestampTz next_restart = 0;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (database_dropped())
		{
			ereport(LOG,
					(errmsg("inngest_pg stops its workers: database \"%s\" is being dropped or renamed",
							inngest_database)));
			for (i = 0; i < inngest_workers; i++)
				if (handles[i] != NULL)
				{
					TerminateBackgroundWorker(handles[i]);
					(void) WaitForBackgroundWorkerShutdown(handles[i]);
				}
			proc_exit(0);
		}

		/*
		 * Recover before starting executors; until the extension exists in
		 * our database there is nothing to recover, so try again each loop.
		 * A session that began loading a dump since (restore.c) may load
		 * runs left running: recover again once it has finished, and look
		 * every second meanwhile.
		 */
		if (wake_restores_started() != restores_seen)
			recovered = false;
		if (!recovered)
		{
			uint64		restores = wake_restores_started();
			bool		exists;
			int			n = 0;

			begin_work();
			exists = catalog_lock_extension();
			end_work();
			if (exists)
				n = recover_runs(restores != restores_seen);
			if (n < 0 && !restore_logged)
			{
				ereport(LOG,
						(errmsg("inngest_pg holds its runs while a dump is being restored into database \"%s\"",
								inngest_database)));
				restore_logged = true;
			}
			if (exists && n >= 0)
			{
				recovered = true;
				restores_seen = restores;
				restore_logged = false;
			}
		}

		for (i = 0; i < inngest_workers; i++)
		{
			pid_t		pid;

			if (handles[i] != NULL &&
				GetBackgroundWorkerPid(handles[i], &pid) != BGWH_STOPPED)
				continue;
			if (handles[i] != NULL)
			{
				/* an executor that exited is started again after a delay */
				executor_died = true;
				pfree(handles[i]);
				handles[i] = NULL;
				restart_at[i] = GetCurrentTimestamp() +
					(int64) EXECUTOR_RESTART_DELAY_MS * 1000;
			}
			if (restart_at[i] > GetCurrentTimestamp())
			{
				if (next_restart == 0 || restart_at[i] < next_restart)
					next_restart = restart_at[i];
				continue;
			}
			handles[i] = start_executor(i);
		}

		/* a run that executor was driving may be left "running" */
		if (executor_died && recovered && recover_runs(false) < 0)
			recovered = false;

		/*
		 * cron: start the runs of due schedules; sleep until the next one,
		 * or until an executor is to be started again
		 */
		timeout = ms_until(next_restart, Min(inngest_idle_timeout, DROP_CHECK_MS));
		if (recovered)
			timeout = ms_until(fire_schedules(), timeout);
		else if (restore_logged)
			timeout = Min(timeout, 1000);

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 timeout, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* ----------------------------------------------------------------------
 * An executor
 * ----------------------------------------------------------------------
 */

/*
 * After an internal error that interrupted run_id, claimed at attempt (the
 * transaction has been rolled back, the driver lock is still ours): count
 * it as a failed attempt of the run, so that a run that keeps breaking the
 * executor ends as failed instead of looping.  Errors of this bookkeeping
 * are reported, not raised.
 */
static void
requeue_after_error(int64 run_id, int attempt, ErrorData *edata)
{
	MemoryContext oldcxt = CurrentMemoryContext;

	PG_TRY();
	{
		Oid			save_userid;
		int			save_sec;

		begin_work();
		inngest_become_owner(&save_userid, &save_sec);
		runs_retry_after_internal_error(run_id, attempt, jsonb_error(edata));
		inngest_restore_user(save_userid, save_sec);
		end_work();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(oldcxt);
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
	}
	PG_END_TRY();
}

/*
 * One round: one transaction that drives due runs.  On ROUND_IDLE,
 * *next_wake is the earliest wake-up time (0 if none; in a second while a
 * dump is being restored).  An internal error is reported (ROUND_FAILED),
 * and the run it interrupted is requeued with backoff or failed.
 */
static RoundResult
executor_round(TimestampTz *next_wake)
{
	volatile RoundResult result = ROUND_IDLE;
	MemoryContext oldcxt = CurrentMemoryContext;

	*next_wake = 0;
	PG_TRY();
	{
		Oid			save_userid;
		int			save_sec;

		begin_work();
		if (restore_in_progress())
			*next_wake = GetCurrentTimestamp() + USECS_PER_SEC;
		else if (catalog_lock_extension())
		{
			TimestampTz start = GetCurrentTimestamp();
			int			n = 0;
			bool		blocked;

			inngest_become_owner(&save_userid, &save_sec);
			pgstat_report_activity(STATE_RUNNING, "driving runs");

			/*
			 * Matches that arrived while their runs were busy; concurrency
			 * keys this executor released or parked runs on in its last
			 * transaction, now committed: wake the runs that wait for
			 * their slots (slots.c).
			 */
			blocked = drive_begin_transaction();

			/*
			 * Drive due runs in this transaction while they keep coming and
			 * are quick: their steps then share one commit (one WAL flush).
			 * A run whose steps are slow ends the batch, and a lone run is
			 * committed at once, so batching adds no latency when idle.
			 */
			while (n < inngest_runs_per_transaction &&
				   (drive_run_next(true, InvalidOid) ||
					(slots_promote(false) > 0 && drive_run_next(true, InvalidOid))))
			{
				n++;
				CommandCounterIncrement();
				if (TimestampDifferenceExceeds(start, GetCurrentTimestamp(),
											   DRIVE_BATCH_MAX_MS))
					break;
				CHECK_FOR_INTERRUPTS();
			}
			result = n > 0 ? ROUND_WORKED : ROUND_IDLE;
			if (n == 0)
			{
				*next_wake = drive_next_wake();
				/* runs set aside: come back for the sweep in a second */
				if (blocked)
				{
					TimestampTz sweep = GetCurrentTimestamp() + 1000 * 1000;

					if (*next_wake == 0 || *next_wake > sweep)
						*next_wake = sweep;
				}
			}
			inngest_restore_user(save_userid, save_sec);
		}
		end_work();
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		int64		run_id;
		int			attempt;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		MemoryContextSwitchTo(oldcxt);

		/*
		 * The run the error interrupted (its driver lock still held) counts
		 * a failed attempt, unless nothing was wrong with it: a deadlock or
		 * a serialization failure only makes it due again.
		 */
		run_id = drive_claimed_run(&attempt);
		if (run_id != 0 &&
			edata->sqlerrcode != ERRCODE_T_R_DEADLOCK_DETECTED &&
			edata->sqlerrcode != ERRCODE_T_R_SERIALIZATION_FAILURE)
			requeue_after_error(run_id, attempt, edata);
		drive_forget_claim();
		FreeErrorData(edata);
		result = ROUND_FAILED;
	}
	PG_END_TRY();

	return result;
}

/*
 * Wait ms milliseconds whatever wakes the latch meanwhile (a backoff must
 * not be cut short by the commits that keep waking executors).
 */
static void
sleep_ms(long ms)
{
	TimestampTz until = GetCurrentTimestamp() + (int64) ms * 1000;
	long		left;

	while ((left = ms_until(until, ms)) > 0)
	{
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 left, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

void
inngest_executor_main(Datum main_arg)
{
	int			slot = DatumGetInt32(main_arg);
	int			failures = 0;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(inngest_database, NULL, 0);
	pgstat_report_appname("inngest_pg executor");

	if (!wake_attach_executor(slot))
		elog(FATAL, "inngest_pg executor slot %d out of range", slot);

	for (;;)
	{
		TimestampTz next_wake;
		long		timeout;
		RoundResult result;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (wake_launcher_changed(MyBgworkerEntry->bgw_notify_pid))
			proc_exit(0);

		result = executor_round(&next_wake);
		if (result == ROUND_FAILED)
		{
			if (++failures >= EXECUTOR_MAX_FAILURES)
			{
				ereport(LOG,
						(errmsg("inngest_pg executor %d exits after %d failed rounds in a row",
								slot, failures),
						 errdetail("The launcher starts a new executor in %d ms.",
								   EXECUTOR_RESTART_DELAY_MS)));
				proc_exit(1);
			}
			sleep_ms(Min((long) EXECUTOR_FIRST_BACKOFF_MS << (failures - 1),
						 EXECUTOR_MAX_BACKOFF_MS));
			continue;
		}
		failures = 0;
		if (result == ROUND_WORKED)
			continue;

		/* sleep until the earliest wake-up, or until a commit wakes us */
		if (next_wake != 0 && next_wake <= GetCurrentTimestamp())
			continue;
		timeout = ms_until(next_wake, inngest_idle_timeout);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 timeout, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
