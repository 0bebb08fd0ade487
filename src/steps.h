/*-------------------------------------------------------------------------
 *
 * steps.h
 *	  The step_* SQL functions a handler calls.
 *
 * Their SQL-callable entry points are declared by PG_FUNCTION_INFO_V1 in
 * steps.c; nothing else calls into this subsystem.
 *
 *-------------------------------------------------------------------------
 */
#ifndef INNGEST_STEPS_H
#define INNGEST_STEPS_H

#include "fmgr.h"

extern Datum inngest_step_run(PG_FUNCTION_ARGS);
extern Datum inngest_step_sleep(PG_FUNCTION_ARGS);
extern Datum inngest_step_sleep_until(PG_FUNCTION_ARGS);
extern Datum inngest_step_send_event(PG_FUNCTION_ARGS);
extern Datum inngest_step_wait_for_event(PG_FUNCTION_ARGS);
extern Datum inngest_step_invoke(PG_FUNCTION_ARGS);

#endif							/* INNGEST_STEPS_H */
