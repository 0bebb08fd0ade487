/*
 * bench_waits.c: benchmark of inngest_pg's waits and sleeps (a program that
 * prints numbers; it is not a test and asserts no timing).
 *
 *   bench_waits [-d conninfo] [-w W] [-W W] [-k K] [-g ms] [-b batch] [-V]
 *               [-n sleeps] [-s secs]
 *
 * 1. Cost of one event vs the number of waiting runs.  A function triggered
 *    by "user.signup" waits for "user.deleted" matched on data.user_id
 *    (timeout 300 days).  W runs with distinct user ids are built by
 *    INSERT ... SELECT generate_series (-b events per statement) and the
 *    background workers, which register the waits; the program polls until
 *    all W runs are 'waiting' and prints how long that took.  It then runs
 *    VACUUM ANALYZE of the engine's tables and a CHECKPOINT (both would
 *    otherwise land in the middle of the measurement; -V skips them) and,
 *    on a fresh connection, times K single-event autocommit transactions
 *
 *      INSERT INTO inngest.events(name, data)
 *      VALUES ('user.deleted', jsonb_build_object('user_id', $1))
 *
 *    each resolving exactly one wait (K distinct random user ids), interleaved
 *    with K that match no wait (user ids no run has), -g ms apart so the
 *    resumed run's drive does not overlap the next insert.  A few of each
 *    are sent first as a warm-up and not counted.  Prints mean, p50, p99
 *    (microseconds, client-side, including the commit) at the small W (-w,
 *    default 1,000) and the large W (-W, default 1,000,000; 0 skips it), and
 *    the ratios large/small.  Verifies that exactly the matched runs
 *    resumed and completed and that every other wait is still in place.
 *    A plain single-row INSERT into an ordinary table (no trigger), timed
 *    the same way and interleaved with the events, is the baseline: the
 *    commit's flush dominates these latencies and its speed drifts.
 * 2. Sleeps due at the same second (-n, default 10,000; 0 skips): a handler
 *    step_sleep_until('t', data.at) and then a step returning
 *    clock_timestamp().  All events carry the same "at", about -s seconds
 *    (default 10) ahead, a whole second.  After every run completed it
 *    prints the lateness (the resume step's clock_timestamp() - at) p50,
 *    p99, max, and the time from "at" to the last run's end.
 *
 * Each phase TRUNCATEs inngest.runs, steps, waits, wait_keys, wait_hits,
 * events and event_ids (and bench.plain): use a throwaway database.  The database must have
 * CREATE EXTENSION inngest_pg and the background workers
 * (shared_preload_libraries = 'inngest_pg', inngest.database naming it).
 */
#define _GNU_SOURCE

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#define BENCH_LABEL_WIDTH 40
#include "bench_util.h"

#define WAIT_FUNCTION_ID	"bench-wait-delete"
#define SLEEP_FUNCTION_ID	"bench-sleep-until"
#define WARMUP				5		/* uncounted events of each kind */
#define STALL_TIMEOUT_S		600.0	/* no progress for this long: give up */
#define TIMED_INSERT_SQL \
	"INSERT INTO inngest.events(name,data) VALUES ('user.deleted', " \
	"jsonb_build_object('user_id', $1))"
#define PLAIN_INSERT_SQL \
	"INSERT INTO bench.plain(v) VALUES ($1)"
#define INT8OID				20

static long		small_w = 1000;
static long		large_w = 1000000;
static int		n_samples = 200;
static int		gap_ms = 10;
static long		batch = 100000;
static bool		skip_vacuum = false;
static long		n_sleeps = 10000;
static int		due_secs = 10;

/* ------------------------------------------------------------------------ */
/* helpers (as in bench_runs.c)                                              */
/* ------------------------------------------------------------------------ */


static void
progress(const char *fmt, ...)
{
	va_list		ap;

	printf("  ... ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}






static double
query_double(PGconn *conn, const char *sql)
{
	char	   *v = query_value(conn, sql);
	double		r;

	if (v == NULL)
		fail("unexpected NULL from: %s", sql);
	r = strtod(v, NULL);
	free(v);
	return r;
}

/* Print the status breakdown of a function's runs (diagnostics). */
static void
print_run_statuses(PGconn *conn, const char *function_id)
{
	char		sql[512];
	PGresult   *res;

	snprintf(sql, sizeof(sql),
			 "SELECT status, count(*), "
			 "       max(error::text) FILTER (WHERE error IS NOT NULL) "
			 "FROM inngest.runs WHERE function_id = '%s' "
			 "GROUP BY status ORDER BY status", function_id);
	res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		printf("  (could not read run statuses: %s)\n", PQerrorMessage(conn));
		PQclear(res);
		return;
	}
	printf("  runs of %s by status:\n", function_id);
	for (int i = 0; i < PQntuples(res); i++)
		printf("    %-10s %8s%s%s\n", PQgetvalue(res, i, 0),
			   PQgetvalue(res, i, 1),
			   PQgetisnull(res, i, 2) ? "" : "  e.g. error: ",
			   PQgetisnull(res, i, 2) ? "" : PQgetvalue(res, i, 2));
	PQclear(res);
	fflush(stdout);
}

static void
clean(PGconn *conn)
{
	exec_ok(conn, "TRUNCATE inngest.runs, inngest.steps, inngest.waits, "
			"inngest.wait_keys, inngest.wait_hits, inngest.events, "
			"inngest.event_ids");
	exec_ok(conn, "CHECKPOINT");
}

/*
 * Poll until the runs of function_id in status `status` number `target`.
 * Fails when any run failed, or when the count has not moved for
 * STALL_TIMEOUT_S.  Counts at most every `interval` seconds (the count is a
 * scan of inngest.runs) and prints progress every 10 s.  Returns the time
 * (now_s()) at which the count was seen complete.
 */
static double
wait_status(PGconn *conn, const char *function_id, const char *status,
			long long target, double t_start, double interval)
{
	char		sql[512];
	long long	last = -1;
	double		last_change = now_s(),
				last_print = now_s();

	snprintf(sql, sizeof(sql),
			 "SELECT count(*) FILTER (WHERE status = '%s'), "
			 "count(*) FILTER (WHERE status = 'failed') "
			 "FROM inngest.runs WHERE function_id = '%s'",
			 status, function_id);
	for (;;)
	{
		PGresult   *res = PQexec(conn, sql);
		long long	n,
					failed;
		double		t;

		if (PQresultStatus(res) != PGRES_TUPLES_OK)
			fail("%s\n  in: %s", PQerrorMessage(conn), sql);
		n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		failed = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
		PQclear(res);
		t = now_s();
		if (failed > 0 && strcmp(status, "failed") != 0)
		{
			print_run_statuses(conn, function_id);
			fail("%lld runs of %s failed", failed, function_id);
		}
		if (n >= target)
			return t;
		if (n != last)
		{
			last = n;
			last_change = t;
		}
		if (t - last_print >= 10.0)
		{
			progress("%6.0f s: %lld of %lld runs %s (%.0f/s so far)",
					 t - t_start, n, target, status, n / (t - t_start));
			last_print = t;
		}
		if (t - last_change > STALL_TIMEOUT_S)
		{
			print_run_statuses(conn, function_id);
			fail("no progress for %.0f s: %lld of %lld runs %s",
				 t - last_change, n, target, status);
		}
		sleep_s(interval);
	}
}

/* ------------------------------------------------------------------------ */
/* statistics                                                                */
/* ------------------------------------------------------------------------ */

typedef struct Stats
{
	int			n;
	double		mean,
				p50,
				p99,
				min,
				max;
} Stats;

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return x < y ? -1 : x > y ? 1 : 0;
}

/* percentile_cont: linear interpolation between the closest ranks */
static double
percentile(const double *sorted, int n, double p)
{
	double		pos = p * (n - 1);
	int			lo = (int) pos;
	int			hi = lo + 1 < n ? lo + 1 : lo;

	return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

static Stats
stats_of(double *v, int n)
{
	Stats		s = {0};
	double		sum = 0;

	if (n == 0)
		return s;
	qsort(v, n, sizeof(double), cmp_double);
	for (int i = 0; i < n; i++)
		sum += v[i];
	s.n = n;
	s.mean = sum / n;
	s.p50 = percentile(v, n, 0.50);
	s.p99 = percentile(v, n, 0.99);
	s.min = v[0];
	s.max = v[n - 1];
	return s;
}

static void
print_stats(const char *what, Stats s)
{
	char		name[64];

	snprintf(name, sizeof(name), "%s mean", what);
	out(name, "us", "%.0f", s.mean);
	snprintf(name, sizeof(name), "%s p50", what);
	out(name, "us", "%.0f", s.p50);
	snprintf(name, sizeof(name), "%s p99", what);
	out(name, "us", "%.0f", s.p99);
	snprintf(name, sizeof(name), "%s min/max", what);
	out(name, "us", "%.0f/%.0f", s.min, s.max);
}

/* ------------------------------------------------------------------------ */
/* 1. one event vs the number of waiting runs                                */
/* ------------------------------------------------------------------------ */

static void
setup_wait_function(PGconn *conn)
{
	exec_ok(conn, "CREATE SCHEMA IF NOT EXISTS bench");
	exec_ok(conn,
			"CREATE OR REPLACE FUNCTION bench.wait_delete(event jsonb) "
			"RETURNS jsonb LANGUAGE plpgsql AS $fn$\n"
			"DECLARE\n"
			"  deleted jsonb;\n"
			"BEGIN\n"
			"  deleted := inngest.step_wait_for_event('wait-delete', "
			"'user.deleted', '300 days', match => 'data.user_id');\n"
			"  RETURN jsonb_build_object('deleted', deleted IS NOT NULL);\n"
			"END\n"
			"$fn$");
	exec_ok(conn,
			"SELECT inngest.create_function('{\"id\":\"" WAIT_FUNCTION_ID
			"\",\"triggers\":[{\"event\":\"user.signup\"}]}', "
			"'bench.wait_delete')");
	exec_ok(conn, "CREATE TABLE IF NOT EXISTS bench.plain "
			"(id bigserial PRIMARY KEY, v bigint)");
}

typedef struct WaitResult
{
	long		w;
	double		build_s;
	Stats		match;
	Stats		nomatch;
	Stats		plain;
} WaitResult;

/* time one event insert (autocommit) of user_id; microseconds */
static double
timed_insert(PGconn *conn, const char *stmt, long user_id)
{
	char		buf[32];
	const char *params[1] = {buf};
	PGresult   *res;
	double		t0,
				t1;

	snprintf(buf, sizeof(buf), "%ld", user_id);
	t0 = now_s();
	res = PQexecPrepared(conn, stmt, 1, params, NULL, NULL, 0);
	t1 = now_s();
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		fail("event insert: %s", PQerrorMessage(conn));
	PQclear(res);
	return (t1 - t0) * 1e6;
}

static WaitResult
bench_waits_at(PGconn *conn, long w)
{
	WaitResult	r;
	char		title[128];
	char		sql[512];
	double		t0,
				t_ins,
				t_all;
	long long	nwaits;
	int			nsend = n_samples + WARMUP;
	long	   *ids;
	unsigned char *taken;
	double	   *lat_match,
			   *lat_none,
			   *lat_plain;
	PGconn	   *c;
	Oid			types[1] = {INT8OID};
	PGresult   *res;

	memset(&r, 0, sizeof(r));
	r.w = w;
	snprintf(title, sizeof(title),
			 "one event vs waiting runs: W = %ld waiting runs", w);
	section(title);
	clean(conn);
	exec_ok(conn, "TRUNCATE bench.plain");

	/* build W waiting runs */
	t0 = now_s();
	for (long lo = 1; lo <= w; lo += batch)
	{
		long		hi = lo + batch - 1 < w ? lo + batch - 1 : w;

		snprintf(sql, sizeof(sql),
				 "INSERT INTO inngest.events(name, data) "
				 "SELECT 'user.signup', jsonb_build_object('user_id', g) "
				 "FROM generate_series(%ld, %ld) g", lo, hi);
		exec_ok(conn, sql);
		if (w > batch)
			progress("%6.0f s: inserted user.signup %ld..%ld",
					 now_s() - t0, lo, hi);
	}
	t_ins = now_s();
	out("signup events inserted in", "s", "%.2f", t_ins - t0);
	t_all = wait_status(conn, WAIT_FUNCTION_ID, "waiting", w, t0,
						w > 100000 ? 2.0 : 0.1);
	r.build_s = t_all - t0;
	out("all runs waiting after", "s", "%.2f", t_all - t0);
	out("runs made waiting", "runs/s", "%.0f", w / (t_all - t0));
	nwaits = query_ll(conn, "SELECT count(*) FROM inngest.waits "
					  "WHERE event = 'user.deleted' AND kind = 'wait'");
	out("rows of inngest.waits", "", "%lld", nwaits);
	if (nwaits != w)
		fail("%lld waits registered for %ld waiting runs", nwaits, w);

	if (!skip_vacuum)
	{
		t0 = now_s();
		exec_ok(conn, "VACUUM ANALYZE inngest.runs, inngest.steps, "
				"inngest.waits, inngest.wait_keys, inngest.events");
		exec_ok(conn, "CHECKPOINT");
		out("VACUUM ANALYZE + CHECKPOINT", "s", "%.2f", now_s() - t0);
	}
	{
		char	   *sz = query_value(conn,
									 "SELECT pg_size_pretty(pg_total_relation_size('inngest.waits')) "
									 "|| ' / ' || pg_size_pretty(pg_total_relation_size('inngest.runs'))");

		out("size of waits / runs (with indexes)", "", "%s", sz);
		free(sz);
	}

	/* K + WARMUP distinct random user ids among the W */
	if (nsend > w)
		fail("-k %d (+%d warm-up) is more than W = %ld", n_samples, WARMUP, w);
	ids = malloc(sizeof(long) * nsend);
	taken = calloc(w + 1, 1);
	lat_match = malloc(sizeof(double) * n_samples);
	lat_none = malloc(sizeof(double) * n_samples);
	lat_plain = malloc(sizeof(double) * n_samples);
	if (!ids || !taken || !lat_match || !lat_none || !lat_plain)
		fail("out of memory");
	for (int i = 0; i < nsend; i++)
	{
		long		id;

		do
			id = 1 + (long) (drand48() * w);
		while (id > w || taken[id]);
		taken[id] = 1;
		ids[i] = id;
	}

	/* a fresh client connection, as an application's would be */
	c = connect_db();
	res = PQprepare(c, "ev", TIMED_INSERT_SQL, 1, types);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		fail("prepare: %s", PQerrorMessage(c));
	PQclear(res);
	res = PQprepare(c, "plain", PLAIN_INSERT_SQL, 1, types);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		fail("prepare: %s", PQerrorMessage(c));
	PQclear(res);

	/*
	 * Matching events, non-matching events and plain inserts alternate,
	 * gap_ms apart, so all see the same conditions; a non-matching user id
	 * is one no run has.
	 */
	for (int i = 0; i < nsend; i++)
	{
		double		a,
					b,
					p;

		a = timed_insert(c, "ev", ids[i]);
		sleep_s(gap_ms / 1000.0);
		b = timed_insert(c, "ev", 10L * w + 1000000L + i);
		sleep_s(gap_ms / 1000.0);
		p = timed_insert(c, "plain", i);
		sleep_s(gap_ms / 1000.0);
		if (i >= WARMUP)
		{
			lat_match[i - WARMUP] = a;
			lat_none[i - WARMUP] = b;
			lat_plain[i - WARMUP] = p;
		}
	}
	PQfinish(c);

	r.match = stats_of(lat_match, n_samples);
	r.nomatch = stats_of(lat_none, n_samples);
	r.plain = stats_of(lat_plain, n_samples);
	out("events timed (each kind)", "", "%d (+%d warm-up)", n_samples, WARMUP);
	out("gap between events", "ms", "%d", gap_ms);
	print_stats("matching event", r.match);
	print_stats("non-matching event", r.nomatch);
	print_stats("baseline: plain INSERT", r.plain);

	/* every matched run resumed and completed; every other wait remains */
	(void) wait_status(conn, WAIT_FUNCTION_ID, "completed", nsend, now_s(),
					   0.1);
	snprintf(sql, sizeof(sql),
			 "SELECT count(*) FROM inngest.runs WHERE function_id = '"
			 WAIT_FUNCTION_ID "' AND status = 'completed' "
			 "AND output = '{\"deleted\": true}'");
	{
		long long	resumed = query_ll(conn, sql);
		long long	waiting,
					left;

		waiting = query_ll(conn, "SELECT count(*) FROM inngest.runs WHERE "
						   "function_id = '" WAIT_FUNCTION_ID "' "
						   "AND status = 'waiting'");
		left = query_ll(conn, "SELECT count(*) FROM inngest.waits");
		out("runs resumed by an event, completed", "", "%lld", resumed);
		out("runs still waiting / waits left", "", "%lld / %lld",
			waiting, left);
		if (resumed != nsend || waiting != w - nsend || left != w - nsend)
		{
			print_run_statuses(conn, WAIT_FUNCTION_ID);
			fail("expected %d resumed runs and %ld still waiting", nsend,
				 w - nsend);
		}
		out("verified", "", "%s", "ok");
	}
	free(ids);
	free(taken);
	free(lat_match);
	free(lat_none);
	free(lat_plain);
	return r;
}

static void
print_ratio(const char *name, double a, double b)
{
	out(name, "x", "%.2f", b > 0 ? a / b : 0.0);
}

static void
bench_wait_phase(PGconn *conn)
{
	WaitResult	s,
				l;

	setup_wait_function(conn);
	s = bench_waits_at(conn, small_w);
	if (large_w <= 0)
		return;
	l = bench_waits_at(conn, large_w);

	section("one event vs waiting runs: large W / small W");
	out("W small / large", "", "%ld / %ld", s.w, l.w);
	out("matching p50 small / large", "us", "%.0f / %.0f", s.match.p50,
		l.match.p50);
	out("matching mean small / large", "us", "%.0f / %.0f", s.match.mean,
		l.match.mean);
	out("matching p99 small / large", "us", "%.0f / %.0f", s.match.p99,
		l.match.p99);
	print_ratio("matching p50 ratio", l.match.p50, s.match.p50);
	print_ratio("matching mean ratio", l.match.mean, s.match.mean);
	print_ratio("matching p99 ratio", l.match.p99, s.match.p99);
	out("non-matching p50 small / large", "us", "%.0f / %.0f",
		s.nomatch.p50, l.nomatch.p50);
	out("non-matching mean small / large", "us", "%.0f / %.0f",
		s.nomatch.mean, l.nomatch.mean);
	out("non-matching p99 small / large", "us", "%.0f / %.0f",
		s.nomatch.p99, l.nomatch.p99);
	print_ratio("non-matching p50 ratio", l.nomatch.p50, s.nomatch.p50);
	print_ratio("non-matching mean ratio", l.nomatch.mean, s.nomatch.mean);
	print_ratio("non-matching p99 ratio", l.nomatch.p99, s.nomatch.p99);
	out("baseline p50 small / large", "us", "%.0f / %.0f", s.plain.p50,
		l.plain.p50);
	out("baseline mean small / large", "us", "%.0f / %.0f", s.plain.mean,
		l.plain.mean);
	print_ratio("baseline p50 ratio", l.plain.p50, s.plain.p50);
	print_ratio("baseline mean ratio", l.plain.mean, s.plain.mean);
	out("target", "", "%s", "within 1.5x");
	out("p50 and mean within 1.5x (matching)", "", "%s",
		l.match.p50 <= 1.5 * s.match.p50 &&
		l.match.mean <= 1.5 * s.match.mean ? "yes" : "no");
	out("p50 and mean within 1.5x (non-matching)", "", "%s",
		l.nomatch.p50 <= 1.5 * s.nomatch.p50 &&
		l.nomatch.mean <= 1.5 * s.nomatch.mean ? "yes" : "no");
	out("build time small / large", "s", "%.1f / %.1f", s.build_s,
		l.build_s);
}

/* ------------------------------------------------------------------------ */
/* 2. sleeps due at the same second                                          */
/* ------------------------------------------------------------------------ */

static void
setup_sleep_function(PGconn *conn)
{
	exec_ok(conn, "CREATE SCHEMA IF NOT EXISTS bench");
	exec_ok(conn,
			"CREATE OR REPLACE FUNCTION bench.sleep_until(event jsonb) "
			"RETURNS jsonb LANGUAGE plpgsql AS $fn$\n"
			"BEGIN\n"
			"  PERFORM inngest.step_sleep_until('t', "
			"(event->'data'->>'at')::timestamptz);\n"
			"  RETURN inngest.step_run('resume', 'SELECT clock_timestamp()');\n"
			"END\n"
			"$fn$");
	exec_ok(conn,
			"SELECT inngest.create_function('{\"id\":\"" SLEEP_FUNCTION_ID
			"\",\"triggers\":[{\"event\":\"bench.sleep\"}]}', "
			"'bench.sleep_until')");
}

/* seconds from the server's clock to the due time (negative: past it) */
static double
secs_to(PGconn *conn, const char *due)
{
	char		sql[256];

	snprintf(sql, sizeof(sql),
			 "SELECT extract(epoch FROM '%s'::timestamptz - clock_timestamp())",
			 due);
	return query_double(conn, sql);
}

static void
bench_sleep_phase(PGconn *conn)
{
	char		title[128];
	char		sql[1024];
	char	   *due;
	double		t0,
				t_ins,
				t_sleeping,
				to_due,
				seen_after;
	long long	sleeping_at_due = -1;
	PGresult   *res;

	snprintf(title, sizeof(title),
			 "%ld sleeps due at the same second", n_sleeps);
	section(title);
	clean(conn);
	setup_sleep_function(conn);

	snprintf(sql, sizeof(sql),
			 "SELECT date_trunc('second', clock_timestamp() + interval '%d s')",
			 due_secs);
	due = query_value(conn, sql);
	out("due time (data.at)", "", "%s", due);

	snprintf(sql, sizeof(sql),
			 "INSERT INTO inngest.events(name, data) "
			 "SELECT 'bench.sleep', jsonb_build_object('at', '%s'::timestamptz, "
			 "'i', g) FROM generate_series(1, %ld) g", due, n_sleeps);
	t0 = now_s();
	exec_ok(conn, sql);
	t_ins = now_s();
	out("events inserted in", "s", "%.3f", t_ins - t0);

	/* until every run sleeps, or the due time comes */
	snprintf(sql, sizeof(sql),
			 "SELECT count(*) FROM inngest.runs WHERE function_id = '"
			 SLEEP_FUNCTION_ID "' AND status = 'sleeping'");
	for (;;)
	{
		long long	n = query_ll(conn, sql);

		t_sleeping = now_s();
		to_due = secs_to(conn, due);
		if (n >= n_sleeps)
		{
			sleeping_at_due = n;
			break;
		}
		if (to_due <= 0.2)
		{
			sleeping_at_due = n;
			printf("  note: only %lld of %ld runs were sleeping 0.2 s "
				   "before the due time: the others' lateness includes "
				   "reaching their sleep\n", n, n_sleeps);
			break;
		}
		sleep_s(0.1);
	}
	if (sleeping_at_due >= n_sleeps)
	{
		out("all runs sleeping after", "s", "%.3f", t_sleeping - t0);
		out("slack before the due time", "s", "%.3f", to_due);
	}

	/* be quiet until just after the due time, then poll every 20 ms */
	sleep_s(to_due + 0.05);
	{
		char		probe[256];
		char		count_sql[256];
		double		last_exact = 0;

		snprintf(probe, sizeof(probe),
				 "SELECT 1 FROM inngest.runs WHERE wake_at IS NOT NULL "
				 "ORDER BY wake_at LIMIT 1");
		snprintf(count_sql, sizeof(count_sql),
				 "SELECT count(*) FROM inngest.runs WHERE function_id = '"
				 SLEEP_FUNCTION_ID "' AND status IN ('completed', 'failed')");
		for (;;)
		{
			double		t = now_s();
			bool		runnable;

			res = PQexec(conn, probe);
			if (PQresultStatus(res) != PGRES_TUPLES_OK)
				fail("probe: %s", PQerrorMessage(conn));
			runnable = PQntuples(res) > 0;
			PQclear(res);
			if (!runnable || t - last_exact >= 1.0)
			{
				last_exact = t;
				if (query_ll(conn, count_sql) >= n_sleeps)
					break;
			}
			if (-secs_to(conn, due) > STALL_TIMEOUT_S)
			{
				print_run_statuses(conn, SLEEP_FUNCTION_ID);
				fail("runs not completed %.0f s after the due time",
					 STALL_TIMEOUT_S);
			}
			sleep_s(0.02);
		}
		seen_after = -secs_to(conn, due);
	}

	/* verify: all completed, each with its resume step */
	{
		long long	completed,
					resumed;

		completed = query_ll(conn, "SELECT count(*) FROM inngest.runs WHERE "
							 "function_id = '" SLEEP_FUNCTION_ID "' "
							 "AND status = 'completed'");
		resumed = query_ll(conn, "SELECT count(*) FROM inngest.steps WHERE "
						   "step_id = 'resume' AND status = 'completed'");
		if (completed != n_sleeps || resumed != n_sleeps)
		{
			print_run_statuses(conn, SLEEP_FUNCTION_ID);
			fail("%lld runs completed, %lld resume steps, expected %ld",
				 completed, resumed, n_sleeps);
		}
	}

	snprintf(sql, sizeof(sql),
			 "WITH l AS (SELECT extract(epoch FROM (s.output #>> '{}')::timestamptz"
			 " - '%s'::timestamptz) * 1000 AS ms FROM inngest.steps s"
			 " WHERE s.step_id = 'resume') "
			 "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms), "
			 "percentile_cont(0.99) WITHIN GROUP (ORDER BY ms), "
			 "max(ms), min(ms), avg(ms), count(*) FILTER (WHERE ms <= 1000), "
			 "count(*) FILTER (WHERE ms < 0), "
			 "(SELECT extract(epoch FROM max(ended_at) - '%s'::timestamptz) * 1000"
			 " FROM inngest.runs WHERE function_id = '" SLEEP_FUNCTION_ID "') "
			 "FROM l", due, due);
	res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		fail("lateness: %s", PQerrorMessage(conn));
	out("runs sleeping at the due time", "", "%lld of %ld", sleeping_at_due,
		n_sleeps);
	out("lateness p50 (resume - due)", "ms", "%.1f",
		strtod(PQgetvalue(res, 0, 0), NULL));
	out("lateness p99", "ms", "%.1f", strtod(PQgetvalue(res, 0, 1), NULL));
	out("lateness max", "ms", "%.1f", strtod(PQgetvalue(res, 0, 2), NULL));
	out("lateness min", "ms", "%.1f", strtod(PQgetvalue(res, 0, 3), NULL));
	out("lateness mean", "ms", "%.1f", strtod(PQgetvalue(res, 0, 4), NULL));
	out("resumed within 1 s of the due time", "", "%s of %ld",
		PQgetvalue(res, 0, 5), n_sleeps);
	out("resumed before the due time", "", "%s", PQgetvalue(res, 0, 6));
	out("last run ended after the due time", "ms", "%.1f",
		strtod(PQgetvalue(res, 0, 7), NULL));
	out("client saw all completed after due", "ms", "%.1f", seen_after * 1000);
	out("target", "", "%s", "all resume within 1 s");
	out("all resumed within 1 s", "", "%s",
		strtod(PQgetvalue(res, 0, 2), NULL) <= 1000.0 ? "yes" : "no");
	PQclear(res);
	out("verified", "", "%s", "ok");
	free(due);
}

/* ------------------------------------------------------------------------ */

static void
usage(const char *prog)
{
	fprintf(stderr,
			"usage: %s [-d conninfo] [-w W] [-W W] [-k K] [-g ms] [-b batch] "
			"[-V] [-n sleeps] [-s secs]\n"
			"  -d  libpq connection string (default \"dbname=postgres\")\n"
			"  -w  small number of waiting runs, 0 skips phase 1 (default 1000)\n"
			"  -W  large number of waiting runs, 0 skips it (default 1000000)\n"
			"  -k  timed events of each kind per W (default 200)\n"
			"  -g  pause between timed events, ms (default 10)\n"
			"  -b  signup events per INSERT ... SELECT (default 100000)\n"
			"  -V  no VACUUM ANALYZE + CHECKPOINT before timing the events\n"
			"  -n  sleeping runs due at the same second, 0 skips (default 10000)\n"
			"  -s  seconds from the insert to the due time (default 10)\n",
			prog);
	exit(2);
}

int
main(int argc, char **argv)
{
	PGconn	   *conn;
	int			opt;
	char	   *v;

	while ((opt = getopt(argc, argv, "d:w:W:k:g:b:Vn:s:h")) != -1)
	{
		switch (opt)
		{
			case 'd':
				conninfo = optarg;
				break;
			case 'w':
				small_w = parse_long(optarg, 'w', 0);
				break;
			case 'W':
				large_w = parse_long(optarg, 'W', 0);
				break;
			case 'k':
				n_samples = (int) parse_long(optarg, 'k', 1);
				break;
			case 'g':
				gap_ms = (int) parse_long(optarg, 'g', 0);
				break;
			case 'b':
				batch = parse_long(optarg, 'b', 1);
				break;
			case 'V':
				skip_vacuum = true;
				break;
			case 'n':
				n_sleeps = parse_long(optarg, 'n', 0);
				break;
			case 's':
				due_secs = (int) parse_long(optarg, 's', 1);
				break;
			default:
				usage(argv[0]);
		}
	}
	if (optind < argc)
		usage(argv[0]);
	srand48((long) time(NULL) ^ (long) getpid());

	conn = connect_db();
	exec_ok(conn, "SET client_min_messages = warning");

	section("setup");
	v = query_value(conn, "SELECT current_setting('server_version')");
	out("server version", "", "%s", v);
	free(v);
	out("client cpus online", "", "%ld", sysconf(_SC_NPROCESSORS_ONLN));
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
	v = query_value(conn, "SELECT to_regclass('inngest.waits')::text");
	if (v == NULL)
		fail("inngest.waits does not exist: CREATE EXTENSION inngest_pg "
			 "(with waits) first");
	free(v);
	{
		double		la[3];

		if (getloadavg(la, 3) == 3)
			out("load average at start (1/5/15 min)", "", "%.2f %.2f %.2f",
				la[0], la[1], la[2]);
	}

	if (small_w > 0)
		bench_wait_phase(conn);
	if (n_sleeps > 0)
		bench_sleep_phase(conn);

	{
		double		la[3];

		if (getloadavg(la, 3) == 3)
		{
			printf("\n");
			out("load average at end (1/5/15 min)", "", "%.2f %.2f %.2f",
				la[0], la[1], la[2]);
		}
	}
	PQfinish(conn);
	return 0;
}
