// Many processes on one queue.
//
// Property: with 4 producer processes and 2 consumer processes, every message
// is received exactly once and each producer's messages reach each consumer
// in the order they were sent. Proof: each message carries (producer,
// sequence) and padding up to a varying length; consumers count every pair
// in a shared anonymous mapping (fork-inherited), check its padding, and
// exit non-zero if they ever see a producer's sequence go backwards. At the
// end every count is exactly 1.
#include <sys/mman.h>

#include <atomic>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "ringbuf/queue.h"
#include "tests/test_util.h"

namespace ringbuf {
namespace {

constexpr int kProducers = 4;
constexpr int kConsumers = 2;
constexpr int kPerProducer = 20000;

struct Shared {
  std::atomic<int> received;
  std::atomic<uint8_t> count[kProducers][kPerProducer];
};

std::string Encode(int p, int seq) {
  std::string msg = absl::StrFormat("%d:%08d:", p, seq);
  msg.append(seq % 40, static_cast<char>('a' + p));
  return msg;
}

bool Decode(const std::string& msg, int* p, int* seq) {
  if (msg.size() < 11 || std::sscanf(msg.c_str(), "%d:%d:", p, seq) != 2) {
    return false;
  }
  return *p >= 0 && *p < kProducers && *seq >= 0 && *seq < kPerProducer &&
         msg == Encode(*p, *seq);
}

TEST(ProcessesTest, FourProducersTwoConsumersExactlyOnceInProducerOrder) {
  testing::ScopedQueueName name;
  Options o;
  o.capacity = 64;
  o.slot_size = 64;
  ASSERT_TRUE(Queue::Create(name, o).ok());
  void* mem = mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(mem, MAP_FAILED);
  Shared* shared = new (mem) Shared();

  std::vector<pid_t> pids;
  for (int c = 0; c < kConsumers; ++c) {
    pids.push_back(testing::ForkChild([&] {
      absl::StatusOr<Queue> q = Queue::Open(name);
      if (!q.ok()) return 1;
      std::vector<int> last(kProducers, -1);
      std::string msg;
      while (shared->received.load() < kProducers * kPerProducer) {
        absl::Status s = q->ReceiveFor(&msg, absl::Milliseconds(50));
        // Nothing in time, or the other consumer held the lock throughout.
        if (absl::IsDeadlineExceeded(s) || absl::IsUnavailable(s)) continue;
        if (!s.ok()) return 2;
        int p, seq;
        if (!Decode(msg, &p, &seq)) return 3;
        if (seq <= last[p]) return 4;
        last[p] = seq;
        shared->count[p][seq].fetch_add(1);
        shared->received.fetch_add(1);
      }
      return 0;
    }));
  }
  for (int p = 0; p < kProducers; ++p) {
    pids.push_back(testing::ForkChild([&, p] {
      absl::StatusOr<Queue> q = Queue::Open(name);
      if (!q.ok()) return 1;
      for (int i = 0; i < kPerProducer; ++i) {
        if (!q->SendFor(Encode(p, i), absl::Seconds(60)).ok()) return 2;
      }
      return 0;
    }));
  }
  for (pid_t pid : pids) {
    int status = testing::WaitChild(pid, absl::Seconds(120));
    EXPECT_TRUE(testing::ExitedCleanly(status)) << "child status " << status;
  }
  for (int p = 0; p < kProducers; ++p) {
    for (int i = 0; i < kPerProducer; ++i) {
      ASSERT_EQ(shared->count[p][i].load(), 1) << "producer " << p << " seq " << i;
    }
  }
  absl::StatusOr<Queue> q = Queue::Open(name);
  ASSERT_TRUE(q.ok());
  Stats st = q->GetStats();
  EXPECT_EQ(st.total_sent, uint64_t{kProducers * kPerProducer});
  EXPECT_EQ(st.total_received, uint64_t{kProducers * kPerProducer});
  EXPECT_EQ(st.depth, 0u);
  munmap(mem, sizeof(Shared));
}

}  // namespace
}  // namespace ringbuf
