/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  The launcher and executor background workers.
 *
 * The launcher (registered at preload) connects to inngest.database,
 * requeues runs whose driver died, and keeps inngest.workers executors
 * running.  An executor loops: claim a due run and drive it, committing
 * after every step; when nothing is due it sleeps on its latch until the
 * earliest wake-up time.  Any transaction that makes a run due sets every
 * executor's latch when it commits, so a new event is picked up at once
 * and an idle system does no polling (inngest.idle_timeout is only a
 * safety net).
 *
 * The shared memory that holds the workers' latches, and waking them at
 * commit, are wake.c's.
 *
 *-------------------------------------------------------------------------
 */
#include "inngest.h"

#include "access/xact.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "drive.h"
#include "guc.h"
#include "jsonutil.h"
#include "runs.h"
#include "schedules.h"
#include "security.h"
#include "slots.h"
#include "spiutil.h"
#include "wake.h"
#include "worker.h"

/* A transaction stops taking more runs once it is this old */
#define INNGEST_BATCH_MAX_MS 20

static bool extension_exists(void);

/*
 * Register the launcher (from _PG_init, when preloaded).  It starts the
 * executors itself, so that their number follows inngest.workers.
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
	snprintf(bgw.bgw_function_name, BGW_MAXLEN, "inngest_launcher_main");
	snprintf(bgw.bgw_name, BGW_MAXLEN, "inngest_pg launcher");
	snprintf(bgw.bgw_type, BGW_MAXLEN, "inngest_pg launcher");
	RegisterBackgroundWorker(&bgw);
}

/* ----------------------------------------------------------------------
 * Shared helpers of the two workers
 * ----------------------------------------------------------------------
 */

static bool
extension_exists(void)
{
	return OidIsValid(get_extension_oid("inngest_pg", true));
}

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

/* Requeue runs whose driver died; returns how many */
static int
recover_runs(void)
{
	int			n = 0;
	Oid			save_userid;
	int			save_sec;

	begin_work();
	if (extension_exists())
	{
		pgstat_report_activity(STATE_RUNNING, "recovering interrupted runs");
		inngest_become_owner(&save_userid, &save_sec);
		n = runs_recover();
		inngest_restore_user(save_userid, save_sec);
	}
	end_work();
	if (n > 0)
		ereport(LOG,
				(errmsg("inngest_pg requeued %d run(s) interrupted by a crash", n)));
	return n;
}

/* ----------------------------------------------------------------------
 * The launcher
 * ----------------------------------------------------------------------
 */

/*
 * Fire the due cron schedules, each in its own transaction (a failure of
 * one does not hold back the others).  Returns the next fire time, or 0.
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
			if (extension_exists())
			{
				inngest_become_owner(&save_userid, &save_sec);
				pgstat_report_activity(STATE_RUNNING, "firing cron schedules");
				more = schedules_fire(GetCurrentTimestamp(), 1) > 0;
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
	BackgroundWorker bgw;
	BackgroundWorkerHandle *handle;

	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = BGW_NEVER_RESTART;	/* the launcher restarts it */
	snprintf(bgw.bgw_library_name, BGW_MAXLEN, "inngest_pg");
	snprintf(bgw.bgw_function_name, BGW_MAXLEN, "inngest_executor_main");
	snprintf(bgw.bgw_name, BGW_MAXLEN, "inngest_pg executor %d", slot);
	snprintf(bgw.bgw_type, BGW_MAXLEN, "inngest_pg executor");
	bgw.bgw_main_arg = Int32GetDatum(slot);
	bgw.bgw_notify_pid = MyProcPid;

	if (!RegisterDynamicBackgroundWorker(&bgw, &handle))
	{
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("inngest_pg could not start executor %d", slot),
				 errhint("Raise max_worker_processes: it must leave room for inngest.workers + 1.")));
		return NULL;
	}
	return handle;
}

void
inngest_launcher_main(Datum main_arg)
{
	BackgroundWorkerHandle **handles;
	bool		recovered = false;
	int			i;
	long		timeout;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(inngest_database, NULL, 0);
	pgstat_report_appname("inngest_pg launcher");

	(void) wake_attach_launcher();

	handles = MemoryContextAllocZero(TopMemoryContext,
									 sizeof(BackgroundWorkerHandle *) * Max(inngest_workers, 1));

	for (;;)
	{
		bool		executor_died = false;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		/*
		 * Recover before starting executors; until the extension exists in
		 * our database there is nothing to recover, so try again each loop.
		 */
		if (!recovered)
		{
			begin_work();
			recovered = extension_exists();
			end_work();
			if (recovered)
				recover_runs();
		}

		for (i = 0; i < inngest_workers; i++)
		{
			pid_t		pid;

			if (handles[i] != NULL &&
				GetBackgroundWorkerPid(handles[i], &pid) != BGWH_STOPPED)
				continue;
			if (handles[i] != NULL)
			{
				executor_died = true;
				pfree(handles[i]);
			}
			handles[i] = start_executor(i);
		}

		/* a run that executor was driving may be left "running" */
		if (executor_died && recovered)
			recover_runs();

		/* cron: start the runs of due schedules, sleep until the next one */
		timeout = inngest_idle_timeout;
		if (recovered)
		{
			TimestampTz next = fire_schedules();

			if (next != 0)
			{
				long		secs;
				int			usecs;

				TimestampDifference(GetCurrentTimestamp(), next, &secs, &usecs);
				timeout = Min(timeout, secs * 1000 + (usecs + 999) / 1000);
			}
		}

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
 * One round: claim and drive one run.  Returns true if it found work;
 * otherwise *next_wake is the earliest wake-up time (0 if none).  An
 * internal error is reported, and the run it interrupted is requeued with
 * backoff (or failed) so that a run that breaks the executor cannot loop.
 */
static bool
executor_round(TimestampTz *next_wake)
{
	volatile bool did_work = false;
	MemoryContext oldcxt = CurrentMemoryContext;

	*next_wake = 0;
	PG_TRY();
	{
		Oid			save_userid;
		int			save_sec;

		begin_work();
		if (extension_exists())
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
				   (drive_run_next(true) ||
					(slots_promote(false) > 0 && drive_run_next(true))))
			{
				n++;
				CommandCounterIncrement();
				if (TimestampDifferenceExceeds(start, GetCurrentTimestamp(),
											   INNGEST_BATCH_MAX_MS))
					break;
				CHECK_FOR_INTERRUPTS();
			}
			did_work = n > 0;
			if (!did_work)
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

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		MemoryContextSwitchTo(oldcxt);

		run_id = drive_claimed_run();
		if (edata->sqlerrcode == ERRCODE_T_R_DEADLOCK_DETECTED ||
			edata->sqlerrcode == ERRCODE_T_R_SERIALIZATION_FAILURE)
		{
			/* nothing was wrong with the run: it is simply due again */
			drive_forget_claim();
			run_id = 0;
		}
		if (run_id != 0)
		{
			Oid			save_userid;
			int			save_sec;

			drive_forget_claim();
			begin_work();
			inngest_become_owner(&save_userid, &save_sec);
			runs_retry_after_internal_error(run_id, jsonb_error(edata));
			inngest_restore_user(save_userid, save_sec);
			end_work();
		}
		did_work = true;
	}
	PG_END_TRY();

	return did_work;
}

void
inngest_executor_main(Datum main_arg)
{
	int			slot = DatumGetInt32(main_arg);

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

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (wake_launcher_changed(MyBgworkerEntry->bgw_notify_pid))
			proc_exit(0);

		if (executor_round(&next_wake))
			continue;

		/* sleep until the earliest wake-up, or until a commit wakes us */
		timeout = inngest_idle_timeout;
		if (next_wake != 0)
		{
			long		secs;
			int			usecs;

			TimestampDifference(GetCurrentTimestamp(), next_wake, &secs, &usecs);
			if (next_wake <= GetCurrentTimestamp())
				continue;
			timeout = Min(timeout, secs * 1000 + (usecs + 999) / 1000);
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 timeout, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
