/*-------------------------------------------------------------------------
 *
 * guc.h
 *	  Configuration parameters of inngest_pg, and the extension's clock
 *	  with the time arithmetic on it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef INNGEST_GUC_H
#define INNGEST_GUC_H

#include "postgres.h"

#include "datatype/timestamp.h"

extern char *inngest_database;
extern int	inngest_workers;
extern int	inngest_idle_timeout;
extern int	inngest_runs_per_transaction;
extern int	inngest_max_event_size;
extern int	inngest_max_step_output_size;
extern int	inngest_max_depth;

extern void guc_define(void);

/* The extension's clock: inngest.fake_now if set, else the real one */
extern TimestampTz inngest_clock(void);
extern TimestampTz inngest_add_interval(TimestampTz t, Interval *interval);
extern Datum inngest_usecs_interval(int64 usecs);

#endif							/* INNGEST_GUC_H */
