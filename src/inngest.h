/*-------------------------------------------------------------------------
 *
 * inngest.h
 *	  Definitions shared by every subsystem of inngest_pg: limits, error
 *	  codes and the extension-wide helpers.
 *
 * Each subsystem has its own header (catalog.h, executor.h, ...); this one
 * holds only what all of them need.
 *
 *-------------------------------------------------------------------------
 */
#ifndef INNGEST_H
#define INNGEST_H

#include "postgres.h"

#include "utils/jsonb.h"
#include "utils/timestamp.h"

/* Limits (DESIGN.md section 6) */
#define INNGEST_MAX_ID_LEN			255 /* function ids, event names, step ids */
#define INNGEST_KEY_SIZE			272 /* hash key: id plus ":NNNN" suffix */
#define INNGEST_MAX_STEPS			1000	/* steps per run */
#define INNGEST_MAX_RETRIES			20
#define INNGEST_DEFAULT_RETRIES		4
#define INNGEST_MAX_TRIGGERS		10
#define INNGEST_DEDUP_WINDOW_SECS	(24 * 60 * 60)

/*
 * SQLSTATEs of our own.  IG001 is public: a handler raises it to fail a run
 * without retrying.  IG900 is the internal "step discovered" signal that a
 * step_* function raises to interrupt the handler; users never see it unless
 * they catch it.
 */
#define ERRCODE_INNGEST_NON_RETRIABLE	MAKE_SQLSTATE('I','G','0','0','1')
#define ERRCODE_INNGEST_STEP_DISCOVERED MAKE_SQLSTATE('I','G','9','0','0')

/* Field4 of the advisory lock tags we take, apart from users' (1 and 2) */
#define INNGEST_LOCKTAG_RUN			0x4947

/* guc.c: the extension's clock (inngest.fake_now or the real one) */
extern TimestampTz inngest_clock(void);

/* api.c: run internal SQL as the owner of the inngest schema */
extern Oid	inngest_schema_owner(void);
extern void inngest_become_owner(Oid *save_userid, int *save_sec);
extern void inngest_restore_user(Oid save_userid, int save_sec);
extern int	inngest_push_search_path(const char *path);
extern void inngest_pop_search_path(int nestlevel);
extern void inngest_set_local_search_path(void);

#endif							/* INNGEST_H */
