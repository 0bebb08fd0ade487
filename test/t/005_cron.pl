# 005_cron.pl: cron triggers fired by the real launcher (inngest.tick() is
# never called here).
#
#  a) a "2 seconds" schedule starts one run per even second: slots are
#     distinct, 2 s apart, on even seconds, and each run starts within
#     a second of its slot;
#  b) changing the schedule ("3 seconds") takes effect without a restart;
#  c) a restart does not fire a slot twice;
#  d) deleting the function stops its schedule.

use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use InngestNode;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);

my $node = InngestNode::start('cron');

$node->safe_psql(
	'postgres', q{
	CREATE EXTENSION inngest_pg;
	CREATE TABLE public.ticks (slot timestamptz, started timestamptz, cron text);
	CREATE FUNCTION public.tock(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
	BEGIN
	  PERFORM inngest.step_run('tick',
	    'INSERT INTO public.ticks VALUES (to_timestamp($1 / 1000.0), clock_timestamp(), $2)',
	    (event ->> 'ts')::bigint, event #>> '{data,cron}');
	  RETURN NULL;
	END $$;
	SELECT inngest.create_function('{"id": "tock", "cron": "2 seconds"}', 'public.tock');
});

# ---------------------------------------------------------------------------
# a) on schedule
# ---------------------------------------------------------------------------
sleep(7);
my ($n, $distinct, $even, $max_late, $max_gap) = split /\|/, $node->safe_psql(
	'postgres', q{
	SELECT count(*), count(DISTINCT slot),
	       bool_and(extract(second FROM slot)::int % 2 = 0 AND extract(second FROM slot) = floor(extract(second FROM slot))),
	       max(extract(epoch FROM started - slot)),
	       (SELECT max(d)::float8 FROM (SELECT extract(epoch FROM slot - lag(slot) OVER (ORDER BY slot)) AS d
	                            FROM public.ticks) x)
	FROM public.ticks});
diag("runs $n, latest start after its slot $max_late s, largest gap $max_gap s");
cmp_ok($n, '>=', 3, 'a "2 seconds" schedule fired repeatedly in 7 s');
cmp_ok($n, '<=', 4, 'and not more often than every 2 s');
is($distinct, $n, 'each slot fired once');
is($even, 't', 'on even seconds');
cmp_ok($max_late, '<', 1.0, 'each run started within a second of its slot');
is($max_gap, '2', 'no slot was skipped');

# ---------------------------------------------------------------------------
# b) a new schedule takes effect at once
# ---------------------------------------------------------------------------
$node->safe_psql('postgres',
	q{SELECT inngest.create_function('{"id": "tock", "cron": "3 seconds"}', 'public.tock')});
sleep(7);
my ($n3, $on3) = split /\|/, $node->safe_psql(
	'postgres', q{
	SELECT count(*), bool_and(extract(second FROM slot)::int % 3 = 0)
	FROM public.ticks WHERE cron = '3 seconds'});
cmp_ok($n3, '>=', 2, 'the changed schedule fires without a restart');
is($on3, 't', 'on its own slots');

# ---------------------------------------------------------------------------
# c) a restart fires no slot twice
# ---------------------------------------------------------------------------
$node->restart;
sleep(4);
is( $node->safe_psql(
		'postgres', q{SELECT count(*) - count(DISTINCT slot) FROM public.ticks}),
	'0', 'no slot fired twice across a restart');
is( $node->safe_psql(
		'postgres',
		q{SELECT count(*) FROM public.ticks WHERE cron = '3 seconds'
		  AND started > now() - interval '3 seconds'}) > 0 ? 1 : 0,
	1, 'the schedule goes on after the restart');

# ---------------------------------------------------------------------------
# d) deleting the function stops its schedule
# ---------------------------------------------------------------------------
$node->safe_psql('postgres', q{SELECT inngest.delete_function('tock')});
usleep(500_000);
my $before = $node->safe_psql('postgres', 'SELECT count(*) FROM public.ticks');
sleep(4);
is($node->safe_psql('postgres', 'SELECT count(*) FROM public.ticks'),
	$before, 'a deleted function is not fired');

$node->stop;
done_testing();
