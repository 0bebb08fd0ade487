/*-------------------------------------------------------------------------
 *
 * security.h
 *	  Whose rights internal work runs with, and which search_path it sees.
 *
 *-------------------------------------------------------------------------
 */
#ifndef INNGEST_SECURITY_H
#define INNGEST_SECURITY_H

#include "postgres.h"

extern Oid	inngest_schema_owner(void);
extern void inngest_become_owner(Oid *save_userid, int *save_sec);
extern void inngest_restore_user(Oid save_userid, int save_sec);
extern void inngest_lock_role(Oid role);
extern bool inngest_role_exists(Oid role);
extern bool inngest_is_admin(Oid role);
extern bool inngest_is_reader(Oid role);
extern int	inngest_begin_user_code(void);
extern void inngest_end_user_code(int nestlevel);
extern void inngest_reset_worker_session(void);
extern int	inngest_push_search_path(const char *path);
extern void inngest_pop_search_path(int nestlevel);
extern void inngest_set_local_search_path(void);

#endif							/* INNGEST_SECURITY_H */
