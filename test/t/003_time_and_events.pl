# 003_time_and_events.pl: sleeps, waits for events and cancelOn with the
# real background workers (inngest.tick() is never called here).
#
#  a) a 2-second step_sleep resumes within 100 ms of its due time, for 5
#     runs started 300 ms apart: the executors sleep on their latch until
#     the earliest wake-up time, they do not poll;
#  b) step_wait_for_event: an event for another user leaves the run
#     waiting; the matching event resolves it within 1 s, and the run's
#     output holds the payment's data;
#  c) a wait's timeout: with no event the run completes with the NULL
#     branch about 2 s after the wait was registered;
#  d) cancelOn: a run sleeping for an hour is cancelled promptly by
#     user.deleted for its user (inngest/function.cancelled is sent); a run
#     for another user is untouched.

use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use InngestNode;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);

my $node = InngestNode::start('time_events');

$node->safe_psql('postgres', 'CREATE EXTENSION inngest_pg');

# One session for the timed parts: no psql start-up in the measures.
my $session = $node->background_psql('postgres');

# Polls $query in $session every 10 ms until it returns $expected or
# $limit seconds have passed since $t0.  Returns the seconds elapsed since
# $t0 when it matched, undef if it never did.
sub poll_since
{
	my ($t0, $query, $expected, $limit) = @_;
	while (time() - $t0 < $limit)
	{
		return time() - $t0 if $session->query_safe($query) eq $expected;
		usleep(10_000);
	}
	return undef;
}

# ---------------------------------------------------------------------------
# a) a 2-second sleep resumes on time, without tick()
# ---------------------------------------------------------------------------

$node->safe_psql(
	'postgres', q{
	CREATE FUNCTION public.h_nap(event jsonb) RETURNS jsonb
	LANGUAGE plpgsql AS $$
	DECLARE
		before jsonb;
		after jsonb;
	BEGIN
		before := inngest.step_run('before', 'SELECT clock_timestamp()::text');
		PERFORM inngest.step_sleep('nap', '2 seconds');
		after := inngest.step_run('after', 'SELECT clock_timestamp()::text');
		RETURN jsonb_build_object('before', before, 'after', after);
	END $$;
	SELECT inngest.create_function(
		'{"id": "nap", "triggers": [{"event": "test/nap"}]}', 'public.h_nap');
});

my @nap_runs;
for my $i (1 .. 5)
{
	push @nap_runs,
	  $session->query_safe(
		qq{INSERT INTO inngest.events (name, data) VALUES ('test/nap', '{"i": $i}');
		   SELECT max(id) FROM inngest.runs WHERE function_id = 'nap'});
	usleep(300_000) if $i < 5;
}
is( $node->safe_psql(
		'postgres', "SELECT count(*) FROM inngest.runs WHERE function_id = 'nap'"),
	'5',
	'a: 5 events 300 ms apart started 5 runs');

ok( $node->poll_query_until(
		'postgres', q{
		SELECT count(*) FROM inngest.steps s JOIN inngest.runs r ON r.id = s.run_id
		WHERE r.function_id = 'nap' AND s.step_id = 'nap'},
		'5'),
	'a: every run reached its sleep');

ok( $node->poll_query_until(
		'postgres', q{
		SELECT count(*) FROM inngest.runs
		WHERE function_id = 'nap' AND status = 'completed'},
		'5'),
	'a: all 5 runs complete with the workers alone');

my @latenesses;
for my $k (0 .. $#nap_runs)
{
	my $run = $nap_runs[$k];
	my $n = $k + 1;
	my ($status, $lateness, $nap_len, $before_due, $before_after, $run_len,
		$steps) =
	  split /\|/,
	  $node->safe_psql(
		'postgres', qq{
		SELECT r.status,
		       round(extract(epoch FROM (a.output #>> '{}')::timestamptz
		                                - n.ended_at) * 1000, 3),
		       extract(epoch FROM n.ended_at - n.started_at),
		       extract(epoch FROM n.ended_at - (b.output #>> '{}')::timestamptz),
		       extract(epoch FROM (a.output #>> '{}')::timestamptz
		                          - (b.output #>> '{}')::timestamptz),
		       extract(epoch FROM r.ended_at - r.started_at),
		       (SELECT string_agg(step_id || ':' || status, ',' ORDER BY position)
		        FROM inngest.steps WHERE run_id = r.id)
		FROM inngest.runs r
		JOIN inngest.steps b ON b.run_id = r.id AND b.step_id = 'before'
		JOIN inngest.steps n ON n.run_id = r.id AND n.step_id = 'nap'
		JOIN inngest.steps a ON a.run_id = r.id AND a.step_id = 'after'
		WHERE r.id = $run});
	push @latenesses, $lateness;
	note sprintf(
		'a: run %d (#%d): lateness %.3f ms (after step - nap due time), '
		  . 'before->after %.3f s, run %.3f s',
		$run, $n, $lateness, $before_after, $run_len);

	is($status, 'completed', "a: run #$n completed");
	is($steps, 'before:completed,nap:completed,after:completed',
		"a: run #$n has its three steps completed, each once");
	# started_at is stamped a fraction of a millisecond after the clock
	# reading the due time is computed from, hence the 10 ms tolerance
	ok(abs($nap_len - 2) < 0.010,
		"a: run #$n: the nap step's due time (ended_at) is 2 s after it started ($nap_len s)"
	);
	cmp_ok($before_due, '>=', 2,
		"a: run #$n: the due time is at least 2 s after step before ran");
	ok($lateness >= 0 && $lateness < 100,
		"a: run #$n resumed within 100 ms of its due time, not before (lateness $lateness ms)"
	);
	cmp_ok($before_after, '>=', 2,
		"a: run #$n: at least 2 s between step before and step after");
	cmp_ok($run_len, '>=', 2, "a: run #$n took at least 2 s (run ended_at - started_at)");
}
note 'a: latenesses (ms): ' . join(', ', @latenesses);

# ---------------------------------------------------------------------------
# b) step_wait_for_event resolved by the matching event
# ---------------------------------------------------------------------------

$node->safe_psql(
	'postgres', q{
	CREATE FUNCTION public.h_checkout(event jsonb) RETURNS jsonb
	LANGUAGE plpgsql AS $$
	DECLARE
		paid jsonb;
	BEGIN
		paid := inngest.step_wait_for_event('wait-payment', 'payment', '1 hour',
		                                    match => 'data.user_id');
		IF paid IS NULL THEN
			RETURN jsonb_build_object('outcome', 'timed out');
		END IF;
		RETURN jsonb_build_object('outcome', 'paid', 'payment', paid -> 'data');
	END $$;
	SELECT inngest.create_function(
		'{"id": "checkout", "triggers": [{"event": "cart.created"}]}',
		'public.h_checkout');
});

my $run_b = $session->query_safe(
	q{INSERT INTO inngest.events (name, data) VALUES ('cart.created', '{"user_id": 7}');
	  SELECT id FROM inngest.runs WHERE function_id = 'checkout'});
like($run_b, qr/^\d+$/, 'b: the cart event created one run');

ok( $node->poll_query_until(
		'postgres', "SELECT status FROM inngest.runs WHERE id = $run_b",
		'waiting'),
	'b: the run is waiting for the payment');
is( $node->safe_psql(
		'postgres',
		"SELECT kind || ':' || status FROM inngest.steps
		 WHERE run_id = $run_b AND step_id = 'wait-payment'"),
	'wait:waiting',
	'b: the wait step is recorded as waiting');

$session->query_safe(
	q{INSERT INTO inngest.events (name, data)
	  VALUES ('payment', '{"user_id": 8, "amount": 1}')});
# give the workers time to do something wrong
sleep(1);
is( $node->safe_psql(
		'postgres',
		"SELECT status || ':' || (output IS NULL) FROM inngest.runs WHERE id = $run_b"),
	'waiting:true',
	"b: another user's payment leaves the run waiting");

my $t0 = time();
$session->query_safe(
	q{INSERT INTO inngest.events (name, data)
	  VALUES ('payment', '{"user_id": 7, "amount": 42}')});
my $wait_latency = poll_since($t0,
	"SELECT status FROM inngest.runs WHERE id = $run_b", 'completed', 30);
ok(defined $wait_latency, 'b: the matching payment resolves the wait');
note sprintf('b: matching event inserted -> run completed: %.1f ms',
	1000 * ($wait_latency // (time() - $t0)));
ok(defined $wait_latency && $wait_latency < 1.0,
	'b: the run completes within 1 s of the matching event');

is( $node->safe_psql(
		'postgres',
		"SELECT output = '{\"outcome\": \"paid\", \"payment\": {\"user_id\": 7, \"amount\": 42}}'
		 FROM inngest.runs WHERE id = $run_b"),
	't',
	"b: the run output contains the matching payment's data");
is( $node->safe_psql(
		'postgres',
		"SELECT status || ':' || (output -> 'data')::text FROM inngest.steps
		 WHERE run_id = $run_b AND step_id = 'wait-payment'"),
	'completed:{"amount": 42, "user_id": 7}',
	'b: the wait step is completed with the matching event as its output');
is( $node->safe_psql(
		'postgres', "SELECT count(*) FROM inngest.waits WHERE run_id = $run_b"),
	'0',
	'b: the resolved wait is gone');

# ---------------------------------------------------------------------------
# c) a wait's timeout
# ---------------------------------------------------------------------------

$node->safe_psql(
	'postgres', q{
	CREATE FUNCTION public.h_short_wait(event jsonb) RETURNS jsonb
	LANGUAGE plpgsql AS $$
	DECLARE
		got jsonb;
	BEGIN
		got := inngest.step_wait_for_event('short', 'never.sent', '2 seconds');
		IF got IS NULL THEN
			RETURN jsonb_build_object('outcome', 'timed out');
		END IF;
		RETURN jsonb_build_object('outcome', 'got it');
	END $$;
	SELECT inngest.create_function(
		'{"id": "short-wait", "triggers": [{"event": "test/short"}]}',
		'public.h_short_wait');
});

$t0 = time();
my $run_c = $session->query_safe(
	q{INSERT INTO inngest.events (name, data) VALUES ('test/short', '{}');
	  SELECT id FROM inngest.runs WHERE function_id = 'short-wait'});
like($run_c, qr/^\d+$/, 'c: the event created one run');
my $c_elapsed = poll_since($t0,
	"SELECT status FROM inngest.runs WHERE id = $run_c", 'completed', 30);
ok(defined $c_elapsed, 'c: the run completes at the timeout, without any event');
note sprintf('c: event inserted -> run completed: %.1f ms (seen by 10 ms polling)',
	1000 * ($c_elapsed // (time() - $t0)));

my ($c_output, $c_step, $c_delay) = split /\|/,
  $node->safe_psql(
	'postgres', qq{
	SELECT r.output::text, s.status || ':' || (s.output IS NULL),
	       round(extract(epoch FROM r.ended_at - s.started_at) * 1000, 3)
	FROM inngest.runs r
	JOIN inngest.steps s ON s.run_id = r.id AND s.step_id = 'short'
	WHERE r.id = $run_c});
is($c_output, '{"outcome": "timed out"}', 'c: the run took the NULL branch');
is($c_step, 'completed:true', 'c: the wait step completed with a NULL output');
note "c: wait registered -> run ended: $c_delay ms";
ok($c_delay >= 2000 && $c_delay < 2500,
	"c: the run ended 2 to 2.5 s after the wait was registered ($c_delay ms)");
ok(defined $c_elapsed && $c_elapsed < 5,
	'c: seen completed less than 5 s after the event was inserted');
is( $node->safe_psql(
		'postgres', "SELECT count(*) FROM inngest.waits WHERE run_id = $run_c"),
	'0',
	'c: the expired wait is gone');

# ---------------------------------------------------------------------------
# d) cancelOn cancels a sleeping run
# ---------------------------------------------------------------------------

$node->safe_psql(
	'postgres', q{
	CREATE TABLE public.sink_d (user_id int, step text);
	CREATE FUNCTION public.h_onboarding(event jsonb) RETURNS jsonb
	LANGUAGE plpgsql AS $$
	BEGIN
		PERFORM inngest.step_run('welcome',
			'INSERT INTO public.sink_d VALUES ($1, ''welcome'') RETURNING 1',
			(event #>> '{data,user_id}')::int);
		PERFORM inngest.step_sleep('nap', '1 hour');
		PERFORM inngest.step_run('tips',
			'INSERT INTO public.sink_d VALUES ($1, ''tips'') RETURNING 1',
			(event #>> '{data,user_id}')::int);
		RETURN jsonb_build_object('done', true);
	END $$;
	SELECT inngest.create_function('{
		"id": "onboarding",
		"triggers": [{"event": "user.signup"}],
		"cancelOn": [{"event": "user.deleted", "match": "data.user_id"}]
	}', 'public.h_onboarding');
	INSERT INTO inngest.events (name, data) VALUES
		('user.signup', '{"user_id": 1}'), ('user.signup', '{"user_id": 2}');
});

my ($run_d1, $run_d2) = split /\n/,
  $node->safe_psql(
	'postgres', q{
	SELECT id FROM inngest.runs WHERE function_id = 'onboarding'
	ORDER BY (event #>> '{data,user_id}')::int});
like($run_d1, qr/^\d+$/, 'd: a run for user 1');
like($run_d2, qr/^\d+$/, 'd: a run for user 2');

ok( $node->poll_query_until(
		'postgres', q{
		SELECT count(*) FROM inngest.runs
		WHERE function_id = 'onboarding' AND status = 'sleeping'},
		'2'),
	'd: both runs are sleeping');
is( $node->safe_psql(
		'postgres', q{
		SELECT count(*) FROM inngest.runs
		WHERE function_id = 'onboarding' AND status = 'sleeping'
		  AND wake_at > now() + interval '59 minutes'}),
	'2',
	'd: both sleep for about an hour');

$t0 = time();
$session->query_safe(
	q{INSERT INTO inngest.events (name, data) VALUES ('user.deleted', '{"user_id": 1}')});
my $cancel_latency = poll_since($t0,
	"SELECT status FROM inngest.runs WHERE id = $run_d1", 'cancelled', 30);
ok(defined $cancel_latency, "d: user 1's run is cancelled");
note sprintf('d: user.deleted inserted -> run cancelled: %.1f ms',
	1000 * ($cancel_latency // (time() - $t0)));
ok(defined $cancel_latency && $cancel_latency < 2.0,
	"d: user 1's run is cancelled promptly (within 2 s), not after its hour");

is( $node->safe_psql(
		'postgres', qq{
		SELECT count(*) FROM inngest.events
		WHERE name = 'inngest/function.cancelled'
		  AND data ->> 'run_id' = '$run_d1'
		  AND data ->> 'function_id' = 'onboarding'}),
	'1',
	'd: an inngest/function.cancelled event exists for the cancelled run');
note 'd: inngest/function.cancelled data: '
  . $node->safe_psql(
	'postgres', q{
	SELECT string_agg(data::text, ' ')
	FROM inngest.events WHERE name = 'inngest/function.cancelled'});

# let the workers run a little: nothing may revive or disturb either run
sleep(1);

is( $node->safe_psql(
		'postgres', qq{
		SELECT status || ':' || (ended_at IS NOT NULL) || ':' || (wake_at IS NULL)
		FROM inngest.runs WHERE id = $run_d1}),
	'cancelled:true:true',
	"d: user 1's run stays cancelled, ended, with no wake-up time");
is( $node->safe_psql(
		'postgres', qq{
		SELECT status || ':' || (wake_at > now() + interval '58 minutes')
		FROM inngest.runs WHERE id = $run_d2}),
	'sleeping:true',
	"d: user 2's run is untouched: still sleeping until its hour is up");
is( $node->safe_psql(
		'postgres', qq{
		SELECT count(*) FROM inngest.events
		WHERE name = 'inngest/function.cancelled'
		  AND data ->> 'run_id' = '$run_d2'}),
	'0',
	"d: no inngest/function.cancelled event for user 2's run");
is( $node->safe_psql(
		'postgres',
		"SELECT string_agg(user_id || ':' || step, ',' ORDER BY user_id, step)
		 FROM public.sink_d"),
	'1:welcome,2:welcome',
	'd: each run did its first step once; neither did the step after the sleep');
is( $node->safe_psql(
		'postgres', qq{
		SELECT (SELECT count(*) FROM inngest.waits WHERE run_id = $run_d1) || ','
		    || (SELECT count(*) FROM inngest.waits
		        WHERE run_id = $run_d2 AND kind = 'cancel')}),
	'0,1',
	"d: the cancelled run's waits are gone; user 2's cancelOn wait remains");

$session->quit;
$node->stop;

done_testing();
