#!/usr/bin/env bash
# test/cron/run_fuzz.sh FUZZER [SECONDS]: run the cron core's libFuzzer
# target (make cron-fuzz) for a bounded time, on a scratch copy of the seed
# corpus in test/cron/corpus, so that the repository is left unchanged.
#
# Fails (exit 1) on any crash, sanitizer report (ASan, UBSan), leak or
# timeout, after printing the end of libFuzzer's log and the failing input
# in hex; the input and the log are kept in the scratch directory, whose
# name is printed.  Prints one result line, "cron_fuzz: passed ..." or
# "cron_fuzz: FAILED ...".

set -u

fuzzer=$1
seconds=${2:-30}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d /tmp/cron_fuzz.XXXXXX)
mkdir "$work/corpus"
cp "$here"/corpus/* "$work/corpus/"

rc=0
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
	-max_len=1100 -print_final_stats=1 -artifact_prefix="$work/" \
	"$work/corpus" >"$work/log" 2>&1 || rc=$?

runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$work/log" |
	grep -oE '[0-9]+$' || true)
if [ $rc -eq 0 ]; then
	rm -rf "$work"
	echo "cron_fuzz: passed, ${runs:-?} inputs in ${seconds} s, no crash, leak or undefined behaviour"
	exit 0
fi

tail -n 40 "$work/log"
for f in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
	[ -f "$f" ] || continue
	echo "failing input $f:"
	od -A d -t x1z "$f" | head -n 40
done
echo "cron_fuzz: FAILED (libFuzzer exit status $rc; log and input kept in $work)"
exit 1
