--
-- loops: functions that trigger themselves, through step_send_event,
-- system events or step_invoke, stop at inngest.max_depth instead of
-- running forever.  An event from outside has depth 0; what a run sends has
-- the run's depth + 1; a run that would be deeper than the limit is created
-- skipped with the reason, or (invoke) fails the caller.
--
CREATE EXTENSION inngest_pg;
CREATE SCHEMA app;
SET inngest.fake_now = '2026-07-01 00:00:00+00';
SET inngest.max_depth = 3;

-- A fork bomb: each run sends its own event twice.
CREATE FUNCTION app.fork(event jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM inngest.step_send_event('left', 'fork', '{}');
  PERFORM inngest.step_send_event('right', 'fork', '{}');
  RETURN '{}';
END $$;
SELECT inngest.create_function('{"id": "fork", "event": "fork"}', 'app.fork');
INSERT INTO inngest.events (name, data) VALUES ('fork', '{}');
SELECT inngest.tick(max_runs => 1000) AS advanced;
SELECT depth, status, count(*), min(error ->> 'reason') AS reason
FROM inngest.runs WHERE function_id = 'fork' GROUP BY 1, 2 ORDER BY 1, 2;
SELECT depth, count(*) FROM inngest.events WHERE name = 'fork' GROUP BY 1 ORDER BY 1;
SELECT inngest.delete_function('fork');

-- A function triggered by every run's end, its own included.
CREATE FUNCTION app.echo(event jsonb) RETURNS jsonb
LANGUAGE sql AS $$ SELECT '{}'::jsonb $$;
SELECT inngest.create_function('{"id": "on-end", "event": "inngest/function.finished"}', 'app.echo');
SELECT inngest.create_function('{"id": "start", "event": "start"}', 'app.echo');
INSERT INTO inngest.events (name, data) VALUES ('start', '{}');
SELECT inngest.tick(max_runs => 1000) AS advanced;
SELECT function_id, depth, status FROM inngest.runs
WHERE function_id IN ('start', 'on-end') ORDER BY id;
SELECT inngest.delete_function('on-end');

-- A function that invokes itself: the invoke that would go deeper fails
-- its caller, and the failure goes back up the chain.
CREATE FUNCTION app.recur(event jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
  RETURN inngest.step_invoke('again', 'recur', '{}');
END $$;
SELECT inngest.create_function('{"id": "recur", "event": "recur"}', 'app.recur');
INSERT INTO inngest.events (name, data) VALUES ('recur', '{}');
SELECT inngest.tick(max_runs => 1000) AS advanced;
SELECT depth, status, error ->> 'message' AS message FROM inngest.runs
WHERE function_id = 'recur' ORDER BY id;

-- The limit is a superuser's setting.
CREATE ROLE regress_inngest_loops;
SET ROLE regress_inngest_loops;
SET inngest.max_depth = 1000;
RESET ROLE;
DROP ROLE regress_inngest_loops;

DROP EXTENSION inngest_pg;
DROP SCHEMA app CASCADE;
