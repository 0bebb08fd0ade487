/*-------------------------------------------------------------------------
 *
 * wake.c
 *	  The shared memory of inngest_pg, and waking the workers at commit.
 *
 * Any transaction that makes a run due (new runs, a retry, a resolved
 * wait, a recovered run) asks for the executors to be woken; the wake-up
 * happens when it commits, so an executor never looks before the run is
 * visible, and an idle system does no polling.  A transaction that changes
 * cron schedules wakes the launcher as well.
 *
 * Note about locking: InngestShared.mutex guards the slot array's pid and
 * latch fields and the launcher's.  Wakers read latch pointers without the
 * lock: a stale pointer still points at some PGPROC's latch, and setting
 * it is harmless.
 *
 * Without shared_preload_libraries there is no shared memory: wake-ups are
 * no-ops and runs advance only through inngest.tick().
 *
 *-------------------------------------------------------------------------
 */
#include "inngest.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"

#include "wake.h"

typedef struct ExecutorSlot
{
	pid_t		pid;
	Latch	   *latch;
} ExecutorSlot;

typedef struct InngestShared
{
	pg_atomic_uint32 cancel_requests;	/* bumped when one commits */
	slock_t		mutex;
	pid_t		launcher_pid;
	Latch	   *launcher_latch; /* set when schedules change */
	uint64		restores;		/* sessions that began loading a dump */
	int			nslots;
	ExecutorSlot slots[FLEXIBLE_ARRAY_MEMBER];
} InngestShared;

static InngestShared *shared = NULL;
static int	shared_nslots = 0;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static bool wake_pending = false;
static bool launcher_wake_pending = false;
static bool cancel_request_pending = false;
static uint32 cancel_requests_seen = 0;
static bool xact_callback_registered = false;

static Size
shmem_size(void)
{
	return add_size(offsetof(InngestShared, slots),
					mul_size(Max(shared_nslots, 1), sizeof(ExecutorSlot)));
}

static void
wake_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(shmem_size());
}

static void
wake_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared = ShmemInitStruct("inngest_pg", shmem_size(), &found);
	if (!found)
	{
		memset(shared, 0, shmem_size());
		pg_atomic_init_u32(&shared->cancel_requests, 0);
		SpinLockInit(&shared->mutex);
		shared->nslots = shared_nslots;
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * Called from _PG_init when preloaded: reserve room for nexecutors
 * executors' latches (inngest.workers, fixed at server start).
 */
void
wake_shmem_init(int nexecutors)
{
	shared_nslots = nexecutors;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = wake_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = wake_shmem_startup;
}

/* The launcher announces itself: executors started by another one leave */
bool
wake_attach_launcher(void)
{
	if (shared == NULL)
		return false;
	SpinLockAcquire(&shared->mutex);
	shared->launcher_pid = MyProcPid;
	shared->launcher_latch = MyLatch;
	SpinLockRelease(&shared->mutex);
	return true;
}

static void
executor_detach(int code, Datum arg)
{
	int			slot = DatumGetInt32(arg);

	SpinLockAcquire(&shared->mutex);
	if (shared->slots[slot].pid == MyProcPid)
	{
		shared->slots[slot].pid = 0;
		shared->slots[slot].latch = NULL;
	}
	SpinLockRelease(&shared->mutex);
}

/* An executor takes its slot until it exits; false if slot is out of range */
bool
wake_attach_executor(int slot)
{
	if (shared == NULL || slot < 0 || slot >= shared->nslots)
		return false;
	SpinLockAcquire(&shared->mutex);
	shared->slots[slot].pid = MyProcPid;
	shared->slots[slot].latch = MyLatch;
	SpinLockRelease(&shared->mutex);
	on_shmem_exit(executor_detach, Int32GetDatum(slot));
	return true;
}

/* Whether the launcher that started us (notify_pid) has been replaced */
bool
wake_launcher_changed(pid_t notify_pid)
{
	pid_t		launcher;

	SpinLockAcquire(&shared->mutex);
	launcher = shared->launcher_pid;
	SpinLockRelease(&shared->mutex);
	return launcher != notify_pid;
}

static void
wake_xact_callback(XactEvent event, void *arg)
{
	int			i;

	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			if (wake_pending && shared != NULL)
			{
				for (i = 0; i < shared->nslots; i++)
				{
					Latch	   *latch = shared->slots[i].latch;

					if (latch != NULL)
						SetLatch(latch);
				}
			}
			if (launcher_wake_pending && shared != NULL &&
				shared->launcher_latch != NULL)
				SetLatch(shared->launcher_latch);
			if (cancel_request_pending && shared != NULL)
				pg_atomic_fetch_add_u32(&shared->cancel_requests, 1);
			wake_pending = false;
			launcher_wake_pending = false;
			cancel_request_pending = false;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			wake_pending = false;
			launcher_wake_pending = false;
			cancel_request_pending = false;
			break;
		default:
			break;
	}
}

/*
 * Ask for the executors to be woken when the current transaction commits:
 * it made a run due.  Waking at commit rather than now means an executor
 * never looks before the run is visible.
 */
void
wake_executors_at_commit(void)
{
	if (shared == NULL)
		return;
	if (!xact_callback_registered)
	{
		RegisterXactCallback(wake_xact_callback, NULL);
		xact_callback_registered = true;
	}
	wake_pending = true;
}

/*
 * Wake the launcher (and the executors) when this transaction commits: the
 * cron schedules changed, so its next fire time may be earlier.
 */
void
wake_launcher_at_commit(void)
{
	wake_executors_at_commit();
	launcher_wake_pending = true;
}

/*
 * This transaction recorded a cancel request (runs.c): when it commits,
 * executors learn that there may be requests to apply, and are woken.
 */
void
wake_note_cancel_request(void)
{
	wake_executors_at_commit();
	cancel_request_pending = true;
}

/*
 * Whether a cancel request was committed since this backend last asked
 * (always true without shared memory, where nothing can tell): the
 * executors look for requests to apply only then.
 */
bool
wake_cancel_requests_changed(void)
{
	uint32		now;

	if (shared == NULL)
		return true;
	now = pg_atomic_read_u32(&shared->cancel_requests);
	if (now == cancel_requests_seen)
		return false;
	cancel_requests_seen = now;
	return true;
}

/* Set the latch of every worker now */
static void
wake_all(void)
{
	int			i;

	for (i = 0; i < shared->nslots; i++)
	{
		Latch	   *latch = shared->slots[i].latch;

		if (latch != NULL)
			SetLatch(latch);
	}
	if (shared->launcher_latch != NULL)
		SetLatch(shared->launcher_latch);
}

/*
 * A session begins loading a dump into some database: count it, and wake
 * the launcher, which will hold its runs until the session ends and then
 * requeue those the dump left running.
 */
void
wake_restore_started(void)
{
	if (shared == NULL)
		return;
	SpinLockAcquire(&shared->mutex);
	shared->restores++;
	SpinLockRelease(&shared->mutex);
	if (shared->launcher_latch != NULL)
		SetLatch(shared->launcher_latch);
}

/* How many sessions have begun loading a dump since the server started */
uint64
wake_restores_started(void)
{
	uint64		n;

	if (shared == NULL)
		return 0;
	SpinLockAcquire(&shared->mutex);
	n = shared->restores;
	SpinLockRelease(&shared->mutex);
	return n;
}

/*
 * Wake every worker at once, outside any transaction: a session that held
 * them while it loaded a dump is ending.
 */
void
wake_workers_now(void)
{
	if (shared != NULL)
		wake_all();
}
