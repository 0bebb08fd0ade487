--
-- events: INSERT INTO inngest.events (or inngest.send) starts one run of
-- every function whose trigger and "if" match; event ids deduplicate
--
CREATE EXTENSION inngest_pg;
CREATE SCHEMA app;
CREATE FUNCTION app.echo(event jsonb) RETURNS jsonb
LANGUAGE sql AS $$ SELECT event -> 'data' $$;
SET inngest.fake_now = '2026-01-01 00:00:00+00';

SELECT inngest.create_function('{"id": "signup-email", "event": "user.signup"}', 'app.echo');
SELECT inngest.create_function('{"id": "signup-crm", "triggers": [{"event": "user.signup"}, {"event": "user.imported"}]}', 'app.echo');
SELECT inngest.create_function('{"id": "pro-only", "triggers": [{"event": "user.signup", "if": "event.data.plan == ''pro'' && event.data.seats >= 5"}]}', 'app.echo');

-- One event fans out to every matching function; "if" filters.
INSERT INTO inngest.events (name, data) VALUES ('user.signup', '{"plan": "free", "seats": 1}');
SELECT id, function_id, status, event FROM inngest.runs ORDER BY id;

-- Multi-row INSERT: each row is an event.
INSERT INTO inngest.events (name, data) VALUES
    ('user.signup', '{"plan": "pro", "seats": 10}'),
    ('user.imported', '{"plan": "pro", "seats": 1}'),
    ('unrelated', '{}');
SELECT function_id, event -> 'data' AS data FROM inngest.runs WHERE id > 2 ORDER BY id;

-- INSERT ... SELECT is handled set-based by one statement trigger.
TRUNCATE inngest.runs;
INSERT INTO inngest.events (name, data)
SELECT 'user.signup', jsonb_build_object('plan', CASE WHEN g % 10 = 0 THEN 'pro' ELSE 'free' END, 'seats', g)
FROM generate_series(1, 1000) g;
SELECT function_id, count(*) FROM inngest.runs GROUP BY 1 ORDER BY 1;

-- The event a handler gets: name, data, id (ours if none was given) and
-- ts in milliseconds since the Unix epoch, as Inngest sends it.  ts
-- defaults to inngest.now().
TRUNCATE inngest.runs;
SELECT inngest.send('user.imported', '{"plan": "free"}') AS seq \gset
SELECT event, (event ->> 'id')::bigint = :seq AS id_is_seq,
       to_timestamp((event ->> 'ts')::numeric / 1000) AS ts
FROM inngest.runs;
SELECT name, data, ts FROM inngest.events WHERE seq = :seq;
TRUNCATE inngest.runs;
INSERT INTO inngest.events (name, data, id, ts)
VALUES ('user.imported', '{}', 'import-7', '2025-06-01 12:00:00.123+00');
SELECT event FROM inngest.runs;
SELECT inngest.send('user.imported', id => 'import-8') > :seq AS sent;
SELECT event -> 'data' AS data, event ->> 'id' AS id FROM inngest.runs ORDER BY id;

-- An event id deduplicates for 24 hours: a duplicate is stored but starts
-- nothing, whether it comes in the same statement or later.
TRUNCATE inngest.runs;
INSERT INTO inngest.events (name, data, id) VALUES
    ('user.imported', '{"n": 1}', 'dup-1'),
    ('user.imported', '{"n": 2}', 'dup-1'),
    ('user.imported', '{"n": 3}', 'dup-2');
INSERT INTO inngest.events (name, data, id) VALUES ('user.imported', '{"n": 4}', 'dup-1');
SELECT inngest.send('user.imported', '{"n": 5}', 'dup-2') IS NOT NULL AS stored;
SELECT event -> 'data' AS data FROM inngest.runs ORDER BY id;
SELECT count(*) AS stored_events FROM inngest.events WHERE id IN ('dup-1', 'dup-2');
-- The window runs on the real clock, whatever inngest.fake_now says (ids
-- are shared by every role): a fake clock 25 hours ahead does not free an
-- id, and the entry expires 24 real hours after the event.
SET inngest.fake_now = '2026-01-02 01:00:01+00';
INSERT INTO inngest.events (name, data, id) VALUES ('user.imported', '{"n": 6}', 'dup-1');
SELECT expires_at - now() BETWEEN interval '23 hours 59 minutes' AND interval '24 hours'
       AS real_24h FROM inngest.event_ids WHERE id = 'dup-1';
-- once 24 real hours have passed (moved back here) the id is new
UPDATE inngest.event_ids SET expires_at = now() - interval '1 second' WHERE id = 'dup-1';
INSERT INTO inngest.events (name, data, id) VALUES ('user.imported', '{"n": 7}', 'dup-1');
SELECT event -> 'data' AS data FROM inngest.runs ORDER BY id;
-- ids are deduplicated across functions' triggers too: an event with no
-- listener still claims its id
INSERT INTO inngest.events (name, data, id) VALUES ('nobody.listens', '{}', 'dup-3');
INSERT INTO inngest.events (name, data, id) VALUES ('user.imported', '{"n": 8}', 'dup-3');
SELECT count(*) AS runs_for_n8 FROM inngest.runs WHERE event -> 'data' ->> 'n' = '8';

-- A function created in the same transaction sees the next event; a
-- deleted one no longer does (the definition cache is invalidated).
BEGIN;
SELECT inngest.create_function('{"id": "late", "event": "late.event"}', 'app.echo');
SELECT inngest.send('late.event') IS NOT NULL;
SELECT count(*) FROM inngest.runs WHERE function_id = 'late';
SELECT inngest.delete_function('late');
SELECT inngest.send('late.event') IS NOT NULL;
SELECT count(*) FROM inngest.runs WHERE function_id = 'late';
ROLLBACK;

-- tick() runs what the events started; the handler's output is the run's.
TRUNCATE inngest.runs;
INSERT INTO inngest.events (name, data) VALUES ('user.signup', '{"plan": "pro", "seats": 5}');
SELECT inngest.tick();
SELECT function_id, status, output, started_at, ended_at FROM inngest.runs ORDER BY id;

-- inngest/function.finished is an ordinary event: functions may trigger on it.
SELECT inngest.create_function('{"id": "audit", "triggers": [{"event": "inngest/function.finished", "if": "event.data.function_id == ''pro-only''"}]}', 'app.echo');
INSERT INTO inngest.events (name, data) VALUES ('user.signup', '{"plan": "pro", "seats": 7}');
SELECT inngest.tick();
SELECT function_id, status, output #> '{function_id}' AS finished_fn,
       output #> '{result}' AS finished_result
FROM inngest.runs WHERE function_id = 'audit';

DROP EXTENSION inngest_pg;
DROP SCHEMA app CASCADE;
