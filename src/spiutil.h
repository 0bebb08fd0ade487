/*-------------------------------------------------------------------------
 *
 * spiutil.h
 *	  Prepared statements kept for the backend's life, and running them.
 *
 *-------------------------------------------------------------------------
 */
#ifndef INNGEST_SPIUTIL_H
#define INNGEST_SPIUTIL_H

#include "postgres.h"

#include "executor/spi.h"

extern SPIPlanPtr inngest_keep_plan(SPIPlanPtr *slot, const char *sql,
									int nargs, const Oid *types);

extern uint64 inngest_run_plan(SPIPlanPtr *slot, const char *sql, int nargs,
							   const Oid *types, Datum *values,
							   const char *nulls, int expected);
extern uint64 inngest_run_plan_latest(SPIPlanPtr *slot, const char *sql,
									  int nargs, const Oid *types,
									  Datum *values, const char *nulls,
									  int expected);
extern void inngest_spi_connect(void);

#endif							/* INNGEST_SPIUTIL_H */
