/*-------------------------------------------------------------------------
 *
 * restore.h
 *	  Loading a dump: recognising the session that restores one.
 *
 *-------------------------------------------------------------------------
 */
#ifndef INNGEST_RESTORE_H
#define INNGEST_RESTORE_H

#include "postgres.h"

extern bool restore_loading(void);

#endif							/* INNGEST_RESTORE_H */
