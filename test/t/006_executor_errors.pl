# 006_executor_errors.pl: an executor whose every round fails backs off and
# is started again in a fresh session, instead of flooding the log.
#
# A step that makes its session read-only (set_config(..., false) survives
# the step) leaves that executor unable to run any transaction that writes.
# Before the backoff, it retried at full speed: 210,000 ERROR lines in 3 s.
# Now its failed rounds wait 50 ms, 100 ms, ... and after 8 of them it
# exits; the launcher starts a new executor 5 s later, whose session is
# clean, and runs go on.

use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use InngestNode;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = InngestNode::start('errors', workers => 1);
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

my $pid_before = $node->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'inngest_pg executor'});
my $log_start = -s $node->logfile;

$node->safe_psql('postgres', q{SELECT inngest.send('poison')});
ok( $node->poll_query_until(
		'postgres', q{SELECT status = 'completed' FROM inngest.runs WHERE function_id = 'poison'}),
	'the poisoning run completes');

# Its executor now fails every round; within 3 seconds it must not flood.
sleep 3;
my $log = slurp_file($node->logfile, $log_start);
my $errors = () = $log =~ /ERROR:  cannot execute .* in a read-only transaction/g;
cmp_ok($errors, '>=', 1, "the failing rounds are reported ($errors)");
cmp_ok($errors, '<=', 20, "but backed off: $errors ERROR lines in 3 s");

# After 8 failures it exits and a new executor takes its place.
ok( $node->poll_query_until(
		'postgres', qq{
		SELECT count(*) = 1 FROM pg_stat_activity
		WHERE backend_type = 'inngest_pg executor' AND pid <> $pid_before}),
	'a new executor was started');
$log = slurp_file($node->logfile, $log_start);
like($log, qr/inngest_pg executor 0 exits after 8 failed rounds in a row/,
	'the executor said why it exited');

# The new session is clean: runs complete again.
$node->safe_psql('postgres', q{SELECT inngest.send('quick')});
ok( $node->poll_query_until(
		'postgres', q{SELECT status = 'completed' FROM inngest.runs WHERE function_id = 'quick'}),
	'a run completes in the new executor');

$node->stop;
done_testing();
