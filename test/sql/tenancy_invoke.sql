--
-- tenancy_invoke: who may invoke a function (step_invoke).  The callee runs
-- as its own owner and returns its output to the caller, so the caller
-- function's owner must have the privileges of the callee's owner (or be
-- an admin), or the callee's "invokers" must name a role it has the
-- privileges of, or "PUBLIC".  Otherwise the caller's run fails with 42501
-- and the callee never runs.  "invokers" must name existing roles, in an
-- array of strings.
-- Three roles: alice (an app with the grants the README recommends), bob
-- (another app, with the same grants), mallory (no grants on inngest's
-- tables: her functions have cron triggers, which need none).
-- Refusals are caught by regress_try(), which prints SQLSTATE and message.
--
CREATE EXTENSION inngest_pg;
SET inngest.fake_now = '2026-07-01 00:00:00+00';
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

-- alice's callee charges an order (a row in app.charges, written by its
-- step as alice) and says who ran it
CREATE TABLE app.charges (order_id text, charged_by text);
GRANT INSERT, SELECT ON app.charges TO regress_alice;
CREATE FUNCTION app.charge(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN jsonb_build_object(
    'charged', inngest.step_run('charge',
        'INSERT INTO app.charges VALUES ($1, current_user) RETURNING order_id',
        event #>> '{data,order_id}'),
    'by', current_user);
END $$;
-- a caller invokes the function its event names, with the event's payload
CREATE FUNCTION app.call(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN jsonb_build_object('got',
    inngest.step_invoke('call', event #>> '{data,target}', event #> '{data,payload}'));
END $$;
-- mallory's callers (cron runs have no payload): one per callee
CREATE FUNCTION app.call_process_order(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN inngest.step_invoke('steal', 'process-order', '{"order_id": "M-1"}');
END $$;
CREATE FUNCTION app.call_alice_public(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN inngest.step_invoke('public', 'alice-public', '{"order_id": "M-2"}');
END $$;
CREATE FUNCTION app.call_alice_for_bob(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN inngest.step_invoke('for-bob', 'alice-for-bob', '{"order_id": "M-3"}');
END $$;

SET ROLE regress_alice;
SELECT inngest.create_function('{"id": "process-order", "event": "order.placed", "retries": 0}', 'app.charge');
SELECT inngest.create_function('{"id": "alice-for-bob", "event": "alice.for-bob", "retries": 0,
                                 "invokers": ["regress_bob"]}', 'app.charge');
SELECT inngest.create_function('{"id": "alice-public", "event": "alice.public", "retries": 0,
                                 "invokers": ["PUBLIC"]}', 'app.charge');
SELECT inngest.create_function('{"id": "alice-call", "event": "alice.call", "retries": 0}', 'app.call');
-- "invokers" must name existing roles, in an array of strings; a bad
-- definition creates nothing
SELECT regress_try($$SELECT inngest.create_function('{"id": "alice-bad-1", "event": "x", "invokers": ["regress_no_such_role"]}', 'app.charge')$$);
SELECT regress_try($$SELECT inngest.create_function('{"id": "alice-bad-2", "event": "x", "invokers": "x"}', 'app.charge')$$);
SELECT regress_try($$SELECT inngest.create_function('{"id": "alice-bad-3", "event": "x", "invokers": [1]}', 'app.charge')$$);
SELECT regress_try($$SELECT inngest.create_function('{"id": "alice-bad-4", "event": "x", "invokers": [""]}', 'app.charge')$$);
SET ROLE regress_bob;
SELECT inngest.create_function('{"id": "bob-call", "event": "bob.call", "retries": 0}', 'app.call');
SET ROLE regress_mallory;
SELECT inngest.create_function('{"id": "mallory-steal", "cron": "0 1 * * *", "retries": 0}', 'app.call_process_order');
SELECT inngest.create_function('{"id": "mallory-public", "cron": "0 1 * * *", "retries": 0}', 'app.call_alice_public');
SELECT inngest.create_function('{"id": "mallory-for-bob", "cron": "0 1 * * *", "retries": 0}', 'app.call_alice_for_bob');
RESET ROLE;
SELECT id, owner, config -> 'invokers' AS invokers FROM inngest.functions ORDER BY id;

-- alice's functions may invoke each other (same owner): the callee's
-- output comes back to the caller
INSERT INTO inngest.events (name, data) VALUES
    ('alice.call', '{"target": "process-order", "payload": {"order_id": "A-1"}}');
SELECT inngest.tick() AS advanced;
SELECT function_id, owner, status, event ->> 'name' AS event, output
FROM inngest.runs ORDER BY id;

-- bob's function may invoke alice-for-bob ("invokers": ["regress_bob"])
-- and alice-public ("PUBLIC"), each running as alice, but not
-- process-order, which lists no invokers: that run fails with 42501 and
-- process-order does not run
INSERT INTO inngest.events (name, data) VALUES
    ('bob.call', '{"target": "alice-for-bob", "payload": {"order_id": "B-1"}}'),
    ('bob.call', '{"target": "alice-public", "payload": {"order_id": "B-2"}}'),
    ('bob.call', '{"target": "process-order", "payload": {"order_id": "B-3"}}');
SELECT inngest.tick() AS advanced;
SELECT function_id, owner, status, event #>> '{data,target}' AS target, output,
       error ->> 'sqlstate' AS sqlstate, error ->> 'message' AS message
FROM inngest.runs WHERE function_id = 'bob-call' ORDER BY id;
SELECT function_id, owner, status, event #>> '{data,order_id}' AS order_id, output
FROM inngest.runs WHERE event ->> 'name' = 'inngest/function.invoked' ORDER BY id;

-- mallory's functions (cron runs, driven here by the superuser): only the
-- PUBLIC callee may be invoked; alice-for-bob does not list her, and
-- process-order lists nobody
SET inngest.fake_now = '2026-07-01 01:00:00+00';
SELECT inngest.tick() AS advanced;
SELECT function_id, owner, status, output,
       error ->> 'sqlstate' AS sqlstate, error ->> 'message' AS message
FROM inngest.runs WHERE owner = 'regress_mallory'::regrole ORDER BY function_id;
SELECT function_id, owner, status, event #>> '{data,order_id}' AS order_id, output
FROM inngest.runs WHERE event ->> 'name' = 'inngest/function.invoked' ORDER BY id;
-- alice's handler never ran for the refused invokes: only A-1, B-1, B-2
-- and M-2 were charged, each by alice
SELECT order_id, charged_by FROM app.charges ORDER BY order_id;
-- process-order's only run is alice's (A-1): no run for B-3 or M-1
SELECT function_id, event #>> '{data,order_id}' AS order_id
FROM inngest.runs WHERE function_id = 'process-order' ORDER BY id;

DROP OWNED BY regress_alice, regress_bob, regress_mallory;
DROP ROLE regress_alice, regress_bob, regress_mallory;
DROP EXTENSION inngest_pg;
DROP SCHEMA app CASCADE;
DROP FUNCTION public.regress_try(text);
