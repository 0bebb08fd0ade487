--
-- tenancy_clock: who may move the clock and drive runs.  inngest.fake_now
-- is settable only by superusers and roles granted SET on it; tick() by a
-- role that is not an admin drives only the runs and cron schedules of
-- functions that role owns (or has the privileges of the owner of), so a
-- fake clock, a statement_timeout or max_runs touch nobody else's runs.
-- Three roles: alice (an app), bob (another app), mallory (no grants).
--
CREATE EXTENSION inngest_pg;
CREATE ROLE regress_alice;
CREATE ROLE regress_bob;
CREATE ROLE regress_mallory;
CREATE ROLE regress_ops;
GRANT inngest_admin TO regress_ops;
CREATE SCHEMA app;
GRANT USAGE ON SCHEMA app TO regress_alice, regress_bob;
GRANT INSERT (id, name, data, ts) ON inngest.events TO regress_alice, regress_bob;
GRANT SELECT ON inngest.events, inngest.runs, inngest.steps, inngest.functions
    TO regress_alice, regress_bob;
CREATE FUNCTION app.nap(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM inngest.step_sleep('nap', '7 days');
  RETURN jsonb_build_object('by', current_user);
END $$;
CREATE FUNCTION app.hello(event jsonb) RETURNS jsonb LANGUAGE sql
AS $$ SELECT jsonb_build_object('by', current_user) $$;

SET inngest.fake_now = '2026-07-01 00:00:00+00';
SET ROLE regress_alice;
SELECT inngest.create_function('{"id": "alice-nap", "event": "alice.nap"}', 'app.nap');
SELECT inngest.create_function('{"id": "alice-cron", "cron": "0 3 * * *"}', 'app.hello');
SET ROLE regress_bob;
SELECT inngest.create_function('{"id": "bob-nap", "event": "bob.nap"}', 'app.nap');
SELECT inngest.create_function('{"id": "bob-cron", "cron": "0 4 * * *"}', 'app.hello');
RESET ROLE;
INSERT INTO inngest.events (name) VALUES ('alice.nap'), ('bob.nap');
SELECT inngest.tick();
SELECT function_id, status, owner FROM inngest.runs ORDER BY id;

-- the fake clock: refused to mallory and to the apps ...
\set VERBOSITY sqlstate
SET ROLE regress_mallory;
SET inngest.fake_now = '2099-01-01 00:00:00+00';
SELECT set_config('inngest.fake_now', '2099-01-01 00:00:00+00', false);
SET ROLE regress_alice;
SET inngest.fake_now = '2099-01-01 00:00:00+00';
\set VERBOSITY default
RESET ROLE;
-- ... and the refusal changed nothing: the clock is still the superuser's
SELECT current_setting('inngest.fake_now') AS fake_now;

-- tick() by mallory drives nobody's runs (so no timeout of hers can fail
-- their steps) and fires nobody's schedules
SET inngest.fake_now = '2026-07-09 00:00:00+00';
SET ROLE regress_mallory;
SELECT inngest.tick() AS mallory_advanced;
RESET ROLE;
SELECT function_id, status, attempt FROM inngest.runs ORDER BY id;
SELECT function_id, next_at FROM inngest.schedules ORDER BY function_id;

-- tick() by alice, even with max_runs, drives alice's runs and fires her
-- schedule only: bob's sleep is still asleep, his schedule not moved
SET ROLE regress_alice;
SELECT inngest.tick(max_runs => 10) AS alice_advanced;
RESET ROLE;
SELECT function_id, status, output FROM inngest.runs ORDER BY id;
SELECT function_id, next_at FROM inngest.schedules ORDER BY function_id;

-- a role granted SET on the parameter may use the fake clock, still only
-- for its own runs
GRANT SET ON PARAMETER inngest.fake_now TO regress_bob;
SET ROLE regress_bob;
SET inngest.fake_now = '2026-07-10 00:00:00+00';
SELECT inngest.tick() AS bob_advanced;
RESET ROLE;
SELECT function_id, status, output FROM inngest.runs ORDER BY id;

-- an admin (a member of inngest_admin) drives every role's runs
SET inngest.fake_now = '2026-07-11 00:00:00+00';
INSERT INTO inngest.events (name) VALUES ('alice.nap'), ('bob.nap');
SET ROLE regress_ops;
SELECT inngest.tick() AS ops_advanced;
RESET ROLE;
SELECT function_id, status FROM inngest.runs WHERE created_at >= '2026-07-11 00:00:00+00'
ORDER BY id;

RESET inngest.fake_now;
REVOKE SET ON PARAMETER inngest.fake_now FROM regress_bob;
DROP OWNED BY regress_alice, regress_bob, regress_mallory, regress_ops;
DROP ROLE regress_alice, regress_bob, regress_mallory, regress_ops;
DROP SCHEMA app CASCADE;
DROP EXTENSION inngest_pg;
