--
-- sdk: the semantics of Inngest's SDKs that a ported function relies on:
-- "triggers" given as one object; a batch handler's event (the first of
-- the batch) and events (all of them); durations written as in Inngest;
-- the system events of a failed run; a cancelOn rule with match and if
--
CREATE EXTENSION inngest_pg;
SET inngest.fake_now = '2026-07-01 00:00:00+00';
CREATE SCHEMA app;
CREATE FUNCTION app.echo(event jsonb) RETURNS jsonb LANGUAGE sql
AS $$ SELECT event -> 'data' $$;

-- "triggers" may be one object, as createFunction accepts
SELECT inngest.create_function(
    '{"id": "one", "triggers": {"event": "one.go", "if": "event.data.ok"}}', 'app.echo');
SELECT position, event, expression FROM inngest.triggers WHERE function_id = 'one';
INSERT INTO inngest.events (name, data) VALUES
    ('one.go', '{"ok": true, "n": 1}'), ('one.go', '{"ok": false, "n": 2}');
SELECT inngest.tick();
SELECT output FROM inngest.runs WHERE function_id = 'one' ORDER BY id;

-- a batch handler gets the batch's first event as its event (name, data,
-- id, ts), with "events": every event of the batch, in order
CREATE FUNCTION app.batch(event jsonb) RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_build_object(
    'name', event ->> 'name',
    'id', event ->> 'id',
    'first', event -> 'data',
    'count', jsonb_array_length(event -> 'events'),
    'all', jsonb_path_query_array(event, '$.events[*].data.n'))
$$;
SELECT inngest.create_function('{"id": "batch", "event": "b.go",
  "batchEvents": {"maxSize": 3, "timeout": "5s"}}', 'app.batch');
INSERT INTO inngest.events (name, data, id) VALUES
    ('b.go', '{"n": 1}', 'b-1'), ('b.go', '{"n": 2}', 'b-2'), ('b.go', '{"n": 3}', 'b-3');
SELECT inngest.tick();
SELECT output FROM inngest.runs WHERE function_id = 'batch' ORDER BY id;

-- batches keyed by user: each run's event is the first event of its key
SELECT inngest.create_function('{"id": "keyed-batch", "event": "kb.go",
  "batchEvents": {"maxSize": 2, "timeout": "5s", "key": "event.data.user"}}', 'app.batch');
INSERT INTO inngest.events (name, data) VALUES
    ('kb.go', '{"user": "u1", "n": 1}'), ('kb.go', '{"user": "u2", "n": 2}'),
    ('kb.go', '{"user": "u1", "n": 3}'), ('kb.go', '{"user": "u2", "n": 4}');
SELECT inngest.tick();
SELECT event #>> '{data,user}' AS key_user, output -> 'first' AS first,
       output -> 'all' AS batch
FROM inngest.runs WHERE function_id = 'keyed-batch' ORDER BY 1;

-- Durations as Inngest writes them: a number or digits alone are
-- milliseconds, number-unit pairs ("1h30m", "1.5h"), PostgreSQL's syntax;
-- the debounce period shows how each was read
CREATE FUNCTION pg_temp.period(p text) RETURNS interval LANGUAGE plpgsql AS $$
DECLARE
  r interval;
BEGIN
  PERFORM inngest.create_function(format(
    '{"id": "deb", "event": "deb.go", "debounce": {"period": %s}}', p)::jsonb, 'app.echo');
  INSERT INTO inngest.events (name) VALUES ('deb.go');
  SELECT wake_at - created_at INTO r FROM inngest.runs WHERE function_id = 'deb';
  PERFORM inngest.delete_function('deb');
  DELETE FROM inngest.runs WHERE function_id = 'deb';
  RETURN r;
END $$;
SELECT p AS written, pg_temp.period(p) AS period
FROM unnest(ARRAY['60000', '"60000"', '5000', '"90s"', '"1h30m"', '"1.5h"',
                  '"1d"', '"1w"', '"2 hours 3 minutes"']) p;
-- one rule for every duration key: 1 second to 1 year
CREATE FUNCTION pg_temp.cf(config text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  PERFORM inngest.create_function(config::jsonb, 'app.echo');
  PERFORM inngest.delete_function(config::jsonb ->> 'id');
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
SELECT pg_temp.cf('{"id": "d", "event": "e", "timeouts": {"finish": "100ms"}}');
SELECT pg_temp.cf('{"id": "d", "event": "e", "timeouts": {"finish": 999}}');
SELECT pg_temp.cf('{"id": "d", "event": "e", "timeouts": {"finish": 1000}}');
SELECT pg_temp.cf('{"id": "d", "event": "e", "timeouts": {"finish": "1y"}}');
SELECT pg_temp.cf('{"id": "d", "event": "e", "timeouts": {"finish": "2y"}}');
SELECT pg_temp.cf('{"id": "d", "event": "e", "timeouts": {"finish": "5 parsecs"}}');
SELECT pg_temp.cf('{"id": "d", "event": "e", "timeouts": {"finish": "1h 30m"}}');
SELECT pg_temp.cf('{"id": "d", "event": "e", "timeouts": {"finish": true}}');

-- step_sleep takes Inngest's strings (a literal resolves to the text
-- overload) and intervals
CREATE FUNCTION app.naps(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM inngest.step_sleep('a', '1h30m');
  PERFORM inngest.step_sleep('b', '90000');
  PERFORM inngest.step_sleep('c', interval '2 days');
  PERFORM inngest.step_sleep('d', '1 day');
  RETURN '"rested"';
END $$;
SELECT inngest.create_function('{"id": "naps", "event": "naps.go"}', 'app.naps');
INSERT INTO inngest.events (name) VALUES ('naps.go');
SELECT inngest.tick();
SET inngest.fake_now = '2026-07-01 01:30:00+00';
SELECT inngest.tick();
SET inngest.fake_now = '2026-07-01 01:31:30+00';
SELECT inngest.tick();
SET inngest.fake_now = '2026-07-03 01:31:30+00';
SELECT inngest.tick();
SET inngest.fake_now = '2026-07-04 01:31:30+00';
SELECT inngest.tick();
SELECT s.step_id, s.ended_at - s.started_at AS slept FROM inngest.steps s
JOIN inngest.runs r ON r.id = s.run_id WHERE r.function_id = 'naps' ORDER BY s.position;
SELECT status, output FROM inngest.runs WHERE function_id = 'naps';
-- a string that is neither fails the run at once, like a negative
-- duration: a misuse no retry fixes
CREATE FUNCTION app.bad_nap(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM inngest.step_sleep('a', '5 parsecs');
  RETURN NULL;
END $$;
SELECT inngest.create_function('{"id": "bad-nap", "event": "bad.go"}', 'app.bad_nap');
INSERT INTO inngest.events (name) VALUES ('bad.go');
SELECT inngest.tick();
SELECT status, error ->> 'sqlstate' AS sqlstate, error ->> 'message' AS message
FROM inngest.runs WHERE function_id = 'bad-nap';

-- A failed run sends inngest/function.failed and, as Inngest does for
-- every end but a cancel, inngest/function.finished, both with "error" in
-- Inngest's shape (name, message, stack) besides ours; run_id is a string.
-- The error's context is the handler's own: driving the run from a DO
-- block (or any code of the tick() caller) adds none of its lines.
CREATE FUNCTION app.explode(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'boom' USING ERRCODE = 'IG001';
END $$;
SELECT inngest.create_function('{"id": "explode", "event": "explode.go"}', 'app.explode');
INSERT INTO inngest.events (name) VALUES ('explode.go');
DO $$ BEGIN PERFORM inngest.tick(); END $$;
SELECT e.name, jsonb_typeof(e.data -> 'run_id') AS run_id_type,
       e.data ->> 'run_id' = r.id::text AS run_id_matches,
       e.data ? 'result' AS has_result,
       e.data #> '{error,name}' AS name, e.data #> '{error,message}' AS message,
       e.data #> '{error,stack}' AS stack
FROM inngest.events e JOIN inngest.runs r ON r.function_id = 'explode'
WHERE e.name LIKE 'inngest/function.%' AND e.data ->> 'function_id' = 'explode'
ORDER BY e.seq;
SELECT error ->> 'context' AS run_error_context FROM inngest.runs WHERE function_id = 'explode';
-- a function listening to inngest/function.finished hears both ends, and
-- tells them apart by "error"
CREATE FUNCTION app.ends(event jsonb) RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_build_object('of', event #> '{data,function_id}',
                            'failed', event -> 'data' ? 'error')
$$;
SELECT inngest.create_function('{"id": "ends", "event": "inngest/function.finished",
  "if": "event.data.function_id != ''ends''"}', 'app.ends');
INSERT INTO inngest.events (name) VALUES ('explode.go');
INSERT INTO inngest.events (name, data) VALUES ('one.go', '{"ok": true, "n": 3}');
SELECT inngest.tick();
SELECT output FROM inngest.runs WHERE function_id = 'ends' ORDER BY output::text;

-- cancelOn with both "match" and "if" cancels only when both hold, as in
-- Inngest: the same user, and a hard delete
CREATE FUNCTION app.slow(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM inngest.step_sleep('nap', '1d');
  RETURN '"done"';
END $$;
SELECT inngest.create_function('{"id": "slow", "event": "slow.go",
  "cancelOn": [{"event": "user.deleted", "match": "data.user",
                "if": "async.data.hard == true"}]}', 'app.slow');
INSERT INTO inngest.events (name, data) VALUES
    ('slow.go', '{"user": 1}'), ('slow.go', '{"user": 2}'), ('slow.go', '{"user": 3}');
SELECT inngest.tick();
INSERT INTO inngest.events (name, data) VALUES
    ('user.deleted', '{"user": 1, "hard": false}'),  -- match, not if
    ('user.deleted', '{"user": 9, "hard": true}'),   -- if, not match
    ('user.deleted', '{"user": 2, "hard": true}');   -- both
SELECT event #>> '{data,user}' AS "user", status FROM inngest.runs
WHERE function_id = 'slow' ORDER BY id;

DROP EXTENSION inngest_pg;
DROP SCHEMA app CASCADE;
