#!/usr/bin/env bash
# test/run_fuzz.sh FUZZER [SECONDS [LIBFUZZER-OPTION...]]: run one of the
# libFuzzer targets (make cron-fuzz, make expr-fuzz) for a bounded time
# (default 30 s), on a scratch copy of the seed corpus next to it
# (test/cron/corpus for test/cron/cron_fuzz), so that the repository is left
# unchanged.  Options after SECONDS go to libFuzzer (-max_len=..., -dict=...).
#
# Fails (exit 1) on any crash, sanitizer report (ASan, UBSan), leak or
# timeout, after printing the end of libFuzzer's log and the failing input
# in hex; the input and the log are kept in the scratch directory, whose
# name is printed.  Prints one result line, "NAME: passed ..." or
# "NAME: FAILED ...", NAME being the fuzzer's file name, after the lines
# the target itself prints starting with "NAME: ".

set -euo pipefail

fuzzer=$1
seconds=${2:-30}
shift $(($# < 2 ? $# : 2))
name=$(basename "$fuzzer")
corpus=$(cd "$(dirname "$fuzzer")" && pwd)/corpus
work=$(mktemp -d "/tmp/$name.XXXXXX")
keep=0
# the scratch directory goes, unless a failure is to be looked at
cleanup() { [ "$keep" -eq 1 ] || rm -rf "$work"; }
trap cleanup EXIT
mkdir "$work/corpus"
cp "$corpus"/* "$work/corpus/"

rc=0
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
	-print_final_stats=1 -artifact_prefix="$work/" "$@" \
	"$work/corpus" >"$work/log" 2>&1 || rc=$?

runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$work/log" |
	grep -oE '[0-9]+$' || true)
if [ $rc -eq 0 ]; then
	grep -E "^$name: " "$work/log" || true
	echo "$name: passed, ${runs:-?} inputs in ${seconds} s, no crash, leak or undefined behaviour"
	exit 0
fi

keep=1
tail -n 40 "$work/log"
for f in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
	[ -f "$f" ] || continue
	echo "failing input $f:"
	od -A d -t x1z "$f" | head -n 40 || true
done
echo "$name: FAILED (libFuzzer exit status $rc; log and input kept in $work)"
exit 1
