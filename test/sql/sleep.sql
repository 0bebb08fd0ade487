--
-- sleep: step_sleep / step_sleep_until take a run out of the executor
-- until a time; it holds nothing meanwhile and resumes at the due time
-- (tick() honours inngest.fake_now).  step_send_event sends an event once.
--
CREATE EXTENSION inngest_pg;
CREATE SCHEMA app;
SET inngest.fake_now = '2026-09-01 09:00:00+00';

CREATE TABLE app.emails (user_id int, template text, sent_at timestamptz);
CREATE FUNCTION app.send_email(user_id int, template text) RETURNS text
LANGUAGE sql AS $$
  INSERT INTO app.emails VALUES (user_id, template, inngest.now()) RETURNING template
$$;

-- The onboarding sequence: welcome now, tips after 3 days, an upgrade
-- offer 7 days after that.
CREATE FUNCTION app.onboarding(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM inngest.step_run('welcome', 'SELECT app.send_email($1, $2)',
                           (event #>> '{data,user_id}')::int, 'welcome');
  PERFORM inngest.step_sleep('wait-3-days', '3 days');
  PERFORM inngest.step_run('tips', 'SELECT app.send_email($1, $2)',
                           (event #>> '{data,user_id}')::int, 'tips');
  PERFORM inngest.step_sleep('wait-7-days', '7 days');
  PERFORM inngest.step_run('upgrade', 'SELECT app.send_email($1, $2)',
                           (event #>> '{data,user_id}')::int, 'upgrade');
  RETURN jsonb_build_object('sent', 3);
END $$;
SELECT inngest.create_function('{"id": "onboarding", "event": "user.signup"}', 'app.onboarding');
INSERT INTO inngest.events (name, data) VALUES ('user.signup', '{"user_id": 42}');

SELECT inngest.tick();
SELECT status, wake_at FROM inngest.runs;
SELECT step_id, kind, status, output, started_at, ended_at FROM inngest.steps ORDER BY position;
SELECT template, sent_at FROM app.emails ORDER BY sent_at;

-- nothing is due a second before the three days are up
SET inngest.fake_now = '2026-09-04 08:59:59+00';
SELECT inngest.tick();
SET inngest.fake_now = '2026-09-04 09:00:00+00';
SELECT inngest.tick();
SELECT status, wake_at FROM inngest.runs;
SELECT template, sent_at FROM app.emails ORDER BY sent_at;

-- a late tick resumes it too (the sleep is over, whenever we look)
SET inngest.fake_now = '2026-09-20 00:00:00+00';
SELECT inngest.tick();
SELECT status, output, started_at, ended_at FROM inngest.runs;
SELECT step_id, kind, status, output FROM inngest.steps ORDER BY position;
SELECT template, sent_at FROM app.emails ORDER BY sent_at;

-- Sleeps in the past, or of zero length, resume at once; sleep_until works
-- with absolute times; the memo of a sleep is null.
CREATE FUNCTION app.naps(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM inngest.step_sleep('zero', '0 seconds');
  PERFORM inngest.step_sleep_until('past', '2000-01-01 00:00:00+00');
  PERFORM inngest.step_sleep_until('noon', '2026-09-20 12:00:00+00');
  RETURN jsonb_build_object('woke', inngest.step_run('now', 'SELECT inngest.now()'));
END $$;
SELECT inngest.create_function('{"id": "naps", "event": "naps"}', 'app.naps');
SELECT inngest.send('naps') IS NOT NULL;
SELECT inngest.tick();
SELECT status, wake_at FROM inngest.runs WHERE function_id = 'naps';
SET inngest.fake_now = '2026-09-20 12:00:00+00';
SELECT inngest.tick();
SELECT status, output FROM inngest.runs WHERE function_id = 'naps';
SELECT step_id, kind, status, output IS NULL AS null_memo FROM inngest.steps
WHERE run_id = (SELECT id FROM inngest.runs WHERE function_id = 'naps') ORDER BY position;

-- Bad durations fail the run at once with a clear error (no retries).
CREATE FUNCTION app.bad_sleep(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  CASE event #>> '{data,how}'
    WHEN 'negative' THEN PERFORM inngest.step_sleep('s', '-1 minute');
    WHEN 'too-long' THEN PERFORM inngest.step_sleep('s', '1 year 1 day');
    WHEN 'null' THEN PERFORM inngest.step_sleep('s', NULL);
    WHEN 'until-too-late' THEN PERFORM inngest.step_sleep_until('s', '2028-01-01 00:00:00+00');
    WHEN 'infinity' THEN PERFORM inngest.step_sleep_until('s', 'infinity');
    WHEN 'caught' THEN
      BEGIN
        PERFORM inngest.step_sleep('s', '-1 minute');
      EXCEPTION WHEN OTHERS THEN
        NULL;   -- swallowing it does not help
      END;
  END CASE;
  RETURN NULL;
END $$;
SELECT inngest.create_function('{"id": "bad-sleep", "event": "bad.sleep"}', 'app.bad_sleep');
INSERT INTO inngest.events (name, data)
SELECT 'bad.sleep', jsonb_build_object('how', h)
FROM unnest(ARRAY['negative', 'too-long', 'null', 'until-too-late', 'infinity', 'caught']) h;
SELECT inngest.tick();
SELECT event #>> '{data,how}' AS how, status, attempt, error ->> 'message' AS message,
       error ->> 'sqlstate' AS sqlstate
FROM inngest.runs WHERE function_id = 'bad-sleep' ORDER BY id;
-- exactly one year is allowed
CREATE FUNCTION app.year(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM inngest.step_sleep('year', '1 year');
  RETURN to_jsonb('woke'::text);
END $$;
SELECT inngest.create_function('{"id": "year", "event": "year"}', 'app.year');
SELECT inngest.send('year') IS NOT NULL;
SELECT inngest.tick();
SELECT status, wake_at FROM inngest.runs WHERE function_id = 'year';

-- step_send_event: sends once (the replay returns the memo), and the event
-- triggers functions like any other.
CREATE TABLE app.sent (seq bigint);
CREATE FUNCTION app.sender(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  sent jsonb;
BEGIN
  sent := inngest.step_send_event('notify', 'user.notified',
                                  jsonb_build_object('user_id', event #> '{data,user_id}'));
  PERFORM inngest.step_run('record', 'INSERT INTO app.sent VALUES (($1::jsonb ->> 0)::bigint)',
                           sent -> 'ids');
  RETURN sent;
END $$;
CREATE FUNCTION app.notified(event jsonb) RETURNS jsonb LANGUAGE sql AS $$
  SELECT event -> 'data'
$$;
SELECT inngest.create_function('{"id": "sender", "event": "user.created"}', 'app.sender');
SELECT inngest.create_function('{"id": "notified", "event": "user.notified"}', 'app.notified');
SELECT inngest.send('user.created', '{"user_id": 7}') IS NOT NULL;
SELECT inngest.tick();
SELECT function_id, status, output FROM inngest.runs
WHERE function_id IN ('sender', 'notified') ORDER BY id;
SELECT count(*) AS notified_events FROM inngest.events WHERE name = 'user.notified';
SELECT (SELECT seq FROM app.sent) = (SELECT seq FROM inngest.events WHERE name = 'user.notified')
       AS ids_are_seqs;
SELECT step_id, kind, status FROM inngest.steps
WHERE run_id = (SELECT id FROM inngest.runs WHERE function_id = 'sender') ORDER BY position;

-- bad events to send fail the run
CREATE FUNCTION app.bad_send(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  CASE event #>> '{data,how}'
    WHEN 'empty-name' THEN PERFORM inngest.step_send_event('s', '', '{}');
    WHEN 'array' THEN PERFORM inngest.step_send_event('s', 'x', '[1]');
    WHEN 'null-data' THEN PERFORM inngest.step_send_event('s', 'x', NULL);
  END CASE;
  RETURN NULL;
END $$;
SELECT inngest.create_function('{"id": "bad-send", "event": "bad.send"}', 'app.bad_send');
INSERT INTO inngest.events (name, data)
SELECT 'bad.send', jsonb_build_object('how', h) FROM unnest(ARRAY['empty-name', 'array', 'null-data']) h;
SELECT inngest.tick();
SELECT event #>> '{data,how}' AS how, status, error ->> 'message' AS message
FROM inngest.runs WHERE function_id = 'bad-send' ORDER BY id;

-- step functions outside a run
SELECT inngest.step_sleep('s', '1 minute');

DROP EXTENSION inngest_pg;
DROP SCHEMA app CASCADE;
