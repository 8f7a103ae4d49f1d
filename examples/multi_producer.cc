// The main demo: several producer processes and one consumer process move a
// fixed number of messages through one queue; the consumer verifies that
// every message arrived exactly once and in per-producer order, and the
// parent prints the verified result with the rate.
//
//   ./bazelw run //examples:multi_producer
#include <sys/wait.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "ringbuf/queue.h"

namespace {

constexpr int kProducers = 4;
constexpr uint64_t kPerProducer = 500000;
constexpr uint32_t kMessageSize = 64;

// A message: producer id, its sequence number, then filler derived from both
// so a torn or mixed-up message is caught, not just a missing one.
struct Message {
  uint32_t producer;
  uint32_t pad;
  uint64_t seq;
  char filler[kMessageSize - 16];
};
static_assert(sizeof(Message) == kMessageSize, "");

void Fill(Message* m) {
  std::memset(m->filler, static_cast<int>('a' + (m->seq + m->producer) % 26),
              sizeof(m->filler));
}

int Produce(const std::string& name, uint32_t id) {
  absl::StatusOr<ringbuf::Queue> queue = ringbuf::Queue::Open(name);
  if (!queue.ok()) {
    std::fprintf(stderr, "producer %u: %s\n", id, queue.status().ToString().c_str());
    return 1;
  }
  Message m{};
  m.producer = id;
  for (uint64_t seq = 0; seq < kPerProducer; ++seq) {
    m.seq = seq;
    Fill(&m);
    absl::Status s = queue->SendFor(
        absl::string_view(reinterpret_cast<const char*>(&m), sizeof(m)),
        absl::Seconds(30));
    if (!s.ok()) {
      std::fprintf(stderr, "producer %u: %s\n", id, s.ToString().c_str());
      return 1;
    }
  }
  return 0;
}

int Consume(const std::string& name) {
  absl::StatusOr<ringbuf::Queue> queue = ringbuf::Queue::Open(name);
  if (!queue.ok()) {
    std::fprintf(stderr, "consumer: %s\n", queue.status().ToString().c_str());
    return 1;
  }
  std::vector<uint64_t> next(kProducers, 0);
  std::string bytes;
  Message expected{};
  for (uint64_t n = 0; n < kProducers * kPerProducer; ++n) {
    absl::Status s = queue->ReceiveFor(&bytes, absl::Seconds(30));
    if (!s.ok()) {
      std::fprintf(stderr, "consumer: %s\n", s.ToString().c_str());
      return 1;
    }
    Message m;
    if (bytes.size() != sizeof(m)) {
      std::fprintf(stderr, "consumer: message of %zu bytes\n", bytes.size());
      return 1;
    }
    std::memcpy(&m, bytes.data(), sizeof(m));
    if (m.producer >= kProducers || m.seq != next[m.producer]) {
      std::fprintf(stderr,
                   "consumer: producer %u sent seq %" PRIu64
                   " where %" PRIu64 " was due: lost, duplicated or reordered\n",
                   m.producer, m.seq,
                   m.producer < kProducers ? next[m.producer] : 0);
      return 1;
    }
    expected.producer = m.producer;
    expected.seq = m.seq;
    Fill(&expected);
    if (std::memcmp(m.filler, expected.filler, sizeof(m.filler)) != 0) {
      std::fprintf(stderr, "consumer: torn message\n");
      return 1;
    }
    ++next[m.producer];
  }
  return 0;
}

}  // namespace

int main() {
  const std::string name = absl::StrCat("ringbuf-multi-producer-", getpid());
  ringbuf::Options options;
  options.capacity = 1024;
  options.slot_size = kMessageSize;
  (void)ringbuf::Queue::Remove(name);
  absl::StatusOr<ringbuf::Queue> queue = ringbuf::Queue::Create(name, options);
  if (!queue.ok()) {
    std::fprintf(stderr, "%s\n", queue.status().ToString().c_str());
    return 1;
  }
  std::printf("multi_producer: %d producer processes -> 1 consumer process, "
              "%" PRIu64 " messages of %u bytes through %s (capacity %" PRIu64
              ")\n",
              kProducers, kProducers * kPerProducer, kMessageSize,
              queue->name().c_str(), options.capacity);
  std::fflush(stdout);

  const absl::Time start = absl::Now();
  std::vector<pid_t> children;
  pid_t consumer = fork();
  if (consumer == 0) _exit(Consume(name));
  children.push_back(consumer);
  for (uint32_t id = 0; id < kProducers; ++id) {
    pid_t pid = fork();
    if (pid == 0) _exit(Produce(name, id));
    children.push_back(pid);
  }
  bool ok = true;
  for (pid_t pid : children) {
    int status = 0;
    waitpid(pid, &status, 0);
    ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  const ringbuf::Stats stats = queue->GetStats();
  (void)ringbuf::Queue::Remove(name);

  const uint64_t total = kProducers * kPerProducer;
  if (!ok || stats.total_received != total || stats.depth != 0) {
    std::printf("multi_producer: FAILED (received %" PRIu64 " of %" PRIu64 ")\n",
                stats.total_received, total);
    return 1;
  }
  std::printf("multi_producer: verified %" PRIu64
              " messages: each exactly once, in per-producer order, none torn\n",
              total);
  std::printf("multi_producer: %.2f s, %.2f M messages/s, %.1f MB/s\n", seconds,
              total / seconds / 1e6, total * kMessageSize / seconds / 1e6);
  return 0;
}
