/*-------------------------------------------------------------------------
 *
 * wake.h
 *	  Shared memory of inngest_pg: where the workers' latches are, and
 *	  waking them when a transaction that made work commits.
 *
 *-------------------------------------------------------------------------
 */
#ifndef INNGEST_WAKE_H
#define INNGEST_WAKE_H

#include "postgres.h"

extern void wake_shmem_init(int nexecutors);
extern bool wake_attach_launcher(void);
extern bool wake_attach_executor(int slot);
extern bool wake_launcher_changed(pid_t notify_pid);

extern void wake_executors_at_commit(void);
extern void wake_launcher_at_commit(void);
extern void wake_note_cancel_request(void);
extern bool wake_cancel_requests_changed(void);

extern void wake_restore_started(void);
extern uint64 wake_restores_started(void);
extern void wake_workers_now(void);

#endif							/* INNGEST_WAKE_H */
