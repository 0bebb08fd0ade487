--
-- sdk: the semantics of Inngest's SDKs that a ported function relies on:
-- "triggers" given as one object; a batch handler's event (the first of
-- the batch) and events (all of them)
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

DROP EXTENSION inngest_pg;
DROP SCHEMA app CASCADE;
