# 002_idle_executors.pl: executors that have nothing to do sleep.
#
# While one executor runs a long step, the run it holds is due (wake_at in
# the past) but locked.  The other executor must not spin on it: it sleeps
# on its latch until something new is due.  We measure the idle executor's
# CPU time from /proc while the step runs, and check that a new event still
# wakes it at once.

use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use InngestNode;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);

if ($^O ne 'linux')
{
	plan skip_all => 'reads CPU time from /proc';
}

my $node = InngestNode::start('idle');
$node->safe_psql(
	'postgres', q{
	CREATE EXTENSION inngest_pg;
	CREATE FUNCTION public.slow(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
	BEGIN
		RETURN inngest.step_run('nap', 'SELECT pg_sleep(4)::text');
	END $$;
	CREATE FUNCTION public.quick(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
	BEGIN
		RETURN inngest.step_run('hi', 'SELECT ''hi''');
	END $$;
	SELECT inngest.create_function('{"id": "slow", "event": "slow"}', 'public.slow');
	SELECT inngest.create_function('{"id": "quick", "event": "quick"}', 'public.quick');
});

# CPU time (utime + stime, in clock ticks) of a process
sub cpu_ticks
{
	my ($pid) = @_;
	open(my $fh, '<', "/proc/$pid/stat") or die "cannot read /proc/$pid/stat: $!";
	my $stat = <$fh>;
	close $fh;
	# fields after the command name, which is in parentheses
	$stat =~ s/^.*\) //;
	my @f = split / /, $stat;
	return $f[11] + $f[12];
}

$node->safe_psql('postgres', q{SELECT inngest.send('slow')});
ok( $node->poll_query_until(
		'postgres', q{
		SELECT count(*) = 1 FROM pg_stat_activity
		WHERE backend_type = 'inngest_pg executor' AND wait_event = 'PgSleep'}),
	'one executor is inside the slow step');

my $idle_pid = $node->safe_psql(
	'postgres', q{
	SELECT pid FROM pg_stat_activity
	WHERE backend_type = 'inngest_pg executor'
	  AND wait_event IS DISTINCT FROM 'PgSleep'});
like($idle_pid, qr/^\d+$/, 'the other executor is found');

my $before = cpu_ticks($idle_pid);
sleep 2;
my $used = cpu_ticks($idle_pid) - $before;
note "idle executor used $used clock ticks in 2 s";
cmp_ok($used, '<', 20,
	'the idle executor sleeps while the due run is locked by the other one');

# a new event still wakes it at once, while the slow step goes on
my $start = time;
$node->safe_psql('postgres', q{SELECT inngest.send('quick')});
ok( $node->poll_query_until(
		'postgres',
		q{SELECT status = 'completed' FROM inngest.runs WHERE function_id = 'quick'}),
	'a new event is handled');
my $latency = time - $start;
note sprintf('new event completed after %.0f ms', $latency * 1000);
cmp_ok($latency, '<', 2, 'promptly, while the slow step still runs');
is( $node->safe_psql(
		'postgres', q{SELECT status FROM inngest.runs WHERE function_id = 'slow'}),
	'queued',
	'the slow run is still in its first transaction');

ok( $node->poll_query_until(
		'postgres',
		q{SELECT status = 'completed' FROM inngest.runs WHERE function_id = 'slow'}),
	'the slow run completes');

$node->stop;
done_testing();
