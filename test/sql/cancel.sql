--
-- cancel: cancelOn rules, cancel_run / cancel_runs, rerun, and timeouts;
-- a cancelled run stops between steps and inngest/function.cancelled is sent
--
CREATE EXTENSION inngest_pg;
CREATE SCHEMA app;
SET inngest.fake_now = '2026-11-01 10:00:00+00';

CREATE TABLE app.emails (user_id int, template text);
CREATE FUNCTION app.onboarding(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM inngest.step_run('welcome', 'INSERT INTO app.emails VALUES ($1, ''welcome'')',
                           (event #>> '{data,user_id}')::int);
  PERFORM inngest.step_sleep('wait-3-days', '3 days');
  PERFORM inngest.step_run('tips', 'INSERT INTO app.emails VALUES ($1, ''tips'')',
                           (event #>> '{data,user_id}')::int);
  RETURN NULL;
END $$;
SELECT inngest.create_function('{
    "id": "onboarding", "event": "user.signup",
    "cancelOn": [{"event": "user.deleted", "match": "data.user_id"},
                 {"event": "user.paused", "if": "async.data.reason == ''vacation'' && async.data.user_id == event.data.user_id",
                  "timeout": "1d"}]
  }', 'app.onboarding');

-- three users sign up; cancelOn rules become waits of the runs
INSERT INTO inngest.events (name, data) VALUES
  ('user.signup', '{"user_id": 1}'), ('user.signup', '{"user_id": 2}'),
  ('user.signup', '{"user_id": 3}');
SELECT run_id, kind, event, match_path, match_value, expires_at FROM inngest.waits ORDER BY run_id, id;
SELECT inngest.tick();
SELECT id, status FROM inngest.runs ORDER BY id;

-- user 2 is deleted mid-sleep: its run is cancelled, the others sleep on
INSERT INTO inngest.events (name, data) VALUES ('user.deleted', '{"user_id": 2}');
SELECT id, status, ended_at, wake_at FROM inngest.runs ORDER BY id;
SELECT data FROM inngest.events WHERE name = 'inngest/function.cancelled';
SELECT run_id, kind FROM inngest.waits ORDER BY run_id, id;

-- a pause for another reason does not cancel; a vacation pause does, but
-- only while the rule's 1 day lasts
INSERT INTO inngest.events (name, data) VALUES ('user.paused', '{"user_id": 1, "reason": "billing"}');
SET inngest.fake_now = '2026-11-02 10:00:01+00';
INSERT INTO inngest.events (name, data) VALUES ('user.paused', '{"user_id": 1, "reason": "vacation"}');
SELECT id, status FROM inngest.runs ORDER BY id;
SET inngest.fake_now = '2026-11-01 12:00:00+00';
INSERT INTO inngest.events (name, data) VALUES ('user.paused', '{"user_id": 3, "reason": "vacation"}');
SELECT id, status FROM inngest.runs ORDER BY id;

-- after the sleep only user 1 gets tips; the finished run's waits are gone
SET inngest.fake_now = '2026-11-04 10:00:00+00';
SELECT inngest.tick();
SELECT id, status FROM inngest.runs ORDER BY id;
SELECT user_id, template FROM app.emails ORDER BY user_id, template;
SELECT count(*) AS waits_left FROM inngest.waits;
-- a later deletion of user 1 changes nothing
INSERT INTO inngest.events (name, data) VALUES ('user.deleted', '{"user_id": 1}');
SELECT id, status FROM inngest.runs WHERE id = 1;

-- cancel_run: true if it cancelled, false if the run had ended
INSERT INTO inngest.events (name, data) VALUES ('user.signup', '{"user_id": 4}');
SELECT inngest.cancel_run((SELECT max(id) FROM inngest.runs));
SELECT inngest.cancel_run((SELECT max(id) FROM inngest.runs));
SELECT inngest.cancel_run(1);
SELECT inngest.cancel_run(12345);
SELECT inngest.tick();
SELECT id, status FROM inngest.runs ORDER BY id;

-- cancel_runs: in bulk, by time window and "if"
TRUNCATE inngest.runs, inngest.steps, inngest.waits;
INSERT INTO inngest.events (name, data)
SELECT 'user.signup', jsonb_build_object('user_id', g) FROM generate_series(10, 15) g;
SET inngest.fake_now = '2026-11-04 11:00:00+00';
INSERT INTO inngest.events (name, data) VALUES ('user.signup', '{"user_id": 16}');
SELECT inngest.cancel_runs('onboarding', "if" => 'event.data.user_id >= 14');
SELECT inngest.cancel_runs('onboarding', started_before => '2026-11-04 10:30:00+00');
SELECT event #> '{data,user_id}' AS user_id, status FROM inngest.runs ORDER BY id;
SELECT inngest.cancel_runs('nope');
SELECT inngest.cancel_runs('onboarding', "if" => 'event.data.user_id >=');

-- rerun: a new run with the same event, from scratch
SELECT inngest.rerun((SELECT min(id) FROM inngest.runs)) > 0 AS rerun;
SELECT inngest.tick();
SELECT event #> '{data,user_id}' AS user_id, status FROM inngest.runs
WHERE status <> 'cancelled' ORDER BY id;
SELECT inngest.rerun(99999);

-- step_invoke: the callee's output, its failure or the timeout
CREATE FUNCTION app.double(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  IF (event #>> '{data,n}')::int < 0 THEN
    RAISE EXCEPTION 'negative input' USING ERRCODE = 'IG001';
  END IF;
  IF (event #>> '{data,n}')::int = 0 THEN
    PERFORM inngest.step_sleep('slow', '1 hour');
  END IF;
  RETURN to_jsonb((event #>> '{data,n}')::int * 2);
END $$;
CREATE FUNCTION app.caller(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  r jsonb;
BEGIN
  r := inngest.step_invoke('double', 'double', jsonb_build_object('n', event #> '{data,n}'),
                           timeout => '10 minutes');
  RETURN jsonb_build_object('doubled', r, 'event', event -> 'name');
END $$;
SELECT inngest.create_function('{"id": "double", "event": "never.sent"}', 'app.double');
SELECT inngest.create_function('{"id": "caller", "event": "call", "retries": 0}', 'app.caller');
TRUNCATE inngest.runs, inngest.steps, inngest.waits, inngest.events;
INSERT INTO inngest.events (name, data) VALUES ('call', '{"n": 21}'), ('call', '{"n": -1}'), ('call', '{"n": 0}');
SELECT inngest.tick();
SELECT function_id, status, output, error ->> 'message' AS error, event ->> 'name' AS event_name
FROM inngest.runs ORDER BY id;
SELECT run_id, step_id, kind, status FROM inngest.steps ORDER BY run_id, position;
SET inngest.fake_now = '2026-11-04 11:10:00+00';
SELECT inngest.tick();
SELECT function_id, status, output, error ->> 'message' AS error FROM inngest.runs ORDER BY id;
-- invoking a function that does not exist fails the caller
CREATE FUNCTION app.bad_caller(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN inngest.step_invoke('x', 'no-such-function');
END $$;
SELECT inngest.create_function('{"id": "bad-caller", "event": "bad.call"}', 'app.bad_caller');
SELECT inngest.send('bad.call') IS NOT NULL;
SELECT inngest.tick();
SELECT status, error ->> 'message' AS error FROM inngest.runs WHERE function_id = 'bad-caller';

-- timeouts: not started within "start", or not finished within "finish"
CREATE FUNCTION app.long_nap(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM inngest.step_sleep('nap', '2 hours');
  RETURN to_jsonb('done'::text);
END $$;
SELECT inngest.create_function('{"id": "nap-start", "event": "nap.start", "timeouts": {"start": "5m"}}', 'app.long_nap');
SELECT inngest.create_function('{"id": "nap-finish", "event": "nap.finish", "timeouts": {"finish": "1h"}}', 'app.long_nap');
SET inngest.fake_now = '2026-11-05 00:00:00+00';
INSERT INTO inngest.events (name, data) VALUES ('nap.start', '{}'), ('nap.finish', '{}');
SET inngest.fake_now = '2026-11-05 00:06:00+00';
SELECT inngest.tick();
SELECT function_id, status, wake_at FROM inngest.runs WHERE function_id LIKE 'nap-%' ORDER BY id;
SET inngest.fake_now = '2026-11-05 01:06:00+00';
SELECT inngest.tick();
SELECT function_id, status, ended_at FROM inngest.runs WHERE function_id LIKE 'nap-%' ORDER BY id;
SELECT data ->> 'function_id' AS function_id, data ->> 'reason' AS reason
FROM inngest.events WHERE name = 'inngest/function.cancelled' ORDER BY seq;

-- a run cancelled by an event its own step sent stops before its next step
CREATE TABLE app.after_stop (n int);
CREATE FUNCTION app.self_stop(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM inngest.step_send_event('stop', 'stop.me', jsonb_build_object('k', event #> '{data,k}'));
  PERFORM inngest.step_run('after', 'INSERT INTO app.after_stop VALUES (1)');
  RETURN NULL;
END $$;
SELECT inngest.create_function('{"id": "self-stop", "event": "self.stop",
  "cancelOn": [{"event": "stop.me", "match": "data.k"}]}', 'app.self_stop');
SELECT inngest.send('self.stop', '{"k": 7}') IS NOT NULL;
SELECT inngest.tick();
SELECT status FROM inngest.runs WHERE function_id = 'self-stop';
SELECT step_id, status FROM inngest.steps
WHERE run_id = (SELECT id FROM inngest.runs WHERE function_id = 'self-stop');
SELECT count(*) AS after_stop_rows FROM app.after_stop;

DROP EXTENSION inngest_pg;
DROP SCHEMA app CASCADE;
