/*-------------------------------------------------------------------------
 *
 * schedules.h
 *	  Cron triggers: storing a function's schedules and firing due slots.
 *
 *-------------------------------------------------------------------------
 */
#ifndef INNGEST_SCHEDULES_H
#define INNGEST_SCHEDULES_H

#include "inngest.h"

extern void schedules_store(const char *function_id, int n,
							const int *positions, char **crons);
extern int	schedules_fire(TimestampTz now, int max);
extern TimestampTz schedules_next_fire(void);

#endif							/* INNGEST_SCHEDULES_H */
