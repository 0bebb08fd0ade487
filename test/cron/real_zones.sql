--
-- test/cron/real_zones.sql: inngest.cron_next in real time zones against a
-- brute force in SQL (not part of make installcheck: it takes about 40 s).
--
-- For 16 zones chosen for their odd changes (Lord_Howe's 30-minute DST,
-- Dublin's negative DST, Apia's skipped day in 2011, Sao Paulo's changes at
-- midnight, Troll's 2-hour DST...) and every day of 2010-2030 on which the
-- zone's offset changes, the fire times of six schedules in a window around
-- the change are computed minute by minute from the definition in
-- src/cron.h (a matching local time fires unless it repeats an earlier one
-- and the hour field is not a wildcard; a forward change fires when a
-- matching local time falls in its gap) and compared with chained calls of
-- inngest.cron_next.  Ends with an error if any window differs.
--
-- Run: psql -d DB -c 'CREATE EXTENSION IF NOT EXISTS inngest_pg' -f test/cron/real_zones.sql
--
SET timezone = 'UTC';
CREATE TEMP TABLE sched(expr text, hour_star bool, pred text);
INSERT INTO sched VALUES
 ('*/15 * * * *', true,  'extract(minute from l)::int % 15 = 0'),
 ('45 * * * *',   true,  'extract(minute from l)::int = 45'),
 ('30 2 * * *',   false, 'extract(hour from l) = 2 and extract(minute from l) = 30'),
 ('0,30 0-3 * * *', false, 'extract(hour from l) between 0 and 3 and extract(minute from l)::int in (0,30)'),
 ('0 0 * * *',    false, 'extract(hour from l) = 0 and extract(minute from l) = 0'),
 ('59 23 * * *',  false, 'extract(hour from l) = 23 and extract(minute from l) = 59');
CREATE TEMP TABLE zones(z text);
INSERT INTO zones VALUES ('Europe/Paris'),('America/New_York'),('Australia/Sydney'),('Australia/Lord_Howe'),
 ('Asia/Kathmandu'),('America/Sao_Paulo'),('Pacific/Apia'),('America/Santiago'),('Asia/Tehran'),('Europe/Dublin'),
 ('Africa/Casablanca'),('America/St_Johns'),('Pacific/Chatham'),('Antarctica/Troll'),('Europe/Moscow'),('America/Havana');

-- days (2010-2030) where a zone's offset changes between midnights UTC
CREATE TEMP TABLE windows AS
SELECT z, d - interval '1 day' AS w0, d + interval '2 days' AS w1
FROM zones, generate_series('2010-01-01'::timestamptz, '2030-12-31', '1 day') d
WHERE (d AT TIME ZONE z) - d <> ((d + interval '1 day') AT TIME ZONE z) - (d + interval '1 day');

SELECT count(*) AS windows FROM windows;

CREATE TEMP TABLE results(z text, expr text, w0 timestamptz, expected int, got int, diff int);

DO $$
DECLARE
  w record; s record; exp timestamptz[]; act timestamptz[]; t timestamptz;
BEGIN
  FOR w IN SELECT * FROM windows LOOP
    FOR s IN SELECT * FROM sched LOOP
      EXECUTE format($q$
        WITH m AS (
          SELECT u, u AT TIME ZONE %L AS l
          FROM generate_series($1 - interval '1 day', $2, '1 minute') u),
        m2 AS (
          SELECT u, l, lag(l) OVER (ORDER BY u) AS pl,
                 max(l) OVER (ORDER BY u ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS maxl
          FROM m),
        f AS (
          SELECT u FROM m2 WHERE u >= $1 AND (%s) AND (%L::bool OR maxl IS NULL OR l > maxl)
          UNION
          SELECT u FROM m2 WHERE u >= $1 AND l - pl > interval '1 minute'
            AND EXISTS (SELECT 1 FROM generate_series(pl + interval '1 minute', l - interval '1 minute', '1 minute') g(l)
                        WHERE %s))
        SELECT array_agg(u ORDER BY u) FROM f WHERE u > $1 AND u < $2$q$,
        w.z, s.pred, s.hour_star, s.pred) INTO exp USING w.w0, w.w1;
      act := '{}';
      t := inngest.cron_next('TZ=' || w.z || ' ' || s.expr, w.w0);
      WHILE t < w.w1 LOOP
        act := act || t;
        t := inngest.cron_next('TZ=' || w.z || ' ' || s.expr, t);
      END LOOP;
      exp := coalesce(exp, '{}');
      IF exp IS DISTINCT FROM act THEN
        INSERT INTO results VALUES (w.z, s.expr, w.w0, cardinality(exp), cardinality(act), 1);
        RAISE NOTICE 'MISMATCH % % from %: expected % got %', w.z, s.expr, w.w0,
          (SELECT array_agg(x) FROM unnest(exp) x WHERE x <> ALL(act)),
          (SELECT array_agg(x) FROM unnest(act) x WHERE x <> ALL(exp));
      ELSE
        INSERT INTO results VALUES (w.z, s.expr, w.w0, cardinality(exp), cardinality(act), 0);
      END IF;
    END LOOP;
  END LOOP;
END $$;
SELECT count(*) AS checks, sum(expected) AS fire_times, sum(diff) AS mismatches FROM results;
DO $$
BEGIN
  IF (SELECT sum(diff) FROM results) > 0 THEN
    RAISE EXCEPTION 'cron_next differs from the brute force in % windows',
      (SELECT sum(diff) FROM results);
  END IF;
END $$;
