# 009_step_limits.pl: the time limits of steps, with the real workers.
#
# - timeouts.finish is enforced between steps: a run whose time is up is
#   cancelled before its next step starts, and a step still running when
#   the time is up is stopped.
# - statement_timeout set on the handler (ALTER FUNCTION ... SET) applies
#   to its steps, which run outside the handler.
# - Runs that a worker drives in one transaction do not wait for each
#   other: a quick run's outcome commits within the batch's 20 ms, even
#   when the next run in the batch has a slow step.
# - cancel_run does not wait for the step a worker is running: it returns
#   at once, and the run stops at its next step boundary.

use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use InngestNode;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $node = InngestNode::start('limits', workers => 1);
$node->safe_psql(
	'postgres', q{
	CREATE EXTENSION inngest_pg;
	CREATE TABLE public.ran (run_id bigint, step text, at timestamptz DEFAULT clock_timestamp());
	CREATE FUNCTION public.three(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
	BEGIN
		PERFORM inngest.step_run('a', 'INSERT INTO public.ran (run_id, step) SELECT $1, ''a''; SELECT pg_sleep($2)',
								 inngest.run_id(), (event #>> '{data,a}')::float8);
		-- time the handler itself spends between steps (not a step)
		PERFORM pg_sleep((event #>> '{data,pause}')::float8);
		PERFORM inngest.step_run('b', 'INSERT INTO public.ran (run_id, step) SELECT $1, ''b''; SELECT pg_sleep($2)',
								 inngest.run_id(), coalesce((event #>> '{data,b}')::float8, 0));
		PERFORM inngest.step_run('c', 'INSERT INTO public.ran (run_id, step) SELECT $1, ''c''', inngest.run_id());
		RETURN '{}';
	END $$;
	SELECT inngest.create_function('{"id": "finish", "event": "finish", "timeouts": {"finish": "2s"}}',
								   'public.three');
	SELECT inngest.create_function('{"id": "cancellable", "event": "cancellable"}', 'public.three');
	CREATE FUNCTION public.sleepy(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
	BEGIN
		RETURN inngest.step_run('nap', 'SELECT pg_sleep(3)::text');
	END $$;
	ALTER FUNCTION public.sleepy(jsonb) SET statement_timeout = '500ms';
	SELECT inngest.create_function('{"id": "sleepy", "event": "sleepy", "retries": 0}', 'public.sleepy');
	CREATE FUNCTION public.quick(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
	BEGIN
		RETURN inngest.step_run('q', 'SELECT clock_timestamp()');
	END $$;
	SELECT inngest.create_function('{"id": "quick", "event": "quick"}', 'public.quick');
	CREATE FUNCTION public.slow(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
	BEGIN
		RETURN inngest.step_run('s', 'SELECT pg_sleep(4)::text');
	END $$;
	SELECT inngest.create_function('{"id": "slow", "event": "slow"}', 'public.slow');
});

sub wait_ended
{
	my ($fn) = @_;
	return $node->poll_query_until('postgres',
		qq{SELECT count(*) > 0 AND bool_and(status IN ('completed', 'failed', 'cancelled'))
		   FROM inngest.runs WHERE function_id = '$fn'});
}

# 1. The run's 2 s pass between its steps: b and c never start.
$node->safe_psql('postgres', q{SELECT inngest.send('finish', '{"a": 0.1, "pause": 2.5}')});
ok(wait_ended('finish'), 'the run ended');
is( $node->safe_psql(
		'postgres', q{SELECT status FROM inngest.runs WHERE function_id = 'finish'}),
	'cancelled',
	'cancelled by timeouts.finish');
is($node->safe_psql('postgres', q{SELECT string_agg(step, ',' ORDER BY at) FROM public.ran}),
	'a', 'step a ran, b and c did not');
is( $node->safe_psql(
		'postgres',
		q{SELECT data ->> 'reason' FROM inngest.events WHERE name = 'inngest/function.cancelled'}),
	'timeouts.finish',
	'function.cancelled says why');

# 2. A step still running when the run's time is up is stopped then.
$node->safe_psql('postgres', q{TRUNCATE public.ran; DELETE FROM inngest.runs});
my $t0 = time;
$node->safe_psql('postgres', q{SELECT inngest.send('finish', '{"a": 30, "pause": 0}')});
ok(wait_ended('finish'), 'the run with a 30 s step ended');
my $took = time - $t0;
cmp_ok($took, '<', 10, sprintf('stopped at its deadline: %.1f s, not 30 s', $took));
is($node->safe_psql('postgres', q{SELECT status FROM inngest.runs WHERE function_id = 'finish'}),
	'cancelled', 'cancelled');
is($node->safe_psql('postgres', q{SELECT count(*) FROM public.ran}),
	'0', "the stopped step's write was rolled back");

# 3. The handler's statement_timeout stops its step.
$t0 = time;
$node->safe_psql('postgres', q{SELECT inngest.send('sleepy')});
ok(wait_ended('sleepy'), 'the sleepy run ended');
$took = time - $t0;
is( $node->safe_psql(
		'postgres',
		q{SELECT status || ': ' || (error ->> 'sqlstate') || ' ' || (error ->> 'message')
		  FROM inngest.runs WHERE function_id = 'sleepy'}),
	'failed: 57014 step "nap" was stopped by statement_timeout (500 ms)',
	'its step was stopped by the statement_timeout set on the handler');
cmp_ok($took, '<', 2.5, sprintf('after about 500 ms (%.1f s)', $took));

# 4. A quick run and a slow one due together, in one worker transaction:
# the quick run's completion is visible long before the slow step ends.
$t0 = time;
$node->safe_psql('postgres',
	q{INSERT INTO inngest.events (name, data) VALUES ('quick', '{}'), ('slow', '{}')});
ok( $node->poll_query_until(
		'postgres', q{SELECT status = 'completed' FROM inngest.runs WHERE function_id = 'quick'}),
	'the quick run completed');
my $visible = time - $t0;
cmp_ok($visible, '<', 2, sprintf('and was visible after %.2f s, not after the 4 s step', $visible));
ok(wait_ended('slow'), 'the slow run completed too');
is($node->safe_psql('postgres', q{SELECT status FROM inngest.runs WHERE function_id = 'slow'}),
	'completed', 'once, after its step ran again in a transaction of its own');

# 5. cancel_run while a worker runs a step returns at once, and no later
# step starts: during the run's first step (its row locked by the claim)
# and during a later one.
for my $case (['first step', '{"a": 2, "b": 0, "pause": 0}', 'a'],
	['second step', '{"a": 0, "b": 2, "pause": 0}', 'a,b'])
{
	my ($name, $data, $ran) = @$case;

	$node->safe_psql('postgres', q{TRUNCATE public.ran; DELETE FROM inngest.runs});
	$node->safe_psql('postgres', qq{SELECT inngest.send('cancellable', '$data')});
	ok( $node->poll_query_until(
			'postgres', q{
			SELECT count(*) = 1 FROM pg_stat_activity
			WHERE backend_type = 'inngest_pg executor' AND wait_event = 'PgSleep'}),
		"$name: the step is running");
	$t0 = time;
	is( $node->safe_psql(
			'postgres', q{SELECT inngest.cancel_run(id) FROM inngest.runs WHERE function_id = 'cancellable'}),
		't', "$name: cancel_run returns true");
	$took = time - $t0;
	cmp_ok($took, '<', 1, sprintf('%s: at once (%.2f s), not after the 2 s step', $name, $took));
	ok(wait_ended('cancellable'), "$name: the run ended");
	ok( $node->poll_query_until(
			'postgres', q{
			SELECT count(*) = 0 FROM pg_stat_activity
			WHERE backend_type = 'inngest_pg executor' AND state = 'active'}),
		"$name: the executor is done with it");
	is($node->safe_psql('postgres', q{SELECT status FROM inngest.runs WHERE function_id = 'cancellable'}),
		'cancelled', "$name: cancelled");
	is($node->safe_psql('postgres', q{SELECT string_agg(step, ',' ORDER BY at) FROM public.ran}),
		$ran, "$name: the running step finished and no later step started");
}

$node->stop;
done_testing();
