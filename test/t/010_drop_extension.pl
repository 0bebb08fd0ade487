# 010_drop_extension.pl: DROP EXTENSION while a worker runs a step.
#
# The step's transaction holds locks on the extension's tables; DROP
# EXTENSION locks them too.  Without an order between the two they
# deadlocked ("deadlock detected", one of them killed).  Every transaction
# of the workers first locks the extension itself in share mode, which DROP
# EXTENSION locks exclusively before any table: DROP waits for the step's
# commit, then succeeds; the workers then idle, and a new CREATE EXTENSION
# works with them.

use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use InngestNode;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $node = InngestNode::start('drop');
my $setup = q{
	CREATE EXTENSION inngest_pg;
	CREATE TABLE IF NOT EXISTS public.done (n int);
	CREATE OR REPLACE FUNCTION public.slow(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
	BEGIN
		RETURN inngest.step_run('nap', 'INSERT INTO public.done VALUES (1); SELECT pg_sleep(3)::text');
	END $$;
	SELECT inngest.create_function('{"id": "slow", "event": "slow"}', 'public.slow');
};
$node->safe_psql('postgres', $setup);
my $log_start = -s $node->logfile;

$node->safe_psql('postgres', q{SELECT inngest.send('slow')});
ok( $node->poll_query_until(
		'postgres', q{
		SELECT count(*) = 1 FROM pg_stat_activity
		WHERE backend_type = 'inngest_pg executor' AND wait_event = 'PgSleep'}),
	'a worker is inside the step');

my $t0 = time;
my ($ret, $stdout, $stderr) =
  $node->psql('postgres', 'DROP EXTENSION inngest_pg CASCADE');
my $took = time - $t0;
is($ret, 0, 'DROP EXTENSION succeeds') or diag $stderr;
unlike($stderr, qr/deadlock/, 'no deadlock');
cmp_ok($took, '>', 0.5, sprintf('it waited for the step to commit (%.1f s)', $took));
is($node->safe_psql('postgres', q{SELECT count(*) FROM public.done}), '1',
	"the step's write committed");

sleep 1;
my $log = slurp_file($node->logfile, $log_start);
unlike($log, qr/deadlock detected/, 'no deadlock in the server log either');

# The workers are still there and pick up a new installation.
$node->safe_psql('postgres', $setup);
$node->safe_psql('postgres', q{SELECT inngest.send('slow')});
ok( $node->poll_query_until(
		'postgres', q{SELECT status = 'completed' FROM inngest.runs}),
	'a run completes after CREATE EXTENSION again');

$node->stop;
done_testing();
