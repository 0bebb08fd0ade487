/*-------------------------------------------------------------------------
 *
 * guc.h
 *	  Configuration parameters of inngest_pg and the module's entry point.
 *
 *-------------------------------------------------------------------------
 */
#ifndef INNGEST_GUC_H
#define INNGEST_GUC_H

extern char *inngest_database;
extern int	inngest_workers;
extern int	inngest_idle_timeout;
extern int	inngest_runs_per_transaction;
extern int	inngest_max_event_size;
extern int	inngest_max_step_output_size;

#endif							/* INNGEST_GUC_H */
