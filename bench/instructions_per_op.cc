// Uncontended TrySend + TryReceive of 64 B, N times, in one thread: the
// program whose instruction count, under callgrind, measures the cost of one
// send/receive pair on the fast path (docs/design.md §8). Needs valgrind
// (bench/run_benchmarks.sh installs it):
//
//   ./bazelw build -c opt //bench:instructions_per_op
//   for n in 100000 200000; do valgrind --tool=callgrind
//     --callgrind-out-file=/dev/null bazel-bin/bench/instructions_per_op $n
//     2>&1 | grep refs; done      (one line)
//
// (instructions at 200000 - at 100000) / 100000 = instructions per pair;
// the difference cancels start-up and queue creation. An optional second
// argument is Options::priorities (the pairs use priority 0).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "ringbuf/queue.h"

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: %s ITERATIONS [PRIORITIES]\n", argv[0]);
    return 2;
  }
  const long iterations = std::atol(argv[1]);
  ringbuf::Options options;
  options.capacity = 16;
  options.slot_size = 64;
  if (argc == 3) options.priorities = std::atoi(argv[2]);
  const std::string name = absl::StrCat("/ringbuf_ipo_", getpid());
  ringbuf::Queue::Remove(name).IgnoreError();
  absl::StatusOr<ringbuf::Queue> queue = ringbuf::Queue::Create(name, options);
  if (!queue.ok()) {
    std::fprintf(stderr, "%s\n", queue.status().ToString().c_str());
    return 1;
  }
  const std::string message(64, 'x');
  std::string received;
  int status = 0;
  for (long i = 0; i < iterations; ++i) {
    absl::Status s = queue->TrySend(message);
    if (s.ok()) s = queue->TryReceive(&received);
    if (!s.ok()) {
      std::fprintf(stderr, "%s\n", s.ToString().c_str());
      status = 1;
      break;
    }
  }
  ringbuf::Queue::Remove(name).IgnoreError();
  return status;
}
