/*-------------------------------------------------------------------------
 *
 * flow.h
 *	  Flow control at admission: Inngest's throttle, rateLimit, debounce,
 *	  batchEvents, priority, idempotency and singleton keys.
 *
 * flow.c decides, when an event arrives, whether and when a run starts;
 * slots.c enforces concurrency limits while runs execute; config.c parses
 * the keys.
 *
 *-------------------------------------------------------------------------
 */
#ifndef INNGEST_FLOW_H
#define INNGEST_FLOW_H

#include "inngest.h"

#include "config.h"

extern int64 flow_admit(InngestFunction *fn, Jsonb *event);
extern void flow_cleanup(void);

#endif							/* INNGEST_FLOW_H */
