--
-- system_events: the events the extension sends itself (when a run ends,
-- and from step_send_event) are stored in inngest.events and fanned out
-- like inserted ones: functions trigger on them and waits see them.  They
-- are published in C: the event trigger runs only for users' INSERTs,
-- never nested inside the engine.
--
CREATE EXTENSION inngest_pg;
CREATE SCHEMA app;
SET inngest.fake_now = '2026-03-01 09:00:00+00';

CREATE FUNCTION app.work(event jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM inngest.step_send_event('notify', 'app/notified',
                                  jsonb_build_object('n', event #> '{data,n}'));
  RETURN jsonb_build_object('done', event #> '{data,n}');
END $$;
CREATE FUNCTION app.listen(event jsonb) RETURNS jsonb
LANGUAGE sql AS $$ SELECT jsonb_build_object('heard', event ->> 'name') $$;

SELECT inngest.create_function('{"id": "work", "event": "app/work"}', 'app.work');
SELECT inngest.create_function('{"id": "on-finished", "event": "inngest/function.finished",
                                 "if": "event.data.function_id == ''work''"}', 'app.listen');
SELECT inngest.create_function('{"id": "on-notified", "event": "app/notified"}', 'app.listen');

-- Count the calls of the event trigger in this transaction.
SET track_functions = 'all';
BEGIN;
INSERT INTO inngest.events (name, data) VALUES ('app/work', '{"n": 1}');
SELECT inngest.tick() AS advanced;
-- One call: the user's INSERT.  The event step_send_event sent, the
-- function.finished of "work" and of the two listeners were fanned out
-- without it.
SELECT calls FROM pg_stat_xact_user_functions
WHERE schemaname = 'inngest' AND funcname = '_events_trigger';
COMMIT;

SELECT function_id, status, output FROM inngest.runs ORDER BY id;

-- The stored events: seq from the table's identity, ts from the clock, no id.
SELECT seq, name, id, ts, data - 'event' - 'run_id' AS data
FROM inngest.events ORDER BY seq;
SELECT bool_and((data ->> 'run_id')::bigint = r.id) AS run_ids_match
FROM inngest.events e JOIN inngest.runs r ON r.function_id = e.data ->> 'function_id'
WHERE e.name = 'inngest/function.finished';

-- A later INSERT takes the next seq: the identity was used, not bypassed.
INSERT INTO inngest.events (name, data) VALUES ('unrelated', '{}') RETURNING seq;

-- A run waiting for a system event (step_invoke waits for the callee's
-- function.finished) is resumed by the published event.
CREATE FUNCTION app.caller(event jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
  RETURN inngest.step_invoke('call', 'work', '{"n": 7}');
END $$;
SELECT inngest.create_function('{"id": "caller", "event": "app/call"}', 'app.caller');
INSERT INTO inngest.events (name, data) VALUES ('app/call', '{}');
SELECT inngest.tick() AS advanced;
SELECT output FROM inngest.runs WHERE function_id = 'caller';

-- A cancellation publishes inngest/function.cancelled, which may trigger
-- functions like any event.
CREATE FUNCTION app.nap(event jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM inngest.step_sleep('nap', '1 hour');
  RETURN '{}';
END $$;
SELECT inngest.create_function('{"id": "nap", "event": "app/nap"}', 'app.nap');
SELECT inngest.create_function('{"id": "on-cancelled", "event": "inngest/function.cancelled"}', 'app.listen');
INSERT INTO inngest.events (name, data) VALUES ('app/nap', '{}');
SELECT inngest.tick() AS advanced;
SELECT inngest.cancel_run(id) FROM inngest.runs WHERE function_id = 'nap';
SELECT inngest.tick() AS advanced;
SELECT function_id, status, output FROM inngest.runs
WHERE function_id IN ('nap', 'on-cancelled') ORDER BY id;

DROP EXTENSION inngest_pg;
DROP SCHEMA app CASCADE;
