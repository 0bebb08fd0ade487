--
-- restore: what a dump and its restore need from the extension.  pg_dump
-- dumps every table and identity sequence; the handler is stored with its
-- argument types; any write of the definitions reaches the function cache.
--
CREATE EXTENSION inngest_pg;
CREATE SCHEMA app;
SET inngest.fake_now = '2026-04-01 09:00:00+00';

-- Every table and sequence of the extension is marked for pg_dump (one
-- added without the mark would be listed here).
SELECT c.oid::regclass AS not_dumped
FROM pg_class c, pg_extension e
WHERE e.extname = 'inngest_pg' AND c.relnamespace = 'inngest'::regnamespace
  AND c.relkind IN ('r', 'S') AND c.oid <> ALL (e.extconfig)
ORDER BY 1;
SELECT c.oid::regclass AS dumped_sequence
FROM pg_class c, pg_extension e
WHERE e.extname = 'inngest_pg' AND c.oid = ANY (e.extconfig) AND c.relkind = 'S'
ORDER BY 1;

-- An overloaded handler name: named alone it is ambiguous; with its
-- argument types it is accepted, and stored so that its text (what pg_dump
-- writes) reads back as the same function.
CREATE FUNCTION app.h(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN inngest.step_run('s', 'SELECT $1', event #>> '{data,n}');
END $$;
CREATE FUNCTION app.h(event text) RETURNS jsonb
LANGUAGE sql AS $$ SELECT '"not the handler"'::jsonb $$;
SELECT inngest.create_function('{"id": "h", "event": "app/h"}', 'app.h');
SELECT inngest.create_function('{"id": "h", "event": "app/h"}',
                               'app.h(jsonb)'::regprocedure);
SELECT handler, handler::text::regprocedure = handler AS reads_back
FROM inngest.functions;

-- Any write of the definitions reaches every function cache, not only
-- create_function's: a trigger added by an INSERT (as a restore's COPY
-- adds them) starts runs at once.
INSERT INTO inngest.events (name, data) VALUES ('app/other', '{"n": 6}');
INSERT INTO inngest.triggers (function_id, position, event) VALUES ('h', 1, 'app/other');
INSERT INTO inngest.events (name, data) VALUES ('app/other', '{"n": 7}');
SELECT event #>> '{data,n}' AS n FROM inngest.runs
WHERE event ->> 'name' = 'app/other';
UPDATE inngest.functions SET retries = 0 WHERE id = 'h';
DELETE FROM inngest.triggers WHERE function_id = 'h' AND position = 1;
INSERT INTO inngest.events (name, data) VALUES ('app/other', '{"n": 8}');
SELECT event #>> '{data,n}' AS n FROM inngest.runs
WHERE event ->> 'name' = 'app/other';

DROP EXTENSION inngest_pg;
DROP SCHEMA app CASCADE;
