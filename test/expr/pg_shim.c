/*-------------------------------------------------------------------------
 *
 * pg_shim.c
 *	  Stand-ins for the PostgreSQL backend functions that src/expr.c calls,
 *	  for the libFuzzer target test/expr/expr_fuzz.c.  See pg_shim.h.
 *
 * Written for this test from PostgreSQL's documented interfaces (the
 * headers), not copied from its sources: only the behaviour the compiler
 * relies on is reproduced.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "pg_shim.h"

/* ----------------------------------------------------------------------
 * Memory: one arena, the chunks of a doubly linked ring
 * ----------------------------------------------------------------------
 */

typedef struct Chunk
{
	struct Chunk *prev;
	struct Chunk *next;
	size_t		size;
	size_t		pad;			/* the user's part stays 16-byte aligned */
} Chunk;

static Chunk arena = {&arena, &arena, 0, 0};
static size_t arena_bytes = 0;
static size_t arena_peak = 0;

MemoryContext CurrentMemoryContext = NULL;
MemoryContext TopMemoryContext = NULL;

static void
link_chunk(Chunk *c)
{
	c->prev = &arena;
	c->next = arena.next;
	arena.next->prev = c;
	arena.next = c;
	arena_bytes += c->size;
	if (arena_bytes > arena_peak)
		arena_peak = arena_bytes;
}

static void
unlink_chunk(Chunk *c)
{
	c->prev->next = c->next;
	c->next->prev = c->prev;
	arena_bytes -= c->size;
}

static void *
arena_alloc(Size size, bool zero)
{
	Chunk	   *c;

	if (!AllocSizeIsValid(size))
		elog(ERROR, "invalid memory alloc request size %zu", size);
	c = zero ? calloc(1, sizeof(Chunk) + size) : malloc(sizeof(Chunk) + size);
	if (c == NULL)
		elog(ERROR, "out of memory (%zu bytes)", size);
	c->size = size;
	link_chunk(c);
	return c + 1;
}

void *
palloc(Size size)
{
	return arena_alloc(size, false);
}

void *
palloc0(Size size)
{
	return arena_alloc(size, true);
}

void
pfree(void *pointer)
{
	Chunk	   *c = (Chunk *) pointer - 1;

	unlink_chunk(c);
	free(c);
}

void *
repalloc(void *pointer, Size size)
{
	Chunk	   *c = (Chunk *) pointer - 1;
	Chunk	   *moved;

	if (!AllocSizeIsValid(size))
		elog(ERROR, "invalid memory alloc request size %zu", size);
	unlink_chunk(c);
	moved = realloc(c, sizeof(Chunk) + size);
	if (moved == NULL)
	{
		link_chunk(c);
		elog(ERROR, "out of memory (%zu bytes)", size);
	}
	moved->size = size;
	link_chunk(moved);
	return moved + 1;
}

char *
pstrdup(const char *in)
{
	return pnstrdup(in, strlen(in));
}

char *
pnstrdup(const char *in, Size len)
{
	char	   *out;

	len = strnlen(in, len);
	out = palloc(len + 1);
	memcpy(out, in, len);
	out[len] = '\0';
	return out;
}

/* A palloc'd string formatted from fmt and ap */
static char *
format_va(const char *fmt, va_list ap)
{
	va_list		copy;
	int			n;
	char	   *out;

	va_copy(copy, ap);
	n = vsnprintf(NULL, 0, fmt, copy);
	va_end(copy);
	if (n < 0)
		abort();				/* a format the C library refuses */
	out = palloc((Size) n + 1);
	vsnprintf(out, (size_t) n + 1, fmt, ap);
	return out;
}

int
pg_snprintf(char *str, size_t count, const char *fmt,...)
{
	va_list		ap;
	int			n;

	va_start(ap, fmt);
	n = vsnprintf(str, count, fmt, ap);
	va_end(ap);
	return n;
}

/* ----------------------------------------------------------------------
 * StringInfo
 * ----------------------------------------------------------------------
 */

void
initStringInfo(StringInfo str)
{
	str->maxlen = 1024;
	str->data = palloc(str->maxlen);
	str->data[0] = '\0';
	str->len = 0;
	str->cursor = 0;
}

void
enlargeStringInfo(StringInfo str, int needed)
{
	Size		want;
	Size		newlen;

	if (needed < 0 || (Size) str->len + needed + 1 > MaxAllocSize)
		elog(ERROR, "string enlargement by %d bytes refused", needed);
	want = (Size) str->len + needed + 1;
	if (want <= (Size) str->maxlen)
		return;
	newlen = (Size) str->maxlen * 2;
	while (newlen < want)
		newlen *= 2;
	if (newlen > MaxAllocSize)
		newlen = MaxAllocSize;
	str->data = repalloc(str->data, newlen);
	str->maxlen = (int) newlen;
}

void
appendBinaryStringInfo(StringInfo str, const char *data, int datalen)
{
	enlargeStringInfo(str, datalen);
	memcpy(str->data + str->len, data, datalen);
	str->len += datalen;
	str->data[str->len] = '\0';
}

void
appendStringInfoString(StringInfo str, const char *s)
{
	appendBinaryStringInfo(str, s, (int) strlen(s));
}

void
appendStringInfoChar(StringInfo str, char ch)
{
	enlargeStringInfo(str, 1);
	str->data[str->len++] = ch;
	str->data[str->len] = '\0';
}

void
appendStringInfo(StringInfo str, const char *fmt,...)
{
	va_list		ap;
	va_list		copy;
	int			n;

	va_start(ap, fmt);
	va_copy(copy, ap);
	n = vsnprintf(NULL, 0, fmt, copy);
	va_end(copy);
	if (n < 0)
		abort();
	enlargeStringInfo(str, n);
	vsnprintf(str->data + str->len, str->maxlen - str->len, fmt, ap);
	va_end(ap);
	str->len += n;
}

/* ----------------------------------------------------------------------
 * List: the array-based List of pg_list.h (its inline functions read it)
 * ----------------------------------------------------------------------
 */

#define LIST_INITIAL_CELLS 4

List *
lappend(List *list, void *datum)
{
	if (list == NIL)
	{
		list = palloc(offsetof(List, initial_elements) +
					  LIST_INITIAL_CELLS * sizeof(ListCell));
		list->type = T_List;
		list->length = 0;
		list->max_length = LIST_INITIAL_CELLS;
		list->elements = list->initial_elements;
	}
	else if (list->length == list->max_length)
	{
		int			newmax = list->max_length * 2;
		ListCell   *cells = palloc(newmax * sizeof(ListCell));

		memcpy(cells, list->elements, list->length * sizeof(ListCell));
		if (list->elements != list->initial_elements)
			pfree(list->elements);
		list->elements = cells;
		list->max_length = newmax;
	}
	list->elements[list->length++].ptr_value = datum;
	return list;
}

/* ----------------------------------------------------------------------
 * Errors: ereport(ERROR) longjmps to the innermost PG_TRY()
 * ----------------------------------------------------------------------
 */

sigjmp_buf *PG_exception_stack = NULL;
ErrorContextCallback *error_context_stack = NULL;

static ErrorData error;			/* the error being built or thrown */
static bool error_pending = false;

bool
errstart(int elevel, const char *domain)
{
	if (elevel < ERROR)
		return false;			/* notices and the like: not reported */
	if (error_pending)
	{
		fprintf(stderr, "pg_shim: an error raised while one is pending (\"%s\")\n",
				error.message ? error.message : "");
		abort();
	}
	memset(&error, 0, sizeof(error));
	error.elevel = elevel;
	error.domain = domain;
	error.sqlerrcode = ERRCODE_INTERNAL_ERROR;
	error_pending = true;
	return true;
}

bool
errstart_cold(int elevel, const char *domain)
{
	return errstart(elevel, domain);
}

void
errfinish(const char *filename, int lineno, const char *funcname)
{
	error.filename = filename;
	error.lineno = lineno;
	error.funcname = funcname;
	pg_re_throw();
}

void
pg_re_throw(void)
{
	if (!error_pending || PG_exception_stack == NULL)
	{
		fprintf(stderr, "pg_shim: error outside PG_TRY: %s\n",
				error.message ? error.message : "(none)");
		abort();
	}
	siglongjmp(*PG_exception_stack, 1);
}

int
errcode(int sqlerrcode)
{
	error.sqlerrcode = sqlerrcode;
	return 0;
}

int
errmsg(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	error.message = format_va(fmt, ap);
	va_end(ap);
	return 0;
}

int
errmsg_internal(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	error.message = format_va(fmt, ap);
	va_end(ap);
	return 0;
}

int
errdetail(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	error.detail = format_va(fmt, ap);
	va_end(ap);
	return 0;
}

int
errhint(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	error.hint = format_va(fmt, ap);
	va_end(ap);
	return 0;
}

ErrorData *
CopyErrorData(void)
{
	ErrorData  *copy = palloc(sizeof(ErrorData));

	if (!error_pending)
		abort();
	memcpy(copy, &error, sizeof(ErrorData));
	if (error.message)
		copy->message = pstrdup(error.message);
	if (error.detail)
		copy->detail = pstrdup(error.detail);
	if (error.hint)
		copy->hint = pstrdup(error.hint);
	return copy;
}

/* Forget the pending error, freeing its strings as the server would */
void
FlushErrorState(void)
{
	if (error.message)
		pfree(error.message);
	if (error.detail)
		pfree(error.detail);
	if (error.hint)
		pfree(error.hint);
	memset(&error, 0, sizeof(error));
	error_pending = false;
}

/* Assert() failed (the fuzz target is built with USE_ASSERT_CHECKING) */
void
ExceptionalCondition(const char *conditionName, const char *errorType,
					 const char *fileName, int lineNumber)
{
	fprintf(stderr, "pg_shim: %s(\"%s\") failed at %s:%d\n",
			errorType ? errorType : "Assert", conditionName, fileName, lineNumber);
	abort();
}

/* ----------------------------------------------------------------------
 * Stack depth
 * ----------------------------------------------------------------------
 */

static const char *stack_base = NULL;
static size_t stack_limit = 0;

void
shim_set_stack(const char *base, size_t limit)
{
	stack_base = base;
	stack_limit = limit;
}

void
check_stack_depth(void)
{
	/* the real frame, even when ASan moves locals to a fake stack */
	const char *here = __builtin_frame_address(0);
	size_t		depth;

	if (stack_base == NULL)
		return;
	depth = here < stack_base ? stack_base - here : here - stack_base;
	if (depth > stack_limit)
		ereport(ERROR,
				(errcode(ERRCODE_STATEMENT_TOO_COMPLEX),
				 errmsg("stack depth limit exceeded")));
}

/* ----------------------------------------------------------------------
 * fmgr, varlena, arrays
 * ----------------------------------------------------------------------
 */

Datum
DirectFunctionCall1Coll(PGFunction func, Oid collation, Datum arg1)
{
	LOCAL_FCINFO(fcinfo, 1);
	Datum		result;

	InitFunctionCallInfoData(*fcinfo, NULL, 1, collation, NULL, NULL);
	fcinfo->args[0].value = arg1;
	fcinfo->args[0].isnull = false;
	result = (*func) (fcinfo);
	if (fcinfo->isnull)
		elog(ERROR, "function %p returned NULL", (void *) func);
	return result;
}

struct varlena *
pg_detoast_datum(struct varlena *datum)
{
	/* nothing here is ever compressed or out of line */
	if (VARATT_IS_EXTENDED(datum))
		abort();
	return datum;
}

text *
cstring_to_text_with_len(const char *s, int len)
{
	text	   *t = palloc(len + VARHDRSZ);

	SET_VARSIZE(t, len + VARHDRSZ);
	memcpy(VARDATA(t), s, len);
	return t;
}

/*
 * Only what expr_compile_match needs: a one-dimensional array of texts.
 * The result is a bare header; the elements are read, so that ASan checks
 * them, but not copied.
 */
static volatile unsigned sink;

ArrayType *
construct_array(Datum *elems, int nelems, Oid elmtype, int elmlen,
				bool elmbyval, char elmalign)
{
	ArrayType  *a;
	unsigned	sum = 0;
	int			i;

	if (nelems < 1 || elmlen != -1 || elmbyval)
		abort();
	for (i = 0; i < nelems; i++)
	{
		text	   *t = (text *) DatumGetPointer(elems[i]);
		const char *p = VARDATA_ANY(t);
		size_t		n = VARSIZE_ANY_EXHDR(t);

		while (n-- > 0)
			sum += (unsigned char) *p++;
	}
	sink += sum;
	a = palloc0(sizeof(ArrayType));
	SET_VARSIZE(a, sizeof(ArrayType));
	a->ndim = 1;
	a->elemtype = elmtype;
	return a;
}

/* ----------------------------------------------------------------------
 * Evaluation: referenced by expr.c, never called by the fuzz target
 * ----------------------------------------------------------------------
 */

static void
pg_attribute_noreturn()
not_fuzzed(const char *name)
{
	fprintf(stderr, "pg_shim: %s called, but the fuzz target only compiles\n",
			name);
	abort();
}

Datum
jsonb_in(PG_FUNCTION_ARGS)
{
	not_fuzzed("jsonb_in");
}

Datum
jsonb_path_match(PG_FUNCTION_ARGS)
{
	not_fuzzed("jsonb_path_match");
}

Datum
jsonb_path_query_first(PG_FUNCTION_ARGS)
{
	not_fuzzed("jsonb_path_query_first");
}

bool
JsonbExtractScalar(JsonbContainer *jbc, JsonbValue *res)
{
	not_fuzzed("JsonbExtractScalar");
}

char *
JsonbToCString(StringInfo out, JsonbContainer *in, int estimated_len)
{
	not_fuzzed("JsonbToCString");
}

Jsonb *
JsonbValueToJsonb(JsonbValue *val)
{
	not_fuzzed("JsonbValueToJsonb");
}

/* ----------------------------------------------------------------------
 * Between inputs
 * ----------------------------------------------------------------------
 */

void
shim_reset(void)
{
	memset(&error, 0, sizeof(error));
	error_pending = false;
	PG_exception_stack = NULL;
	error_context_stack = NULL;
	while (arena.next != &arena)
	{
		Chunk	   *c = arena.next;

		unlink_chunk(c);
		free(c);
	}
	arena_peak = 0;
}

size_t
shim_peak_allocated(void)
{
	return arena_peak;
}
