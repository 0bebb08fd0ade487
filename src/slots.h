/*-------------------------------------------------------------------------
 *
 * slots.h
 *	  Concurrency limits: slots held while a run executes, and the queue of
 *	  runs waiting for one.
 *
 *-------------------------------------------------------------------------
 */
#ifndef INNGEST_SLOTS_H
#define INNGEST_SLOTS_H

#include "inngest.h"

#include "config.h"
#include "runs.h"

extern bool slots_enter(RunState *run, InngestFunction *fn, bool fresh);
extern void slots_release(RunState *run);
extern bool slots_begin_transaction(void);
extern int	slots_promote(bool consume);
extern void slots_ingest_begin(void);
extern char *slots_ingest_park(InngestFunction *fn, Jsonb *event);

#endif							/* INNGEST_SLOTS_H */
