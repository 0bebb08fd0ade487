/*-------------------------------------------------------------------------
 *
 * config.h
 *	  The configuration of create_function: every key Inngest's
 *	  createFunction takes, parsed and validated in one place, and the
 *	  parsed form the rest of the extension reads.
 *
 *-------------------------------------------------------------------------
 */
#ifndef INNGEST_CONFIG_H
#define INNGEST_CONFIG_H

#include "inngest.h"

#include "datatype/timestamp.h"
#include "nodes/pg_list.h"
#include "utils/array.h"
#include "utils/jsonb.h"
#include "utils/jsonpath.h"

#include "expr.h"

#define FLOW_MAX_CONCURRENCY	2	/* entries of "concurrency" */
#define FLOW_MAX_LIMIT			1000	/* a concurrency limit */
#define FLOW_MAX_PRIORITY		600 /* seconds, either way */

/* One cancelOn rule: an event that cancels the run */
typedef struct CancelRule
{
	char	   *event;
	ArrayType  *match_path;		/* "match", or NULL */
	JsonPath   *condition;		/* "if", or NULL */
	Interval   *timeout;		/* how long the rule applies, or NULL */
} CancelRule;

/* One entry of "concurrency" */
typedef struct ConcurrencyLimit
{
	int			limit;			/* 1..FLOW_MAX_LIMIT */
	ExprValue  *key;			/* per key value; NULL: one limit */
	char	   *key_source;		/* the key expression as written */
	bool		env;			/* scope env: shared by every function
								 * using the same key expression */
	bool		run_mode;		/* "mode": "run": whole runs in flight */
} ConcurrencyLimit;

/* Flow control: concurrency, throttle, rateLimit, debounce, batchEvents... */
typedef struct FlowConfig
{
	int			nconcurrency;
	ConcurrencyLimit concurrency[FLOW_MAX_CONCURRENCY];

	int			throttle_limit; /* 0: no throttle */
	int			throttle_burst;
	int64		throttle_period;	/* microseconds */
	ExprValue  *throttle_key;

	int			rate_limit;		/* 0: no rateLimit */
	int64		rate_period;
	ExprValue  *rate_key;

	int64		debounce_period;	/* 0: no debounce */
	int64		debounce_timeout;	/* 0: none */
	ExprValue  *debounce_key;

	int			batch_max;		/* 0: no batchEvents */
	int64		batch_timeout;
	ExprValue  *batch_key;
	JsonPath   *batch_if;

	ExprValue  *priority;		/* priority.run, or NULL */
	ExprValue  *idempotency;	/* or NULL */

	ExprValue  *singleton_key;	/* NULL: no singleton */
	bool		singleton_cancel;	/* mode "cancel" (else "skip") */

	bool		admission;		/* anything to decide when an event arrives */
} FlowConfig;

/*
 * A function definition as runs need it: the stored row (handler, owner,
 * search_path) and its parsed options.  catalog.c caches one per function.
 */
typedef struct InngestFunction
{
	char		id[INNGEST_KEY_SIZE];	/* hash key */
	Oid			handler;
	Oid			owner;
	int			retries;
	char	   *search_path;	/* handlers and steps run with it */
	List	   *cancel_on;		/* CancelRule list */
	List	   *invokers;		/* role names (char *) that may invoke it */
	Interval   *timeout_start;	/* timeouts.start, or NULL */
	Interval   *timeout_finish; /* timeouts.finish, or NULL */
	FlowConfig *flow;			/* flow control, or NULL */
} InngestFunction;

/* One parsed trigger of a configuration */
typedef struct TriggerConfig
{
	char	   *cron;			/* a cron trigger's schedule, or NULL */
	char	   *event;
	char	   *expression;
	JsonPath   *condition;
} TriggerConfig;

/* What create_function stores besides the configuration itself */
typedef struct FunctionConfig
{
	char	   *id;
	char	   *name;
	int			retries;
	List	   *triggers;		/* TriggerConfig list */
	List	   *invokers;		/* "invokers": role names */
	bool		receives;		/* has event triggers or cancelOn rules */
} FunctionConfig;

extern bool config_inngest_duration(const char *text, int64 *usecs);
extern void config_parse(Jsonb *config, FunctionConfig *out);
extern void config_parse_run_options(Jsonb *config, InngestFunction *fn);

#endif							/* INNGEST_CONFIG_H */
