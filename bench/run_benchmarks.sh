#!/usr/bin/env bash
# Runs ringbuf's benchmarks beside its peers (POSIX mq, Boost.Interprocess
# message_queue, a pipe) and the busy-poll SPSC ring that marks the limit,
# and writes to a scratch directory (printed at the end; nothing in the
# checkout changes):
#   benchmark.json   Google Benchmark's JSON output
#   RESULTS.md       a table per workload and placement, ringbuf ÷ each peer,
#                    the machine, the command that reproduces it (report.py)
#   README-table.md  the README's performance table
#   *.png            throughput vs producers and vs message size (gnuplot)
#
# Usage: bench/run_benchmarks.sh [--quick | --full] [--write-readme-results]
#                                [--out DIR]
#   (default) the README's rows: 64 B, capacity 1024; 1->1 and 4->1 with the
#            producers on one CPU and the consumer on another (split) and
#            with every process on one CPU (same); 1->1, 4->1, 16->1 and
#            64->1 unpinned (none); 1->1 and 4->1 with mixed priorities
#            (unpinned, beside POSIX and Boost mq); round trip in each
#            placement; the idle waiter. 10 repetitions of each row, every row's repetitions
#            shuffled among all the others' (so a noisy minute hits every
#            transport alike): about 5 minutes on 2 vCPUs.
#   --quick  the same rows, 3 repetitions, half the messages a run: ~1 min.
#   --full   the whole matrix (P->C in {1->1, 4->1, 4->2} x sizes 8..65536 B x
#            capacities 16 and 1024) in every placement, 3 repetitions: long.
#   --write-readme-results
#            also copy RESULTS.md, benchmark.json and the charts into
#            bench/results/ and put README-table.md into README.md between
#            its bench-table markers (the only way a run changes the checkout).
#   --out DIR  write there instead of a fresh mktemp directory.
#
# Only ratios within one run mean anything on a shared VM: other tenants and
# the host's placement of the vCPUs move absolute figures by 2x from one
# minute to the next. Check `uptime` first and prefer a quiet machine.
#
# As root it raises /proc/sys/fs/mqueue/msg_max and msgsize_max for the run,
# so that the POSIX mq peer can be asked for capacity 1024 and 64 KiB
# messages, and puts them back on exit. Bazel runs with its own output base
# (RINGBUF_BENCH_OUTPUT_BASE, default /tmp/ob_bench) and makes no bazel-*
# symlinks, so it neither waits on nor disturbs the workspace's usual one.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  echo "usage: $0 [--quick | --full] [--write-readme-results] [--out DIR]" >&2
  exit 2
}
mode=readme
write_readme=false
out=""
command=(bench/run_benchmarks.sh)
while (($#)); do
  case "$1" in
    --quick) mode=quick; command+=("$1") ;;
    --full) mode=full; command+=("$1") ;;
    --write-readme-results) write_readme=true ;;
    --out) (($# >= 2)) || usage; out=$2; shift ;;
    *) usage ;;
  esac
  shift
done
readonly mode write_readme
[[ -n $out ]] || out=$(mktemp -d /tmp/ringbuf-bench.XXXXXX)
mkdir -p "$out"
readonly out
readonly bazel=(./bazelw --output_base="${RINGBUF_BENCH_OUTPUT_BASE:-/tmp/ob_bench}")
readonly build_flags=(-c opt --symlink_prefix=/)
SECONDS=0

# ---- Packages -----------------------------------------------------------------
# Beyond what ./bazelw installs: Boost.Interprocess (the boost_mq peer, left
# out of builds without it), gnuplot (report.py's charts) and valgrind
# (callgrind, to count instructions with //bench:instructions_per_op as
# docs/design.md §8 does). When Boost arrives, @boost is re-detected so the
# benchmark is rebuilt with the peer.
./bazelw --packages libboost-dev gnuplot-nox valgrind
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
readme_rows='^BM_Throughput/[^/]+/place:(split|same)/p:(1|4)/c:1/size:64/cap:1024/'
readme_rows+='|^BM_Throughput/[^/]+/place:none/p:(1|4|16|64)/c:1/size:64/cap:1024/'
readme_rows+='|^BM_MixedPriority/|^BM_RoundTrip/|^BM_IdleWait/'
run_env=()
case $mode in
  readme) filter=$readme_rows; repetitions=10; min_time=0.1 ;;
  quick) filter=$readme_rows; repetitions=3; min_time=0.05; run_env=(RINGBUF_BENCH_QUICK=1) ;;
  full) filter='.'; repetitions=3; min_time=0.5 ;;
esac
echo "run_benchmarks: load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
env "${run_env[@]}" "$binary" \
  --placement=split,same,none \
  --benchmark_filter="$filter" \
  --benchmark_min_time="$min_time" \
  --benchmark_repetitions="$repetitions" \
  --benchmark_enable_random_interleaving=true \
  --benchmark_display_aggregates_only=true \
  --benchmark_out="$out/benchmark.json" \
  --benchmark_out_format=json

# ---- Report -----------------------------------------------------------------------
note_args=()
for note in "${notes[@]}"; do note_args+=(--note "$note"); done
python3 bench/report.py "$out/benchmark.json" --out "$out" \
  --command "${command[*]}" "${note_args[@]}"

if $write_readme; then
  mkdir -p bench/results
  cp "$out/RESULTS.md" "$out/benchmark.json" bench/results/
  for png in "$out"/*.png; do [[ -e $png ]] && cp "$png" bench/results/; done
  python3 - "$out/README-table.md" README.md <<'EOF'
import sys
table, readme = sys.argv[1], sys.argv[2]
begin, end = "<!-- bench-table:begin -->", "<!-- bench-table:end -->"
text = open(readme).read()
if begin not in text or end not in text:
    sys.exit(f"run_benchmarks: {readme} lacks the {begin} / {end} markers")
head, rest = text.split(begin, 1)
_, tail = rest.split(end, 1)
open(readme, "w").write(head + begin + "\n" + open(table).read() + end + tail)
EOF
  echo "run_benchmarks: updated README.md's table and bench/results/"
fi
echo "run_benchmarks: $mode run done in ${SECONDS} s; results in $out (README-table.md, RESULTS.md)"
