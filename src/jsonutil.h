/*-------------------------------------------------------------------------
 *
 * jsonutil.h
 *	  Building jsonb in C: objects key by key, events, errors.
 *
 *-------------------------------------------------------------------------
 */
#ifndef INNGEST_JSONUTIL_H
#define INNGEST_JSONUTIL_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "utils/jsonb.h"

extern void jsonb_push_string(JsonbParseState **state, const char *key,
							  const char *value, int len);
extern void jsonb_push_int64(JsonbParseState **state, const char *key,
							 int64 value);
extern void jsonb_push_jsonb(JsonbParseState **state, const char *key,
							 Jsonb *value);

extern int64 inngest_unix_ms(TimestampTz t);
extern Jsonb *jsonb_event(const char *name, int namelen, Jsonb *data,
						  const char *id, int idlen, TimestampTz ts);
extern Jsonb *jsonb_error(ErrorData *edata);
extern Jsonb *jsonb_error_message(int sqlerrcode, const char *message);
extern char *inngest_clip(const char *text, int maxbytes);

#endif							/* INNGEST_JSONUTIL_H */
