#!/usr/bin/env bash
# scripts/test.sh: the test command of inngest_pg (CI's .ci/run calls only
# this).
#
#   1. install missing Debian packages (scripts/deps.sh)
#   2. make clean; make ASSERTS=1 (assertions, -Wall -Wextra -Werror)
#   2a. make cron-diff, make cron-fuzz: the cron core without PostgreSQL;
#       make expr-fuzz: the expression compiler without a server
#   3. make install
#   4. make installcheck: pg_regress (test/sql vs test/expected, in its own
#      --temp-instance) and the TAP tests (test/t/*.pl, real background
#      workers).  initdb refuses to run as root, so as root the tree is
#      copied to a temporary directory owned by "postgres" and the tests run
#      there as that user; otherwise they run in place.
#
# The last line of output is always "N passed, N failed" (pg_regress tests,
# TAP subtests, and the cron core's differential test and fuzzer and the
# expression compiler's fuzzer, one each);
# the exit status is non-zero if anything failed.
#
# Environment: PG_CONFIG (default: PostgreSQL 15's), INNGEST_TEST_TIMEOUT
# (seconds per test phase, default 2400).

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

PASSED=0
FAILED=0
TMPDIR_TESTS=""
LOGDIR=""
RUN_AS=()
PHASE_TIMEOUT=${INNGEST_TEST_TIMEOUT:-2400}

# Stop any postmaster left under our temporary directory (only ours: found
# by the postmaster.pid files of the clusters this script's tests created).
stop_leftover_servers() {
	local dir=$1 pidfile datadir
	[ -n "$dir" ] && [ -d "$dir" ] || return 0
	while IFS= read -r pidfile; do
		datadir=$(dirname "$pidfile")
		echo "test.sh: stopping leftover server in $datadir"
		"${RUN_AS[@]}" "$PG_BINDIR/pg_ctl" -D "$datadir" -m immediate -w stop \
			>/dev/null 2>&1 || true
	done < <(find "$dir" -name postmaster.pid 2>/dev/null)
}

finish() {
	local rc=$?
	set +e
	if [ -n "$TMPDIR_TESTS" ]; then
		stop_leftover_servers "$TMPDIR_TESTS"
		rm -rf "$TMPDIR_TESTS"
	fi
	[ -n "$LOGDIR" ] && rm -rf "$LOGDIR"
	if [ $rc -ne 0 ] && [ "$FAILED" -eq 0 ]; then
		# failed before or outside the tests (deps, build, install, setup)
		FAILED=1
	fi
	echo
	echo "$PASSED passed, $FAILED failed"
	if [ "$FAILED" -ne 0 ] && [ $rc -eq 0 ]; then
		rc=1
	fi
	exit $rc
}
trap finish EXIT

# The test phases run in the background (see run_phase) so that a signal
# reaches this script at once; it stops them, by process id, then exits.
PHASE_PID=""
descendants() {
	local p
	for p in $(pgrep -P "$1" 2>/dev/null); do
		descendants "$p"
		echo "$p"
	done
}
on_signal() {
	trap - INT TERM
	if [ -n "$PHASE_PID" ]; then
		local pids
		pids=$(descendants "$PHASE_PID")
		# shellcheck disable=SC2086
		[ -n "$pids" ] && kill -TERM $pids 2>/dev/null
		for _ in $(seq 1 20); do
			kill -0 "$PHASE_PID" 2>/dev/null || break
			sleep 0.5
		done
		pids=$(descendants "$PHASE_PID")
		# shellcheck disable=SC2086
		[ -n "$pids" ] && kill -KILL $pids 2>/dev/null
	fi
	echo
	echo "test.sh: interrupted"
	exit 130
}
trap on_signal INT TERM

section() { echo; echo "=== $* ==="; }

section "dependencies"
source "$ROOT/scripts/deps.sh"
PG_CONFIG=${PG_CONFIG:-$(inngest_pg_config)}
PG_BINDIR=$("$PG_CONFIG" --bindir)
echo "using $("$PG_CONFIG" --version) ($PG_CONFIG)"

# "make install" writes into PostgreSQL's directories: use sudo when not
# root and they are not writable
SUDO=()
if [ "$(id -u)" -ne 0 ] &&
	! { [ -w "$("$PG_CONFIG" --pkglibdir)" ] &&
		[ -w "$("$PG_CONFIG" --sharedir)/extension" ]; }; then
	SUDO=(sudo)
fi

section "build (make ASSERTS=1)"
make -s clean PG_CONFIG="$PG_CONFIG" >/dev/null
make ASSERTS=1 PG_CONFIG="$PG_CONFIG"

# ---- the cron core and the expression compiler on their own -------------
# Programs built from src/cron.c alone (a differential test against a
# brute-force evaluation, a bounded libFuzzer run) and from src/expr.c with
# stand-ins of the backend functions it calls (a bounded libFuzzer run).
# Each counts as one test; a failure does not stop the other phases.
run_core_test() {
	local name=$1 target=$2 rc=0
	section "$name (make $target)"
	make -s "$target" PG_CONFIG="$PG_CONFIG" || rc=$?
	if [ $rc -eq 0 ]; then
		PASSED=$((PASSED + 1))
		echo "$target: ok"
	else
		FAILED=$((FAILED + 1))
		echo "$target: FAILED"
	fi
}
run_core_test "cron differential test" cron-diff
run_core_test "cron fuzzing" cron-fuzz
run_core_test "expression compiler fuzzing" expr-fuzz

section "install"
"${SUDO[@]}" make -s install PG_CONFIG="$PG_CONFIG"

# Where the tests run, and as whom
if [ "$(id -u)" -eq 0 ]; then
	TMPDIR_TESTS=$(mktemp -d /tmp/inngest_pg_test.XXXXXX)
	tar -C "$ROOT" --exclude=./.git -cf - . | tar -C "$TMPDIR_TESTS" -xf -
	chown -R postgres:postgres "$TMPDIR_TESTS"
	RUN_AS=(runuser -u postgres --)
	TESTDIR=$TMPDIR_TESTS
	echo
	echo "running the tests as user postgres in $TESTDIR"
else
	TESTDIR=$ROOT
fi

# run_phase NAME LOG MAKE-ARGS...: one "make installcheck" in $TESTDIR,
# output shown and kept in LOG; returns make's status.
run_phase() {
	local name=$1 log=$2
	shift 2
	section "$name"
	local rc=0
	(
		set -o pipefail
		cd "$TESTDIR" &&
			"${RUN_AS[@]}" timeout --kill-after=30 "$PHASE_TIMEOUT" \
				make installcheck PG_CONFIG="$PG_CONFIG" "$@" 2>&1 |
			tee "$log"
	) &
	PHASE_PID=$!
	# make's status (pipefail) unless tee failed
	wait "$PHASE_PID" || rc=$?
	PHASE_PID=""
	return $rc
}

LOGDIR=$(mktemp -d /tmp/inngest_pg_logs.XXXXXX)

# ---- pg_regress --------------------------------------------------------
regress_rc=0
run_phase "regression and isolation tests (pg_regress)" "$LOGDIR/regress.log" TAP_TESTS= ||
	regress_rc=$?

# PostgreSQL 15 prints "test NAME ... ok" (serial) / "     NAME ... ok"
# (parallel group); 16+ prints "ok N - NAME" / "not ok N - NAME".
r_ok=$(grep -cE '^(test +)?[ ]*[^ ]+ +\.\.\. +ok( |$)|^ok [0-9]+ +[-+] ' \
	"$LOGDIR/regress.log" || true)
r_fail=$(grep -cE '\.\.\. +FAILED|^not ok [0-9]+ ' "$LOGDIR/regress.log" || true)
r_ign=$(grep -cE '\.\.\. +failed \(ignored\)' "$LOGDIR/regress.log" || true)
r_ok=$((r_ok + r_ign))
if [ $((r_ok + r_fail)) -eq 0 ]; then
	# fall back on the summary line
	if s=$(grep -oE 'All [0-9]+ tests passed' "$LOGDIR/regress.log"); then
		r_ok=$(echo "$s" | grep -oE '[0-9]+' | head -1)
	elif s=$(grep -oE '[0-9]+ of [0-9]+ tests failed' "$LOGDIR/regress.log"); then
		read -r nfail nall < <(echo "$s" | grep -oE '[0-9]+' | tr '\n' ' ')
		r_fail=$nfail
		r_ok=$((nall - nfail))
	fi
fi
if [ $regress_rc -ne 0 ] && [ "$r_fail" -eq 0 ]; then
	r_fail=1 # pg_regress itself failed (initdb, server start, timeout...)
fi
PASSED=$((PASSED + r_ok))
FAILED=$((FAILED + r_fail))
echo "pg_regress: $r_ok passed, $r_fail failed"

if [ $regress_rc -ne 0 ]; then
	if [ -s "$TESTDIR/regression.diffs" ]; then
		section "regression.diffs"
		cat "$TESTDIR/regression.diffs"
	fi
	# isolation specs keep theirs apart
	if [ -s "$TESTDIR/output_iso/regression.diffs" ]; then
		section "output_iso/regression.diffs (isolation)"
		cat "$TESTDIR/output_iso/regression.diffs"
	fi
	# pg_regress keeps the temporary instance's log in ./log on failure
	for f in "$TESTDIR/log/postmaster.log" \
		"$TESTDIR/tmp_check/log/postmaster.log"; do
		if [ -f "$f" ]; then
			section "server log (last 60 lines)"
			tail -n 60 "$f"
			break
		fi
	done
fi

# ---- TAP ----------------------------------------------------------------
tap_rc=0
if compgen -G "$ROOT/test/t/*.pl" >/dev/null; then
	run_phase "TAP tests (prove)" "$LOGDIR/tap.log" REGRESS= ISOLATION= || tap_rc=$?

	# prove: "Files=F, Tests=T, ..." and, per failing file in the summary
	# report, "t/x.pl (Wstat: W Tests: T Failed: F)".
	t_total=$(grep -oE '^Files=[0-9]+, Tests=[0-9]+' "$LOGDIR/tap.log" |
		tail -1 | sed -E 's/.*Tests=//')
	t_total=${t_total:-0}
	t_fail=0
	while IFS= read -r line; do
		f=$(echo "$line" | sed -nE 's/.*Failed: ([0-9]+)\).*/\1/p')
		f=${f:-0}
		# a script that died or ran fewer tests than planned: count it once
		[ "$f" -eq 0 ] && f=1
		t_fail=$((t_fail + f))
	done < <(grep -E '\(Wstat: [0-9]+.*Tests: [0-9]+ Failed: [0-9]+\)' \
		"$LOGDIR/tap.log" || true)
	if [ $tap_rc -ne 0 ] && [ $t_fail -eq 0 ]; then
		t_fail=1 # prove or make failed without a summary (timeout...)
	fi
	t_ok=$((t_total - t_fail))
	[ $t_ok -lt 0 ] && t_ok=0
	PASSED=$((PASSED + t_ok))
	FAILED=$((FAILED + t_fail))
	echo "TAP: $t_ok passed, $t_fail failed"

	# the logs of the failed scripts (all of them if prove said nothing)
	if [ $tap_rc -ne 0 ]; then
		failed_names=$(grep -oE '^[^ ]+\.pl +\(Wstat' "$LOGDIR/tap.log" |
			sed -E 's/^.*\/([^/]+)\.pl.*$/\1/' || true)
		for f in "$TESTDIR"/tmp_check/log/regress_log_*; do
			[ -f "$f" ] || continue
			name=${f##*/regress_log_}
			if [ -n "$failed_names" ] &&
				! grep -qxF "$name" <<<"$failed_names"; then
				continue
			fi
			section "$(basename "$f") (last 80 lines)"
			tail -n 80 "$f"
		done
	fi
else
	echo
	echo "no TAP tests in test/t"
fi

[ $regress_rc -eq 0 ] && [ $tap_rc -eq 0 ] && [ "$FAILED" -eq 0 ]
