#!/usr/bin/env bash
# scripts/bench_waits.sh: the benchmark of waits and sleeps
# (bench/bench_waits.c): the cost of one event insert at 1,000 and at
# 1,000,000 waiting runs, and 10,000 sleeps due at the same second, in a
# throwaway cluster with the background workers (scripts/bench_cluster.sh).
# Prints numbers; asserts no timing.
#
#   bash scripts/bench_waits.sh [bench_waits options...]   e.g.  -W 100000 -k 500
#
# Environment: see scripts/bench_cluster.sh.
exec bash "$(dirname "$0")/bench_cluster.sh" bench_waits "$@"
