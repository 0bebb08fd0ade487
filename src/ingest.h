/*-------------------------------------------------------------------------
 *
 * ingest.h
 *	  The event trigger: match events to functions and start runs.
 *
 *-------------------------------------------------------------------------
 */
#ifndef INNGEST_INGEST_H
#define INNGEST_INGEST_H

#include "utils/jsonb.h"

#include "catalog.h"

extern int64 ingest_send_event(const char *name, Jsonb *data);
extern int64 ingest_start_run(const char *function_id, Jsonb *event);
extern int64 ingest_insert_run(InngestFunction *fn, Jsonb *event,
							   TimestampTz wake_at, const char *active_key,
							   const char *blocked_on);
extern void ingest_register_cancel_waits(int64 run_id, InngestFunction *fn,
										 Jsonb *event);

#endif							/* INNGEST_INGEST_H */
