/*-------------------------------------------------------------------------
 *
 * steps.c
 *	  The step functions a handler calls: inngest.step_run(...).
 *
 * On replay a step call returns its memo.  The first time a step id is
 * reached it is not executed here, inside the handler: its query and
 * arguments are copied into the run's pending step and the handler is
 * interrupted, so that the executor can run it in a transaction of its
 * own, where its writes and its memo commit together (executor.c).
 *
 *-------------------------------------------------------------------------
 */
#include "inngest.h"

#include "funcapi.h"
#include "parser/parser.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "executor.h"
#include "steps.h"

PG_FUNCTION_INFO_V1(inngest_step_run);

/* The memo as the function result; a copy, the caller may free it */
static Datum
memo_result(FunctionCallInfo fcinfo, MemoEntry *memo)
{
	Jsonb	   *copy;

	if (memo->output == NULL)
		PG_RETURN_NULL();
	copy = palloc(VARSIZE(memo->output));
	memcpy(copy, memo->output, VARSIZE(memo->output));
	PG_RETURN_JSONB_P(copy);
}

/*
 * inngest.step_run(step_id text, query text [, VARIADIC args "any"])
 *
 * The query's first column of its first row, as jsonb (NULL if no row),
 * becomes the step's memoized output.  Arguments are bound as $1, $2, ...
 * never spliced into the SQL.
 */
Datum
inngest_step_run(PG_FUNCTION_ARGS)
{
	RunState   *run = executor_current_run("inngest.step_run()");
	char	   *key;
	MemoEntry  *memo;
	char	   *query;
	PendingStep *step;
	MemoryContext oldcxt;
	Datum	   *args = NULL;
	Oid		   *types = NULL;
	bool	   *nulls = NULL;
	int			nargs = 0;
	int			i;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("step id must not be null")));
	key = executor_step_key(run, text_to_cstring(PG_GETARG_TEXT_PP(0)));

	memo = executor_memo_lookup(run, key);
	if (memo != NULL)
		return memo_result(fcinfo, memo);

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("query of step \"%s\" must not be null", key)));
	query = text_to_cstring(PG_GETARG_TEXT_PP(1));

	/*
	 * A query that does not parse can never succeed: report it now, from
	 * the handler, as a syntax error, which fails the run without retries.
	 */
	(void) raw_parser(query, RAW_PARSE_DEFAULT);

	if (PG_NARGS() > 2)
	{
		nargs = extract_variadic_args(fcinfo, 2, true, &args, &types, &nulls);
		if (nargs < 0)
			nargs = 0;			/* VARIADIC NULL: no arguments */
	}

	/* copy everything the executor needs out of the handler's memory */
	oldcxt = MemoryContextSwitchTo(run->invoke_cxt);
	step = &run->pending;
	strlcpy(step->key, key, sizeof(step->key));
	step->kind = STEP_RUN;
	step->query = pstrdup(query);
	step->nargs = nargs;
	step->argtypes = palloc(sizeof(Oid) * (nargs + 1));
	step->args = palloc(sizeof(Datum) * (nargs + 1));
	step->argnulls = palloc(nargs + 1);
	for (i = 0; i < nargs; i++)
	{
		int16		typlen;
		bool		typbyval;

		step->argtypes[i] = types[i];
		step->argnulls[i] = nulls[i] ? 'n' : ' ';
		if (nulls[i])
			step->args[i] = (Datum) 0;
		else
		{
			get_typlenbyval(types[i], &typlen, &typbyval);
			step->args[i] = datumCopy(args[i], typbyval, typlen);
		}
	}
	step->argnulls[nargs] = '\0';
	step->search_path = pstrdup(GetConfigOption("search_path", false, false));
	MemoryContextSwitchTo(oldcxt);

	executor_discover(run);
}
