// Many threads on one handle.
//
// Property: with P producer threads and C consumer threads sharing one Queue
// handle, every message is received exactly once and each producer's
// messages arrive in the order it sent them. Proof: each message carries
// (producer, sequence); consumers record what they got; afterwards every
// (producer, sequence) pair appears exactly once, and within each consumer's
// record each producer's sequences increase (a consumer sees one producer's
// messages in FIFO order, since the queue is FIFO and the consumer's takes
// are ordered).
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "ringbuf/queue.h"
#include "tests/test_util.h"

namespace ringbuf {
namespace {

TEST(ThreadsTest, ManyThreadsOnOneHandleDeliverEachMessageOnceInOrder) {
  testing::ScopedQueueName name;
  constexpr int kProducers = 4;
  constexpr int kConsumers = 3;
  constexpr int kPerProducer = 20000;
  Options o;
  o.capacity = 16;  // small, so producers block and wake often
  o.slot_size = 32;
  absl::StatusOr<Queue> q = Queue::Create(name, o);
  ASSERT_TRUE(q.ok()) << q.status();

  std::vector<std::vector<std::pair<int, int>>> got(kConsumers);
  std::atomic<int> remaining{kProducers * kPerProducer};
  std::vector<std::thread> threads;
  for (int c = 0; c < kConsumers; ++c) {
    threads.emplace_back([&, c] {
      std::string msg;
      while (remaining.load() > 0) {
        absl::Status s = q->ReceiveFor(&msg, absl::Milliseconds(50));
        // Nothing in time, or another consumer held the lock throughout.
        if (absl::IsDeadlineExceeded(s) || absl::IsUnavailable(s)) continue;
        ASSERT_TRUE(s.ok()) << s;
        std::vector<std::string> parts = absl::StrSplit(msg, ':');
        ASSERT_EQ(parts.size(), 2u);
        int p = 0, seq = 0;
        ASSERT_TRUE(absl::SimpleAtoi(parts[0], &p));
        ASSERT_TRUE(absl::SimpleAtoi(parts[1], &seq));
        got[c].emplace_back(p, seq);
        remaining.fetch_sub(1);
      }
    });
  }
  for (int p = 0; p < kProducers; ++p) {
    threads.emplace_back([&, p] {
      for (int i = 0; i < kPerProducer; ++i) {
        ASSERT_TRUE(q->SendFor(absl::StrCat(p, ":", i), absl::Seconds(60)).ok());
      }
    });
  }
  for (std::thread& t : threads) t.join();

  std::vector<std::vector<int>> count(kProducers,
                                      std::vector<int>(kPerProducer, 0));
  for (int c = 0; c < kConsumers; ++c) {
    std::vector<int> last(kProducers, -1);
    for (auto [p, seq] : got[c]) {
      ASSERT_LT(p, kProducers);
      ASSERT_LT(seq, kPerProducer);
      EXPECT_GT(seq, last[p]) << "consumer " << c << " producer " << p;
      last[p] = seq;
      ++count[p][seq];
    }
  }
  for (int p = 0; p < kProducers; ++p) {
    for (int i = 0; i < kPerProducer; ++i) {
      ASSERT_EQ(count[p][i], 1) << "producer " << p << " seq " << i;
    }
  }
  EXPECT_EQ(q->GetStats().depth, 0u);
}

}  // namespace
}  // namespace ringbuf
