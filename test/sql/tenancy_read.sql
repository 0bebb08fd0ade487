--
-- tenancy_read: who sees and steers which runs.  Row-level security on
-- inngest.runs and inngest.steps shows a role the runs of the functions it
-- owns (or has the privileges of the owner of); inngest_reader sees all,
-- inngest_admin also acts on all.  cancel_run and rerun of a run the
-- caller may not see say it does not exist; REASSIGN OWNED moves the runs
-- with the functions.  A handler must be reachable by name by its creator
-- (USAGE on its schema), even when given by OID.
-- Three roles: alice (an app), bob (another app), mallory (no grants).
--
CREATE EXTENSION inngest_pg;
SET inngest.fake_now = '2026-07-01 00:00:00+00';
CREATE ROLE regress_alice;
CREATE ROLE regress_bob;
CREATE ROLE regress_mallory;
CREATE ROLE regress_watch;
CREATE ROLE regress_ops;
CREATE ROLE regress_alice_team;
GRANT inngest_reader TO regress_watch;
GRANT inngest_admin TO regress_ops;
GRANT regress_alice TO regress_alice_team;
CREATE SCHEMA app;
GRANT USAGE ON SCHEMA app TO PUBLIC;
GRANT SELECT ON inngest.events TO PUBLIC;
GRANT SELECT ON inngest.runs, inngest.steps, inngest.functions
    TO regress_alice, regress_bob, regress_alice_team;
CREATE FUNCTION app.work(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN jsonb_build_object('secret',
    inngest.step_run('s', 'SELECT $1 ->> ''secret''', event -> 'data'));
END $$;
SET ROLE regress_alice;
SELECT inngest.create_function('{"id": "alice-work", "event": "alice.work"}', 'app.work');
SET ROLE regress_bob;
SELECT inngest.create_function('{"id": "bob-work", "event": "bob.work"}', 'app.work');
RESET ROLE;
INSERT INTO inngest.events (name, data) VALUES
    ('alice.work', '{"secret": "alice-1"}'),
    ('bob.work', '{"secret": "bob-1"}');
SELECT inngest.tick();
-- the runs record whose they are
SELECT function_id, owner, output FROM inngest.runs ORDER BY id;

-- each app sees its own runs and steps, and nothing of the other's
SET ROLE regress_alice;
SELECT function_id, output FROM inngest.runs ORDER BY id;
SELECT r.function_id, s.step_id, s.output FROM inngest.steps s
JOIN inngest.runs r ON r.id = s.run_id ORDER BY 1;
SELECT count(*) AS steps_seen FROM inngest.steps;
SET ROLE regress_bob;
SELECT function_id, output FROM inngest.runs ORDER BY id;
SELECT count(*) AS steps_seen FROM inngest.steps;
-- a member of alice's role sees hers
SET ROLE regress_alice_team;
SELECT function_id FROM inngest.runs ORDER BY id;
-- mallory may read nothing at all
\set VERBOSITY sqlstate
SET ROLE regress_mallory;
SELECT count(*) FROM inngest.runs;
SELECT count(*) FROM inngest.steps;
\set VERBOSITY default
-- inngest_reader sees every run and step
SET ROLE regress_watch;
SELECT function_id, output FROM inngest.runs ORDER BY id;
SELECT count(*) AS steps_seen FROM inngest.steps;
RESET ROLE;

-- acting on another role's run: it does not exist for bob and mallory (no
-- function name, no owner in the error); a reader sees it but may not act;
-- nothing changed
SELECT id AS alice_run FROM inngest.runs WHERE function_id = 'alice-work' \gset
INSERT INTO inngest.events (name, data) VALUES ('alice.work', '{"secret": "alice-2"}');
SELECT max(id) AS alice_queued FROM inngest.runs WHERE function_id = 'alice-work' \gset
SET ROLE regress_bob;
SELECT inngest.cancel_run(:alice_queued);
\echo :LAST_ERROR_SQLSTATE
SELECT inngest.rerun(:alice_run);
\echo :LAST_ERROR_SQLSTATE
SET ROLE regress_mallory;
SELECT inngest.cancel_run(:alice_queued);
\echo :LAST_ERROR_SQLSTATE
SELECT inngest.cancel_run(999999);
\echo :LAST_ERROR_SQLSTATE
SET ROLE regress_watch;
SELECT inngest.cancel_run(:alice_queued);
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT status FROM inngest.runs WHERE id = :alice_queued;
SELECT count(*) AS alice_runs FROM inngest.runs WHERE function_id = 'alice-work';
-- the owner's team and an admin may act
SET ROLE regress_alice_team;
SELECT inngest.cancel_run(:alice_queued);
SET ROLE regress_ops;
SELECT inngest.rerun(:alice_run) > :alice_queued AS rerun_by_admin;
RESET ROLE;
SELECT function_id, status FROM inngest.runs WHERE id >= :alice_queued ORDER BY id;

-- REASSIGN OWNED moves the runs with the functions: bob's runs are now
-- alice's, and bob sees none
REASSIGN OWNED BY regress_bob TO regress_alice;
SELECT function_id, owner FROM inngest.runs WHERE function_id = 'bob-work';
SET ROLE regress_bob;
SELECT count(*) AS bob_sees FROM inngest.runs;
SET ROLE regress_alice;
SELECT DISTINCT function_id FROM inngest.runs ORDER BY 1;
RESET ROLE;

-- a handler given by OID in a schema its creator may not use is refused,
-- as it would be by name
CREATE SCHEMA hidden;
CREATE FUNCTION hidden.h(event jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT event $$;
SELECT 'hidden.h(jsonb)'::regprocedure::oid AS hidden_oid \gset
SET ROLE regress_alice;
SELECT inngest.create_function('{"id": "alice-hidden", "event": "x"}', :hidden_oid::regproc);
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT count(*) AS created FROM inngest.functions WHERE id = 'alice-hidden';

DROP EXTENSION inngest_pg;
DROP SCHEMA app CASCADE;
DROP SCHEMA hidden CASCADE;
DROP OWNED BY regress_alice, regress_bob, regress_mallory, regress_watch,
    regress_ops, regress_alice_team;
DROP ROLE regress_alice, regress_bob, regress_mallory, regress_watch,
    regress_ops, regress_alice_team;
