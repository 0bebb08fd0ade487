# 008_crash_matrix.pl: crashes injected into the real workers, and what
# must hold after each restart.
#
#  1) kill -9 of an executor while it runs a long step (pg_sleep): the
#     postmaster resets every backend (crash recovery); the run resumes at
#     that step, the other runs in flight complete;
#  2) immediate shutdown with 500 runs in flight of six kinds: three-step
#     runs, runs sleeping, runs waiting for an event (resolved before and
#     after the crash), runs retrying after a failed step, runs failing
#     with IG001, runs on a concurrency key (limit 1);
#  3) a 100,000-event INSERT ... SELECT, one statement: kill -9 of its
#     backend while the rows are inserted (a function in the SELECT sleeps
#     at row 60,000), then while the event trigger creates the runs (a
#     test-only BEFORE INSERT trigger on inngest.runs sleeps at the run of
#     event 50,000, dropped afterwards); nothing of either may remain.
#     Then the statement committed, and an immediate shutdown while its
#     runs drain.
#
# After every restart: every run ends (nothing is left queued, running,
# sleeping or waiting), every step's write exists exactly once (the sink
# table has no unique constraint, so a step done twice would show), every
# event started exactly one run of each function it triggers, no event is
# lost, each ended run sent exactly one system event, and no server
# process died but those the test killed (a crash of the engine's own is
# hidden from the other checks by crash recovery).

use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use InngestNode;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);

my $t_test = time();

# restart_after_crash: a backend killed by a signal makes the postmaster
# reset every backend and run crash recovery, as in production (the test
# framework turns it off by default).
my $node = InngestNode::start('crash_matrix',
	conf => "restart_after_crash = on\nmax_worker_processes = 16");

my $crashes = 0;           # crashes injected
my %inserted;              # user events inserted and committed, by name

sub sql
{
	return $node->safe_psql('postgres', $_[0]);
}

# Poll $query until it returns $expected, at most $limit seconds; tolerates
# errors (the server may be restarting).  Returns the seconds it took, or
# undef (with a diagnostic) if it never matched.
sub poll
{
	my ($query, $expected, $limit) = @_;
	my $t0 = time();
	my $last = '';
	while (time() - $t0 < $limit)
	{
		my $r = eval { $node->safe_psql('postgres', $query) };
		if (defined $r)
		{
			return time() - $t0 if $r eq $expected;
			$last = $r;
		}
		usleep(100_000);
	}
	diag "timed out after $limit s waiting for \"$expected\" from: $query\nlast result: $last";
	return undef;
}

my $UNFINISHED = q{SELECT count(*) FROM inngest.runs
	WHERE status IN ('queued', 'running', 'sleeping', 'waiting')};

# Wait until no run is unfinished; returns the seconds it took (undef if
# not within $limit).
sub drain
{
	my ($label, $limit) = @_;
	my $took = poll($UNFINISHED, '0', $limit);
	ok(defined $took, "$label: every run ends");
	return $took;
}

sub status_counts
{
	my ($where) = @_;
	return sql(
		qq{SELECT coalesce(string_agg(function_id || ' ' || status || ' ' || n,
		                              ', ' ORDER BY function_id, status), '')
		   FROM (SELECT function_id, status, count(*) AS n FROM inngest.runs
		         WHERE $where GROUP BY 1, 2) s});
}

# Server processes that died of a signal since the log offset $from: the
# kill -9 this test injected, and nothing else (a crash of its own is a
# bug, even if recovery hides it from the other checks)
sub crashes_since
{
	my ($from) = @_;
	my $log = slurp_file($node->logfile, $from);
	return join(', ', $log =~ /(terminated by signal \d+)/g);
}

# The invariants that must hold whenever the system is drained; $label
# names the moment, $kills the kill -9 injected since the log offset
# $from.  Returns (runs, step writes) verified.
sub check_invariants
{
	my ($label, $from, $kills) = @_;

	is(crashes_since($from), join(', ', ('terminated by signal 9') x $kills),
		"$label: no server process died but the $kills killed by the test");

	is(sql($UNFINISHED), '0', "$label: no run is queued, running, sleeping or waiting");
	is(sql(q{SELECT count(*) FROM inngest.runs WHERE status = 'running'}),
		'0', "$label: nothing is left 'running'");
	is( sql(
			q{SELECT count(*) FROM inngest.runs
			  WHERE status NOT IN ('completed', 'failed')
			     OR (status = 'failed') <> (function_id = 'cm-fail')}),
		'0',
		"$label: every run completed, but those meant to fail, which failed");

	# every expected (event, step) write exactly once, and nothing else
	my ($missing, $twice, $unexpected, $writes) = split /\|/, sql(
		q{WITH want AS (
			SELECT e.name AS fn, (e.data ->> 'k')::int AS k, x.step
			FROM inngest.events e JOIN public.expected x ON x.name = e.name),
		  got AS (
			SELECT fn, k, step, count(*) AS n FROM public.sink GROUP BY 1, 2, 3)
		  SELECT count(*) FILTER (WHERE got.n IS NULL),
		         count(*) FILTER (WHERE got.n > 1),
		         count(*) FILTER (WHERE want.k IS NULL),
		         (SELECT count(*) FROM public.sink)
		  FROM want FULL JOIN got USING (fn, k, step)});
	is($missing, '0', "$label: no step write is missing");
	is($twice, '0', "$label: no step wrote twice");
	is($unexpected, '0', "$label: no write that no step should have made");

	# every event started exactly one run of each function it triggers, and
	# every run comes from an event
	my ($bad_events, $orphans, $runs) = split /\|/, sql(
		q{WITH per_event AS (
			SELECT count(r.id) AS n
			FROM inngest.events e
			JOIN inngest.triggers t ON t.event = e.name
			LEFT JOIN inngest.runs r ON r.function_id = t.function_id
			     AND r.event ->> 'id' = coalesce(e.id, e.seq::text)
			GROUP BY e.seq, t.function_id)
		  SELECT (SELECT count(*) FROM per_event WHERE n <> 1),
		         (SELECT count(*) FROM inngest.runs r WHERE NOT EXISTS (
		            SELECT 1 FROM inngest.events e
		            WHERE coalesce(e.id, e.seq::text) = r.event ->> 'id'
		              AND e.name = r.event ->> 'name')),
		         (SELECT count(*) FROM inngest.runs)});
	is($bad_events, '0',
		"$label: every event started exactly one run per function (none lost, none twice)");
	is($orphans, '0', "$label: every run belongs to an existing event");

	# no user event lost or duplicated
	my $want = join(',', map { "$_:$inserted{$_}" } sort keys %inserted);
	is( sql(
			q{SELECT string_agg(name || ':' || n, ',' ORDER BY name)
			  FROM (SELECT name, count(*) AS n FROM inngest.events
			        WHERE name NOT LIKE 'inngest/%' GROUP BY name) s}),
		$want,
		"$label: the user events are exactly those inserted and committed");

	# each ended run sent exactly its system events: a completed run one
	# inngest/function.finished, a failed one inngest/function.failed and
	# inngest/function.finished (with "error"); so the events are exactly
	# the inserted ones plus one per run plus one per failed run
	my ($bad_sys, $total_events, $failed_runs) = split /\|/, sql(
		q{WITH sys AS (
			SELECT (data ->> 'run_id')::bigint AS run_id,
			       count(*) FILTER (WHERE name = 'inngest/function.finished') AS finished,
			       count(*) FILTER (WHERE name = 'inngest/function.failed') AS failed,
			       count(*) FILTER (WHERE name = 'inngest/function.finished'
			                        AND data ? 'error') AS finished_with_error,
			       count(*) AS n
			FROM inngest.events WHERE name LIKE 'inngest/%' GROUP BY 1)
		  SELECT count(*) FILTER (WHERE r.id IS NULL OR sys.run_id IS NULL
		           OR sys.finished <> 1
		           OR (r.status = 'completed' AND (sys.n <> 1 OR sys.finished_with_error <> 0))
		           OR (r.status = 'failed' AND (sys.n <> 2 OR sys.failed <> 1
		                                        OR sys.finished_with_error <> 1))
		           OR r.status NOT IN ('completed', 'failed')),
		         (SELECT count(*) FROM inngest.events),
		         (SELECT count(*) FROM inngest.runs WHERE status = 'failed')
		  FROM inngest.runs r FULL JOIN sys ON sys.run_id = r.id});
	is($bad_sys, '0',
		"$label: each run sent exactly its system events, matching its status");
	my $user_events = 0;
	$user_events += $_ for values %inserted;
	is($total_events, $user_events + $runs + $failed_runs,
		"$label: events = $user_events inserted + $runs + $failed_runs system events");

	is( sql(
			q{SELECT (SELECT count(*) FROM inngest.waits) || ','
			      || (SELECT count(*) FROM inngest.wait_hits) || ','
			      || (SELECT count(*) FROM inngest.runs WHERE blocked_on IS NOT NULL
			             OR active_key IS NOT NULL OR wake_at IS NOT NULL) || ','
			      || (SELECT count(*) FROM inngest.steps
			          WHERE status IN ('retrying', 'sleeping', 'waiting'))}),
		'0,0,0,0',
		"$label: no wait, kept match, set-aside run, wake-up or unfinished step is left");

	return ($runs, $writes);
}

# ---------------------------------------------------------------------------
# Functions.  Every step writes one row (event name, data.k, step) into
# public.sink, which has no unique constraint.  public.expected lists the
# steps whose write each event's run must leave exactly once.
# ---------------------------------------------------------------------------

sql(q{
	CREATE EXTENSION inngest_pg;

	CREATE TABLE public.sink (fn text, k int, step text, val text,
	                          run_id bigint, started timestamptz, ended timestamptz);
	CREATE TABLE public.expected (name text, step text);
	CREATE TABLE public.ctl (name text PRIMARY KEY, val float8);
	INSERT INTO public.ctl VALUES ('long', 60);

	-- a step's write, after an optional pause (held inside the step)
	CREATE FUNCTION public.w(fn text, k int, step text, val text, pause float8)
	RETURNS int LANGUAGE plpgsql AS $$
	DECLARE t0 timestamptz := clock_timestamp();
	BEGIN
		IF pause > 0 THEN PERFORM pg_sleep(pause); END IF;
		INSERT INTO public.sink VALUES (fn, k, step, val, inngest.run_id(), t0,
		                                clock_timestamp());
		RETURN k;
	END $$;

	-- the write first, then a sleep as long as ctl says: a kill -9 during
	-- the sleep leaves the write uncommitted
	CREATE FUNCTION public.long_w(fn text, k int, step text)
	RETURNS int LANGUAGE plpgsql AS $$
	BEGIN
		INSERT INTO public.sink VALUES (fn, k, step, NULL, inngest.run_id(),
		                                clock_timestamp(), NULL);
		PERFORM pg_sleep((SELECT val FROM public.ctl WHERE name = 'long'));
		RETURN k;
	END $$;

	-- fails on the first attempt (its write rolled back with it)
	CREATE FUNCTION public.flaky(fn text, k int)
	RETURNS int LANGUAGE plpgsql AS $$
	BEGIN
		INSERT INTO public.sink VALUES (fn, k, 'flaky', inngest.attempt()::text,
		                                inngest.run_id(), clock_timestamp(), NULL);
		IF inngest.attempt() < 1 THEN
			RAISE EXCEPTION 'flaky step fails on attempt %', inngest.attempt();
		END IF;
		RETURN k;
	END $$;

	-- never succeeds, and says so: the run fails at once
	CREATE FUNCTION public.boom(fn text, k int)
	RETURNS int LANGUAGE plpgsql AS $$
	BEGIN
		INSERT INTO public.sink VALUES (fn, k, 'boom', NULL, inngest.run_id(),
		                                clock_timestamp(), NULL);
		RAISE EXCEPTION 'boom %', k USING ERRCODE = 'IG001';
	END $$;

	-- three steps, each pausing data.pause seconds (default 0)
	CREATE FUNCTION public.h_multi(event jsonb) RETURNS jsonb
	LANGUAGE plpgsql AS $$
	DECLARE
		e text := event ->> 'name';
		k int := (event #>> '{data,k}')::int;
		p float8 := coalesce((event #>> '{data,pause}')::float8, 0);
	BEGIN
		PERFORM inngest.step_run('s1', 'SELECT public.w($1, $2, ''s1'', NULL, $3)', e, k, p);
		PERFORM inngest.step_run('s2', 'SELECT public.w($1, $2, ''s2'', NULL, $3)', e, k, p);
		PERFORM inngest.step_run('s3', 'SELECT public.w($1, $2, ''s3'', NULL, $3)', e, k, p);
		RETURN jsonb_build_object('k', k);
	END $$;

	CREATE FUNCTION public.h_long(event jsonb) RETURNS jsonb
	LANGUAGE plpgsql AS $$
	DECLARE
		e text := event ->> 'name';
		k int := (event #>> '{data,k}')::int;
	BEGIN
		PERFORM inngest.step_run('a', 'SELECT public.w($1, $2, ''a'', NULL, 0)', e, k);
		PERFORM inngest.step_run('long', 'SELECT public.long_w($1, $2, ''long'')', e, k);
		PERFORM inngest.step_run('c', 'SELECT public.w($1, $2, ''c'', NULL, 0)', e, k);
		RETURN jsonb_build_object('k', k);
	END $$;

	CREATE FUNCTION public.h_sleep(event jsonb) RETURNS jsonb
	LANGUAGE plpgsql AS $$
	DECLARE
		e text := event ->> 'name';
		k int := (event #>> '{data,k}')::int;
	BEGIN
		PERFORM inngest.step_run('a', 'SELECT public.w($1, $2, ''a'', NULL, 0)', e, k);
		PERFORM inngest.step_sleep('nap', '3 seconds');
		PERFORM inngest.step_run('b', 'SELECT public.w($1, $2, ''b'', NULL, 0)', e, k);
		RETURN jsonb_build_object('k', k);
	END $$;

	CREATE FUNCTION public.h_wait(event jsonb) RETURNS jsonb
	LANGUAGE plpgsql AS $$
	DECLARE
		e text := event ->> 'name';
		k int := (event #>> '{data,k}')::int;
		reply jsonb;
	BEGIN
		PERFORM inngest.step_run('a', 'SELECT public.w($1, $2, ''a'', NULL, 0)', e, k);
		reply := inngest.step_wait_for_event('reply', 'cm.reply', '10 minutes',
		                                     match => 'data.k');
		PERFORM inngest.step_run('b', 'SELECT public.w($1, $2, ''b'', $3, 0)', e, k,
		                         coalesce(reply #>> '{data,k}', 'timed out'));
		RETURN jsonb_build_object('k', k);
	END $$;

	CREATE FUNCTION public.h_retry(event jsonb) RETURNS jsonb
	LANGUAGE plpgsql AS $$
	DECLARE
		e text := event ->> 'name';
		k int := (event #>> '{data,k}')::int;
	BEGIN
		PERFORM inngest.step_run('a', 'SELECT public.w($1, $2, ''a'', NULL, 0)', e, k);
		PERFORM inngest.step_run('flaky', 'SELECT public.flaky($1, $2)', e, k);
		PERFORM inngest.step_run('b', 'SELECT public.w($1, $2, ''b'', NULL, 0)', e, k);
		RETURN jsonb_build_object('k', k);
	END $$;

	CREATE FUNCTION public.h_fail(event jsonb) RETURNS jsonb
	LANGUAGE plpgsql AS $$
	DECLARE
		e text := event ->> 'name';
		k int := (event #>> '{data,k}')::int;
	BEGIN
		PERFORM inngest.step_run('a', 'SELECT public.w($1, $2, ''a'', NULL, 0)', e, k);
		PERFORM inngest.step_run('boom', 'SELECT public.boom($1, $2)', e, k);
		PERFORM inngest.step_run('b', 'SELECT public.w($1, $2, ''b'', NULL, 0)', e, k);
		RETURN jsonb_build_object('k', k);
	END $$;

	CREATE FUNCTION public.h_one(event jsonb) RETURNS jsonb
	LANGUAGE plpgsql AS $$
	BEGIN
		RETURN inngest.step_run('s',
			'INSERT INTO public.sink (fn, k, step) VALUES ($1, $2, ''s'') RETURNING k',
			event ->> 'name', (event #>> '{data,k}')::int);
	END $$;

	SELECT inngest.create_function('{"id": "ck-multi", "event": "ck.multi"}', 'public.h_multi');
	SELECT inngest.create_function('{"id": "ck-long", "event": "ck.long"}', 'public.h_long');
	SELECT inngest.create_function('{"id": "cm-multi", "event": "cm.multi"}', 'public.h_multi');
	SELECT inngest.create_function('{"id": "cm-sleep", "event": "cm.sleep"}', 'public.h_sleep');
	SELECT inngest.create_function('{"id": "cm-wait", "event": "cm.wait"}', 'public.h_wait');
	SELECT inngest.create_function('{"id": "cm-retry", "event": "cm.retry"}', 'public.h_retry');
	SELECT inngest.create_function('{"id": "cm-fail", "event": "cm.fail"}', 'public.h_fail');
	SELECT inngest.create_function('{"id": "cm-keyed", "event": "cm.keyed",
		"concurrency": {"limit": 1, "key": "event.data.g"}}', 'public.h_multi');
	SELECT inngest.create_function('{"id": "cb-bulk", "event": "cb.bulk"}', 'public.h_one');

	INSERT INTO public.expected VALUES
		('ck.multi', 's1'), ('ck.multi', 's2'), ('ck.multi', 's3'),
		('ck.long', 'a'), ('ck.long', 'long'), ('ck.long', 'c'),
		('cm.multi', 's1'), ('cm.multi', 's2'), ('cm.multi', 's3'),
		('cm.sleep', 'a'), ('cm.sleep', 'b'),
		('cm.wait', 'a'), ('cm.wait', 'b'),
		('cm.retry', 'a'), ('cm.retry', 'flaky'), ('cm.retry', 'b'),
		('cm.fail', 'a'),
		('cm.keyed', 's1'), ('cm.keyed', 's2'), ('cm.keyed', 's3'),
		('cb.bulk', 's');
});

my $log_offset = -s $node->logfile;
my $executors = q{SELECT count(*) FROM pg_stat_activity
	WHERE backend_type = 'inngest_pg executor'};
ok(defined poll($executors, '2', 60), 'the launcher started 2 executors');

# ---------------------------------------------------------------------------
# 1) kill -9 of an executor during a step
# ---------------------------------------------------------------------------

# ck.long first: one executor takes it and sleeps inside step "long"; the
# other works through 200 three-step runs (10 ms per step, about 6 s in
# all).  The executor in the long step is the one whose transaction has
# been sleeping for more than a second (the others commit every step).
sql(q{
	INSERT INTO inngest.events (name, data) VALUES ('ck.long', '{"k": 1}');
	INSERT INTO inngest.events (name, data)
	SELECT 'ck.multi', jsonb_build_object('k', g, 'pause', 0.01)
	FROM generate_series(1, 200) g;
});
$inserted{'ck.long'} = 1;
$inserted{'ck.multi'} = 200;

my $in_long_step = q{FROM pg_stat_activity
	WHERE backend_type = 'inngest_pg executor' AND wait_event = 'PgSleep'
	  AND clock_timestamp() - xact_start > interval '1 second'};
ok(defined poll("SELECT count(*) $in_long_step", '1', 60),
	'1: an executor is sleeping inside the long step');
my $victim = sql("SELECT pid $in_long_step");
my $launcher_before = sql(
	q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'inngest_pg launcher'});
my $long_run = sql(q{SELECT id FROM inngest.runs WHERE function_id = 'ck-long'});

# the step's replay after the restart sleeps half a second only
sql(q{UPDATE public.ctl SET val = 0.5 WHERE name = 'long'});

my ($long_status, $long_writes, $multi_done) = split /\|/, sql(
	qq{SELECT (SELECT status FROM inngest.runs WHERE id = $long_run),
	          (SELECT string_agg(step, ',' ORDER BY step) FROM public.sink WHERE fn = 'ck.long'),
	          (SELECT count(*) FROM inngest.runs
	           WHERE function_id = 'ck-multi' AND status = 'completed')});
is($long_status, 'running',
	'1: the long run is running (step a committed) when its executor is killed');
is($long_writes, 'a', '1: only step a of the long run is committed before the kill');

my $t_kill = time();
ok(kill('KILL', $victim), "1: kill -9 executor pid $victim");
$crashes++;
diag "1: killed the executor with $multi_done of 200 ck-multi runs completed";
cmp_ok($multi_done, '<', 200, '1: other runs were in flight when the executor was killed');

# all backends are reset: a new launcher comes up after crash recovery
my $restart = poll(
	qq{SELECT count(*) FROM pg_stat_activity
	   WHERE backend_type = 'inngest_pg launcher' AND pid <> $launcher_before},
	'1', 120);
ok(defined $restart, '1: the postmaster reset every backend; a new launcher started');
diag sprintf('1: server back with a new launcher %.1f s after the kill', time() - $t_kill);

my $took1 = drain('1', 120);
$took1 = time() - $t_kill if defined $took1;
diag sprintf('1: every run ended %.1f s after the kill', $took1) if defined $took1;
my $log = slurp_file($node->logfile, $log_offset);
like($log, qr/inngest_pg executor.*was terminated by signal 9/,
	'1: the server log shows the executor killed by signal 9');
like($log, qr/all server processes terminated; reinitializing/,
	'1: and the reset of every backend (crash recovery)');
if ($log =~ /inngest_pg requeued (\d+) run\(s\) interrupted by a crash/)
{
	diag "1: the launcher requeued $1 run(s) left running";
}
like($log, qr/inngest_pg requeued \d+ run\(s\) interrupted by a crash/,
	'1: the launcher requeued the runs left running');

is( sql(
		qq{SELECT status || ' ' || (SELECT string_agg(step_id || ':' || attempts, ','
		                                              ORDER BY position)
		                            FROM inngest.steps WHERE run_id = $long_run)
		   FROM inngest.runs WHERE id = $long_run}),
	'completed a:1,long:1,c:1',
	'1: the long run completed; step a was not run again, the killed step ran once more'
);
is( sql(q{SELECT string_agg(step || ':' || n, ',' ORDER BY step)
	       FROM (SELECT step, count(*) AS n FROM public.sink
	             WHERE fn = 'ck.long' GROUP BY step) s}),
	'a:1,c:1,long:1',
	'1: each step of the long run wrote exactly once (the killed write is gone)');

my ($runs_1, $writes_1) = check_invariants('1', $log_offset, 1);

# ---------------------------------------------------------------------------
# 2) immediate shutdown with 500 runs in flight
# ---------------------------------------------------------------------------

$log_offset = -s $node->logfile;

# 500 events in one statement, interleaved: 150 three-step runs (20 ms per
# step), 100 sleeping 3 s between two steps, 100 waiting for cm.reply, 50
# whose second step fails once (retried after Inngest's 15 s backoff), 25
# failing with IG001 at their second step, 75 three-step runs on 5
# concurrency keys with a limit of 1 (10 ms per step).
sql(q{
	INSERT INTO inngest.events (name, data)
	SELECT CASE WHEN g % 20 < 6 THEN 'cm.multi'
	            WHEN g % 20 < 10 THEN 'cm.sleep'
	            WHEN g % 20 < 14 THEN 'cm.wait'
	            WHEN g % 20 < 16 THEN 'cm.retry'
	            WHEN g % 20 < 17 THEN 'cm.fail'
	            ELSE 'cm.keyed' END,
	       CASE WHEN g % 20 < 6 THEN jsonb_build_object('k', g, 'pause', 0.02)
	            WHEN g % 20 >= 17 THEN jsonb_build_object('k', g, 'g', g % 5, 'pause', 0.01)
	            ELSE jsonb_build_object('k', g) END
	FROM generate_series(1, 500) g;
});
%inserted = (%inserted, 'cm.multi' => 150, 'cm.sleep' => 100, 'cm.wait' => 100,
	'cm.retry' => 50, 'cm.fail' => 25, 'cm.keyed' => 75);

# Replies for the runs already waiting (they resume before or after the
# crash); the others get theirs after the restart.
ok( defined poll(
		q{SELECT count(*) >= 10 FROM inngest.runs
		  WHERE function_id = 'cm-wait' AND status = 'waiting'},
		't', 60),
	'2: runs are waiting for cm.reply');
my $early_replies = sql(q{
	WITH r AS (
		INSERT INTO inngest.events (name, data)
		SELECT 'cm.reply', jsonb_build_object('k', (event #>> '{data,k}')::int)
		FROM inngest.runs WHERE function_id = 'cm-wait' AND status = 'waiting'
		RETURNING 1)
	SELECT count(*) FROM r});
$inserted{'cm.reply'} = $early_replies;
diag "2: $early_replies replies sent before the crash";

ok( defined poll(
		q{SELECT count(*) FILTER (WHERE status IN ('completed', 'failed')) >= 60
		     AND count(*) FILTER (WHERE status = 'sleeping') > 0
		     AND count(*) FILTER (WHERE function_id = 'cm-retry' AND attempt > 0) > 0
		  FROM inngest.runs WHERE function_id LIKE 'cm-%'},
		't', 60),
	'2: runs are ending, sleeping and backing off');
my $before = status_counts(q{function_id LIKE 'cm-%'});
my $unfinished_before = sql(
	q{SELECT count(*) FROM inngest.runs WHERE function_id LIKE 'cm-%'
	  AND status IN ('queued', 'running', 'sleeping', 'waiting')});
$node->stop('immediate');
$crashes++;
diag "2: immediate shutdown with $unfinished_before of 500 runs unfinished; "
  . "just before: $before";
cmp_ok($unfinished_before, '>=', 100,
	"2: the crash came with many runs in flight ($unfinished_before)");

my $t_start = time();
$node->start;
diag sprintf('2: server started again (crash recovery) in %.1f s', time() - $t_start);

# every cm-wait run without a reply must be waiting before its reply is sent
# (a wait counts only events committed after it)
my $unreplied = q{
	FROM inngest.runs r WHERE r.function_id = 'cm-wait'
	AND NOT EXISTS (SELECT 1 FROM inngest.events e WHERE e.name = 'cm.reply'
	                AND e.data -> 'k' = r.event -> 'data' -> 'k')};
my $n_unreplied = sql("SELECT count(*) $unreplied");
ok(defined poll("SELECT count(*) $unreplied AND r.status = 'waiting'", $n_unreplied, 120),
	"2: after the restart the $n_unreplied runs without a reply are waiting");
$inserted{'cm.reply'} += sql(qq{
	WITH r AS (
		INSERT INTO inngest.events (name, data)
		SELECT 'cm.reply', jsonb_build_object('k', (r.event #>> '{data,k}')::int)
		$unreplied
		RETURNING 1)
	SELECT count(*) FROM r});
is($inserted{'cm.reply'}, 100, '2: one reply per waiting run, 100 in all');

my $took2 = poll($UNFINISHED, '0', 150);
ok(defined $took2, '2: every run ends');
$took2 = time() - $t_start if defined $took2;
diag sprintf('2: all runs ended %.1f s after the restart', $took2) if defined $took2;

is(status_counts(q{function_id LIKE 'cm-%'}),
	'cm-fail failed 25, cm-keyed completed 75, cm-multi completed 150, '
	  . 'cm-retry completed 50, cm-sleep completed 100, cm-wait completed 100',
	'2: 475 runs completed, the 25 IG001 runs failed');
is( sql(q{SELECT count(*) FROM public.sink s JOIN inngest.events e
	       ON e.name = 'cm.wait' AND (e.data ->> 'k')::int = s.k
	       WHERE s.fn = 'cm.wait' AND s.step = 'b' AND s.val = s.k::text}),
	'100',
	'2: every waiting run got its own reply (none timed out, none took another)');
is( sql(q{SELECT count(*) || ' ' || count(*) FILTER (WHERE val = '1')
	       FROM public.sink WHERE fn = 'cm.retry' AND step = 'flaky'}),
	'50 50',
	'2: every flaky step wrote once, on its second attempt (the failed one rolled back)');
is( sql(q{SELECT count(*) FROM inngest.steps s JOIN inngest.runs r ON r.id = s.run_id
	       WHERE r.function_id = 'cm-retry' AND s.step_id = 'flaky' AND s.attempts = 2}),
	'50',
	'2: inngest.steps counts two attempts of each flaky step');
is( sql(q{SELECT count(*) FROM inngest.runs
	       WHERE function_id = 'cm-fail' AND error ->> 'sqlstate' = 'IG001'}),
	'25',
	'2: the failed runs failed with IG001');
is( sql(q{SELECT count(*) FROM public.sink a JOIN public.sink b
	       ON a.fn = 'cm.keyed' AND b.fn = 'cm.keyed'
	      AND (a.k % 5) = (b.k % 5) AND (a.k, a.step) < (b.k, b.step)
	      AND a.started < b.ended AND b.started < a.ended}),
	'0',
	'2: no two committed steps of one concurrency key overlapped, across the crash');

my ($runs_2, $writes_2) = check_invariants('2', $log_offset, 0);

# ---------------------------------------------------------------------------
# 3) a crash during a 100,000-event INSERT ... SELECT
# ---------------------------------------------------------------------------

$log_offset = -s $node->logfile;

my $BULK = q{INSERT INTO inngest.events (name, data)
	SELECT 'cb.bulk', jsonb_build_object('k', public.maybe_pause(g))
	FROM generate_series(1, 100000) g;};

sql(q{
	-- pauses (inside the statement) at row 60000 while ctl.pause_row is on
	INSERT INTO public.ctl VALUES ('pause_row', 1);
	CREATE FUNCTION public.maybe_pause(g int) RETURNS int LANGUAGE plpgsql AS $$
	BEGIN
		IF g = 60000 AND (SELECT val FROM public.ctl WHERE name = 'pause_row') = 1 THEN
			PERFORM pg_sleep(120);
		END IF;
		RETURN g;
	END $$;
	-- pauses the event trigger's fan-out when it creates the run of k = 50000
	CREATE FUNCTION public.pause_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		PERFORM pg_sleep(120);
		RETURN NEW;
	END $$;
});

my $seqs = q{SELECT (SELECT last_value FROM inngest.events_seq_seq) || '|'
	             || (SELECT last_value FROM inngest.runs_id_seq)};

# Run $BULK in a psql session of its own until its backend sleeps in
# pg_sleep; kill -9 that backend.  Returns how far the identity sequences
# (which are not transactional) had gone: events and runs the statement
# had written, uncommitted.
sub kill_bulk_insert
{
	my ($label) = @_;
	my ($ev0, $run0) = split /\|/, sql($seqs);
	my $psql = $node->background_psql('postgres', on_error_stop => 0);
	$psql->query_until(qr/started/, "\\echo started\n$BULK\n");
	ok( defined poll(
			q{SELECT count(*) FROM pg_stat_activity
			  WHERE backend_type = 'client backend' AND wait_event = 'PgSleep'
			    AND query LIKE 'INSERT INTO inngest.events%cb.bulk%'},
			'1', 120),
		"$label: the INSERT is paused mid-statement");
	my ($pid) = sql(
		q{SELECT pid FROM pg_stat_activity
		  WHERE backend_type = 'client backend' AND wait_event = 'PgSleep'
		    AND query LIKE 'INSERT INTO inngest.events%cb.bulk%'});
	my ($ev1, $run1) = split /\|/, sql($seqs);
	my $launcher = sql(
		q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'inngest_pg launcher'});
	ok(kill('KILL', $pid), "$label: kill -9 the INSERT's backend (pid $pid)");
	$crashes++;
	my $t0 = time();
	ok( defined poll(
			qq{SELECT count(*) FROM pg_stat_activity
			   WHERE backend_type = 'inngest_pg launcher' AND pid <> $launcher},
			'1', 120),
		"$label: the server went through crash recovery");
	diag sprintf('%s: server back %.1f s after the kill', $label, time() - $t0);
	eval { $psql->quit; };
	return ($ev1 - $ev0, $run1 - $run0);
}

# a) while the rows are inserted
my ($ev_a, $runs_a) = kill_bulk_insert('3a');
diag "3a: killed with $ev_a event rows and $runs_a runs written, uncommitted";
cmp_ok($ev_a, '>=', 59_999, '3a: the statement had inserted 59,999 rows when killed');
is( sql(q{SELECT count(*) FROM inngest.events WHERE name = 'cb.bulk'}) . ' '
	  . sql(q{SELECT count(*) FROM inngest.runs WHERE function_id = 'cb-bulk'}),
	'0 0',
	'3a: after the restart none of its events and no run exist');

# b) while the event trigger creates the runs
sql(q{
	UPDATE public.ctl SET val = 0 WHERE name = 'pause_row';
	CREATE TRIGGER zz_pause BEFORE INSERT ON inngest.runs FOR EACH ROW
		WHEN (NEW.function_id = 'cb-bulk' AND NEW.event #>> '{data,k}' = '50000')
		EXECUTE FUNCTION public.pause_trigger();
});
my ($ev_b, $runs_b) = kill_bulk_insert('3b');
diag "3b: killed with $ev_b event rows and $runs_b runs written, uncommitted";
cmp_ok($ev_b, '>=', 100_000, '3b: all 100,000 event rows were inserted when killed');
cmp_ok($runs_b, '>=', 40_000, '3b: the fan-out was creating the runs when killed');
is( sql(q{SELECT count(*) FROM inngest.events WHERE name = 'cb.bulk'}) . ' '
	  . sql(q{SELECT count(*) FROM inngest.runs WHERE function_id = 'cb-bulk'}),
	'0 0',
	'3b: after the restart none of its events and no run exist');
sql(q{DROP TRIGGER zz_pause ON inngest.runs});

# c) the statement again, committed; an immediate shutdown while its runs
# drain
my $t_bulk = time();
sql($BULK);
$inserted{'cb.bulk'} = 100_000;
diag sprintf('3c: the 100,000-event INSERT ... SELECT took %.1f s', time() - $t_bulk);
is( sql(q{SELECT count(*) FROM inngest.events WHERE name = 'cb.bulk'}) . ' '
	  . sql(q{SELECT count(*) FROM inngest.runs WHERE function_id = 'cb-bulk'}),
	'100000 100000',
	'3c: the statement created 100,000 events and 100,000 runs');
ok( defined poll(
		q{SELECT count(*) >= 20000 FROM inngest.runs
		  WHERE function_id = 'cb-bulk' AND status = 'completed'},
		't', 150),
	'3c: the runs drain');
my $done_c = sql(
	q{SELECT count(*) FROM inngest.runs WHERE function_id = 'cb-bulk' AND status = 'completed'});
$node->stop('immediate');
$crashes++;
diag sprintf('3c: immediate shutdown with %d of 100,000 runs completed, %.1f s after the insert',
	$done_c, time() - $t_bulk);
cmp_ok($done_c, '<', 100_000, '3c: the crash came while runs were draining');

$t_start = time();
$node->start;
my $took3 = poll($UNFINISHED, '0', 150);
ok(defined $took3, '3c: every run ends');
$took3 = time() - $t_start if defined $took3;
diag sprintf('3c: all runs ended %.1f s after the restart', $took3) if defined $took3;

is( sql(q{SELECT count(*) || ' ' || count(DISTINCT k) || ' ' || min(k) || ' ' || max(k)
	       FROM public.sink WHERE fn = 'cb.bulk'}),
	'100000 100000 1 100000',
	'3c: one write per event, k = 1..100000');

my ($runs_3, $writes_3) = check_invariants('3', $log_offset, 2);

# ---------------------------------------------------------------------------
# figures
# ---------------------------------------------------------------------------

my $step_rows = sql(q{SELECT count(*) FROM inngest.steps});
diag(sprintf(
		'crashes injected: %d (kill -9 of an executor, immediate shutdown with 500 runs, '
		  . 'kill -9 of a 100k INSERT twice, immediate shutdown draining 100k runs); '
		  . 'runs verified: %d; step writes verified: %d (%d memo rows); '
		  . 'drain after restart: 1) %.1f s, 2) %.1f s, 3) %.1f s; test %.0f s',
		$crashes, $runs_3, $writes_3, $step_rows, $took1 // -1, $took2 // -1,
		$took3 // -1, time() - $t_test));

$node->stop;
done_testing();
