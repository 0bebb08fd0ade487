/*-------------------------------------------------------------------------
 *
 * roles.h
 *	  The ProcessUtility hook that makes REASSIGN OWNED, DROP OWNED and
 *	  DROP ROLE take inngest functions into account.
 *
 *-------------------------------------------------------------------------
 */
#ifndef INNGEST_ROLES_H
#define INNGEST_ROLES_H

#include "postgres.h"

extern void roles_install_hook(void);

#endif							/* INNGEST_ROLES_H */
