/*-------------------------------------------------------------------------
 *
 * inngest_pg.c
 *	  The module's entry point.
 *
 * Loading the library defines the configuration parameters and installs
 * the hook that makes role commands take inngest functions into account
 * (roles.c).  Preloaded (shared_preload_libraries), it also reserves the
 * shared memory that wakes the workers and registers the launcher, which
 * starts the executors; without preloading, runs advance through
 * inngest.tick(), and the hook acts only in backends that have loaded the
 * library by calling one of its functions.  doc/design.md describes the
 * whole.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"

#include "guc.h"
#include "roles.h"
#include "wake.h"
#include "worker.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/*
 * Called once per process that loads the library: the GUCs and the role
 * hook everywhere; shared memory and the launcher only at server start.
 */
void
_PG_init(void)
{
	guc_define();
	roles_install_hook();
	if (!process_shared_preload_libraries_in_progress)
		return;
	wake_shmem_init(inngest_workers);
	worker_register_launcher();
}
