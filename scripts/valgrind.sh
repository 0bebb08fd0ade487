#!/usr/bin/env bash
# scripts/valgrind.sh [TEST...]: the pg_regress suite (every file of
# test/sql, or the TESTs named, e.g. "limits waits") with its temporary
# server under Valgrind's memcheck.  Slow (see README, "Tests"): it is not
# part of scripts/test.sh.
#
#   1. install missing Debian packages (scripts/deps.sh, valgrind included)
#   2. make clean; make ASSERTS=1 COPT="-O0 -g" (exact lines in the
#      reports); make install into a private copy of the PostgreSQL
#      installation (its bin, lib and share directories, under the same
#      paths in a work directory: PostgreSQL finds its files relative to
#      its programs).  The system's installation is left alone, so the
#      script can run beside other builds and tests of inngest_pg.
#   3. make installcheck for the regression tests only (TAP_TESTS=
#      ISOLATION=), as scripts/test.sh runs them, with pg_regress's --bindir
#      pointing at a directory whose "postgres" runs the copy's under
#      valgrind --tool=memcheck with test/valgrind.supp (the false positives
#      of a stock PostgreSQL 15 server); initdb, psql and pg_ctl are the
#      copy's own.  initdb refuses to run as root, so as root the work
#      directory belongs to "postgres" and the tests run as that user.
#   4. read every process's Valgrind log back: each error reported is
#      counted, and printed in full if a frame of its stack, or of the
#      stack where the bad memory came from, is in inngest_pg (its sources
#      or inngest_pg.so).
#
# The last line is the summary, "valgrind: N errors in inngest_pg code, ...";
# the exit status is non-zero if N > 0, if a test failed or if Valgrind did
# not run.  The logs are kept (their directory is printed) if anything
# failed or INNGEST_VALGRIND_KEEP=1.
#
# Environment: PG_CONFIG (default: PostgreSQL 15's), VALGRIND_OPTS (more
# options for valgrind), INNGEST_VALGRIND_TIMEOUT (seconds for the whole
# run, default 14400), INNGEST_VALGRIND_KEEP.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

TIMEOUT=${INNGEST_VALGRIND_TIMEOUT:-14400}
KEEP=${INNGEST_VALGRIND_KEEP:-0}
WORK=""
RUN_AS=()
RUN_PID=""
START=$(date +%s)

# Stop a postmaster left in our work directory (found by its pid file)
stop_leftover_servers() {
	local pidfile
	[ -n "$WORK" ] && [ -d "$WORK/tree" ] || return 0
	while IFS= read -r pidfile; do
		echo "valgrind.sh: stopping leftover server in $(dirname "$pidfile")"
		"${RUN_AS[@]}" "$PG_BINDIR/pg_ctl" -D "$(dirname "$pidfile")" \
			-m immediate -w -t 120 stop >/dev/null 2>&1 || true
	done < <(find "$WORK/tree" -name postmaster.pid 2>/dev/null)
}

descendants() {
	local p
	for p in $(pgrep -P "$1" 2>/dev/null); do
		descendants "$p"
		echo "$p"
	done
}

finish() {
	local rc=$? pids
	set +e
	if [ -n "$RUN_PID" ]; then
		# the run was interrupted: stop it, by process id
		pids=$(descendants "$RUN_PID")
		# shellcheck disable=SC2086
		[ -n "$pids" ] && kill -TERM $pids 2>/dev/null
		wait "$RUN_PID" 2>/dev/null
	fi
	stop_leftover_servers
	if [ -n "$WORK" ]; then
		if [ "$KEEP" = 1 ] || [ $rc -ne 0 ]; then
			echo "valgrind.sh: logs kept in $WORK/valgrind"
		else
			rm -rf "$WORK"
		fi
	fi
	exit $rc
}
trap finish EXIT
trap 'echo; echo "valgrind.sh: interrupted"; exit 130' INT TERM

section() { echo; echo "=== $* ==="; }

section "dependencies"
source "$ROOT/scripts/deps.sh"
PG_CONFIG=${PG_CONFIG:-$(inngest_pg_config)}
PG_BINDIR=$("$PG_CONFIG" --bindir)
echo "using $("$PG_CONFIG" --version) and $(valgrind --version)"

# the tests to run: all of test/sql by default
TESTS=()
if [ $# -gt 0 ]; then
	for t in "$@"; do
		t=${t##*/}
		t=${t%.sql}
		[ -f "test/sql/$t.sql" ] || { echo "valgrind.sh: no test/sql/$t.sql" >&2; exit 2; }
		TESTS+=("$t")
	done
else
	for f in test/sql/*.sql; do
		t=${f##*/}
		TESTS+=("${t%.sql}")
	done
fi

# The work directory: the private installation, a copy of the tree to run
# in, the wrapper's bindir and the logs.  As root, it belongs to
# "postgres", who runs the tests.
WORK=$(mktemp -d /tmp/inngest_pg_valgrind.XXXXXX)
mkdir "$WORK/inst" "$WORK/tree" "$WORK/bin" "$WORK/valgrind"

section "build (make ASSERTS=1 COPT=\"-O0 -g\") and install into $WORK/inst"
make -s clean PG_CONFIG="$PG_CONFIG" >/dev/null
make -s ASSERTS=1 COPT="-O0 -g" PG_CONFIG="$PG_CONFIG"
PG_PKGLIBDIR=$("$PG_CONFIG" --pkglibdir)
PG_SHAREDIR=$("$PG_CONFIG" --sharedir)
tar -C / -cf - "${PG_BINDIR#/}" "${PG_PKGLIBDIR#/}" "${PG_SHAREDIR#/}" |
	tar -C "$WORK/inst" -xf -
make -s install PG_CONFIG="$PG_CONFIG" DESTDIR="$WORK/inst"
INST_BINDIR=$WORK/inst$PG_BINDIR
tar -C "$ROOT" --exclude=./.git -cf - . | tar -C "$WORK/tree" -xf -

# pg_regress's bindir: the copy's programs, but "postgres" under memcheck.
# Frames are matched by the sources' full paths (--fullpath-after=).
for f in "$INST_BINDIR"/*; do
	ln -s "$f" "$WORK/bin/$(basename "$f")"
done
rm "$WORK/bin/postgres"
cat >"$WORK/bin/postgres" <<EOF
#!/bin/sh
# postgres under Valgrind's memcheck: one log per process (forked backends
# included), written by scripts/valgrind.sh
exec valgrind --tool=memcheck --trace-children=yes --track-origins=yes \\
	--num-callers=40 --error-limit=no --leak-check=no --fullpath-after= \\
	--gen-suppressions=all --suppressions="$WORK/tree/test/valgrind.supp" \\
	--log-file="$WORK/valgrind/%p.log" ${VALGRIND_OPTS:-} \\
	"$INST_BINDIR/postgres" "\$@"
EOF
chmod 755 "$WORK/bin/postgres"

if [ "$(id -u)" -eq 0 ]; then
	chown -R postgres:postgres "$WORK"
	RUN_AS=(runuser -u postgres --)
fi

section "pg_regress under valgrind: ${TESTS[*]}"
# the server takes a while to start under valgrind; pg_regress and pg_ctl
# wait PGCTLTIMEOUT seconds for it
rc=0
(
	cd "$WORK/tree" &&
		"${RUN_AS[@]}" env PGCTLTIMEOUT=600 timeout --kill-after=60 "$TIMEOUT" \
			make installcheck PG_CONFIG="$PG_CONFIG" TAP_TESTS= ISOLATION= \
			REGRESS="${TESTS[*]}" EXTRA_REGRESS_OPTS="--bindir=$WORK/bin" 2>&1 |
		tee "$WORK/regress.log"
) &
RUN_PID=$!
wait "$RUN_PID" || rc=$?
RUN_PID=""

r_ok=$(grep -cE '^(test +)?[ ]*[^ ]+ +\.\.\. +ok( |$)' "$WORK/regress.log" || true)
r_fail=$(grep -cE '\.\.\. +FAILED' "$WORK/regress.log" || true)
if [ $rc -ne 0 ] && [ "$r_fail" -eq 0 ]; then
	r_fail=1 # pg_regress itself failed (server start, timeout...)
fi
if [ -s "$WORK/tree/regression.diffs" ]; then
	section "regression.diffs (first 100 lines)"
	head -n 100 "$WORK/tree/regression.diffs"
fi

# ---- the Valgrind logs ------------------------------------------------------
# A log holds blocks of "==PID== " lines separated by empty ones; an error
# is a block with a stack ("at 0x...") other than the header and the
# summaries; --gen-suppressions=all adds its suppression, unprefixed, after
# it.  Ours: a frame in inngest_pg.so or in one of the sources of $ROOT/src
# (also where the memory was allocated, for --track-origins).
section "valgrind errors in inngest_pg code"
root_re=$(printf '%s' "$ROOT" | sed 's/[.*+?(){}|$]/[&]/g')
ours_re="inngest_pg[.]so|$root_re/src/[a-z_]+[.][ch]:"
shopt -s nullglob
logs=("$WORK"/valgrind/*.log)
shopt -u nullglob
read -r n_logs n_errors n_ours n_total n_suppressed < <(
	awk -v ours_re="$ours_re" -v ours_out="$WORK/ours.txt" \
		-v others_out="$WORK/others.txt" '
	function flush() {
		if (block != "" && block ~ /\n *(at|by) 0x/ &&
			first !~ /^(Memcheck|Copyright|Using Valgrind|Command|Parent PID|HEAP SUMMARY|LEAK SUMMARY|ERROR SUMMARY|For lists|For counts|Warning)/) {
			errors++
			if (block ~ ours_re) {
				ours++
				printf "--- %s\n%s\n", FILENAME, block > ours_out
			} else
				printf "--- %s\n%s%s\n", FILENAME, block, supp > others_out
		}
		block = ""; first = ""; supp = ""; pending = 0
	}
	FNR == 1 { flush(); logs++ }
	/^==[0-9]+== / || /^==[0-9]+==$/ {
		line = $0
		sub(/^==[0-9]+== ?/, "", line)
		if (line ~ /^ERROR SUMMARY: /) {
			split(line, w, " ")
			total += w[3]
			if (match(line, /suppressed: [0-9]+/))
				suppressed += substr(line, RSTART + 12, RLENGTH - 12)
		}
		if (line == "") {
			# the suppression after an error follows an empty line
			if (block != "") pending = 1
			next
		}
		if (pending) { flush(); pending = 0 }
		if (block == "") first = line
		block = block line "\n"
		next
	}
	{ supp = supp $0 "\n" }
	END { flush(); printf "%d %d %d %d %d\n", logs, errors, ours, total, suppressed }
	' /dev/null "${logs[@]}"
)

if [ -s "$WORK/ours.txt" ]; then
	cat "$WORK/ours.txt"
else
	echo "(none)"
fi
if [ -s "$WORK/others.txt" ]; then
	# not ours, not a known false positive: worth a look
	KEEP=1
	echo
	echo "$((n_errors - n_ours)) errors elsewhere, with suppressions, in $WORK/others.txt"
fi

# An error is one context (stack) in one process, as Valgrind prints it;
# the same one again in the process is an occurrence.
elapsed=$(($(date +%s) - START))
echo
echo "valgrind: $n_ours errors in inngest_pg code, $n_errors in all" \
	"($n_total occurrences; $n_suppressed suppressed, known false positives)" \
	"in $n_logs server processes; $r_ok tests passed, $r_fail failed;" \
	"$((elapsed / 60)) min $((elapsed % 60)) s"

[ "$n_logs" -gt 0 ] || { echo "valgrind.sh: valgrind wrote no log" >&2; exit 1; }
[ "$n_ours" -eq 0 ] && [ "$r_fail" -eq 0 ] && [ $rc -eq 0 ]
