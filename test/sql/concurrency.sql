--
-- concurrency: limits on runs executing at once, per key.  Within one
-- session tick() drives runs one after another, so step slots (advisory
-- locks) never block here: that is shown by the isolation specs and TAP.
-- Here: "mode": "run" (whole runs in flight, sleeping ones included),
-- runs set aside and brought back in queue order, and what a sleeping run
-- holds.
--
CREATE EXTENSION inngest_pg;
CREATE SCHEMA app;
SET inngest.fake_now = '2026-11-01 09:00:00+00';
SET TimeZone = 'UTC';

CREATE TABLE app.log (n serial, user_id int, what text, at timestamptz);
CREATE FUNCTION app.export(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM inngest.step_run('start', 'INSERT INTO app.log (user_id, what, at) VALUES ($1, $2, inngest.now())',
                           (event #>> '{data,user}')::int, 'start ' || (event #>> '{data,n}'));
  PERFORM inngest.step_sleep('wait', '10 minutes');
  PERFORM inngest.step_run('end', 'INSERT INTO app.log (user_id, what, at) VALUES ($1, $2, inngest.now())',
                           (event #>> '{data,user}')::int, 'end ' || (event #>> '{data,n}'));
  RETURN NULL;
END $$;

-- One export in flight per user, sleeping included; a run of a busy user
-- is set aside (out of the due queue) until the user's run ends.
SELECT inngest.create_function('{"id": "export", "event": "export.requested",
  "concurrency": {"limit": 1, "key": "event.data.user", "mode": "run"},
  "priority": {"run": "event.data.vip ? 60 : 0"}}', 'app.export');
INSERT INTO inngest.events (name, data) VALUES
  ('export.requested', '{"user": 1, "n": 1}'),
  ('export.requested', '{"user": 1, "n": 2}'),
  ('export.requested', '{"user": 2, "n": 3}');
SET inngest.fake_now = '2026-11-01 09:00:30+00';
INSERT INTO inngest.events (name, data) VALUES
  ('export.requested', '{"user": 1, "n": 4, "vip": true}'),
  ('export.requested', '{"user": 1, "n": 5}');
SELECT inngest.tick();
SELECT event->'data'->>'n' AS n, status, wake_at, blocked_on, queue_at, active_key
FROM inngest.runs ORDER BY id;
-- ticking again does not touch the runs set aside
SELECT inngest.tick();

-- user 1's run ends: the head of the user's queue comes back, in queue
-- order (n 4 was queued 30s after n 2 but with priority 60: it is first)
SET inngest.fake_now = '2026-11-01 09:10:00+00';
SELECT inngest.tick();
SELECT event->'data'->>'n' AS n, status, blocked_on IS NOT NULL AS set_aside
FROM inngest.runs ORDER BY id;
SET inngest.fake_now = '2026-11-01 09:20:00+00';
SELECT inngest.tick();
SET inngest.fake_now = '2026-11-01 09:30:00+00';
SELECT inngest.tick();
SET inngest.fake_now = '2026-11-01 09:40:00+00';
SELECT inngest.tick();
SET inngest.fake_now = '2026-11-01 09:50:00+00';
SELECT inngest.tick();
SELECT user_id, what, at FROM app.log ORDER BY n;
-- never two of one user in flight: each start follows the previous end
SELECT user_id, string_agg(what, ', ' ORDER BY n) FROM app.log GROUP BY user_id ORDER BY 1;
SELECT count(*) AS runs, count(*) FILTER (WHERE status = 'completed') AS completed,
       count(active_key) AS still_active, count(blocked_on) AS still_set_aside
FROM inngest.runs;

-- A run set aside can be cancelled like any queued run; it leaves the
-- queue, and the key's next run goes ahead when the slot frees.
TRUNCATE app.log;
INSERT INTO inngest.events (name, data) VALUES
  ('export.requested', '{"user": 7, "n": 10}'),
  ('export.requested', '{"user": 7, "n": 11}'),
  ('export.requested', '{"user": 7, "n": 12}');
SELECT inngest.tick();
SELECT inngest.cancel_run(id) FROM inngest.runs WHERE event->'data'->>'n' = '11';
SELECT event->'data'->>'n' AS n, status, blocked_on IS NOT NULL AS set_aside
FROM inngest.runs WHERE (event->'data'->>'n')::int >= 10 ORDER BY id;
SET inngest.fake_now = '2026-11-01 10:10:00+00';
SELECT inngest.tick();
SELECT event->'data'->>'n' AS n, status, blocked_on IS NOT NULL AS set_aside
FROM inngest.runs WHERE (event->'data'->>'n')::int >= 10 ORDER BY id;

-- A run of a key that is busy is created set aside: it never enters the
-- due queue (tick() finds nothing to do).  Deleting the function cancels
-- runs set aside too.
INSERT INTO inngest.events (name, data) VALUES ('export.requested', '{"user": 7, "n": 13}');
SELECT event->'data'->>'n' AS n, status, wake_at, blocked_on IS NOT NULL AS set_aside
FROM inngest.runs WHERE (event->'data'->>'n')::int >= 12 ORDER BY id;
SELECT inngest.tick();
SELECT inngest.delete_function('export');
SELECT event->'data'->>'n' AS n, status, blocked_on, active_key
FROM inngest.runs WHERE (event->'data'->>'n')::int >= 10 ORDER BY id;

-- Step mode (the default): a sleeping run holds no slot, so with limit 1
-- the next run of the key runs while the first sleeps.
TRUNCATE app.log;
SELECT inngest.create_function('{"id": "export2", "event": "export2",
  "concurrency": [{"limit": 5}, {"limit": 1, "key": "event.data.user"}]}', 'app.export');
INSERT INTO inngest.events (name, data) VALUES ('export2', '{"user": 1, "n": 20}'),
  ('export2', '{"user": 1, "n": 21}');
SELECT inngest.tick();
SELECT event->'data'->>'n' AS n, status, blocked_on FROM inngest.runs
WHERE function_id = 'export2' ORDER BY id;
SELECT what FROM app.log ORDER BY n;

-- Scope env: functions sharing a key expression share its limit; the
-- key identifies the queue across functions.
SELECT inngest.create_function('{"id": "a", "event": "shared",
  "concurrency": {"limit": 1, "key": "\"api-\" + event.data.region", "scope": "env", "mode": "run"}}', 'app.export');
SELECT inngest.create_function('{"id": "b", "event": "shared",
  "concurrency": {"limit": 1, "key": "\"api-\" + event.data.region", "scope": "env", "mode": "run"}}', 'app.export');
INSERT INTO inngest.events (name, data) VALUES ('shared', '{"user": 3, "region": "eu", "n": 30}');
SELECT inngest.tick();
SELECT function_id, status, active_key, blocked_on FROM inngest.runs
WHERE event->'data'->>'n' = '30' ORDER BY id;

DROP EXTENSION inngest_pg;
DROP SCHEMA app CASCADE;
