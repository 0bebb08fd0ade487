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

extern void waits_lock_events(EventLockRequest *requests, int n);
extern bool waits_holding_locks(void);
extern bool waits_hold_exclusively(EventLockRequest *requests, int n);
extern bool waits_name_is_waited(const char *name);

extern bool waits_valid_match(const char *match);
extern ArrayType *waits_parse_match(const char *match, const char *key);
extern void waits_register(int64 run_id, const char *kind, const char *step_id,
						   const char *event, ArrayType *match_path,
						   Jsonb *run_event, JsonPath *condition,
						   TimestampTz expires_at);

extern void waits_resolve_events(Datum *names, Datum *events, int n);
extern int	waits_apply_hits(void);
extern bool waits_apply_run_hits(int64 run_id);
extern void waits_timeout_step(int64 run_id);
extern bool waits_cancel_run(int64 run_id, bool nowait, const char *reason);
extern void waits_forget_run(int64 run_id);

#endif							/* INNGEST_WAITS_H */
