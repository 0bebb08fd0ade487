# 013_dump_restore.pl: pg_dump of a database that uses the extension, and
# restores into new clusters whose workers are running: every run goes on
# where the dump left it, every step's write exists exactly once.
#
# Cluster A holds functions (two of them with an overloaded handler name,
# one owned by a plain role) and, at the snapshot the dumps are taken from
# (pg_dump --snapshot), runs in every state: completed, sleeping, waiting
# (one of them for an event of a name it was sent before the wait), queued
# and due (one with a step done: its wait was resolved), queued and set
# aside behind a concurrency limit, and running (between two steps).  Both
# workers of A are blocked in steps meanwhile, so nothing moves.
#
#  B: pg_dump's plain output, restored with psql (pg_dump | psql);
#  C: pg_dump -Fc, restored with pg_restore -j 2;
#  D: pg_dump --inserts, loaded by the test in one session in an adverse
#     order (sequence values first, runs before their steps and function
#     definitions, events after functions, triggers and waits), with a
#     pause after the runs during which nothing may move, even with
#     executors polling every 100 ms.
#
# In each: the counts of A's snapshot, the handlers, no run started and no
# wait resolved by a restored event, new events accepted (the identity
# sequences were dumped), every run completed, and each write exactly once.

use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use InngestNode;
use PostgreSQL::Test::Utils;
use Test::More;

my $a = InngestNode::start('a');

$a->safe_psql(
	'postgres', q{
	CREATE EXTENSION inngest_pg;
	CREATE ROLE app;
	-- every step writes one row with its own key; no unique constraint, so
	-- a step done twice shows as two rows
	CREATE TABLE public.sink (k text NOT NULL);
	GRANT INSERT, SELECT ON public.sink TO app;
	GRANT SELECT ON inngest.events TO app;	-- its functions receive events

	-- blocks while the test holds advisory lock 7007, then writes k
	CREATE FUNCTION public.gate_insert(k text) RETURNS text
	LANGUAGE plpgsql AS $$
	BEGIN
		PERFORM pg_advisory_xact_lock_shared(7007);
		INSERT INTO public.sink VALUES (k);
		RETURN k;
	END $$;

	-- "done": one step.  An overload of the same name comes later.
	CREATE FUNCTION public.h_done(event jsonb) RETURNS jsonb
	LANGUAGE plpgsql AS $$
	BEGIN
		RETURN inngest.step_run('a',
			'INSERT INTO public.sink VALUES ($1) RETURNING 1',
			'done:' || (event #>> '{data,n}') || ':a');
	END $$;
	SELECT inngest.create_function('{"id": "done", "event": "test/done"}',
		'public.h_done');
	CREATE FUNCTION public.h_done(event text) RETURNS jsonb
	LANGUAGE sql AS $$ SELECT '"not the handler"'::jsonb $$;

	-- "sleep": a step, 25 seconds of sleep, a step.  Overloaded already
	-- when it is registered, so it is named with its argument types.
	CREATE FUNCTION public.h_sleep(event integer) RETURNS jsonb
	LANGUAGE sql AS $$ SELECT '"not the handler"'::jsonb $$;
	CREATE FUNCTION public.h_sleep(event jsonb) RETURNS jsonb
	LANGUAGE plpgsql AS $$
	DECLARE
		n text := event #>> '{data,n}';
	BEGIN
		PERFORM inngest.step_run('before',
			'INSERT INTO public.sink VALUES ($1)', 'sleep:' || n || ':before');
		PERFORM inngest.step_sleep('nap', '25 seconds');
		PERFORM inngest.step_run('after',
			'INSERT INTO public.sink VALUES ($1)', 'sleep:' || n || ':after');
		RETURN '"slept"';
	END $$;
	SELECT inngest.create_function('{"id": "sleep", "event": "test/sleep"}',
		'public.h_sleep(jsonb)'::regprocedure);

	-- "wait": a step, a wait for test/approve with the same data.k, a step;
	-- its output is the approval's data.note.  Owned by role app.
	CREATE FUNCTION public.h_wait(event jsonb) RETURNS jsonb
	LANGUAGE plpgsql AS $$
	DECLARE
		k text := event #>> '{data,k}';
		approval jsonb;
	BEGIN
		PERFORM inngest.step_run('before',
			'INSERT INTO public.sink VALUES ($1)', 'wait:' || k || ':before');
		approval := inngest.step_wait_for_event('approval', 'test/approve',
			'1 hour', match => 'data.k');
		PERFORM inngest.step_run('after',
			'INSERT INTO public.sink VALUES ($1)', 'wait:' || k || ':after');
		RETURN approval #> '{data,note}';
	END $$;
	SET ROLE app;
	SELECT inngest.create_function('{"id": "wait", "event": "test/wait"}',
		'public.h_wait');
	RESET ROLE;

	-- "queue": one run at a time; its second step passes the gate
	CREATE FUNCTION public.h_queue(event jsonb) RETURNS jsonb
	LANGUAGE plpgsql AS $$
	DECLARE
		n text := event #>> '{data,n}';
	BEGIN
		PERFORM inngest.step_run('s1',
			'INSERT INTO public.sink VALUES ($1)', 'queue:' || n || ':s1');
		PERFORM inngest.step_run('s2', 'SELECT public.gate_insert($1)',
			'queue:' || n || ':s2');
		RETURN '"queued"';
	END $$;
	SELECT inngest.create_function('{"id": "queue", "event": "test/queue",
		"concurrency": {"limit": 1}}', 'public.h_queue');

	-- "held": one step that passes the gate
	CREATE FUNCTION public.h_held(event jsonb) RETURNS jsonb
	LANGUAGE plpgsql AS $$
	BEGIN
		RETURN inngest.step_run('h1', 'SELECT public.gate_insert($1)',
			'held:' || (event #>> '{data,n}') || ':h1');
	END $$;
	SELECT inngest.create_function('{"id": "held", "event": "test/held"}',
		'public.h_held');
});

# ---------------------------------------------------------------------------
# Runs in every state in A
# ---------------------------------------------------------------------------

# An approval for "early" sent before its run waits: it must never count.
$a->safe_psql(
	'postgres', q{
	INSERT INTO inngest.events (name, data) VALUES
		('test/approve', '{"k": "early", "note": "too early"}');
	INSERT INTO inngest.events (name, data)
	SELECT 'test/done', jsonb_build_object('n', g) FROM generate_series(1, 3) g;
	INSERT INTO inngest.events (name, data)
	SELECT 'test/sleep', jsonb_build_object('n', g) FROM generate_series(1, 2) g;
	INSERT INTO inngest.events (name, data)
	SELECT 'test/wait', jsonb_build_object('k', k)
	FROM unnest(ARRAY['early', 'k0', 'k1', 'k2']) k;
});
ok( $a->poll_query_until(
		'postgres', q{
		SELECT (SELECT count(*) FROM inngest.runs
		        WHERE function_id = 'done' AND status = 'completed') = 3
		   AND (SELECT count(*) FROM inngest.runs
		        WHERE function_id = 'sleep' AND status = 'sleeping') = 2
		   AND (SELECT count(*) FROM inngest.runs
		        WHERE function_id = 'wait' AND status = 'waiting') = 4}),
	'A: runs completed, sleeping and waiting');

# Block both workers: the first in the second step of a "queue" run (which
# is then running, its first step committed) while the other two runs of
# the key are set aside; the second in the step of a "held" run, while
# two more "held" runs stay queued.
my $gate = $a->background_psql('postgres');
$gate->query_safe('SELECT pg_advisory_lock(7007)');
$a->safe_psql(
	'postgres', q{
	INSERT INTO inngest.events (name, data)
	SELECT 'test/queue', jsonb_build_object('n', g) FROM generate_series(1, 3) g});
ok( $a->poll_query_until(
		'postgres', q{
		SELECT (SELECT count(*) FROM inngest.runs
		        WHERE function_id = 'queue' AND status = 'running') = 1
		   AND (SELECT count(*) FROM inngest.runs
		        WHERE function_id = 'queue' AND blocked_on IS NOT NULL) = 2}),
	'A: one "queue" run is between its steps, two are set aside');
$a->safe_psql(
	'postgres', q{
	INSERT INTO inngest.events (name, data)
	SELECT 'test/held', jsonb_build_object('n', g) FROM generate_series(1, 3) g});
ok( $a->poll_query_until(
		'postgres', q{
		SELECT count(*) FROM pg_locks
		WHERE locktype = 'advisory' AND objid = 7007 AND NOT granted},
		'2'),
	'A: both workers are blocked in a step');

# k0's approval: its run is due again, with its first step done, but no
# worker is free to drive it.
$a->safe_psql('postgres',
	q{INSERT INTO inngest.events (name, data) VALUES
	  ('test/approve', '{"k": "k0", "note": "from A"}')});

# ---------------------------------------------------------------------------
# The dumps, all of one snapshot, and what it holds
# ---------------------------------------------------------------------------

my $snap = $a->background_psql('postgres');
$snap->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
my $snapshot = $snap->query_safe('SELECT pg_export_snapshot()');

# "function:status:count" of the runs of the snapshot
my $states = $snap->query_safe(
	q{SELECT string_agg(function_id || ':' || status || ':' || n, ','
	                    ORDER BY function_id, status)
	  FROM (SELECT function_id, status, count(*) AS n
	        FROM inngest.runs GROUP BY 1, 2) s});
is( $states,
	'done:completed:3,held:queued:3,queue:queued:2,queue:running:1,'
	  . 'sleep:sleeping:2,wait:queued:1,wait:waiting:3',
	'A: the snapshot has runs completed, queued, running, sleeping, waiting');

my ($nfunctions, $ntriggers, $nevents, $maxseq, $nruns, $maxid, $nwaits,
	$nsink)
  = split /\|/, $snap->query_safe(
	q{SELECT (SELECT count(*) FROM inngest.functions),
	         (SELECT count(*) FROM inngest.triggers),
	         (SELECT count(*) FROM inngest.events),
	         (SELECT max(seq) FROM inngest.events),
	         (SELECT count(*) FROM inngest.runs),
	         (SELECT max(id) FROM inngest.runs),
	         (SELECT count(*) FROM inngest.waits),
	         (SELECT count(*) FROM public.sink)});
# every run with its status, and every completed step
my $run_states = $snap->query_safe(
	q{SELECT string_agg(id || ':' || status, ',' ORDER BY id) FROM inngest.runs});
my $done_steps = $snap->query_safe(
	q{SELECT string_agg(run_id || ':' || step_id, ',' ORDER BY run_id, step_id)
	  FROM inngest.steps WHERE status = 'completed'});
my $ndone_steps = scalar(split /,/, $done_steps);
my $sink_keys = $snap->query_safe(
	q{SELECT string_agg(k, ',' ORDER BY k) FROM public.sink});
note "A's snapshot: $nfunctions functions, $ntriggers triggers, $nevents "
  . "events (up to seq $maxseq), $nruns runs (up to id $maxid), $nwaits "
  . "waits, $ndone_steps completed steps, $nsink written rows";

my $plain = $a->basedir . '/plain.sql';
my $custom = $a->basedir . '/custom.dump';
my $inserts = $a->basedir . '/inserts.sql';
$a->command_ok(
	[ 'pg_dump', "--snapshot=$snapshot", '-d', $a->connstr('postgres'),
		'-f', $plain ],
	'pg_dump, plain');
$a->command_ok(
	[ 'pg_dump', "--snapshot=$snapshot", '-Fc', '-d', $a->connstr('postgres'),
		'-f', $custom ],
	'pg_dump -Fc');
$a->command_ok(
	[ 'pg_dump', "--snapshot=$snapshot", '--inserts', '-d',
		$a->connstr('postgres'), '-f', $inserts ],
	'pg_dump --inserts');
$snap->query_safe('COMMIT');
$snap->quit;

my $dump = slurp_file($plain);
like($dump, qr/^SET check_function_bodies = false;$/m,
	'the dump sets check_function_bodies to false, as restore.c expects');
for my $seq ('events_seq_seq', 'runs_id_seq', 'waits_id_seq',
	'wait_hits_id_seq')
{
	like($dump, qr/^SELECT pg_catalog\.setval\('inngest\.$seq', \d+, (true|false)\);$/m,
		"the dump sets the value of inngest.$seq");
}
like($dump, qr/^SELECT pg_catalog\.setval\('inngest\.events_seq_seq', $maxseq, true\);$/m,
	'the events sequence is dumped at the last seq of the snapshot');
like($dump, qr/\tpublic\.h_done\(jsonb\)\t/,
	'the handler is dumped with its argument types');

$gate->query_safe('SELECT pg_advisory_unlock(7007)');
$gate->quit;
$a->stop;

# ---------------------------------------------------------------------------
# Restores
# ---------------------------------------------------------------------------

my $b = InngestNode::start('b');
my $c = InngestNode::start('c');
my $d = InngestNode::start('d', conf => "inngest.idle_timeout = '100ms'");
$_->safe_psql('postgres', 'CREATE ROLE app') for ($b, $c, $d);

# B: pg_dump | psql
$b->command_ok(
	[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $b->connstr('postgres'),
		'-f', $plain ],
	'B: the plain dump restores with psql');

# C: pg_restore, two jobs
$c->command_ok(
	[ 'pg_restore', '-e', '-j', '2', '-d', $c->connstr('postgres'), $custom ],
	'C: the custom dump restores with pg_restore -j 2');

# D: the --inserts dump, statement group by group, in an adverse order
my (@pre, @post, @setvals, %rows);
my $in_data = 0;
for my $line (split /\n/, slurp_file($inserts))
{
	next if $line =~ /^\\(un)?restrict /;	# psql meta-commands
	if ($line =~ /^INSERT INTO (\S+) /)
	{
		push @{ $rows{$1} }, $line;
		$in_data = 1;
	}
	elsif ($line =~ /^SELECT pg_catalog\.setval\(/)
	{
		push @setvals, $line;
	}
	elsif ($in_data)
	{
		push @post, $line;
	}
	else
	{
		push @pre, $line;
	}
}
my $loader = $d->background_psql('postgres');
my $load = sub {
	my @tables = @_;
	$loader->query_safe(join("\n", map { @{ $rows{$_} // [] } } @tables))
	  if grep { $rows{$_} } @tables;
};
$loader->query_safe(join("\n", @pre));
$loader->query_safe(join("\n", @setvals));
$load->('inngest.runs', 'inngest.wait_hits');

# Executors poll every 100 ms: in 2 s they would have driven the due runs,
# requeued nothing and failed them for lack of a function.
sleep(2);
is( $d->safe_psql(
		'postgres',
		q{SELECT string_agg(id || ':' || status, ',' ORDER BY id) FROM inngest.runs}
	),
	$run_states,
	'D: while the dump is loading, no run moves (memo, functions not there yet)');
is($d->safe_psql('postgres', 'SELECT count(*) FROM public.sink'),
	'0', 'D: nothing was written meanwhile');
my ($rc, $out, $err) = $d->psql('postgres', 'SELECT inngest.tick()');
is($out, '0', 'D: inngest.tick() in another session drives nothing meanwhile');
like($err, qr/a dump is being restored into this database/,
	'D: and says why');
ok($d->log_contains(qr/holds its runs while a dump is being restored/),
	'D: the launcher logs that it holds the runs');

$load->('inngest.steps', 'inngest.functions', 'inngest.triggers',
	'inngest.schedules', 'inngest.waits', 'inngest.wait_keys',
	'inngest.idempotency_keys', 'inngest.flow_state', 'inngest.event_ids',
	'inngest.events', 'public.sink');
$loader->query_safe(join("\n", @post));
$loader->quit;
pass('D: the --inserts dump loaded in an adverse order');

# ---------------------------------------------------------------------------
# Checks, the same for every restored cluster
# ---------------------------------------------------------------------------

my @expected_keys = sort(
	(map { "done:$_:a" } 1 .. 3, 101, 102),
	(map { ("sleep:$_:before", "sleep:$_:after") } 1 .. 2),
	(map { ("wait:$_:before", "wait:$_:after") } qw(early k0 k1 k2 k3)),
	(map { ("queue:$_:s1", "queue:$_:s2") } 1 .. 3),
	(map { "held:$_:h1" } 1 .. 3));

# What must hold as soon as a restore has finished, before anything new
sub check_restored
{
	my ($node) = @_;
	my $name = uc($node->name);

	is( $node->safe_psql(
			'postgres', qq{
			SELECT (SELECT count(*) FROM inngest.functions) || '|' ||
			       (SELECT count(*) FROM inngest.triggers) || '|' ||
			       (SELECT count(*) FROM inngest.events WHERE seq <= $maxseq) || '|' ||
			       (SELECT count(*) FROM inngest.runs WHERE id <= $maxid) || '|' ||
			       (SELECT count(*) FROM inngest.runs WHERE id > $maxid)}),
		"$nfunctions|$ntriggers|$nevents|$nruns|0",
		"$name: A's functions, triggers, events and runs, and no run more");
	is( $node->safe_psql(
			'postgres', qq{
			SELECT count(*) FROM inngest.steps WHERE status = 'completed'
			  AND run_id || ':' || step_id = ANY (string_to_array('$done_steps', ','))}),
		$ndone_steps,
		"$name: every step completed in A is there, completed");
	is( $node->safe_psql(
			'postgres', qq{
			SELECT count(*) FROM public.sink
			WHERE k = ANY (string_to_array('$sink_keys', ','))}),
		$nsink,
		"$name: A's writes are there");
	is( $node->safe_psql(
			'postgres', q{
			SELECT string_agg(id || '=' || handler::text, ',' ORDER BY id)
			FROM inngest.functions WHERE id IN ('done', 'sleep')}),
		'done=h_done(jsonb),sleep=h_sleep(jsonb)',
		"$name: the overloaded handlers are the jsonb ones");
	is( $node->safe_psql(
			'postgres', q{SELECT owner FROM inngest.functions WHERE id = 'wait'}),
		'app', "$name: the function owned by app still is");
	is( $node->safe_psql(
			'postgres', q{
			SELECT string_agg(event #>> '{data,k}', ',' ORDER BY event #>> '{data,k}')
			FROM inngest.runs WHERE function_id = 'wait' AND status = 'waiting'}),
		'early,k1,k2',
		"$name: the waits are still waiting (no restored event resolved one)");
}

# New events: accepted, with seqs after A's; new runs and waits.
sub send_new_events
{
	my ($node) = @_;
	my $name = uc($node->name);

	my ($rc, $out, $err) = $node->psql(
		'postgres', q{
		INSERT INTO inngest.events (name, data) VALUES
			('test/done', '{"n": 101}'), ('test/done', '{"n": 102}'),
			('test/wait', '{"k": "k3"}'),
			('test/approve', '{"k": "early", "note": "late"}'),
			('test/approve', '{"k": "k1", "note": "late"}'),
			('test/approve', '{"k": "k2", "note": "late"}')
		RETURNING seq});
	is($rc, 0, "$name: new events are accepted (no events_pkey clash)");
	is( $node->safe_psql('postgres',
			"SELECT count(*) FROM inngest.events WHERE seq > $maxseq AND name <> 'inngest/function.finished'"),
		'6', "$name: with seqs after A's");
}

# Once k3 waits, its approval
sub approve_k3
{
	my ($node) = @_;
	my $name = uc($node->name);

	ok( $node->poll_query_until(
			'postgres', q{
			SELECT status FROM inngest.runs
			WHERE function_id = 'wait' AND event #>> '{data,k}' = 'k3'},
			'waiting'),
		"$name: a run started after the restore waits");
	$node->safe_psql('postgres',
		q{INSERT INTO inngest.events (name, data) VALUES
		  ('test/approve', '{"k": "k3", "note": "late"}')});
}

# When everything has completed
sub check_completed
{
	my ($node) = @_;
	my $name = uc($node->name);

	ok( $node->poll_query_until(
			'postgres', q{
			SELECT count(*) FROM inngest.runs WHERE status <> 'completed'},
			'0'),
		"$name: every run completes");
	is($node->safe_psql('postgres', 'SELECT count(*) FROM inngest.runs'),
		$nruns + 3, "$name: A's runs and the 3 new ones, none twice");
	is( $node->safe_psql(
			'postgres', q{
			SELECT count(*) FROM (SELECT function_id, event ->> 'id'
			FROM inngest.runs GROUP BY 1, 2 HAVING count(*) > 1) twice}),
		'0', "$name: no event started two runs of a function");
	is( $node->safe_psql(
			'postgres', q{
			SELECT count(*) FROM (SELECT k FROM public.sink
			GROUP BY k HAVING count(*) > 1) twice}),
		'0', "$name: no step wrote twice");
	is( $node->safe_psql(
			'postgres', q{SELECT string_agg(k, ',' ORDER BY k) FROM public.sink}),
		join(',', @expected_keys),
		"$name: every step of every run wrote exactly once");
	is( $node->safe_psql(
			'postgres', q{
			SELECT string_agg(event #>> '{data,k}' || '=' || output::text, ','
			                  ORDER BY event #>> '{data,k}')
			FROM inngest.runs WHERE function_id = 'wait'}),
		'early="late",k0="from A",k1="late",k2="late",k3="late"',
		"$name: each wait was resolved by its own approval, never the early one");
	is( $node->safe_psql(
			'postgres', q{
			SELECT count(*) FROM inngest.steps WHERE status IN ('failed', 'retrying')}),
		'0', "$name: no step failed");
	ok( $node->log_contains(
			qr/1 run\(s\) that were running when the dump was taken were requeued/),
		"$name: the launcher requeued the run that was running");
}

for my $node ($b, $c, $d)
{
	check_restored($node);
	send_new_events($node);
}
approve_k3($_) for ($b, $c, $d);
check_completed($_) for ($b, $c, $d);

$_->stop for ($b, $c, $d);

done_testing();
