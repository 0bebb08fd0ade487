/*-------------------------------------------------------------------------
 *
 * worker.h
 *	  The launcher and executor background workers.
 *
 *-------------------------------------------------------------------------
 */
#ifndef INNGEST_WORKER_H
#define INNGEST_WORKER_H

#include "postgres.h"

extern void worker_register_launcher(void);

extern PGDLLEXPORT void inngest_supervisor_main(Datum main_arg);
extern PGDLLEXPORT void inngest_launcher_main(Datum main_arg);
extern PGDLLEXPORT void inngest_executor_main(Datum main_arg);

#endif							/* INNGEST_WORKER_H */
