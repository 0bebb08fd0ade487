--
-- flow: the rules applied when an event arrives (throttle, rateLimit,
-- debounce, batchEvents, priority, idempotency, singleton), driven by
-- tick() and inngest.fake_now
--
CREATE EXTENSION inngest_pg;
CREATE SCHEMA app;
SET inngest.fake_now = '2026-10-01 12:00:00+00';
SET TimeZone = 'UTC';

-- every handler records what it saw
CREATE TABLE app.seen (n serial, fn text, event jsonb, at timestamptz);
CREATE FUNCTION app.record(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM inngest.step_run('record', 'INSERT INTO app.seen (fn, event, at) VALUES ($1, $2, inngest.now())',
                           (SELECT function_id FROM inngest.runs WHERE id = inngest.run_id()),
                           event);
  RETURN event;
END $$;

-- throttle: limit 2 per 6s with burst 1 (T = 3s): three start at once,
-- then one every 3 seconds; none is dropped.  Keys are throttled apart.
SELECT inngest.create_function('{"id": "throttled", "event": "t",
  "throttle": {"limit": 2, "period": "6s", "burst": 1, "key": "event.data.user"}}', 'app.record');
INSERT INTO inngest.events (name, data)
SELECT 't', jsonb_build_object('user', 'a', 'n', n) FROM generate_series(1, 6) n;
INSERT INTO inngest.events (name, data) VALUES ('t', '{"user": "b", "n": 7}');
SELECT event->'data'->>'n' AS n, event->'data'->>'user' AS user, status,
       wake_at - inngest.now() AS starts_after
FROM inngest.runs WHERE function_id = 'throttled' ORDER BY id;
SELECT inngest.tick();
SELECT count(*) AS started FROM app.seen WHERE fn = 'throttled';
SET inngest.fake_now = '2026-10-01 12:00:06+00';
SELECT inngest.tick();
SELECT count(*) AS started FROM app.seen WHERE fn = 'throttled';
-- later, an idle key starts at once again (its state has expired)
SET inngest.fake_now = '2026-10-01 12:01:00+00';
INSERT INTO inngest.events (name, data) VALUES ('t', '{"user": "a", "n": 8}');
SELECT wake_at - inngest.now() AS starts_after FROM inngest.runs
WHERE function_id = 'throttled' ORDER BY id DESC LIMIT 1;

-- rateLimit: 2 per minute per key; events over the limit start no work:
-- their run is 'skipped' with the reason
SELECT inngest.create_function('{"id": "limited", "event": "r",
  "rateLimit": {"limit": 2, "period": "1m", "key": "event.data.user"}}', 'app.record');
INSERT INTO inngest.events (name, data)
SELECT 'r', jsonb_build_object('user', 'a', 'n', n) FROM generate_series(1, 4) n;
INSERT INTO inngest.events (name, data) VALUES ('r', '{"user": "b", "n": 5}');
SELECT event->'data'->>'n' AS n, status, error, ended_at IS NOT NULL AS ended
FROM inngest.runs WHERE function_id = 'limited' ORDER BY id;
-- 30 seconds later, one more fits (one per period / limit)
SET inngest.fake_now = '2026-10-01 12:01:30+00';
INSERT INTO inngest.events (name, data) VALUES ('r', '{"user": "a", "n": 6}'), ('r', '{"user": "a", "n": 7}');
SELECT event->'data'->>'n' AS n, status FROM inngest.runs
WHERE function_id = 'limited' AND (event->'data'->>'n')::int >= 6 ORDER BY id;
SELECT inngest.tick();
SELECT event->'data'->>'n' AS n FROM app.seen WHERE fn = 'limited' ORDER BY 1;

-- debounce: one run per key after 5 minutes of quiet, with the last
-- event; timeout caps the wait at 12 minutes after the first
SET inngest.fake_now = '2026-10-01 13:00:00+00';
SELECT inngest.create_function('{"id": "debounced", "event": "d",
  "debounce": {"period": "5m", "key": "event.data.account", "timeout": "12m"}}', 'app.record');
INSERT INTO inngest.events (name, data) VALUES ('d', '{"account": 1, "v": 1}');
SET inngest.fake_now = '2026-10-01 13:04:00+00';
INSERT INTO inngest.events (name, data) VALUES ('d', '{"account": 1, "v": 2}'), ('d', '{"account": 2, "v": 1}');
SELECT event->'data' AS data, status, wake_at FROM inngest.runs
WHERE function_id = 'debounced' ORDER BY id;
SET inngest.fake_now = '2026-10-01 13:08:59+00';
SELECT inngest.tick();
SET inngest.fake_now = '2026-10-01 13:09:00+00';
SELECT inngest.tick();
SELECT event->'data' AS data FROM app.seen WHERE fn = 'debounced' ORDER BY at, 1;
-- a stream of events cannot postpone the run past the timeout
SET inngest.fake_now = '2026-10-01 14:00:00+00';
INSERT INTO inngest.events (name, data) VALUES ('d', '{"account": 3, "v": 1}');
SET inngest.fake_now = '2026-10-01 14:04:00+00';
INSERT INTO inngest.events (name, data) VALUES ('d', '{"account": 3, "v": 2}');
SET inngest.fake_now = '2026-10-01 14:08:00+00';
INSERT INTO inngest.events (name, data) VALUES ('d', '{"account": 3, "v": 3}');
SELECT event->'data' AS data, wake_at FROM inngest.runs
WHERE function_id = 'debounced' AND event->'data'->>'account' = '3';
-- once claimed, the run stops gathering: the next event starts a new one
SET inngest.fake_now = '2026-10-01 14:12:00+00';
SELECT inngest.tick();
INSERT INTO inngest.events (name, data) VALUES ('d', '{"account": 3, "v": 4}');
SELECT event->'data' AS data, status, pending_key IS NOT NULL AS gathering
FROM inngest.runs WHERE function_id = 'debounced' AND event->'data'->>'account' = '3'
ORDER BY id;

-- a debounced run's cancelOn matches its latest event
SELECT inngest.create_function('{"id": "debounced-cancel", "event": "dc",
  "debounce": {"period": "5m"},
  "cancelOn": [{"event": "dc.cancel", "match": "data.version"}]}', 'app.record');
INSERT INTO inngest.events (name, data) VALUES ('dc', '{"version": 1}');
INSERT INTO inngest.events (name, data) VALUES ('dc', '{"version": 2}');
INSERT INTO inngest.events (name, data) VALUES ('dc.cancel', '{"version": 1}');
SELECT event->'data' AS data, status FROM inngest.runs WHERE function_id = 'debounced-cancel';
INSERT INTO inngest.events (name, data) VALUES ('dc.cancel', '{"version": 2}');
SELECT event->'data' AS data, status FROM inngest.runs WHERE function_id = 'debounced-cancel';

-- batchEvents: one run per batch of up to 3 events per key, or after 5s;
-- the handler gets {"events": [...]}; events outside "if" run alone
SET inngest.fake_now = '2026-10-01 15:00:00+00';
SELECT inngest.create_function('{"id": "batched", "event": "b",
  "batchEvents": {"maxSize": 3, "timeout": "5s", "key": "event.data.user", "if": "event.data.batch"}}',
  'app.record');
INSERT INTO inngest.events (name, data)
SELECT 'b', jsonb_build_object('user', 'a', 'n', n, 'batch', true) FROM generate_series(1, 4) n;
INSERT INTO inngest.events (name, data) VALUES ('b', '{"user": "b", "n": 5, "batch": true}');
INSERT INTO inngest.events (name, data) VALUES ('b', '{"user": "a", "n": 6, "batch": false}');
SELECT jsonb_path_query_array(event, '$.events[*].data.n') AS batch, wake_at - inngest.now() AS starts_after,
       pending_key IS NOT NULL AS open
FROM inngest.runs WHERE function_id = 'batched' ORDER BY id;
SELECT inngest.tick();
SELECT jsonb_path_query_array(event, '$.events[*].data.n') AS handled FROM app.seen WHERE fn = 'batched' ORDER BY 1;
SET inngest.fake_now = '2026-10-01 15:00:05+00';
SELECT inngest.tick();
SELECT jsonb_path_query_array(event, '$.events[*].data.n') AS handled FROM app.seen WHERE fn = 'batched' ORDER BY 1;
SELECT count(*) AS runs, count(*) FILTER (WHERE status = 'completed') AS completed
FROM inngest.runs WHERE function_id = 'batched';

-- priority: a run with priority 120 goes ahead of runs queued up to 120s
-- earlier; a negative one waits that long
SET inngest.fake_now = '2026-10-01 16:00:00+00';
SELECT inngest.create_function('{"id": "prioritized", "event": "p",
  "priority": {"run": "event.data.plan == ''enterprise'' ? 120 : event.data.plan == ''trial'' ? -60 : 0"}}',
  'app.record');
INSERT INTO inngest.events (name, data) VALUES ('p', '{"plan": "free", "n": 1}');
SET inngest.fake_now = '2026-10-01 16:01:00+00';
INSERT INTO inngest.events (name, data) VALUES ('p', '{"plan": "free", "n": 2}'),
  ('p', '{"plan": "enterprise", "n": 3}'), ('p', '{"plan": "trial", "n": 4}');
SELECT event->'data'->>'n' AS n, wake_at FROM inngest.runs
WHERE function_id = 'prioritized' ORDER BY wake_at, id;
SELECT inngest.tick();
SELECT event->'data'->>'n' AS ran_in_order FROM app.seen WHERE fn = 'prioritized' ORDER BY n;
SET inngest.fake_now = '2026-10-01 16:02:00+00';
SELECT inngest.tick();
SELECT count(*) AS all_ran FROM app.seen WHERE fn = 'prioritized';

-- idempotency: one run per key value per 24 hours
SET inngest.fake_now = '2026-10-02 09:00:00+00';
SELECT inngest.create_function('{"id": "once", "event": "o",
  "idempotency": "event.data.order + \"-\" + event.data.kind"}', 'app.record');
INSERT INTO inngest.events (name, data) VALUES ('o', '{"order": 7, "kind": "paid"}'),
  ('o', '{"order": 7, "kind": "paid"}'), ('o', '{"order": 7, "kind": "refund"}');
SET inngest.fake_now = '2026-10-03 08:59:59+00';
INSERT INTO inngest.events (name, data) VALUES ('o', '{"order": 7, "kind": "paid"}');
SELECT count(*) AS runs FROM inngest.runs WHERE function_id = 'once';
SET inngest.fake_now = '2026-10-03 09:00:00+00';
INSERT INTO inngest.events (name, data) VALUES ('o', '{"order": 7, "kind": "paid"}');
SELECT event->'data' AS data, created_at FROM inngest.runs WHERE function_id = 'once' ORDER BY id;

-- singleton skip: while a run of the key has not ended (it sleeps here),
-- new events of that key are skipped; other keys run
SET inngest.fake_now = '2026-10-04 09:00:00+00';
CREATE FUNCTION app.sync(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM inngest.step_sleep('pause', '1 hour');
  PERFORM inngest.step_run('sync', 'INSERT INTO app.seen (fn, event, at) VALUES (''sync'', $1, inngest.now())', event);
  RETURN NULL;
END $$;
SELECT inngest.create_function('{"id": "sync", "event": "s",
  "singleton": {"key": "event.data.user", "mode": "skip"}}', 'app.sync');
INSERT INTO inngest.events (name, data) VALUES ('s', '{"user": 1, "n": 1}');
SELECT inngest.tick();
INSERT INTO inngest.events (name, data) VALUES ('s', '{"user": 1, "n": 2}'), ('s', '{"user": 2, "n": 3}');
SELECT event->'data'->>'n' AS n, status, error->>'reason' AS reason,
       error->'run_id' = to_jsonb((SELECT min(id) FROM inngest.runs WHERE function_id = 'sync')) AS names_the_run
FROM inngest.runs WHERE function_id = 'sync' ORDER BY id;
SET inngest.fake_now = '2026-10-04 10:00:00+00';
SELECT inngest.tick();
-- once it has ended, the key is free again
INSERT INTO inngest.events (name, data) VALUES ('s', '{"user": 1, "n": 4}');
SELECT event->'data'->>'n' AS n, status FROM inngest.runs
WHERE function_id = 'sync' ORDER BY id;

-- singleton cancel: a new event cancels the key's run and starts afresh
SELECT inngest.create_function('{"id": "sync", "event": "s",
  "singleton": {"key": "event.data.user", "mode": "cancel"}}', 'app.sync');
INSERT INTO inngest.events (name, data) VALUES ('s', '{"user": 1, "n": 5}');
SELECT event->'data'->>'n' AS n, status FROM inngest.runs
WHERE function_id = 'sync' ORDER BY id;
SELECT data->>'reason' AS reason, data->'event'->'data'->>'n' AS n
FROM inngest.events WHERE name = 'inngest/function.cancelled';

DROP EXTENSION inngest_pg;
DROP SCHEMA app CASCADE;
