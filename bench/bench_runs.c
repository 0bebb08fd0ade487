/*
 * bench_runs.c: throughput benchmark for inngest_pg (a program that prints
 * numbers; it is not a test and asserts no timing).
 *
 *   bench_runs [-d conninfo] [-n events] [-r rounds] [-c clients] [-t secs]
 *              [-m clients] [-B] [-P]
 *
 * 1. Baseline: the plain commit rate of this machine.  -c connections each
 *    run single-row autocommit INSERTs into bench_baseline for -t seconds.
 *    Prints commits/s and WAL bytes per commit.  Measured before and again
 *    after the runs (a VM disk's fsync rate drifts); ratios in the summary
 *    use the mean.
 * 2. One-step runs (-r rounds, -n events each): a PL/pgSQL handler whose one
 *    step inserts a row into bench.sink.  All events are inserted by one
 *    INSERT ... SELECT; the program then polls until every run has ended and
 *    prints events/s ingested, runs/s to completion, WAL bytes per run and
 *    the ratio to the baseline.  It verifies that bench.sink got exactly one
 *    row per event and that no run failed (FAIL line, exit status 1).
 * 3. With -m K: K connections insert events one per transaction for -t
 *    seconds while the workers drain; prints events/s accepted and runs/s
 *    completed, then waits for the backlog and verifies as in 2.
 *
 * Completion is polled every 10 ms.  The exact test is a count(*) of this
 * function's completed/failed runs, a scan of inngest.runs that would steal
 * CPU from the workers if run every 10 ms; so by default each poll first
 * probes the runs_due partial index (is any run still runnable?) and counts
 * only when none is (and at least once a second).  -P counts every time.
 *
 * The database must have CREATE EXTENSION inngest_pg and background workers
 * (shared_preload_libraries = 'inngest_pg', inngest.database naming it).
 * Each round TRUNCATEs inngest.runs, inngest.steps, inngest.events,
 * inngest.event_ids and bench.sink: use a throwaway database.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#define BENCH_LABEL_WIDTH 34
#include "bench_util.h"

#define POLL_INTERVAL_NS	(10 * 1000 * 1000L)		/* 10 ms */
#define DRAIN_TIMEOUT_S		600.0					/* 10 minutes */
#define FUNCTION_ID			"bench-one-step"
#define EVENT_NAME			"bench.one"

static long		n_events = 20000;
static int		n_rounds = 1;
static int		n_clients = 1;
static int		n_seconds = 5;
static int		n_multi = 0;
static bool		skip_baseline = false;
static bool		exact_polling = false;

static double	baseline_rate = 0.0;	/* commits/s, 0 if not measured */
static double	baseline_before = 0.0;
static double	baseline_after = 0.0;
static double	baseline_wal = 0.0;		/* WAL bytes per baseline commit */
static double	one_step_wal_sum = 0.0; /* WAL bytes per run, summed over rounds */

/* ------------------------------------------------------------------------ */
/* helpers                                                                   */
/* ------------------------------------------------------------------------ */


/* The current WAL insert position, as text ("0/1A2B3C"). */
static char *
wal_lsn(PGconn *conn)
{
	return query_value(conn, "SELECT pg_catalog.pg_current_wal_lsn()");
}

static double
wal_bytes_since(PGconn *conn, const char *lsn0)
{
	const char *params[1] = {lsn0};
	PGresult   *res;
	double		d;

	res = PQexecParams(conn,
					   "SELECT pg_catalog.pg_wal_lsn_diff("
					   "pg_catalog.pg_current_wal_lsn(), $1::pg_lsn)",
					   1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fail("pg_wal_lsn_diff: %s", PQerrorMessage(conn));
	d = strtod(PQgetvalue(res, 0, 0), NULL);
	PQclear(res);
	return d;
}

/* Print the status breakdown of this benchmark's runs (diagnostics). */
static void
print_run_statuses(PGconn *conn)
{
	PGresult   *res;

	res = PQexec(conn,
				 "SELECT status, count(*), "
				 "       max(error::text) FILTER (WHERE error IS NOT NULL) "
				 "FROM inngest.runs WHERE function_id = '" FUNCTION_ID "' "
				 "GROUP BY status ORDER BY status");
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		printf("  (could not read run statuses: %s)\n", PQerrorMessage(conn));
		PQclear(res);
		return;
	}
	printf("  runs of %s by status:\n", FUNCTION_ID);
	for (int i = 0; i < PQntuples(res); i++)
		printf("    %-10s %8s%s%s\n", PQgetvalue(res, i, 0),
			   PQgetvalue(res, i, 1),
			   PQgetisnull(res, i, 2) ? "" : "  e.g. error: ",
			   PQgetisnull(res, i, 2) ? "" : PQgetvalue(res, i, 2));
	PQclear(res);
	fflush(stdout);
}

/* ------------------------------------------------------------------------ */
/* 1. baseline                                                               */
/* ------------------------------------------------------------------------ */

typedef struct Inserter
{
	pthread_t	thread;
	int			index;
	PGconn	   *conn;
	const char *sql;			/* single-row INSERT taking one int param $1 */
	long		commits;
	char		error[512];
} Inserter;

static pthread_barrier_t start_barrier;
static volatile int stop_flag;
static long		next_value;		/* shared counter for unique values */

static void *
inserter_main(void *arg)
{
	Inserter   *w = (Inserter *) arg;
	PGresult   *res;

	res = PQprepare(w->conn, "ins", w->sql, 1, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		snprintf(w->error, sizeof(w->error), "prepare: %s",
				 PQerrorMessage(w->conn));
	PQclear(res);

	pthread_barrier_wait(&start_barrier);
	if (w->error[0])
		return NULL;

	while (!__atomic_load_n(&stop_flag, __ATOMIC_RELAXED))
	{
		char		buf[32];
		const char *params[1] = {buf};
		long		v = __atomic_add_fetch(&next_value, 1, __ATOMIC_RELAXED);

		snprintf(buf, sizeof(buf), "%ld", v);
		res = PQexecPrepared(w->conn, "ins", 1, params, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
		{
			snprintf(w->error, sizeof(w->error), "insert: %s",
					 PQerrorMessage(w->conn));
			PQclear(res);
			break;
		}
		PQclear(res);
		w->commits++;
	}
	return NULL;
}

/*
 * Run k inserter threads for secs seconds; returns total commits and the
 * elapsed time (from the release of the threads to the last one's end).
 */
static long
run_inserters(int k, int secs, const char *sql, double *elapsed)
{
	Inserter   *ws = calloc(k, sizeof(Inserter));
	long		total = 0;
	double		t0;

	if (ws == NULL)
		fail("out of memory");
	next_value = 0;
	stop_flag = 0;
	for (int i = 0; i < k; i++)
	{
		ws[i].index = i;
		ws[i].sql = sql;
		ws[i].conn = connect_db();
	}
	pthread_barrier_init(&start_barrier, NULL, k + 1);
	for (int i = 0; i < k; i++)
		if (pthread_create(&ws[i].thread, NULL, inserter_main, &ws[i]) != 0)
			fail("pthread_create failed");

	pthread_barrier_wait(&start_barrier);
	t0 = now_s();
	sleep_s(secs);
	__atomic_store_n(&stop_flag, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < k; i++)
		pthread_join(ws[i].thread, NULL);
	*elapsed = now_s() - t0;
	pthread_barrier_destroy(&start_barrier);

	for (int i = 0; i < k; i++)
	{
		if (ws[i].error[0])
			fail("client %d: %s", i, ws[i].error);
		total += ws[i].commits;
		PQfinish(ws[i].conn);
	}
	free(ws);
	return total;
}

static double
bench_baseline(PGconn *conn, const char *when)
{
	char		title[96];
	char	   *lsn0;
	double		elapsed,
				wal;
	long		commits;

	snprintf(title, sizeof(title),
			 "baseline (%s): single-row INSERT, one transaction each", when);
	section(title);
	exec_ok(conn, "CREATE TABLE IF NOT EXISTS bench_baseline "
			"(id bigserial PRIMARY KEY, v int)");
	exec_ok(conn, "TRUNCATE bench_baseline");
	exec_ok(conn, "CHECKPOINT");

	lsn0 = wal_lsn(conn);
	commits = run_inserters(n_clients, n_seconds,
							"INSERT INTO bench_baseline(v) VALUES ($1)",
							&elapsed);
	wal = wal_bytes_since(conn, lsn0);
	free(lsn0);

	if (commits == 0)
		fail("baseline committed nothing");
	baseline_wal = wal / commits;
	out("clients", "", "%d", n_clients);
	out("duration", "s", "%.2f", elapsed);
	out("commits", "", "%ld", commits);
	out("baseline commit rate", "commits/s", "%.0f", commits / elapsed);
	out("baseline WAL per commit", "bytes", "%.0f", wal / commits);
	return commits / elapsed;
}

/* ------------------------------------------------------------------------ */
/* 2. one-step runs                                                          */
/* ------------------------------------------------------------------------ */

static void
setup_function(PGconn *conn)
{
	exec_ok(conn, "CREATE SCHEMA IF NOT EXISTS bench");
	exec_ok(conn, "CREATE TABLE IF NOT EXISTS bench.sink "
			"(id bigserial, v int)");
	exec_ok(conn,
			"CREATE OR REPLACE FUNCTION bench.one_step(event jsonb) "
			"RETURNS jsonb LANGUAGE plpgsql AS $fn$\n"
			"BEGIN\n"
			"  RETURN inngest.step_run('work',\n"
			"    'INSERT INTO bench.sink(v) VALUES ($1) RETURNING v',\n"
			"    (event #>> '{data,i}')::int);\n"
			"END\n"
			"$fn$");
	exec_ok(conn,
			"SELECT inngest.create_function("
			"'{\"id\":\"" FUNCTION_ID "\",\"triggers\":[{\"event\":\""
			EVENT_NAME "\"}]}', 'bench.one_step')");
}

static void
clean_round(PGconn *conn)
{
	exec_ok(conn, "TRUNCATE inngest.runs, inngest.steps, inngest.events, "
			"inngest.event_ids, bench.sink");
	exec_ok(conn, "CHECKPOINT");
}

typedef struct PollStats
{
	long		cheap_polls;	/* "is any run still runnable?" probes */
	long		exact_polls;	/* count(*) of ended runs */
	double		poll_time;		/* seconds spent inside poll queries */
} PollStats;

static long long
count_done(PGconn *conn, PollStats *ps)
{
	double		t = now_s();
	long long	n;

	n = query_ll(conn,
				 "SELECT count(*) FROM inngest.runs "
				 "WHERE function_id = '" FUNCTION_ID "' "
				 "AND status IN ('completed', 'failed')");
	if (ps)
	{
		ps->exact_polls++;
		ps->poll_time += now_s() - t;
	}
	return n;
}

/*
 * Cheap probe: does any run still have a wake-up time?  Queued, running
 * (lease) and backing-off runs do (see the runs_due index); it reads one
 * entry of that partial index instead of scanning every run, so polling
 * does not steal CPU from the workers.  Only a hint: the exact count decides.
 */
static bool
any_runnable(PGconn *conn, PollStats *ps)
{
	double		t = now_s();
	PGresult   *res;
	bool		r;

	/*
	 * Not EXISTS(): the planner drops ORDER BY/LIMIT there and, with
	 * statistics taken while every run was queued, picks a seq scan.
	 * ORDER BY ... LIMIT 1 is an index scan of runs_due whatever they say.
	 */
	res = PQexec(conn, "SELECT 1 FROM inngest.runs WHERE wake_at IS NOT NULL "
				 "ORDER BY wake_at LIMIT 1");
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fail("probe: %s", PQerrorMessage(conn));
	r = PQntuples(res) > 0;
	PQclear(res);
	ps->cheap_polls++;
	ps->poll_time += now_s() - t;
	return r;
}

/*
 * Poll every 10 ms until `target` runs have ended.  Returns the time at which
 * the poll saw them all, or fails after the timeout.
 *
 * By default each poll first runs the cheap probe and runs the exact count
 * only when no run is runnable any more (and at least once a second, so a
 * probe that never turns false costs at most a second of accuracy).  With
 * -P every poll is the exact count.
 */
static double
wait_done(PGconn *conn, long long target, double t_start, PollStats *ps)
{
	long long	done = 0,
				last = -1;
	double		last_change = now_s(),
				last_exact = 0.0;

	for (;;)
	{
		double		t = now_s();

		if (exact_polling || t - last_exact >= 1.0 ||
			!any_runnable(conn, ps))
		{
			done = count_done(conn, ps);
			last_exact = t;
			t = now_s();
			if (done >= target)
				return t;
			if (done != last)
			{
				last = done;
				last_change = t;
			}
		}
		if (t - t_start > DRAIN_TIMEOUT_S)
		{
			printf("runs ended after %.0f s: %lld of %lld "
				   "(no progress for %.1f s)\n",
				   t - t_start, done, target, t - last_change);
			print_run_statuses(conn);
			fail("timeout: runs did not complete within %.0f s",
				 DRAIN_TIMEOUT_S);
		}
		sleep_s(POLL_INTERVAL_NS / 1e9);
	}
}

/* Exactly one sink row per event, no failed run. */
static void
verify_round(PGconn *conn, long long n)
{
	PGresult   *res;
	long long	rows,
				distinct,
				failed,
				completed;

	res = PQexec(conn, "SELECT count(*), count(DISTINCT v) FROM bench.sink");
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fail("verify: %s", PQerrorMessage(conn));
	rows = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	distinct = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	PQclear(res);

	failed = query_ll(conn, "SELECT count(*) FROM inngest.runs WHERE "
					  "function_id = '" FUNCTION_ID "' AND status = 'failed'");
	completed = query_ll(conn, "SELECT count(*) FROM inngest.runs WHERE "
						 "function_id = '" FUNCTION_ID "' "
						 "AND status = 'completed'");

	if (failed != 0)
	{
		print_run_statuses(conn);
		fail("%lld of %lld runs failed", failed, n);
	}
	if (completed != n)
	{
		print_run_statuses(conn);
		fail("%lld runs completed, expected %lld", completed, n);
	}
	if (rows != n || distinct != n)
		fail("bench.sink has %lld rows (%lld distinct values), expected %lld:"
			 " a step ran %s", rows, distinct, n,
			 rows > n ? "more than once" : "not at all");
	out("verified", "", "%s", "ok");
}

static double
bench_one_step_round(PGconn *conn, int round)
{
	char		title[80];
	char		sql[256];
	char	   *lsn0;
	double		t0,
				t_ins,
				t_done,
				wal;
	long long	created;
	PollStats	ps = {0, 0, 0.0};

	snprintf(title, sizeof(title),
			 "one-step runs, round %d of %d: %ld events, one INSERT ... SELECT",
			 round, n_rounds, n_events);
	section(title);
	clean_round(conn);

	snprintf(sql, sizeof(sql),
			 "INSERT INTO inngest.events(name, data) "
			 "SELECT '" EVENT_NAME "', jsonb_build_object('i', g) "
			 "FROM generate_series(1, %ld) g", n_events);

	lsn0 = wal_lsn(conn);
	t0 = now_s();
	exec_ok(conn, sql);
	t_ins = now_s();
	created = query_ll(conn, "SELECT count(*) FROM inngest.runs "
					   "WHERE function_id = '" FUNCTION_ID "'");
	if (created != n_events)
	{
		print_run_statuses(conn);
		fail("the INSERT of %ld events created %lld runs", n_events, created);
	}
	t_done = wait_done(conn, n_events, t0, &ps);
	wal = wal_bytes_since(conn, lsn0);
	free(lsn0);

	out("insert time", "s", "%.3f", t_ins - t0);
	out("events ingested (incl. run rows)", "events/s", "%.0f",
		n_events / (t_ins - t0));
	out("time to completion", "s", "%.3f", t_done - t0);
	out("one-step runs to completion", "runs/s", "%.0f",
		n_events / (t_done - t0));
	out("WAL per run (all of it)", "bytes", "%.0f", wal / n_events);
	one_step_wal_sum += wal / n_events;
	if (baseline_rate > 0)
		out("ratio to baseline commit rate", "x", "%.3f",
			(n_events / (t_done - t0)) / baseline_rate);
	out("polls (10 ms): probe/exact", "", "%ld/%ld",
		ps.cheap_polls, ps.exact_polls);
	out("time inside poll queries", "ms", "%.0f", ps.poll_time * 1000.0);
	verify_round(conn, n_events);
	return n_events / (t_done - t0);
}

/* ------------------------------------------------------------------------ */
/* 3. multi-client event inserts                                             */
/* ------------------------------------------------------------------------ */

static void
bench_multi(PGconn *conn, double *events_rate, double *runs_rate)
{
	char		title[96];
	char	   *lsn0;
	long		events;
	double		elapsed,
				t0,
				t_ins_end,
				t_done,
				wal;
	long long	done_at_end;
	PGresult   *res;
	PollStats	ps = {0, 0, 0.0};

	snprintf(title, sizeof(title),
			 "multi-client events: %d clients, one event per transaction, "
			 "%d s", n_multi, n_seconds);
	section(title);
	clean_round(conn);

	lsn0 = wal_lsn(conn);
	t0 = now_s();
	events = run_inserters(n_multi, n_seconds,
						   "INSERT INTO inngest.events(name, data) VALUES "
						   "('" EVENT_NAME "', "
						   "jsonb_build_object('i', $1::int))",
						   &elapsed);
	t_ins_end = now_s();
	done_at_end = count_done(conn, NULL);
	t_done = wait_done(conn, events, t0, &ps);
	wal = wal_bytes_since(conn, lsn0);
	free(lsn0);

	*events_rate = events / elapsed;
	*runs_rate = events / (t_done - t0);
	out("events accepted", "", "%ld", events);
	out("events accepted", "events/s", "%.0f", *events_rate);
	out("runs completed while inserting", "runs/s", "%.0f",
		done_at_end / (t_ins_end - t0));
	out("backlog when inserts stopped", "runs", "%lld",
		events - done_at_end);
	out("drain time after inserts stopped", "s", "%.3f", t_done - t_ins_end);
	out("runs to completion (overall)", "runs/s", "%.0f", *runs_rate);
	out("WAL per run (all of it)", "bytes", "%.0f",
		events ? wal / events : 0.0);
	out("polls (10 ms): probe/exact", "", "%ld/%ld",
		ps.cheap_polls, ps.exact_polls);

	/* latency from run creation to its end, as recorded by the engine */
	res = PQexec(conn,
				 "SELECT percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP "
				 "(ORDER BY extract(epoch FROM ended_at - created_at)) "
				 "FROM inngest.runs WHERE function_id = '" FUNCTION_ID "'");
	if (PQresultStatus(res) == PGRES_TUPLES_OK && !PQgetisnull(res, 0, 0))
	{
		double		p50,
					p99;

		if (sscanf(PQgetvalue(res, 0, 0), "{%lf,%lf}", &p50, &p99) == 2)
		{
			out("run latency p50 (created->ended)", "ms", "%.1f", p50 * 1e3);
			out("run latency p99 (created->ended)", "ms", "%.1f", p99 * 1e3);
		}
	}
	PQclear(res);
	verify_round(conn, events);
}

/* ------------------------------------------------------------------------ */

static void
usage(const char *prog)
{
	fprintf(stderr,
			"usage: %s [-d conninfo] [-n events] [-r rounds] [-c clients] "
			"[-t seconds] [-m clients] [-B] [-P]\n"
			"  -d  libpq connection string (default \"dbname=postgres\")\n"
			"  -n  events per one-step round, 0 skips it (default 20000)\n"
			"  -r  one-step rounds (default 1)\n"
			"  -c  baseline client connections (default 1)\n"
			"  -t  seconds for the baseline and -m (default 5)\n"
			"  -m  also run the multi-client event insert mode with K clients\n"
			"  -B  skip the baseline\n"
			"  -P  poll with the exact count(*) every 10 ms (default: probe the\n"
			"      runs_due index, count only when nothing is runnable)\n",
			prog);
	exit(2);
}

int
main(int argc, char **argv)
{
	PGconn	   *conn;
	int			opt;
	char	   *v;
	double		best = 0.0,
				sum = 0.0,
				m_events = 0.0,
				m_runs = 0.0;
	char	   *workers;

	while ((opt = getopt(argc, argv, "d:n:r:c:t:m:BPh")) != -1)
	{
		switch (opt)
		{
			case 'd':
				conninfo = optarg;
				break;
			case 'n':
				n_events = parse_long(optarg, 'n', 0);
				break;
			case 'r':
				n_rounds = (int) parse_long(optarg, 'r', 1);
				break;
			case 'c':
				n_clients = (int) parse_long(optarg, 'c', 1);
				break;
			case 't':
				n_seconds = (int) parse_long(optarg, 't', 1);
				break;
			case 'm':
				n_multi = (int) parse_long(optarg, 'm', 0);
				break;
			case 'B':
				skip_baseline = true;
				break;
			case 'P':
				exact_polling = true;
				break;
			default:
				usage(argv[0]);
		}
	}
	if (optind < argc)
		usage(argv[0]);

	conn = connect_db();
	exec_ok(conn, "SET client_min_messages = warning");

	section("setup");
	v = query_value(conn, "SELECT current_setting('server_version')");
	out("server version", "", "%s", v);
	free(v);
	out("client cpus online", "", "%ld", sysconf(_SC_NPROCESSORS_ONLN));
	workers = query_value(conn,
						  "SELECT current_setting('inngest.workers', true)");
	{
		PGresult   *res = PQexec(conn, "SELECT name, setting FROM pg_settings "
								 "WHERE name LIKE 'inngest.%' ORDER BY name");

		if (PQresultStatus(res) != PGRES_TUPLES_OK)
			fail("pg_settings: %s", PQerrorMessage(conn));
		if (PQntuples(res) == 0)
			out("inngest.* settings", "", "%s", "(none: library not loaded)");
		for (int i = 0; i < PQntuples(res); i++)
			out(PQgetvalue(res, i, 0), "", "%s",
				PQgetvalue(res, i, 1)[0] ? PQgetvalue(res, i, 1) : "''");
		PQclear(res);
	}
	v = query_value(conn, "SELECT current_setting('fsync') || ', ' || "
					"current_setting('synchronous_commit')");
	out("fsync, synchronous_commit", "", "%s", v);
	free(v);
	v = query_value(conn, "SELECT (SELECT extversion FROM pg_extension "
					"WHERE extname = 'inngest_pg')");
	out("inngest_pg version", "", "%s", v ? v : "(no extension)");
	free(v);
	v = query_value(conn, "SELECT to_regclass('inngest.events')::text");
	if (v == NULL)
		fail("inngest.events does not exist: CREATE EXTENSION inngest_pg first");
	free(v);

	if (!skip_baseline)
		baseline_rate = baseline_before = bench_baseline(conn, "before");

	if (n_events > 0 || n_multi > 0)
		setup_function(conn);

	if (n_events > 0)
	{
		for (int r = 1; r <= n_rounds; r++)
		{
			double		rate = bench_one_step_round(conn, r);

			sum += rate;
			if (rate > best)
				best = rate;
		}
		if (n_rounds > 1)
		{
			section("one-step rounds");
			out("mean of rounds", "runs/s", "%.0f", sum / n_rounds);
			out("best round", "runs/s", "%.0f", best);
		}
	}

	if (n_multi > 0)
		bench_multi(conn, &m_events, &m_runs);

	/*
	 * The commit rate of a VM's disk drifts by a factor of 2 or more within
	 * minutes: measure it again after the runs and compare with the mean.
	 */
	if (!skip_baseline && (n_events > 0 || n_multi > 0))
	{
		baseline_after = bench_baseline(conn, "after");
		baseline_rate = (baseline_before + baseline_after) / 2.0;
		out("baseline before/after", "commits/s", "%.0f/%.0f",
			baseline_before, baseline_after);
		out("baseline mean", "commits/s", "%.0f", baseline_rate);
	}

	/* one-line summary */
	printf("\nsummary:");
	if (baseline_rate > 0)
	{
		printf(" baseline %.0f commits/s (%d client%s", baseline_rate,
			   n_clients, n_clients == 1 ? "" : "s");
		if (baseline_after > 0)
			printf(", mean of %.0f before and %.0f after", baseline_before,
				   baseline_after);
		printf(", %.0f B WAL);", baseline_wal);
	}
	if (n_events > 0)
	{
		printf(" one-step %.0f runs/s (N=%ld, mean of %d round%s",
			   sum / n_rounds, n_events, n_rounds, n_rounds == 1 ? "" : "s");
		if (baseline_rate > 0)
			printf(", %.2fx baseline mean", (sum / n_rounds) / baseline_rate);
		printf(", %.0f B WAL/run);", one_step_wal_sum / n_rounds);
	}
	if (n_multi > 0)
		printf(" multi-client %d: %.0f events/s accepted, %.0f runs/s;",
			   n_multi, m_events, m_runs);
	printf(" workers=%s\n", workers ? workers : "?");
	free(workers);

	PQfinish(conn);
	return 0;
}
