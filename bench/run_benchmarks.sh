#!/usr/bin/env bash
# Runs ringbuf's benchmarks beside its peers and writes bench/results/:
#   benchmark.json   Google Benchmark's JSON output
#   RESULTS.md       a table per workload, ringbuf ÷ each peer, the machine,
#                    the command that reproduces it (bench/report.py)
#   *.png            throughput vs producers and vs message size (gnuplot)
#
# Usage: bench/run_benchmarks.sh [--quick]
#   (full)   every row: P->C in {1->1, 4->1, 4->2} x sizes 8, 64, 512, 4096,
#            65536 B x capacities 16 and 1024, then round trip and idle
#            waiter. Each row is 3 repetitions (the report shows the median and
#            the spread), each repeating runs until it has 0.5 s of measured
#            time: roughly 5-10 minutes on 2 cores.
#   --quick  capacity 1024 only, sizes 8, 64, 4096 (and 65536 for 1->1), half
#            the messages per run, 3 repetitions of 0.1 s: about a minute.
#
# As root it raises /proc/sys/fs/mqueue/msg_max and msgsize_max for the run,
# so that the POSIX mq peer can be asked for capacity 1024 and 64 KiB
# messages, and puts them back on exit. Results go to bench/results (or
# $RINGBUF_BENCH_RESULTS). Bazel runs with its own output base
# (RINGBUF_BENCH_OUTPUT_BASE, default /tmp/ob_bench) and makes no bazel-*
# symlinks, so it neither waits on nor disturbs the workspace's usual one.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=full
case "${1:-}" in
  --quick) mode=quick ;;
  "") ;;
  *) echo "usage: $0 [--quick]" >&2; exit 2 ;;
esac
readonly mode
readonly results="${RINGBUF_BENCH_RESULTS:-bench/results}"
readonly bazel=(./bazelw --output_base="${RINGBUF_BENCH_OUTPUT_BASE:-/tmp/ob_bench}")
readonly build_flags=(-c opt --symlink_prefix=/)
SECONDS=0

# ---- Packages -----------------------------------------------------------------
# Beyond what ./bazelw installs: Boost.Interprocess (the boost_mq peer, left
# out of builds without it) and gnuplot (report.py's charts). When Boost
# arrives, @boost is re-detected so the benchmark is rebuilt with the peer.
./bazelw --packages libboost-dev gnuplot-nox
"${bazel[@]}" sync --only=boost

# ---- POSIX mq limits -----------------------------------------------------------
notes=()
restore=()
restore_limits() {
  local entry
  for entry in "${restore[@]}"; do
    echo "${entry#*=}" > "${entry%%=*}" && echo "run_benchmarks: restored ${entry%%=*} to ${entry#*=}"
  done
}
trap restore_limits EXIT

# raise_limit FILE WANTED: raise a /proc/sys limit to WANTED if it is lower.
raise_limit() {
  local file=$1 wanted=$2 had
  had=$(cat "$file")
  if ((had >= wanted)); then
    notes+=("\`$file\` was already $had.")
  elif { echo "$wanted" > "$file"; } 2>/dev/null; then
    restore+=("$file=$had")
    echo "run_benchmarks: raised $file from $had to $wanted for this run"
    notes+=("\`$file\` raised from $had to $wanted by run_benchmarks.sh for the run (restored after).")
  else
    echo "run_benchmarks: could not raise $file (not root?); POSIX mq rows use $had"
    notes+=("\`$file\` could not be raised (not root); it stayed $had.")
  fi
}
raise_limit /proc/sys/fs/mqueue/msg_max 1024
raise_limit /proc/sys/fs/mqueue/msgsize_max 65536

# ---- Build ------------------------------------------------------------------------
"${bazel[@]}" build "${build_flags[@]}" //bench:queue_benchmark
binary="$("${bazel[@]}" info "${build_flags[@]}" bazel-bin)/bench/queue_benchmark"

# ---- Run --------------------------------------------------------------------------
if [[ $mode == quick ]]; then
  filter='^BM_Throughput/[^/]+/p:[0-9]+/c:[0-9]+/size:(8|64|4096)/cap:1024/'
  filter+='|^BM_Throughput/[^/]+/p:1/c:1/size:65536/cap:1024/'
  filter+='|^BM_RoundTrip/|^BM_IdleWait/'
  run_env=(RINGBUF_BENCH_QUICK=1)
  min_time=0.1
  command="bench/run_benchmarks.sh --quick"
else
  filter='.'
  run_env=()
  min_time=0.5
  command="bench/run_benchmarks.sh"
fi
mkdir -p "$results"
env "${run_env[@]}" "$binary" \
  --benchmark_filter="$filter" \
  --benchmark_min_time="$min_time" \
  --benchmark_repetitions=3 \
  --benchmark_display_aggregates_only=true \
  --benchmark_out="$results/benchmark.json" \
  --benchmark_out_format=json

# ---- Report -----------------------------------------------------------------------
note_args=()
for note in "${notes[@]}"; do note_args+=(--note "$note"); done
python3 bench/report.py "$results/benchmark.json" --out "$results" \
  --command "$command" "${note_args[@]}"
echo "run_benchmarks: $mode run done in ${SECONDS} s; see $results/RESULTS.md"
