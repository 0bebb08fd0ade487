/*-------------------------------------------------------------------------
 *
 * expr.h
 *	  Inngest expressions (a CEL subset) compiled to PostgreSQL jsonpath.
 *
 *-------------------------------------------------------------------------
 */
#ifndef INNGEST_EXPR_H
#define INNGEST_EXPR_H

#include "nodes/pg_list.h"
#include "utils/array.h"
#include "utils/jsonb.h"
#include "utils/jsonpath.h"

/* Where an expression is evaluated decides what "event" and "async" mean */
typedef enum ExprScope
{
	EXPR_SCOPE_EVENT,			/* only "event", the incoming event: $ */
	EXPR_SCOPE_ASYNC			/* "event" = $event (a variable), "async" = $ */
} ExprScope;

/* A compiled value expression (flow-control keys, priorities) */
typedef enum ExprValueKind
{
	EXPR_VALUE_PATH,			/* one jsonpath value */
	EXPR_VALUE_CONCAT,			/* string concatenation of parts */
	EXPR_VALUE_COND				/* cond ? then_value : else_value */
} ExprValueKind;

typedef struct ExprValue
{
	ExprValueKind kind;
	JsonPath   *path;			/* PATH: the value; COND: the condition */
	List	   *parts;			/* CONCAT: ExprValue list */
	struct ExprValue *then_value;
	struct ExprValue *else_value;
} ExprValue;

extern char *expr_to_jsonpath(const char *expr, ExprScope scope,
							  const char *key);
extern JsonPath *expr_compile(const char *expr, ExprScope scope,
							  const char *key);
extern bool expr_match(JsonPath *path, Jsonb *target, Jsonb *vars);
extern ExprValue *expr_compile_value(const char *expr, const char *key);
extern Jsonb *expr_eval_value(ExprValue *v, Jsonb *target);
extern char *expr_eval_key(ExprValue *v, Jsonb *target);

extern bool expr_valid_match(const char *match);
extern ArrayType *expr_compile_match(const char *match, const char *key);

#endif							/* INNGEST_EXPR_H */
