/*-------------------------------------------------------------------------
 *
 * lifecycle.h
 *	  A run's life around its steps: starting, sleeping, waiting,
 *	  invoking, retrying, ending, cancelling, and the system events.
 *
 *-------------------------------------------------------------------------
 */
#ifndef INNGEST_LIFECYCLE_H
#define INNGEST_LIFECYCLE_H

#include "inngest.h"

#include "utils/array.h"
#include "utils/jsonb.h"
#include "utils/jsonpath.h"

#include "config.h"
#include "memo.h"
#include "runs.h"
#include "waits.h"

/* The most event-name locks a wait or invoke step takes */
#define LIFECYCLE_MAX_WAIT_LOCKS 3

extern void lifecycle_track(RunState *run);

extern int64 lifecycle_start_run(const char *function_id, Jsonb *event,
								 int depth);
extern int64 lifecycle_create_run(InngestFunction *fn, Jsonb *event,
								  TimestampTz wake_at, const char *active_key,
								  const char *blocked_on);

extern void lifecycle_step_done(RunState *run, const char *step_id,
								StepKind kind, Jsonb *output,
								TimestampTz started);
extern void lifecycle_sleep(RunState *run, const char *step_id,
							TimestampTz until);
extern int	lifecycle_wait_locks(StepKind kind, const char *event_name,
								 EventLockRequest *out);
extern void lifecycle_wait(RunState *run, const char *step_id,
						   const char *event_name, ArrayType *match_path,
						   JsonPath *condition, TimestampTz until);
extern void lifecycle_invoke(RunState *run, const char *step_id,
							 const char *function_id, Jsonb *data,
							 TimestampTz until);
extern void lifecycle_wait_timed_out(int64 run_id);

extern void lifecycle_failure(RunState *run, const char *step_id,
							  StepKind kind, ErrorData *edata);
extern void lifecycle_complete(RunState *run, Jsonb *output);
extern void lifecycle_fail(RunState *run, Jsonb *error);
extern bool lifecycle_cancel(int64 run_id, bool nowait, const char *reason);
extern bool lifecycle_request_cancel(int64 run_id, const char *reason);
extern bool lifecycle_cancel_if_requested(RunState *run);
extern int	lifecycle_apply_cancel_requests(void);

extern bool lifecycle_apply_hit(WaitHit *hit, bool nowait);
extern int	lifecycle_apply_deferred(void);
extern bool lifecycle_apply_run_deferred(int64 run_id);

#endif							/* INNGEST_LIFECYCLE_H */
