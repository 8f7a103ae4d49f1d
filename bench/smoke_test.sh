#!/usr/bin/env bash
# Smoke test of //bench:queue_benchmark (run by `bazel test //...`): every
# transport, 1->1 and 4->1, 64-byte messages, capacity 16 (and 4->1 with
# mixed priorities, unpinned, capacity 1024), a few thousand
# messages (RINGBUF_BENCH_SMOKE=1), one run each, in every placement the
# machine allows (split needs two CPUs). Passes only if the binary exits 0
# and no row failed. A peer the sandbox does not provide (say POSIX mq, if
# mq_open is walled off) or a geometry it cannot have (the busy-poll SPSC
# ring beyond 1->1, or not on two CPUs) reports "unavailable: <why>":
# smoke_check.py prints the reason and skips that row instead of failing.
#
# Usage: smoke_test.sh <queue_benchmark> <smoke_check.py>
set -euo pipefail

readonly binary=$1 check=$2
readonly out="${TEST_TMPDIR:-$(mktemp -d)}/smoke.json"

readonly filter='^BM_Throughput/[^/]+/place:[a-z]+/p:(1/c:1|4/c:1)/size:64/cap:16/|^BM_MixedPriority/[^/]+/place:none/prio:4/p:4/c:1/'
placements=none,same
if (($(nproc) >= 2)); then placements+=,split; fi
readonly placements

RINGBUF_BENCH_SMOKE=1 "$binary" \
  --placement="$placements" \
  --benchmark_min_time=0 \
  --benchmark_filter="$filter" \
  --benchmark_out="$out" --benchmark_out_format=json

# Every registered transport x (1->1, 4->1) x placements: 5 transports, or 4
# in a build without Boost (the boost_mq peer is optional, see
# third_party/boost.BUILD).
rows=$("$binary" --placement="$placements" --benchmark_list_tests \
         --benchmark_filter="$filter" | wc -l)
want=$((4 * 2 * $(tr ',' '\n' <<<"$placements" | wc -l)))
if ((rows < want)); then
  echo "smoke_test: only $rows rows registered, want at least $want" \
       "(ringbuf, posix_mq, pipe, spsc_busy)" >&2
  exit 1
fi
python3 "$check" "$out" "$rows"
