# 001_workers.pl: the real background workers (no inngest.tick()).
#
#  a) an inserted event's run completes through the launcher and executor
#     workers; 200 events from one INSERT ... SELECT all complete, each step
#     exactly once;
#  b) crash (immediate stop) while a run is blocked inside step 2: after the
#     restart the run resumes at step 2, and every step's writes exist once;
#  c) crash with 50 runs in flight: after the restart all complete, and
#     every (run, step) wrote exactly one row: nothing lost, nothing twice;
#  d) wake-up latency: an event inserted into an idle system is handled
#     promptly (latch at commit, not a polling loop).

use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use InngestNode;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);

my $node = InngestNode::start('main');

$node->safe_psql('postgres', 'CREATE EXTENSION inngest_pg');

# The background workers that are running, for the log of this test.
sub note_workers
{
	my ($when) = @_;
	my $workers = $node->safe_psql(
		'postgres', q{
		SELECT backend_type || ' (' || count(*) || ')'
		FROM pg_stat_activity
		WHERE backend_type NOT IN ('client backend', 'checkpointer',
			'background writer', 'walwriter', 'autovacuum launcher',
			'logical replication launcher', 'startup', 'archiver')
		GROUP BY backend_type ORDER BY backend_type});
	$workers =~ s/\n/, /g;
	note "background workers $when: $workers";
}

# A handler with two steps, each inserting one row (run id, step number)
# into $sink.  Step "one" returns data.n + 1, step "two" returns 10 times
# the output of step "one", and the run's output is {"a": .., "b": ..}.
sub create_two_step_function
{
	my ($id, $event, $sink) = @_;
	my $handler = 'public.h_' . $id =~ s/-/_/gr;
	$node->safe_psql(
		'postgres', qq{
		CREATE TABLE public.$sink (run_id bigint, step int);
		CREATE FUNCTION $handler(event jsonb) RETURNS jsonb
		LANGUAGE plpgsql AS \$\$
		DECLARE
			a jsonb;
			b jsonb;
		BEGIN
			a := inngest.step_run('one',
				'INSERT INTO public.$sink (run_id, step) VALUES (\$1, 1)
				 RETURNING \$2::int + 1',
				inngest.run_id(), (event #>> '{data,n}')::int);
			b := inngest.step_run('two',
				'INSERT INTO public.$sink (run_id, step) VALUES (\$1, 2)
				 RETURNING \$2::int * 10',
				inngest.run_id(), a::int);
			RETURN jsonb_build_object('a', a, 'b', b);
		END \$\$;
		SELECT inngest.create_function(
			'{"id": "$id", "triggers": [{"event": "$event"}]}',
			'$handler');
	});
}

# Number of (run, step) pairs of $sink that are not there exactly once,
# over the runs of function $id and steps 1..$nsteps: missing or repeated.
sub bad_sink_pairs
{
	my ($id, $sink, $nsteps) = @_;
	return $node->safe_psql(
		'postgres', qq{
		SELECT count(*) FROM (
			SELECT r.id, s.step, count(k.run_id) AS n
			FROM inngest.runs r
			CROSS JOIN generate_series(1, $nsteps) AS s(step)
			LEFT JOIN public.$sink k ON k.run_id = r.id AND k.step = s.step
			WHERE r.function_id = '$id'
			GROUP BY r.id, s.step
			HAVING count(k.run_id) <> 1
		) bad});
}

# ---------------------------------------------------------------------------
# a) runs complete with the real workers, no inngest.tick()
# ---------------------------------------------------------------------------

create_two_step_function('two-steps', 'test/two', 'sink_a');

my $run_a = $node->safe_psql(
	'postgres', q{
	INSERT INTO inngest.events (name, data) VALUES ('test/two', '{"n": 4}');
	SELECT id FROM inngest.runs WHERE function_id = 'two-steps';});
like($run_a, qr/^\d+$/, 'a: inserting the event created exactly one run');

ok( $node->poll_query_until(
		'postgres',
		"SELECT status FROM inngest.runs WHERE id = $run_a",
		'completed'),
	'a: the run completes with the background workers alone');
note_workers('after test a');

is( $node->safe_psql(
		'postgres',
		"SELECT output = '{\"a\": 5, \"b\": 50}' FROM inngest.runs WHERE id = $run_a"
	),
	't',
	'a: the run output is built from both step outputs {"a": 5, "b": 50}');

is( $node->safe_psql(
		'postgres',
		"SELECT string_agg(step || ':' || n, ',' ORDER BY step)
		 FROM (SELECT step, count(*) AS n FROM sink_a
		       WHERE run_id = $run_a GROUP BY step) s"),
	'1:1,2:1',
	'a: each step wrote its row exactly once');

is( $node->safe_psql(
		'postgres',
		"SELECT string_agg(step_id || ':' || status || ':' || output::text, ','
		                   ORDER BY position)
		 FROM inngest.steps WHERE run_id = $run_a"),
	'one:completed:5,two:completed:50',
	'a: inngest.steps records both steps completed with their outputs');

# 200 events in one statement
create_two_step_function('batch', 'test/batch', 'sink_batch');

$node->safe_psql(
	'postgres', q{
	INSERT INTO inngest.events (name, data)
	SELECT 'test/batch', jsonb_build_object('n', g)
	FROM generate_series(1, 200) AS g});

is( $node->safe_psql(
		'postgres', "SELECT count(*) FROM inngest.runs WHERE function_id = 'batch'"),
	'200',
	'a: INSERT ... SELECT of 200 events created 200 runs');

ok( $node->poll_query_until(
		'postgres',
		"SELECT count(*) FROM inngest.runs
		 WHERE function_id = 'batch' AND status = 'completed'",
		'200'),
	'a: all 200 runs complete');

is( $node->safe_psql(
		'postgres', "SELECT count(*) FROM inngest.runs
		 WHERE function_id = 'batch' AND status <> 'completed'"),
	'0',
	'a: no batch run is in another state');

is($node->safe_psql('postgres', 'SELECT count(*) FROM sink_batch'),
	'400', 'a: the sink holds exactly 200 x 2 = 400 rows');

is(bad_sink_pairs('batch', 'sink_batch', 2),
	'0', 'a: every (run, step) of the batch wrote exactly one row');

is( $node->safe_psql(
		'postgres', q{
		SELECT count(*) FROM inngest.runs
		WHERE function_id = 'batch'
		  AND output = jsonb_build_object(
				'a', (event #>> '{data,n}')::int + 1,
				'b', ((event #>> '{data,n}')::int + 1) * 10)}),
	'200',
	'a: every batch run has the output of its own event');

# ---------------------------------------------------------------------------
# b) crash between steps: step 2 blocks on an advisory lock held by another
#    session, the server is stopped with "immediate", restarted, and the run
#    resumes at step 2
# ---------------------------------------------------------------------------

$node->safe_psql(
	'postgres', q{
	CREATE TABLE public.t1 (run_id bigint);
	CREATE TABLE public.t2 (run_id bigint);
	CREATE TABLE public.t3 (run_id bigint);

	-- step 2: wait for advisory lock 4242 (transaction-scoped, so it is
	-- released with the step's transaction), then write t2
	CREATE FUNCTION public.locked_insert_t2(rid bigint) RETURNS int
	LANGUAGE plpgsql AS $$
	BEGIN
		PERFORM pg_advisory_xact_lock(4242);
		INSERT INTO public.t2 (run_id) VALUES (rid);
		RETURN 2;
	END $$;

	CREATE FUNCTION public.h_crash(event jsonb) RETURNS jsonb
	LANGUAGE plpgsql AS $$
	DECLARE
		s1 jsonb;
		s2 jsonb;
		s3 jsonb;
	BEGIN
		s1 := inngest.step_run('s1',
			'INSERT INTO public.t1 (run_id) VALUES ($1) RETURNING 1',
			inngest.run_id());
		s2 := inngest.step_run('s2', 'SELECT public.locked_insert_t2($1)',
			inngest.run_id());
		s3 := inngest.step_run('s3',
			'INSERT INTO public.t3 (run_id) VALUES ($1) RETURNING 3',
			inngest.run_id());
		RETURN jsonb_build_array(s1, s2, s3);
	END $$;

	SELECT inngest.create_function(
		'{"id": "crash-between", "triggers": [{"event": "test/crash"}]}',
		'public.h_crash');
});

# Another session holds the lock that step 2 waits for.
my $holder = $node->background_psql('postgres');
$holder->query_safe('SELECT pg_advisory_lock(4242)');

my $run_b = $node->safe_psql(
	'postgres', q{
	INSERT INTO inngest.events (name, data) VALUES ('test/crash', '{}');
	SELECT id FROM inngest.runs WHERE function_id = 'crash-between';});
like($run_b, qr/^\d+$/, 'b: the event created one run');

ok( $node->poll_query_until(
		'postgres',
		"SELECT count(*) FROM inngest.steps
		 WHERE run_id = $run_b AND step_id = 's1' AND status = 'completed'",
		'1'),
	'b: step 1 is recorded completed before the crash');

ok( $node->poll_query_until(
		'postgres', q{
		SELECT count(*) FROM pg_locks
		WHERE locktype = 'advisory' AND classid = 0 AND objid = 4242
		  AND NOT granted},
		'1'),
	'b: a worker is blocked on advisory lock 4242 inside step 2');

note 'b: the blocked backend is: '
  . $node->safe_psql(
	'postgres', q{
	SELECT a.backend_type || ' pid ' || a.pid
	FROM pg_locks l JOIN pg_stat_activity a USING (pid)
	WHERE l.locktype = 'advisory' AND l.objid = 4242 AND NOT l.granted});

is( $node->safe_psql(
		'postgres',
		"SELECT (SELECT count(*) FROM t1 WHERE run_id = $run_b) || ','
		     || (SELECT count(*) FROM t2 WHERE run_id = $run_b) || ','
		     || (SELECT count(*) FROM t3 WHERE run_id = $run_b)"),
	'1,0,0',
	'b: before the crash t1 has the row, t2 and t3 none');

note 'b: run status before the crash: '
  . $node->safe_psql('postgres',
	"SELECT status FROM inngest.runs WHERE id = $run_b");

$node->stop('immediate');
# The lock holder's connection died with the server.
eval { $holder->quit; };
$node->start;

ok( $node->poll_query_until(
		'postgres',
		"SELECT status FROM inngest.runs WHERE id = $run_b",
		'completed'),
	'b: after the restart the run resumes and completes');

is( $node->safe_psql(
		'postgres',
		"SELECT (SELECT count(*) FROM t1 WHERE run_id = $run_b) || ','
		     || (SELECT count(*) FROM t2 WHERE run_id = $run_b) || ','
		     || (SELECT count(*) FROM t3 WHERE run_id = $run_b)"),
	'1,1,1',
	'b: t1, t2 and t3 each hold exactly one row for the run');

is( $node->safe_psql(
		'postgres',
		"SELECT string_agg(step_id || ':' || status, ',' ORDER BY position)
		 FROM inngest.steps WHERE run_id = $run_b"),
	's1:completed,s2:completed,s3:completed',
	'b: inngest.steps has each step once, completed');

is( $node->safe_psql(
		'postgres',
		"SELECT attempts FROM inngest.steps WHERE run_id = $run_b AND step_id = 's1'"
	),
	'1',
	'b: step 1 ran once (attempts = 1): it was not re-run after the crash');

note 'b: attempts of s2, s3: '
  . $node->safe_psql(
	'postgres',
	"SELECT string_agg(step_id || '=' || attempts, ' ' ORDER BY position)
	 FROM inngest.steps WHERE run_id = $run_b AND step_id <> 's1'");

is( $node->safe_psql(
		'postgres', "SELECT output FROM inngest.runs WHERE id = $run_b"),
	'[1, 2, 3]',
	'b: the run output holds the three step outputs [1, 2, 3]');

note_workers('after the restart in test b');

# ---------------------------------------------------------------------------
# c) crash with 50 runs in flight
# ---------------------------------------------------------------------------

$node->safe_psql(
	'postgres', q{
	-- no unique constraint: a step done twice would show as two rows
	CREATE TABLE public.sink_c (run_id bigint, step int);

	CREATE FUNCTION public.slow_insert(rid bigint, step int) RETURNS int
	LANGUAGE plpgsql AS $$
	BEGIN
		PERFORM pg_sleep(0.05);
		INSERT INTO public.sink_c (run_id, step) VALUES (rid, step);
		RETURN step;
	END $$;

	CREATE FUNCTION public.h_slow(event jsonb) RETURNS jsonb
	LANGUAGE plpgsql AS $$
	DECLARE
		o1 jsonb;
		o2 jsonb;
		o3 jsonb;
	BEGIN
		o1 := inngest.step_run('c1', 'SELECT public.slow_insert($1, 1)',
			inngest.run_id());
		o2 := inngest.step_run('c2', 'SELECT public.slow_insert($1, 2)',
			inngest.run_id());
		o3 := inngest.step_run('c3', 'SELECT public.slow_insert($1, 3)',
			inngest.run_id());
		RETURN jsonb_build_array(o1, o2, o3);
	END $$;

	SELECT inngest.create_function(
		'{"id": "slow-three", "triggers": [{"event": "test/slow"}]}',
		'public.h_slow');
});

$node->safe_psql(
	'postgres', q{
	INSERT INTO inngest.events (name, data)
	SELECT 'test/slow', jsonb_build_object('n', g)
	FROM generate_series(1, 50) AS g});

ok( $node->poll_query_until(
		'postgres', q{
		SELECT count(*) >= 3 FROM inngest.runs
		WHERE function_id = 'slow-three' AND status = 'completed'}),
	'c: some runs completed before the crash');

my ($done_before, $rows_before) = split /\|/,
  $node->safe_psql(
	'postgres', q{
	SELECT (SELECT count(*) FROM inngest.runs
	        WHERE function_id = 'slow-three' AND status = 'completed'),
	       (SELECT count(*) FROM public.sink_c)});
$node->stop('immediate');

note "c: crashed with $done_before of 50 runs completed, "
  . "$rows_before of 150 step rows written";
ok($done_before > 0 && $done_before < 50,
	"c: the crash came with runs still in flight ($done_before of 50 completed)"
);

$node->start;

ok( $node->poll_query_until(
		'postgres', q{
		SELECT count(*) FROM inngest.runs
		WHERE function_id = 'slow-three' AND status = 'completed'},
		'50'),
	'c: after the restart all 50 runs complete');

is($node->safe_psql('postgres', 'SELECT count(*) FROM public.sink_c'),
	'150', 'c: the sink holds exactly 50 x 3 = 150 rows');

is( $node->safe_psql(
		'postgres', q{
		SELECT count(*) FROM (
			SELECT run_id, step FROM public.sink_c
			GROUP BY run_id, step HAVING count(*) <> 1) twice}),
	'0',
	'c: no (run, step) wrote more than once (nothing done twice)');

is(bad_sink_pairs('slow-three', 'sink_c', 3),
	'0', 'c: every (run, step) wrote exactly one row (nothing lost)');

is( $node->safe_psql(
		'postgres', q{
		SELECT count(*) FROM inngest.steps s
		JOIN inngest.runs r ON r.id = s.run_id
		WHERE r.function_id = 'slow-three' AND s.status = 'completed'}),
	'150',
	'c: inngest.steps records 150 completed steps');

is( $node->safe_psql(
		'postgres', q{
		SELECT count(*) FROM inngest.runs
		WHERE function_id = 'slow-three' AND output = '[1, 2, 3]'}),
	'50',
	'c: every run has the output [1, 2, 3]');

note 'c: steps with attempts > 1: '
  . $node->safe_psql(
	'postgres', q{
	SELECT count(*) FROM inngest.steps s
	JOIN inngest.runs r ON r.id = s.run_id
	WHERE r.function_id = 'slow-three' AND s.attempts > 1});

# ---------------------------------------------------------------------------
# d) wake-up latency of an idle system
# ---------------------------------------------------------------------------

$node->safe_psql(
	'postgres', q{
	CREATE FUNCTION public.h_ping(event jsonb) RETURNS jsonb
	LANGUAGE plpgsql AS $$
	BEGIN
		RETURN inngest.step_run('ping', 'SELECT $1', 'pong'::text);
	END $$;
	SELECT inngest.create_function(
		'{"id": "ping", "triggers": [{"event": "test/ping"}]}',
		'public.h_ping');
});

# Nothing is due anywhere: every run is finished.
is( $node->safe_psql(
		'postgres', q{
		SELECT count(*) FROM inngest.runs
		WHERE status NOT IN ('completed', 'failed', 'cancelled', 'skipped')}),
	'0',
	'd: the system is idle (no unfinished run) before the measure');

sleep(2);

my $session = $node->background_psql('postgres');
my $t0 = time();
my $run_d = $session->query_safe(
	q{INSERT INTO inngest.events (name, data) VALUES ('test/ping', '{}');
	  SELECT id FROM inngest.runs WHERE function_id = 'ping'});
my ($status, $latency) = ('', undef);
while (time() - $t0 < 30)
{
	$status =
	  $session->query_safe("SELECT status FROM inngest.runs WHERE id = $run_d");
	if ($status eq 'completed')
	{
		$latency = time() - $t0;
		last;
	}
	usleep(5_000);
}
$session->quit;

ok(defined $latency, 'd: the run of the event sent into an idle system completes');
note sprintf('d: wake-up latency (insert to completed, 5 ms polling): %.1f ms',
	1000 * ($latency // (time() - $t0)));
ok(defined $latency && $latency < 1.0,
	'd: the run completes within 1 second of the insert (no polling loop)');

is( $node->safe_psql(
		'postgres', "SELECT output FROM inngest.runs WHERE id = $run_d"),
	'"pong"',
	'd: the run output is the step output "pong"');

$node->stop;

done_testing();
