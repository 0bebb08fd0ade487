# 014_tenants.pl: two tenants (two roles, each owning its own inngest
# function) whose runs go through the same executor session (one worker),
# their steps interleaved, several runs sharing a transaction.
#
#  a) what a step or a handler sets, even for the session (set_config(...,
#     false), SET), is undone when that step or handler call ends: every
#     step and every handler starts with the server's TimeZone, no
#     app.tenant, the search_path its function was created with and the
#     real clock, although each step and handler of the other tenant (and
#     of its own) set TimeZone, app.tenant and search_path, and tenant A's
#     set inngest.fake_now to 2099 (A is granted SET on it);
#  b) tenant B's sleeps, started after A moved its clock, wake by the real
#     clock: a 1 hour sleep is stored with wake_at an hour from now, a
#     sleep until an hour from now is not over at once (the runs stay
#     sleeping, not completed early);
#  c) a handler that calls pg_advisory_unlock_all() keeps its run's driver
#     lock (objsubid 18759, the run id in classid/objid): the engine takes
#     it back before the next step; a session-level advisory lock the
#     handler takes and never releases is gone from the worker after the run;
#  d) a PREPARE in one run's step does not survive into the next run: it
#     is refused there (user code is a security-restricted operation), and
#     the next run in the same session finds no such statement;
#  e) inngest.fake_now is PGC_SUSET: tenant B, not granted SET on it,
#     cannot move the clock from a step (its run fails).

use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use InngestNode;
use PostgreSQL::Test::Utils;
use Test::More;

# the server's TimeZone, which neither tenant uses
my $server_tz = 'America/Sao_Paulo';
my $node = InngestNode::start('tenants',
	workers => 1,
	conf => "timezone = '$server_tz'");

# What each tenant's steps and handler set: its own TimeZone and tenant key,
# the other tenant's schema first in search_path and, for A only, a clock
# in 2099.
my $fake = '2099-01-01 00:00:00+00';
my %tenant = (
	a => {
		role => 'regress_tenant_a',
		schema => 'a_schema',
		fn => 'tenant-a',
		event => 'a.go',
		tz => 'Asia/Tokyo',
		key => 'a',
		path => 'b_schema, public',
		fake => $fake
	},
	b => {
		role => 'regress_tenant_b',
		schema => 'b_schema',
		fn => 'tenant-b',
		event => 'b.go',
		tz => 'America/New_York',
		key => 'b',
		path => 'a_schema, public',
		fake => undef
	});

$node->safe_psql(
	'postgres', qq{
	CREATE EXTENSION inngest_pg;
	CREATE ROLE regress_tenant_a;
	CREATE ROLE regress_tenant_b;
	CREATE SCHEMA a_schema AUTHORIZATION regress_tenant_a;
	CREATE SCHEMA b_schema AUTHORIZATION regress_tenant_b;
	GRANT USAGE ON SCHEMA a_schema TO regress_tenant_a;
	GRANT USAGE ON SCHEMA b_schema TO regress_tenant_b;
	GRANT SELECT ON inngest.events TO regress_tenant_a, regress_tenant_b;
	GRANT SET ON PARAMETER inngest.fake_now TO regress_tenant_a;
} . q{
	-- what a step or handler sees; "at" is when it looked
	CREATE FUNCTION public.tenant_settings() RETURNS jsonb
	LANGUAGE sql AS $$
		SELECT jsonb_build_object(
			'tz', current_setting('TimeZone'),
			'tenant', coalesce(current_setting('app.tenant', true), ''),
			'path', current_setting('search_path'),
			'fake', current_setting('inngest.fake_now'),
			'now', inngest.now(),
			'at', clock_timestamp(),
			'pid', pg_backend_pid(),
			'xid', txid_current())
	$$;

	-- set a tenant's values for the session (set_config(..., false) and a
	-- plain SET), and return what is seen then
	CREATE FUNCTION public.tenant_pollute(tz text, key text, path text, fake text)
	RETURNS jsonb LANGUAGE plpgsql AS $$
	BEGIN
		PERFORM set_config('TimeZone', tz, false);
		EXECUTE format('SET app.tenant = %L', key);
		PERFORM set_config('search_path', path, false);
		IF fake IS NOT NULL THEN
			PERFORM set_config('inngest.fake_now', fake, false);
		END IF;
		RETURN public.tenant_settings();
	END $$;

	-- a step: what it sees at its start, then what it sees once it set
	-- its tenant's values
	CREATE FUNCTION public.tenant_probe(tz text, key text, path text, fake text)
	RETURNS jsonb LANGUAGE plpgsql AS $$
	DECLARE
		before jsonb;
		after jsonb;
	BEGIN
		before := public.tenant_settings();
		after := public.tenant_pollute(tz, key, path, fake);
		RETURN jsonb_build_object('before', before, 'after', after);
	END $$;

	-- the advisory locks this session holds
	CREATE FUNCTION public.lock_probe() RETURNS jsonb
	LANGUAGE sql AS $$
		SELECT jsonb_build_object(
			'driver', (SELECT count(*) FROM pg_locks
				WHERE locktype = 'advisory' AND objsubid = 18759
				  AND pid = pg_backend_pid() AND granted),
			'mine', (SELECT count(*) FROM pg_locks
				WHERE locktype = 'advisory' AND objsubid = 18759
				  AND pid = pg_backend_pid() AND granted
				  AND ((classid::int8 << 32) | objid::int8) = inngest.run_id()),
			'k12345', (SELECT count(*) FROM pg_locks
				WHERE locktype = 'advisory' AND objsubid = 1
				  AND classid = 0 AND objid = 12345
				  AND pid = pg_backend_pid() AND granted),
			'pid', pg_backend_pid())
	$$;
});

# Each tenant's handler: what it sees at its start; three probe steps with
# a 1 s sleep between them (so that the runs of both tenants interleave in
# the executor); then, as the event says, nothing, a 1 hour sleep, or a
# sleep until an hour from now (computed by a step, with the real clock);
# at its end it sets its tenant's values too.
my %fn_path;
for my $t (sort keys %tenant)
{
	my $c = $tenant{$t};
	my $fake_lit = defined $c->{fake} ? "'$c->{fake}'" : 'NULL';
	$node->safe_psql(
		'postgres', qq{
	SET ROLE $c->{role};
	SET search_path = $c->{schema}, public;
	CREATE FUNCTION $c->{schema}.flow(event jsonb) RETURNS jsonb
	LANGUAGE plpgsql AS \$\$
	DECLARE
		hb jsonb := public.tenant_settings();
		tz text := '$c->{tz}';
		key text := '$c->{key}';
		path text := '$c->{path}';
		fake text := $fake_lit;
		q text := 'SELECT public.tenant_probe(\$1, \$2, \$3, \$4)';
		target jsonb;
	BEGIN
		PERFORM inngest.step_run('s1', q, tz, key, path, fake);
		PERFORM inngest.step_sleep('z1', '1 second');
		PERFORM inngest.step_run('s2', q, tz, key, path, fake);
		PERFORM inngest.step_sleep('z2', '1 second');
		PERFORM inngest.step_run('s3', q, tz, key, path, fake);
		CASE event #>> '{data,final}'
		WHEN 'nap' THEN
			PERFORM inngest.step_sleep('nap', '1 hour');
		WHEN 'until' THEN
			target := inngest.step_run('target', 'SELECT now() + interval ''1 hour''');
			PERFORM inngest.step_sleep_until('until', (target #>> '{}')::timestamptz);
		ELSE
			NULL;
		END CASE;
		RETURN jsonb_build_object('handler_before', hb,
			'handler_after', public.tenant_pollute(tz, key, path, fake));
	END \$\$;
	SELECT inngest.create_function(
		'{"id": "$c->{fn}", "event": "$c->{event}", "retries": 0}',
		'$c->{schema}.flow');
});
	$fn_path{$t} = $node->safe_psql('postgres',
		"SELECT search_path FROM inngest.functions WHERE id = '$c->{fn}'");
}

like($fn_path{a}, qr/^a_schema, public\b/,
	"A's function keeps the search_path it was created with ($fn_path{a})");
like($fn_path{b}, qr/^b_schema, public\b/,
	"B's function keeps the search_path it was created with ($fn_path{b})");

# ----------------------------------------------------------------------
# a, b) 8 runs, A and B alternately; B's third ends in a 1 hour sleep, its
# fourth in a sleep until an hour from now
# ----------------------------------------------------------------------
$node->safe_psql(
	'postgres', q{
	INSERT INTO inngest.events (name, data) VALUES
		('a.go', '{"n": 1, "final": "none"}'),
		('b.go', '{"n": 1, "final": "none"}'),
		('a.go', '{"n": 2, "final": "none"}'),
		('b.go', '{"n": 2, "final": "none"}'),
		('a.go', '{"n": 3, "final": "none"}'),
		('b.go', '{"n": 3, "final": "nap"}'),
		('a.go', '{"n": 4, "final": "none"}'),
		('b.go', '{"n": 4, "final": "until"}');
});

# every run ends or goes to a long sleep: those without a final sleep
# complete, the others end their probe steps and sleep for an hour (a run
# whose clock went wrong ends early, or sleeps for long on a short sleep:
# the checks below then fail without waiting here for long)
ok( $node->poll_query_until(
		'postgres', q{
		SELECT count(*) FROM inngest.runs
		WHERE function_id IN ('tenant-a', 'tenant-b')
		  AND (status NOT IN ('queued', 'running', 'sleeping')
			OR (status = 'sleeping' AND wake_at > now() + interval '30 minutes'))},
		'8'),
	'a: the runs of both tenants end or go to their long sleep');

is( $node->safe_psql(
		'postgres', q{
		SELECT string_agg(function_id || ' ' || (event #>> '{data,n}') || ' '
			|| status || coalesce(' ' || error::text, ''), ', ' ORDER BY id)
		FROM inngest.runs
		WHERE function_id IN ('tenant-a', 'tenant-b')
		  AND event #>> '{data,final}' = 'none' AND status <> 'completed'}),
	'',
	'a: the 6 runs without a final sleep completed');

# every probe: each step of each run (what it saw at its start, and once it
# had set its tenant's values), and each completed run's handler (at its
# start, and at its end); with the values the tenant sets
my %exp_sql;
for my $t (sort keys %tenant)
{
	my $c = $tenant{$t};
	$exp_sql{$t} = sprintf("('%s', '%s', '%s', '%s', %s)",
		$c->{fn}, $c->{tz}, $c->{key}, $c->{path},
		defined $c->{fake} ? "'$c->{fake}'" : "''");
}
my $probes = qq{
	WITH expected (fn, tz, key, path, fake) AS (
		VALUES $exp_sql{a}, $exp_sql{b}),
	probes AS (
		SELECT r.id AS run, r.function_id AS fn, s.step_id AS what,
			s.output -> 'before' AS before, s.output -> 'after' AS after
		FROM inngest.runs r JOIN inngest.steps s ON s.run_id = r.id
		WHERE r.function_id IN ('tenant-a', 'tenant-b')
		  AND s.step_id IN ('s1', 's2', 's3')
		UNION ALL
		SELECT r.id, r.function_id, 'handler',
			r.output -> 'handler_before', r.output -> 'handler_after'
		FROM inngest.runs r
		WHERE r.function_id IN ('tenant-a', 'tenant-b')
		  AND r.status = 'completed'),
	p AS (
		SELECT p.*, e.tz, e.key, e.path, e.fake, f.search_path AS fn_path,
			p.fn || ' run ' || p.run || ' ' || p.what AS label
		FROM probes p JOIN expected e USING (fn)
			JOIN inngest.functions f ON f.id = p.fn)
};

is( $node->safe_psql(
		'postgres', $probes . q{
		SELECT fn || ' ' || what || ' ' || count(*) FROM p
		GROUP BY fn, (what = 'handler'), what ORDER BY 1}),
	join("\n",
		'tenant-a handler 4', 'tenant-a s1 4', 'tenant-a s2 4', 'tenant-a s3 4',
		'tenant-b handler 2', 'tenant-b s1 4', 'tenant-b s2 4', 'tenant-b s3 4'),
	'a: 24 steps and 6 handlers reported what they saw');

is( $node->safe_psql(
		'postgres', $probes . q{
		SELECT count(DISTINCT before ->> 'pid') || ' ' || count(DISTINCT after ->> 'pid')
		FROM p}),
	'1 1',
	'a: every step and handler of both tenants ran in the same session');

# the steps of A and B alternate in time: count the changes of tenant
my $switches = $node->safe_psql(
	'postgres', $probes . q{
	SELECT count(*) FILTER (WHERE fn <> prev) FROM (
		SELECT fn, lag(fn) OVER (ORDER BY (before ->> 'at')::timestamptz) AS prev
		FROM p WHERE what <> 'handler') x});
cmp_ok($switches, '>=', 6,
	"a: the steps of the two tenants interleave ($switches changes of tenant)");

# the worker drove several runs in one transaction (runs_per_transaction)
my $batch = $node->safe_psql(
	'postgres', $probes . q{
	SELECT max(n) FROM (
		SELECT count(DISTINCT run) AS n FROM p WHERE what <> 'handler'
		GROUP BY before ->> 'xid') x});
cmp_ok($batch, '>=', 2,
	"a: steps of several runs shared a transaction (up to $batch runs in one)");

# the values each step and handler set did take effect there (otherwise
# the checks of what the next one sees would prove nothing)
is( $node->safe_psql(
		'postgres', $probes . q{
		SELECT string_agg(label || ': ' || after::text, E'\n' ORDER BY label) FROM p
		WHERE after ->> 'tz' IS DISTINCT FROM tz
		   OR after ->> 'tenant' IS DISTINCT FROM key
		   OR after ->> 'path' IS DISTINCT FROM path
		   OR after ->> 'fake' IS DISTINCT FROM fake
		   OR (fake = '' AND abs(extract(epoch FROM
				(after ->> 'now')::timestamptz - (after ->> 'at')::timestamptz)) > 60)
		   OR (fake <> '' AND (after ->> 'now')::timestamptz <> fake::timestamptz)}),
	'',
	"a: each step and handler set its tenant's TimeZone, app.tenant, search_path (and A's clock)"
);

is( $node->safe_psql(
		'postgres', $probes . qq{
		SELECT string_agg(label || ': ' || (before ->> 'tz'), E'\\n' ORDER BY label)
		FROM p WHERE before ->> 'tz' IS DISTINCT FROM '$server_tz'}),
	'',
	"a: every step and handler starts with the server's TimeZone ($server_tz)");

is( $node->safe_psql(
		'postgres', $probes . q{
		SELECT string_agg(label || ': ' || (before ->> 'tenant'), E'\n' ORDER BY label)
		FROM p WHERE before ->> 'tenant' IS DISTINCT FROM ''}),
	'',
	'a: every step and handler starts without an app.tenant');

is( $node->safe_psql(
		'postgres', $probes . q{
		SELECT string_agg(label || ': ' || (before ->> 'path'), E'\n' ORDER BY label)
		FROM p WHERE before ->> 'path' IS DISTINCT FROM fn_path}),
	'',
	"a: every step and handler starts with its own function's creation-time search_path"
);

is( $node->safe_psql(
		'postgres', $probes . q{
		SELECT string_agg(label || ': ' || (before ->> 'fake') || ' '
			|| (before ->> 'now'), E'\n' ORDER BY label)
		FROM p
		WHERE before ->> 'fake' IS DISTINCT FROM ''
		   OR abs(extract(epoch FROM
				(before ->> 'now')::timestamptz - (before ->> 'at')::timestamptz)) > 60}),
	'',
	'a: every step and handler starts with the real clock (inngest.now() within a minute of the time)'
);

# B's steps that ran after one of A's had moved the clock to 2099
my $b_after_a = $node->safe_psql(
	'postgres', $probes . q{
	SELECT count(*) FROM p
	WHERE fn = 'tenant-b' AND what <> 'handler'
	  AND (before ->> 'at')::timestamptz > (
		SELECT min((after ->> 'at')::timestamptz) FROM p
		WHERE fn = 'tenant-a' AND what <> 'handler')});
cmp_ok($b_after_a, '>=', 8,
	"a: $b_after_a of B's steps ran after A had set its clock to 2099 (and saw the real one)"
);

# b) B's sleeps, started after A's steps moved A's clock
is( $node->safe_psql(
		'postgres', qq{
		SELECT r.status,
			r.wake_at < '$fake'::timestamptz,
			abs(extract(epoch FROM r.wake_at
				- ((s.output -> 'after' ->> 'at')::timestamptz + interval '1 hour'))) < 60
		FROM inngest.runs r JOIN inngest.steps s ON s.run_id = r.id AND s.step_id = 's3'
		WHERE r.function_id = 'tenant-b' AND r.event #>> '{data,final}' = 'nap'}),
	'sleeping|t|t',
	"b: B's 1 hour sleep sleeps, until an hour after its last step by the real clock"
);

is( $node->safe_psql(
		'postgres', q{
		SELECT r.status,
			r.wake_at = (t.output #>> '{}')::timestamptz,
			abs(extract(epoch FROM r.wake_at
				- ((s.output -> 'after' ->> 'at')::timestamptz + interval '1 hour'))) < 60
		FROM inngest.runs r
			JOIN inngest.steps s ON s.run_id = r.id AND s.step_id = 's3'
			JOIN inngest.steps t ON t.run_id = r.id AND t.step_id = 'target'
		WHERE r.function_id = 'tenant-b' AND r.event #>> '{data,final}' = 'until'}),
	'sleeping|t|t',
	"b: B's sleep until an hour from now is not over at once (not completed early)");

# ----------------------------------------------------------------------
# c) a handler that releases every session advisory lock, and takes one
# it never gives back
# ----------------------------------------------------------------------
$node->safe_psql(
	'postgres', q{
	SET ROLE regress_tenant_b;
	SET search_path = b_schema, public;
	CREATE FUNCTION b_schema.locks(event jsonb) RETURNS jsonb
	LANGUAGE plpgsql AS $$
	DECLARE
		h1 jsonb;
		h2 jsonb;
	BEGIN
		PERFORM pg_advisory_unlock_all();
		PERFORM pg_advisory_lock(12345);
		h1 := inngest.step_run('held', 'SELECT public.lock_probe()');
		h2 := inngest.step_run('held2', 'SELECT public.lock_probe()');
		PERFORM pg_advisory_unlock_all();
		PERFORM pg_advisory_lock(12345);
		RETURN jsonb_build_object('held', h1, 'held2', h2,
			'handler_end', public.lock_probe());
	END $$;
	SELECT inngest.create_function('{"id": "locks", "event": "locks.go", "retries": 0}',
		'b_schema.locks');
	RESET ROLE;
	INSERT INTO inngest.events (name) VALUES ('locks.go');
});

ok( $node->poll_query_until(
		'postgres',
		q{SELECT status FROM inngest.runs WHERE function_id = 'locks'},
		'completed'),
	'c: the run that unlocks all advisory locks completes');

is( $node->safe_psql(
		'postgres', q{
		SELECT o -> 'handler_end' ->> 'driver', o -> 'handler_end' ->> 'k12345',
			o -> 'held' ->> 'driver', o -> 'held' ->> 'mine', o -> 'held' ->> 'k12345',
			o -> 'held2' ->> 'driver', o -> 'held2' ->> 'mine'
		FROM (SELECT output AS o FROM inngest.runs WHERE function_id = 'locks') x}),
	'0|1|1|1|1|1|1',
	'c: the handler did release the driver lock, yet each next step holds it (and the lock 12345)'
);

my $lock_pid = $node->safe_psql('postgres',
	q{SELECT output -> 'held' ->> 'pid' FROM inngest.runs WHERE function_id = 'locks'});
is( $node->safe_psql(
		'postgres', qq{
		SELECT (SELECT count(*) FROM pg_stat_activity WHERE pid = $lock_pid),
			(SELECT count(*) FROM pg_locks
			 WHERE locktype = 'advisory' AND objsubid = 1
			   AND classid = 0 AND objid = 12345)}),
	'1|0',
	'c: the worker lives on, and no longer holds the lock 12345 the handler left');

is( $node->safe_psql(
		'postgres', q{
		SELECT count(*) FROM pg_locks l JOIN inngest.runs r
			ON ((l.classid::int8 << 32) | l.objid::int8) = r.id
		WHERE l.locktype = 'advisory' AND l.objsubid = 18759
		  AND r.status IN ('completed', 'failed')}),
	'0',
	'c: no driver lock of an ended run is left');

# ----------------------------------------------------------------------
# d) a PREPARE in a step, then another run in the same worker session.
# User code runs as a security-restricted operation, where PostgreSQL
# refuses PREPARE: the step fails (and so does its run, retries 0), and the
# next run's step finds no statement "leak" either.
# ----------------------------------------------------------------------
$node->safe_psql(
	'postgres', q{
	SET ROLE regress_tenant_a;
	SET search_path = a_schema, public;
	CREATE FUNCTION a_schema.prep(event jsonb) RETURNS jsonb
	LANGUAGE plpgsql AS $$
	BEGIN
		RETURN jsonb_build_object(
			'seen', inngest.step_run('seen',
				'SELECT jsonb_build_object(''leak'', count(*), ''pid'', pg_backend_pid())
				 FROM pg_prepared_statements WHERE name = ''leak'''),
			'made', inngest.step_run('make',
				'PREPARE leak AS SELECT 1;
				 SELECT count(*) FROM pg_prepared_statements WHERE name = ''leak'''));
	END $$;
	SELECT inngest.create_function('{"id": "prep", "event": "prep.go", "retries": 0}',
		'a_schema.prep');
	RESET ROLE;
});

my %prep;
for my $n (1, 2)
{
	$node->safe_psql('postgres',
		qq{INSERT INTO inngest.events (name, data) VALUES ('prep.go', '{"n": $n}')});
	ok( $node->poll_query_until(
			'postgres', qq{
			SELECT status IN ('completed', 'failed') FROM inngest.runs
			WHERE function_id = 'prep' AND event #>> '{data,n}' = '$n'}),
		"d: prepare run $n ends");
	$prep{$n} = $node->safe_psql(
		'postgres', qq{
		SELECT r.status, s.output ->> 'leak', s.output ->> 'pid',
			r.error ->> 'sqlstate', r.error ->> 'message'
		FROM inngest.runs r JOIN inngest.steps s ON s.run_id = r.id AND s.step_id = 'seen'
		WHERE r.function_id = 'prep' AND r.event #>> '{data,n}' = '$n'});
}
my @prep1 = split /\|/, $prep{1}, 5;
my @prep2 = split /\|/, $prep{2}, 5;
is("$prep1[0] $prep1[1] $prep1[3]", 'failed 0 42501',
	'd: run 1 found no statement "leak", and its PREPARE step failed (42501)');
like($prep1[4], qr/^cannot execute PREPARE within security-restricted operation$/,
	'd: ... PREPARE is refused inside a step');
is($prep2[2], $prep1[2], 'd: run 2 ran in the same worker session as run 1');
is($prep2[1], '0', 'd: run 2 found no statement "leak" either');

# ----------------------------------------------------------------------
# e) B is not granted SET on inngest.fake_now
# ----------------------------------------------------------------------
$node->safe_psql(
	'postgres', qq{
	SET ROLE regress_tenant_b;
	SET search_path = b_schema, public;
	CREATE FUNCTION b_schema.clock(event jsonb) RETURNS jsonb
	LANGUAGE plpgsql AS \$\$
	BEGIN
		RETURN inngest.step_run('set',
			'SELECT set_config(''inngest.fake_now'', ''$fake'', false)');
	END \$\$;
	SELECT inngest.create_function('{"id": "b-clock", "event": "clock.go", "retries": 0}',
		'b_schema.clock');
	RESET ROLE;
	INSERT INTO inngest.events (name) VALUES ('clock.go');
});

ok( $node->poll_query_until(
		'postgres',
		q{SELECT status FROM inngest.runs WHERE function_id = 'b-clock'},
		'failed'),
	'e: the run of B that sets inngest.fake_now fails');
like(
	$node->safe_psql(
		'postgres',
		q{SELECT error ->> 'message' FROM inngest.runs WHERE function_id = 'b-clock'}),
	qr/permission denied to set parameter "inngest\.fake_now"/,
	'e: ... because B may not set inngest.fake_now');

$node->stop;
done_testing();
