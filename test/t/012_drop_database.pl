# 012_drop_database.pl: the database the workers use can be dropped and
# created again.
#
# A supervisor connected to no database starts the launcher only while
# inngest.database exists; the launcher holds a share lock on its database
# and, when DROP DATABASE waits for it, stops the executors and leaves.  So
# a plain DROP DATABASE succeeds at once instead of being refused because
# the workers are connected; WITH (FORCE) does not leave the launcher
# failing to connect every few seconds; the log says once that the
# workers wait for the database; and they come back when it exists again.

use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use InngestNode;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $node = InngestNode::start('dropdb', conf => "inngest.database = 'app'");
# the whole log: the supervisor may say it waits before the first query
my $log_start = 0;

sub setup_app
{
	$node->safe_psql('postgres', 'CREATE DATABASE app');
	$node->safe_psql(
		'app', q{
		CREATE EXTENSION inngest_pg;
		CREATE FUNCTION public.quick(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
		BEGIN
			RETURN inngest.step_run('q', 'SELECT 1');
		END $$;
		SELECT inngest.create_function('{"id": "quick", "event": "quick"}', 'public.quick');
	});
}

sub workers_in
{
	my ($db) = @_;
	return $node->safe_psql('postgres',
		qq{SELECT count(*) FROM pg_stat_activity
		   WHERE backend_type IN ('inngest_pg launcher', 'inngest_pg executor')
		   AND datname = '$db'});
}

# The database does not exist yet: the workers wait for it.
ok( $node->poll_query_until(
		'postgres', q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'inngest_pg supervisor'}),
	'the supervisor runs');
sleep 3;
is(workers_in('app'), '0', 'no launcher while the database is missing');

setup_app();
ok($node->poll_query_until('postgres', q{SELECT count(*) = 3 FROM pg_stat_activity
	WHERE backend_type IN ('inngest_pg launcher', 'inngest_pg executor') AND datname = 'app'}),
	'launcher and executors start when it is created');
$node->safe_psql('app', q{SELECT inngest.send('quick')});
ok($node->poll_query_until('app', q{SELECT status = 'completed' FROM inngest.runs}),
	'a run completes');

# A plain DROP DATABASE is not refused because the workers are connected.
my $t0 = time;
my ($ret, $out, $err) = $node->psql('postgres', 'DROP DATABASE app');
my $took = time - $t0;
is($ret, 0, 'DROP DATABASE succeeds') or diag $err;
cmp_ok($took, '<', 5, sprintf('within %.1f s', $took));

# Created again: the workers come back.
setup_app();
ok($node->poll_query_until('postgres', q{SELECT count(*) = 3 FROM pg_stat_activity
	WHERE backend_type IN ('inngest_pg launcher', 'inngest_pg executor') AND datname = 'app'}),
	'the workers come back with the database');
$node->safe_psql('app', q{SELECT inngest.send('quick')});
ok($node->poll_query_until('app', q{SELECT status = 'completed' FROM inngest.runs}),
	'a run completes in the new database');

# WITH (FORCE): then no launcher fails to connect again and again.
($ret, $out, $err) = $node->psql('postgres', 'DROP DATABASE app WITH (FORCE)');
is($ret, 0, 'DROP DATABASE WITH (FORCE) succeeds') or diag $err;
sleep 12;
is(workers_in('app'), '0', 'no worker is left in it');
my $log = slurp_file($node->logfile, $log_start);
my $fatal = () = $log =~ /FATAL:  database "app" does not exist/g;
cmp_ok($fatal, '<=', 1, "no launcher restarting against the missing database ($fatal FATAL lines in 12 s)");
my $waits = () = $log =~ /inngest_pg waits for database "app"/g;
is($waits, 3, 'the log says it waits for the database once each time it is missing');

$node->stop;
done_testing();
