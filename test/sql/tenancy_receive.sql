--
-- tenancy_receive: who may receive events.  A function with event triggers
-- or cancelOn rules needs its owner to hold SELECT on inngest.events (a
-- cron-only function does not); the right is checked again at each event,
-- so revoking it stops delivery.  A system event about a run
-- (inngest/function.finished ...) reaches only functions and waits whose
-- owner may see that run (the run's owner's privileges, or
-- inngest_reader).  Row-level security enabled on inngest.events is
-- honoured per receiving function's owner.
-- Three roles: alice (an app with the grants the README recommends), bob
-- (another app, with the same grants), mallory (no grants on inngest's
-- tables).
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
GRANT INSERT (id, name, data, ts) ON inngest.events TO regress_alice, regress_bob;
GRANT SELECT ON inngest.events, inngest.runs, inngest.steps, inngest.functions
    TO regress_alice, regress_bob;
-- runs a statement as the current role: 'ok', or its SQLSTATE and message
CREATE FUNCTION public.regress_try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- what a run heard: the event's name, the function a system event is
-- about, a tenant
CREATE FUNCTION app.heard(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN jsonb_strip_nulls(jsonb_build_object('by', current_user,
    'name', event ->> 'name', 'about', event #>> '{data,function_id}',
    'tenant', event #>> '{data,tenant}'));
END $$;
-- waits a day for any inngest/function.finished
CREATE FUNCTION app.wait_finished(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  ev jsonb;
BEGIN
  ev := inngest.step_wait_for_event('w', 'inngest/function.finished', '1 day');
  RETURN jsonb_build_object('by', current_user, 'about', ev #>> '{data,function_id}');
END $$;

-- waits a day for tenant.ping
CREATE FUNCTION app.wait_ping(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN inngest.step_wait_for_event('p', 'tenant.ping', '1 day') -> 'data';
END $$;

-- 1. Subscribing: mallory may not create functions that receive events
-- (an event trigger, cancelOn), but may create a cron-only function
SET ROLE regress_mallory;
SELECT regress_try($$SELECT inngest.create_function('{"id": "mallory-listen", "event": "order.placed"}', 'app.heard')$$);
SELECT regress_try($$SELECT inngest.create_function('{"id": "mallory-both", "triggers": [{"cron": "0 0 1 1 *"}, {"event": "order.placed"}]}', 'app.heard')$$);
SELECT regress_try($$SELECT inngest.create_function('{"id": "mallory-cancel", "cron": "0 0 1 1 *", "cancelOn": [{"event": "order.cancelled"}]}', 'app.heard')$$);
SELECT inngest.create_function('{"id": "mallory-cron", "cron": "0 0 1 1 *"}', 'app.heard');
RESET ROLE;
SELECT f.id, f.owner, s.cron, s.next_at
FROM inngest.functions f LEFT JOIN inngest.schedules s ON s.function_id = f.id
ORDER BY f.id;

-- alice and bob, who hold SELECT, may
SET ROLE regress_alice;
SELECT inngest.create_function('{"id": "alice-work", "event": "alice.work"}', 'app.heard');
SELECT inngest.create_function('{"id": "alice-on-finished", "event": "inngest/function.finished",
                                 "if": "event.data.function_id == ''alice-work''"}', 'app.heard');
SELECT inngest.create_function('{"id": "alice-orders", "event": "order.placed",
                                 "cancelOn": [{"event": "order.cancelled", "match": "data.order_id"}]}', 'app.heard');
SELECT inngest.create_function('{"id": "alice-tenant", "event": "tenant.event"}', 'app.heard');
SET ROLE regress_bob;
SELECT inngest.create_function('{"id": "bob-on-finished", "event": "inngest/function.finished",
                                 "if": "event.data.function_id == ''alice-work''"}', 'app.heard');
SELECT inngest.create_function('{"id": "bob-orders", "event": "order.placed"}', 'app.heard');
SELECT inngest.create_function('{"id": "bob-tenant", "event": "tenant.event"}', 'app.heard');
SELECT inngest.create_function('{"id": "bob-wait", "event": "bob.wait"}', 'app.wait_finished');
RESET ROLE;

-- 2. System events: alice's run ends; her own listener hears it, bob's
-- does not, though the event is stored
INSERT INTO inngest.events (name, data) VALUES ('alice.work', '{}');
SELECT inngest.tick() AS advanced;
SELECT function_id, owner, status, output FROM inngest.runs ORDER BY id;
SELECT data ->> 'function_id' AS about, count(*) AS finished_events
FROM inngest.events WHERE name = 'inngest/function.finished' GROUP BY 1 ORDER BY 1;
SELECT count(*) AS bob_on_finished_runs FROM inngest.runs WHERE function_id = 'bob-on-finished';
-- a member of inngest_reader may see alice's runs, so bob's function now
-- hears the end of her next run
GRANT inngest_reader TO regress_bob;
INSERT INTO inngest.events (name, data) VALUES ('alice.work', '{}');
SELECT inngest.tick() AS advanced;
SELECT function_id, owner, status, output FROM inngest.runs
WHERE function_id IN ('alice-on-finished', 'bob-on-finished') ORDER BY id;
REVOKE inngest_reader FROM regress_bob;

-- 3. Revoking SELECT on inngest.events from bob: his function no longer
-- receives order.placed; alice's still does
INSERT INTO inngest.events (name, data) VALUES ('order.placed', '{"order_id": "O-1"}');
REVOKE SELECT ON inngest.events FROM regress_bob;
INSERT INTO inngest.events (name, data) VALUES ('order.placed', '{"order_id": "O-2"}');
SELECT function_id, owner, status, event #>> '{data,order_id}' AS order_id
FROM inngest.runs WHERE function_id IN ('alice-orders', 'bob-orders') ORDER BY id;
GRANT SELECT ON inngest.events TO regress_bob;
SELECT inngest.tick() AS advanced;

-- 4. Row-level security on inngest.events, enabled by the DBA: each
-- function receives only the events its owner's policies show it
ALTER TABLE inngest.events ENABLE ROW LEVEL SECURITY;
CREATE POLICY regress_tenant_read ON inngest.events FOR SELECT
    USING (data ->> 'tenant' = current_user);
CREATE POLICY regress_tenant_send ON inngest.events FOR INSERT
    WITH CHECK (true);
INSERT INTO inngest.events (name, data) VALUES
    ('tenant.event', '{"tenant": "regress_alice"}'),
    ('tenant.event', '{"tenant": "regress_bob"}'),
    ('tenant.event', '{"tenant": "regress_mallory"}');
-- the apps send under the policies too
SET ROLE regress_bob;
INSERT INTO inngest.events (name, data) VALUES ('tenant.event', '{"tenant": "regress_alice", "from": "bob"}');
RESET ROLE;
SELECT function_id, owner, status, event #>> '{data,tenant}' AS tenant,
       event #>> '{data,from}' AS sent_by
FROM inngest.runs WHERE function_id IN ('alice-tenant', 'bob-tenant') ORDER BY id;
-- and so do waits: bob's run waiting for tenant.ping is not resolved by
-- a ping only alice may see, only by his own
SET ROLE regress_bob;
SELECT inngest.create_function('{"id": "bob-ping", "event": "bob.ping.start"}', 'app.wait_ping');
RESET ROLE;
INSERT INTO inngest.events (name, data) VALUES ('bob.ping.start', '{"tenant": "regress_bob"}');
SELECT inngest.tick() AS advanced;
INSERT INTO inngest.events (name, data) VALUES ('tenant.ping', '{"tenant": "regress_alice", "n": 1}');
SELECT inngest.tick() AS advanced;
SELECT status FROM inngest.runs WHERE function_id = 'bob-ping';
INSERT INTO inngest.events (name, data) VALUES ('tenant.ping', '{"tenant": "regress_bob", "n": 2}');
SELECT inngest.tick() AS advanced;
SELECT status, output FROM inngest.runs WHERE function_id = 'bob-ping';
DROP POLICY regress_tenant_read ON inngest.events;
DROP POLICY regress_tenant_send ON inngest.events;
ALTER TABLE inngest.events DISABLE ROW LEVEL SECURITY;
-- without it, both receive every tenant's events again
INSERT INTO inngest.events (name, data) VALUES ('tenant.event', '{"tenant": "regress_mallory"}');
SELECT function_id, count(*) AS runs,
       count(*) FILTER (WHERE event #>> '{data,tenant}' = 'regress_mallory') AS mallory_tenant
FROM inngest.runs WHERE function_id IN ('alice-tenant', 'bob-tenant')
GROUP BY function_id ORDER BY function_id;
SELECT inngest.tick() AS advanced;

-- 5. waitForEvent: bob's run waits for any inngest/function.finished;
-- the end of alice's run does not resolve it ...
INSERT INTO inngest.events (name, data) VALUES ('bob.wait', '{}');
SELECT inngest.tick() AS advanced;
SELECT id AS bob_wait_run FROM inngest.runs WHERE function_id = 'bob-wait' \gset
SELECT r.function_id, r.status, s.step_id, s.kind, s.status AS step_status
FROM inngest.runs r JOIN inngest.steps s ON s.run_id = r.id
WHERE r.function_id = 'bob-wait' ORDER BY r.id, s.position;
INSERT INTO inngest.events (name, data) VALUES ('alice.work', '{}');
SELECT inngest.tick() AS advanced;
SELECT function_id, owner, status, output FROM inngest.runs
WHERE id >= :bob_wait_run ORDER BY id;
SELECT r.function_id, r.status, s.step_id, s.status AS step_status
FROM inngest.runs r JOIN inngest.steps s ON s.run_id = r.id
WHERE r.function_id = 'bob-wait' ORDER BY r.id, s.position;
-- ... the end of bob's own run does: order.placed starts alice's and
-- bob's functions, and the wait gets the end of bob-orders
INSERT INTO inngest.events (name, data) VALUES ('order.placed', '{"order_id": "O-3"}');
SELECT inngest.tick() AS advanced;
SELECT function_id, owner, status, output FROM inngest.runs
WHERE id >= :bob_wait_run ORDER BY id;
SELECT r.function_id, r.status, s.step_id, s.status AS step_status
FROM inngest.runs r JOIN inngest.steps s ON s.run_id = r.id
WHERE r.function_id = 'bob-wait' ORDER BY r.id, s.position;

DROP OWNED BY regress_alice, regress_bob, regress_mallory;
DROP ROLE regress_alice, regress_bob, regress_mallory;
DROP EXTENSION inngest_pg;
DROP SCHEMA app CASCADE;
DROP FUNCTION public.regress_try(text);
