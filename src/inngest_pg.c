/*-------------------------------------------------------------------------
 *
 * inngest_pg.c
 *	  The module's entry point.
 *
 * Loading the library defines the configuration parameters.  Preloaded
 * (shared_preload_libraries), it also reserves the shared memory that
 * wakes the workers and registers the launcher, which starts the
 * executors; without preloading, runs advance through inngest.tick().
 * doc/design.md describes the whole.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"

#include "guc.h"
#include "wake.h"
#include "worker.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	guc_define();
	if (!process_shared_preload_libraries_in_progress)
		return;
	wake_shmem_init(inngest_workers);
	worker_register_launcher();
}
