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

extern bool stepexec_run(Replay *rp, Jsonb **output, ErrorData **edata);

#endif							/* INNGEST_STEPEXEC_H */
