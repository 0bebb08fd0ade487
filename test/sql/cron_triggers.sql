--
-- cron_triggers: functions started on a schedule, fired by tick() under
-- inngest.fake_now (the launcher does the same with the real clock)
--
CREATE EXTENSION inngest_pg;
CREATE SCHEMA app;
SET TimeZone = 'UTC';
SET inngest.fake_now = '2026-03-02 09:07:00+00';   -- a Monday

CREATE TABLE app.reports (n serial, fn text, event jsonb, at timestamptz);
CREATE FUNCTION app.report(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM inngest.step_run('write', 'INSERT INTO app.reports (fn, event, at) VALUES ($1, $2, inngest.now())',
                           (SELECT function_id FROM inngest.runs WHERE id = inngest.run_id()), event);
  RETURN NULL;
END $$;

-- every 15 minutes; the next slot is computed at create_function
SELECT inngest.create_function('{"id": "quarterly", "triggers": [{"cron": "*/15 * * * *"}]}', 'app.report');
SELECT function_id, position, cron, next_at FROM inngest.schedules;

-- nothing before the slot; at the slot exactly one run, with Inngest's
-- inngest/scheduled.timer event (ts = the slot, in ms)
SET inngest.fake_now = '2026-03-02 09:14:59+00';
SELECT inngest.tick();
SET inngest.fake_now = '2026-03-02 09:15:00+00';
SELECT inngest.tick();
SELECT inngest.tick();
SELECT fn, event->>'name' AS name, event->'data' AS data,
       to_timestamp((event->>'ts')::bigint / 1000.0) AS ts, event->>'id' AS id, at
FROM app.reports ORDER BY n;
SELECT next_at FROM inngest.schedules WHERE function_id = 'quarterly';

-- after downtime, only the latest missed slot fires (not one per slot)
SET inngest.fake_now = '2026-03-02 12:05:00+00';
SELECT inngest.tick();
SELECT to_timestamp((event->>'ts')::bigint / 1000.0) AS slot, at FROM app.reports ORDER BY n;
SELECT next_at FROM inngest.schedules WHERE function_id = 'quarterly';

-- the shorthand "cron", mixed triggers, and a time zone: 08:00 in Paris
-- on weekdays is 07:00 UTC in winter and 06:00 UTC after the change to
-- summer time (29 March 2026)
SELECT inngest.create_function('{"id": "paris", "cron": "TZ=Europe/Paris 0 8 * * 1-5"}', 'app.report');
SELECT inngest.create_function('{"id": "both", "triggers": [{"event": "report.requested"}, {"cron": "@daily"}]}', 'app.report');
SELECT function_id, position, cron, next_at FROM inngest.schedules ORDER BY function_id, position;
SELECT function_id, position, event FROM inngest.triggers ORDER BY function_id, position;
INSERT INTO inngest.events (name, data) VALUES ('report.requested', '{}');
SET inngest.fake_now = '2026-03-03 07:00:00+00';
SELECT inngest.tick();
SELECT fn, event->>'name' AS name, at FROM app.reports WHERE n > 2 ORDER BY n;
SET inngest.fake_now = '2026-03-30 06:00:00+00';
SELECT inngest.tick();
SELECT fn, to_timestamp((event->>'ts')::bigint / 1000.0) AS slot FROM app.reports WHERE fn = 'paris' ORDER BY n;
SELECT function_id, next_at FROM inngest.schedules WHERE function_id = 'paris';

-- replacing a definition: the same schedule keeps its next slot; a new
-- one is computed from now; a removed one is gone
SELECT next_at AS before FROM inngest.schedules WHERE function_id = 'quarterly';
SELECT inngest.create_function('{"id": "quarterly", "triggers": [{"cron": "*/15 * * * *"}]}', 'app.report');
SELECT next_at AS same_schedule FROM inngest.schedules WHERE function_id = 'quarterly';
SELECT inngest.create_function('{"id": "quarterly", "triggers": [{"cron": "0 * * * *"}]}', 'app.report');
SELECT cron, next_at AS new_schedule FROM inngest.schedules WHERE function_id = 'quarterly';
SELECT inngest.create_function('{"id": "both", "triggers": [{"event": "report.requested"}]}', 'app.report');
SELECT inngest.delete_function('paris');
SELECT function_id, position, cron FROM inngest.schedules ORDER BY 1, 2;

-- bad schedules are rejected, pointing at the field; nothing changes
CREATE FUNCTION pg_temp.cf(config text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  PERFORM inngest.create_function(config::jsonb, 'app.report');
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
SELECT pg_temp.cf('{"id": "bad", "cron": "*/0 10 * * *"}');
SELECT pg_temp.cf('{"id": "bad", "cron": "0 25 * * *"}');
SELECT pg_temp.cf('{"id": "bad", "triggers": [{"cron": "* * * *"}]}');
SELECT pg_temp.cf('{"id": "bad", "triggers": [{"cron": "TZ=Mars/Olympus 0 8 * * *"}]}');
SELECT pg_temp.cf('{"id": "bad", "triggers": [{"cron": 5}]}');
SELECT pg_temp.cf('{"id": "bad", "triggers": [{"cron": "@daily", "event": "x"}]}');
SELECT pg_temp.cf('{"id": "bad", "cron": "@daily", "if": "event.data.x"}');
SELECT pg_temp.cf('{"id": "bad", "cron": "@daily", "triggers": [{"event": "x"}]}');
SELECT count(*) AS bad_functions FROM inngest.functions WHERE id = 'bad';

DROP EXTENSION inngest_pg;
DROP SCHEMA app CASCADE;
