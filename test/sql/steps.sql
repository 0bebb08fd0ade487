--
-- steps: the replay execution model.  A step's query runs once, outside
-- the handler, and its output is memoized; the handler is replayed; code
-- outside steps leaves no trace until the run completes.
--
CREATE EXTENSION inngest_pg;
CREATE SCHEMA app;
SET inngest.fake_now = '2026-03-01 09:00:00+00';

-- Every write a step makes, and every write the handler makes outside steps.
CREATE TABLE app.effects (run_id bigint, step text, v text);
CREATE TABLE app.outside_writes (run_id bigint);

CREATE FUNCTION app.order_flow(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  charged jsonb;
  reserved jsonb;
BEGIN
  -- a write outside any step: rolled back on every invocation but the last
  INSERT INTO app.outside_writes VALUES (inngest.run_id());
  charged := inngest.step_run('charge',
      'INSERT INTO app.effects VALUES (inngest.run_id(), ''charge'', $1) RETURNING v',
      event #>> '{data,order}');
  reserved := inngest.step_run('reserve',
      'INSERT INTO app.effects VALUES (inngest.run_id(), ''reserve'', $1 || ''x'' || $2) RETURNING v',
      event #>> '{data,sku}', (event #>> '{data,qty}')::int);
  RETURN jsonb_build_object('charged', charged, 'reserved', reserved);
END $$;

SELECT inngest.create_function('{"id": "order", "event": "order.placed"}', 'app.order_flow');
INSERT INTO inngest.events (name, data) VALUES ('order.placed', '{"order": "A-1", "sku": "BOOK", "qty": 2}');

-- tick(1) drives the run through all its steps to completion.
SELECT inngest.tick(1);
SELECT id, status, output, error FROM inngest.runs;
SELECT step_id, position, kind, status, output, attempts FROM inngest.steps ORDER BY position;
-- each step's write happened exactly once; the write outside steps once
SELECT step, v, count(*) FROM app.effects GROUP BY 1, 2 ORDER BY 1;
SELECT count(*) AS outside_writes FROM app.outside_writes;
-- nothing else is due
SELECT inngest.tick();

-- Arguments are bound as parameters, never spliced into the SQL.
INSERT INTO inngest.events (name, data)
VALUES ('order.placed', '{"order": "x''); DROP TABLE app.effects; --", "sku": "$1", "qty": 1}');
SELECT inngest.tick();
SELECT v FROM app.effects WHERE run_id = 2 ORDER BY step;

-- Repeated step ids get :1, :2, ... in order, so loops work; the memo
-- holds any SQL value as jsonb (first column of the first row, NULL for
-- no row).
CREATE FUNCTION app.loop(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  total int := 0;
  r jsonb;
  i int;
BEGIN
  FOR i IN 1 .. (event #>> '{data,n}')::int LOOP
    r := inngest.step_run('add', 'SELECT $1::int * 10', i);
    total := total + r::int;
  END LOOP;
  RETURN jsonb_build_object(
    'total', total,
    'none', inngest.step_run('no-row', 'SELECT 1 WHERE false'),
    'row', inngest.step_run('composite', 'SELECT ROW(1, ''a'')::record'),
    'date', inngest.step_run('date', 'SELECT DATE ''2026-03-01'''),
    'json', inngest.step_run('json', 'SELECT ''{"a": [1, 2]}''::json'),
    'update', inngest.step_run('no-returning', 'UPDATE app.effects SET v = v WHERE false'));
END $$;
SELECT inngest.create_function('{"id": "loop", "event": "loop"}', 'app.loop');
SELECT inngest.send('loop', '{"n": 3}') IS NOT NULL;
SELECT inngest.tick();
SELECT output FROM inngest.runs WHERE function_id = 'loop';
SELECT step_id, position, output FROM inngest.steps
WHERE run_id = (SELECT id FROM inngest.runs WHERE function_id = 'loop') ORDER BY position;

-- A handler that swallows the step signal with EXCEPTION WHEN OTHERS
-- cannot get past a new step: later step calls raise at once, and the
-- executor rolls the invocation back and runs the step all the same.
CREATE FUNCTION app.swallow(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  a jsonb;
  b jsonb;
  caught int := 0;
BEGIN
  BEGIN
    a := inngest.step_run('first', 'INSERT INTO app.effects VALUES (inngest.run_id(), ''first'', ''1'') RETURNING 1');
  EXCEPTION WHEN OTHERS THEN
    caught := caught + 1;
  END;
  BEGIN
    b := inngest.step_run('second', 'INSERT INTO app.effects VALUES (inngest.run_id(), ''second'', ''2'') RETURNING 2');
  EXCEPTION WHEN OTHERS THEN
    caught := caught + 1;
  END;
  RETURN jsonb_build_object('a', a, 'b', b, 'caught', caught);
END $$;
SELECT inngest.create_function('{"id": "swallow", "event": "swallow"}', 'app.swallow');
SELECT inngest.send('swallow') IS NOT NULL;
SELECT inngest.tick();
SELECT status, output FROM inngest.runs WHERE function_id = 'swallow';
SELECT step, count(*) FROM app.effects WHERE step IN ('first', 'second') GROUP BY 1 ORDER BY 1;

-- run_id() and attempt() tell the handler where it is.
CREATE FUNCTION app.whoami(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN jsonb_build_object('run', inngest.run_id() = (event #>> '{data,expect}')::bigint,
                            'attempt', inngest.attempt(),
                            'in_step', inngest.step_run('s', 'SELECT inngest.run_id()'));
END $$;
SELECT inngest.create_function('{"id": "whoami", "event": "whoami"}', 'app.whoami');
SELECT inngest.send('whoami', jsonb_build_object('expect', (SELECT max(id) + 1 FROM inngest.runs))) IS NOT NULL;
SELECT inngest.tick();
SELECT output = jsonb_build_object('run', true, 'attempt', 0, 'in_step', id) AS ok
FROM inngest.runs WHERE function_id = 'whoami';

-- Steps cannot nest: step_run inside a step's query is an error of that step.
CREATE FUNCTION app.nested(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN inngest.step_run('outer', 'SELECT inngest.step_run(''inner'', ''SELECT 1'')');
END $$;
SELECT inngest.create_function('{"id": "nested", "event": "nested", "retries": 0}', 'app.nested');
SELECT inngest.send('nested') IS NOT NULL;
SELECT inngest.tick();
SELECT status, error ->> 'message' AS message, error ->> 'sqlstate' AS sqlstate
FROM inngest.runs WHERE function_id = 'nested';

-- tick() cannot be called from a run.
CREATE FUNCTION app.ticker(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN to_jsonb(inngest.tick());
END $$;
SELECT inngest.create_function('{"id": "ticker", "event": "ticker", "retries": 0}', 'app.ticker');
SELECT inngest.send('ticker') IS NOT NULL;
SELECT inngest.tick();
SELECT status, error ->> 'message' AS message FROM inngest.runs WHERE function_id = 'ticker';

-- max_runs bounds how many runs one tick advances.
SELECT count(*) FROM (SELECT inngest.send('loop', '{"n": 1}') FROM generate_series(1, 3)) s;
SELECT inngest.tick(2);
SELECT status, count(*) FROM inngest.runs WHERE function_id = 'loop' GROUP BY 1 ORDER BY 1;
SELECT inngest.tick();

-- A run may have at most 1000 steps.
CREATE FUNCTION app.too_many(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1 .. 1001 LOOP
    PERFORM inngest.step_run('s', 'SELECT 1');
  END LOOP;
  RETURN NULL;
END $$;
SELECT inngest.create_function('{"id": "too-many", "event": "too.many"}', 'app.too_many');
SELECT inngest.send('too.many') IS NOT NULL;
SELECT inngest.tick();
SELECT status, attempt, error ->> 'message' AS message, error ->> 'sqlstate' AS sqlstate
FROM inngest.runs WHERE function_id = 'too-many';
SELECT count(*) AS memoized FROM inngest.steps
WHERE run_id = (SELECT id FROM inngest.runs WHERE function_id = 'too-many');

-- A NULL output is memoized too; a NULL handler result is the run's output.
CREATE FUNCTION app.nulls(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  IF inngest.step_run('maybe', 'SELECT NULL::int') IS NULL THEN
    PERFORM inngest.step_run('after-null', 'SELECT 1');
  END IF;
  RETURN NULL;
END $$;
SELECT inngest.create_function('{"id": "nulls", "event": "nulls"}', 'app.nulls');
SELECT inngest.send('nulls') IS NOT NULL;
SELECT inngest.tick();
SELECT status, output IS NULL AS null_output FROM inngest.runs WHERE function_id = 'nulls';
SELECT step_id, output IS NULL AS null_output FROM inngest.steps
WHERE run_id = (SELECT id FROM inngest.runs WHERE function_id = 'nulls') ORDER BY position;

DROP EXTENSION inngest_pg;
DROP SCHEMA app CASCADE;
