/*-------------------------------------------------------------------------
 *
 * expr.h
 *	  Inngest expressions (a CEL subset) compiled to PostgreSQL jsonpath.
 *
 *-------------------------------------------------------------------------
 */
#ifndef INNGEST_EXPR_H
#define INNGEST_EXPR_H

#include "utils/jsonb.h"
#include "utils/jsonpath.h"

/* Where an expression is evaluated decides what "event" and "async" mean */
typedef enum ExprScope
{
	EXPR_SCOPE_EVENT,			/* only "event", the incoming event: $ */
	EXPR_SCOPE_ASYNC			/* "event" = $event (a variable), "async" = $ */
} ExprScope;

extern char *expr_to_jsonpath(const char *expr, ExprScope scope,
							  const char *key);
extern JsonPath *expr_compile(const char *expr, ExprScope scope,
							  const char *key);
extern bool expr_match(JsonPath *path, Jsonb *target, Jsonb *vars);

#endif							/* INNGEST_EXPR_H */
