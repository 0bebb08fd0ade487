/*-------------------------------------------------------------------------
 *
 * memo.h
 *	  The memo of runs: one row of inngest.steps per step.
 *
 *-------------------------------------------------------------------------
 */
#ifndef INNGEST_MEMO_H
#define INNGEST_MEMO_H

#include "inngest.h"

#include "datatype/timestamp.h"
#include "nodes/pg_list.h"
#include "utils/jsonb.h"

typedef enum StepKind
{
	STEP_RUN,					/* step_run: a query */
	STEP_SEND,					/* step_send_event: an event */
	STEP_SLEEP,					/* step_sleep, step_sleep_until */
	STEP_WAIT,					/* step_wait_for_event */
	STEP_INVOKE					/* step_invoke */
} StepKind;

/* A completed step, as memo_load returns it */
typedef struct MemoRow
{
	char	   *step_id;
	Jsonb	   *output;			/* NULL for SQL NULL */
} MemoRow;

extern List *memo_load(int64 run_id);
extern void memo_record(int64 run_id, const char *step_id, StepKind kind,
						int position, int attempts, Jsonb *output,
						TimestampTz started);
extern void memo_record_failure(int64 run_id, const char *step_id,
								StepKind kind, int position, bool final,
								Jsonb *error, int attempts);
extern void memo_record_sleep(int64 run_id, const char *step_id, int position,
							  TimestampTz started, TimestampTz until);
extern void memo_record_wait(int64 run_id, const char *step_id, int position,
							 StepKind kind, TimestampTz started);
extern void memo_complete_sleep(int64 run_id);
extern void memo_complete_wait(int64 run_id, Jsonb *output);
extern void memo_cancel_open(int64 run_id);

#endif							/* INNGEST_MEMO_H */
