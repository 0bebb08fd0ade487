/*-------------------------------------------------------------------------
 *
 * api.h
 *	  Management functions of the SQL API: definitions, tick(), the clock,
 *	  and the run context a handler can ask for.
 *
 * The SQL-callable entry points are declared by PG_FUNCTION_INFO_V1 in
 * api.c; the owner helpers other subsystems use are in inngest.h.
 *
 *-------------------------------------------------------------------------
 */
#ifndef INNGEST_API_H
#define INNGEST_API_H

#include "fmgr.h"

extern Datum inngest_now(PG_FUNCTION_ARGS);
extern Datum inngest_create_function(PG_FUNCTION_ARGS);
extern Datum inngest_delete_function(PG_FUNCTION_ARGS);
extern Datum inngest_compile_expression(PG_FUNCTION_ARGS);
extern Datum inngest_tick(PG_FUNCTION_ARGS);
extern Datum inngest_run_id(PG_FUNCTION_ARGS);
extern Datum inngest_attempt(PG_FUNCTION_ARGS);
extern Datum inngest_cancel_run(PG_FUNCTION_ARGS);
extern Datum inngest_cancel_runs(PG_FUNCTION_ARGS);
extern Datum inngest_rerun(PG_FUNCTION_ARGS);

#endif							/* INNGEST_API_H */
