/*-------------------------------------------------------------------------
 *
 * cron.h
 *	  Cron schedules: the parser, the parsed form and the next fire time.
 *
 * Two layers:
 *
 * 1. The core (cron.c) needs only libc: no PostgreSQL header, no palloc,
 *	  no ereport.  It parses a schedule into a CronSchedule and computes the
 *	  next fire time in UTC or in a zone given as a callback.  The libFuzzer
 *	  target and the differential test (test/cron/) link it alone, built with
 *	  -DCRON_STANDALONE.
 *
 * 2. The PostgreSQL layer (cron_sql.c, declared at the end of this file
 *	  unless CRON_STANDALONE is defined) reports errors with ereport, checks
 *	  and applies TZ= zones with PostgreSQL's time zone database, and defines
 *	  the SQL function inngest.cron_next().
 *
 * Syntax (pg_cron's, which is Vixie cron's, plus Inngest's TZ= prefix):
 *
 *		[TZ=Zone ] minute hour day-of-month month day-of-week
 *		[TZ=Zone ] @yearly | @annually | @monthly | @weekly | @daily |
 *				   @midnight | @hourly
 *		[TZ=Zone ] N seconds			(N from 1 to 59; "N second" too)
 *
 * A field is a comma-separated list of items; an item is "*", a value, a
 * range "a-b", or either of those with a step ("*\/15", "1-30/5").  Values:
 * minute 0-59, hour 0-23, day of month 1-31, month 1-12 or jan-dec, day of
 * week 0-7 or sun-sat (0 and 7 are Sunday); names are case-insensitive.
 * The day of month field may instead be "$": the last day of the month.
 * When both day fields are restricted (neither starts with "*"), a day
 * matches if either matches (Vixie cron); otherwise both must match.
 * CRON_TZ= is accepted as a synonym of TZ= (robfig/cron's spelling).
 *
 * Stricter than pg_cron, on purpose: text after the fifth field, junk
 * inside a field ("*5", "1-5x"), a backwards range ("30-10", which pg_cron
 * accepts and never fires), @reboot/@restart, and schedules that can never
 * fire ("0 0 30 2 *") are errors, because a schedule that silently means
 * something else, or nothing, is worse than one that is refused.
 *
 * Time zones and daylight saving time, for a schedule with TZ=:
 *	- A local time that does not exist (02:30 on a spring-forward night)
 *	  fires once, at the first instant after the gap (03:00 local).
 *	- A local time that occurs twice (02:30 on a fall-back night) fires once,
 *	  at its first occurrence -- unless the hour field starts with "*"
 *	  ("*\/15 * * * *", "0 * * * *", @hourly): such a schedule describes a
 *	  rhythm, not a time of day, so it goes on firing through the repeated
 *	  hour instead of pausing for it (as Vixie cron does for wildcard jobs).
 *	- "N seconds" ignores the zone: it fires at seconds 0, N, 2N... of every
 *	  minute (as pg_cron does).
 *
 *-------------------------------------------------------------------------
 */
#ifndef INNGEST_CRON_H
#define INNGEST_CRON_H

#include <stdbool.h>
#include <stdint.h>

/* The longest schedule text we accept, in bytes */
#define CRON_MAX_LENGTH		1000

/* Room for a TZ= zone name and its terminating NUL */
#define CRON_ZONE_SIZE		64

/* CronSchedule.flags */
#define CRON_DOM_STAR		0x01	/* day of month field starts with '*' */
#define CRON_DOW_STAR		0x02	/* day of week field starts with '*' */
#define CRON_HOUR_STAR		0x04	/* hour field starts with '*' */
#define CRON_DOM_LAST		0x08	/* day of month is '$' */

/*
 * A parsed schedule.  Plain data of fixed size (no pointers), so that it can
 * be copied, compared with memcmp, and kept in any cache or shared memory.
 */
typedef struct CronSchedule
{
	uint64_t	minutes;		/* bit n: minute n (0-59) */
	uint32_t	hours;			/* bit n: hour n (0-23) */
	uint32_t	days;			/* bit n: day of month n (1-31) */
	uint16_t	months;			/* bit n: month n (1-12) */
	uint8_t		weekdays;		/* bit n: weekday n (0 = Sunday ... 6) */
	uint8_t		flags;			/* CRON_* above */
	uint8_t		seconds;		/* N of "N seconds" (1-59); 0 for cron */
	char		zone[CRON_ZONE_SIZE];	/* TZ= zone name; "" means UTC */
} CronSchedule;

/* Why a schedule was refused: both NUL-terminated, never truncated badly */
typedef struct CronError
{
	char		message[160];	/* what and where: "step 0 in the minute
								 * field" */
	char		detail[160];	/* a sentence saying what is allowed, or "" */
} CronError;

/*
 * Times are microseconds since 2000-01-01 00:00:00 UTC: the representation
 * of PostgreSQL's TimestampTz, so that the PostgreSQL layer passes its
 * values through unchanged.  The core handles PostgreSQL's finite range,
 * [CRON_TIME_MIN, CRON_TIME_END).
 */
typedef int64_t CronTime;

#define CRON_TIME_MIN		INT64_C(-211813488000000000)	/* 4714-11-24 BC */
#define CRON_TIME_END		INT64_C(9223371331200000000)	/* 294277-01-01 */
#define CRON_NO_TIME		INT64_MAX	/* "never": no fire time in range */

/*
 * A time zone, as the core sees it.  offset(arg, t, &next_change) returns
 * the offset from UTC in seconds (east positive) in effect at Unix time t,
 * and sets next_change to the Unix time (> t) of the next instant at which
 * the offset may change, or INT64_MAX if it never does.  Reporting a change
 * where the offset stays the same is harmless.
 */
typedef struct CronZone
{
	int32_t		(*offset) (void *arg, int64_t t, int64_t *next_change);
	void	   *arg;
} CronZone;

/*
 * cron_parse: parse text into *out.  Returns true on success; on failure
 * returns false and fills *err.  Checks the syntax of a TZ= prefix but not
 * whether the zone exists (the core has no zone database): the PostgreSQL
 * layer's cron_parse_or_error does that.
 */
extern bool cron_parse(const char *text, CronSchedule *out, CronError *err);

/*
 * cron_next_in_zone: the first fire time of *s strictly after "after", in
 * the given zone (NULL: UTC; s->zone is not looked at), or CRON_NO_TIME if
 * there is none before CRON_TIME_END (or "after" is out of range).
 */
extern CronTime cron_next_in_zone(const CronSchedule *s, const CronZone *zone,
								  CronTime after);

#ifndef CRON_STANDALONE

#include "datatype/timestamp.h"

/*
 * The PostgreSQL layer (cron_sql.c).  These are the entry points for the
 * rest of the extension:
 *
 * cron_parse_or_error: parse text into *out, or ereport(ERROR) with
 *	ERRCODE_INVALID_PARAMETER_VALUE and a message naming the bad field, e.g.
 *	invalid cron schedule "*\/0 10 * * *": step 0 in the minute field.
 *	Also refuses a TZ= zone that PostgreSQL does not know.  Allocates
 *	nothing; *out can be stored as it is (e.g. in a backend-local cache).
 *
 * cron_next_time: the first fire time of *s strictly after "after", in the
 *	schedule's zone (UTC without TZ=), or DT_NOEND if there is none before
 *	the end of the timestamptz range.  "after" must be finite.  Looks the
 *	zone up with pg_tzset, which caches loaded zones for the life of the
 *	backend, so calling this for every cached schedule at every tick is
 *	cheap; it raises an error only if the zone has vanished from the time
 *	zone database since the schedule was parsed.
 */
extern void cron_parse_or_error(const char *text, CronSchedule *out);
extern TimestampTz cron_next_time(const CronSchedule *s, TimestampTz after);

#endif							/* CRON_STANDALONE */

#endif							/* INNGEST_CRON_H */
