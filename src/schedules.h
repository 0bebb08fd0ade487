/*-------------------------------------------------------------------------
 *
 * schedules.h
 *	  Cron triggers: firing the due slots of schedules.
 *
 *-------------------------------------------------------------------------
 */
#ifndef INNGEST_SCHEDULES_H
#define INNGEST_SCHEDULES_H

#include "inngest.h"

extern int	schedules_fire(TimestampTz now, int max, Oid driver);
extern TimestampTz schedules_next_fire(void);

#endif							/* INNGEST_SCHEDULES_H */
