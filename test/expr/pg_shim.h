/*-------------------------------------------------------------------------
 *
 * pg_shim.h
 *	  Stand-ins for the few PostgreSQL backend functions that the expression
 *	  compiler (src/expr.c) calls, so that it can run outside a server: in
 *	  the libFuzzer target test/expr/expr_fuzz.c.
 *
 * src/expr.c is compiled unchanged, against PostgreSQL's own headers; only
 * the functions behind them are replaced (pg_shim.c):
 *
 *	- palloc and friends allocate with malloc and remember every chunk; one
 *	  shim_reset() frees them all, as a memory context reset would.  pfree
 *	  and repalloc really free, so that AddressSanitizer sees any use after.
 *	- StringInfo and List are reimplemented on top of palloc.
 *	- ereport(ERROR) (errstart_cold ... errfinish) records the error and
 *	  longjmps to the innermost PG_TRY(), exactly as in the server;
 *	  CopyErrorData and FlushErrorState work on that record.
 *	- check_stack_depth() raises "stack depth limit exceeded" (SQLSTATE
 *	  54001) once the stack has grown shim_set_stack()'s limit below the
 *	  base it was given.
 *	- the jsonb evaluation functions that expr.c also references abort():
 *	  the fuzz target compiles expressions, it never evaluates one.
 *
 * jsonpath_in, PostgreSQL's jsonpath parser, is not here: the fuzz target
 * defines its own stand-in, which checks what the compiler produced.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_SHIM_H
#define PG_SHIM_H

#include "postgres.h"

/* The C library's printf family here, not PostgreSQL's (port.h) */
#undef fprintf
#undef snprintf
#undef vfprintf
#undef vsnprintf

/* Free everything palloc'd since the last reset (and any pending error) */
extern void shim_reset(void);

/* The most bytes allocated at once (palloc'd, not pfree'd) since the reset */
extern size_t shim_peak_allocated(void);

/*
 * check_stack_depth() fails once the stack is more than limit bytes below
 * base (the address of a local variable of the outermost frame).
 */
extern void shim_set_stack(const char *base, size_t limit);

#endif							/* PG_SHIM_H */
