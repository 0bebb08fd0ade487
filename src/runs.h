/*-------------------------------------------------------------------------
 *
 * runs.h
 *	  The run-state module: every insert, claim and update of
 *	  inngest.runs, one function per transition.
 *
 *-------------------------------------------------------------------------
 */
#ifndef INNGEST_RUNS_H
#define INNGEST_RUNS_H

#include "inngest.h"

#include "datatype/timestamp.h"
#include "utils/jsonb.h"
#include "nodes/pg_list.h"
#include "utils/palloc.h"

/* The first retry's backoff, in seconds (Inngest's table starts there) */
#define RUNS_FIRST_BACKOFF_SECS 15

struct RunSlots;

/*
 * A run being driven, as the executor, the lifecycle and the concurrency
 * slots see it.  It lives in its own memory context (cxt) for the whole
 * drive, across the transactions a worker commits between steps.
 */
typedef struct RunState
{
	int64		run_id;
	char		function_id[INNGEST_KEY_SIZE];
	Jsonb	   *event;
	int			depth;			/* runs that led to it (inngest.max_depth) */
	Oid			handler;		/* from the function's definition */
	Oid			owner;
	int			retries;
	char	   *search_path;
	bool		has_cancel_on;
	int			attempt;		/* failures so far of what runs next */
	int			nsteps;			/* completed steps (memo rows) */
	TimestampTz started_at;		/* when the run first started */
	TimestampTz deadline;		/* timeouts.finish, or 0 */
	TimestampTz queue_at;		/* its place in the queue (wake_at claimed) */
	TimestampTz step_reached;	/* when the handler reached its new step */
	bool		was_set_aside;	/* it waited for a slot and was brought back */
	bool		commit_steps;	/* a worker: commit after every step */
	bool		marked_running; /* status 'running' is committed */
	bool		cancelled;		/* cancelled by its own transaction */
	struct RunSlots *slots;		/* its concurrency keys (slots.c), or NULL */
	MemoryContext cxt;
} RunState;

/* A run just claimed: its row, as read under the claim's row lock */
typedef struct ClaimedRun
{
	int64		id;
	char	   *function_id;
	Jsonb	   *event;
	int			attempt;
	bool		fresh;			/* never started */
	TimestampTz started_at;		/* if not fresh */
	char	   *status;
	TimestampTz created_at;
	TimestampTz queue_at;		/* the wake_at it was claimed at */
	bool		flow_marks;		/* gathering events, or set aside */
	bool		was_set_aside;
	int			depth;
	bool		cancel_requested;	/* runs_request_cancel() was called */
} ClaimedRun;

/* Runs to create in one statement (runs_create) */
typedef struct NewRuns
{
	int			n;
	int			cap;
	Datum	   *function_ids;
	Datum	   *events;
	Datum	   *wake_at;		/* due at; or its place in blocked_on's queue */
	Datum	   *blocked_on;		/* a busy concurrency key, or NULL */
	bool	   *blocked_null;
	Datum	   *active_key;		/* a singleton key, or NULL */
	bool	   *active_null;
	Datum	   *depth;			/* int4: the depth at runs_add */
	Datum	   *owners;			/* oid: the function's owner */
	bool		any_blocked;
	bool		any_active;
} NewRuns;

/* Creation */
extern int	runs_set_depth(int depth);
extern NewRuns *runs_new_batch(int cap);
extern void runs_add(NewRuns *batch, const char *function_id, Jsonb *event,
					 TimestampTz wake_at, const char *blocked_on,
					 const char *active_key);
extern uint64 runs_create(NewRuns *batch, bool returning);
extern int64 runs_create_one(const char *function_id, Jsonb *event,
							 TimestampTz wake_at, const char *blocked_on,
							 const char *active_key);
extern uint64 runs_reassign(List *roles, Oid new_owner);
extern int64 runs_create_skipped(const char *function_id, Jsonb *event,
								 Jsonb *error);
extern int64 runs_gather_debounce(const char *function_id, Jsonb *event,
								  const char *key, int64 period,
								  int64 timeout, bool *inserted);
extern int64 runs_gather_batch(const char *function_id, Jsonb *event,
							   const char *key, int64 timeout, int max,
							   bool *inserted);

/* Claiming and driving */
extern bool runs_claim_next(TimestampTz now, Oid driver, ClaimedRun *out);
extern void runs_clear_flow_marks(int64 run_id);
extern void runs_mark_running(RunState *run);
extern char *runs_status(int64 run_id, bool *cancel_requested);
extern void runs_request_cancel(int64 run_id, const char *reason);
extern char *runs_take_cancel_request(int64 run_id);
extern List *runs_cancel_requests(void);
extern char *runs_lock(int64 run_id, bool skip_locked);
extern TimestampTz runs_next_wake(TimestampTz after);
extern bool runs_lock_driver(int64 run_id, bool session);
extern bool runs_keep_driver(int64 run_id);
extern void runs_unlock_driver(int64 run_id);

/* Leaving the executor, and coming back */
extern bool runs_sleep(RunState *run, TimestampTz wake);
extern bool runs_wait(RunState *run, TimestampTz wake);
extern void runs_resume(int64 run_id);
extern void runs_reset_attempt(RunState *run);
extern bool runs_retry(RunState *run, int failures, Jsonb *error,
					   TimestampTz wake);

/* Ending */
extern bool runs_complete(RunState *run, Jsonb *output);
extern bool runs_fail(RunState *run, Jsonb *error);
extern bool runs_cancel(int64 run_id, char **function_id, Jsonb **event,
						int *depth, Oid *owner);
extern void runs_cancel_function(const char *function_id);

/* Concurrency keys (slots.c) */
extern void runs_park(int64 run_id, const char *key, TimestampTz queue_at);
extern void runs_set_active_key(int64 run_id, const char *key);
extern int	runs_promote(Datum keys, Datum counts);

/* Failures of the engine itself */
extern void runs_retry_after_internal_error(int64 run_id, int attempt,
											Jsonb *error);
extern int	runs_recover(void);

#endif							/* INNGEST_RUNS_H */
