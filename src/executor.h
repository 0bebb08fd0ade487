/*-------------------------------------------------------------------------
 *
 * executor.h
 *	  Driving one run: replay of the handler, steps run outside it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef INNGEST_EXECUTOR_H
#define INNGEST_EXECUTOR_H

#include "inngest.h"

#include "fmgr.h"
#include "utils/array.h"
#include "utils/hsearch.h"
#include "utils/jsonpath.h"

typedef enum StepKind
{
	STEP_RUN,					/* step_run: a query */
	STEP_SEND,					/* step_send_event: an event */
	STEP_SLEEP,					/* step_sleep, step_sleep_until */
	STEP_WAIT,					/* step_wait_for_event */
	STEP_INVOKE					/* step_invoke */
} StepKind;

/* A completed step's memoized output */
typedef struct MemoEntry
{
	char		key[INNGEST_KEY_SIZE];	/* hash key: the step id */
	Jsonb	   *output;			/* NULL for SQL NULL */
} MemoEntry;

/* The first new step an invocation of the handler reached */
typedef struct PendingStep
{
	char		key[INNGEST_KEY_SIZE];
	StepKind	kind;
	char	   *query;			/* STEP_RUN: SQL text and bound arguments */
	int			nargs;
	Oid		   *argtypes;
	Datum	   *args;
	char	   *argnulls;		/* SPI convention: 'n' or ' ' */
	char	   *search_path;	/* the handler's, so names resolve alike */
	TimestampTz until;			/* STEP_SLEEP: when to resume; STEP_WAIT:
								 * the timeout */
	char	   *event_name;		/* STEP_SEND: the event to send; STEP_WAIT:
								 * the event to wait for; STEP_INVOKE: the
								 * function to invoke */
	Jsonb	   *event_data;
	ArrayType  *match_path;		/* STEP_WAIT: match key, or NULL */
	JsonPath   *condition;		/* STEP_WAIT: compiled "if", or NULL */
} PendingStep;

/*
 * Backend-local state of the run being driven.  It lives in its own memory
 * context for the whole drive, across the transactions a worker commits
 * between steps.
 */
typedef struct RunState
{
	int64		run_id;
	char		function_id[INNGEST_KEY_SIZE];
	Oid			handler;
	Oid			owner;
	int			retries;
	char	   *search_path;	/* the function's, for the handler */
	Jsonb	   *event;
	int			attempt;		/* failures so far of what runs next */
	TimestampTz started_at;		/* when the run first started */
	TimestampTz deadline;		/* timeouts.finish, or 0 */
	bool		has_cancel_on;	/* its function has cancelOn waits */
	bool		cancelled;		/* cancelled by its own transaction */
	bool		commit_steps;	/* worker: commit after every step */
	bool		marked_running; /* status 'running' is committed */
	TimestampTz queue_at;		/* its place in the queue (wake_at claimed) */
	bool		was_set_aside;	/* it waited for a slot and was brought back */
	struct RunSlots *slots;		/* its concurrency keys (slots.c), or NULL */

	MemoryContext cxt;			/* the whole drive */
	MemoryContext invoke_cxt;	/* one invocation of the handler */
	FmgrInfo	flinfo;			/* the handler */
	HTAB	   *memo;			/* step id -> MemoEntry */
	int			nsteps;			/* completed steps */
	HTAB	   *seen;			/* this invocation: step id -> occurrences */

	bool		in_handler;
	bool		in_step;
	bool		discovered;		/* pending holds a step to run */
	ErrorData  *fatal;			/* a misuse that fails the run, no retry */
	PendingStep pending;
} RunState;

extern RunState *executor_current_run(const char *caller);
extern RunState *executor_active_run(void);
extern char *executor_step_key(RunState *run, const char *step_id);
extern MemoEntry *executor_memo_lookup(RunState *run, const char *key);
extern void executor_discover(RunState *run) pg_attribute_noreturn();
extern void executor_fatal(RunState *run, int sqlerrcode, const char *fmt,...)
			pg_attribute_printf(3, 4) pg_attribute_noreturn();

extern bool executor_run_next(bool commit_steps);
extern int	executor_tick(int max_runs);
extern TimestampTz executor_next_wake(void);
extern int	executor_recover(void);
extern int64 executor_claimed_run(void);
extern void executor_forget_claim(void);
extern void executor_note_cancelled(int64 run_id);
extern void executor_requeue_after_internal_error(int64 run_id, ErrorData *edata);

#endif							/* INNGEST_EXECUTOR_H */
