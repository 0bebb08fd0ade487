/*-------------------------------------------------------------------------
 *
 * cron_sql.c
 *	  The PostgreSQL side of cron schedules: errors, time zones, and the
 *	  SQL function inngest.cron_next().
 *
 * The parser and the next-fire computation are in cron.c, which uses only
 * libc so that the fuzzer and the differential test can link it alone.
 * This file turns its errors into ereport, resolves a schedule's TZ= zone
 * with PostgreSQL's time zone database (pg_tzset, pg_localtime: the same
 * data timestamptz uses), and hands the core that zone as a callback.
 *
 *-------------------------------------------------------------------------
 */
#include "inngest.h"

#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "pgtime.h"
#include "utils/builtins.h"

#include "cron.h"
#include "jsonutil.h"

PG_FUNCTION_INFO_V1(inngest_cron_next);

/* The core's time range is PostgreSQL's finite timestamptz range */
StaticAssertDecl(CRON_TIME_MIN == MIN_TIMESTAMP,
				 "cron.h and PostgreSQL disagree on the oldest timestamp");
StaticAssertDecl(CRON_TIME_END == END_TIMESTAMP,
				 "cron.h and PostgreSQL disagree on the end of timestamps");

/* Error messages quote at most this many bytes of a schedule */
#define CRON_SHOWN_BYTES	100

#define CRON_HINT "A schedule is five fields (minute hour day-of-month month day-of-week) such as \"0 9 * * 1-5\", a keyword such as @daily, or \"N seconds\"; any of them may follow TZ=Zone and a blank."

static int32_t zone_offset(void *arg, int64_t t, int64_t *next_change);

/*
 * Parse a schedule or raise an error naming what is wrong; see cron.h.
 */
void
cron_parse_or_error(const char *text, CronSchedule *out)
{
	CronError	err;

	if (!cron_parse(text, out, &err))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid cron schedule \"%s\": %s",
						inngest_clip(text, CRON_SHOWN_BYTES), err.message),
				 err.detail[0] != '\0' ? errdetail("%s", err.detail) : 0,
				 errhint(CRON_HINT)));

	/*
	 * pg_tz_acceptable refuses zones with leap seconds (right/...), as
	 * SET TIME ZONE does: timestamptz arithmetic ignores leap seconds.
	 */
	if (out->zone[0] != '\0')
	{
		pg_tz	   *tz = pg_tzset(out->zone);

		if (tz == NULL || !pg_tz_acceptable(tz))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid cron schedule \"%s\": unknown time zone \"%s\"",
							inngest_clip(text, CRON_SHOWN_BYTES), out->zone),
					 errhint("Time zones are those of pg_timezone_names, such as Europe/Paris or America/New_York.")));
	}
}

/*
 * The core's view of a PostgreSQL zone: the offset in effect at t, from
 * pg_localtime (so that the answer agrees with how timestamptz values are
 * displayed in that zone), and the next transition, from
 * pg_next_dst_boundary.
 */
static int32_t
zone_offset(void *arg, int64_t t, int64_t *next_change)
{
	const pg_tz *tz = (const pg_tz *) arg;
	pg_time_t	pt = (pg_time_t) t;
	struct pg_tm *tm;
	long int	before_gmtoff;
	long int	after_gmtoff;
	int			before_isdst;
	int			after_isdst;
	pg_time_t	boundary;

	tm = pg_localtime(&pt, tz);
	if (tm == NULL)
		elog(ERROR, "could not convert time " INT64_FORMAT " to local time", t);

	if (pg_next_dst_boundary(&pt, &before_gmtoff, &before_isdst, &boundary,
							 &after_gmtoff, &after_isdst, tz) == 1 &&
		boundary > pt)
		*next_change = boundary;
	else
		*next_change = INT64_MAX;

	return (int32_t) tm->tm_gmtoff;
}

/*
 * The next fire time of a parsed schedule strictly after "after"; see
 * cron.h.
 */
TimestampTz
cron_next_time(const CronSchedule *s, TimestampTz after)
{
	CronTime	next;

	Assert(!TIMESTAMP_NOT_FINITE(after));

	/* "N seconds" does not depend on the zone: skip loading it */
	if (s->zone[0] != '\0' && s->seconds == 0)
	{
		pg_tz	   *tz = pg_tzset(s->zone);
		CronZone	zone;

		if (tz == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown time zone \"%s\" in a cron schedule",
							s->zone),
					 errdetail("The zone was known when the schedule was parsed; the time zone database has changed since.")));
		zone.offset = zone_offset;
		zone.arg = tz;
		next = cron_next_in_zone(s, &zone, after);
	}
	else
		next = cron_next_in_zone(s, NULL, after);

	return (next == CRON_NO_TIME) ? DT_NOEND : (TimestampTz) next;
}

/*
 * inngest.cron_next(expr text, after timestamptz) RETURNS timestamptz
 *
 * The first time the schedule fires strictly after "after"; NULL if
 * "after" is infinite or the schedule does not fire again before the end
 * of the timestamptz range.  Raises an error for an invalid schedule.
 */
Datum
inngest_cron_next(PG_FUNCTION_ARGS)
{
	char	   *expr = text_to_cstring(PG_GETARG_TEXT_PP(0));
	TimestampTz after = PG_GETARG_TIMESTAMPTZ(1);
	CronSchedule schedule;
	TimestampTz next;

	/* parse first: a bad schedule is an error whatever "after" is */
	cron_parse_or_error(expr, &schedule);
	if (TIMESTAMP_NOT_FINITE(after))
		PG_RETURN_NULL();

	next = cron_next_time(&schedule, after);
	if (TIMESTAMP_NOT_FINITE(next))
		PG_RETURN_NULL();
	PG_RETURN_TIMESTAMPTZ(next);
}
