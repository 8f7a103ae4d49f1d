// A two-process round trip through ringbuf, written as any program that uses
// the installed library would be: the parent sends "ping N" on one queue, a
// forked child (which opens the queues by name, like any other process)
// answers "pong N" on another. Exits 0 once every answer came back, in order.
// The cmake/, pkg-config/ and bazel/ consumers build this same file.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "ringbuf/queue.h"
#include "ringbuf/version.h"

namespace {

constexpr int kRounds = 100;
const absl::Duration kTimeout = absl::Seconds(10);

int Fail(const std::string& what, const absl::Status& status) {
  std::fprintf(stderr, "round_trip: %s: %s\n", what.c_str(),
               status.ToString().c_str());
  return 1;
}

// The child: answers each "ping N" with "pong N".
int Answer(const std::string& ping_name, const std::string& pong_name) {
  absl::StatusOr<ringbuf::Queue> ping = ringbuf::Queue::Open(ping_name);
  if (!ping.ok()) return Fail("open " + ping_name, ping.status());
  absl::StatusOr<ringbuf::Queue> pong = ringbuf::Queue::Open(pong_name);
  if (!pong.ok()) return Fail("open " + pong_name, pong.status());
  std::string message;
  for (int i = 0; i < kRounds; ++i) {
    absl::Status status = ping->ReceiveFor(&message, kTimeout);
    if (!status.ok()) return Fail("receive ping", status);
    status = pong->SendFor("pong" + message.substr(4), kTimeout);
    if (!status.ok()) return Fail("send pong", status);
  }
  return 0;
}

}  // namespace

int main() {
  const std::string base = "ringbuf-round-trip-" + std::to_string(getpid());
  const std::string ping_name = base + "-ping", pong_name = base + "-pong";
  ringbuf::Options options;
  options.capacity = 8;
  options.slot_size = 64;
  absl::StatusOr<ringbuf::Queue> ping =
      ringbuf::Queue::Create(ping_name, options);
  if (!ping.ok()) return Fail("create " + ping_name, ping.status());
  absl::StatusOr<ringbuf::Queue> pong =
      ringbuf::Queue::Create(pong_name, options);
  if (!pong.ok()) return Fail("create " + pong_name, pong.status());

  const pid_t child = fork();
  if (child == 0) _exit(Answer(ping_name, pong_name));
  int failed = child < 0;
  std::string answer;
  for (int i = 0; i < kRounds && !failed; ++i) {
    const std::string n = std::to_string(i);
    absl::Status status = ping->SendFor("ping " + n, kTimeout);
    if (status.ok()) status = pong->ReceiveFor(&answer, kTimeout);
    if (!status.ok()) failed = Fail("round " + n, status);
    if (status.ok() && answer != "pong " + n) {
      failed = Fail("round " + n, absl::DataLossError("got " + answer));
    }
  }
  int child_status = 0;
  if (child > 0 && (waitpid(child, &child_status, 0) != child ||
                    !WIFEXITED(child_status) ||
                    WEXITSTATUS(child_status) != 0)) {
    failed = 1;
  }
  ringbuf::Queue::Remove(ping_name).IgnoreError();
  ringbuf::Queue::Remove(pong_name).IgnoreError();
  if (failed) return 1;
  std::printf("round_trip: %d round trips between two processes, ringbuf %s\n",
              kRounds, ringbuf::Version());
  return 0;
}
