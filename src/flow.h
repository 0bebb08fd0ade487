/*-------------------------------------------------------------------------
 *
 * flow.h
 *	  Flow control: Inngest's concurrency, throttle, rateLimit, debounce,
 *	  batchEvents, priority, idempotency and singleton keys.
 *
 * flow.c parses the configuration and decides, when an event arrives,
 * whether and when a run starts (admission); slots.c enforces concurrency
 * limits while runs execute.
 *
 *-------------------------------------------------------------------------
 */
#ifndef INNGEST_FLOW_H
#define INNGEST_FLOW_H

#include "inngest.h"

#include "catalog.h"
#include "expr.h"

#define FLOW_MAX_CONCURRENCY	2	/* entries of "concurrency" */
#define FLOW_MAX_LIMIT			1000	/* a concurrency limit */
#define FLOW_MAX_PRIORITY		600 /* seconds, either way */

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

/* flow.c */
extern FlowConfig *flow_parse_config(Jsonb *config, bool has_cancel_on);
extern int64 flow_admit(InngestFunction *fn, Jsonb *event);
extern Jsonb *flow_key_event(InngestFunction *fn, Jsonb *event);
extern void flow_cleanup(void);

/* slots.c: concurrency limits */
struct RunState;
extern bool slots_enter(struct RunState *run, InngestFunction *fn, bool fresh);
extern void slots_release(struct RunState *run);
extern bool slots_begin_transaction(void);
extern int	slots_promote(bool consume);
extern void slots_ingest_begin(void);
extern char *slots_ingest_park(InngestFunction *fn, Jsonb *event);

#endif							/* INNGEST_FLOW_H */
