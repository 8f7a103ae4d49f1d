#!/usr/bin/env bash
# Smoke test of //bench:queue_benchmark (run by `bazel test //...`): every
# transport, 1->1 and 4->1, 64-byte messages, capacity 16, a few thousand
# messages (RINGBUF_BENCH_SMOKE=1), one run each. Passes only if the binary
# exits 0 and no row failed. A peer the sandbox does not provide (say POSIX
# mq, if mq_open is walled off) reports "unavailable: <why>": smoke_check.py
# prints the reason and skips that peer instead of failing. Its capacity is
# whatever the host allows (POSIX mq: msg_max, 10 by default).
#
# Usage: smoke_test.sh <queue_benchmark> <smoke_check.py>
set -euo pipefail

readonly binary=$1 check=$2
readonly out="${TEST_TMPDIR:-$(mktemp -d)}/smoke.json"

readonly filter='^BM_Throughput/[^/]+/p:(1/c:1|4/c:1)/size:64/cap:16/'
RINGBUF_BENCH_SMOKE=1 "$binary" \
  --benchmark_min_time=0 \
  --benchmark_filter="$filter" \
  --benchmark_out="$out" --benchmark_out_format=json

# Every registered transport x (1->1, 4->1): 4 transports, or 3 in a build
# without Boost (the boost_mq peer is optional, see third_party/boost.BUILD).
rows=$("$binary" --benchmark_list_tests --benchmark_filter="$filter" | wc -l)
if ((rows < 6)); then
  echo "smoke_test: only $rows rows registered; want ringbuf, posix_mq and pipe" >&2
  exit 1
fi
python3 "$check" "$out" "$rows"
