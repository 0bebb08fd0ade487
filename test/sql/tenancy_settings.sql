--
-- tenancy_settings: nothing a run's code sets survives it.  What a handler
-- or a step sets (SET, SET LOCAL, set_config(..., false)) is undone when
-- it returns, so a later run, of any role, and the session that called
-- tick() see their own settings; a handler that releases every advisory
-- lock does not release the run's driver lock.  (test/t/014_tenants.pl
-- proves the same in a worker, with two roles' runs interleaved.)
--
CREATE EXTENSION inngest_pg;
SET inngest.fake_now = '2026-07-01 00:00:00+00';
CREATE ROLE regress_alice;
CREATE ROLE regress_bob;
CREATE SCHEMA app;
GRANT USAGE ON SCHEMA app TO PUBLIC;
GRANT SELECT ON inngest.events TO PUBLIC;
GRANT SET ON PARAMETER inngest.fake_now TO regress_alice;
-- alice's handler changes settings for the session, in the handler and in
-- a step; it reports what it saw first
CREATE FUNCTION app.setter(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  seen jsonb := jsonb_build_object(
    'tz', current_setting('TimeZone'),
    'tenant', current_setting('app.tenant', true),
    'path', current_setting('search_path'));
BEGIN
  PERFORM set_config('TimeZone', 'Asia/Tokyo', false);
  SET statement_timeout = '1s';
  PERFORM inngest.step_run('set', $q$
    SELECT set_config('app.tenant', 'alice', false),
           set_config('search_path', 'evil, public', false),
           set_config('inngest.fake_now', '2099-01-01 00:00:00+00', false)$q$);
  RETURN seen;
END $$;
-- bob's handler reports what it sees, in the handler and in a step
CREATE FUNCTION app.reporter(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN jsonb_build_object(
    'handler_tz', current_setting('TimeZone'),
    'handler_timeout', current_setting('statement_timeout'),
    'step', inngest.step_run('see', $q$
      SELECT jsonb_build_object(
        'tz', current_setting('TimeZone'),
        'tenant', current_setting('app.tenant', true),
        'path', current_setting('search_path'),
        'now', inngest.now())$q$));
END $$;
-- a handler that gives up every session advisory lock, then looks for
-- the run's driver lock (field 4 of its tag is 0x4947 = 18759)
CREATE FUNCTION app.unlocker(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_unlock_all();
  RETURN inngest.step_run('held', $q$
    SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'
    AND objsubid = 18759 AND pid = pg_backend_pid() AND granted$q$);
END $$;
SET ROLE regress_alice;
SET search_path = app, public;
SELECT inngest.create_function('{"id": "setter", "event": "go"}', 'app.setter');
SELECT inngest.create_function('{"id": "unlocker", "event": "unlock"}', 'app.unlocker');
SET ROLE regress_bob;
SELECT inngest.create_function('{"id": "reporter", "event": "go"}', 'app.reporter');
RESET ROLE;
RESET search_path;

-- the calling session's own settings
SET TimeZone = 'UTC';
SET statement_timeout = 0;
INSERT INTO inngest.events (name) VALUES ('go');
SELECT inngest.tick();
SELECT function_id, status, output FROM inngest.runs ORDER BY id;
-- a second round: the setter sees what it saw the first time
INSERT INTO inngest.events (name) VALUES ('go');
SELECT inngest.tick();
SELECT function_id, output FROM inngest.runs WHERE id > 2 ORDER BY id;
-- and the session that called tick() kept its own
SELECT current_setting('TimeZone') AS tz,
       current_setting('statement_timeout') AS timeout,
       current_setting('app.tenant', true) AS tenant,
       current_setting('search_path') AS path,
       current_setting('inngest.fake_now') AS fake_now;

-- the driver lock survives pg_advisory_unlock_all() in the handler
INSERT INTO inngest.events (name) VALUES ('unlock');
SELECT inngest.tick();
SELECT status, output FROM inngest.runs WHERE function_id = 'unlocker';

DROP EXTENSION inngest_pg;
DROP SCHEMA app CASCADE;
REVOKE SET ON PARAMETER inngest.fake_now FROM regress_alice;
DROP OWNED BY regress_alice, regress_bob;
DROP ROLE regress_alice, regress_bob;
