#!/usr/bin/env bash
# scripts/bench_cluster.sh BENCH [options...]: build inngest_pg and the
# libpq benchmark bench/BENCH, start a throwaway PostgreSQL cluster with the
# extension preloaded and its background workers (listening only on a Unix
# socket in a temporary directory; default durability: fsync and
# synchronous_commit on), run the benchmark against it with the options,
# print the errors the server logged, stop the cluster and remove it.
# scripts/bench.sh and scripts/bench_waits.sh are this with a BENCH.
#
# Environment: INNGEST_WORKERS (default 2), INNGEST_RUNS_PER_TRANSACTION
# (default 16; 1 commits every run alone), PG_CONFIG (default pg_config),
# INNGEST_BENCH_KEEP=1 keeps the cluster's directory and log afterwards.
# Run as root (the cluster is then owned by "postgres", via runuser) or as
# an ordinary user who can "make install".
set -euo pipefail

cd "$(dirname "$0")/.."

BENCH=${1:?usage: scripts/bench_cluster.sh BENCH [options...]}
shift

PG_CONFIG=${PG_CONFIG:-pg_config}
WORKERS=${INNGEST_WORKERS:-2}
RUNS_PER_TXN=${INNGEST_RUNS_PER_TRANSACTION:-16}
BINDIR=$("$PG_CONFIG" --bindir)

echo "== build =="
make
make install
make "bench/$BENCH"

if [ "$(id -u)" -eq 0 ]; then
	PGUSER_NAME=postgres
	as_pg() { runuser -u postgres -- "$@"; }
else
	PGUSER_NAME=$(id -un)
	as_pg() { "$@"; }
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/inngest_$BENCH.XXXXXX")
DATA=$TMP/data
LOG=$TMP/postgres.log
STARTED=0

cleanup() {
	rc=$?
	set +e
	if [ "$rc" -ne 0 ] && [ -f "$LOG" ]; then
		echo
		echo "== benchmark failed (exit $rc): last 60 lines of the PostgreSQL log =="
		tail -n 60 "$LOG"
	fi
	if [ "$STARTED" -eq 1 ]; then
		as_pg "$BINDIR/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null 2>&1 ||
			as_pg "$BINDIR/pg_ctl" -D "$DATA" -m immediate -w stop >/dev/null 2>&1
	fi
	if [ -n "${INNGEST_BENCH_KEEP:-}" ]; then
		echo "(kept $TMP: PostgreSQL log $LOG)"
	else
		rm -rf "$TMP"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ "$(id -u)" -eq 0 ] && chown postgres: "$TMP"

. scripts/bench_lib.sh
PORT=$(bench_free_port)
bench_initdb "$BINDIR" "$DATA" "$TMP" "$PORT" "scripts/bench_cluster.sh ($BENCH)"
echo "inngest.database = 'postgres'" >>"$DATA/postgresql.conf"

as_pg "$BINDIR/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start >/dev/null
STARTED=1

"$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$TMP" -p "$PORT" -U "$PGUSER_NAME" \
	-d postgres -c 'CREATE EXTENSION inngest_pg'

echo
echo "== bench/$BENCH $* =="
"bench/$BENCH" -d "host=$TMP port=$PORT user=$PGUSER_NAME dbname=postgres" "$@"

# Errors the engine logged while the benchmark passed are worth seeing too.
if grep -qE '(ERROR|FATAL|PANIC|WARNING):' "$LOG"; then
	echo
	echo "== the PostgreSQL log has errors or warnings: $(grep -cE '(ERROR|FATAL|PANIC|WARNING):' "$LOG") (first 20, with their details) =="
	grep -E '(ERROR|FATAL|PANIC|WARNING):' -A 12 "$LOG" |
		grep -E '(ERROR|FATAL|PANIC|WARNING|DETAIL|HINT|CONTEXT|STATEMENT):|^\s|^--' |
		awk '/(ERROR|FATAL|PANIC|WARNING):/ { n++ } n <= 20' | head -n 200
fi
