/*-------------------------------------------------------------------------
 *
 * replay.c
 *	  The handler side of a drive: the handler is called with the run's
 *	  memo in memory, and replays up to the first step it has not done.
 *
 * doc/design.md, "Execution model":
 *
 * 1. The handler is called inside a subtransaction, as the function's
 *	  owner, with the run's memo (step id -> output) in backend memory.
 * 2. A step_* call with a memoized id returns the memo.  With a new id it
 *	  records the step as pending and raises IG900; every later step_* call
 *	  of that invocation raises again at once, so a handler that swallows
 *	  the error with EXCEPTION WHEN OTHERS cannot get past it.
 * 3. However the handler ends, if a step is pending its subtransaction is
 *	  rolled back (code outside steps leaves no trace) and the executor runs
 *	  the step (stepexec.c), then calls the handler again.
 *
 * The step functions (steps.c) see the run only through the functions of
 * this file's header.
 *
 *-------------------------------------------------------------------------
 */
#include "inngest.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_proc.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "guc.h"
#include "jsonutil.h"
#include "replay.h"
#include "security.h"

/* Occurrences of a step id within one invocation */
typedef struct SeenEntry
{
	char		key[INNGEST_KEY_SIZE];	/* hash key: the step id as written */
	int			count;
} SeenEntry;

/* The run this backend is driving, if any */
static Replay *current = NULL;

/* Raise the internal "step discovered" signal for the pending step */
static void
pg_attribute_noreturn()
raise_discovered(Replay *rp)
{
	ereport(ERROR,
			(errcode(ERRCODE_INNGEST_STEP_DISCOVERED),
			 errmsg("inngest step \"%s\" must run before the handler can continue",
					rp->pending.key),
			 errhint("inngest_pg raises this to interrupt the handler; a handler must not swallow it.")));
}

/* ----------------------------------------------------------------------
 * For the step functions
 * ----------------------------------------------------------------------
 */

/*
 * The run whose handler is executing, or an error naming the caller: step
 * functions are meaningful only there (not outside a run, not in a step).
 */
Replay *
replay_current(const char *caller)
{
	if (current != NULL && current->in_step)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s cannot be called inside a step", caller),
				 errdetail("Steps cannot be nested; call it from the handler itself.")));
	if (current == NULL || !current->in_handler)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s can only be called by a handler that inngest_pg is running", caller),
				 errhint("Register the handler with inngest.create_function() and send it an event.")));
	return current;
}

/* The run being driven, or NULL; for run_id() and attempt() */
RunState *
replay_active_run(void)
{
	return current ? current->run : NULL;
}

/*
 * The memo key of the next occurrence of step_id in this invocation: the id
 * itself, then "id:1", "id:2", ... so that steps in loops stay distinct.
 * A key is never given twice in an invocation: a suffixed key that an
 * explicit id took already (or an explicit id that a suffix took) moves on
 * to the next free one, in the order the handler reaches them, which is
 * the same on every replay.  Once a step is pending every step call
 * re-raises at once.
 */
char *
replay_step_key(Replay *rp, const char *step_id)
{
	char		key[INNGEST_KEY_SIZE];
	bool		found;
	SeenEntry  *base;
	size_t		len = strlen(step_id);

	if (rp->discovered)
		raise_discovered(rp);

	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("step id must not be empty")));
	if (len > INNGEST_MAX_ID_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("step id \"%s\" is too long", inngest_clip(step_id, 40)),
				 errdetail("The limit is %d bytes.", INNGEST_MAX_ID_LEN)));

	strlcpy(key, step_id, sizeof(key));
	base = hash_search(rp->seen, key, HASH_ENTER, &found);
	if (!found)
	{
		base->count = 0;
		return MemoryContextStrdup(rp->invoke_cxt, key);
	}

	/* a repeated id: the next "id:N" that no step of this invocation has */
	for (;;)
	{
		SeenEntry  *taken;

		base->count++;
		snprintf(key, sizeof(key), "%s:%d", step_id, base->count);
		taken = hash_search(rp->seen, key, HASH_ENTER, &found);
		if (!found)
		{
			taken->count = 0;
			return MemoryContextStrdup(rp->invoke_cxt, key);
		}
	}
}

MemoEntry *
replay_memo_lookup(Replay *rp, const char *key)
{
	return hash_search(rp->memo, key, HASH_FIND, NULL);
}

/*
 * Start recording a new step of this kind as the invocation's pending
 * step; the caller fills in the rest, allocated in rp->invoke_cxt, and
 * calls replay_discover().
 */
PendingStep *
replay_new_step(Replay *rp, const char *key, StepKind kind)
{
	PendingStep *step = &rp->pending;

	strlcpy(step->key, key, sizeof(step->key));
	step->kind = kind;
	/* a sleep or wait is timed from here, where its end was computed */
	rp->run->step_reached = inngest_clock();
	return step;
}

/*
 * Record the pending step as the invocation's new step and interrupt the
 * handler.
 */
void
replay_discover(Replay *rp)
{
	if (rp->run->nsteps >= INNGEST_MAX_STEPS)
		replay_fatal(rp, ERRCODE_PROGRAM_LIMIT_EXCEEDED,
					 "run exceeded the limit of %d steps", INNGEST_MAX_STEPS);
	rp->discovered = true;
	raise_discovered(rp);
}

/*
 * A misuse of the step API that no retry can fix (a bad duration, too many
 * steps): raise it in the handler, and fail the run with it however the
 * handler ends, even if it catches the error.
 */
void
replay_fatal(Replay *rp, int sqlerrcode, const char *fmt,...)
{
	va_list		args;
	char		buf[1024];
	MemoryContext oldcxt;

	va_start(args, fmt);
	vsnprintf(buf, sizeof(buf), fmt, args);
	va_end(args);

	oldcxt = MemoryContextSwitchTo(rp->run->cxt);
	rp->fatal = palloc0(sizeof(ErrorData));
	rp->fatal->sqlerrcode = sqlerrcode;
	rp->fatal->message = pstrdup(buf);
	MemoryContextSwitchTo(oldcxt);

	ereport(ERROR, (errcode(sqlerrcode), errmsg("%s", buf)));
}

/* ----------------------------------------------------------------------
 * For the executor
 * ----------------------------------------------------------------------
 */

/* The handler's proconfig (ALTER FUNCTION ... SET), in the run's memory */
static ArrayType *
handler_config(RunState *run)
{
	HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(run->handler));
	ArrayType  *config = NULL;
	bool		isnull;
	Datum		d;

	if (!HeapTupleIsValid(tup))
		return NULL;
	d = SysCacheGetAttr(PROCOID, tup, Anum_pg_proc_proconfig, &isnull);
	if (!isnull)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(run->cxt);

		config = DatumGetArrayTypePCopy(d);
		MemoryContextSwitchTo(oldcxt);
	}
	ReleaseSysCache(tup);
	return config;
}

/*
 * The handler side of run (whose handler, owner and search_path are set),
 * which becomes the run this backend drives until replay_end().
 */
Replay *
replay_begin(RunState *run)
{
	Replay	   *rp = MemoryContextAllocZero(run->cxt, sizeof(Replay));
	HASHCTL		ctl;

	Assert(current == NULL);
	rp->run = run;
	rp->invoke_cxt = AllocSetContextCreate(run->cxt, "inngest invocation",
										   ALLOCSET_DEFAULT_SIZES);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = INNGEST_KEY_SIZE;
	ctl.entrysize = sizeof(MemoEntry);
	ctl.hcxt = run->cxt;
	rp->memo = hash_create("inngest memo", 16, &ctl,
						   HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	fmgr_info_cxt(run->handler, &rp->flinfo, run->cxt);
	rp->handler_config = handler_config(run);
	current = rp;
	return rp;
}

/* The drive ends (its memory goes with the run's context) */
void
replay_end(void)
{
	current = NULL;
}

/* Whether this backend is driving a run (tick() must not nest in one) */
bool
replay_in_progress(void)
{
	return current != NULL;
}

/* Remember a completed step's output for the replays that follow */
void
replay_remember(Replay *rp, const char *key, Jsonb *output)
{
	MemoEntry  *m = hash_search(rp->memo, key, HASH_ENTER, NULL);

	m->output = output;
}

/* Load the outputs of the run's completed steps */
void
replay_load_memo(Replay *rp)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(rp->run->cxt);
	List	   *rows = memo_load(rp->run->run_id);
	ListCell   *lc;

	MemoryContextSwitchTo(oldcxt);
	foreach(lc, rows)
	{
		MemoRow    *row = lfirst(lc);
		char		key[INNGEST_KEY_SIZE];

		strlcpy(key, row->step_id, sizeof(key));
		replay_remember(rp, key, row->output);
		rp->run->nsteps++;
	}
}

/* The per-invocation state: step-id occurrence counts, the pending step */
static void
reset_invocation(Replay *rp)
{
	HASHCTL		ctl;

	MemoryContextReset(rp->invoke_cxt);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = INNGEST_KEY_SIZE;
	ctl.entrysize = sizeof(SeenEntry);
	ctl.hcxt = rp->invoke_cxt;
	rp->seen = hash_create("inngest step ids", 16, &ctl,
						   HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	rp->discovered = false;
	memset(&rp->pending, 0, sizeof(rp->pending));
}

/*
 * Call the handler once, in a subtransaction, as the function's owner.
 * The subtransaction is kept only if the handler returned without reaching
 * a new step: then its writes commit with the run's completion.
 */
InvokeResult
replay_invoke(Replay *rp, Jsonb **output, ErrorData **edata)
{
	RunState   *run = rp->run;
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	Oid			save_userid;
	int			save_sec;
	ErrorContextCallback *save_context;
	InvokeResult result;

	reset_invocation(rp);
	GetUserIdAndSecContext(&save_userid, &save_sec);
	save_context = error_context_stack;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);

	PG_TRY();
	{
		LOCAL_FCINFO(fcinfo, 1);
		Datum		retval;
		int			nestlevel;

		SetUserIdAndSecContext(run->owner,
							   save_sec | SECURITY_LOCAL_USERID_CHANGE |
							   SECURITY_RESTRICTED_OPERATION);
		/* what the handler sets is undone when it returns */
		nestlevel = inngest_begin_user_code();
		(void) inngest_push_search_path(run->search_path);
		PushActiveSnapshot(GetTransactionSnapshot());

		InitFunctionCallInfoData(*fcinfo, &rp->flinfo, 1, InvalidOid, NULL, NULL);
		fcinfo->args[0].value = JsonbPGetDatum(run->event);
		fcinfo->args[0].isnull = false;

		/*
		 * The handler's errors carry its own context lines only, never
		 * those of whoever drives the run (tick()'s caller's code): the
		 * stack is restored after it, and by PG_CATCH on an error.
		 */
		rp->in_handler = true;
		error_context_stack = NULL;
		retval = FunctionCallInvoke(fcinfo);
		error_context_stack = save_context;
		rp->in_handler = false;

		PopActiveSnapshot();
		inngest_end_user_code(nestlevel);
		SetUserIdAndSecContext(save_userid, save_sec);

		if (rp->discovered)
		{
			/* the handler swallowed the signal: undo it all the same */
			RollbackAndReleaseCurrentSubTransaction();
			result = INVOKE_STEP;
		}
		else
		{
			*output = NULL;
			if (!fcinfo->isnull)
			{
				Jsonb	   *j = DatumGetJsonbP(retval);

				*output = MemoryContextAlloc(run->cxt, VARSIZE(j));
				memcpy(*output, j, VARSIZE(j));
			}
			ReleaseCurrentSubTransaction();
			result = INVOKE_COMPLETED;
		}
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *ed;

		rp->in_handler = false;
		MemoryContextSwitchTo(run->cxt);
		ed = CopyErrorData();
		FlushErrorState();

		/* also restores the user id and pops the snapshot */
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;

		if (rp->discovered)
			result = INVOKE_STEP;
		else
		{
			*edata = ed;
			result = INVOKE_ERROR;
		}
	}
	PG_END_TRY();

	return result;
}
