/* inngest_pg--0.1.sql: the schema and SQL API of inngest_pg */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION inngest_pg" to load this file. \quit

/*
 * Every name below is schema-qualified (inngest., pg_catalog.) so that the
 * script means the same thing whatever search_path the installer has.
 *
 * The C functions that run internal SQL as the extension owner are declared
 * SET search_path = pg_catalog (create_function, which must see the
 * caller's search_path, sets it itself), so that a caller's search_path
 * can never redirect an operator or function of that SQL to their own.
 * Handlers run with the search_path recorded when the function was created.
 */

-- ---------------------------------------------------------------------------
-- Clock
-- ---------------------------------------------------------------------------

-- The extension's clock: inngest.fake_now when set, else the real clock.
CREATE FUNCTION inngest.now()
RETURNS pg_catalog.timestamptz
AS 'MODULE_PATHNAME', 'inngest_now'
LANGUAGE C STABLE PARALLEL SAFE;

-- ---------------------------------------------------------------------------
-- Function definitions
-- ---------------------------------------------------------------------------

-- The handler is a regprocedure, its name with its argument types, so that
-- a dump names it unambiguously even if its name is overloaded.
CREATE TABLE inngest.functions (
    id          pg_catalog.text PRIMARY KEY,
    name        pg_catalog.text NOT NULL,
    handler     pg_catalog.regprocedure NOT NULL,
    owner       pg_catalog.regrole NOT NULL,
    retries     pg_catalog.int4 NOT NULL,
    search_path pg_catalog.text NOT NULL,
    config      pg_catalog.jsonb NOT NULL,
    created_at  pg_catalog.timestamptz NOT NULL,
    updated_at  pg_catalog.timestamptz NOT NULL
);

-- One row per trigger of a function; "condition" is the compiled "if".
CREATE TABLE inngest.triggers (
    function_id pg_catalog.text NOT NULL
                REFERENCES inngest.functions (id) ON DELETE CASCADE,
    position    pg_catalog.int4 NOT NULL,
    event       pg_catalog.text,
    expression  pg_catalog.text,
    condition   pg_catalog.jsonpath,
    PRIMARY KEY (function_id, position)
);

-- ---------------------------------------------------------------------------
-- Events
-- ---------------------------------------------------------------------------

CREATE TABLE inngest.events (
    seq     pg_catalog.int8 GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id      pg_catalog.text,
    name    pg_catalog.text NOT NULL,
    data    pg_catalog.jsonb NOT NULL DEFAULT '{}',
    ts      pg_catalog.timestamptz NOT NULL DEFAULT inngest.now(),
    -- how many runs led to it: 0 for events from outside, a run's depth + 1
    -- for the events it sends (step_send_event, system events, invoke)
    depth   pg_catalog.int4 NOT NULL DEFAULT 0
);

-- Event ids seen in the last 24 hours: the deduplication window.
CREATE TABLE inngest.event_ids (
    id          pg_catalog.text PRIMARY KEY,
    seq         pg_catalog.int8 NOT NULL,
    expires_at  pg_catalog.timestamptz NOT NULL
);

-- ---------------------------------------------------------------------------
-- Runs and their steps
-- ---------------------------------------------------------------------------

/*
 * wake_at is set exactly while a run has something to do at a time: queued
 * (now), backing off after a failure, sleeping (until then), waiting with a
 * timeout (then).  It is NULL while a run is being driven between commits,
 * while it waits with no timeout, and once it has ended, so the partial
 * index runs_due holds only runs that will be due, and claiming one never
 * scans finished or running runs.  Status changes that leave wake_at alone
 * (a run completing) touch no indexed column and can be HOT updates.
 */
CREATE TABLE inngest.runs (
    id          pg_catalog.int8 GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    function_id pg_catalog.text NOT NULL,
    event       pg_catalog.jsonb NOT NULL,
    status      pg_catalog.text NOT NULL DEFAULT 'queued',
    output      pg_catalog.jsonb,
    error       pg_catalog.jsonb,
    attempt     pg_catalog.int4 NOT NULL DEFAULT 0,
    wake_at     pg_catalog.timestamptz,
    created_at  pg_catalog.timestamptz NOT NULL,
    started_at  pg_catalog.timestamptz,
    ended_at    pg_catalog.timestamptz,
    -- flow control (flow.c, slots.c); NULL for functions without it
    pending_key pg_catalog.text,        -- debounce/batch run gathering events
    active_key  pg_catalog.text,        -- singleton or "mode": "run" key, until it ends
    blocked_on  pg_catalog.text,        -- concurrency key it waits for a slot of
    queue_at    pg_catalog.timestamptz, -- its place in that key's queue
    depth       pg_catalog.int4 NOT NULL DEFAULT 0, -- its event's depth
    -- the function's owner, whose rights the run uses and who may see it
    -- (row-level security below); REASSIGN OWNED moves it with the function
    owner       pg_catalog.regrole NOT NULL,
    CONSTRAINT runs_status_check CHECK (status IN ('queued', 'running',
        'sleeping', 'waiting', 'completed', 'failed', 'cancelled', 'skipped'))
) WITH (fillfactor = 80);

CREATE INDEX runs_due ON inngest.runs (wake_at, id) WHERE wake_at IS NOT NULL;

/*
 * Flow control.  Each index holds only the runs of functions that use the
 * feature, and only while it applies, so the columns cost other runs
 * nothing (a NULL that stays NULL keeps their updates HOT).
 *   runs_pending: the one run gathering events per debounce/batch key.
 *   runs_active: the runs of a singleton or "mode": "run" key that have
 *     not ended (the column is cleared when a run ends).
 *   runs_blocked: runs set aside until a slot of their concurrency key
 *     frees, in queue order; they are not in runs_due meanwhile.
 */
CREATE UNIQUE INDEX runs_pending ON inngest.runs (pending_key)
    WHERE pending_key IS NOT NULL;
CREATE INDEX runs_active ON inngest.runs (active_key)
    WHERE active_key IS NOT NULL;
CREATE INDEX runs_blocked ON inngest.runs (blocked_on, queue_at, id)
    WHERE blocked_on IS NOT NULL;

-- Cron triggers: one row per schedule, with the next slot to fire.
CREATE TABLE inngest.schedules (
    function_id pg_catalog.text NOT NULL
                REFERENCES inngest.functions (id) ON DELETE CASCADE,
    position    pg_catalog.int4 NOT NULL,
    cron        pg_catalog.text NOT NULL,
    next_at     pg_catalog.timestamptz NOT NULL,
    PRIMARY KEY (function_id, position)
);
CREATE INDEX schedules_next ON inngest.schedules (next_at);

-- rateLimit and throttle: the GCRA "theoretical arrival time" per key.
-- A row whose tat has passed means the same as no row.
CREATE TABLE inngest.flow_state (
    key         pg_catalog.text PRIMARY KEY,
    tat         pg_catalog.timestamptz NOT NULL
);

-- idempotency: keys seen in the last 24 hours, per function.
CREATE TABLE inngest.idempotency_keys (
    function_id pg_catalog.text NOT NULL,
    key         pg_catalog.text NOT NULL,
    expires_at  pg_catalog.timestamptz NOT NULL,
    PRIMARY KEY (function_id, key)
);

-- The memo: one row per step of a run.
CREATE TABLE inngest.steps (
    run_id      pg_catalog.int8 NOT NULL,
    step_id     pg_catalog.text NOT NULL,
    position    pg_catalog.int4 NOT NULL,
    kind        pg_catalog.text NOT NULL,
    status      pg_catalog.text NOT NULL,
    output      pg_catalog.jsonb,
    error       pg_catalog.jsonb,
    attempts    pg_catalog.int4 NOT NULL DEFAULT 1,
    started_at  pg_catalog.timestamptz NOT NULL,
    ended_at    pg_catalog.timestamptz,
    PRIMARY KEY (run_id, step_id),
    CONSTRAINT steps_status_check CHECK (status IN ('completed', 'retrying',
        'failed', 'sleeping', 'waiting', 'cancelled'))
);

-- ---------------------------------------------------------------------------
-- Waits: step_wait_for_event, cancelOn and step_invoke are one mechanism
-- ---------------------------------------------------------------------------

/*
 * A run waiting for an event: the awaited name, and the value the incoming
 * event must have at match_path (empty: no match key), precomputed from the
 * run's own event, so that an incoming event finds its waits by index and
 * its cost does not grow with the number of runs waiting for other values.
 * "condition" is the compiled "if" ($ is the incoming event, $event the
 * run's).  kind: 'wait' (step_wait_for_event), 'cancel' (cancelOn),
 * 'invoke' (step_invoke waiting for the callee's end).
 */
CREATE TABLE inngest.waits (
    id          pg_catalog.int8 GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id      pg_catalog.int8 NOT NULL,
    kind        pg_catalog.text NOT NULL,
    step_id     pg_catalog.text,
    event       pg_catalog.text NOT NULL,
    match_path  pg_catalog.text[] NOT NULL DEFAULT '{}',
    match_value pg_catalog.jsonb,
    condition   pg_catalog.jsonpath,
    expires_at  pg_catalog.timestamptz,
    created_at  pg_catalog.timestamptz NOT NULL,
    CONSTRAINT waits_kind_check CHECK (kind IN ('wait', 'cancel', 'invoke'))
);
CREATE INDEX waits_lookup ON inngest.waits (event, match_path, match_value);
CREATE INDEX waits_run ON inngest.waits (run_id);

-- The (event, match path) pairs that have ever been waited on: what an
-- incoming event of that name must look up.
CREATE TABLE inngest.wait_keys (
    event       pg_catalog.text NOT NULL,
    match_path  pg_catalog.text[] NOT NULL,
    PRIMARY KEY (event, match_path)
);

/*
 * Matches an incoming event found for a run that was being driven at that
 * moment: the executors apply them as soon as the run is free, so that an
 * event never waits for a row lock (which could deadlock with a driver).
 */
CREATE TABLE inngest.wait_hits (
    id          pg_catalog.int8 GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    wait_id     pg_catalog.int8 NOT NULL,
    run_id      pg_catalog.int8 NOT NULL,
    event       pg_catalog.jsonb NOT NULL
);
CREATE INDEX wait_hits_run ON inngest.wait_hits (run_id);

/*
 * Cancellations asked for while the run was being driven (its row locked
 * by its driver): the driver applies them at the run's next step boundary,
 * so that cancel_run never waits for a step to finish.
 */
CREATE TABLE inngest.cancel_requests (
    run_id       pg_catalog.int8 PRIMARY KEY,
    reason       pg_catalog.text NOT NULL,
    requested_at pg_catalog.timestamptz NOT NULL
);

-- ---------------------------------------------------------------------------
-- The event trigger: matches events to functions and starts runs
-- ---------------------------------------------------------------------------

CREATE FUNCTION inngest._events_trigger()
RETURNS trigger
AS 'MODULE_PATHNAME', 'inngest_events_trigger'
LANGUAGE C
SET search_path = pg_catalog;

CREATE TRIGGER events_ingest
    AFTER INSERT ON inngest.events
    REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION inngest._events_trigger();

-- ---------------------------------------------------------------------------
-- Keeping every backend's view right, restores included
-- ---------------------------------------------------------------------------

-- Any write of inngest.functions or inngest.triggers (create_function,
-- delete_function, the COPY of a restore) makes every backend rebuild its
-- function cache.
CREATE FUNCTION inngest._functions_changed()
RETURNS trigger
AS 'MODULE_PATHNAME', 'inngest_functions_changed'
LANGUAGE C;

CREATE TRIGGER functions_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON inngest.functions
    FOR EACH STATEMENT EXECUTE FUNCTION inngest._functions_changed();
CREATE TRIGGER triggers_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON inngest.triggers
    FOR EACH STATEMENT EXECUTE FUNCTION inngest._functions_changed();

/*
 * A session loading a dump (check_function_bodies off by SET, as pg_dump's
 * output and pg_restore set it) holds the workers until it ends when it
 * loads what they act on by themselves: runs, kept matches, schedules.  So
 * no run is driven before its memo, waits and function are loaded,
 * whatever the order of the tables.  Otherwise the trigger does nothing.
 * See src/restore.c.
 */
CREATE FUNCTION inngest._restore_trigger()
RETURNS trigger
AS 'MODULE_PATHNAME', 'inngest_restore_trigger'
LANGUAGE C;

CREATE TRIGGER runs_restore
    BEFORE INSERT ON inngest.runs
    FOR EACH STATEMENT EXECUTE FUNCTION inngest._restore_trigger();
CREATE TRIGGER wait_hits_restore
    BEFORE INSERT ON inngest.wait_hits
    FOR EACH STATEMENT EXECUTE FUNCTION inngest._restore_trigger();
CREATE TRIGGER schedules_restore
    BEFORE INSERT ON inngest.schedules
    FOR EACH STATEMENT EXECUTE FUNCTION inngest._restore_trigger();

-- ---------------------------------------------------------------------------
-- Management API
-- ---------------------------------------------------------------------------

CREATE FUNCTION inngest.create_function(config pg_catalog.jsonb,
                                        handler pg_catalog.regproc)
RETURNS pg_catalog.text
AS 'MODULE_PATHNAME', 'inngest_create_function'
LANGUAGE C STRICT VOLATILE;

CREATE FUNCTION inngest.delete_function(id pg_catalog.text)
RETURNS void
AS 'MODULE_PATHNAME', 'inngest_delete_function'
LANGUAGE C STRICT VOLATILE
SET search_path = pg_catalog;

-- Compiles an Inngest expression to the jsonpath the engine evaluates.
CREATE FUNCTION inngest.compile_expression(expression pg_catalog.text)
RETURNS pg_catalog.jsonpath
AS 'MODULE_PATHNAME', 'inngest_compile_expression'
LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION inngest.send(name pg_catalog.text,
                             data pg_catalog.jsonb DEFAULT '{}',
                             id pg_catalog.text DEFAULT NULL)
RETURNS pg_catalog.int8
LANGUAGE sql VOLATILE
BEGIN ATOMIC
    INSERT INTO inngest.events (name, data, id)
    VALUES (send.name, COALESCE(send.data, '{}'::pg_catalog.jsonb), send.id)
    RETURNING seq;
END;

-- Cancels a run that has not ended; false if it had.  A step executing
-- now finishes first.
CREATE FUNCTION inngest.cancel_run(run_id pg_catalog.int8)
RETURNS pg_catalog.bool
AS 'MODULE_PATHNAME', 'inngest_cancel_run'
LANGUAGE C STRICT VOLATILE
SET search_path = pg_catalog;

-- Cancels the unfinished runs of a function started (or, if not started,
-- created) in [started_after, started_before) whose event matches "if".
CREATE FUNCTION inngest.cancel_runs(function_id pg_catalog.text,
                                    started_after pg_catalog.timestamptz DEFAULT NULL,
                                    started_before pg_catalog.timestamptz DEFAULT NULL,
                                    "if" pg_catalog.text DEFAULT NULL)
RETURNS pg_catalog.int4
AS 'MODULE_PATHNAME', 'inngest_cancel_runs'
LANGUAGE C VOLATILE
SET search_path = pg_catalog;

-- A new run of the same function with the same event, from scratch.
CREATE FUNCTION inngest.rerun(run_id pg_catalog.int8)
RETURNS pg_catalog.int8
AS 'MODULE_PATHNAME', 'inngest_rerun'
LANGUAGE C STRICT VOLATILE
SET search_path = pg_catalog;

CREATE FUNCTION inngest.tick(max_runs pg_catalog.int4 DEFAULT NULL)
RETURNS pg_catalog.int4
AS 'MODULE_PATHNAME', 'inngest_tick'
LANGUAGE C VOLATILE
SET search_path = pg_catalog;

-- ---------------------------------------------------------------------------
-- Step API, valid only inside a handler that the executor is running
-- ---------------------------------------------------------------------------

CREATE FUNCTION inngest.step_run(step_id pg_catalog.text,
                                 query pg_catalog.text,
                                 VARIADIC args "any")
RETURNS pg_catalog.jsonb
AS 'MODULE_PATHNAME', 'inngest_step_run'
LANGUAGE C VOLATILE;

CREATE FUNCTION inngest.step_run(step_id pg_catalog.text,
                                 query pg_catalog.text)
RETURNS pg_catalog.jsonb
AS 'MODULE_PATHNAME', 'inngest_step_run'
LANGUAGE C VOLATILE;

CREATE FUNCTION inngest.step_sleep(step_id pg_catalog.text,
                                   duration pg_catalog.interval)
RETURNS void
AS 'MODULE_PATHNAME', 'inngest_step_sleep'
LANGUAGE C VOLATILE;

-- Inngest's duration strings ('30s', '1h30m', '7d', digits alone for
-- milliseconds) or PostgreSQL's interval syntax; a string literal resolves
-- to this overload, an interval value to the one above.
CREATE FUNCTION inngest.step_sleep(step_id pg_catalog.text,
                                   duration pg_catalog.text)
RETURNS void
AS 'MODULE_PATHNAME', 'inngest_step_sleep_text'
LANGUAGE C VOLATILE;

CREATE FUNCTION inngest.step_sleep_until(step_id pg_catalog.text,
                                         "until" pg_catalog.timestamptz)
RETURNS void
AS 'MODULE_PATHNAME', 'inngest_step_sleep_until'
LANGUAGE C VOLATILE;

CREATE FUNCTION inngest.step_send_event(step_id pg_catalog.text,
                                        name pg_catalog.text,
                                        data pg_catalog.jsonb DEFAULT '{}')
RETURNS pg_catalog.jsonb
AS 'MODULE_PATHNAME', 'inngest_step_send_event'
LANGUAGE C VOLATILE;

CREATE FUNCTION inngest.step_wait_for_event(step_id pg_catalog.text,
                                            event pg_catalog.text,
                                            timeout pg_catalog.interval,
                                            match pg_catalog.text DEFAULT NULL,
                                            "if" pg_catalog.text DEFAULT NULL)
RETURNS pg_catalog.jsonb
AS 'MODULE_PATHNAME', 'inngest_step_wait_for_event'
LANGUAGE C VOLATILE;

CREATE FUNCTION inngest.step_invoke(step_id pg_catalog.text,
                                    function_id pg_catalog.text,
                                    data pg_catalog.jsonb DEFAULT '{}',
                                    timeout pg_catalog.interval DEFAULT NULL)
RETURNS pg_catalog.jsonb
AS 'MODULE_PATHNAME', 'inngest_step_invoke'
LANGUAGE C VOLATILE;

CREATE FUNCTION inngest.run_id()
RETURNS pg_catalog.int8
AS 'MODULE_PATHNAME', 'inngest_run_id'
LANGUAGE C STABLE;

CREATE FUNCTION inngest.attempt()
RETURNS pg_catalog.int4
AS 'MODULE_PATHNAME', 'inngest_attempt'
LANGUAGE C STABLE;

-- ---------------------------------------------------------------------------
-- Cron schedules
-- ---------------------------------------------------------------------------

/*
 * The first time a cron schedule fires strictly after "after" (by default
 * the extension's clock, so that inngest.fake_now moves it as it moves
 * everything else).  Accepts everything a {"cron": ...} trigger accepts,
 * including the TZ=Zone prefix; raises an error for an invalid schedule;
 * NULL if "after" is infinite.  STABLE, not IMMUTABLE: the answer for a
 * TZ= schedule depends on the time zone database, which can change.
 */
CREATE FUNCTION inngest.cron_next(expr pg_catalog.text,
                                  after pg_catalog.timestamptz DEFAULT inngest.now())
RETURNS pg_catalog.timestamptz
AS 'MODULE_PATHNAME', 'inngest_cron_next'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

-- ---------------------------------------------------------------------------
-- Privileges and row-level security
-- ---------------------------------------------------------------------------

/*
 * Two roles every installation shares (roles belong to the cluster, so they
 * are created only if absent, and outlive DROP EXTENSION):
 *   inngest_reader  sees every run and step, and reads the definitions and
 *                   events;
 *   inngest_admin   also drives every role's runs with tick(), and acts on
 *                   any run and function as its owner would.
 * Grant them to the roles that operate the engine, not to applications.
 */
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles
                   WHERE rolname OPERATOR(pg_catalog.=) 'inngest_reader') THEN
        CREATE ROLE inngest_reader NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles
                   WHERE rolname OPERATOR(pg_catalog.=) 'inngest_admin') THEN
        CREATE ROLE inngest_admin NOLOGIN IN ROLE inngest_reader;
    END IF;
END
$roles$;

/*
 * Everyone may call the API; the tables are written only by the extension's
 * own C code, which switches to the extension owner for that.  What
 * applications may read and send is granted explicitly (see the README):
 * sending is INSERT on the columns an event's sender chooses, never seq or
 * depth, which the engine owns.
 */
GRANT USAGE ON SCHEMA inngest TO PUBLIC;
REVOKE ALL ON inngest.functions, inngest.triggers, inngest.events,
    inngest.event_ids, inngest.runs, inngest.steps, inngest.waits,
    inngest.wait_keys, inngest.wait_hits, inngest.flow_state,
    inngest.idempotency_keys, inngest.schedules, inngest.cancel_requests
    FROM PUBLIC;
GRANT SELECT ON inngest.functions, inngest.triggers, inngest.schedules,
    inngest.events, inngest.runs, inngest.steps TO inngest_reader;

/*
 * A role sees the runs of the functions it owns (or has the privileges of
 * the owner of), and their steps; inngest_reader and inngest_admin see all.
 * The engine's own statements run as the extension owner, the tables'
 * owner, to whom the policies do not apply: they cost the hot path nothing.
 * The reader test is an InitPlan, evaluated once per query and first, so
 * a reader pays nothing per row; for others pg_has_role() costs about
 * 0.1 microsecond per row scanned (20 ms on 200,000 runs).
 */
ALTER TABLE inngest.runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE inngest.steps ENABLE ROW LEVEL SECURITY;
CREATE POLICY runs_owner ON inngest.runs FOR SELECT
    USING ((SELECT pg_catalog.pg_has_role('inngest_reader', 'USAGE'))
           OR pg_catalog.pg_has_role(owner, 'USAGE'));
CREATE POLICY steps_owner ON inngest.steps FOR SELECT
    USING (EXISTS (SELECT FROM inngest.runs r
                   WHERE r.id OPERATOR(pg_catalog.=) run_id));

/*
 * pg_dump dumps the rows of every table and the values of the identity
 * sequences, named as pg_get_serial_sequence() names them (without the last
 * four lines a restored database would hand out seq 1, run 1... again,
 * clashing with the restored rows).  A restore loads the rows as they
 * were: the event trigger starts nothing for them and the workers wait for
 * the restoring session to end (src/restore.c).
 */
SELECT pg_catalog.pg_extension_config_dump('inngest.functions', '');
SELECT pg_catalog.pg_extension_config_dump('inngest.triggers', '');
SELECT pg_catalog.pg_extension_config_dump('inngest.events', '');
SELECT pg_catalog.pg_extension_config_dump('inngest.event_ids', '');
SELECT pg_catalog.pg_extension_config_dump('inngest.runs', '');
SELECT pg_catalog.pg_extension_config_dump('inngest.steps', '');
SELECT pg_catalog.pg_extension_config_dump('inngest.waits', '');
SELECT pg_catalog.pg_extension_config_dump('inngest.wait_keys', '');
SELECT pg_catalog.pg_extension_config_dump('inngest.wait_hits', '');
SELECT pg_catalog.pg_extension_config_dump('inngest.flow_state', '');
SELECT pg_catalog.pg_extension_config_dump('inngest.idempotency_keys', '');
SELECT pg_catalog.pg_extension_config_dump('inngest.schedules', '');
SELECT pg_catalog.pg_extension_config_dump('inngest.cancel_requests', '');
SELECT pg_catalog.pg_extension_config_dump('inngest.events_seq_seq', '');
SELECT pg_catalog.pg_extension_config_dump('inngest.runs_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('inngest.waits_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('inngest.wait_hits_id_seq', '');
