/*-------------------------------------------------------------------------
 *
 * cron.c
 *	  The core of cron schedules: parser and next fire time, in plain C.
 *
 * This file includes no PostgreSQL header and allocates nothing, so that
 * the libFuzzer target and the differential test in test/cron/ can link it
 * on its own.  Everything that needs PostgreSQL (ereport, the time zone
 * database, the SQL function) lives in cron_sql.c; a separate file rather
 * than an #ifndef block keeps this one free of conditional code, so that
 * what the tests exercise is exactly what the server runs.
 *
 * Parsing produces a CronSchedule: one bitmap per field.  The next fire
 * time is found by walking the calendar field by field (skip to the next
 * allowed month, then day, hour, minute), never minute by minute, so a
 * schedule that fires once in years costs a few thousand steps at most.
 *
 * Time zones are handled in "segments": stretches of time with a constant
 * UTC offset, bounded by the zone's offset changes.  Inside a segment local
 * time runs evenly, so the calendar walk can be done in local time and
 * mapped back by subtracting the offset.  Between segments the rules of
 * cron.h apply: local times skipped by a forward change fire at the change;
 * local times repeated after a backward change fire only once, unless the
 * hour field is a wildcard.
 *
 * See cron.h for the syntax and the semantics.
 *
 *-------------------------------------------------------------------------
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* only the core's half of cron.h: no PostgreSQL header, in any build */
#ifndef CRON_STANDALONE
#define CRON_STANDALONE
#endif
#include "cron.h"

/* Seconds from 1970-01-01 (Unix epoch) to 2000-01-01 (CronTime's epoch) */
#define UNIX_TO_CRON_EPOCH	INT64_C(946684800)
#define SEC_USECS		INT64_C(1000000)
#define DAY_SECS		INT64_C(86400)

/*
 * How far ahead the next fire time is looked for.  Every schedule that
 * cron_parse accepts fires at least once in any 400 years (the Gregorian
 * calendar repeats its weekdays every 400 years, and cron_parse refuses
 * schedules whose days never occur), so 401 years always finds it.
 */
#define SEARCH_SECS			(INT64_C(401) * 366 * DAY_SECS)

/* next_local_minute's "none" (-1 is a valid time: 1969-12-31 23:59:59) */
#define NO_MINUTE			INT64_MIN

/* A zone offset beyond this (two days) is nonsense: refuse to use it */
#define MAX_ZONE_OFFSET		(2 * 86400)

/*
 * At most this many offset changes are walked through before giving up;
 * real zones change at most a few times a year, so this is far more than
 * 401 years of them.
 */
#define MAX_SEGMENTS		10000

/* A parser's position and where its error goes */
typedef struct CronParser
{
	const char *p;				/* the next byte to read */
	CronError  *err;
} CronParser;

/* What one of the five fields allows */
typedef struct CronField
{
	const char *name;			/* "minute", for messages */
	int			low;			/* smallest value */
	int			high;			/* largest value */
	const char *const *names;	/* 3-letter names of low, low+1... or NULL */
	int			name_base;		/* the value of names[0] */
	const char *allowed;		/* a sentence saying what is allowed */
} CronField;

static const char *const month_names[] = {
	"jan", "feb", "mar", "apr", "may", "jun",
	"jul", "aug", "sep", "oct", "nov", "dec", NULL
};

static const char *const weekday_names[] = {
	"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL
};

enum
{
	FIELD_MINUTE, FIELD_HOUR, FIELD_DOM, FIELD_MONTH, FIELD_DOW, NUM_FIELDS
};

static const CronField fields[NUM_FIELDS] = {
	{"minute", 0, 59, NULL, 0, "Minutes are 0 to 59."},
	{"hour", 0, 23, NULL, 0, "Hours are 0 to 23."},
	{"day of month", 1, 31, NULL, 0,
	"Days of the month are 1 to 31, or $ alone for the last day of the month."},
	{"month", 1, 12, month_names, 1, "Months are 1 to 12 or jan to dec."},
	{"day of week", 0, 7, weekday_names, 0,
	"Days of the week are 0 to 7 (0 and 7 are Sunday) or sun to sat."},
};

/* The @keywords and the five fields each stands for */
static const struct
{
	const char *keyword;
	const char *fields;
}			keywords[] = {
	{"yearly", "0 0 1 1 *"},
	{"annually", "0 0 1 1 *"},
	{"monthly", "0 0 1 * *"},
	{"weekly", "0 0 * * 0"},
	{"daily", "0 0 * * *"},
	{"midnight", "0 0 * * *"},
	{"hourly", "0 * * * *"},
};

#define KEYWORD_LIST "Keywords are @yearly, @annually, @monthly, @weekly, @daily, @midnight and @hourly."
#define FIELDS_SENTENCE "A cron schedule has five fields: minute, hour, day of month, month and day of week."

static bool parse_body(CronParser *ps, CronSchedule *out);
static bool parse_fields(CronParser *ps, CronSchedule *out);
static bool parse_field(CronParser *ps, const CronField *f, uint64_t *bits);
static bool parse_value(CronParser *ps, const CronField *f, int *value);
static bool parse_step(CronParser *ps, const CronField *f, int *step);
static bool parse_seconds(CronParser *ps, CronSchedule *out);
static bool parse_keyword(CronParser *ps, CronSchedule *out);
static bool parse_zone(CronParser *ps, CronSchedule *out, size_t prefix);
static bool check_fires(CronParser *ps, const CronSchedule *s);
static bool fail(CronParser *ps, const char *detail, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));
static void describe_byte(char *buf, size_t size, const char *p);

static int64_t next_local_minute(const CronSchedule *s, int64_t from,
								 int64_t until);
static bool day_matches(const CronSchedule *s, int64_t year, int month,
						int day, int64_t days);

/* ASCII only: the server's locale must not change what a schedule means */
static inline bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static inline bool
is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline bool
is_alnum(char c)
{
	return is_digit(c) || is_alpha(c);
}

static inline bool
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static inline char
to_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

static void
skip_blanks(CronParser *ps)
{
	while (is_blank(*ps->p))
		ps->p++;
}

/* Length of the run of letters and digits at p */
static size_t
alnum_run(const char *p)
{
	size_t		n = 0;

	while (is_alnum(p[n]))
		n++;
	return n;
}

/* Case-insensitive comparison of the n bytes at p with the word w */
static bool
word_equals(const char *p, size_t n, const char *w)
{
	size_t		i;

	if (strlen(w) != n)
		return false;
	for (i = 0; i < n; i++)
		if (to_lower(p[i]) != w[i])
			return false;
	return true;
}

/* Floor division and modulo, for times before the epoch */
static inline int64_t
floor_div(int64_t a, int64_t b)
{
	int64_t		q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static inline int64_t
floor_mod(int64_t a, int64_t b)
{
	return a - floor_div(a, b) * b;
}

/*
 * Record an error: a message (printf-style) and a detail sentence.  Returns
 * false so that callers can "return fail(...)".
 */
static bool
fail(CronParser *ps, const char *detail, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(ps->err->message, sizeof(ps->err->message), fmt, ap);
	va_end(ap);
	snprintf(ps->err->detail, sizeof(ps->err->detail), "%s",
			 detail ? detail : "");
	return false;
}

/*
 * Describe the byte at p for a message: "\"x\"" for printable ASCII, "byte
 * 0xC3" otherwise, so that messages stay valid in any encoding.
 */
static void
describe_byte(char *buf, size_t size, const char *p)
{
	unsigned char c = (unsigned char) *p;

	if (c == '\0')
		snprintf(buf, size, "end of text");
	else if (c >= 0x21 && c <= 0x7e)
		snprintf(buf, size, "\"%c\"", c);
	else
		snprintf(buf, size, "byte 0x%02X", c);
}

/*
 * Parse a schedule.  See cron.h.
 */
bool
cron_parse(const char *text, CronSchedule *out, CronError *err)
{
	CronParser	ps;
	CronError	dummy;
	bool		ok = true;

	memset(out, 0, sizeof(*out));
	if (err == NULL)
		err = &dummy;
	memset(err, 0, sizeof(*err));
	ps.err = err;
	ps.p = text;

	if (text == NULL)
		return fail(&ps, FIELDS_SENTENCE, "empty schedule");
	/* bounded: never read past the limit of a very long string */
	{
		size_t		len = 0;

		while (len <= CRON_MAX_LENGTH && text[len] != '\0')
			len++;
		if (len > CRON_MAX_LENGTH)
			return fail(&ps, NULL, "longer than %d bytes", CRON_MAX_LENGTH);
	}

	skip_blanks(&ps);
	if (*ps.p == '\0')
		return fail(&ps, FIELDS_SENTENCE, "empty schedule");

	if (strncmp(ps.p, "TZ=", 3) == 0)
		ok = parse_zone(&ps, out, 3);
	else if (strncmp(ps.p, "CRON_TZ=", 8) == 0)
		ok = parse_zone(&ps, out, 8);
	if (!ok || !parse_body(&ps, out))
	{
		/* leave nothing half-parsed behind */
		memset(out, 0, sizeof(*out));
		return false;
	}
	return true;
}

/*
 * The zone prefix: TZ= (or CRON_TZ=, prefix bytes long) and a name up to
 * the next blank.  Only the characters of zone names and POSIX zone
 * specifications are allowed (Europe/Paris, EST5EDT, <+03>-3, UTC+3,
 * EST5EDT,M3.2.0,M11.1.0); whether the zone exists is for the caller to
 * check.
 */
static bool
parse_zone(CronParser *ps, CronSchedule *out, size_t prefix)
{
	const char *name = ps->p + prefix;
	size_t		n = 0;

	while (name[n] != '\0' && !is_blank(name[n]))
	{
		char		c = name[n];

		if (!is_alnum(c) && strchr("/_+-.:<>,", c) == NULL)
		{
			char		what[32];

			describe_byte(what, sizeof(what), name + n);
			ps->p = name + n;
			return fail(ps, "A time zone is a name such as Europe/Paris or UTC.",
						"unexpected %s in the time zone name", what);
		}
		n++;
	}
	if (n == 0)
		return fail(ps, "A time zone is a name such as Europe/Paris or UTC.",
					"missing time zone name after \"%.*s\"",
					(int) prefix, ps->p);
	if (n >= CRON_ZONE_SIZE)
		return fail(ps, NULL, "time zone name longer than %d bytes",
					CRON_ZONE_SIZE - 1);
	memcpy(out->zone, name, n);
	out->zone[n] = '\0';

	ps->p = name + n;
	skip_blanks(ps);
	if (*ps->p == '\0')
		return fail(ps, FIELDS_SENTENCE,
					"missing schedule after the time zone");
	return true;
}

/*
 * What follows the zone prefix: a keyword, an interval in seconds, or five
 * fields; then only blanks.  Finally, refuse a schedule that never fires.
 */
static bool
parse_body(CronParser *ps, CronSchedule *out)
{
	const char *start = ps->p;

	if (*ps->p == '@')
	{
		if (!parse_keyword(ps, out))
			return false;
	}
	else
	{
		/* "N seconds": digits, blanks, then a word starting with "sec" */
		const char *q = ps->p;

		while (is_digit(*q))
			q++;
		if (q > ps->p)
			while (is_blank(*q))
				q++;
		if (q > ps->p && alnum_run(q) >= 3 &&
			to_lower(q[0]) == 's' && to_lower(q[1]) == 'e' &&
			to_lower(q[2]) == 'c')
		{
			if (!parse_seconds(ps, out))
				return false;
		}
		else if (!parse_fields(ps, out))
			return false;
	}

	skip_blanks(ps);
	if (*ps->p != '\0')
	{
		char		what[32];
		const char *after = (out->seconds > 0) ? "the interval" :
		(*start == '@') ? "the keyword" : "the day of week field";

		describe_byte(what, sizeof(what), ps->p);
		return fail(ps, (out->seconds > 0 || *start == '@') ? NULL :
					FIELDS_SENTENCE " There is no seconds or year field.",
					"unexpected %s after %s", what, after);
	}

	return check_fires(ps, out);
}

/* @keyword: one of the table above, case-sensitive as in Vixie cron */
static bool
parse_keyword(CronParser *ps, CronSchedule *out)
{
	const char *word = ps->p + 1;
	size_t		n = alnum_run(word);
	size_t		i;

	for (i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
	{
		if (strlen(keywords[i].keyword) == n &&
			strncmp(word, keywords[i].keyword, n) == 0)
		{
			CronParser	sub;
			CronError	suberr;

			/* the expansion is ours and always parses */
			sub.p = keywords[i].fields;
			sub.err = &suberr;
			(void) parse_fields(&sub, out);
			ps->p = word + n;
			return true;
		}
	}
	if ((n == 6 && strncmp(word, "reboot", 6) == 0) ||
		(n == 7 && strncmp(word, "restart", 7) == 0))
		return fail(ps, "Schedules are by time only: nothing runs at server start.",
					"\"@%.*s\" is not supported", (int) n, word);
	return fail(ps, KEYWORD_LIST, "unknown keyword \"@%.*s\"",
				(int) (n > 32 ? 32 : n), word);
}

/*
 * "N seconds" or "N second", case-insensitive, N from 1 to 59 (pg_cron's
 * interval form).  Called when digits are followed by a word starting with
 * "sec", so any other word is an error here rather than a confusing one
 * about the hour field.
 */
static bool
parse_seconds(CronParser *ps, CronSchedule *out)
{
	const char *digits = ps->p;
	size_t		ndigits = 0;
	long		value = 0;
	const char *word;
	size_t		n;

	while (is_digit(digits[ndigits]))
	{
		/* stop counting past 100, keep reading: no overflow */
		if (value <= 100)
			value = value * 10 + (digits[ndigits] - '0');
		ndigits++;
	}
	word = digits + ndigits;
	while (is_blank(*word))
		word++;
	n = alnum_run(word);
	if (!word_equals(word, n, "seconds") && !word_equals(word, n, "second"))
		return fail(ps, "The interval form is \"N seconds\", N from 1 to 59.",
					"unknown unit \"%.*s\"", (int) (n > 32 ? 32 : n), word);
	if (value < 1 || value > 59)
		return fail(ps, "An interval is 1 to 59 seconds; use a cron schedule for longer periods.",
					"interval of %.*s seconds out of range",
					(int) (ndigits > 32 ? 32 : ndigits), digits);
	out->seconds = (uint8_t) value;
	ps->p = word + n;
	return true;
}

/* The five fields, separated by blanks */
static bool
parse_fields(CronParser *ps, CronSchedule *out)
{
	uint64_t	bits[NUM_FIELDS];
	int			i;

	for (i = 0; i < NUM_FIELDS; i++)
	{
		const CronField *f = &fields[i];

		if (i > 0)
		{
			if (*ps->p != '\0' && !is_blank(*ps->p))
			{
				char		what[32];

				/* parse_field stops only at a blank or the end */
				describe_byte(what, sizeof(what), ps->p);
				return fail(ps, NULL, "unexpected %s in the %s field",
							what, fields[i - 1].name);
			}
			skip_blanks(ps);
		}
		if (*ps->p == '\0')
			return fail(ps, FIELDS_SENTENCE, "missing the %s field", f->name);

		if (*ps->p == '*')
		{
			if (i == FIELD_DOM)
				out->flags |= CRON_DOM_STAR;
			else if (i == FIELD_DOW)
				out->flags |= CRON_DOW_STAR;
			else if (i == FIELD_HOUR)
				out->flags |= CRON_HOUR_STAR;
		}

		if (*ps->p == '$')
		{
			if (i != FIELD_DOM)
				return fail(ps, "\"$\" (the last day of the month) is allowed only in the day of month field.",
							"unexpected \"$\" in the %s field", f->name);
			ps->p++;
			if (*ps->p != '\0' && !is_blank(*ps->p))
			{
				char		what[32];

				describe_byte(what, sizeof(what), ps->p);
				return fail(ps, "\"$\" (the last day of the month) stands alone in the day of month field.",
							"unexpected %s after \"$\" in the day of month field",
							what);
			}
			out->flags |= CRON_DOM_LAST;
			bits[i] = 0;
			continue;
		}

		if (!parse_field(ps, f, &bits[i]))
			return false;
	}

	out->minutes = bits[FIELD_MINUTE];
	out->hours = (uint32_t) bits[FIELD_HOUR];
	out->days = (uint32_t) bits[FIELD_DOM];
	out->months = (uint16_t) bits[FIELD_MONTH];
	/* 7 is another name for Sunday */
	out->weekdays = (uint8_t) ((bits[FIELD_DOW] & 0x7f) |
							   ((bits[FIELD_DOW] >> 7) & 1));
	return true;
}

/*
 * One field: item[,item...], an item being "*", a value or a range a-b,
 * optionally with a step /n ("*\/n", "a-b/n"; a single value takes no
 * step, as in Vixie cron).  Sets bit v of *bits for each value v.  Stops at
 * a blank or the end of the text; anything else is an error.
 */
static bool
parse_field(CronParser *ps, const CronField *f, uint64_t *bits)
{
	*bits = 0;
	for (;;)
	{
		const char *item = ps->p;
		int			first;
		int			last;
		int			step = 1;
		bool		range;
		int			v;

		if (*ps->p == '*')
		{
			first = f->low;
			last = f->high;
			range = true;
			ps->p++;
		}
		else
		{
			if (!parse_value(ps, f, &first))
				return false;
			last = first;
			range = false;
			if (*ps->p == '-')
			{
				ps->p++;
				if (!parse_value(ps, f, &last))
					return false;
				range = true;
				if (last < first)
					return fail(ps, "A range a-b needs a <= b; ranges do not wrap around.",
								"backwards range \"%.*s\" in the %s field",
								(int) (ps->p - item), item, f->name);
			}
		}

		if (*ps->p == '/')
		{
			if (!range)
				return fail(ps, "A step applies to * or to a range, as in */15 or 0-30/5.",
							"step without a range in the %s field", f->name);
			ps->p++;
			if (!parse_step(ps, f, &step))
				return false;
		}

		for (v = first; v <= last; v += step)
			*bits |= UINT64_C(1) << v;

		if (*ps->p == ',')
		{
			ps->p++;
			continue;
		}
		if (*ps->p == '\0' || is_blank(*ps->p))
			return true;
		{
			char		what[32];

			describe_byte(what, sizeof(what), ps->p);
			return fail(ps, f->allowed, "unexpected %s in the %s field",
						what, f->name);
		}
	}
}

/*
 * A value: decimal digits, or (in the month and day of week fields) a
 * 3-letter name, case-insensitive.  The whole run of letters and digits is
 * taken, so "5a" or "monday" is an error, not "5" or "mon" and junk.
 */
static bool
parse_value(CronParser *ps, const CronField *f, int *value)
{
	const char *tok = ps->p;
	size_t		n = alnum_run(tok);
	int			shown = (int) (n > 32 ? 32 : n);
	size_t		i;

	if (n == 0)
	{
		char		what[32];

		if (*tok == '\0' || *tok == ',' || is_blank(*tok))
			return fail(ps, f->allowed, "missing value in the %s field",
						f->name);
		describe_byte(what, sizeof(what), tok);
		return fail(ps, f->allowed, "unexpected %s in the %s field",
					what, f->name);
	}

	if (is_digit(tok[0]))
	{
		long		v = 0;

		for (i = 0; i < n; i++)
		{
			if (!is_digit(tok[i]))
				return fail(ps, f->allowed, "invalid value \"%.*s\" in the %s field",
							shown, tok, f->name);
			/* stop growing past 1000: out of range anyway, and no overflow */
			if (v <= 1000)
				v = v * 10 + (tok[i] - '0');
		}
		if (v < f->low || v > f->high)
			return fail(ps, f->allowed, "value %.*s out of range in the %s field",
						shown, tok, f->name);
		*value = (int) v;
		ps->p += n;
		return true;
	}

	if (f->names != NULL)
	{
		for (i = 0; f->names[i] != NULL; i++)
		{
			if (word_equals(tok, n, f->names[i]))
			{
				*value = f->name_base + (int) i;
				ps->p += n;
				return true;
			}
		}
		return fail(ps, f->allowed, "unknown name \"%.*s\" in the %s field",
					shown, tok, f->name);
	}
	return fail(ps, f->allowed, "invalid value \"%.*s\" in the %s field",
				shown, tok, f->name);
}

/* A step: decimal digits, from 1 to the field's largest value */
static bool
parse_step(CronParser *ps, const CronField *f, int *step)
{
	const char *tok = ps->p;
	size_t		n = alnum_run(tok);
	int			shown = (int) (n > 32 ? 32 : n);
	char		detail[80];
	long		v = 0;
	size_t		i;

	snprintf(detail, sizeof(detail), "A step is 1 to %d in the %s field.",
			 f->high, f->name);
	if (n == 0)
	{
		char		what[32];

		if (*tok == '\0' || *tok == ',' || is_blank(*tok))
			return fail(ps, detail, "missing step in the %s field", f->name);
		describe_byte(what, sizeof(what), tok);
		return fail(ps, detail, "unexpected %s after \"/\" in the %s field",
					what, f->name);
	}
	for (i = 0; i < n; i++)
	{
		if (!is_digit(tok[i]))
			return fail(ps, detail, "invalid step \"%.*s\" in the %s field",
						shown, tok, f->name);
		if (v <= 1000)
			v = v * 10 + (tok[i] - '0');
	}
	if (v < 1 || v > f->high)
		return fail(ps, detail, "step %.*s in the %s field",
					shown, tok, f->name);
	*step = (int) v;
	ps->p += n;
	return true;
}

/* Days in a month of the proleptic Gregorian calendar */
static inline bool
is_leap(int64_t year)
{
	return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static inline int
days_in_month(int64_t year, int month)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return (month == 2 && is_leap(year)) ? 29 : days[month - 1];
}

/*
 * Refuse a schedule that can never fire.  When both day fields must match
 * (one of them starts with "*"), the weekday does not matter: over the
 * 400-year Gregorian cycle every date falls on every weekday, 29 February
 * included.  So the schedule fires if some allowed month has some allowed
 * day (or "$").  When either day field may match, it always fires.
 */
static bool
check_fires(CronParser *ps, const CronSchedule *s)
{
	int			m;
	int			d;

	if (s->seconds > 0 || (s->flags & CRON_DOM_LAST))
		return true;
	if ((s->flags & (CRON_DOM_STAR | CRON_DOW_STAR)) == 0)
		return true;
	for (m = 1; m <= 12; m++)
	{
		if (!(s->months & (1u << m)))
			continue;
		for (d = 1; d <= days_in_month(2000, m); d++)	/* 2000: leap */
			if (s->days & (UINT32_C(1) << d))
				return true;
	}
	return fail(ps, "February has at most 29 days; April, June, September and November have 30.",
				"the schedule never fires: no day of the day of month field exists in the months of the month field");
}

/*
 * Days since 1970-01-01 of a date of the proleptic Gregorian calendar, and
 * back (the well-known era/day-of-era method: 400-year eras starting on
 * 1 March, so that the leap day ends the year).
 */
static int64_t
days_from_civil(int64_t year, int month, int day)
{
	int64_t		y = year - (month <= 2);
	int64_t		era = floor_div(y, 400);
	int64_t		yoe = y - era * 400;
	int64_t		doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
	int64_t		doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t days, int64_t *year, int *month, int *day)
{
	int64_t		z = days + 719468;
	int64_t		era = floor_div(z, 146097);
	int64_t		doe = z - era * 146097;
	int64_t		yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t		doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t		mp = (5 * doy + 2) / 153;

	*day = (int) (doy - (153 * mp + 2) / 5 + 1);
	*month = (int) (mp < 10 ? mp + 3 : mp - 9);
	*year = yoe + era * 400 + (*month <= 2);
}

/* The smallest n >= from with bit n set in mask, or -1 */
static inline int
next_bit(uint64_t mask, int from)
{
	if (from >= 64)
		return -1;
	mask &= ~UINT64_C(0) << from;
	return mask ? __builtin_ctzll(mask) : -1;
}

/*
 * Does the date match the day fields?  Both must match when either starts
 * with "*" (the wildcard one always does, unless it has a step); otherwise
 * either is enough (Vixie cron).  days is the date as days since the epoch,
 * for the weekday (1970-01-01 was a Thursday).
 */
static bool
day_matches(const CronSchedule *s, int64_t year, int month, int day,
			int64_t days)
{
	bool		dom = (s->days & (UINT32_C(1) << day)) != 0 ||
	((s->flags & CRON_DOM_LAST) && day == days_in_month(year, month));
	bool		dow = (s->weekdays & (1u << floor_mod(days + 4, 7))) != 0;

	if (s->flags & (CRON_DOM_STAR | CRON_DOW_STAR))
		return dom && dow;
	return dom || dow;
}

/*
 * The first whole minute L with from <= L < until that matches the
 * schedule, as a calendar of its own (no time zone: the caller maps its
 * local time to seconds since the epoch as if it were UTC), or NO_MINUTE.  Walks
 * months, days, hours and minutes in that order, jumping to the next
 * allowed value of each.
 */
static int64_t
next_local_minute(const CronSchedule *s, int64_t from, int64_t until)
{
	int64_t		start = floor_div(from, 60) * 60;
	int64_t		days;
	int64_t		year;
	int			month;
	int			day;
	int			hour;
	int			minute;

	if (start < from)
		start += 60;
	if (start >= until)
		return NO_MINUTE;

	days = floor_div(start, DAY_SECS);
	hour = (int) (floor_mod(start, DAY_SECS) / 3600);
	minute = (int) (floor_mod(start, 3600) / 60);
	civil_from_days(days, &year, &month, &day);

	for (;;)
	{
		int64_t		t = days * DAY_SECS + hour * 3600 + minute * 60;
		int			next;

		if (t >= until)
			return NO_MINUTE;

		if (!(s->months & (1u << month)))
		{
			/* the next allowed month, this year or the next */
			next = next_bit(s->months, month + 1);
			if (next < 0)
			{
				year++;
				next = next_bit(s->months, 1);
			}
			month = next;
			day = 1;
			hour = minute = 0;
			days = days_from_civil(year, month, day);
			continue;
		}

		if (!day_matches(s, year, month, day, days))
		{
			days++;
			if (++day > days_in_month(year, month))
			{
				day = 1;
				if (++month > 12)
				{
					month = 1;
					year++;
				}
			}
			hour = minute = 0;
			continue;
		}

		if (!(s->hours & (UINT32_C(1) << hour)))
		{
			next = next_bit(s->hours, hour + 1);
			if (next < 0)
			{
				/* no allowed hour left today: start of the next day */
				minute = 0;
				goto next_day;
			}
			hour = next;
			minute = 0;
			continue;
		}

		next = next_bit(s->minutes, minute);
		if (next == minute)
			return t;
		if (next > 0)
		{
			minute = next;
			continue;
		}
		/* no allowed minute left in this hour */
		minute = 0;
		if (++hour < 24)
			continue;

next_day:
		hour = 0;
		days++;
		if (++day > days_in_month(year, month))
		{
			day = 1;
			if (++month > 12)
			{
				month = 1;
				year++;
			}
		}
	}
}

/*
 * Is *s something cron_parse could have produced?  A schedule read from
 * storage or built by hand must not send the calendar walk out of its
 * tables (month 0) or round forever (no allowed minute).
 */
static bool
schedule_is_valid(const CronSchedule *s)
{
	if (s->seconds > 0)
		return s->seconds <= 59;
	return s->minutes != 0 && (s->minutes >> 60) == 0 &&
		s->hours != 0 && (s->hours >> 24) == 0 &&
		(s->days & 1) == 0 &&
		(s->months & 0x1ffe) != 0 && (s->months & ~0x1ffe) == 0 &&
		(s->weekdays >> 7) == 0 &&
		(s->days != 0 || (s->flags & CRON_DOM_LAST) || s->weekdays != 0);
}

/* Unix seconds to CronTime */
static inline CronTime
to_cron_time(int64_t unix_secs)
{
	return (unix_secs - UNIX_TO_CRON_EPOCH) * SEC_USECS;
}

/*
 * The next fire time.  See cron.h.
 *
 * All arithmetic is in whole seconds since the Unix epoch: "lb", the first
 * whole second strictly after "after", is the earliest possible answer.
 */
CronTime
cron_next_in_zone(const CronSchedule *s, const CronZone *zone, CronTime after)
{
	int64_t		lb;
	int64_t		end;
	int64_t		limit;
	int64_t		t;
	bool		have_prev = false;
	int32_t		prev_off = 0;
	int			segments;

	if (after < CRON_TIME_MIN || after >= CRON_TIME_END)
		return CRON_NO_TIME;
	if (!schedule_is_valid(s))
		return CRON_NO_TIME;
	lb = floor_div(after, SEC_USECS) + 1 + UNIX_TO_CRON_EPOCH;
	end = CRON_TIME_END / SEC_USECS + UNIX_TO_CRON_EPOCH;
	limit = lb + SEARCH_SECS;
	if (limit > end)
		limit = end;

	if (s->seconds > 0)
	{
		/* seconds 0, N, 2N... of each minute */
		int64_t		minute = floor_div(lb, 60) * 60;
		int64_t		into = lb - minute;
		int64_t		next = (into + s->seconds - 1) / s->seconds * s->seconds;

		t = (next >= 60) ? minute + 60 : minute + next;
		return (t < end) ? to_cron_time(t) : CRON_NO_TIME;
	}

	if (zone == NULL || zone->offset == NULL)
	{
		int64_t		local = next_local_minute(s, lb, limit);

		return (local == NO_MINUTE) ? CRON_NO_TIME : to_cron_time(local);
	}

	/*
	 * Walk the zone's segments (stretches of constant offset), starting two
	 * days early so that a backward change shortly before lb is seen: the
	 * local times it repeats may lie after lb.
	 */
	t = lb - 2 * DAY_SECS;
	for (segments = 0; segments < MAX_SEGMENTS; segments++)
	{
		int64_t		seg_end = INT64_MAX;
		int32_t		off = zone->offset(zone->arg, t, &seg_end);
		int64_t		lo = (t > lb) ? t : lb;
		int32_t		next_off;
		int64_t		unused;

		if (off < -MAX_ZONE_OFFSET || off > MAX_ZONE_OFFSET)
			return CRON_NO_TIME;
		if (seg_end <= t || seg_end > limit)
			seg_end = limit;

		if (seg_end > lo)
		{
			int64_t		from = lo + off;
			int64_t		local;

			/*
			 * After a backward change, the local times between the new and
			 * the old offset occur for the second time: they have fired
			 * already, unless the hour field is a wildcard (see cron.h).
			 */
			if (have_prev && prev_off > off &&
				!(s->flags & CRON_HOUR_STAR) && from < t + prev_off)
				from = t + prev_off;
			local = next_local_minute(s, from, seg_end + off);
			if (local != NO_MINUTE)
				return to_cron_time(local - off);
		}

		if (seg_end >= limit)
			return CRON_NO_TIME;

		/*
		 * A forward change skips the local times between the old and the
		 * new offset: if one of them matches, fire at the change itself,
		 * the first instant after the gap.
		 */
		next_off = zone->offset(zone->arg, seg_end, &unused);
		if (next_off > off && next_off <= MAX_ZONE_OFFSET && seg_end >= lb &&
			next_local_minute(s, seg_end + off, seg_end + next_off) != NO_MINUTE)
			return to_cron_time(seg_end);

		have_prev = true;
		prev_off = off;
		t = seg_end;
	}
	return CRON_NO_TIME;
}
