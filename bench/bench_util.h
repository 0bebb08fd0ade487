/*
 * bench_util.h: what the libpq benchmark programs share: the clock, the
 * aligned "name: value unit" output, and small query helpers.  Each
 * program defines BENCH_LABEL_WIDTH before including it.  Header-only:
 * every function is static inline.
 */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#ifndef BENCH_LABEL_WIDTH
#define BENCH_LABEL_WIDTH 40
#endif

/* Connection string (-d); the programs' default */
static const char *conninfo = "dbname=postgres";

static inline double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* Sleep s seconds (fractions too), resuming after signals */
static inline void
sleep_s(double s)
{
	struct timespec ts;

	if (s <= 0)
		return;
	ts.tv_sec = (time_t) s;
	ts.tv_nsec = (long) ((s - (double) ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* The value of option -opt: an integer of at least min, else exit(2) */
static inline long
parse_long(const char *s, char opt, long min)
{
	char	   *end;
	long		v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s || v < min)
	{
		fprintf(stderr, "invalid value for -%c: %s\n", opt, s);
		exit(2);
	}
	return v;
}

/* One aligned result line: "name:   value unit". */
static inline void
out(const char *name, const char *unit, const char *fmt, ...)
{
	char		label[64];
	char		value[64];
	va_list		ap;

	snprintf(label, sizeof(label), "%s:", name);
	va_start(ap, fmt);
	vsnprintf(value, sizeof(value), fmt, ap);
	va_end(ap);
	if (unit[0])
		printf("%-*s %14s %s\n", BENCH_LABEL_WIDTH, label, value, unit);
	else
		printf("%-*s %14s\n", BENCH_LABEL_WIDTH, label, value);
	fflush(stdout);
}

static inline void
section(const char *title)
{
	printf("\n== %s ==\n", title);
	fflush(stdout);
}

static inline void
fail(const char *fmt, ...)
{
	va_list		ap;

	fflush(stdout);
	printf("FAIL: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	exit(1);
}

static inline PGconn *
connect_db(void)
{
	PGconn	   *conn = PQconnectdb(conninfo);

	if (PQstatus(conn) != CONNECTION_OK)
		fail("connection to \"%s\" failed: %s", conninfo,
			 PQerrorMessage(conn));
	return conn;
}

static inline void
exec_ok(PGconn *conn, const char *sql)
{
	PGresult   *res = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(res);

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		fail("%s\n  in: %s", PQerrorMessage(conn), sql);
	PQclear(res);
}

static inline char *
query_value(PGconn *conn, const char *sql)
{
	PGresult   *res = PQexec(conn, sql);
	char	   *v = NULL;

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fail("%s\n  in: %s", PQerrorMessage(conn), sql);
	if (PQntuples(res) != 1 || PQnfields(res) < 1)
		fail("expected one row from: %s", sql);
	if (!PQgetisnull(res, 0, 0))
		v = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

static inline long long
query_ll(PGconn *conn, const char *sql)
{
	char	   *v = query_value(conn, sql);
	long long	r;

	if (v == NULL)
		fail("unexpected NULL from: %s", sql);
	r = strtoll(v, NULL, 10);
	free(v);
	return r;
}

#endif							/* BENCH_UTIL_H */
