/*
 * bench_flow.c: benchmark of concurrency keys (a program that prints
 * numbers; it is not a test and asserts no timing).
 *
 *   bench_flow [-d conninfo] [-n events] [-r rounds] [-k keys]
 *              [-q queued] [-l latency events] [-i interval ms]
 *
 * 1. Throughput, keyed against unkeyed, in the same run: -r rounds, each
 *    one of -n events for a one-step function without concurrency limits,
 *    then -n events for the same function with "concurrency": {"limit": 1,
 *    "key": "event.data.k"} over -k distinct keys.  Events are inserted by
 *    one INSERT ... SELECT; runs/s to completion (polled every 10 ms).
 *    Prints each round, the means, and keyed / unkeyed.
 * 2. Start latency of runs of other keys while one key is busy: a
 *    function with a limit of 1 per key whose step records when it
 *    started.  (a) Baseline: -l events of distinct keys, one per
 *    transaction, -i ms apart; latency = step start - event insert.
 *    (b) One busy key: its first run's step waits on an advisory lock
 *    this program holds, so the key's slot stays taken; -q more events of
 *    that key are queued behind it (the time to set them all aside is
 *    printed); then (a) again, with the queue in place.  Prints p50, p99
 *    and max of both.  Finally the lock is released and the busy key's
 *    queue drains (runs/s printed), and every run is checked to have
 *    completed once (FAIL line, exit status 1, otherwise).
 *
 * The database must have CREATE EXTENSION inngest_pg and background
 * workers; use a throwaway database (scripts/bench_flow.sh).
 */
#define _GNU_SOURCE

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#define BENCH_LABEL_WIDTH 44
#include "bench_util.h"

static long n_events = 20000;
static int	n_rounds = 2;
static int	n_keys = 1000;
static long n_queued = 100000;
static int	n_latency = 1000;
static int	interval_ms = 2;

static void
setup(PGconn *conn)
{
	exec_ok(conn, "DROP SCHEMA IF EXISTS bench CASCADE");
	exec_ok(conn, "CREATE SCHEMA bench");
	exec_ok(conn, "CREATE UNLOGGED TABLE bench.sink (k int)");
	exec_ok(conn,
			"CREATE FUNCTION bench.one(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$ "
			"BEGIN "
			"  PERFORM inngest.step_run('write', 'INSERT INTO bench.sink VALUES ($1)', "
			"                           (event #>> '{data,k}')::int); "
			"  RETURN NULL; "
			"END $$");
	exec_ok(conn,
			"SELECT inngest.create_function('{\"id\": \"unkeyed\", \"event\": \"bench.unkeyed\"}', "
			"'bench.one')");
	exec_ok(conn,
			"SELECT inngest.create_function('{\"id\": \"keyed\", \"event\": \"bench.keyed\", "
			"\"concurrency\": {\"limit\": 1, \"key\": \"event.data.k\"}}', 'bench.one')");

	exec_ok(conn, "CREATE TABLE bench.lat (k text, sent timestamptz, started timestamptz)");
	exec_ok(conn,
			"CREATE FUNCTION bench.lat_step(k text, sent timestamptz) RETURNS int "
			"LANGUAGE plpgsql AS $$ "
			"BEGIN "
			"  INSERT INTO bench.lat VALUES (k, sent, clock_timestamp()); "
			"  IF k = 'busy' THEN PERFORM pg_advisory_xact_lock(4242); END IF; "
			"  RETURN 1; "
			"END $$");
	exec_ok(conn,
			"CREATE FUNCTION bench.latency(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$ "
			"BEGIN "
			"  PERFORM inngest.step_run('start', 'SELECT bench.lat_step($1, $2)', "
			"                           event #>> '{data,k}', (event #>> '{data,sent}')::timestamptz); "
			"  RETURN NULL; "
			"END $$");
	exec_ok(conn,
			"SELECT inngest.create_function('{\"id\": \"latency\", \"event\": \"bench.latency\", "
			"\"concurrency\": {\"limit\": 1, \"key\": \"event.data.k\"}}', 'bench.latency')");
}

/* Wait until the function has count ended runs; seconds taken */
static double
wait_ended(PGconn *conn, const char *function_id, long count, double t0)
{
	char		sql[256];

	snprintf(sql, sizeof(sql),
			 "SELECT count(*) FROM inngest.runs WHERE function_id = '%s' "
			 "AND status IN ('completed', 'failed')", function_id);
	for (;;)
	{
		if (query_ll(conn, sql) >= count)
			return now_s() - t0;
		if (now_s() - t0 > 600)
			fail("runs of %s did not end within 10 minutes", function_id);
		sleep_s(0.010);
	}
}

static double
throughput_round(PGconn *conn, const char *function_id, const char *event)
{
	char		sql[512];
	double		t0;
	double		secs;

	exec_ok(conn, "TRUNCATE inngest.runs, inngest.steps, inngest.events, bench.sink");
	exec_ok(conn, "CHECKPOINT");
	snprintf(sql, sizeof(sql),
			 "INSERT INTO inngest.events (name, data) "
			 "SELECT '%s', jsonb_build_object('k', i %% %d) FROM generate_series(1, %ld) i",
			 event, n_keys, n_events);
	t0 = now_s();
	exec_ok(conn, sql);
	secs = wait_ended(conn, function_id, n_events, t0);
	if (query_ll(conn, "SELECT count(*) FROM bench.sink") != n_events)
		fail("%s: bench.sink does not have one row per event", function_id);
	return n_events / secs;
}

/* Send n latency events of distinct keys, interval_ms apart */
static void
send_latency_events(PGconn *conn, const char *prefix, int n)
{
	int			i;

	for (i = 0; i < n; i++)
	{
		char		sql[256];

		snprintf(sql, sizeof(sql),
				 "INSERT INTO inngest.events (name, data) VALUES ('bench.latency', "
				 "jsonb_build_object('k', '%s-%d', 'sent', clock_timestamp()))", prefix, i);
		exec_ok(conn, sql);
		sleep_s(interval_ms / 1000.0);
	}
}

static void
report_latency(PGconn *conn, const char *prefix, const char *label)
{
	char		sql[512];
	PGresult   *res;
	char		name[64];

	snprintf(sql, sizeof(sql),
			 "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY d), "
			 "percentile_cont(0.99) WITHIN GROUP (ORDER BY d), max(d), count(*) FROM "
			 "(SELECT extract(epoch FROM started - sent) * 1000 AS d FROM bench.lat "
			 " WHERE k LIKE '%s-%%') x", prefix);
	res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fail("%s", PQerrorMessage(conn));
	snprintf(name, sizeof(name), "%s p50", label);
	out(name, "ms", "%.2f", atof(PQgetvalue(res, 0, 0)));
	snprintf(name, sizeof(name), "%s p99", label);
	out(name, "ms", "%.2f", atof(PQgetvalue(res, 0, 1)));
	snprintf(name, sizeof(name), "%s max", label);
	out(name, "ms", "%.2f", atof(PQgetvalue(res, 0, 2)));
	PQclear(res);
}

static void
wait_latency_runs(PGconn *conn, const char *prefix, int n)
{
	char		sql[256];
	double		t0 = now_s();

	snprintf(sql, sizeof(sql),
			 "SELECT count(*) FROM bench.lat WHERE k LIKE '%s-%%'", prefix);
	while (query_ll(conn, sql) < n)
	{
		if (now_s() - t0 > 120)
			fail("latency runs (%s) did not start within 2 minutes", prefix);
		sleep_s(0.010);
	}
}

int
main(int argc, char **argv)
{
	PGconn	   *conn;
	PGconn	   *holder;
	int			opt;
	int			r;
	double		sum_unkeyed = 0;
	double		sum_keyed = 0;
	double		t0;
	char		sql[512];

	while ((opt = getopt(argc, argv, "d:n:r:k:q:l:i:")) != -1)
	{
		switch (opt)
		{
			case 'd':
				conninfo = optarg;
				break;
			case 'n':
				n_events = parse_long(optarg, 'n', 1);
				break;
			case 'r':
				n_rounds = (int) parse_long(optarg, 'r', 1);
				break;
			case 'k':
				n_keys = (int) parse_long(optarg, 'k', 1);
				break;
			case 'q':
				n_queued = parse_long(optarg, 'q', 0);
				break;
			case 'l':
				n_latency = (int) parse_long(optarg, 'l', 1);
				break;
			case 'i':
				interval_ms = (int) parse_long(optarg, 'i', 0);
				break;
			default:
				fprintf(stderr, "usage: %s [-d conninfo] [-n events] [-r rounds] [-k keys] "
						"[-q queued] [-l latency events] [-i interval ms]\n", argv[0]);
				return 2;
		}
	}

	conn = connect_db();
	holder = connect_db();
	setup(conn);

	section("throughput: one-step runs, unkeyed vs a concurrency key (limit 1)");
	out("events per round", "", "%ld", n_events);
	out("distinct keys", "", "%d", n_keys);
	for (r = 1; r <= n_rounds; r++)
	{
		double		unkeyed = throughput_round(conn, "unkeyed", "bench.unkeyed");
		double		keyed = throughput_round(conn, "keyed", "bench.keyed");
		char		name[64];

		snprintf(name, sizeof(name), "round %d unkeyed", r);
		out(name, "runs/s", "%.0f", unkeyed);
		snprintf(name, sizeof(name), "round %d keyed", r);
		out(name, "runs/s", "%.0f", keyed);
		sum_unkeyed += unkeyed;
		sum_keyed += keyed;
	}
	out("mean unkeyed", "runs/s", "%.0f", sum_unkeyed / n_rounds);
	out("mean keyed", "runs/s", "%.0f", sum_keyed / n_rounds);
	out("keyed / unkeyed", "", "%.2f", sum_keyed / sum_unkeyed);

	section("start latency of other keys, with and without a busy key's queue");
	exec_ok(conn, "TRUNCATE inngest.runs, inngest.steps, inngest.events, bench.lat");
	out("latency events", "", "%d", n_latency);
	out("interval between events", "ms", "%d", interval_ms);
	send_latency_events(conn, "base", n_latency);
	wait_latency_runs(conn, "base", n_latency);
	report_latency(conn, "base", "no queue: start latency");

	/* the busy key: its first run holds the slot until we let it go */
	exec_ok(holder, "SELECT pg_advisory_lock(4242)");
	exec_ok(conn, "INSERT INTO inngest.events (name, data) VALUES ('bench.latency', "
			"jsonb_build_object('k', 'busy', 'sent', clock_timestamp()))");
	/* its step is inside, waiting for our lock (its insert not committed) */
	while (query_ll(conn, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
					"AND objid = 4242 AND NOT granted") < 1)
		sleep_s(0.005);
	t0 = now_s();
	snprintf(sql, sizeof(sql),
			 "INSERT INTO inngest.events (name, data) "
			 "SELECT 'bench.latency', jsonb_build_object('k', 'busy', 'sent', clock_timestamp()) "
			 "FROM generate_series(1, %ld)", n_queued);
	exec_ok(conn, sql);
	snprintf(sql, sizeof(sql),
			 "SELECT count(*) >= %ld FROM inngest.runs WHERE blocked_on IS NOT NULL", n_queued);
	for (;;)
	{
		char	   *v = query_value(conn, sql);
		bool		done = v && strcmp(v, "t") == 0;

		free(v);
		if (done)
			break;
		if (now_s() - t0 > 600)
			fail("the busy key's runs were not all set aside within 10 minutes");
		sleep_s(0.050);
	}
	out("runs queued behind the busy key", "", "%ld", n_queued);
	out("time to set them aside", "s", "%.2f", now_s() - t0);

	send_latency_events(conn, "busy", n_latency);
	wait_latency_runs(conn, "busy", n_latency);
	report_latency(conn, "busy", "100k queued: start latency");

	/* let the busy key go and drain its queue, one at a time */
	t0 = now_s();
	exec_ok(holder, "SELECT pg_advisory_unlock(4242)");
	wait_ended(conn, "latency", 2L * n_latency + 1 + n_queued, t0);
	out("busy key drained (limit 1)", "runs/s", "%.0f", (n_queued + 1) / (now_s() - t0));
	if (query_ll(conn, "SELECT count(*) FROM bench.lat") != 2L * n_latency + 1 + n_queued)
		fail("a latency run's step did not run exactly once");
	if (query_ll(conn, "SELECT count(*) FROM inngest.runs WHERE status <> 'completed'") != 0)
		fail("some runs did not complete");

	PQfinish(holder);
	PQfinish(conn);
	return 0;
}
