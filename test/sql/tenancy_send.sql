--
-- tenancy_send: who may send events.  Sending with SQL needs INSERT on the
-- columns a sender chooses (id, name, data, ts); seq and depth are the
-- engine's, so choosing them is refused even to a sender.  A step's
-- sendEvent (step_send_event) sends with the INSERT right of the
-- function's owner: without it the step fails with 42501 and nothing is
-- sent; once the owner may insert, the sent event starts its listeners.
-- Three roles: alice (an app with the grants the README recommends), bob
-- (another app, a sender only), mallory (no grants on inngest's tables).
-- Refusals are caught by regress_try(), which prints SQLSTATE and message.
--
CREATE EXTENSION inngest_pg;
SET inngest.fake_now = '2026-07-01 00:00:00+00';
SET TimeZone = 'UTC';
CREATE ROLE regress_alice;
CREATE ROLE regress_bob;
CREATE ROLE regress_mallory;
CREATE SCHEMA app;
GRANT USAGE ON SCHEMA app TO regress_alice, regress_bob, regress_mallory;
GRANT INSERT (id, name, data, ts) ON inngest.events TO regress_alice;
GRANT SELECT ON inngest.events, inngest.runs, inngest.steps, inngest.functions
    TO regress_alice;
GRANT INSERT (id, name, data, ts) ON inngest.events TO regress_bob;
-- runs a statement as the current role: 'ok', or its SQLSTATE and message
CREATE FUNCTION public.regress_try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- handlers: one says who ran it and with what; one sends an event from a step
CREATE FUNCTION app.record(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN jsonb_build_object('by', current_user, 'name', event ->> 'name',
                            'data', event -> 'data');
END $$;
CREATE FUNCTION app.ship(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN inngest.step_send_event('send', 'order.shipped',
           jsonb_build_object('order_id', 'A-' || inngest.run_id()));
END $$;

SET ROLE regress_alice;
SELECT inngest.create_function('{"id": "alice-orders", "event": "order.placed"}', 'app.record');
SELECT inngest.create_function('{"id": "alice-shipped", "event": "order.shipped"}', 'app.record');
RESET ROLE;

-- mallory may not send, neither with INSERT nor with inngest.send()
SET ROLE regress_mallory;
SELECT regress_try($$INSERT INTO inngest.events (name, data) VALUES ('order.placed', '{"order_id": "M-1"}')$$);
SELECT regress_try($$SELECT inngest.send('order.placed', '{"order_id": "M-2"}')$$);
RESET ROLE;
SELECT count(*) AS events_stored FROM inngest.events;
SELECT count(*) AS runs_started FROM inngest.runs;

-- bob may insert the columns a sender chooses: his event starts alice's
-- function, which runs as alice
SET ROLE regress_bob;
INSERT INTO inngest.events (name, data, id)
VALUES ('order.placed', '{"order_id": "B-1"}', 'bob-order-B-1');
INSERT INTO inngest.events (name, data, ts)
VALUES ('order.placed', '{"order_id": "B-2"}', '2026-06-30 12:00:00+00');
RESET ROLE;
SELECT seq, id, name, data, ts, depth FROM inngest.events ORDER BY seq;
SELECT function_id, owner, status, event -> 'data' AS data FROM inngest.runs ORDER BY id;
SELECT inngest.tick() AS advanced;
SELECT function_id, owner, status, output FROM inngest.runs ORDER BY id;

-- but not the engine's columns: neither seq (OVERRIDING SYSTEM VALUE) nor
-- depth, alone or with the columns he may choose
SET ROLE regress_bob;
SELECT regress_try($$INSERT INTO inngest.events (seq, name) OVERRIDING SYSTEM VALUE VALUES (1000000, 'x')$$);
SELECT regress_try($$INSERT INTO inngest.events (name, depth) VALUES ('x', 5)$$);
SELECT regress_try($$INSERT INTO inngest.events (name, data, depth) VALUES ('order.placed', '{"order_id": "B-3"}', 0)$$);
-- inngest.send() returns seq, which a sender without SELECT (seq) may not read
SELECT regress_try($$SELECT inngest.send('order.placed', '{"order_id": "B-4"}')$$);
RESET ROLE;
SELECT count(*) AS events_stored, max(seq) AS max_seq,
       count(*) FILTER (WHERE name = 'x') AS x_events
FROM inngest.events;
SELECT count(*) AS runs_started FROM inngest.runs;
-- with SELECT (seq), inngest.send() works for him
GRANT SELECT (seq) ON inngest.events TO regress_bob;
SET ROLE regress_bob;
SELECT inngest.send('order.placed', '{"order_id": "B-5"}') AS seq;
RESET ROLE;
SELECT function_id, status, event -> 'data' AS data FROM inngest.runs ORDER BY id;
SELECT inngest.tick() AS advanced;

-- sendEvent from a step uses the INSERT right of the function's owner.
-- mallory's function (a cron trigger: it receives no events, so needs no
-- SELECT) tries to send order.shipped: the step fails with 42501 and
-- nothing is sent, however the run is driven (here by the superuser)
SET ROLE regress_mallory;
SELECT inngest.create_function('{"id": "mallory-ship", "cron": "0 1 * * *", "retries": 0}', 'app.ship');
RESET ROLE;
SET inngest.fake_now = '2026-07-01 01:00:00+00';
SELECT inngest.tick() AS advanced;
SELECT r.function_id, r.owner, r.status, r.error ->> 'sqlstate' AS sqlstate,
       r.error ->> 'message' AS message
FROM inngest.runs r WHERE r.function_id = 'mallory-ship' ORDER BY r.id;
SELECT s.step_id, s.kind, s.status, s.attempts, s.error ->> 'sqlstate' AS sqlstate,
       s.error ->> 'message' AS message, s.error ->> 'detail' AS detail
FROM inngest.steps s JOIN inngest.runs r ON r.id = s.run_id
WHERE r.function_id = 'mallory-ship' ORDER BY r.id, s.position;
SELECT count(*) AS shipped_events FROM inngest.events WHERE name = 'order.shipped';
SELECT count(*) AS shipped_runs FROM inngest.runs WHERE function_id = 'alice-shipped';

-- with the column INSERT, the next run's sendEvent sends, and the event
-- starts alice's listener in the same tick
GRANT INSERT (id, name, data, ts) ON inngest.events TO regress_mallory;
SET inngest.fake_now = '2026-07-02 01:00:00+00';
SELECT inngest.tick() AS advanced;
SELECT r.function_id, r.status, s.step_id, s.status AS step_status,
       s.output ? 'ids' AS step_sent
FROM inngest.runs r LEFT JOIN inngest.steps s ON s.run_id = r.id
WHERE r.function_id = 'mallory-ship' ORDER BY r.id, s.position;
SELECT e.name, e.data, e.depth, r.output -> 'ids' ->> 0 = e.seq::text AS seq_returned
FROM inngest.events e
JOIN inngest.runs r ON r.function_id = 'mallory-ship' AND r.status = 'completed'
WHERE e.name = 'order.shipped' ORDER BY e.seq;
SELECT function_id, owner, status, output ->> 'by' AS by, output ->> 'name' AS name
FROM inngest.runs WHERE function_id = 'alice-shipped' ORDER BY id;

-- The engine's own events cannot be forged (an invoke's wait would take a
-- forged inngest/function.finished as the callee's result): the prefix is
-- reserved to everyone, superusers included, from SQL and from a step.
SET ROLE regress_bob;
SELECT regress_try($$INSERT INTO inngest.events (name, data)
  VALUES ('inngest/function.finished', '{"run_id": 1, "result": "forged"}')$$);
RESET ROLE;
SELECT regress_try($$SELECT inngest.send('inngest/function.failed', '{"run_id": 1}')$$);
CREATE FUNCTION app.forger(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN inngest.step_send_event('forge', 'inngest/function.finished',
                                 '{"run_id": 1, "result": "forged"}');
END $$;
SELECT inngest.create_function('{"id": "forger", "event": "forge", "retries": 0}', 'app.forger');
INSERT INTO inngest.events (name) VALUES ('forge');
SELECT inngest.tick() AS advanced;
SELECT r.status, s.kind, s.error ->> 'sqlstate' AS sqlstate, s.error ->> 'message' AS message
FROM inngest.runs r JOIN inngest.steps s ON s.run_id = r.id WHERE r.function_id = 'forger';
SELECT count(*) AS forged FROM inngest.events WHERE data ->> 'result' = 'forged';

DROP OWNED BY regress_alice, regress_bob, regress_mallory;
DROP ROLE regress_alice, regress_bob, regress_mallory;
DROP EXTENSION inngest_pg;
DROP SCHEMA app CASCADE;
DROP FUNCTION public.regress_try(text);
