/*-------------------------------------------------------------------------
 *
 * catalog.h
 *	  Function definitions: validation of create_function's configuration
 *	  and the backend-local cache the hot paths read.
 *
 *-------------------------------------------------------------------------
 */
#ifndef INNGEST_CATALOG_H
#define INNGEST_CATALOG_H

#include "inngest.h"

#include "datatype/timestamp.h"
#include "nodes/pg_list.h"
#include "utils/array.h"
#include "utils/jsonb.h"
#include "utils/jsonpath.h"

/* One cancelOn rule: an event that cancels the run */
typedef struct CancelRule
{
	char	   *event;
	ArrayType  *match_path;		/* "match", or NULL */
	JsonPath   *condition;		/* "if", or NULL */
	Interval   *timeout;		/* how long the rule applies, or NULL */
} CancelRule;

struct FlowConfig;

/* A function definition, as the executor needs it */
typedef struct InngestFunction
{
	char		id[INNGEST_KEY_SIZE];	/* hash key */
	Oid			handler;
	Oid			owner;
	int			retries;
	char	   *search_path;	/* handlers and steps run with it */
	List	   *cancel_on;		/* CancelRule list */
	Interval   *timeout_start;	/* timeouts.start, or NULL */
	Interval   *timeout_finish; /* timeouts.finish, or NULL */
	struct FlowConfig *flow;	/* flow control (flow.h), or NULL */
} InngestFunction;

/* One event trigger of a function */
typedef struct InngestTrigger
{
	InngestFunction *function;
	JsonPath   *condition;		/* compiled "if", or NULL */
} InngestTrigger;

/*
 * The cache is rebuilt only by catalog_refresh(); an invalidation merely
 * marks it stale.  So pointers returned by the lookups stay valid until the
 * caller's next catalog_refresh().
 */
extern void catalog_refresh(void);
extern InngestFunction *catalog_lookup_function(const char *id);
extern List *catalog_event_triggers(const char *name, int len);
extern void catalog_invalidate(void);

/* Helpers for parsing configuration keys, shared with flow.c */
extern bool config_get_key(JsonbContainer *obj, const char *key, JsonbValue *out);
extern void config_wrong_type(const char *key, const char *expected,
							  JsonbValue *v) pg_attribute_noreturn();
extern void config_unknown_key(const char *key, const char *hint)
			pg_attribute_noreturn();
extern Interval *config_parse_duration(JsonbValue *v, const char *key);

extern char *catalog_create_function(Jsonb *config, Oid handler);
extern void catalog_delete_function(const char *id);

#endif							/* INNGEST_CATALOG_H */
