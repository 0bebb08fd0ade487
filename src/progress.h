/*-------------------------------------------------------------------------
 *
 * progress.h
 *	  Recording a run's progress: memo, sleeps, waits, retries, outcome.
 *
 *-------------------------------------------------------------------------
 */
#ifndef INNGEST_PROGRESS_H
#define INNGEST_PROGRESS_H

#include "executor.h"
#include "waits.h"

/* The first retry's backoff, in seconds (Inngest's table starts there) */
#define PROGRESS_FIRST_BACKOFF_SECS 15

extern void progress_load_memo(RunState *run);
extern void progress_wake_sleeper(RunState *run);
extern void progress_record_step(RunState *run, Jsonb *output,
								 TimestampTz started);
extern void progress_sleep(RunState *run);
extern void progress_wait(RunState *run);
extern void progress_invoke(RunState *run);
extern void progress_failure(RunState *run, bool in_step, ErrorData *edata);
extern void progress_complete(RunState *run, Jsonb *output);
extern void progress_fail(RunState *run, Jsonb *error);
extern Jsonb *progress_error_jsonb(ErrorData *edata);
extern TimestampTz progress_add_interval(TimestampTz t, Interval *interval);
extern int	progress_wait_locks(RunState *run, EventLockRequest *out);

#endif							/* INNGEST_PROGRESS_H */
