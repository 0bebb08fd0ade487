/*-------------------------------------------------------------------------
 *
 * restore.h
 *	  Loading a dump: recognising the session that restores one, and the
 *	  workers holding still until it has finished.
 *
 *-------------------------------------------------------------------------
 */
#ifndef INNGEST_RESTORE_H
#define INNGEST_RESTORE_H

#include "postgres.h"

extern bool restore_loading(void);
extern bool restore_in_progress(void);

#endif							/* INNGEST_RESTORE_H */
