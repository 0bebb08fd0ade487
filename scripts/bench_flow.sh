#!/usr/bin/env bash
# scripts/bench_flow.sh: the benchmark of concurrency keys
# (bench/bench_flow.c): runs/s of a one-step function with a concurrency
# key over 1,000 keys against the same function without one, and the start
# latency of other keys' runs with 100,000 runs queued behind one busy key,
# in a throwaway cluster with the background workers
# (scripts/bench_cluster.sh).  Prints numbers; asserts no timing.
#
#   bash scripts/bench_flow.sh [bench_flow options...]   e.g.  -n 50000 -r 3 -q 10000
#
# Environment: see scripts/bench_cluster.sh.
exec bash "$(dirname "$0")/bench_cluster.sh" bench_flow "$@"
