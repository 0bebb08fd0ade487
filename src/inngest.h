/*-------------------------------------------------------------------------
 *
 * inngest.h
 *	  Constants shared by every file of inngest_pg: limits, our SQLSTATEs and
 *	  the advisory lock tags we take.
 *
 * Only definitions live here, no functions: each subsystem declares its
 * own in its header, and doc/design.md draws the layers they form.
 *
 *-------------------------------------------------------------------------
 */
#ifndef INNGEST_H
#define INNGEST_H

#include "postgres.h"

#include "utils/jsonb.h"
#include "utils/timestamp.h"

/* Limits (README, "Limits") */
#define INNGEST_MAX_ID_LEN			255 /* function ids, event names, step ids */
#define INNGEST_KEY_SIZE			272 /* hash key: id plus ":NNNN" suffix */
#define INNGEST_MAX_STEPS			1000	/* steps per run */
#define INNGEST_MAX_RETRIES			20
#define INNGEST_DEFAULT_RETRIES		4
#define INNGEST_MAX_TRIGGERS		10
#define INNGEST_MAX_EXPRESSION_LEN	8192	/* bytes of an expression */
#define INNGEST_DEDUP_WINDOW_SECS	(24 * 60 * 60)

/*
 * SQLSTATEs of our own.  IG001 is public: a handler raises it to fail a run
 * without retrying.  IG900 is the internal "step discovered" signal that a
 * step_* function raises to interrupt the handler; users never see it unless
 * they catch it.
 */
#define ERRCODE_INNGEST_NON_RETRIABLE	MAKE_SQLSTATE('I','G','0','0','1')
#define ERRCODE_INNGEST_STEP_DISCOVERED MAKE_SQLSTATE('I','G','9','0','0')

/* The longest duration of a configuration key, a sleep or a wait */
#define INNGEST_MAX_DURATION_USECS	((int64) 366 * USECS_PER_DAY)

/* Event names only the engine sends (inngest/function.finished, ...) */
#define INNGEST_RESERVED_PREFIX		"inngest/"

/* The roles the extension creates (sql/inngest_pg--0.1.sql) */
#define INNGEST_ADMIN_ROLE			"inngest_admin"
#define INNGEST_READER_ROLE			"inngest_reader"

/*
 * Field4 of the advisory lock tags we take (users' advisory locks use 1 and
 * 2).  doc/design.md, "Locking", says who takes which and in what order.
 */
#define INNGEST_LOCKTAG_RUN			0x4947	/* a run has a live driver */
#define INNGEST_LOCKTAG_EVENT		0x4948	/* an event name (waits.c) */
#define INNGEST_LOCKTAG_SLOT		0x4949	/* a concurrency slot (slots.c) */
#define INNGEST_LOCKTAG_SINGLETON	0x494A	/* a singleton key (flow.c) */
#define INNGEST_LOCKTAG_RESTORE		0x494B	/* a dump is loading (restore.c) */

#endif							/* INNGEST_H */
