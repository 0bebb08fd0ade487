/*-------------------------------------------------------------------------
 *
 * stepexec.h
 *	  Running the pending step of a run outside its handler.
 *
 *-------------------------------------------------------------------------
 */
#ifndef INNGEST_STEPEXEC_H
#define INNGEST_STEPEXEC_H

#include "replay.h"

/* How running a step ended */
typedef enum StepResult
{
	STEP_DONE,					/* it completed with its output */
	STEP_FAILED,				/* it failed (rolled back), with an error */
	STEP_OVER_DEADLINE,			/* stopped: the run's timeouts.finish came */
	STEP_OVER_BUDGET			/* stopped: the batch's time is up */
} StepResult;

extern StepResult stepexec_run(Replay *rp, TimestampTz batch_end,
							   Jsonb **output, ErrorData **edata);

#endif							/* INNGEST_STEPEXEC_H */
