--
-- roles: inngest functions follow REASSIGN OWNED and DROP OWNED like owned
-- objects, DROP ROLE is refused while the role owns some, and a function
-- whose owner was dropped anyway fails its runs cleanly
--
CREATE EXTENSION inngest_pg;
SET inngest.fake_now = '2026-07-01 00:00:00+00';
CREATE ROLE regress_inngest_ann;
CREATE ROLE regress_inngest_ben;
CREATE ROLE regress_inngest_cat;
CREATE ROLE regress_inngest_gone;
CREATE ROLE regress_inngest_idle;
-- Grants to PUBLIC only: a grant to one of the roles would make PostgreSQL
-- itself refuse to drop it, before the extension is asked.
CREATE SCHEMA app;
GRANT USAGE ON SCHEMA app TO PUBLIC;
-- functions with event triggers receive events: their owners must read them
GRANT SELECT ON inngest.events TO PUBLIC;
-- the handler (the superuser's, executable by everyone) says who it runs as
CREATE FUNCTION app.whoami(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN jsonb_build_object(
    'step', inngest.step_run('who', 'SELECT current_user::text'),
    'handler', current_user);
END $$;

SET ROLE regress_inngest_ann;
SELECT inngest.create_function('{"id": "ann-who", "event": "ann"}', 'app.whoami');
SELECT inngest.create_function('{"id": "ann-too", "event": "ann.too"}', 'app.whoami');
SET ROLE regress_inngest_ben;
SELECT inngest.create_function('{"id": "ben-who", "event": "ben"}', 'app.whoami');
SET ROLE regress_inngest_gone;
SELECT inngest.create_function('{"id": "gone-who", "event": "gone"}', 'app.whoami');
RESET ROLE;
SELECT id, owner FROM inngest.functions ORDER BY id;

-- ann's function runs as ann
INSERT INTO inngest.events (name) VALUES ('ann');
SELECT inngest.tick();
SELECT function_id, status, output FROM inngest.runs ORDER BY id;

-- DROP ROLE is refused while the role owns functions; the whole statement
-- fails, so idle, which owns nothing, is not dropped either
DROP ROLE regress_inngest_ann;
DROP ROLE regress_inngest_idle, regress_inngest_ann;
SELECT rolname FROM pg_roles WHERE rolname IN ('regress_inngest_ann', 'regress_inngest_idle')
ORDER BY rolname;

-- REASSIGN OWNED (of several roles, one of which owns nothing): ann's
-- functions now belong to cat, and run as cat, a run queued before too
INSERT INTO inngest.events (name) VALUES ('ann'), ('ann.too');
REASSIGN OWNED BY regress_inngest_ann, regress_inngest_idle TO regress_inngest_cat;
SELECT id, owner FROM inngest.functions ORDER BY id;
SELECT inngest.tick();
SELECT function_id, status, output FROM inngest.runs ORDER BY id;
-- ann owns nothing any more and may be dropped
DROP ROLE regress_inngest_ann;
-- cat may now replace them
SET ROLE regress_inngest_cat;
SELECT inngest.create_function('{"id": "ann-too", "event": "ann.too", "retries": 1}', 'app.whoami');
RESET ROLE;
SELECT id, owner, retries FROM inngest.functions WHERE id = 'ann-too';

-- The error names at most 10 functions.
SET ROLE regress_inngest_cat;
SELECT count(inngest.create_function(
         jsonb_build_object('id', 'cat-' || lpad(i::text, 2, '0'), 'event', 'cat'),
         'app.whoami'))
FROM generate_series(1, 10) i;
RESET ROLE;
DROP ROLE regress_inngest_cat;

-- DROP OWNED deletes the role's functions and cancels their runs; the
-- role may then be dropped
INSERT INTO inngest.events (name) VALUES ('ben'), ('cat');
SELECT function_id, status FROM inngest.runs WHERE status = 'queued' ORDER BY id;
DROP OWNED BY regress_inngest_ben;
SELECT id, owner FROM inngest.functions WHERE id NOT LIKE 'cat-%' ORDER BY id;
SELECT function_id, status, ended_at IS NOT NULL AS ended
FROM inngest.runs WHERE function_id = 'ben-who' ORDER BY id;
DROP ROLE regress_inngest_ben;
DROP OWNED BY regress_inngest_cat;
SELECT id FROM inngest.functions ORDER BY id;
SELECT status, count(*) FROM inngest.runs WHERE function_id LIKE 'cat-%'
GROUP BY status;
DROP ROLE regress_inngest_cat;

-- A run of gone's function is queued; then, in a new backend that has not
-- loaded the library (it is not preloaded here), DROP ROLE cannot see
-- gone's functions and drops the role (README, Security).
INSERT INTO inngest.events (name) VALUES ('gone');
\c
SET inngest.fake_now = '2026-07-01 00:00:00+00';
DROP ROLE regress_inngest_gone;
SELECT count(*) FROM pg_roles WHERE rolname = 'regress_inngest_gone';
-- The run fails cleanly, saying why.
SELECT inngest.tick();
SELECT function_id, status, error ->> 'sqlstate' AS sqlstate,
       regexp_replace(error ->> 'message', '[0-9]+', 'N') AS error
FROM inngest.runs WHERE function_id = 'gone-who';
-- Nobody but the extension owner (or a superuser) may delete the function.
SET ROLE regress_inngest_idle;
\set VERBOSITY terse
SELECT inngest.delete_function('gone-who');
\set VERBOSITY default
RESET ROLE;
SELECT inngest.delete_function('gone-who');
SELECT id FROM inngest.functions ORDER BY id;

-- A role that owns nothing drops fine (a missing one is skipped).
DROP ROLE IF EXISTS regress_inngest_nobody, regress_inngest_idle;

-- Without the extension the commands are PostgreSQL's alone.
DROP EXTENSION inngest_pg;
CREATE ROLE regress_inngest_dan;
CREATE ROLE regress_inngest_eve;
REASSIGN OWNED BY regress_inngest_dan TO regress_inngest_eve;
DROP OWNED BY regress_inngest_dan;
DROP ROLE regress_inngest_dan, regress_inngest_eve;
DROP SCHEMA app CASCADE;
