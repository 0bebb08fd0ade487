#!/usr/bin/env bash
# scripts/bench.sh: the throughput benchmark (bench/bench_runs.c): the
# machine's plain INSERT commit rate as the baseline, then one-step runs per
# second to completion and WAL bytes per run, in a throwaway cluster with the
# background workers (scripts/bench_cluster.sh).  Prints numbers; asserts
# no timing.
#
#   bash scripts/bench.sh [bench_runs options...]    e.g.  -n 50000 -r 3 -m 4
#
# Environment: see scripts/bench_cluster.sh.
exec bash "$(dirname "$0")/bench_cluster.sh" bench_runs "$@"
