--
-- errors: bad input is rejected with a clear error and an errcode, and
-- changes nothing
--
CREATE EXTENSION inngest_pg;
CREATE SCHEMA app;
CREATE FUNCTION app.ok(event jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT event $$;
CREATE FUNCTION app.takes_text(event text) RETURNS jsonb LANGUAGE sql AS $$ SELECT NULL::jsonb $$;
CREATE FUNCTION app.returns_text(event jsonb) RETURNS text LANGUAGE sql AS $$ SELECT 'x' $$;
CREATE FUNCTION app.returns_set(event jsonb) RETURNS SETOF jsonb LANGUAGE sql AS $$ SELECT event $$;
CREATE FUNCTION app.over(event jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT event $$;
CREATE FUNCTION app.over(event jsonb, x int) RETURNS jsonb LANGUAGE sql AS $$ SELECT event $$;
CREATE PROCEDURE app.proc(event jsonb) LANGUAGE sql AS $$ SELECT 1 $$;

-- try(sql): the SQLSTATE and message of the error sql raises, or 'ok'
CREATE FUNCTION pg_temp.try(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE sql;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
CREATE FUNCTION pg_temp.cf(config text, handler text DEFAULT 'app.ok') RETURNS text
LANGUAGE sql AS $$
  SELECT pg_temp.try(format('SELECT inngest.create_function(%L, %L)', config, handler))
$$;

SELECT inngest.create_function('{"id": "existing", "event": "e", "retries": 2}', 'app.ok');

-- configuration
SELECT pg_temp.cf('[]');
SELECT pg_temp.cf('"fn"');
SELECT pg_temp.cf('{"event": "e"}');
SELECT pg_temp.cf('{"id": 7, "event": "e"}');
SELECT pg_temp.cf('{"id": "", "event": "e"}');
SELECT pg_temp.cf(format('{"id": "%s", "event": "e"}', repeat('x', 256)));
SELECT pg_temp.cf('{"id": "f", "event": "e", "color": "red"}');
SELECT pg_temp.cf('{"id": "f", "name": ["x"], "event": "e"}');
SELECT pg_temp.cf('{"id": "existing", "event": "e", "retries": -1}');
SELECT pg_temp.cf('{"id": "existing", "event": "e", "retries": 21}');
SELECT pg_temp.cf('{"id": "existing", "event": "e", "retries": 1.5}');
SELECT pg_temp.cf('{"id": "existing", "event": "e", "retries": "3"}');
-- cancelOn and timeouts
SELECT pg_temp.cf('{"id": "f", "event": "e", "cancelOn": {"event": "x"}}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "cancelOn": ["x"]}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "cancelOn": [{"match": "data.id"}]}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "cancelOn": [{"event": ""}]}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "cancelOn": [{"event": "x", "match": "data id"}]}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "cancelOn": [{"event": "x", "match": 3}]}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "cancelOn": [{"event": "x", "if": "async.data.id =="}]}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "cancelOn": [{"event": "x", "timeout": "soon"}]}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "cancelOn": [{"event": "x", "timeout": "-5m"}]}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "cancelOn": [{"event": "x", "timeout": "2 years"}]}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "cancelOn": [{"event": "x", "unless": "y"}]}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "cancelOn": [{"event": "a"}, {"event": "b"}, {"event": "c"}, {"event": "d"}, {"event": "e"}, {"event": "f"}]}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "timeouts": []}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "timeouts": {"start": 10}}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "timeouts": {"start": "0s"}}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "timeouts": {"finsh": "1h"}}');

-- triggers
SELECT pg_temp.cf('{"id": "f"}');
SELECT pg_temp.cf('{"id": "f", "triggers": []}');
SELECT pg_temp.cf('{"id": "f", "triggers": "e"}');
SELECT pg_temp.cf('{"id": "f", "triggers": {"if": "event.data.x"}}');
SELECT pg_temp.cf('{"id": "f", "triggers": ["e"]}');
SELECT pg_temp.cf('{"id": "f", "triggers": [{"if": "event.data.x"}]}');
SELECT pg_temp.cf('{"id": "f", "triggers": [{"event": ""}]}');
SELECT pg_temp.cf('{"id": "f", "triggers": [{"event": 3}]}');
SELECT pg_temp.cf('{"id": "f", "triggers": [{"event": "e", "when": "now"}]}');
SELECT pg_temp.cf('{"id": "f", "triggers": [{"event": "e"}], "event": "e"}');
SELECT pg_temp.cf('{"id": "f", "triggers": [{"event": "e"}], "if": "event.data.x"}');
SELECT pg_temp.cf('{"id": "f", "triggers": [{"event": "e"}, {"event": "e"}, {"event": "e"}, {"event": "e"}, {"event": "e"}, {"event": "e"}, {"event": "e"}, {"event": "e"}, {"event": "e"}, {"event": "e"}, {"event": "e"}]}');

-- expressions
SELECT pg_temp.cf('{"id": "f", "triggers": [{"event": "e", "if": 1}]}');
SELECT pg_temp.cf('{"id": "f", "triggers": [{"event": "e", "if": ""}]}');
SELECT pg_temp.cf('{"id": "f", "triggers": [{"event": "e", "if": "event.data.x =="}]}');
SELECT pg_temp.cf('{"id": "f", "triggers": [{"event": "e", "if": "event.data.x = 1"}]}');
SELECT pg_temp.cf('{"id": "f", "triggers": [{"event": "e", "if": "user.id == 1"}]}');
SELECT pg_temp.cf('{"id": "f", "triggers": [{"event": "e", "if": "async.data.x == 1"}]}');
SELECT pg_temp.cf('{"id": "f", "triggers": [{"event": "e", "if": "event.data.x == ''open"}]}');
SELECT pg_temp.cf('{"id": "f", "triggers": [{"event": "e", "if": "(event.data.x == 1"}]}');
SELECT pg_temp.cf('{"id": "f", "triggers": [{"event": "e", "if": "event.data.x == 1 == 2"}]}');
SELECT pg_temp.cf('{"id": "f", "triggers": [{"event": "e", "if": "event.data.x == 1 extra"}]}');
SELECT pg_temp.cf('{"id": "f", "event": "e", "if": "$.data ? (@.x =="}');

-- handlers
SELECT pg_temp.cf('{"id": "f", "event": "e"}', 'app.missing');
SELECT pg_temp.cf('{"id": "f", "event": "e"}', 'app.takes_text');
SELECT pg_temp.cf('{"id": "f", "event": "e"}', 'app.returns_text');
SELECT pg_temp.cf('{"id": "f", "event": "e"}', 'app.returns_set');
SELECT pg_temp.cf('{"id": "f", "event": "e"}', 'app.over');
SELECT pg_temp.cf('{"id": "f", "event": "e"}', 'app.proc');

-- none of the above changed anything
SELECT id, retries FROM inngest.functions;
SELECT function_id, event FROM inngest.triggers;

-- delete_function of an unknown id
SELECT pg_temp.try($$SELECT inngest.delete_function('nope')$$);

-- events
SELECT pg_temp.try($$INSERT INTO inngest.events (name, data) VALUES ('', '{}')$$);
SELECT pg_temp.try($$INSERT INTO inngest.events (name, data) VALUES ('e', '[1, 2]')$$);
SELECT pg_temp.try($$INSERT INTO inngest.events (name, data) VALUES ('e', '"text"')$$);
SELECT pg_temp.try($$INSERT INTO inngest.events (name, data) VALUES ('e', 'null')$$);
SELECT pg_temp.try($$INSERT INTO inngest.events (name, data) VALUES ('e', NULL)$$);
SELECT pg_temp.try($$INSERT INTO inngest.events (name) VALUES (NULL)$$);
SELECT pg_temp.try($$SELECT inngest.send('e', '[]')$$);
-- one bad row rejects the whole statement
SELECT pg_temp.try($$INSERT INTO inngest.events (name, data)
                     VALUES ('e', '{}'), ('e', '{}'), ('', '{}')$$);
SET inngest.max_event_size = '1kB';
SELECT pg_temp.try($$SELECT inngest.send('e', jsonb_build_object('blob', repeat('x', 2000)))$$);
RESET inngest.max_event_size;
-- nothing was stored, no run was started
SELECT count(*) AS events FROM inngest.events;
SELECT count(*) AS runs FROM inngest.runs;

-- step functions outside a run
SELECT pg_temp.try($$SELECT inngest.step_run('s', 'SELECT 1')$$);
SELECT pg_temp.try($$SELECT inngest.step_run('s', 'SELECT $1', 42)$$);
SELECT inngest.run_id() IS NULL AS no_run, inngest.attempt() IS NULL AS no_attempt;

-- tick
SELECT pg_temp.try($$SELECT inngest.tick(0)$$);
SELECT pg_temp.try($$SELECT inngest.tick(-5)$$);

-- clock
SELECT pg_temp.try($$SET inngest.fake_now = 'not a time'$$);
SELECT pg_temp.try($$SET inngest.fake_now = 'infinity'$$);

-- A handler dropped after its function was created: the run fails with
-- the reason, and tick() goes on with other runs.
CREATE FUNCTION app.doomed(event jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT event $$;
SELECT inngest.create_function('{"id": "doomed", "event": "doomed"}', 'app.doomed');
SELECT inngest.send('doomed') IS NOT NULL, inngest.send('e') IS NOT NULL;
DROP FUNCTION app.doomed(jsonb);
SELECT inngest.tick();
SELECT function_id, status,
       regexp_replace(error ->> 'message', '[0-9]+', 'N') AS message
FROM inngest.runs ORDER BY id;

DROP EXTENSION inngest_pg;
DROP SCHEMA app CASCADE;
