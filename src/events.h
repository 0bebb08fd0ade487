/*-------------------------------------------------------------------------
 *
 * events.h
 *	  Events in: the fan-out of a batch of events to waits and new runs,
 *	  for the event trigger and for events the extension sends itself.
 *
 *-------------------------------------------------------------------------
 */
#ifndef INNGEST_EVENTS_H
#define INNGEST_EVENTS_H

#include "inngest.h"

#include "utils/jsonb.h"

/* One stored event, as the fan-out reads it */
typedef struct EventRow
{
	text	   *name;
	Datum		data;			/* jsonb, possibly toasted */
	text	   *id;				/* the user's id, or NULL */
	int64		seq;
	TimestampTz ts;
	int			depth;			/* runs that led to it (inngest.max_depth) */
} EventRow;

/*
 * Where the fan-out reads events from: next() fills the row and returns
 * false at the end; rescan() starts over (the fan-out makes two passes).
 * A row's pointers need to stay valid only until the next call.
 */
typedef struct EventSource EventSource;
struct EventSource
{
	bool		(*next) (EventSource *src, EventRow *row);
	void		(*rescan) (EventSource *src);
	bool		system;			/* the extension's own: no size limit */
	Oid			about;			/* a system event: the owner of the run it
								 * reports on; else InvalidOid */
};

extern void events_fan_out(EventSource *src);
extern void events_check_sender(Oid role, const char *event_name,
								const char *function_id);
extern bool events_may_subscribe(Oid role);
extern int64 events_publish(const char *name, Jsonb *data, int depth);
extern int64 events_publish_system(const char *name, Jsonb *data, int depth,
								   Oid about);

#endif							/* INNGEST_EVENTS_H */
