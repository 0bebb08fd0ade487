--
-- promises: what the README promises about triggers and steps, in the
-- corner cases where it used to break.
--
CREATE EXTENSION inngest_pg;
CREATE SCHEMA app;
SET inngest.fake_now = '2026-06-01 00:00:00+00';
CREATE TABLE app.charges (n int);

-- One run per function per event, however many of its triggers match:
-- two triggers of one function matching the same event charge once.
CREATE FUNCTION app.charge(event jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM inngest.step_run('charge', 'INSERT INTO app.charges VALUES (1)');
  RETURN '{}';
END $$;
SELECT inngest.create_function('{"id": "charge", "triggers": [
    {"event": "order.placed"},
    {"event": "order.placed", "if": "event.data.total > 10"},
    {"event": "order.imported"}]}', 'app.charge');
INSERT INTO inngest.events (name, data) VALUES
    ('order.placed', '{"total": 50}'),
    ('order.placed', '{"total": 5}'),
    ('order.imported', '{}');
SELECT inngest.tick() AS advanced;
SELECT count(*) AS runs FROM inngest.runs WHERE function_id = 'charge';
SELECT count(*) AS charges FROM app.charges;

-- Repeated step ids get ":1", ":2", ... and never take a key an explicit
-- id has (or will have): 'a', 'a', 'a:1' are three steps, each run once.
CREATE FUNCTION app.repeats(event jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  r jsonb := '[]';
BEGIN
  r := r || inngest.step_run('a', 'SELECT ''first''');
  r := r || inngest.step_run('a', 'SELECT ''second''');
  r := r || inngest.step_run('a:1', 'SELECT ''third''');
  r := r || inngest.step_run('a', 'SELECT ''fourth''');
  RETURN r;
END $$;
SELECT inngest.create_function('{"id": "repeats", "event": "repeats"}', 'app.repeats');
INSERT INTO inngest.events (name, data) VALUES ('repeats', '{}');
SELECT inngest.tick() AS advanced;
SELECT output FROM inngest.runs WHERE function_id = 'repeats';
SELECT step_id, output FROM inngest.steps
WHERE run_id = (SELECT id FROM inngest.runs WHERE function_id = 'repeats')
ORDER BY position;

-- A step cannot commit or roll back: a clear error (2D000), and no retry.
CREATE FUNCTION app.bad_step(event jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
  RETURN inngest.step_run('s', event #>> '{data,query}');
END $$;
CREATE FUNCTION app.bad_args(event jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
  RETURN inngest.step_run('s', event #>> '{data,query}', 1, 2);
END $$;
SELECT inngest.create_function('{"id": "bad-step", "event": "bad-step"}', 'app.bad_step');
SELECT inngest.create_function('{"id": "bad-args", "event": "bad-args"}', 'app.bad_args');
INSERT INTO inngest.events (name, data) VALUES
    ('bad-step', '{"query": "COMMIT"}'),
    ('bad-step', '{"query": "ROLLBACK"}'),
    -- the last statement's result is the step's output
    ('bad-step', '{"query": "SELECT 1 WHERE false; SELECT 2"}'),
    -- arguments the query does not use are an error, as for EXECUTE
    ('bad-args', '{"query": "SELECT $1"}'),
    ('bad-args', '{"query": "SELECT $1 + $2"}'),
    -- and so are parameters without an argument
    ('bad-args', '{"query": "SELECT $3"}');
SELECT inngest.tick() AS advanced;
SELECT r.event #>> '{data,query}' AS query, r.status, r.output,
       r.error ->> 'sqlstate' AS sqlstate, r.error ->> 'message' AS message,
       s.attempts
FROM inngest.runs r LEFT JOIN inngest.steps s ON s.run_id = r.id
WHERE r.function_id IN ('bad-step', 'bad-args') ORDER BY r.id;

DROP EXTENSION inngest_pg;
DROP SCHEMA app CASCADE;
