# 006_executor_errors.pl: an executor whose every round fails backs off and
# is started again in a fresh session, instead of flooding the log.
#
# A step that makes its session read-only (set_config(..., false)) once
# left its executor unable to run any transaction that writes; now what a
# step sets is undone when it returns, and the executor goes on.  The same
# poison applied from outside (ALTER SYSTEM, reloaded into every session)
# makes every round fail: before the backoff an executor retried at full
# speed, 210,000 ERROR lines in 3 s.  Now its failed rounds wait 50 ms,
# 100 ms, ... and after 8 of them it exits; the launcher starts a new
# executor 5 s later, and once the setting is reset runs go on.

use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use InngestNode;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = InngestNode::start('errors', workers => 2);
$node->safe_psql(
	'postgres', q{
	CREATE EXTENSION inngest_pg;
	CREATE FUNCTION public.poison(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
	BEGIN
		RETURN inngest.step_run('ro',
			'SELECT set_config(''default_transaction_read_only'', ''on'', false)');
	END $$;
	CREATE FUNCTION public.quick(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
	BEGIN
		RETURN inngest.step_run('hi', 'SELECT ''hi''');
	END $$;
	SELECT inngest.create_function('{"id": "poison", "event": "poison"}', 'public.poison');
	SELECT inngest.create_function('{"id": "quick", "event": "quick"}', 'public.quick');
});

# Two executors: the poisoned one would be whichever drives the run.
my $log_start = -s $node->logfile;

$node->safe_psql('postgres', q{SELECT inngest.send('poison')});
ok( $node->poll_query_until(
		'postgres', q{SELECT status = 'completed' FROM inngest.runs WHERE function_id = 'poison'}),
	'the poisoning run completes');
my $pids_before = $node->safe_psql('postgres',
	q{SELECT string_agg(pid::text, ',') FROM pg_stat_activity WHERE backend_type = 'inngest_pg executor'});

# The step's setting did not survive it: runs go on in the same executors.
for my $i (1 .. 4)
{
	$node->safe_psql('postgres', q{SELECT inngest.send('quick')});
}
ok( $node->poll_query_until(
		'postgres', q{SELECT count(*) = 4 FROM inngest.runs
		WHERE function_id = 'quick' AND status = 'completed'}),
	'later runs complete: the step\'s read-only setting was undone');
my $log = slurp_file($node->logfile, $log_start);
my $errors = () = $log =~ /ERROR:  cannot execute .* in a read-only transaction/g;
is($errors, 0, 'no executor round failed');
is( $node->safe_psql('postgres',
		q{SELECT string_agg(pid::text, ',') FROM pg_stat_activity WHERE backend_type = 'inngest_pg executor'}),
	$pids_before,
	'the same executors run');

# The poison from outside: every session, the executors' included, is
# read-only from the reload on.  ALTER SYSTEM itself is allowed then.
$log_start = -s $node->logfile;
$node->safe_psql('postgres', q{
	ALTER SYSTEM SET default_transaction_read_only = on;
	SELECT pg_reload_conf();});

# Its executors now fail every round; within 3 seconds they must not flood.
sleep 3;
$log = slurp_file($node->logfile, $log_start);
$errors = () = $log =~ /ERROR:  cannot execute .* in a read-only transaction/g;
cmp_ok($errors, '>=', 1, "the failing rounds are reported ($errors)");
cmp_ok($errors, '<=', 40, "but backed off: $errors ERROR lines in 3 s");

# After 8 failures each exits, and says why.
ok($node->wait_for_log(
		qr/inngest_pg executor \d exits after 8 failed rounds in a row/, $log_start),
	'the executor said why it exited');

# Once the setting is gone, the launcher (whose own transactions failed
# meanwhile) starts new executors, and runs complete again.
$node->safe_psql('postgres', q{
	ALTER SYSTEM RESET default_transaction_read_only;
	SELECT pg_reload_conf();});
ok( $node->poll_query_until(
		'postgres', qq{
		SELECT count(*) > 0 FROM pg_stat_activity
		WHERE backend_type = 'inngest_pg executor' AND pid NOT IN ($pids_before)}),
	'a new executor was started');
$node->safe_psql('postgres', q{SELECT inngest.send('quick')});
ok( $node->poll_query_until(
		'postgres', q{SELECT count(*) = 5 FROM inngest.runs
		WHERE function_id = 'quick' AND status = 'completed'}),
	'a run completes again');

# An internal error (here a row trigger a DBA put on inngest.events makes
# the run's inngest/function.finished fail) counts one failed attempt: the
# executor keeps the run's driver lock until it has counted it, so the
# other executor cannot drive the run again at once and count it twice.
$node->safe_psql(
	'postgres', q{
	CREATE FUNCTION public.refuse() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		IF NEW.data ->> 'function_id' = 'fragile' THEN
			RAISE EXCEPTION 'refused by a trigger';
		END IF;
		RETURN NEW;
	END $$;
	CREATE TRIGGER refuse BEFORE INSERT ON inngest.events
		FOR EACH ROW WHEN (NEW.name = 'inngest/function.finished')
		EXECUTE FUNCTION public.refuse();
	SELECT inngest.create_function('{"id": "fragile", "event": "fragile", "retries": 1}', 'public.quick');
});
$node->safe_psql('postgres', q{SELECT inngest.send('fragile')});
ok( $node->poll_query_until(
		'postgres', q{SELECT attempt > 0 FROM inngest.runs WHERE function_id = 'fragile'}),
	'the internal error was counted');
sleep 2;
is( $node->safe_psql(
		'postgres', q{
		SELECT status || ' attempt ' || attempt || ' ' || (error ->> 'message')
		       || CASE WHEN wake_at > now() + interval '10 seconds' THEN ' (backing off)' ELSE '' END
		FROM inngest.runs WHERE function_id = 'fragile'}),
	'queued attempt 1 refused by a trigger (backing off)',
	'once: the run waits for its retry instead of failing at once');

$node->stop;
done_testing();
