/*-------------------------------------------------------------------------
 *
 * catalog.h
 *	  Function definitions: storing them, and the backend-local cache the
 *	  hot paths read.
 *
 *-------------------------------------------------------------------------
 */
#ifndef INNGEST_CATALOG_H
#define INNGEST_CATALOG_H

#include "inngest.h"

#include "nodes/pg_list.h"
#include "utils/jsonb.h"
#include "utils/jsonpath.h"

#include "config.h"

/* One event trigger of a function */
typedef struct InngestTrigger
{
	InngestFunction *function;
	JsonPath   *condition;		/* compiled "if", or NULL */
} InngestTrigger;

/*
 * The cache is rebuilt only by catalog_refresh(); an invalidation merely
 * marks it stale.  Pointers returned by the lookups stay valid until the
 * end of the transaction, whatever is rebuilt meanwhile.
 */
extern void catalog_refresh(void);
extern InngestFunction *catalog_lookup_function(const char *id);
extern List *catalog_event_triggers(const char *name, int len);

extern bool catalog_lock_extension(void);
extern char *catalog_create_function(Jsonb *config, Oid handler);
extern void catalog_delete_function(const char *id);
extern bool catalog_may_act_as_owner(Oid caller, Oid owner);
extern bool catalog_may_invoke(Oid role, InngestFunction *fn);

extern List *catalog_functions_owned_by(Oid role, int max, int64 *total);
extern uint64 catalog_reassign_functions(List *roles, Oid new_owner);
extern List *catalog_drop_functions_owned(List *roles);

#endif							/* INNGEST_CATALOG_H */
