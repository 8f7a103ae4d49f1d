// The classic two-process pattern, server half: create a queue and print
// every message that arrives, until SIGINT or SIGTERM.
//
//   bazel-bin/examples/server [NAME]        (default NAME: ringbuf-demo)
//   bazel-bin/examples/client [NAME]        (type lines; each is a message)
#include <csignal>
#include <cstdio>
#include <string>

#include "ringbuf/queue.h"

namespace {
volatile std::sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }
}  // namespace

int main(int argc, char** argv) {
  const std::string name = argc > 1 ? argv[1] : "ringbuf-demo";
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);

  ringbuf::Options options;
  options.capacity = 64;
  options.slot_size = 1024;
  absl::StatusOr<ringbuf::Queue> queue = ringbuf::Queue::Create(name, options);
  if (!queue.ok()) {
    std::fprintf(stderr, "server: %s\n", queue.status().ToString().c_str());
    return 1;
  }
  std::printf("server: listening on %s (Ctrl-C to stop)\n",
              queue->name().c_str());
  std::fflush(stdout);

  std::string message;
  while (!g_stop) {
    // A bounded wait, so the loop notices the stop flag.
    absl::Status s = queue->ReceiveFor(&message, absl::Milliseconds(200));
    // Nothing in time, or another consumer held the lock throughout.
    if (absl::IsDeadlineExceeded(s) || absl::IsUnavailable(s)) continue;
    if (!s.ok()) {
      std::fprintf(stderr, "server: %s\n", s.ToString().c_str());
      break;
    }
    std::printf("server: got %zu bytes: %s\n", message.size(), message.c_str());
    std::fflush(stdout);
  }
  // Detaching is not removing: unlink the name so the next run can create it.
  (void)ringbuf::Queue::Remove(name);
  return 0;
}
