#!/usr/bin/env bash
# scripts/bench_compare.sh: measure two revisions of inngest_pg against each
# other on ONE PostgreSQL cluster.
#
#   bash scripts/bench_compare.sh [-k rounds] REV_A REV_B \
#        [-- bench_runs options...] [--flow bench_flow options...]
#
#   e.g. bash scripts/bench_compare.sh -k 3 2734bae HEAD -- -n 20000 -r 2 --flow -n 20000 -r 2
#
# For each revision: "git archive REV" into a temporary directory, build the
# extension there with that revision's own Makefile, and install it with
# DESTDIR into a PRIVATE copy of the PostgreSQL installation
# ($TMP/A/usr/lib/postgresql/15, $TMP/A/usr/share/postgresql/15; the same
# for B).  PostgreSQL's binaries find their lib and share directories
# relative to their own location, so $TMP/A/.../bin/postgres loads
# $TMP/A/.../lib/inngest_pg.so; the script checks this at every start in
# /proc/PID/maps of the postmaster and stops if another inngest_pg.so is
# mapped.  Nothing under the system installation is written: no plain
# "make install", and the repository's working tree is not touched either.
# The libpq programs bench/bench_runs and bench/bench_flow are built once,
# from REV_B's tree, and used for both revisions (they speak SQL only).
#
# One data directory (initdb as postgres when run as root; Unix socket in
# the temporary directory only; shared_preload_libraries = 'inngest_pg',
# inngest.workers, inngest.runs_per_transaction, fsync and
# synchronous_commit on, as in scripts/bench_cluster.sh), then k rounds of
# A then B: start the cluster with that tree's binaries and the background
# workers in a fresh, empty database (bench_N, named by
# "-c inngest.database"; created by the run before, the previous one is
# dropped), CREATE EXTENSION inngest_pg, run bench_runs, then bench_flow,
# stop.  Alternating the order spreads the drift of a VM's disk over both.
#
# Prints each run's output and the PostgreSQL log's errors and warnings
# (not the workers' "terminating background worker" at every fast stop),
# then a table: for every figure the two programs print (rates, WAL bytes,
# latencies, times; a figure printed once per round is averaged within the
# run), the median over the k runs of A, of B, B/A and the values.
# Exit status 1 if a build, a start or a benchmark fails.
#
# Options after "--" go to bench_runs, after "--flow" to bench_flow (either
# may come first; -d is set by this script).  "--flow" alone means
# bench_flow's defaults; "--no-flow" or "--no-runs" skips one program.
#
# Environment: PG_CONFIG (default /usr/lib/postgresql/15/bin/pg_config if it
# exists, else pg_config), INNGEST_WORKERS (default 2),
# INNGEST_RUNS_PER_TRANSACTION (default 16), INNGEST_BENCH_KEEP=1 keeps the
# temporary directory (trees, cluster, logs, outputs) afterwards.
# Run as root (the cluster is then owned by "postgres", via runuser) or as
# an ordinary user.
set -euo pipefail

usage() {
	sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
}

cd "$(dirname "$0")/.."
REPO=$(pwd)

ROUNDS=1
RUNS_OPTS=()
FLOW_OPTS=()
DO_RUNS=1
DO_FLOW=1

while getopts 'k:h' opt; do
	case $opt in
		k) ROUNDS=$OPTARG ;;
		*) usage ;;
	esac
done
shift $((OPTIND - 1))
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "bench_compare.sh: -k needs a positive integer" >&2; exit 2; }
[ $# -ge 2 ] || usage
REV_A_NAME=$1
REV_B_NAME=$2
shift 2
mode=
while [ $# -gt 0 ]; do
	case $1 in
		--) mode=runs ;;
		--flow) mode=flow ;;
		--no-flow) DO_FLOW=0; mode= ;;
		--no-runs) DO_RUNS=0; mode= ;;
		*)
			case $mode in
				runs) RUNS_OPTS+=("$1") ;;
				flow) FLOW_OPTS+=("$1") ;;
				*) echo "bench_compare.sh: unexpected argument '$1' (options for bench_runs follow '--', for bench_flow '--flow')" >&2
				   exit 2 ;;
			esac ;;
	esac
	shift
done
[ $DO_RUNS -eq 1 ] || [ $DO_FLOW -eq 1 ] || { echo "bench_compare.sh: nothing to run" >&2; exit 2; }

REV_A=$(git -C "$REPO" rev-parse --verify "$REV_A_NAME^{commit}")
REV_B=$(git -C "$REPO" rev-parse --verify "$REV_B_NAME^{commit}")

if [ -z "${PG_CONFIG:-}" ]; then
	if [ -x /usr/lib/postgresql/15/bin/pg_config ]; then
		PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
	else
		PG_CONFIG=pg_config
	fi
fi
WORKERS=${INNGEST_WORKERS:-2}
RUNS_PER_TXN=${INNGEST_RUNS_PER_TRANSACTION:-16}
SYS_BINDIR=$("$PG_CONFIG" --bindir)
SYS_PKGLIBDIR=$("$PG_CONFIG" --pkglibdir)
SYS_SHAREDIR=$("$PG_CONFIG" --sharedir)
SYS_PGHOME=$(dirname "$SYS_BINDIR")		# /usr/lib/postgresql/15
case $SYS_PKGLIBDIR in
	"$SYS_PGHOME"/*) ;;
	*) echo "bench_compare.sh: $SYS_PKGLIBDIR is not under $SYS_PGHOME: cannot copy the installation" >&2; exit 1 ;;
esac

if [ "$(id -u)" -eq 0 ]; then
	PGUSER_NAME=postgres
	as_pg() { runuser -u postgres -- "$@"; }
else
	PGUSER_NAME=$(id -un)
	as_pg() { "$@"; }
fi

T_START=$(date +%s)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/inngest_compare.XXXXXX")
chmod 755 "$TMP"
RUN=$TMP/run					# owned by the cluster's user
DATA=$RUN/data
OUT=$TMP/out
CUR_BIN=						# bindir of the running cluster, if any
CUR_LOG=

cleanup() {
	rc=$?
	set +e
	if [ "$rc" -ne 0 ] && [ -n "$CUR_LOG" ] && [ -f "$CUR_LOG" ]; then
		echo
		echo "== failed (exit $rc): last 60 lines of the PostgreSQL log $CUR_LOG =="
		tail -n 60 "$CUR_LOG"
	fi
	if [ -n "$CUR_BIN" ]; then
		as_pg "$CUR_BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null 2>&1 ||
			as_pg "$CUR_BIN/pg_ctl" -D "$DATA" -m immediate -w stop >/dev/null 2>&1
	fi
	if [ -n "${INNGEST_BENCH_KEEP:-}" ]; then
		echo "(kept $TMP: logs in $RUN/logs, outputs in $OUT)"
	else
		rm -rf "$TMP"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$RUN/logs" "$OUT"
[ "$(id -u)" -eq 0 ] && chown -R postgres: "$RUN"

echo "== bench_compare: A = $REV_A_NAME ($REV_A), B = $REV_B_NAME ($REV_B), $ROUNDS round(s) =="
echo "bench_runs options: ${RUNS_OPTS[*]:-(defaults)}$([ $DO_RUNS -eq 1 ] || echo ' (skipped)')"
echo "bench_flow options: ${FLOW_OPTS[*]:-(defaults)}$([ $DO_FLOW -eq 1 ] || echo ' (skipped)')"
echo "temporary directory: $TMP; load average: $(cut -d' ' -f1-3 /proc/loadavg)"

# ---------------------------------------------------------------------------
# build and install each revision into its own copy of the installation
# ---------------------------------------------------------------------------
build_tree() {
	local t=$1 rev=$2 src=$TMP/src/$1 root=$TMP/$1
	echo
	echo "== build $t: $rev =="
	mkdir -p "$src" "$root$(dirname "$SYS_PGHOME")" "$root$(dirname "$SYS_SHAREDIR")"
	git -C "$REPO" archive "$rev" | tar -x -C "$src"
	cp -a "$SYS_PGHOME" "$root$(dirname "$SYS_PGHOME")/"
	cp -a "$SYS_SHAREDIR" "$root$(dirname "$SYS_SHAREDIR")/"
	# whatever inngest_pg the system has installed is not this revision's
	rm -rf "$root$SYS_PKGLIBDIR"/inngest_pg.so "$root$SYS_PKGLIBDIR"/bitcode/inngest_pg \
		"$root$SYS_PKGLIBDIR"/bitcode/inngest_pg.index.bc \
		"$root$SYS_SHAREDIR"/extension/inngest_pg[.-]*
	make -C "$src" -s -j"$(nproc)" PG_CONFIG="$PG_CONFIG" >"$TMP/build_$t.log" 2>&1 ||
		{ cat "$TMP/build_$t.log"; exit 1; }
	make -C "$src" -s install DESTDIR="$root" PG_CONFIG="$PG_CONFIG" >>"$TMP/build_$t.log" 2>&1 ||
		{ cat "$TMP/build_$t.log"; exit 1; }
	[ -f "$root$SYS_PKGLIBDIR/inngest_pg.so" ] ||
		{ echo "bench_compare.sh: $root$SYS_PKGLIBDIR/inngest_pg.so was not installed" >&2; exit 1; }
	cmp -s "$src/inngest_pg.so" "$root$SYS_PKGLIBDIR/inngest_pg.so" ||
		{ echo "bench_compare.sh: the installed inngest_pg.so of $t is not the one built" >&2; exit 1; }
	echo "installed $root$SYS_PKGLIBDIR/inngest_pg.so ($(md5sum <"$src/inngest_pg.so" | cut -c1-12)); objects: $(find "$src/src" -name '*.o' | wc -l)"
}
build_tree A "$REV_A"
build_tree B "$REV_B"
cmp -s "$TMP/src/A/inngest_pg.so" "$TMP/src/B/inngest_pg.so" &&
	echo "note: A and B built the same inngest_pg.so"

echo
echo "== build bench/bench_runs, bench/bench_flow (from B) =="
make -C "$TMP/src/B" -s PG_CONFIG="$PG_CONFIG" bench/bench_runs bench/bench_flow
BENCH_RUNS=$TMP/src/B/bench/bench_runs
BENCH_FLOW=$TMP/src/B/bench/bench_flow

bindir_of() { echo "$TMP/$1$SYS_BINDIR"; }

# ---------------------------------------------------------------------------
# the cluster
# ---------------------------------------------------------------------------
. "$REPO/scripts/bench_lib.sh"
PORT=$(bench_free_port)
CONN="host=$RUN port=$PORT user=$PGUSER_NAME"
bench_initdb "$(bindir_of A)" "$DATA" "$RUN" "$PORT" \
	"scripts/bench_compare.sh (inngest.database is given at each start)"

psql_db() {
	local db=$1
	shift
	"$SYS_BINDIR/psql" -X -q -A -t -v ON_ERROR_STOP=1 -d "$CONN dbname=$db" "$@"
}

# start T DB LOG: the cluster with tree T's binaries, workers in DB
start_cluster() {
	local t=$1 db=$2 log=$3 bin pid mapped
	bin=$(bindir_of "$t")
	CUR_LOG=$log
	CUR_BIN=$bin
	as_pg "$bin/pg_ctl" -D "$DATA" -l "$log" -w -t 120 \
		-o "-c inngest.database=$db" start >/dev/null
	pid=$(head -n 1 "$DATA/postmaster.pid")
	mapped=$(awk '$6 ~ /inngest_pg\.so$/ { print $6; exit }' "/proc/$pid/maps")
	if [ "$mapped" != "$TMP/$t$SYS_PKGLIBDIR/inngest_pg.so" ]; then
		echo "bench_compare.sh: the postmaster ($pid) of $t has mapped '${mapped:-no inngest_pg.so}'," \
			"not $TMP/$t$SYS_PKGLIBDIR/inngest_pg.so" >&2
		exit 1
	fi
	echo "postmaster $pid: $(readlink "/proc/$pid/exe"), maps $mapped"
	echo "  pg_config view: $(psql_db "$db" -c "SELECT string_agg(name || '=' || setting, ' ') FROM pg_config WHERE name IN ('PKGLIBDIR', 'SHAREDIR')")"
}

stop_cluster() {
	as_pg "$CUR_BIN/pg_ctl" -D "$DATA" -m fast -w -t 120 stop >/dev/null
	CUR_BIN=
}

# the first run's database, empty (the workers of the first start wait in it)
start_cluster A postgres "$RUN/logs/setup.log" >/dev/null
psql_db postgres -c "CREATE DATABASE bench_1"
stop_cluster

# The errors and warnings of a log, without the workers' ends at "pg_ctl
# stop -m fast" (FATAL: terminating background worker ... due to
# administrator command), which every stop logs.
PROBLEM='(ERROR|FATAL|PANIC|WARNING):'
log_problems() {
	grep -vE 'FATAL: +terminating background worker "inngest_pg (supervisor|launcher|executor)" due to administrator command' "$1" || true
}

TOTAL=$((2 * ROUNDS))
for ((i = 1; i <= TOTAL; i++)); do
	if ((i % 2)); then t=A; rev=$REV_A_NAME; else t=B; rev=$REV_B_NAME; fi
	round=$(((i + 1) / 2))
	db=bench_$i
	log=$RUN/logs/run$i-$t.log
	echo
	echo "################################################################"
	echo "## run $i of $TOTAL: round $round, $t = $rev, database $db ($(date +%T), load $(cut -d' ' -f1-3 /proc/loadavg))"
	echo "################################################################"
	t0=$(date +%s)
	start_cluster "$t" "$db" "$log"
	if [ "$i" -gt 1 ]; then
		psql_db postgres -c "DROP DATABASE bench_$((i - 1))"
	fi
	psql_db "$db" -c "CREATE EXTENSION inngest_pg"
	if [ $DO_RUNS -eq 1 ]; then
		echo
		echo "== bench_runs ${RUNS_OPTS[*]} =="
		"$BENCH_RUNS" -d "$CONN dbname=$db" "${RUNS_OPTS[@]}" | tee "$OUT/$i.$t.runs"
	fi
	if [ $DO_FLOW -eq 1 ]; then
		echo
		echo "== bench_flow ${FLOW_OPTS[*]} =="
		"$BENCH_FLOW" -d "$CONN dbname=$db" "${FLOW_OPTS[@]}" | tee "$OUT/$i.$t.flow"
	fi
	# the next run's database, empty: its workers start in it
	psql_db postgres -c "CREATE DATABASE bench_$((i + 1))"
	stop_cluster
	echo
	echo "run $i ($t) took $(($(date +%s) - t0)) s"
	n=$(log_problems "$log" | grep -cE "$PROBLEM" || true)
	if [ "$n" -gt 0 ]; then
		echo "== the PostgreSQL log of run $i has errors or warnings: $n (first 20) =="
		log_problems "$log" | grep -E "$PROBLEM" -A 12 |
			grep -E '(ERROR|FATAL|PANIC|WARNING|DETAIL|HINT|CONTEXT|STATEMENT):|^\s|^--' |
			awk '/(ERROR|FATAL|PANIC|WARNING):/ { n++ } n <= 20' | head -n 200
	fi
done
CUR_LOG=

# ---------------------------------------------------------------------------
# summary
# ---------------------------------------------------------------------------
# Each output line "label:   value [unit]" of a figure becomes
# "tree<TAB>run<TAB>prog<TAB>section<TAB>label<TAB>unit<TAB>value".  Left out:
# the setup section, counts without a unit (except keyed / unkeyed),
# durations that are settings, per-round lines of bench_flow (it prints
# their means) and values that are not one number.
extract() {
	local f=$1 base tree run prog
	base=$(basename "$f")
	run=${base%%.*}
	tree=${base#*.}
	tree=${tree%%.*}
	prog=${base##*.}
	awk -v tree="$tree" -v run="$run" -v prog="$prog" '
		/^== .* ==$/ {
			sec = substr($0, 4, length($0) - 6)
			sub(/:.*/, "", sec); sub(/,.*/, "", sec)
			next
		}
		sec == "setup" || NF < 2 { next }
		{
			line = $0; unit = ""
			if ($NF !~ /^-?[0-9]+(\.[0-9]+)?$/) {
				unit = $NF
				sub(/[ ]+[^ ]+$/, "", line)
			}
			n = split(line, w, " ")
			value = w[n]
			if (value !~ /^-?[0-9]+(\.[0-9]+)?$/) next
			sub(/[ ]+[^ ]+$/, "", line)
			if (line !~ /:$/) next
			label = substr(line, 1, length(line) - 1)
			if (unit == "" && label != "keyed / unkeyed") next
			if (label ~ /^(duration|interval between events|time inside poll queries)$/) next
			if (prog == "flow" && label ~ /^round [0-9]+ /) next
			print tree "\t" run "\t" prog "\t" sec "\t" label "\t" unit "\t" value
		}' "$f"
}

echo
echo "################################################################"
echo "## summary: A = $REV_A_NAME ($(git -C "$REPO" rev-parse --short "$REV_A")), B = $REV_B_NAME ($(git -C "$REPO" rev-parse --short "$REV_B")), medians of $ROUNDS run(s) each"
echo "## bench_runs ${RUNS_OPTS[*]:-}; bench_flow ${FLOW_OPTS[*]:-}"
echo "################################################################"
for f in $(cd "$OUT" && ls | sort -t. -k1,1n -k3,3r); do extract "$OUT/$f"; done |
	awk -F '\t' '
		function median(s,    a, n, i, j, x) {
			n = split(s, a, " ")
			for (i = 2; i <= n; i++) {		# insertion sort, n is small
				x = a[i] + 0
				for (j = i - 1; j >= 1 && a[j] + 0 > x; j--) a[j + 1] = a[j]
				a[j + 1] = x
			}
			return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
		}
		function fmt(v) {
			return v >= 100 || v <= -100 ? sprintf("%.0f", v) : sprintf("%.3g", v)
		}
		{
			key = $3 SUBSEP $4 SUBSEP $5
			if (!(key in unit)) {
				order[++nkeys] = key; unit[key] = $6
				if (!(($3, $5) in secs_of)) secs_of[$3, $5] = $4
				else if (secs_of[$3, $5] != $4) nsec[$3, $5] = 2
			}
			# a figure printed once per round: the mean within the run
			sum[$1, key, $2] += $7; cnt[$1, key, $2]++
			if (!(($1, key, $2) in seen)) { seen[$1, key, $2] = 1; runs[$1, key] = runs[$1, key] " " $2 }
		}
		END {
			printf "%-62s %-10s %10s %10s %7s   %s | %s\n", "figure", "unit", "median A", "median B", "B/A", "A values", "B values"
			for (k = 1; k <= nkeys; k++) {
				key = order[k]
				split(key, p, SUBSEP)
				name = p[1] ": " (nsec[p[1], p[3]] ? p[2] " / " : "") p[3]
				for (tt = 1; tt <= 2; tt++) {
					t = tt == 1 ? "A" : "B"
					vals[t] = ""; shown[t] = ""
					n = split(runs[t, key], r, " ")
					for (i = 1; i <= n; i++) {
						v = sum[t, key, r[i]] / cnt[t, key, r[i]]
						vals[t] = vals[t] " " v; shown[t] = shown[t] " " fmt(v)
					}
					med[t] = vals[t] == "" ? "" : median(vals[t])
				}
				ratio = (med["A"] != "" && med["B"] != "" && med["A"] != 0) ? sprintf("%.3f", med["B"] / med["A"]) : "-"
				printf "%-62s %-10s %10s %10s %7s  %s |%s\n", name, unit[key],
					med["A"] == "" ? "-" : fmt(med["A"]), med["B"] == "" ? "-" : fmt(med["B"]),
					ratio, shown["A"], shown["B"]
			}
		}'
echo "(rates: higher is better; times, latencies and WAL bytes: lower is better)"

echo
count_problems() {
	local f n=0
	for f in "$@"; do n=$((n + $(log_problems "$f" | grep -cE "$PROBLEM" || true))); done
	echo "$n"
}
echo "errors/warnings in the PostgreSQL logs (besides the workers' ends at each stop):" \
	"A $(count_problems "$RUN"/logs/run*-A.log), B $(count_problems "$RUN"/logs/run*-B.log)"
echo "wall time: $(($(date +%s) - T_START)) s; load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
