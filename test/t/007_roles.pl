# 007_roles.pl: role commands and inngest functions with the library
# preloaded, as in production.
#
#  a) every session has the hook, even one that never called an inngest
#     function: DROP ROLE of a role that owns functions is refused;
#  b) REASSIGN OWNED while a run is inside a step: that step ends as the old
#     owner, the next step runs as the new one (the executor takes the
#     owner again at each checkpoint); the old role may then be dropped;
#  c) DROP OWNED in another fresh session deletes the role's functions.

use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use InngestNode;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = InngestNode::start('roles', workers => 1);

# Step s2 waits for advisory lock 4343 (released with the step's
# transaction); every step says who it runs as.
$node->safe_psql(
	'postgres', q{
	CREATE EXTENSION inngest_pg;
	CREATE ROLE regress_inngest_ann;
	CREATE ROLE regress_inngest_cat;
	-- to PUBLIC: a grant to the role would keep DROP ROLE from reaching us
	GRANT SELECT ON inngest.events TO PUBLIC;
	CREATE FUNCTION public.whoami3(event jsonb) RETURNS jsonb
	LANGUAGE plpgsql AS $$
	BEGIN
		RETURN jsonb_build_object(
			's1', inngest.step_run('s1', 'SELECT current_user::text'),
			's2', inngest.step_run('s2',
				'SELECT current_user::text FROM pg_advisory_xact_lock(4343)'),
			's3', inngest.step_run('s3', 'SELECT current_user::text'));
	END $$;
	SET ROLE regress_inngest_ann;
	SELECT inngest.create_function('{"id": "ann-who", "event": "who"}',
		'public.whoami3');
});

# a) a fresh session, which has called no inngest function
my ($ret, $out, $err) =
  $node->psql('postgres', 'DROP ROLE regress_inngest_ann');
isnt($ret, 0, 'a: DROP ROLE of a role owning functions fails');
like(
	$err,
	qr/role "regress_inngest_ann" cannot be dropped because it owns inngest functions/,
	'a: ... because it owns inngest functions');
like(
	$err,
	qr/HINT:  Use REASSIGN OWNED BY regress_inngest_ann TO another role, or DROP OWNED BY regress_inngest_ann, in database "postgres" first\./,
	'a: ... with the hint');

# b) a run blocked inside step s2 when its function changes hands
my $holder = $node->background_psql('postgres');
$holder->query_safe('SELECT pg_advisory_lock(4343)');

my $run = $node->safe_psql(
	'postgres', q{
	INSERT INTO inngest.events (name) VALUES ('who');
	SELECT id FROM inngest.runs WHERE function_id = 'ann-who';});
like($run, qr/^\d+$/, 'b: the event created one run');

ok( $node->poll_query_until(
		'postgres', q{
		SELECT count(*) FROM pg_locks
		WHERE locktype = 'advisory' AND classid = 0 AND objid = 4343
		  AND NOT granted},
		'1'),
	'b: the run is blocked inside step s2');

$node->safe_psql('postgres',
	'REASSIGN OWNED BY regress_inngest_ann TO regress_inngest_cat');
is( $node->safe_psql(
		'postgres', q{SELECT owner FROM inngest.functions WHERE id = 'ann-who'}),
	'regress_inngest_cat',
	'b: REASSIGN OWNED gave the function to cat');

$holder->query_safe('SELECT pg_advisory_unlock(4343)');
$holder->quit;

ok( $node->poll_query_until(
		'postgres', "SELECT status FROM inngest.runs WHERE id = $run",
		'completed'),
	'b: the run completes');
is( $node->safe_psql(
		'postgres', qq{
		SELECT output ->> 's1', output ->> 's2', output ->> 's3'
		FROM inngest.runs WHERE id = $run}),
	'regress_inngest_ann|regress_inngest_ann|regress_inngest_cat',
	'b: steps before the change ran as ann, the step after it as cat');

($ret, $out, $err) =
  $node->psql('postgres', 'DROP ROLE regress_inngest_ann');
is($ret, 0, 'b: ann owns nothing any more and is dropped');

# c) DROP OWNED in a fresh session
$node->safe_psql('postgres', 'DROP OWNED BY regress_inngest_cat');
is($node->safe_psql('postgres', 'SELECT count(*) FROM inngest.functions'),
	'0', 'c: DROP OWNED deleted cat\'s function');
($ret, $out, $err) =
  $node->psql('postgres', 'DROP ROLE regress_inngest_cat');
is($ret, 0, 'c: cat is dropped');

$node->stop;
done_testing();
