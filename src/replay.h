/*-------------------------------------------------------------------------
 *
 * replay.h
 *	  The handler side of a drive: calling the handler with the run's memo,
 *	  and what the step_* functions it calls may see of the run.
 *
 *-------------------------------------------------------------------------
 */
#ifndef INNGEST_REPLAY_H
#define INNGEST_REPLAY_H

#include "inngest.h"

#include "fmgr.h"
#include "utils/array.h"
#include "utils/hsearch.h"
#include "utils/jsonpath.h"

#include "memo.h"
#include "runs.h"

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
	TimestampTz until;			/* STEP_SLEEP: when to resume; STEP_WAIT,
								 * STEP_INVOKE: the timeout */
	char	   *event_name;		/* STEP_SEND: the event to send; STEP_WAIT:
								 * the event to wait for; STEP_INVOKE: the
								 * function to invoke */
	Jsonb	   *event_data;
	ArrayType  *match_path;		/* STEP_WAIT: match key, or NULL */
	JsonPath   *condition;		/* STEP_WAIT: compiled "if", or NULL */
} PendingStep;

/*
 * The handler side of the run being driven.  It lives in the run's memory
 * context; invoke_cxt holds what one invocation of the handler allocates
 * (the pending step among it).
 */
typedef struct Replay
{
	RunState   *run;
	MemoryContext invoke_cxt;
	FmgrInfo	flinfo;			/* the handler */
	ArrayType  *handler_config; /* its ALTER FUNCTION ... SET, or NULL */
	HTAB	   *memo;			/* step id -> MemoEntry */
	HTAB	   *seen;			/* this invocation: step id -> occurrences */
	bool		in_handler;
	bool		in_step;
	bool		discovered;		/* pending holds a step to run */
	ErrorData  *fatal;			/* a misuse that fails the run, no retry */
	PendingStep pending;
} Replay;

/* How one invocation of the handler ended */
typedef enum InvokeResult
{
	INVOKE_COMPLETED,			/* the handler returned; output is set */
	INVOKE_STEP,				/* a new step is pending */
	INVOKE_ERROR				/* the handler failed outside any step */
} InvokeResult;

/* For the step_* functions (steps.c) */
extern Replay *replay_current(const char *caller);
extern RunState *replay_active_run(void);
extern char *replay_step_key(Replay *rp, const char *step_id);
extern MemoEntry *replay_memo_lookup(Replay *rp, const char *key);
extern PendingStep *replay_new_step(Replay *rp, const char *key, StepKind kind);
extern void replay_discover(Replay *rp) pg_attribute_noreturn();
extern void replay_fatal(Replay *rp, int sqlerrcode, const char *fmt,...)
			pg_attribute_printf(3, 4) pg_attribute_noreturn();

/* For the executor */
extern Replay *replay_begin(RunState *run);
extern void replay_end(void);
extern bool replay_in_progress(void);
extern void replay_load_memo(Replay *rp);
extern void replay_remember(Replay *rp, const char *key, Jsonb *output);
extern InvokeResult replay_invoke(Replay *rp, Jsonb **output,
								  ErrorData **edata);

#endif							/* INNGEST_REPLAY_H */
