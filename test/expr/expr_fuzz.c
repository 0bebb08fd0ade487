/*-------------------------------------------------------------------------
 *
 * expr_fuzz.c
 *	  libFuzzer target for the expression compiler (src/expr.c), under
 *	  AddressSanitizer and UndefinedBehaviorSanitizer.
 *
 * src/expr.c is compiled unchanged against PostgreSQL's headers and the
 * stand-ins of pg_shim.c.  The input, up to its first NUL byte, is compiled
 * four ways:
 *
 *	- as a trigger condition over "event" (expr_compile, EXPR_SCOPE_EVENT);
 *	- as a wait condition over "event" and "async" (EXPR_SCOPE_ASYNC);
 *	- as a value expression: a key or a priority (expr_compile_value);
 *	- as a match path (expr_valid_match, expr_compile_match).
 *
 * Besides not crashing, leaking, overflowing or hitting undefined
 * behaviour, the compiler must keep these promises, checked with abort()
 * so that libFuzzer reports a crash:
 *	- what it produces from an Inngest expression is well-formed jsonpath
 *	  text: balanced parentheses and brackets, terminated strings with
 *	  valid escapes and no raw control characters, and nothing but the
 *	  characters of its own operators outside strings (jsonpath_in below);
 *	- it is deterministic;
 *	- a condition accepted over "event" is accepted over "event" and
 *	  "async" too;
 *	- a refused expression gets an error with a message, SQLSTATE 22023
 *	  (bad expression), 54000 (longer than INNGEST_MAX_EXPRESSION_LEN, and
 *	  only then) or 54001 (nested too deeply), and a position, if given,
 *	  inside the expression;
 *	- a compiled value is a well-formed tree;
 *	- expr_compile_match accepts exactly what expr_valid_match accepts;
 *	- memory stays proportional to the expression: at most MAX_MEMORY
 *	  allocated at once (the compiler once kept every intermediate text,
 *	  over 100 MB for each compilation of 8 kB of "1&&1&&...", seed_chain).
 *
 * The inputs are compiled in a thread with a small stack (256 kB), and
 * check_stack_depth() fails half way down it.  A recursion that does not
 * call check_stack_depth() thus overflows the thread's stack well within
 * the expression length limit, and AddressSanitizer reports it.
 *
 * Run by test/run_fuzz.sh (make expr-fuzz).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "fmgr.h"

#include "expr.h"
#include "inngest.h"
#include "pg_shim.h"

#define KEY				"if"
#define WORKER_STACK	(256 * 1024)
#define STACK_LIMIT		(128 * 1024)
#define MAX_MEMORY		(16 * 1024 * 1024)	/* for the four compilations */

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *current_input;	/* the expression being compiled */
static char *last_jsonpath;		/* the last text given to jsonpath_in */
static size_t most_memory = 0;	/* the most any input needed */
static size_t most_memory_len = 0;	/* that input's length */

static void
pg_attribute_noreturn()
pg_attribute_printf(1, 2)
fail(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	abort();
}

/*
 * Why s is not jsonpath text as the compiler writes it, or NULL if it is.
 */
static const char *
jsonpath_check(const char *s)
{
	size_t		len = strlen(s);
	char	   *open = palloc(len + 1); /* the brackets still open */
	int			depth = 0;
	const char *p;

	if (len == 0)
		return "empty";
	for (p = s; *p; p++)
	{
		unsigned char c = (unsigned char) *p;

		if (c == '"')
		{
			for (p++; *p != '"'; p++)
			{
				if (*p == '\0')
					return "unterminated string";
				if ((unsigned char) *p < 0x20)
					return "raw control character in a string";
				if (*p != '\\')
					continue;
				p++;
				if (*p == '"' || *p == '\\')
					continue;
				if (*p != 'u' || !isxdigit((unsigned char) p[1]) ||
					!isxdigit((unsigned char) p[2]) ||
					!isxdigit((unsigned char) p[3]) ||
					!isxdigit((unsigned char) p[4]))
					return "bad escape in a string";
				p += 4;
			}
		}
		else if (c == '(' || c == '[')
			open[depth++] = c;
		else if (c == ')' || c == ']')
		{
			if (depth == 0 || open[--depth] != (c == ')' ? '(' : '['))
				return "unbalanced parentheses or brackets";
		}
		else if (!isalnum(c) && strchr("$._ !=<>&|+-*/%", c) == NULL)
			return "unexpected character";
	}
	if (depth != 0)
		return "unbalanced parentheses or brackets";
	return NULL;
}

/*
 * The stand-in for PostgreSQL's jsonpath parser, which expr.c calls on
 * what it compiled and on raw jsonpath ("$..."), a piece of the input.
 * What the compiler wrote must pass jsonpath_check; raw text that does not
 * gets a syntax error, as PostgreSQL would give (the stand-in is stricter
 * than PostgreSQL: many valid raw paths get one too).
 */
Datum
jsonpath_in(PG_FUNCTION_ARGS)
{
	char	   *text = PG_GETARG_CSTRING(0);
	size_t		len = strlen(text);
	const char *why = jsonpath_check(text);
	JsonPath   *jp;

	last_jsonpath = pstrdup(text);
	if (why != NULL)
	{
		if (strstr(current_input, text) == NULL)
			fail("compiled to malformed jsonpath (%s): %s", why, text);
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("%s in jsonpath input", why)));
	}
	jp = palloc(VARHDRSZ + len + 1);
	SET_VARSIZE(jp, VARHDRSZ + len + 1);
	memcpy((char *) jp + VARHDRSZ, text, len + 1);
	PG_RETURN_POINTER(jp);
}

/* The five characters of a SQLSTATE */
static const char *
sqlstate(int code)
{
	static char buf[6];
	int			i;

	for (i = 0; i < 5; i++)
	{
		buf[i] = PGUNSIXBIT(code);
		code >>= 6;
	}
	buf[5] = '\0';
	return buf;
}

static bool
expected_code(int code)
{
	return code == ERRCODE_INVALID_PARAMETER_VALUE ||
		code == ERRCODE_PROGRAM_LIMIT_EXCEEDED ||
		code == ERRCODE_STATEMENT_TOO_COMPLEX;
}

/* An error from compiling text as a condition or a value */
static void
check_error(const ErrorData *edata, const char *text, const char *what)
{
	size_t		len = strlen(text);
	const char *pos;

	if (edata->message == NULL || edata->message[0] == '\0')
		fail("%s: an error without a message", what);
	if (!expected_code(edata->sqlerrcode))
		fail("%s: unexpected error %s: %s", what,
			 sqlstate(edata->sqlerrcode), edata->message);
	if ((edata->sqlerrcode == ERRCODE_PROGRAM_LIMIT_EXCEEDED) !=
		(len > INNGEST_MAX_EXPRESSION_LEN))
		fail("%s: %zu bytes, error %s: %s", what, len,
			 sqlstate(edata->sqlerrcode), edata->message);
	pos = strstr(edata->message, " at position ");
	if (pos != NULL)
	{
		long		n = strtol(pos + strlen(" at position "), NULL, 10);

		if (n < 1 || n > (long) len + 1)
			fail("%s: position %ld outside the expression (%zu bytes): %s",
				 what, n, len, edata->message);
	}
}

/*
 * Compile text as a condition in scope; returns the jsonpath text, or NULL
 * if it is refused.
 */
static char *
compile_condition(const char *text, ExprScope scope)
{
	const char *what = scope == EXPR_SCOPE_EVENT ? "event" : "async";
	char	   *volatile result = NULL;
	ErrorData  *volatile edata = NULL;

	PG_TRY();
	{
		char	   *again;

		last_jsonpath = NULL;
		(void) expr_compile(text, scope, KEY);
		if (last_jsonpath == NULL)
			fail("%s: compiled without jsonpath_in", what);
		again = expr_to_jsonpath(text, scope, KEY);
		if (strcmp(again, last_jsonpath) != 0)
			fail("%s: compiled twice to \"%s\" and \"%s\"", what,
				 last_jsonpath, again);
		result = again;
	}
	PG_CATCH();
	{
		edata = CopyErrorData();
		FlushErrorState();
	}
	PG_END_TRY();

	if (edata != NULL)
		check_error(edata, text, what);
	return result;
}

static void
check_value(const ExprValue *v)
{
	const ListCell *lc;

	if (v == NULL)
		fail("value: a NULL node");
	switch (v->kind)
	{
		case EXPR_VALUE_PATH:
			if (v->path == NULL || v->parts != NIL ||
				v->then_value != NULL || v->else_value != NULL)
				fail("value: malformed path node");
			return;
		case EXPR_VALUE_COND:
			if (v->path == NULL || v->parts != NIL)
				fail("value: malformed conditional node");
			check_value(v->then_value);
			check_value(v->else_value);
			return;
		case EXPR_VALUE_CONCAT:
			if (v->path != NULL || list_length(v->parts) < 2 ||
				v->then_value != NULL || v->else_value != NULL)
				fail("value: malformed concatenation node");
			foreach(lc, v->parts)
				check_value(lfirst(lc));
			return;
	}
	fail("value: unknown node kind %d", (int) v->kind);
}

static void
compile_value(const char *text)
{
	ErrorData  *volatile edata = NULL;

	PG_TRY();
	{
		check_value(expr_compile_value(text, KEY));
	}
	PG_CATCH();
	{
		edata = CopyErrorData();
		FlushErrorState();
	}
	PG_END_TRY();

	if (edata != NULL)
		check_error(edata, text, "value");
}

static void
compile_match(const char *text)
{
	bool		valid = expr_valid_match(text);
	volatile bool compiled = false;
	ErrorData  *volatile edata = NULL;

	PG_TRY();
	{
		(void) expr_compile_match(text, KEY);
		compiled = true;
	}
	PG_CATCH();
	{
		edata = CopyErrorData();
		FlushErrorState();
	}
	PG_END_TRY();

	if (compiled != valid)
		fail("match: expr_valid_match says %s, expr_compile_match %s",
			 valid ? "valid" : "invalid",
			 compiled ? "compiled it" : edata->message);
	if (edata != NULL && edata->sqlerrcode != ERRCODE_INVALID_PARAMETER_VALUE)
		fail("match: unexpected error %s: %s",
			 sqlstate(edata->sqlerrcode), edata->message);
}

/* Compile text every way (in the worker thread) */
static void
compile_all(const char *text)
{
	char	   *event;
	char	   *async;

	event = compile_condition(text, EXPR_SCOPE_EVENT);
	async = compile_condition(text, EXPR_SCOPE_ASYNC);
	if (event != NULL && async == NULL)
		fail("accepted over event, refused over event and async");
	compile_value(text);
	compile_match(text);
}

/*
 * The worker thread, started once: it compiles each input it is handed
 * (job) and clears job when done.  (A thread per input would be slower:
 * its allocations make libFuzzer run a leak check after every input.)
 */
static pthread_mutex_t job_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t job_changed = PTHREAD_COND_INITIALIZER;
static const char *job = NULL;

static void *
worker(void *arg)
{
	shim_set_stack(__builtin_frame_address(0), STACK_LIMIT);
	pthread_mutex_lock(&job_lock);
	for (;;)
	{
		while (job == NULL)
			pthread_cond_wait(&job_changed, &job_lock);
		pthread_mutex_unlock(&job_lock);
		compile_all(job);
		pthread_mutex_lock(&job_lock);
		job = NULL;
		pthread_cond_broadcast(&job_changed);
	}
	return NULL;
}

static void
run_in_worker(const char *text)
{
	static bool started = false;

	if (!started)
	{
		pthread_attr_t attr;
		pthread_t	thread;

		if (pthread_attr_init(&attr) != 0 ||
			pthread_attr_setstacksize(&attr, WORKER_STACK) != 0 ||
			pthread_create(&thread, &attr, worker, NULL) != 0)
			fail("cannot start the worker thread");
		pthread_attr_destroy(&attr);
		started = true;
	}
	pthread_mutex_lock(&job_lock);
	job = text;
	pthread_cond_broadcast(&job_changed);
	while (job != NULL)
		pthread_cond_wait(&job_changed, &job_lock);
	pthread_mutex_unlock(&job_lock);
}

/* One line for run_fuzz.sh to show */
static void
pg_attribute_unused()
__attribute__((destructor))
report_memory(void)
{
	if (most_memory > 0)
		fprintf(stderr, "expr_fuzz: at most %zu kB allocated at once (for a %zu-byte expression)\n",
				(most_memory + 1023) / 1024, most_memory_len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t		n = strnlen((const char *) data, size);
	char	   *text;

	/* a heap copy, so that ASan sees any read past the text's end */
	text = malloc(n + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, n);
	text[n] = '\0';
	current_input = text;

	run_in_worker(text);

	if (shim_peak_allocated() > MAX_MEMORY)
		fail("%zu bytes allocated at once for a %zu-byte expression",
			 shim_peak_allocated(), n);
	if (shim_peak_allocated() > most_memory)
	{
		most_memory = shim_peak_allocated();
		most_memory_len = n;
	}
	shim_reset();
	free(text);
	return 0;
}
