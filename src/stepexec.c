/*-------------------------------------------------------------------------
 *
 * stepexec.c
 *	  Running one step: the pending step's query (or the event it sends),
 *	  in a subtransaction of its own, as the function's owner.
 *
 * The handler reached a new step and was rolled back (replay.c); the
 * executor runs the step here, outside the handler, and records its memo
 * in the same transaction as the step's writes (lifecycle.c), so that
 * both commit together, once.  A failed step is rolled back alone.
 *
 * A step query is prepared once per backend: functions run the same steps
 * run after run, so the plans are kept by query text, argument types and
 * search_path.
 *
 *-------------------------------------------------------------------------
 */
#include "inngest.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "utils/plancache.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/memutils.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"
#include "utils/timeout.h"

#include "events.h"
#include "guc.h"
#include "replay.h"
#include "security.h"
#include "stepexec.h"

/*
 * Prepared plans of step queries, so that a function's steps are parsed and
 * planned once per backend, not once per run.  Keyed by a hash of the
 * query, its argument types and the search_path it resolves names with;
 * the entry keeps them to rule out collisions.  PostgreSQL's plan cache
 * revalidates each plan when what it depends on changes, and permissions
 * are checked at every execution, as the role running the step.
 */
typedef struct StepPlan
{
	uint64		hash;			/* hash key */
	char	   *query;
	char	   *search_path;
	int			nargs;
	Oid		   *argtypes;
	SPIPlanPtr	plan;
} StepPlan;

#define STEP_PLAN_CACHE_SIZE 1024


static HTAB *step_plans = NULL;
static MemoryContext step_plan_cxt = NULL;

static Jsonb *value_to_jsonb(Datum value, Oid typid);

/*
 * The step timer.  A step runs with a time limit: the handler's
 * statement_timeout (SPI statements get no statement timer of their own),
 * the run's timeouts.finish, and in a batch of runs sharing a transaction,
 * what is left of the batch's time.  The one that comes first is armed;
 * when it fires, the step is cancelled like a statement (SQLSTATE 57014)
 * and the reason tells the caller what to do.
 */
static TimeoutId step_timeout_id = MAX_TIMEOUTS;
static volatile sig_atomic_t step_timer_fired = false;
static StepResult step_timer_reason = STEP_DONE;
static int	step_timer_ms = 0;

static void
step_timeout_handler(void)
{
	step_timer_fired = true;
	QueryCancelPending = true;
	InterruptPending = true;
	SetLatch(MyLatch);
}

/*
 * Arm the step timer for the earliest of: the current statement_timeout,
 * the run's deadline, the batch's end (0: none of them).
 */
static void
arm_step_timer(TimestampTz deadline, TimestampTz batch_end)
{
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz fire = 0;

	step_timer_reason = STEP_DONE;
	step_timer_fired = false;
	if (StatementTimeout > 0)
	{
		fire = now + (int64) StatementTimeout * 1000;
		step_timer_reason = STEP_FAILED;
		step_timer_ms = StatementTimeout;
	}
	if (deadline != 0 && (fire == 0 || deadline < fire))
	{
		fire = deadline;
		step_timer_reason = STEP_OVER_DEADLINE;
	}
	if (batch_end != 0 && (fire == 0 || batch_end < fire))
	{
		fire = batch_end;
		step_timer_reason = STEP_OVER_BUDGET;
	}
	if (fire == 0)
		return;
	if (step_timeout_id == MAX_TIMEOUTS)
		step_timeout_id = RegisterTimeout(USER_TIMEOUT, step_timeout_handler);
	enable_timeout_at(step_timeout_id, Max(fire, now + 1000));
}

/* Disarm it; a cancel it raised too late to stop the step is forgotten */
static void
disarm_step_timer(void)
{
	if (step_timeout_id != MAX_TIMEOUTS)
		disable_timeout(step_timeout_id, false);
	if (step_timer_fired)
		QueryCancelPending = false;
}

/*
 * The handler's own settings (ALTER FUNCTION ... SET), which PostgreSQL
 * applies while the handler runs, apply to its steps too.
 */
static void
apply_handler_config(Replay *rp)
{
	if (rp->handler_config != NULL)
		ProcessGUCArray(rp->handler_config,
						superuser_arg(rp->run->owner) ? PGC_SUSET : PGC_USERSET,
						PGC_S_SESSION, GUC_ACTION_SAVE);
}

/* The hash of what makes a step query's plan reusable */
static uint64
step_plan_hash(PendingStep *step)
{
	uint64		h;

	h = hash_bytes_extended((const unsigned char *) step->query,
							strlen(step->query), 0);
	h ^= hash_bytes_extended((const unsigned char *) step->search_path,
							 strlen(step->search_path), 1);
	if (step->nargs > 0)
		h ^= hash_bytes_extended((const unsigned char *) step->argtypes,
								 sizeof(Oid) * step->nargs, 2);
	return h;
}

static bool
max_param_walker(Node *node, int *max)
{
	if (node == NULL)
		return false;
	if (IsA(node, Param))
	{
		Param	   *param = (Param *) node;

		if (param->paramkind == PARAM_EXTERN && param->paramid > *max)
			*max = param->paramid;
		return false;
	}
	if (IsA(node, Query))
		return query_tree_walker((Query *) node, max_param_walker, max, 0);
	return expression_tree_walker(node, max_param_walker, max);
}

/*
 * A step passes arguments its query never uses ($1 .. $n, as PREPARE and
 * EXECUTE count them): an error, like EXECUTE with too many parameters,
 * rather than a silent mistake.  A utility statement (CALL) is not looked
 * into.
 */
static void
check_arguments(PendingStep *step, SPIPlanPtr plan)
{
	ListCell   *lc;
	int			max = 0;

	foreach(lc, SPI_plan_get_plan_sources(plan))
	{
		CachedPlanSource *source = lfirst(lc);
		ListCell   *lq;

		foreach(lq, source->query_list)
		{
			Query	   *query = lfirst(lq);

			if (query->commandType == CMD_UTILITY)
				return;
			(void) max_param_walker((Node *) query, &max);
		}
	}
	if (step->nargs > max)
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("step \"%s\" passes %d arguments, but its query uses %d",
						step->key, step->nargs, max),
				 errhint("Refer to every argument as $1, $2, ... in the query, or pass fewer.")));
}

/* Prepare the pending step's query (errors of preparation are the step's) */
static SPIPlanPtr
prepare_step(PendingStep *step)
{
	SPIPlanPtr	plan = SPI_prepare(step->query, step->nargs, step->argtypes);

	if (plan == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not prepare the query of step \"%s\": %s",
						step->key, SPI_result_code_string(SPI_result))));
	check_arguments(step, plan);
	return plan;
}

/*
 * The plan of the pending step's query: the cached one, prepared now if
 * need be; or, when a different query collides with it in the cache, one
 * prepared for this execution only (*kept false: the caller frees it).
 */
static SPIPlanPtr
step_plan(PendingStep *step, bool *kept)
{
	uint64		hash = step_plan_hash(step);
	StepPlan   *entry;
	bool		found;
	SPIPlanPtr	plan;
	MemoryContext oldcxt;

	if (step_plans == NULL || hash_get_num_entries(step_plans) >= STEP_PLAN_CACHE_SIZE)
	{
		HASHCTL		ctl;

		/* start over: free every kept plan */
		if (step_plans != NULL)
		{
			HASH_SEQ_STATUS status;

			hash_seq_init(&status, step_plans);
			while ((entry = hash_seq_search(&status)) != NULL)
				SPI_freeplan(entry->plan);
			MemoryContextDelete(step_plan_cxt);
		}
		step_plan_cxt = AllocSetContextCreate(TopMemoryContext,
											  "inngest step plans",
											  ALLOCSET_DEFAULT_SIZES);
		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(uint64);
		ctl.entrysize = sizeof(StepPlan);
		ctl.hcxt = step_plan_cxt;
		step_plans = hash_create("inngest step plans", 64, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}

	*kept = true;
	entry = hash_search(step_plans, &hash, HASH_FIND, &found);
	if (found)
	{
		if (strcmp(entry->query, step->query) == 0 &&
			strcmp(entry->search_path, step->search_path) == 0 &&
			entry->nargs == step->nargs &&
			memcmp(entry->argtypes, step->argtypes, sizeof(Oid) * step->nargs) == 0)
			return entry->plan;
		*kept = false;
		return prepare_step(step);
	}

	plan = prepare_step(step);
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");

	entry = hash_search(step_plans, &hash, HASH_ENTER, &found);
	oldcxt = MemoryContextSwitchTo(step_plan_cxt);
	entry->query = pstrdup(step->query);
	entry->search_path = pstrdup(step->search_path);
	entry->nargs = step->nargs;
	entry->argtypes = palloc(sizeof(Oid) * (step->nargs + 1));
	memcpy(entry->argtypes, step->argtypes, sizeof(Oid) * step->nargs);
	entry->plan = plan;
	MemoryContextSwitchTo(oldcxt);
	return plan;
}

/* The step's output as jsonb, checked against the size limit */
static Jsonb *
step_output(PendingStep *step, Datum value, Oid typid, MemoryContext cxt)
{
	Jsonb	   *j = value_to_jsonb(value, typid);
	Jsonb	   *copy;

	if (VARSIZE(j) > (Size) inngest_max_step_output_size * 1024)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("output of step \"%s\" is too large (%zu bytes)",
						step->key, (Size) VARSIZE(j)),
				 errdetail("The limit is inngest.max_step_output_size = %d kB.",
						   inngest_max_step_output_size)));
	copy = MemoryContextAlloc(cxt, VARSIZE(j));
	memcpy(copy, j, VARSIZE(j));
	return copy;
}

/*
 * STEP_RUN: execute the query as the function's owner, with the handler's
 * search_path; the first column of the first row of its last statement's
 * result is the output.
 */
static Jsonb *
run_query_step(Replay *rp, Oid save_sec, TimestampTz batch_end)
{
	PendingStep *step = &rp->pending;
	int			ret;
	int			conflevel;
	ErrorContextCallback *save_context;
	SPIPlanPtr	plan;
	bool		kept;
	Jsonb	   *result = NULL;

	SetUserIdAndSecContext(rp->run->owner,
						   save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	/* what the step sets (and the handler's SET clauses) is undone after it */
	conflevel = inngest_begin_user_code();
	apply_handler_config(rp);
	(void) inngest_push_search_path(step->search_path);

	rp->in_step = true;
	plan = step_plan(step, &kept);
	arm_step_timer(rp->run->deadline, batch_end);
	/* the step's errors carry its own context only (see replay_invoke) */
	save_context = error_context_stack;
	error_context_stack = NULL;
	ret = SPI_execute_plan(plan, step->args, step->argnulls, false, 0);
	error_context_stack = save_context;
	disarm_step_timer();
	if (!kept)
		SPI_freeplan(plan);
	rp->in_step = false;
	if (ret == SPI_ERROR_TRANSACTION)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_TERMINATION),
				 errmsg("step \"%s\" cannot commit or roll back", step->key),
				 errdetail("A step's writes commit with its checkpoint, in the executor's transaction."),
				 errhint("Remove COMMIT, ROLLBACK and transaction control from the step's query.")));
	if (ret == SPI_ERROR_COPY)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("step \"%s\" cannot copy to or from the client", step->key)));
	if (ret < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("step query failed: %s", SPI_result_code_string(ret))));

	if (SPI_tuptable != NULL && SPI_processed > 0)
	{
		bool		isnull;
		Datum		value = SPI_getbinval(SPI_tuptable->vals[0],
										  SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			result = step_output(step, value,
								 SPI_gettypeid(SPI_tuptable->tupdesc, 1), rp->run->cxt);
	}
	if (SPI_tuptable != NULL)
		SPI_freetuptable(SPI_tuptable);
	inngest_end_user_code(conflevel);
	return result;
}

/*
 * STEP_SEND: insert the event, if the run's role may insert events (then
 * as the extension owner, which stores it and fans it out); the output is
 * Inngest's {"ids": [...]}.
 */
static Jsonb *
send_event_step(Replay *rp, Oid save_sec)
{
	PendingStep *step = &rp->pending;
	JsonbParseState *state = NULL;
	JsonbValue	v;
	int64		seq;
	char	   *id;
	Jsonb	   *result;

	/* with the INSERT right of the run's role, as its own INSERT would */
	events_check_sender(rp->run->owner, step->event_name, rp->run->function_id);
	SetUserIdAndSecContext(inngest_schema_owner(),
						   save_sec | SECURITY_LOCAL_USERID_CHANGE);
	seq = events_publish(step->event_name, step->event_data, rp->run->depth + 1);

	id = psprintf(INT64_FORMAT, seq);
	(void) pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	v.type = jbvString;
	v.val.string.val = "ids";
	v.val.string.len = 3;
	(void) pushJsonbValue(&state, WJB_KEY, &v);
	(void) pushJsonbValue(&state, WJB_BEGIN_ARRAY, NULL);
	v.val.string.val = id;
	v.val.string.len = strlen(id);
	(void) pushJsonbValue(&state, WJB_ELEM, &v);
	(void) pushJsonbValue(&state, WJB_END_ARRAY, NULL);
	result = JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL));
	return step_output(step, JsonbPGetDatum(result), JSONBOID, rp->run->cxt);
}

/*
 * Run the pending step (a query, or an event to send) in a subtransaction
 * of its own, stopped at batch_end (0: no batch) or at the run's deadline
 * if it is still running then.  STEP_DONE: *output is its output, which
 * the caller records in the same transaction as the step's writes.
 * Otherwise the step has been rolled back: STEP_FAILED with *edata (its
 * statement_timeout among the reasons), STEP_OVER_DEADLINE (the run's
 * time is up), STEP_OVER_BUDGET (the batch's time is up: commit the other
 * runs and run the step again).
 */
StepResult
stepexec_run(Replay *rp, TimestampTz batch_end, Jsonb **output,
			 ErrorData **edata)
{
	PendingStep *step = &rp->pending;
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	Oid			save_userid;
	int			save_sec;
	volatile StepResult outcome = STEP_DONE;
	Jsonb	   *volatile result = NULL;

	GetUserIdAndSecContext(&save_userid, &save_sec);

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);

	PG_TRY();
	{
		PushActiveSnapshot(GetTransactionSnapshot());
		if (step->kind == STEP_SEND)
			result = send_event_step(rp, save_sec);
		else
			result = run_query_step(rp, save_sec, batch_end);
		PopActiveSnapshot();
		SetUserIdAndSecContext(save_userid, save_sec);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		bool		stopped;

		disarm_step_timer();
		rp->in_step = false;
		MemoryContextSwitchTo(rp->run->cxt);
		*edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;

		stopped = step_timer_fired && (*edata)->sqlerrcode == ERRCODE_QUERY_CANCELED;
		outcome = stopped ? step_timer_reason : STEP_FAILED;
		if (stopped && outcome == STEP_FAILED)
		{
			MemoryContext ecxt = MemoryContextSwitchTo(rp->run->cxt);

			(*edata)->message = psprintf("step \"%s\" was stopped by statement_timeout (%d ms)",
										 step->key, step_timer_ms);
			MemoryContextSwitchTo(ecxt);
		}
	}
	PG_END_TRY();
	step_timer_fired = false;

	if (outcome == STEP_DONE)
		*output = result;
	return outcome;
}

/*
 * Convert any SQL value to jsonb as to_jsonb() would.  to_jsonb looks up
 * its argument's type in the call expression, so we give it one.
 */
static Jsonb *
value_to_jsonb(Datum value, Oid typid)
{
	FmgrInfo	flinfo;
	FuncExpr   *expr;

	if (typid == JSONBOID)
		return DatumGetJsonbP(value);

	fmgr_info(F_TO_JSONB, &flinfo);
	expr = makeFuncExpr(F_TO_JSONB, JSONBOID,
						list_make1(makeNullConst(typid, -1, InvalidOid)),
						InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
	flinfo.fn_expr = (Node *) expr;
	return DatumGetJsonbP(FunctionCall1(&flinfo, value));
}
