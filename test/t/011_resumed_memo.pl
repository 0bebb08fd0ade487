# 011_resumed_memo.pl: a run that resumes (after a sleep, or a wait for an
# event) with its memo loaded from inngest.steps, and then runs two or more
# steps, so that the executor commits a checkpoint between them: the
# loaded outputs must survive that commit.
#
# They did not: memo_load() copied the outputs into the SPI procedure
# context (where every SPI call returns), which the checkpoint's
# SPI_finish() frees, so the next replay of the handler read freed memory:
# a segfault of the executor (and a reset of the whole server) or a wrong
# step output.  Found by 008_crash_matrix (its retried runs).

use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use InngestNode;
use PostgreSQL::Test::Utils;
use Test::More;

# a crashed executor resets the server and its runs go on: the crash is
# then seen in the log, not as a test that hangs
my $node = InngestNode::start('resumed_memo', conf => 'restart_after_crash = on');

$node->safe_psql(
	'postgres', q{
	CREATE EXTENSION inngest_pg;

	-- a: a long output (1,280 bytes) read back after the resume; b and c:
	-- two steps after it, with a checkpoint between them
	CREATE FUNCTION public.h_nap(event jsonb) RETURNS jsonb
	LANGUAGE plpgsql AS $$
	DECLARE
		k text := event #>> '{data,k}';
		a jsonb; b jsonb; c jsonb;
	BEGIN
		a := inngest.step_run('a', 'SELECT repeat(md5($1), 40)', k);
		PERFORM inngest.step_sleep('nap', '1 second');
		b := inngest.step_run('b', 'SELECT $1 || ''-b''', k);
		c := inngest.step_run('c', 'SELECT $1 || ''-c''', k);
		RETURN jsonb_build_object('a', a, 'b', b, 'c', c);
	END $$;

	CREATE FUNCTION public.h_wait(event jsonb) RETURNS jsonb
	LANGUAGE plpgsql AS $$
	DECLARE
		k text := event #>> '{data,k}';
		a jsonb; w jsonb; b jsonb; c jsonb;
	BEGIN
		a := inngest.step_run('a', 'SELECT repeat(md5($1), 40)', k);
		w := inngest.step_wait_for_event('w', 'memo.go', '1 minute', match => 'data.k');
		b := inngest.step_run('b', 'SELECT $1 || ''-b''', k);
		c := inngest.step_run('c', 'SELECT $1 || ''-c''', k);
		RETURN jsonb_build_object('a', a, 'b', b, 'c', c, 'w', w -> 'data');
	END $$;

	SELECT inngest.create_function('{"id": "nap", "event": "memo.nap"}', 'public.h_nap');
	SELECT inngest.create_function('{"id": "wait", "event": "memo.wait"}', 'public.h_wait');
});

my $log_offset = -s $node->logfile;

$node->safe_psql(
	'postgres', q{
	INSERT INTO inngest.events (name, data)
	SELECT 'memo.nap', jsonb_build_object('k', g::text) FROM generate_series(1, 20) g;
	INSERT INTO inngest.events (name, data)
	SELECT 'memo.wait', jsonb_build_object('k', g::text) FROM generate_series(1, 20) g;
});

ok( $node->poll_query_until(
		'postgres',
		q{SELECT count(*) FROM inngest.runs WHERE function_id = 'wait' AND status = 'waiting'},
		'20'),
	'the 20 runs of "wait" are waiting');
$node->safe_psql(
	'postgres', q{
	INSERT INTO inngest.events (name, data)
	SELECT 'memo.go', jsonb_build_object('k', g::text) FROM generate_series(1, 20) g});

ok( $node->poll_query_until(
		'postgres',
		q{SELECT count(*) FROM inngest.runs
		  WHERE status NOT IN ('queued', 'running', 'sleeping', 'waiting')},
		'40'),
	'all 40 runs end');

is( $node->safe_psql(
		'postgres', q{
		SELECT function_id || ' ' || status || ' ' || count(*)
		FROM inngest.runs
		WHERE output = jsonb_build_object(
				'a', repeat(md5(event #>> '{data,k}'), 40),
				'b', (event #>> '{data,k}') || '-b',
				'c', (event #>> '{data,k}') || '-c')
		   || CASE function_id WHEN 'wait' THEN jsonb_build_object('w',
				jsonb_build_object('k', event #>> '{data,k}')) ELSE '{}' END
		GROUP BY function_id, status ORDER BY function_id}),
	"nap completed 20\nwait completed 20",
	'every run completed with the outputs of its own steps, the loaded one included');

my $log = slurp_file($node->logfile, $log_offset);
unlike($log, qr/terminated by signal/, 'no server process crashed');

$node->stop;
done_testing();
