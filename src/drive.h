/*-------------------------------------------------------------------------
 *
 * drive.h
 *	  Driving runs: claim, replay, step, checkpoint; tick().
 *
 *-------------------------------------------------------------------------
 */
#ifndef INNGEST_DRIVE_H
#define INNGEST_DRIVE_H

#include "inngest.h"

#include "datatype/timestamp.h"

/*
 * A worker's transaction that drives several runs commits within this
 * many milliseconds of its start, whatever their steps do: worker.c stops
 * taking runs then, and a step that would keep the others waiting longer
 * is stopped and run again after their commit (drive.c).
 */
#define DRIVE_BATCH_MAX_MS		20

extern bool drive_run_next(bool commit_steps, Oid driver);
extern bool drive_begin_transaction(void);
extern int	drive_tick(int max_runs);
extern TimestampTz drive_next_wake(void);
extern int64 drive_claimed_run(int *attempt);
extern void drive_forget_claim(void);

#endif							/* INNGEST_DRIVE_H */
