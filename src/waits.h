/*-------------------------------------------------------------------------
 *
 * waits.h
 *	  Runs waiting for events: step_wait_for_event, cancelOn, step_invoke.
 *
 *-------------------------------------------------------------------------
 */
#ifndef INNGEST_WAITS_H
#define INNGEST_WAITS_H

#include "inngest.h"

#include "nodes/pg_list.h"
#include "utils/array.h"
#include "utils/jsonpath.h"

#include "config.h"

/* Lock modes on an event name (see waits.c for the protocol) */
typedef enum EventLockMode
{
	EVENT_LOCK_SEND,			/* inserting events of the name */
	EVENT_LOCK_WAIT				/* registering a wait for it */
} EventLockMode;

typedef struct EventLockRequest
{
	const char *name;
	EventLockMode mode;
} EventLockRequest;

/* A match of a wait by an event */
typedef struct WaitHit
{
	int64		wait_id;
	int64		run_id;
	bool		cancel;			/* a cancelOn wait (else a step's) */
	char	   *step_id;		/* NULL for cancel waits */
	Jsonb	   *event;
	/* found by waits_find_hits (else 0): whom the event must be visible to */
	Oid			owner;			/* the waiting run's owner; 0 for an invoke's */
	int64		seq;			/* the event's */
} WaitHit;

extern void waits_lock_events(EventLockRequest *requests, int n);
extern bool waits_holding_locks(void);
extern bool waits_hold_exclusively(EventLockRequest *requests, int n);
extern bool waits_name_is_waited(const char *name);

extern void waits_register(int64 run_id, const char *kind, const char *step_id,
						   const char *event, ArrayType *match_path,
						   Jsonb *run_event, JsonPath *condition,
						   TimestampTz expires_at);
extern void waits_register_cancel_on(int64 run_id, InngestFunction *fn,
									 Jsonb *event);
extern void waits_cancel_on_locks(InngestFunction *fn,
								  EventLockRequest *requests, int *n);

extern List *waits_find_hits(Datum *names, Datum *events, Datum *about,
							   Datum *seqs, int n, Oid events_relid);
extern void waits_defer_hit(WaitHit *hit);
extern List *waits_take_deferred(void);
extern List *waits_take_run_deferred(int64 run_id);
extern bool waits_exists(int64 wait_id);
extern void waits_drop_step_waits(int64 run_id);
extern void waits_forget_run(int64 run_id);

#endif							/* INNGEST_WAITS_H */
