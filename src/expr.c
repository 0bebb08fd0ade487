/*-------------------------------------------------------------------------
 *
 * expr.c
 *	  Compile Inngest expressions to PostgreSQL jsonpath predicates.
 *
 * Inngest writes trigger conditions in a subset of CEL:
 *
 *		event.data.plan == 'pro' && event.data.seats > 3 || !event.data.trial
 *
 * We compile such a string once, at create_function time, into a jsonpath
 * predicate ($."data"."plan" == "pro" && ...), which PostgreSQL evaluates
 * with its own executor for every event, with no parsing on the hot path.
 * A string starting with '$' is taken as raw jsonpath.
 *
 * Grammar (lowest precedence first):
 *		or		:= and ('||' and)*
 *		and		:= not ('&&' not)*
 *		not		:= '!' not | cmp
 *		cmp		:= sum (('=='|'!='|'<'|'<='|'>'|'>=') sum)?
 *		sum		:= prod (('+'|'-') prod)*
 *		prod	:= unary (('*'|'/'|'%') unary)*
 *		unary	:= '-' unary | primary
 *		primary := path | string | number | true | false | null | '(' or ')'
 *		path	:= ('event'|'async') ('.' ident | '[' string ']' | '[' int ']')*
 *
 * Every sub-expression is either a value or a predicate; a value used where
 * a predicate is needed (a bare "event.data.flag") means "== true", as in
 * CEL where only a boolean may be tested.
 *
 *-------------------------------------------------------------------------
 */
#include "inngest.h"

#include <ctype.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/memutils.h"

#include "expr.h"

typedef struct ExprParser
{
	const char *src;			/* the whole expression, for messages */
	const char *p;				/* current position */
	ExprScope	scope;
	const char *key;			/* configuration key, for messages */
} ExprParser;

/* A compiled sub-expression: its jsonpath text and whether it is boolean */
typedef struct ExprNode
{
	StringInfoData text;
	bool		predicate;
} ExprNode;

static void parse_or(ExprParser *ps, ExprNode *out);
static void parse_and(ExprParser *ps, ExprNode *out);
static void parse_not(ExprParser *ps, ExprNode *out);
static void parse_cmp(ExprParser *ps, ExprNode *out);
static void parse_sum(ExprParser *ps, ExprNode *out);
static void parse_prod(ExprParser *ps, ExprNode *out);
static void parse_unary(ExprParser *ps, ExprNode *out);
static void parse_primary(ExprParser *ps, ExprNode *out);
static void parse_path(ExprParser *ps, ExprNode *out);
static void append_json_string(StringInfo buf, const char *s, int len);
static void as_predicate(ExprParser *ps, ExprNode *node);
static void as_value(ExprParser *ps, ExprNode *node, const char *op);

/* Report a syntax error at the parser's position, naming the config key */
static void
pg_attribute_noreturn()
syntax_error(ExprParser *ps, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid expression in \"%s\": %s at position %d",
					ps->key, what, (int) (ps->p - ps->src) + 1),
			 errdetail("Expression: %s", ps->src),
			 errhint("Expressions use Inngest's syntax, e.g. event.data.plan == 'pro' && event.data.seats > 3, or raw jsonpath starting with $.")));
}

static void
skip_space(ExprParser *ps)
{
	while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')
		ps->p++;
}

/* Consume the token tok if it comes next */
static bool
accept(ExprParser *ps, const char *tok)
{
	size_t		len = strlen(tok);

	skip_space(ps);
	if (strncmp(ps->p, tok, len) != 0)
		return false;
	/* keywords must not run into an identifier */
	if (isalpha((unsigned char) tok[0]) &&
		(isalnum((unsigned char) ps->p[len]) || ps->p[len] == '_'))
		return false;
	ps->p += len;
	return true;
}

static void
node_init(ExprNode *node)
{
	initStringInfo(&node->text);
	node->predicate = false;
}

/*
 * Make node's text before + text + after, in place.  Operators wrap their
 * operands in their own buffers: a chain of n operators copying its
 * growing text into a new buffer at each step would hold n ever longer
 * copies, quadratic memory (some 35 MB for an 8 kB "1 && 1 && ...").
 */
static void
node_wrap(ExprNode *node, const char *before, const char *after)
{
	StringInfo	text = &node->text;
	int			len = strlen(before);

	enlargeStringInfo(text, len);
	memmove(text->data + len, text->data, text->len + 1);
	memcpy(text->data, before, len);
	text->len += len;
	appendStringInfoString(text, after);
}

/* Make out's text "(out op rhs)", in place; rhs's text is freed */
static void
node_combine(ExprNode *out, const char *op, ExprNode *rhs)
{
	node_wrap(out, "(", " ");
	appendStringInfoString(&out->text, op);
	appendStringInfoChar(&out->text, ' ');
	appendBinaryStringInfo(&out->text, rhs->text.data, rhs->text.len);
	appendStringInfoChar(&out->text, ')');
	pfree(rhs->text.data);
}

/* Turn a value into a predicate: CEL tests booleans only */
static void
as_predicate(ExprParser *ps, ExprNode *node)
{
	if (node->predicate)
		return;
	node_wrap(node, "(", " == true)");
	node->predicate = true;
}

static void
as_value(ExprParser *ps, ExprNode *node, const char *op)
{
	if (node->predicate)
	{
		char		msg[128];

		snprintf(msg, sizeof(msg), "a comparison cannot be an operand of \"%s\"", op);
		syntax_error(ps, msg);
	}
}

static void
parse_or(ExprParser *ps, ExprNode *out)
{
	/* parentheses nest here: a deep expression must not overflow the stack */
	check_stack_depth();
	parse_and(ps, out);
	while (accept(ps, "||"))
	{
		ExprNode	rhs;

		node_init(&rhs);
		parse_and(ps, &rhs);
		as_predicate(ps, out);
		as_predicate(ps, &rhs);
		node_combine(out, "||", &rhs);
	}
}

static void
parse_and(ExprParser *ps, ExprNode *out)
{
	parse_not(ps, out);
	while (accept(ps, "&&"))
	{
		ExprNode	rhs;

		node_init(&rhs);
		parse_not(ps, &rhs);
		as_predicate(ps, out);
		as_predicate(ps, &rhs);
		node_combine(out, "&&", &rhs);
	}
}

static void
parse_not(ExprParser *ps, ExprNode *out)
{
	skip_space(ps);
	/* "!" but not "!=" (which cannot start an operand anyway) */
	if (ps->p[0] == '!' && ps->p[1] != '=')
	{
		check_stack_depth();
		ps->p++;
		parse_not(ps, out);
		as_predicate(ps, out);
		node_wrap(out, "!(", ")");
		return;
	}
	parse_cmp(ps, out);
}

static void
parse_cmp(ExprParser *ps, ExprNode *out)
{
	static const char *const ops[] = {"==", "!=", "<=", ">=", "<", ">"};
	int			i;

	parse_sum(ps, out);
	for (i = 0; i < lengthof(ops); i++)
	{
		if (accept(ps, ops[i]))
		{
			ExprNode	rhs;

			node_init(&rhs);
			parse_sum(ps, &rhs);
			as_value(ps, out, ops[i]);
			as_value(ps, &rhs, ops[i]);
			node_combine(out, ops[i], &rhs);
			out->predicate = true;
			skip_space(ps);
			if ((ps->p[0] == '=' || ps->p[0] == '<' || ps->p[0] == '>' ||
				 (ps->p[0] == '!' && ps->p[1] == '=')))
				syntax_error(ps, "comparisons cannot be chained");
			return;
		}
	}
}

/*
 * A left-associative chain of arithmetic operators over operands parsed by
 * next: "a + b - c" or "a * b % c".
 */
static void
parse_arith(ExprParser *ps, ExprNode *out, const char *const *ops, int nops,
			void (*next) (ExprParser *, ExprNode *))
{
	next(ps, out);
	for (;;)
	{
		const char *op = NULL;
		ExprNode	rhs;
		int			i;

		for (i = 0; i < nops && op == NULL; i++)
			if (accept(ps, ops[i]))
				op = ops[i];
		if (op == NULL)
			return;
		node_init(&rhs);
		next(ps, &rhs);
		as_value(ps, out, op);
		as_value(ps, &rhs, op);
		node_combine(out, op, &rhs);
	}
}

static void
parse_sum(ExprParser *ps, ExprNode *out)
{
	static const char *const ops[] = {"+", "-"};

	parse_arith(ps, out, ops, lengthof(ops), parse_prod);
}

static void
parse_prod(ExprParser *ps, ExprNode *out)
{
	static const char *const ops[] = {"*", "/", "%"};

	parse_arith(ps, out, ops, lengthof(ops), parse_unary);
}

static void
parse_unary(ExprParser *ps, ExprNode *out)
{
	if (accept(ps, "-"))
	{
		check_stack_depth();
		parse_unary(ps, out);
		as_value(ps, out, "-");
		node_wrap(out, "(-", ")");
		return;
	}
	parse_primary(ps, out);
}

/* Append s (len bytes) as a jsonpath string literal */
static void
append_json_string(StringInfo buf, const char *s, int len)
{
	int			i;

	appendStringInfoChar(buf, '"');
	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c == '"' || c == '\\')
		{
			appendStringInfoChar(buf, '\\');
			appendStringInfoChar(buf, c);
		}
		else if (c < 0x20)
			appendStringInfo(buf, "\\u%04x", c);
		else
			appendStringInfoChar(buf, c);
	}
	appendStringInfoChar(buf, '"');
}

/* Parse a quoted string ('...' or "...") into buf, unescaped */
static void
parse_string(ExprParser *ps, StringInfo buf)
{
	char		quote = *ps->p++;

	for (;;)
	{
		char		c = *ps->p;

		if (c == '\0')
			syntax_error(ps, "unterminated string");
		ps->p++;
		if (c == quote)
			return;
		if (c == '\\')
		{
			c = *ps->p++;
			switch (c)
			{
				case 'n':
					appendStringInfoChar(buf, '\n');
					break;
				case 't':
					appendStringInfoChar(buf, '\t');
					break;
				case 'r':
					appendStringInfoChar(buf, '\r');
					break;
				case '\\':
				case '\'':
				case '"':
					appendStringInfoChar(buf, c);
					break;
				default:
					ps->p--;
					syntax_error(ps, "unknown escape in string");
			}
			continue;
		}
		appendStringInfoChar(buf, c);
	}
}

static void
parse_primary(ExprParser *ps, ExprNode *out)
{
	skip_space(ps);

	if (*ps->p == '(')
	{
		ps->p++;
		parse_or(ps, out);
		skip_space(ps);
		if (*ps->p != ')')
			syntax_error(ps, "expected \")\"");
		ps->p++;
		/* keep the grouping in the output */
		node_wrap(out, "(", ")");
		return;
	}

	if (*ps->p == '\'' || *ps->p == '"')
	{
		StringInfoData raw;

		initStringInfo(&raw);
		parse_string(ps, &raw);
		append_json_string(&out->text, raw.data, raw.len);
		pfree(raw.data);
		return;
	}

	if (isdigit((unsigned char) *ps->p) ||
		(*ps->p == '.' && isdigit((unsigned char) ps->p[1])))
	{
		const char *start = ps->p;

		while (isdigit((unsigned char) *ps->p))
			ps->p++;
		if (*ps->p == '.')
		{
			ps->p++;
			while (isdigit((unsigned char) *ps->p))
				ps->p++;
		}
		if (*ps->p == 'e' || *ps->p == 'E')
		{
			ps->p++;
			if (*ps->p == '+' || *ps->p == '-')
				ps->p++;
			if (!isdigit((unsigned char) *ps->p))
				syntax_error(ps, "malformed number");
			while (isdigit((unsigned char) *ps->p))
				ps->p++;
		}
		if (isalpha((unsigned char) *ps->p) || *ps->p == '_')
			syntax_error(ps, "malformed number");
		/* jsonpath wants a leading digit */
		if (*start == '.')
			appendStringInfoChar(&out->text, '0');
		appendBinaryStringInfo(&out->text, start, ps->p - start);
		return;
	}

	if (accept(ps, "true"))
	{
		appendStringInfoString(&out->text, "true");
		return;
	}
	if (accept(ps, "false"))
	{
		appendStringInfoString(&out->text, "false");
		return;
	}
	if (accept(ps, "null"))
	{
		appendStringInfoString(&out->text, "null");
		return;
	}

	if (isalpha((unsigned char) *ps->p) || *ps->p == '_')
	{
		parse_path(ps, out);
		return;
	}

	if (*ps->p == '\0')
		syntax_error(ps, "unexpected end of expression");
	syntax_error(ps, "unexpected character");
}

/* event.data.x / async.data['k'] / event.data.items[0] */
static void
parse_path(ExprParser *ps, ExprNode *out)
{
	const char *start = ps->p;
	int			len;

	while (isalnum((unsigned char) *ps->p) || *ps->p == '_')
		ps->p++;
	len = ps->p - start;

	if (len == 5 && strncmp(start, "event", 5) == 0)
		appendStringInfoString(&out->text,
							   ps->scope == EXPR_SCOPE_ASYNC ? "$event" : "$");
	else if (len == 5 && strncmp(start, "async", 5) == 0)
	{
		if (ps->scope != EXPR_SCOPE_ASYNC)
		{
			ps->p = start;
			syntax_error(ps, "\"async\" is only available in expressions that compare two events");
		}
		appendStringInfoString(&out->text, "$");
	}
	else
	{
		ps->p = start;
		syntax_error(ps, ps->scope == EXPR_SCOPE_ASYNC ?
					 "a path must start with \"event\" or \"async\"" :
					 "a path must start with \"event\"");
	}

	for (;;)
	{
		if (*ps->p == '.')
		{
			const char *name;

			ps->p++;
			name = ps->p;
			if (!(isalpha((unsigned char) *ps->p) || *ps->p == '_'))
				syntax_error(ps, "expected a field name after \".\"");
			while (isalnum((unsigned char) *ps->p) || *ps->p == '_')
				ps->p++;
			appendStringInfoChar(&out->text, '.');
			append_json_string(&out->text, name, ps->p - name);
		}
		else if (*ps->p == '[')
		{
			ps->p++;
			skip_space(ps);
			if (*ps->p == '\'' || *ps->p == '"')
			{
				StringInfoData raw;

				initStringInfo(&raw);
				parse_string(ps, &raw);
				appendStringInfoChar(&out->text, '.');
				append_json_string(&out->text, raw.data, raw.len);
				pfree(raw.data);
			}
			else if (isdigit((unsigned char) *ps->p))
			{
				const char *num = ps->p;

				while (isdigit((unsigned char) *ps->p))
					ps->p++;
				appendStringInfo(&out->text, "[%.*s]", (int) (ps->p - num), num);
			}
			else
				syntax_error(ps, "expected a string or an index inside \"[]\"");
			skip_space(ps);
			if (*ps->p != ']')
				syntax_error(ps, "expected \"]\"");
			ps->p++;
		}
		else
			break;
	}
}

/* An expression is at most INNGEST_MAX_EXPRESSION_LEN bytes */
static void
check_length(const char *expr, const char *key)
{
	size_t		len = strlen(expr);

	if (len > INNGEST_MAX_EXPRESSION_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("expression in \"%s\" is too long (%zu bytes)", key, len),
				 errdetail("The limit is %d bytes.", INNGEST_MAX_EXPRESSION_LEN)));
}

/*
 * Compile an Inngest expression to the text of a jsonpath predicate.
 * key names the configuration key the expression came from, for messages.
 */
static char *
compile_text(const char *expr, ExprScope scope, const char *key, bool value)
{
	ExprParser	ps;
	ExprNode	node;
	const char *p = expr;

	check_length(expr, key);
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	if (*p == '$')
		return pstrdup(p);		/* raw jsonpath */

	ps.src = expr;
	ps.p = expr;
	ps.scope = scope;
	ps.key = key;

	skip_space(&ps);
	if (*ps.p == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid expression in \"%s\": the expression is empty",
						key)));

	node_init(&node);
	parse_or(&ps, &node);
	skip_space(&ps);
	if (*ps.p != '\0')
		syntax_error(&ps, "unexpected text after the expression");
	if (!value)
		as_predicate(&ps, &node);
	return node.text.data;
}

char *
expr_to_jsonpath(const char *expr, ExprScope scope, const char *key)
{
	return compile_text(expr, scope, key, false);
}

/*
 * Compile an expression to a jsonpath value.  PostgreSQL's own jsonpath
 * parser checks the result (and raw jsonpath given by the user); an error
 * of the text (SQLSTATE class 22 or 42: a syntax error, a bad literal) is
 * reported against our configuration key.  Any other error (the stack depth
 * limit, out of memory, a cancel) is not the expression's fault: it goes
 * on as it is.
 */
static JsonPath *
compile_path(const char *expr, ExprScope scope, const char *key, bool value)
{
	char	   *text = compile_text(expr, scope, key, value);
	Datum		result = (Datum) 0;
	MemoryContext oldcxt = CurrentMemoryContext;
	ErrorData  *edata = NULL;

	PG_TRY();
	{
		result = DirectFunctionCall1(jsonpath_in, CStringGetDatum(text));
	}
	PG_CATCH();
	{
		int			category;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		category = ERRCODE_TO_CATEGORY(edata->sqlerrcode);
		if (category != ERRCODE_DATA_EXCEPTION &&
			category != ERRCODE_SYNTAX_ERROR_OR_ACCESS_RULE_VIOLATION)
			PG_RE_THROW();
		FlushErrorState();
	}
	PG_END_TRY();

	if (edata != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid expression in \"%s\": %s", key, edata->message),
				 errdetail("Expression: %s", expr)));

	return DatumGetJsonPathP(result);
}

JsonPath *
expr_compile(const char *expr, ExprScope scope, const char *key)
{
	return compile_path(expr, scope, key, false);
}

/* An empty object for jsonpath's vars argument */
static Jsonb *
empty_vars(void)
{
	static Jsonb *empty = NULL;

	if (empty == NULL)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(TopMemoryContext);

		empty = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
												   CStringGetDatum("{}")));
		MemoryContextSwitchTo(oldcxt);
	}
	return empty;
}

/* A JSON value as key text: strings without quotes, others as JSON */
static void
append_key_text(StringInfo buf, Jsonb *value)
{
	JsonbValue	scalar;

	if (JB_ROOT_IS_SCALAR(value) &&
		JsonbExtractScalar(&value->root, &scalar) &&
		scalar.type == jbvString)
		appendBinaryStringInfo(buf, scalar.val.string.val, scalar.val.string.len);
	else
		(void) JsonbToCString(buf, &value->root, VARSIZE(value));
}

/*
 * Evaluate a compiled predicate against target, with vars bound as $name
 * (NULL for none).  Missing fields and type mismatches count as false, as
 * an erroring CEL expression does in Inngest.
 */
bool
expr_match(JsonPath *path, Jsonb *target, Jsonb *vars)
{
	LOCAL_FCINFO(fcinfo, 4);
	Datum		result;

	if (vars == NULL)
		vars = empty_vars();

	InitFunctionCallInfoData(*fcinfo, NULL, 4, InvalidOid, NULL, NULL);
	fcinfo->args[0].value = JsonbPGetDatum(target);
	fcinfo->args[0].isnull = false;
	fcinfo->args[1].value = PointerGetDatum(path);
	fcinfo->args[1].isnull = false;
	fcinfo->args[2].value = JsonbPGetDatum(vars);
	fcinfo->args[2].isnull = false;
	fcinfo->args[3].value = BoolGetDatum(true); /* silent */
	fcinfo->args[3].isnull = false;

	result = jsonb_path_match(fcinfo);
	return !fcinfo->isnull && DatumGetBool(result);
}

/* ----------------------------------------------------------------------
 * Value expressions: flow-control keys and priorities
 *
 * A key ("event.data.account_id + '-' + event.data.user") or a priority
 * ("event.data.plan == 'pro' ? 120 : 0") is a value, not a predicate, and
 * uses two CEL forms that jsonpath lacks: string concatenation and the
 * conditional operator.  We split those at the top level and compile the
 * pieces to jsonpath as before, so that evaluation stays one jsonpath
 * call per piece with no parsing per event.
 * ----------------------------------------------------------------------
 */

/*
 * The position of the first top-level occurrence of any of chars in
 * [start, end), outside quotes, parentheses and brackets, or NULL.  For
 * '+', only a binary plus counts (one that follows an operand).
 */
static const char *
find_top_level(const char *start, const char *end, const char *chars)
{
	int			depth = 0;
	char		quote = 0;
	bool		after_operand = false;
	const char *p;

	for (p = start; p < end; p++)
	{
		char		c = *p;

		if (quote)
		{
			if (c == '\\' && p + 1 < end)
				p++;
			else if (c == quote)
			{
				quote = 0;
				after_operand = true;
			}
			continue;
		}
		if (c == '\'' || c == '"')
		{
			quote = c;
			continue;
		}
		if (c == '(' || c == '[')
		{
			depth++;
			after_operand = false;
			continue;
		}
		if (c == ')' || c == ']')
		{
			depth--;
			after_operand = true;
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
			continue;
		if (depth == 0 && strchr(chars, c) != NULL &&
			(c != '+' || after_operand))
			return p;
		after_operand = isalnum((unsigned char) c) || c == '_' || c == '.';
	}
	return NULL;
}

/* The ':' that closes the conditional whose '?' ends at start */
static const char *
find_colon(const char *start, const char *end)
{
	int			nested = 0;
	const char *p = start;

	while ((p = find_top_level(p, end, "?:")) != NULL)
	{
		if (*p == '?')
			nested++;
		else if (nested-- == 0)
			return p;
		p++;
	}
	return NULL;
}

static bool
is_string_literal(const char *start, const char *end)
{
	while (start < end && isspace((unsigned char) *start))
		start++;
	return start < end && (*start == '\'' || *start == '"');
}

static ExprValue *
compile_value_range(const char *start, const char *end, const char *whole,
					const char *key)
{
	ExprValue  *v = palloc0(sizeof(ExprValue));
	const char *q;
	const char *p;
	char	   *text;

	check_stack_depth();
	while (start < end && isspace((unsigned char) *start))
		start++;
	while (end > start && isspace((unsigned char) end[-1]))
		end--;

	if (*start != '$' && (q = find_top_level(start, end, "?")) != NULL)
	{
		const char *colon = find_colon(q + 1, end);

		if (colon == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid expression in \"%s\": \"?\" without \":\"", key),
					 errdetail("Expression: %s", whole)));
		v->kind = EXPR_VALUE_COND;
		v->path = compile_path(pnstrdup(start, q - start), EXPR_SCOPE_EVENT,
							   key, false);
		v->then_value = compile_value_range(q + 1, colon, whole, key);
		v->else_value = compile_value_range(colon + 1, end, whole, key);
		return v;
	}

	/* a + b + ... with a string literal among them: concatenation */
	if (*start != '$' && find_top_level(start, end, "+") != NULL)
	{
		List	   *parts = NIL;
		bool		strings = false;
		const char *s = start;

		while ((p = find_top_level(s, end, "+")) != NULL)
		{
			strings |= is_string_literal(s, p);
			parts = lappend(parts, (void *) s);
			parts = lappend(parts, (void *) p);
			s = p + 1;
		}
		strings |= is_string_literal(s, end);
		if (strings)
		{
			ListCell   *lc;

			v->kind = EXPR_VALUE_CONCAT;
			for (lc = list_head(parts); lc != NULL; lc = lnext(parts, lnext(parts, lc)))
				v->parts = lappend(v->parts,
								   compile_value_range(lfirst(lc),
													   lfirst(lnext(parts, lc)),
													   whole, key));
			v->parts = lappend(v->parts, compile_value_range(s, end, whole, key));
			return v;
		}
	}

	/* copied only here: every level of a nested value would copy the rest */
	text = pnstrdup(start, end - start);
	v->kind = EXPR_VALUE_PATH;
	v->path = compile_path(text, EXPR_SCOPE_EVENT, key, true);
	return v;
}

/*
 * Compile a value expression over "event" (key names the configuration
 * key, for messages).  The result lives in the current memory context.
 */
ExprValue *
expr_compile_value(const char *expr, const char *key)
{
	check_length(expr, key);
	return compile_value_range(expr, expr + strlen(expr), expr, key);
}

/* The value of v for target, or NULL if it has none (a missing field) */
Jsonb *
expr_eval_value(ExprValue *v, Jsonb *target)
{
	check_stack_depth();
	switch (v->kind)
	{
		case EXPR_VALUE_PATH:
			{
				LOCAL_FCINFO(fcinfo, 4);
				Datum		result;

				InitFunctionCallInfoData(*fcinfo, NULL, 4, InvalidOid, NULL, NULL);
				fcinfo->args[0].value = JsonbPGetDatum(target);
				fcinfo->args[0].isnull = false;
				fcinfo->args[1].value = PointerGetDatum(v->path);
				fcinfo->args[1].isnull = false;
				fcinfo->args[2].value = JsonbPGetDatum(empty_vars());
				fcinfo->args[2].isnull = false;
				fcinfo->args[3].value = BoolGetDatum(true); /* silent */
				fcinfo->args[3].isnull = false;
				result = jsonb_path_query_first(fcinfo);
				return fcinfo->isnull ? NULL : DatumGetJsonbP(result);
			}
		case EXPR_VALUE_COND:
			return expr_eval_value(expr_match(v->path, target, NULL) ?
								   v->then_value : v->else_value, target);
		case EXPR_VALUE_CONCAT:
			{
				StringInfoData buf;
				ListCell   *lc;
				JsonbValue	jv;

				initStringInfo(&buf);
				foreach(lc, v->parts)
				{
					Jsonb	   *part = expr_eval_value(lfirst(lc), target);

					if (part != NULL)
						append_key_text(&buf, part);
				}
				jv.type = jbvString;
				jv.val.string.val = buf.data;
				jv.val.string.len = buf.len;
				return JsonbValueToJsonb(&jv);
			}
	}
	return NULL;				/* keep compilers quiet */
}

/*
 * A key value as text: a string as itself, anything else as its JSON text,
 * and a missing value as the empty string (all such events share a key, as
 * in Inngest where a missing field evaluates to the same empty key).
 */
char *
expr_eval_key(ExprValue *v, Jsonb *target)
{
	Jsonb	   *value = expr_eval_value(v, target);
	StringInfoData buf;

	initStringInfo(&buf);
	if (value != NULL)
		append_key_text(&buf, value);
	return buf.data;
}

/* ----------------------------------------------------------------------
 * Match paths: Inngest's "match" shorthand of waitForEvent and cancelOn
 * ----------------------------------------------------------------------
 */

/*
 * Split match ("data.user_id", optionally after "event." or "async.") into
 * its field names; parts may be NULL to only check it.  Returns the number
 * of fields, or -1 if match is not a path of plain field names.
 */
static int
split_match(const char *match, Datum *parts)
{
	const char *p = match;
	int			n = 0;

	if (strncmp(p, "event.", 6) == 0 || strncmp(p, "async.", 6) == 0)
		p += 6;
	for (;;)
	{
		const char *start = p;

		while (isalnum((unsigned char) *p) || *p == '_' || *p == '-')
			p++;
		if (p == start || (*p != '.' && *p != '\0'))
			return -1;
		if (parts != NULL)
			parts[n] = PointerGetDatum(cstring_to_text_with_len(start, p - start));
		n++;
		if (*p == '\0')
			return n;
		p++;
	}
}

/* Whether match is a valid match path (see expr_compile_match) */
bool
expr_valid_match(const char *match)
{
	return split_match(match, NULL) > 0;
}

/*
 * Compile Inngest's "match" shorthand, "data.user_id" (the incoming event's
 * data.user_id must equal the run's), into a text[] path.  key names the
 * argument or configuration key, for messages.
 */
ArrayType *
expr_compile_match(const char *match, const char *key)
{
	Datum	   *parts = palloc(sizeof(Datum) * (strlen(match) / 2 + 2));
	int			n = split_match(match, parts);

	if (n <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" is not a valid match path in \"%s\"", match, key),
				 errhint("A match path names a field of both events, like \"data.user_id\".")));
	return construct_array(parts, n, TEXTOID, -1, false, TYPALIGN_INT);
}
