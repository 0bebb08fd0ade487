/*-------------------------------------------------------------------------
 *
 * cron_diff.c
 *	  Differential test of the cron core (src/cron.c) against brute force.
 *
 * A seeded generator writes random valid schedules and, on the side,
 * the sets of minutes, hours, days... each one stands for, computed here
 * without the parser.  For each schedule and a random start time:
 *
 *	- cron_parse must produce exactly those sets (and refuse the schedule
 *	  exactly when its days can never occur);
 *	- cron_next_in_zone must agree with a brute-force search that tries
 *	  every minute of every matching day (every second for "N seconds"),
 *	  using libc's gmtime_r for the calendar, twice in a row (the second
 *	  time from the first answer);
 *	- in synthetic time zones with random offset changes (forward and
 *	  backward, of 30 minutes to a day), it must agree with a brute force
 *	  that applies the definition of cron.h minute by minute: a matching
 *	  local time fires unless it is the second occurrence of that local
 *	  time (and the hour field is not a wildcard), and a forward change
 *	  fires when a matching local time falls in its gap.
 *
 * Also checks that schedules broken on purpose (a value out of range, a
 * step of 0, a backwards range, an unknown name, junk) are refused with a
 * message naming the right field.
 *
 * Prints "cron_diff: N cases, M mismatches" and exits non-zero, after
 * printing each counterexample (up to 20), if M > 0.
 *
 * Usage: cron_diff [seed [cases]]
 *
 *-------------------------------------------------------------------------
 */
#define _DEFAULT_SOURCE

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cron.h"

#define UNIX_TO_CRON_EPOCH	INT64_C(946684800)
#define NONE				INT64_MIN

/* What a generated schedule stands for, computed by the generator */
typedef struct Expect
{
	bool		minute[60];
	bool		hour[24];
	bool		dom[32];
	bool		month[13];
	bool		dow[8];			/* 7 is folded into 0 before use */
	bool		dom_star;
	bool		dow_star;
	bool		hour_star;
	bool		dom_last;
	int			seconds;
} Expect;

/* A synthetic zone: off[i] holds from at[i - 1] (or forever) to at[i] */
#define MAX_CHANGES 64
typedef struct SynthZone
{
	int			n;
	int64_t		at[MAX_CHANGES];
	int32_t		off[MAX_CHANGES + 1];
} SynthZone;

static uint64_t rng;
static int	mismatches;
static int	reported;

/* How often the zone cases met each rule (to show they are exercised) */
static int	fired_in_gap;
static int	repeat_skipped;
static int	repeat_fired;
static int	beyond_horizon;

/* splitmix64: small, deterministic, good enough */
static uint64_t
rnd(void)
{
	uint64_t	z = (rng += UINT64_C(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/* uniform in [lo, hi] */
static int64_t
rnd_range(int64_t lo, int64_t hi)
{
	return lo + (int64_t) (rnd() % (uint64_t) (hi - lo + 1));
}

static bool
chance(int percent)
{
	return rnd_range(1, 100) <= percent;
}

static int64_t
floor_div(int64_t a, int64_t b)
{
	int64_t		q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* ---- generator ------------------------------------------------------- */

static const char *const months[] = {"jan", "feb", "mar", "apr", "may", "jun",
"jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const weekdays[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

static const int lows[5] = {0, 0, 1, 1, 0};
static const int highs[5] = {59, 23, 31, 12, 7};

/* Append a value of field f, sometimes as a name in random case */
static void
put_value(char *buf, int f, int v)
{
	char		tmp[16];

	if ((f == 3 || (f == 4 && v <= 6)) && chance(30))
	{
		const char *name = (f == 3) ? months[v - 1] : weekdays[v];
		int			i;

		for (i = 0; i < 3; i++)
			tmp[i] = chance(50) ? name[i] - 'a' + 'A' : name[i];
		tmp[3] = '\0';
	}
	else if (chance(10))
		snprintf(tmp, sizeof(tmp), "0%d", v);
	else
		snprintf(tmp, sizeof(tmp), "%d", v);
	strcat(buf, tmp);
}

/* Append a random field f to buf and mark its values in set[] */
static void
gen_field(char *buf, int f, bool *set, bool *star, bool *last)
{
	int			lo = lows[f];
	int			hi = highs[f];
	int			v;
	int			items;
	int			i;

	*star = false;
	if (last)
		*last = false;
	if (f == 2 && chance(8))
	{
		strcat(buf, "$");
		*last = true;
		return;
	}
	if (chance(25))
	{
		strcat(buf, "*");
		*star = true;
		for (v = lo; v <= hi; v++)
			set[v] = true;
		return;
	}
	if (chance(15))
	{
		int			step = (int) rnd_range(1, hi);
		char		tmp[16];

		snprintf(tmp, sizeof(tmp), "*/%d", step);
		strcat(buf, tmp);
		*star = true;
		for (v = lo; v <= hi; v += step)
			set[v] = true;
		return;
	}

	items = (int) rnd_range(1, 3);
	for (i = 0; i < items; i++)
	{
		int			a = (int) rnd_range(lo, hi);

		if (i > 0)
			strcat(buf, ",");
		if (i > 0 && chance(5))
		{
			strcat(buf, "*");
			for (v = lo; v <= hi; v++)
				set[v] = true;
			continue;
		}
		if (chance(40))
		{
			int			b = (int) rnd_range(a, hi);
			int			step = 1;

			put_value(buf, f, a);
			strcat(buf, "-");
			put_value(buf, f, b);
			if (chance(50))
			{
				char		tmp[16];

				step = (int) rnd_range(1, hi);
				snprintf(tmp, sizeof(tmp), "/%d", step);
				strcat(buf, tmp);
			}
			for (v = a; v <= b; v += step)
				set[v] = true;
		}
		else
		{
			put_value(buf, f, a);
			set[a] = true;
		}
	}
}

static void
put_blanks(char *buf)
{
	static const char *const blanks[] = {" ", " ", " ", "  ", "\t", " \t "};

	strcat(buf, blanks[rnd_range(0, 5)]);
}

/*
 * A random valid schedule in text, and what it means in *e.  With
 * frequent, months are all allowed (so that it fires within about two
 * months: the zone brute force walks minute by minute).
 */
static void
gen_schedule(char *text, Expect *e, bool frequent)
{
	static const char *const kw[] = {"yearly", "annually", "monthly",
	"weekly", "daily", "midnight", "hourly"};
	int			f;

	memset(e, 0, sizeof(*e));
	text[0] = '\0';
	if (chance(15))
		put_blanks(text);
	if (chance(10))
		strcat(text, chance(50) ? "TZ=Etc/UTC " : "CRON_TZ=UTC\t");

	if (chance(4))
	{
		int			n = (int) rnd_range(1, 59);
		static const char *const units[] = {"seconds", "second", "SECONDS",
		"Seconds", "sEcOnDs"};
		char		tmp[40];

		snprintf(tmp, sizeof(tmp), "%d%s%s", n, chance(20) ? "" : " ",
				 units[rnd_range(0, 4)]);
		strcat(text, tmp);
		e->seconds = n;
	}
	else if (chance(5))
	{
		int			k = (int) rnd_range(0, 6);

		strcat(text, "@");
		strcat(text, kw[k]);
		e->minute[0] = true;
		if (k == 6)
		{
			memset(e->hour, true, sizeof(e->hour));
			e->hour_star = true;
		}
		else
			e->hour[0] = true;
		memset(e->month + 1, true, 12);
		memset(e->dow, true, sizeof(e->dow));
		memset(e->dom + 1, true, 31);
		e->dom_star = e->dow_star = true;
		if (k <= 1)
		{
			memset(e->month, false, sizeof(e->month));
			e->month[1] = true;
		}
		if (k <= 2)
		{
			memset(e->dom, false, sizeof(e->dom));
			e->dom[1] = true;
			e->dom_star = false;
		}
		if (k == 3)
		{
			memset(e->dow, false, sizeof(e->dow));
			e->dow[0] = true;
			e->dow_star = false;
		}
	}
	else
	{
		for (f = 0; f < 5; f++)
		{
			bool		star;

			if (f > 0)
				put_blanks(text);
			switch (f)
			{
				case 0:
					gen_field(text, f, e->minute, &star, NULL);
					break;
				case 1:
					gen_field(text, f, e->hour, &e->hour_star, NULL);
					break;
				case 2:
					gen_field(text, f, e->dom, &e->dom_star, &e->dom_last);
					break;
				case 3:
					if (frequent)
					{
						strcat(text, chance(50) ? "*" : "1-12");
						memset(e->month + 1, true, 12);
					}
					else
						gen_field(text, f, e->month, &star, NULL);
					break;
				case 4:
					gen_field(text, f, e->dow, &e->dow_star, NULL);
					break;
			}
		}
	}
	if (chance(15))
		put_blanks(text);
	if (e->dow[7])
		e->dow[0] = true;
}

/* Can the schedule ever fire?  Decided by trying every date of 2000-2399 */
static bool
expect_fires(const Expect *e)
{
	int64_t		day;

	if (e->seconds > 0)
		return true;
	for (day = 10957; day < 10957 + 146097; day++)
	{
		time_t		t = (time_t) (day * 86400);
		time_t		t2 = t + 86400;
		struct tm	tm;
		struct tm	tm2;
		bool		dom;
		bool		dow;

		gmtime_r(&t, &tm);
		gmtime_r(&t2, &tm2);
		if (!e->month[tm.tm_mon + 1])
			continue;
		dom = e->dom[tm.tm_mday] || (e->dom_last && tm2.tm_mday == 1);
		dow = e->dow[tm.tm_wday];
		if ((e->dom_star || e->dow_star) ? (dom && dow) : (dom || dow))
			return true;
	}
	return false;
}

/* Does the parsed schedule hold exactly the generated sets? */
static bool
same_sets(const CronSchedule *s, const Expect *e)
{
	int			v;
	int			flags = 0;

	if (s->seconds != e->seconds)
		return false;
	if (e->seconds > 0)
		return true;
	for (v = 0; v < 60; v++)
		if (((s->minutes >> v) & 1) != e->minute[v])
			return false;
	for (v = 0; v < 24; v++)
		if (((s->hours >> v) & 1) != e->hour[v])
			return false;
	for (v = 0; v < 32; v++)
		if (((s->days >> v) & 1) != (v > 0 && e->dom[v]))
			return false;
	for (v = 0; v < 13; v++)
		if (((s->months >> v) & 1) != (v > 0 && e->month[v]))
			return false;
	for (v = 0; v < 7; v++)
		if (((s->weekdays >> v) & 1) != e->dow[v])
			return false;
	if (e->dom_star)
		flags |= CRON_DOM_STAR;
	if (e->dow_star)
		flags |= CRON_DOW_STAR;
	if (e->hour_star)
		flags |= CRON_HOUR_STAR;
	if (e->dom_last)
		flags |= CRON_DOM_LAST;
	return s->flags == flags;
}

/* ---- brute force ----------------------------------------------------- */

/* Does day (days since 1970-01-01) match the day and month fields? */
static bool
day_ok(const Expect *e, int64_t day)
{
	time_t		t = (time_t) (day * 86400);
	time_t		t2 = t + 86400;
	struct tm	tm;
	struct tm	tm2;
	bool		dom;
	bool		dow;

	gmtime_r(&t, &tm);
	if (!e->month[tm.tm_mon + 1])
		return false;
	gmtime_r(&t2, &tm2);
	dom = e->dom[tm.tm_mday] || (e->dom_last && tm2.tm_mday == 1);
	dow = e->dow[tm.tm_wday];
	return (e->dom_star || e->dow_star) ? (dom && dow) : (dom || dow);
}

/* Does the local time (seconds, a whole minute) match? */
static bool
local_matches(const Expect *e, int64_t local)
{
	int64_t		day = floor_div(local, 86400);
	int			m = (int) ((local - day * 86400) / 60);

	return e->hour[m / 60] && e->minute[m % 60] && day_ok(e, day);
}

/* First fire time >= lb (Unix seconds) in UTC, or NONE */
static int64_t
brute_utc(const Expect *e, int64_t lb)
{
	int64_t		m0;
	int64_t		day0;
	int64_t		day;

	if (e->seconds > 0)
	{
		int64_t		s;

		for (s = lb;; s++)
			if ((s - floor_div(s, 60) * 60) % e->seconds == 0)
				return s;
	}
	m0 = floor_div(lb + 59, 60) * 60;
	day0 = floor_div(m0, 86400);
	for (day = day0; day < day0 + 401 * 366; day++)
	{
		int			m;

		if (!day_ok(e, day))
			continue;
		for (m = (day == day0) ? (int) ((m0 - day * 86400) / 60) : 0;
			 m < 1440; m++)
			if (e->hour[m / 60] && e->minute[m % 60])
				return day * 86400 + m * 60;
	}
	return NONE;
}

static int32_t
synth_offset_at(const SynthZone *z, int64_t t)
{
	int			i = 0;

	while (i < z->n && t >= z->at[i])
		i++;
	return z->off[i];
}

/* The zone callback that cron_next_in_zone uses */
static int32_t
synth_callback(void *arg, int64_t t, int64_t *next_change)
{
	const SynthZone *z = arg;
	int			i = 0;

	while (i < z->n && t >= z->at[i])
		i++;
	*next_change = (i < z->n) ? z->at[i] : INT64_MAX;
	return z->off[i];
}

/* Is local time L, reached at instant u, reached at some earlier instant? */
static bool
second_occurrence(const SynthZone *z, int64_t u, int64_t local)
{
	int			i;

	for (i = 0; i <= z->n; i++)
	{
		int64_t		u2 = local - z->off[i];

		if (u2 < u && synth_offset_at(z, u2) == z->off[i])
			return true;
	}
	return false;
}

/*
 * First fire time >= lb in zone z by the definition in cron.h, looking at
 * most horizon seconds ahead; NONE if there is none that soon.  Offsets
 * and changes are whole minutes, so every fire time is a whole minute.
 */
static int64_t
brute_zone(const Expect *e, const SynthZone *z, int64_t lb, int64_t horizon)
{
	int64_t		u;

	for (u = floor_div(lb + 59, 60) * 60; u < lb + horizon; u += 60)
	{
		int			i;
		int64_t		local;

		for (i = 0; i < z->n; i++)
		{
			if (z->at[i] == u && z->off[i + 1] > z->off[i])
			{
				int64_t		g;

				for (g = u + z->off[i]; g < u + z->off[i + 1]; g += 60)
					if (local_matches(e, g))
					{
						fired_in_gap++;
						return u;
					}
			}
		}
		local = u + synth_offset_at(z, u);
		if (local_matches(e, local))
		{
			if (!second_occurrence(z, u, local))
				return u;
			if (e->hour_star)
			{
				repeat_fired++;
				return u;
			}
			repeat_skipped++;
		}
	}
	return NONE;
}

/* A random zone with changes every 2 to 40 days around lb */
static void
gen_zone(SynthZone *z, int64_t lb)
{
	static const int32_t bases[] = {0, 3600, -18000, 19800, 20700, -34200,
	46800, -36000, 7200};
	int64_t		t = lb - rnd_range(0, 4 * 86400);
	int			sign = chance(50) ? 1 : -1;
	int			i;

	z->off[0] = bases[rnd_range(0, 8)];
	z->n = (int) rnd_range(1, 30);
	for (i = 0; i < z->n; i++)
	{
		int32_t		delta;
		int64_t		gap = 2 * 86400;

		switch (rnd_range(0, 9))
		{
			case 0:
				delta = 1800;
				break;
			case 1:
				delta = 7200;
				break;
			case 2:
				delta = 86400;
				gap = 3 * 86400;
				break;
			case 3:
				delta = 0;
				break;
			default:
				delta = 3600;
				break;
		}
		/* mostly alternate like DST; sometimes change twice the same way */
		if (chance(85))
			sign = -sign;
		if (z->off[i] + sign * delta > 14 * 3600 ||
			z->off[i] + sign * delta < -12 * 3600)
			sign = -sign;
		if (z->off[i] + sign * delta > 14 * 3600 ||
			z->off[i] + sign * delta < -12 * 3600)
		{
			/* a day's jump fits neither way: an hour back towards UTC */
			delta = 3600;
			sign = (z->off[i] > 0) ? -1 : 1;
		}

		/* like real DST rules, often at a whole local hour */
		t = floor_div(t, 60) * 60;
		if (chance(60))
			t = floor_div(t + z->off[i], 3600) * 3600 - z->off[i];
		z->at[i] = t;
		z->off[i + 1] = z->off[i] + sign * delta;
		t += gap + rnd_range(0, 38 * 86400);
	}
}

/* ---- driver ---------------------------------------------------------- */

static void
report(const char *what, const char *text, CronTime after, int64_t got,
	   int64_t want, const SynthZone *z)
{
	mismatches++;
	if (++reported > 20)
		return;
	printf("MISMATCH (%s): schedule \"%s\" after %" PRId64 " (unix %" PRId64
		   ".%06" PRId64 "): got %" PRId64 ", want %" PRId64 "\n",
		   what, text, after,
		   floor_div(after, 1000000) + UNIX_TO_CRON_EPOCH,
		   after - floor_div(after, 1000000) * 1000000, got, want);
	if (z)
	{
		int			i;

		printf("  zone: offset %d", z->off[0]);
		for (i = 0; i < z->n; i++)
			printf(", at %" PRId64 " -> %d", z->at[i], z->off[i + 1]);
		printf("\n");
	}
}

/* A random start time, in CronTime, between 1600 and 2600 */
static CronTime
gen_after(void)
{
	int64_t		secs;
	int64_t		usecs = 0;

	if (chance(70))
		/* 1990 to 2100: where schedules are used */
		secs = rnd_range(631152000, 4102444800);
	else
		secs = rnd_range(INT64_C(-11676096000), INT64_C(19880899200));
	if (chance(20))
		secs = floor_div(secs, 60) * 60;	/* on a minute */
	else if (chance(50))
		usecs = rnd_range(0, 999999);
	return (secs - UNIX_TO_CRON_EPOCH) * 1000000 + usecs;
}

/* Unix seconds of the first whole second strictly after a CronTime */
static int64_t
lower_bound(CronTime after)
{
	return floor_div(after, 1000000) + 1 + UNIX_TO_CRON_EPOCH;
}

static CronTime
unix_to_cron(int64_t secs)
{
	return (secs - UNIX_TO_CRON_EPOCH) * 1000000;
}

/* One UTC case: parse, compare the sets, then two next times */
static void
utc_case(void)
{
	char		text[1024];
	Expect		e;
	CronSchedule s;
	CronError	err;
	CronTime	after = gen_after();
	bool		fires;
	int			link;

	gen_schedule(text, &e, false);
	fires = expect_fires(&e);
	if (cron_parse(text, &s, &err) != fires)
	{
		report(fires ? "parse refused a valid schedule" :
			   "parse accepted a schedule that never fires",
			   text, 0, 0, 0, NULL);
		if (reported <= 20)
			printf("  error: %s\n", err.message);
		return;
	}
	if (!fires)
		return;
	if (!same_sets(&s, &e))
	{
		report("parsed sets differ", text, 0, 0, 0, NULL);
		return;
	}
	for (link = 0; link < 2; link++)
	{
		CronTime	got = cron_next_in_zone(&s, NULL, after);
		int64_t		want = brute_utc(&e, lower_bound(after));
		CronTime	want_t = (want == NONE) ? CRON_NO_TIME : unix_to_cron(want);

		if (got != want_t)
		{
			report("utc", text, after, got, want_t, NULL);
			return;
		}
		if (got == CRON_NO_TIME)
			return;
		after = got;
	}
}

/* One case in a synthetic zone */
static void
zone_case(void)
{
	char		text[1024];
	Expect		e;
	CronSchedule s;
	SynthZone	z;
	CronZone	zone;
	CronTime	after;
	int			link;
	const int64_t horizon = 100 * 86400;

	do
		gen_schedule(text, &e, true);
	while (!expect_fires(&e));
	if (!cron_parse(text, &s, NULL))
	{
		report("parse refused a valid schedule", text, 0, 0, 0, NULL);
		return;
	}
	/* 1990 to 2100 */
	after = unix_to_cron(rnd_range(631152000, 4102444800));
	if (chance(50))
		after += rnd_range(0, 59999999);
	gen_zone(&z, lower_bound(after));
	/* mostly start shortly before a change, where the rules apply */
	if (chance(70))
	{
		int64_t		at = z.at[rnd_range(0, z.n - 1)];

		after = unix_to_cron(at + rnd_range(-6 * 3600, 3 * 3600));
		if (chance(50))
			after += rnd_range(0, 59999999);
	}
	zone.offset = synth_callback;
	zone.arg = &z;

	for (link = 0; link < 3; link++)
	{
		CronTime	got = cron_next_in_zone(&s, &zone, after);
		int64_t		want = (e.seconds > 0) ? brute_utc(&e, lower_bound(after)) :
		brute_zone(&e, &z, lower_bound(after), horizon);

		if (want == NONE)
		{
			/* beyond what the brute force looked at: just not sooner */
			beyond_horizon++;
			if (got != CRON_NO_TIME &&
				got < unix_to_cron(lower_bound(after) + horizon - 60))
				report("zone, beyond horizon", text, after, got, NONE, &z);
			return;
		}
		if (got != unix_to_cron(want))
		{
			report("zone", text, after, got, unix_to_cron(want), &z);
			return;
		}
		after = got;
	}
}

/*
 * A valid schedule broken in one field on purpose must be refused with a
 * message that names that field.
 */
static void
broken_case(void)
{
	static const char *const names[5] = {"minute", "hour", "day of month",
	"month", "day of week"};
	static const char *const bad[5][6] = {
		{"60", "*/0", "*/60", "30-10", "5/2", "1-5x"},
		{"24", "*/0", "*/24", "12-1", "-1", "1,"},
		{"0", "32", "*/32", "$5", "jan", "3-2"},
		{"0", "13", "*/13", "foo", "dec-jan", "1-13"},
		{"8", "*/8", "mon-sun", "monday", "1-", "*/x"},
	};
	char		fields[5][64];
	char		text[512];
	CronSchedule s;
	CronError	err;
	Expect		e;
	int			f = (int) rnd_range(0, 4);
	int			i;

	memset(&e, 0, sizeof(e));
	for (i = 0; i < 5; i++)
	{
		bool		star;
		bool		last;
		bool		set[64] = {false};

		fields[i][0] = '\0';
		gen_field(fields[i], i, set, &star, &last);
	}
	snprintf(fields[f], sizeof(fields[f]), "%s", bad[f][rnd_range(0, 5)]);
	snprintf(text, sizeof(text), "%s %s %s %s %s", fields[0], fields[1],
			 fields[2], fields[3], fields[4]);
	if (cron_parse(text, &s, &err))
		report("broken schedule accepted", text, 0, 0, 0, NULL);
	else
	{
		char		want[64];

		snprintf(want, sizeof(want), "the %s field", names[f]);
		if (strstr(err.message, want) == NULL)
		{
			report("error names the wrong field", text, 0, 0, 0, NULL);
			if (reported <= 20)
				printf("  error: %s\n", err.message);
		}
	}
}

int
main(int argc, char **argv)
{
	uint64_t	seed = (argc > 1) ? strtoull(argv[1], NULL, 0) : 20260329;
	int			cases = (argc > 2) ? atoi(argv[2]) : 20000;
	int			zone_cases = cases / 5;
	int			broken_cases = cases / 10;
	int			i;

	rng = seed;
	for (i = 0; i < cases; i++)
		utc_case();
	for (i = 0; i < zone_cases; i++)
		zone_case();
	for (i = 0; i < broken_cases; i++)
		broken_case();

	printf("cron_diff: %d cases (%d in UTC, %d in synthetic zones, %d broken on purpose), %d mismatches\n",
		   cases + zone_cases + broken_cases, cases, zone_cases, broken_cases,
		   mismatches);
	printf("cron_diff: zone rules met: %d fired at a forward change, %d repeated local times skipped, %d fired again (hour wildcard), %d beyond the %d-day horizon\n",
		   fired_in_gap, repeat_skipped, repeat_fired, beyond_horizon, 100);
	return mismatches ? 1 : 0;
}
