--
-- restore: what a dump and its restore need from the extension.  pg_dump
-- dumps every table and identity sequence; the handler is stored with its
-- argument types; a session loading a dump (check_function_bodies off by
-- SET, as pg_dump's output and pg_restore set it) stores the events it
-- inserts or copies without starting or resuming anything; any write of
-- the definitions reaches the function cache.  test/t/007_dump_restore.pl
-- restores real dumps while workers run.
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

-- A session loading a dump: the events it inserts or copies are stored as
-- they are, with no run, no deduplication entry.
SET check_function_bodies = off;
INSERT INTO inngest.events (name, data, id) VALUES ('app/h', '{"n": 1}', 'e-1');
COPY inngest.events (seq, id, name, data, ts) FROM stdin;
1000	e-2	app/h	{"n": 2}	2026-03-31 09:00:00+00
\.
SELECT id, name, data FROM inngest.events ORDER BY seq;
SELECT (SELECT count(*) FROM inngest.runs) AS runs,
       (SELECT count(*) FROM inngest.event_ids) AS dedup_entries;
RESET check_function_bodies;
INSERT INTO inngest.events (name, data) VALUES ('app/h', '{"n": 3}');
SELECT event #>> '{data,n}' AS n FROM inngest.runs ORDER BY id;

-- Set from the role's settings (or the database's, the server's, the
-- connection's), check_function_bodies off is not a restore.
ALTER ROLE CURRENT_USER SET check_function_bodies = off;
\c
SET inngest.fake_now = '2026-04-01 09:00:00+00';
SHOW check_function_bodies;
INSERT INTO inngest.events (name, data) VALUES ('app/h', '{"n": 4}');
ALTER ROLE CURRENT_USER RESET check_function_bodies;
\c
SET inngest.fake_now = '2026-04-01 09:00:00+00';
SELECT event #>> '{data,n}' AS n FROM inngest.runs ORDER BY id;

-- Nor are the statements of steps, even in a session that is loading a
-- dump: the event a step inserts starts its run.
CREATE FUNCTION app.sender(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN inngest.step_run('send',
    'INSERT INTO inngest.events (name, data) VALUES (''app/h'', ''{"n": 5}'') RETURNING name');
END $$;
SELECT inngest.create_function('{"id": "sender", "event": "app/send"}', 'app.sender');
INSERT INTO inngest.events (name, data) VALUES ('app/send', '{}');
SET check_function_bodies = off;
SELECT inngest.tick() AS advanced;
RESET check_function_bodies;
SELECT function_id, event #>> '{data,n}' AS n, status, output
FROM inngest.runs ORDER BY id;

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
