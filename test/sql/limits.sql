--
-- limits: inputs that are too large or too deep get a clear error, never
-- a crash of the server, and error text never cuts a character in half.
--
CREATE EXTENSION inngest_pg;
CREATE SCHEMA app;
CREATE FUNCTION app.echo(event jsonb) RETURNS jsonb
LANGUAGE sql AS $$ SELECT event -> 'data' $$;
SET inngest.fake_now = '2026-05-01 00:00:00+00';
\set VERBOSITY sqlstate

-- Deeply nested expressions stop at max_stack_depth (SQLSTATE 54001)
-- instead of overflowing the stack: in compile_expression, a trigger's
-- "if" and cancel_runs' "if".  Nested 8000 deep (about as deep as 8192
-- bytes allow): 4000 "!" fit in 200 kB of stack in a build without
-- optimisation.
SET max_stack_depth = '200kB';
SELECT inngest.compile_expression(repeat('(', 2000) || 'event.data.x == 1' || repeat(')', 2000));
SELECT inngest.compile_expression(repeat('!', 8000) || 'event.data.x');
SELECT inngest.compile_expression('event.data.x == ' || repeat('-', 8000) || '1');
-- In raw jsonpath, PostgreSQL's jsonpath parser runs out of stack: that is
-- 54001 too, not a bad expression (22023).
SELECT inngest.compile_expression('$ == ' || repeat('-', 8000) || '$');
SELECT inngest.create_function(jsonb_build_object('id', 'deep', 'event', 'e',
       'if', repeat('(', 2000) || 'event.data.x == 1' || repeat(')', 2000)), 'app.echo');
SELECT inngest.create_function('{"id": "ok", "event": "e"}', 'app.echo');
SELECT inngest.cancel_runs('ok', "if" => repeat('(', 2000) || 'event.data.x == 1' || repeat(')', 2000));
RESET max_stack_depth;

-- Nothing was created by the failed calls.
SELECT id FROM inngest.functions ORDER BY id;

-- An expression is at most 8192 bytes.
SELECT inngest.compile_expression('event.data.x == ''' || repeat('a', 9000) || '''');
SELECT length(inngest.compile_expression('event.data.x == ''' || repeat('a', 8000) || '''')::text) > 8000 AS long_ok;

-- A chain of operators compiles in memory proportional to its length: the
-- compiler once kept every intermediate text, some 35 MB for this 8 kB
-- expression.  The backend's memory is measured in the same row, while
-- the compiled text is still allocated (the CTE keeps the call from being
-- folded into a constant at plan time).
WITH e AS MATERIALIZED (SELECT repeat('1 && ', 1638) || '1' AS x)
SELECT length(inngest.compile_expression(x)::text) AS len,
       (SELECT sum(total_bytes) FROM pg_backend_memory_contexts) < 16 * 1024 * 1024 AS bounded
FROM e;

-- Error messages quote long names cut between characters: a 3-byte
-- character is never split.
\set VERBOSITY default
INSERT INTO inngest.events (name, data) VALUES (repeat('€', 90), '{}');
CREATE FUNCTION app.long_step(event jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
  RETURN inngest.step_run(repeat('€', 86), 'SELECT 1');
END $$;
SELECT inngest.create_function('{"id": "long-step", "event": "long"}', 'app.long_step');
INSERT INTO inngest.events (name, data) VALUES ('long', '{}');
SELECT inngest.tick();
SELECT status, error ->> 'message' AS message
FROM inngest.runs WHERE function_id = 'long-step';

-- A system event is not held to inngest.max_event_size: it carries the
-- run's event and output, each within its own limit, and must never fail
-- the run it reports on.  Here events are limited to 1 kB: a run with a
-- 900-byte event and a 900-byte output completes, and its
-- inngest/function.finished (1.8 kB) is stored; a user's 1.8 kB event is
-- refused.
SET inngest.max_event_size = '1kB';
CREATE FUNCTION app.big(event jsonb) RETURNS jsonb
LANGUAGE sql AS $$ SELECT jsonb_build_object('out', repeat('o', 900)) $$;
SELECT inngest.create_function('{"id": "big", "event": "big"}', 'app.big');
INSERT INTO inngest.events (name, data) VALUES ('big', jsonb_build_object('in', repeat('i', 900)));
SELECT inngest.tick() AS advanced;
SELECT status FROM inngest.runs WHERE function_id = 'big';
SELECT octet_length(data::text) > 1800 AS big_finished_event FROM inngest.events
WHERE name = 'inngest/function.finished' AND data ->> 'function_id' = 'big';
INSERT INTO inngest.events (name, data) VALUES ('big', jsonb_build_object('in', repeat('i', 1800)));
RESET inngest.max_event_size;

-- One statement with many event names whose functions have cancelOn rules
-- takes the event-name locks of all of them in one pass (the array of lock
-- requests grows as it must: scripts/valgrind.sh checks it).
SELECT count(inngest.create_function(jsonb_build_object('id', 'c' || i, 'event', 'n' || (i % 3),
       'cancelOn', (SELECT jsonb_agg(jsonb_build_object('event', 'stop' || j))
                    FROM generate_series(1, 5) j)), 'app.echo'))
FROM generate_series(1, 9) i;
INSERT INTO inngest.events (name, data) SELECT 'n' || g, '{}' FROM generate_series(0, 40) g;
SELECT count(*) AS runs FROM inngest.runs WHERE function_id LIKE 'c%';
SELECT count(*) AS cancel_waits FROM inngest.waits WHERE kind = 'cancel';

DROP EXTENSION inngest_pg;
DROP SCHEMA app CASCADE;
