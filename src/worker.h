/*-------------------------------------------------------------------------
 *
 * worker.h
 *	  The launcher and executor background workers, and waking them.
 *
 *-------------------------------------------------------------------------
 */
#ifndef INNGEST_WORKER_H
#define INNGEST_WORKER_H

#include "postgres.h"

extern void worker_init(void);
extern void worker_request_wake(void);
extern void worker_request_launcher_wake(void);

extern PGDLLEXPORT void inngest_launcher_main(Datum main_arg);
extern PGDLLEXPORT void inngest_executor_main(Datum main_arg);

#endif							/* INNGEST_WORKER_H */
