/*-------------------------------------------------------------------------
 *
 * jsonutil.h
 *	  Small helpers to build jsonb objects in C, and to keep SPI plans.
 *
 *-------------------------------------------------------------------------
 */
#ifndef INNGEST_JSONUTIL_H
#define INNGEST_JSONUTIL_H

#include "executor/spi.h"
#include "utils/jsonb.h"

extern void jsonb_push_string(JsonbParseState **state, const char *key,
							  const char *value, int len);
extern void jsonb_push_int64(JsonbParseState **state, const char *key,
							 int64 value);
extern void jsonb_push_jsonb(JsonbParseState **state, const char *key,
							 Jsonb *value);

extern SPIPlanPtr inngest_keep_plan(SPIPlanPtr *slot, const char *sql,
									int nargs, const Oid *types);

extern uint64 inngest_run_plan(SPIPlanPtr *slot, const char *sql, int nargs,
							   const Oid *types, Datum *values,
							   const char *nulls, int expected);

#endif							/* INNGEST_JSONUTIL_H */
