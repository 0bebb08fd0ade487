--
-- security: handlers and steps run as the role that created the function,
-- never with the rights of whoever drives the run; users cannot write the
-- extension's tables; a caller's search_path cannot hijack internal SQL
--
CREATE EXTENSION inngest_pg;
SET inngest.fake_now = '2026-07-01 00:00:00+00';
CREATE ROLE inngest_alice;
CREATE ROLE inngest_bob;
CREATE SCHEMA app;
GRANT USAGE ON SCHEMA app TO inngest_alice, inngest_bob;
GRANT INSERT, SELECT ON inngest.events TO inngest_alice, inngest_bob;
GRANT SELECT ON inngest.runs, inngest.steps, inngest.functions TO inngest_alice, inngest_bob;
CREATE TABLE app.secrets (s text);
INSERT INTO app.secrets VALUES ('the superuser''s secret');
CREATE TABLE app.log (who text, what text);
GRANT INSERT, SELECT ON app.log TO inngest_alice;

-- alice's handler records who its code and its step run as
CREATE FUNCTION app.alice_handler(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO app.log VALUES (current_user, 'handler');
  RETURN jsonb_build_object(
    'step_user', inngest.step_run('who', 'INSERT INTO app.log VALUES (current_user, ''step'') RETURNING who'),
    'handler_user', current_user);
END $$;
ALTER FUNCTION app.alice_handler(jsonb) OWNER TO inngest_alice;
-- a handler that tries to read what alice may not read
CREATE FUNCTION app.alice_snoop(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN inngest.step_run('read', 'SELECT s FROM app.secrets');
END $$;
ALTER FUNCTION app.alice_snoop(jsonb) OWNER TO inngest_alice;
-- a handler that tries to become someone else
CREATE FUNCTION app.alice_escalate(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RESET ROLE;
  RETURN to_jsonb(current_user);
END $$;
ALTER FUNCTION app.alice_escalate(jsonb) OWNER TO inngest_alice;
-- a handler that creates a temporary table, which could shadow another
-- function's tables in a worker's session
CREATE FUNCTION app.alice_temp(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  CREATE TEMP TABLE log (who text, what text);
  RETURN NULL;
END $$;
ALTER FUNCTION app.alice_temp(jsonb) OWNER TO inngest_alice;
REVOKE EXECUTE ON FUNCTION app.alice_snoop(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.alice_snoop(jsonb) TO inngest_alice;

SET ROLE inngest_alice;
SELECT inngest.create_function('{"id": "alice", "event": "alice.go"}', 'app.alice_handler');
SELECT inngest.create_function('{"id": "alice-snoop", "event": "alice.snoop", "retries": 0}', 'app.alice_snoop');
SELECT inngest.create_function('{"id": "alice-escalate", "event": "alice.escalate", "retries": 0}', 'app.alice_escalate');
SELECT inngest.create_function('{"id": "alice-temp", "event": "alice.temp", "retries": 0}', 'app.alice_temp');
SELECT inngest.send('alice.go') IS NOT NULL;
SELECT inngest.send('alice.snoop') IS NOT NULL;
SELECT inngest.send('alice.escalate') IS NOT NULL;
SELECT inngest.send('alice.temp') IS NOT NULL;
RESET ROLE;

-- alice loses the right to execute one of her handlers
CREATE FUNCTION app.alice_revoked(event jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT event $$;
ALTER FUNCTION app.alice_revoked(jsonb) OWNER TO inngest_alice;
SET ROLE inngest_alice;
SELECT inngest.create_function('{"id": "alice-revoked", "event": "alice.revoked"}', 'app.alice_revoked');
SELECT inngest.send('alice.revoked') IS NOT NULL;
RESET ROLE;
REVOKE EXECUTE ON FUNCTION app.alice_revoked(jsonb) FROM PUBLIC, inngest_alice;

-- The superuser drives the runs; each still runs as alice.
SELECT inngest.tick();
SELECT function_id, status, output, error ->> 'message' AS error
FROM inngest.runs ORDER BY id;
SELECT who, what FROM app.log ORDER BY what;
SELECT current_user = session_user AS back_to_superuser;

-- Creating a function needs EXECUTE on its handler: bob may not execute
-- alice_snoop, so he cannot register it (and so cannot run it as himself).
SET ROLE inngest_bob;
SELECT inngest.create_function('{"id": "bob", "event": "bob.go"}', 'app.alice_snoop');
-- bob can neither replace nor delete alice's function
SELECT inngest.create_function('{"id": "alice", "event": "bob.go"}', 'app.alice_handler');
SELECT inngest.delete_function('alice');
-- and cannot write the extension's tables directly
INSERT INTO inngest.runs (function_id, event, created_at) VALUES ('alice', '{}', now());
UPDATE inngest.functions SET owner = 'inngest_bob' WHERE id = 'alice';
DELETE FROM inngest.steps;
-- but may send events, which start alice's function as alice
SELECT inngest.send('alice.go') IS NOT NULL;
RESET ROLE;
SELECT id, function_id, status FROM inngest.runs WHERE function_id = 'alice' ORDER BY id;
SELECT owner FROM inngest.functions WHERE id = 'alice';

-- A member of the owning role may replace the function.
GRANT inngest_alice TO inngest_bob;
SET ROLE inngest_bob;
SELECT inngest.create_function('{"id": "alice", "event": "alice.go", "retries": 1}', 'app.alice_handler');
RESET ROLE;
SELECT id, owner, retries FROM inngest.functions WHERE id = 'alice';

-- A hostile search_path cannot redirect the extension's internal SQL:
-- an operator = in a schema searched before pg_catalog is never called.
CREATE SCHEMA evil;
CREATE FUNCTION evil.texteq(a text, b text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  RAISE NOTICE 'evil operator called by %', current_user;
  RETURN a OPERATOR(pg_catalog.=) b;
END $$;
CREATE OPERATOR evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.texteq);
CREATE FUNCTION evil.int8eq(a bigint, b bigint) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  RAISE NOTICE 'evil operator called by %', current_user;
  RETURN a OPERATOR(pg_catalog.=) b;
END $$;
CREATE OPERATOR evil.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = evil.int8eq);
SET search_path = evil, pg_catalog, public;
SELECT inngest.create_function('{"id": "alice", "event": "alice.go", "retries": 1}', 'app.alice_handler');
INSERT INTO inngest.events (name, data, id) VALUES ('alice.go', '{}', 'once'), ('alice.go', '{}', 'once');
SELECT inngest.tick();
SELECT inngest.delete_function('alice-temp');
RESET search_path;
SELECT function_id, status FROM inngest.runs WHERE function_id = 'alice' ORDER BY id;

DROP EXTENSION inngest_pg;
DROP SCHEMA app CASCADE;
DROP SCHEMA evil CASCADE;
DROP ROLE inngest_alice;
DROP ROLE inngest_bob;
