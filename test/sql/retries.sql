--
-- retries: a failed step is rolled back, recorded and retried with
-- Inngest's backoff; IG001 and exhausted retries fail the run
--
CREATE EXTENSION inngest_pg;
CREATE SCHEMA app;
SET inngest.fake_now = '2026-05-01 12:00:00+00';

-- Every write the steps make; a failed attempt's writes are rolled back.
CREATE TABLE app.calls (step text, attempt int);
CREATE FUNCTION app.flaky(fail_until int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO app.calls VALUES ('ship', inngest.attempt());
  IF inngest.attempt() < fail_until THEN
    RAISE EXCEPTION 'warehouse unavailable (attempt %)', inngest.attempt()
      USING HINT = 'try later';
  END IF;
  RETURN inngest.attempt();
END $$;
CREATE FUNCTION app.fulfil(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  charged jsonb;
  shipped jsonb;
BEGIN
  charged := inngest.step_run('charge',
      'INSERT INTO app.calls VALUES (''charge'', inngest.attempt()) RETURNING 1');
  shipped := inngest.step_run('ship', 'SELECT app.flaky($1)',
      (event #>> '{data,fail_until}')::int);
  RETURN jsonb_build_object('charged', charged, 'shipped_on_attempt', shipped);
END $$;
-- seconds from inngest.now() to the run's wake-up
CREATE FUNCTION app.wait_secs(fn text) RETURNS numeric LANGUAGE sql AS $$
  SELECT extract(epoch FROM wake_at - inngest.now()) FROM inngest.runs WHERE function_id = fn
$$;

-- A step that fails twice, then succeeds.
SELECT inngest.create_function('{"id": "fulfil", "event": "order.paid"}', 'app.fulfil');
SELECT inngest.send('order.paid', '{"fail_until": 2}') IS NOT NULL;
SELECT inngest.tick();
SELECT status, attempt, error ->> 'message' AS message, error ->> 'hint' AS hint,
       error ->> 'sqlstate' AS sqlstate FROM inngest.runs;
SELECT app.wait_secs('fulfil') BETWEEN 15 AND 16.5 AS backoff_15s;
SELECT step_id, status, attempts, output, error ->> 'message' AS message
FROM inngest.steps ORDER BY position;
-- the failed attempt's write was rolled back with it
SELECT step, attempt FROM app.calls ORDER BY step, attempt;
-- not due yet
SELECT inngest.tick();
SET inngest.fake_now = '2026-05-01 12:00:16.5+00';
SELECT inngest.tick();
SELECT status, attempt, error ->> 'message' AS message FROM inngest.runs;
SELECT app.wait_secs('fulfil') BETWEEN 30 AND 33 AS backoff_30s;
SET inngest.fake_now = '2026-05-01 12:00:49.5+00';
SELECT inngest.tick();
SELECT status, attempt, output, error FROM inngest.runs;
SELECT step_id, status, attempts, output FROM inngest.steps ORDER BY position;
-- each step's write is there exactly once: charge was not repeated by the
-- retries, ship only by its successful attempt
SELECT step, attempt FROM app.calls ORDER BY step, attempt;
SELECT name, data -> 'result' AS result FROM inngest.events WHERE name LIKE 'inngest/%';

-- Retries exhausted: retries = 1 allows two attempts; then the run fails
-- and inngest/function.failed is sent.
TRUNCATE inngest.runs, inngest.steps, inngest.events, app.calls;
SET inngest.fake_now = '2026-05-02 12:00:00+00';
SELECT inngest.create_function('{"id": "fulfil", "event": "order.paid", "retries": 1}', 'app.fulfil');
SELECT inngest.send('order.paid', '{"fail_until": 5}') IS NOT NULL;
SELECT inngest.tick();
SELECT status, attempt FROM inngest.runs;
SET inngest.fake_now = '2026-05-02 12:00:17+00';
SELECT inngest.tick();
SELECT status, attempt, error ->> 'message' AS message, ended_at IS NOT NULL AS ended,
       wake_at FROM inngest.runs;
SELECT step_id, status, attempts FROM inngest.steps ORDER BY position;
SELECT data -> 'function_id' AS function_id, data -> 'run_id' AS run_id,
       data #>> '{error,message}' AS error, data #> '{event,data}' AS event_data
FROM inngest.events WHERE name = 'inngest/function.failed';
SELECT inngest.tick();

-- SQLSTATE IG001 is non-retriable: the run fails at once.
CREATE FUNCTION app.fatal(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN inngest.step_run('validate', $q$
    DO $do$ BEGIN
      RAISE EXCEPTION 'card declined' USING ERRCODE = 'IG001';
    END $do$ $q$);
END $$;
SELECT inngest.create_function('{"id": "fatal", "event": "fatal", "retries": 20}', 'app.fatal');
SELECT inngest.send('fatal') IS NOT NULL;
SELECT inngest.tick();
SELECT status, attempt, error ->> 'message' AS message, error ->> 'sqlstate' AS sqlstate
FROM inngest.runs WHERE function_id = 'fatal';
SELECT step_id, status, attempts FROM inngest.steps
WHERE run_id = (SELECT id FROM inngest.runs WHERE function_id = 'fatal');

-- A step query that is not valid SQL fails the run at once (it can never
-- succeed), with the syntax error.
CREATE FUNCTION app.typo(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN inngest.step_run('typo', 'SELEC 1');
END $$;
SELECT inngest.create_function('{"id": "typo", "event": "typo"}', 'app.typo');
SELECT inngest.send('typo') IS NOT NULL;
SELECT inngest.tick();
SELECT status, attempt, error ->> 'message' AS message, error ->> 'sqlstate' AS sqlstate
FROM inngest.runs WHERE function_id = 'typo';

-- An error outside any step retries the run; on the retry the memoized
-- steps are not run again.
CREATE FUNCTION app.outside(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  c jsonb;
BEGIN
  c := inngest.step_run('charge', 'INSERT INTO app.calls VALUES (''outside-charge'', inngest.attempt()) RETURNING 1');
  IF inngest.attempt() = 0 THEN
    RAISE EXCEPTION 'handler bug on first attempt';
  END IF;
  RETURN jsonb_build_object('charged', c, 'attempt', inngest.attempt());
END $$;
SELECT inngest.create_function('{"id": "outside", "event": "outside"}', 'app.outside');
SELECT inngest.send('outside') IS NOT NULL;
SELECT inngest.tick();
SELECT status, attempt, error ->> 'message' AS message FROM inngest.runs WHERE function_id = 'outside';
SET inngest.fake_now = '2026-05-02 12:01:00+00';
SELECT inngest.tick();
SELECT status, output FROM inngest.runs WHERE function_id = 'outside';
SELECT count(*) AS charges FROM app.calls WHERE step = 'outside-charge';

-- retries = 0: the first error fails the run.
CREATE FUNCTION app.once(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN inngest.step_run('boom', 'SELECT 1 / 0');
END $$;
SELECT inngest.create_function('{"id": "once", "event": "once", "retries": 0}', 'app.once');
SELECT inngest.send('once') IS NOT NULL;
SELECT inngest.tick();
SELECT status, attempt, error ->> 'message' AS message, error ->> 'sqlstate' AS sqlstate
FROM inngest.runs WHERE function_id = 'once';

-- The backoff table: 15s, 30s, 1m, 2m, 5m, 10m, 20m, 40m, 1h, 2h, 4h, 8h,
-- 12h, 24h, each plus up to 10% jitter.
CREATE FUNCTION app.always(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN inngest.step_run('boom', 'SELECT 1 / 0');
END $$;
SELECT inngest.create_function('{"id": "always", "event": "always", "retries": 20}', 'app.always');
SELECT inngest.send('always') IS NOT NULL;
CREATE TABLE app.delays (failures int, secs numeric);
DO $$
DECLARE
  w timestamptz;
BEGIN
  FOR i IN 1 .. 16 LOOP
    PERFORM inngest.tick();
    INSERT INTO app.delays
    SELECT attempt, app.wait_secs('always') FROM inngest.runs WHERE function_id = 'always';
    SELECT wake_at INTO w FROM inngest.runs WHERE function_id = 'always';
    PERFORM set_config('inngest.fake_now', w::text, true);
  END LOOP;
END $$;
SELECT failures, base, secs BETWEEN base AND base * 1.1 AS within_jitter
FROM app.delays
JOIN (VALUES (1, 15), (2, 30), (3, 60), (4, 120), (5, 300), (6, 600), (7, 1200),
             (8, 2400), (9, 3600), (10, 7200), (11, 14400), (12, 28800),
             (13, 43200), (14, 86400), (15, 86400), (16, 86400)) b(failures, base)
USING (failures) ORDER BY failures;
-- the delays are not all exactly the base: there is jitter
SELECT bool_or(secs > base) AS jittered
FROM app.delays JOIN (VALUES (1, 15), (2, 30), (3, 60), (4, 120), (5, 300)) b(failures, base)
USING (failures);

DROP EXTENSION inngest_pg;
DROP SCHEMA app CASCADE;
