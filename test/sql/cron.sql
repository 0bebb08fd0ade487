--
-- cron: the schedule syntax and inngest.cron_next, the first time a
-- schedule fires strictly after a given time (parsing and next fire times
-- only; firing cron triggers is another test's business)
--
CREATE EXTENSION inngest_pg;

-- try(expr): the SQLSTATE and message of cron_next's error, or 'ok'
CREATE FUNCTION pg_temp.try(expr text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  PERFORM inngest.cron_next(expr, '2026-01-15 10:07:30+00');
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- fires(expr, after, n): the next n fire times, each in the session's zone
-- with its weekday, and in UTC
CREATE FUNCTION pg_temp.fires(expr text, after timestamptz, n int DEFAULT 3)
RETURNS text LANGUAGE sql AS $$
  WITH RECURSIVE f(i, t) AS (
    SELECT 1, inngest.cron_next(expr, after)
    UNION ALL
    SELECT i + 1, inngest.cron_next(expr, t) FROM f WHERE i < n
  )
  SELECT string_agg(to_char(t, 'Dy YYYY-MM-DD HH24:MI:SSOF') ||
                    to_char(t AT TIME ZONE 'UTC', ' "("HH24:MI:SS"Z)"'),
                    ', ' ORDER BY i)
  FROM f
$$;

SET timezone = 'UTC';

-- Every form, from Thursday 2026-01-15 10:07:30 UTC
SELECT expr, to_char(inngest.cron_next(expr, '2026-01-15 10:07:30+00'),
                     'Dy YYYY-MM-DD HH24:MI:SS') AS next
FROM (VALUES
  ('* * * * *'),
  ('*/15 * * * *'),
  ('5,35 * * * *'),
  ('0-10 * * * *'),
  ('1-30/5 * * * *'),
  ('*,5 * * * *'),
  ('0 */6 * * *'),
  ('0 9-17/2 * * *'),
  ('30 14 * * *'),
  ('05 09 * * *'),
  ('0 0 1 * *'),
  ('0 0 1,15 * *'),
  ('0 0 13 * *'),
  ('0 0 $ * *'),
  ('0 12 * jan,Jul *'),
  ('0 12 1 FEB *'),
  ('0 12 * 2-3 *'),
  ('0 0 1 jan-mar/2 *'),
  ('0 0 * * 0'),
  ('0 0 * * 7'),
  ('0 0 * * sun'),
  ('0 0 * * SUN'),
  ('0 0 * * MON-fri'),
  ('0 0 * * 5-7'),
  ('0 0 * * 0-7/2'),
  ('59 23 31 12 *'),
  ('@yearly'),
  ('@annually'),
  ('@monthly'),
  ('@weekly'),
  ('@daily'),
  ('@midnight'),
  ('@hourly'),
  ('1 second'),
  ('7 seconds'),
  ('30 seconds'),
  ('59 Seconds'),
  (' 17  SECONDS '),
  ('5seconds'),
  ('TZ=UTC 0 9 * * *'),
  ('TZ=Europe/Paris 0 9 * * *'),
  ('TZ=europe/paris 0 9 * * *'),
  ('TZ=America/New_York 0 9 * * *'),
  ('CRON_TZ=Asia/Kolkata 0 9 * * *'),
  ('TZ=Europe/Paris @daily'),
  ('TZ=Europe/Paris 10 seconds'),
  (E'\t 0   9\t*  *  * ')
) AS t(expr);

-- Rejected, each with a message that says what and where
SELECT expr, pg_temp.try(expr) AS error
FROM (VALUES
  (''),
  ('   '),
  ('* * * *'),
  ('0 0 * * * *'),
  ('0 0 * * * extra'),
  ('*/0 10 * * *'),
  ('*/60 10 * * *'),
  ('*/-1 10 * * *'),
  ('*/ * * * *'),
  ('-1 * * * *'),
  ('60 * * * *'),
  ('0 24 * * *'),
  ('0 0 0 * *'),
  ('0 0 32 * *'),
  ('* * * 13 *'),
  ('* * * 0 *'),
  ('0 0 * * 8'),
  ('*/5000000000 10 * * *'),
  ('99999999999999999999999 * * * *'),
  ('*5 * * * *'),
  ('1-5x * * * *'),
  ('5/10 * * * *'),
  ('30-10 * * * *'),
  ('0 0 1, * *'),
  ('0 0 1- * *'),
  ('0 mon * * *'),
  ('0 0 * foo *'),
  ('0 0 * * monday'),
  ('0 0 * * sat-sun'),
  ('0 0 * * */8'),
  ('0 0 * * */x'),
  ('$ * * * *'),
  ('0 11 $foo * *'),
  ('0 11 $,1 * *'),
  ('0 0 30 2 *'),
  ('0 0 31 4,6,9,11 *'),
  ('0 seconds'),
  ('60 seconds'),
  ('-1 seconds'),
  ('10000000000 seconds'),
  ('5 secondc'),
  ('50 seconds c'),
  ('@restar'),
  ('@restart'),
  ('@reboot'),
  ('@Daily'),
  ('@'),
  ('@daily 5'),
  ('TZ=Mars/Olympus 0 0 * * *'),
  ('TZ= 0 0 * * *'),
  ('TZ=Europe/Paris'),
  (E'TZ=Europe/Paris \t'),
  ('TZ=Europe/Pa"ris 0 0 * * *'),
  ('TZ=' || repeat('A', 64) || ' 0 0 * * *'),
  ('tz=Europe/Paris 0 0 * * *'),
  ('TZ=UTC TZ=UTC 0 0 * * *'),
  (E'\xc3\xa9 * * * *')
) AS t(expr);

-- The whole error: message, detail and hint
SELECT inngest.cron_next('*/0 10 * * *');
SELECT inngest.cron_next('0 0 * * * *');
SELECT inngest.cron_next('TZ=Mars/Olympus 0 0 * * *');
-- a very long schedule is quoted only in part
SELECT inngest.cron_next(repeat('* ', 600));

-- NULL in, NULL out; an infinite start has no next time; nor has a
-- schedule whose next time lies past the end of timestamptz
SELECT inngest.cron_next(NULL) IS NULL AS null_expr,
       inngest.cron_next('* * * * *', NULL) IS NULL AS null_after,
       inngest.cron_next('* * * * *', 'infinity') IS NULL AS infinity,
       inngest.cron_next('* * * * *', '-infinity') IS NULL AS minus_infinity,
       inngest.cron_next('0 0 1 1 *', '294276-06-01 00:00+00') IS NULL AS past_the_end;

-- Strictly after, to the microsecond
SELECT inngest.cron_next('* * * * *', '2026-01-01 00:00:00+00') AS on_the_minute,
       inngest.cron_next('* * * * *', '2026-01-01 00:00:59.999999+00') AS just_before,
       inngest.cron_next('15 seconds', '2026-01-01 00:00:15+00') AS on_the_second,
       inngest.cron_next('15 seconds', '2026-01-01 00:00:44.5+00') AS mid_second,
       inngest.cron_next('0 0 1 1 *', '2026-12-31 23:59:59.5+00') AS new_year;

-- "N seconds": seconds 0, N, 2N... of every minute, so the last gap of a
-- minute is shorter when N does not divide 60
SELECT pg_temp.fires('25 seconds', '2026-01-01 00:00:00+00', 5);

-- The default start is the extension's clock (inngest.fake_now)
SET inngest.fake_now = '2026-05-05 10:00:30+00';
SELECT inngest.cron_next('*/10 * * * *') AS next;
RESET inngest.fake_now;
SELECT provolatile FROM pg_proc WHERE oid = 'inngest.cron_next'::regproc;

-- Day of month OR day of week when both are restricted (Vixie cron):
-- the 13th or a Friday
SELECT pg_temp.fires('0 0 13 * 5', '2026-01-01 00:00+00', 4);
SELECT pg_temp.fires('0 0 13 * 5', '2026-02-01 00:00+00', 3);
-- the 1st or a Monday
SELECT pg_temp.fires('0 0 1 * mon', '2026-01-25 00:00+00', 4);
-- AND when one of them starts with "*": odd days that are Fridays
SELECT pg_temp.fires('0 0 */2 * 5', '2026-01-01 00:00+00', 3);
-- days 1, 11, 21, 31 that are Fridays
SELECT pg_temp.fires('0 0 */10 * 5', '2026-01-01 00:00+00', 2);
-- Fridays only
SELECT pg_temp.fires('0 0 * * 5', '2026-01-01 00:00+00', 2);
-- 7 is Sunday, alone and in ranges
SELECT pg_temp.fires('0 0 * * 7', '2026-01-01 00:00+00', 2);
SELECT pg_temp.fires('0 0 * * 5-7', '2026-01-01 00:00+00', 4);
-- the last day of the month OR a Monday
SELECT pg_temp.fires('0 0 $ * 1', '2026-01-24 00:00+00', 4);

-- Leap years: 29 February, and $ in February
SELECT pg_temp.fires('0 0 29 2 *', '2026-01-01 00:00+00', 3);
-- 2100 is not a leap year
SELECT pg_temp.fires('0 0 29 2 *', '2096-03-01 00:00+00', 2);
-- 29 February that is a Sunday (*/7 in the day of week field is 0 and 7)
SELECT pg_temp.fires('0 0 29 2 */7', '2026-01-01 00:00+00', 2);
SELECT pg_temp.fires('0 6 $ 2 *', '2027-01-01 00:00+00', 4);
SELECT pg_temp.fires('0 6 $ 2 *', '2099-06-01 00:00+00', 2);
SELECT pg_temp.fires('0 12 $ * *', '2028-01-15 00:00+00', 4);
-- 31st: only the months that have one
SELECT pg_temp.fires('0 0 31 * *', '2026-01-15 00:00+00', 4);

--
-- Time zones and daylight saving time.  Each list shows local time (the
-- session's zone, with its offset) and UTC.
--
SET timezone = 'Europe/Paris';
-- Paris springs forward on 2026-03-29 at 02:00 CET (01:00 UTC) to 03:00
-- CEST: 02:30 does not exist that day, and fires at 03:00 instead
SELECT pg_temp.fires('TZ=Europe/Paris 30 2 * * *', '2026-03-27 12:00+00', 3);
SELECT pg_temp.fires('TZ=Europe/Paris 0 2 * * *', '2026-03-28 12:00+00', 2);
SELECT pg_temp.fires('TZ=Europe/Paris 0 3 * * *', '2026-03-28 12:00+00', 2);
-- several times in the gap still fire once
SELECT pg_temp.fires('TZ=Europe/Paris */30 * * * *', '2026-03-29 00:40+00', 3);
SELECT pg_temp.fires('TZ=Europe/Paris 15 * * * *', '2026-03-29 00:20+00', 3);
-- Paris falls back on 2026-10-25 at 03:00 CEST (01:00 UTC) to 02:00 CET:
-- 02:30 happens twice and fires once, the first time
SELECT pg_temp.fires('TZ=Europe/Paris 30 2 * * *', '2026-10-24 12:00+00', 3);
SELECT pg_temp.fires('TZ=Europe/Paris 0,30 2 * * *', '2026-10-25 00:10+00', 3);
-- starting during the second 02:00-03:00
SELECT pg_temp.fires('TZ=Europe/Paris 30 2 * * *', '2026-10-25 01:10+00', 1);
-- with a wildcard hour, the repeated hour fires again: every 30 minutes of
-- real time, no pause
SELECT pg_temp.fires('TZ=Europe/Paris */30 * * * *', '2026-10-25 00:10+00', 5);
SELECT pg_temp.fires('TZ=Europe/Paris @hourly', '2026-10-24 23:30+00', 4);
-- a daily 09:00 follows the offset change
SELECT pg_temp.fires('TZ=Europe/Paris 0 9 * * *', '2026-03-28 00:00+00', 2);
SELECT pg_temp.fires('TZ=Europe/Paris 0 9 * * *', '2026-10-24 00:00+00', 2);
-- far beyond the time zone table (its rules repeat)
SELECT pg_temp.fires('TZ=Europe/Paris 0 0 1 * *', '2200-05-15 00:00+00', 2);

SET timezone = 'America/New_York';
-- New York springs forward on 2026-03-08 at 02:00 EST (07:00 UTC) to 03:00
-- EDT
SELECT pg_temp.fires('TZ=America/New_York 30 2 * * *', '2026-03-07 12:00+00', 3);
SELECT pg_temp.fires('TZ=America/New_York 0 9 * * *', '2026-03-07 15:00+00', 2);
-- and falls back on 2026-11-01 at 02:00 EDT (06:00 UTC) to 01:00 EST
SELECT pg_temp.fires('TZ=America/New_York 30 1 * * *', '2026-10-31 12:00+00', 3);
SELECT pg_temp.fires('TZ=America/New_York 0 * * * *', '2026-11-01 04:30+00', 4);
-- a schedule without TZ= is in UTC, whatever the session's zone
SELECT pg_temp.fires('30 1 * * *', '2026-10-31 12:00+00', 2);

RESET timezone;
DROP EXTENSION inngest_pg;
