// The waiting policy (internal/spin.h): a waiter spins only while the party
// that will release it may run on another CPU, judged from the CPU hints
// (IndexLine::poster_cpu, SideLock::holder_cpu), for a budget that adapts.
//
// Property: the hints decide only how a waiter waits, never whether it is
// woken. Proof: waiters pinned to their peer's CPU (so they skip spinning
// and go straight to the futex, which AwaitSleeper observes) are woken by the
// next post or unlock; and with a thread scribbling garbage into every hint
// throughout, producers and consumers still move every message exactly once
// and in per-producer order (closed-form count and sequence checks).
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "ringbuf/internal/spin.h"
#include "ringbuf/queue.h"
#include "tests/test_util.h"

namespace ringbuf {
namespace {

using testing::RawView;
using testing::ScopedQueueName;

// Pins the calling thread (and the threads it then creates) to the CPU it
// runs on; restores its mask when destroyed.
class PinnedToThisCpu {
 public:
  PinnedToThisCpu() {
    CPU_ZERO(&saved_);
    EXPECT_EQ(sched_getaffinity(0, sizeof(saved_), &saved_), 0);
    cpu_ = sched_getcpu();
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu_, &one);
    EXPECT_EQ(sched_setaffinity(0, sizeof(one), &one), 0);
  }
  ~PinnedToThisCpu() { sched_setaffinity(0, sizeof(saved_), &saved_); }
  int cpu() const { return cpu_; }

 private:
  cpu_set_t saved_;
  int cpu_;
};

Queue MakeQueue(const std::string& name, uint64_t capacity) {
  return testing::CreateQueue(name, capacity, /*slot_size=*/32);
}

TEST(WaitingTest, CpuTagIsTheCpuPlusOne) {
  PinnedToThisCpu pin;
  EXPECT_EQ(internal::CurrentCpuTag(), static_cast<uint32_t>(pin.cpu()) + 1);
  EXPECT_FALSE(internal::MayRunBeside(pin.cpu() + 1, pin.cpu() + 1));
  EXPECT_TRUE(internal::MayRunBeside(pin.cpu() + 2, pin.cpu() + 1));
  EXPECT_TRUE(internal::MayRunBeside(0, pin.cpu() + 1));  // never recorded
}

TEST(WaitingTest, SpinBudgetDoublesOnSuccessAndHalvesOnWasteWithinBounds) {
  internal::SpinBudget budget(64, 16, 256);
  budget.Paid();
  EXPECT_EQ(budget.spins(), 128);
  budget.Paid();
  budget.Paid();
  EXPECT_EQ(budget.spins(), 256);  // capped
  for (int i = 0; i < 10; ++i) budget.Wasted();
  EXPECT_EQ(budget.spins(), 16);  // floored: a waiter always looks a little
}

TEST(WaitingTest, ConsumerOnThePostersCpuSleepsAndIsWokenByTheNextSend) {
  ScopedQueueName name;
  PinnedToThisCpu pin;
  Queue q = MakeQueue(name, 4);
  // One exchange records this CPU as the producers' (poster_cpu on tail).
  ASSERT_TRUE(q.Send("first").ok());
  std::string got;
  ASSERT_TRUE(q.Receive(&got).ok());
  ASSERT_EQ(RawView(name).header()->tail.poster_cpu.load(),
            static_cast<uint32_t>(pin.cpu()) + 1);

  absl::Status received;
  std::thread consumer([&] { received = q.ReceiveFor(&got, absl::Seconds(30)); });
  ASSERT_TRUE(testing::AwaitSleeper(name, testing::Side::kReceivers,
                                    absl::Seconds(30)));
  ASSERT_TRUE(q.Send("second").ok());
  consumer.join();
  EXPECT_TRUE(received.ok()) << received;
  EXPECT_EQ(got, "second");
}

TEST(WaitingTest, ProducerOnTheFreersCpuSleepsAndIsWokenByTheNextReceive) {
  ScopedQueueName name;
  PinnedToThisCpu pin;
  Queue q = MakeQueue(name, 1);
  ASSERT_TRUE(q.Send("a").ok());
  std::string got;
  ASSERT_TRUE(q.Receive(&got).ok());  // poster_cpu on head: this CPU
  ASSERT_TRUE(q.Send("b").ok());      // full again

  absl::Status sent;
  std::thread producer([&] { sent = q.SendFor("c", absl::Seconds(30)); });
  ASSERT_TRUE(testing::AwaitSleeper(name, testing::Side::kSenders,
                                    absl::Seconds(30)));
  ASSERT_TRUE(q.Receive(&got).ok());
  producer.join();
  EXPECT_TRUE(sent.ok()) << sent;
  ASSERT_TRUE(q.Receive(&got).ok());
  EXPECT_EQ(got, "c");
}

TEST(WaitingTest, LockWaiterOnTheHoldersCpuGetsTheLockWhenItIsReleased) {
  ScopedQueueName name;
  PinnedToThisCpu pin;
  Queue q = MakeQueue(name, 4);
  absl::StatusOr<Queue::Reservation> held = q.Reserve(absl::Seconds(1));
  ASSERT_TRUE(held.ok()) << held.status();  // holds the send lock
  ASSERT_EQ(RawView(name).header()->send.holder_cpu.load(),
            static_cast<uint32_t>(pin.cpu()) + 1);

  std::atomic<bool> done{false};
  absl::Status sent;
  std::thread producer([&] {
    sent = q.SendFor("after", absl::Seconds(30));
    done = true;
  });
  // Let it reach the lock; whether it is yielding or asleep, the release
  // must let it through.
  for (int i = 0; i < 100 && !done; ++i) sched_yield();
  EXPECT_FALSE(done.load());  // the lock is still ours
  std::memcpy(held->buffer().data(), "held", 4);
  ASSERT_TRUE(held->Commit(4).ok());
  producer.join();
  EXPECT_TRUE(sent.ok()) << sent;
  std::string got;
  ASSERT_TRUE(q.Receive(&got).ok());
  EXPECT_EQ(got, "held");
  ASSERT_TRUE(q.Receive(&got).ok());
  EXPECT_EQ(got, "after");
}

// Every value a peer could leave in the hints: unknown, this CPU, another
// CPU, nonsense.
TEST(WaitingTest, ScribbledHintsChangeNothingButTheWay) {
  ScopedQueueName name;
  constexpr int kProducers = 3;
  constexpr int kPerProducer = 5000;
  Queue q = MakeQueue(name, 8);  // small: both sides block often
  RawView raw(name);
  internal::Header* h = raw.header();

  std::atomic<bool> stop{false};
  std::thread scribbler([&] {
    const uint32_t values[] = {0, internal::CurrentCpuTag(), 1, 2, 0xFFFFFFFF};
    for (uint64_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
      const uint32_t v = values[i % 5];
      h->tail.poster_cpu.store(v, std::memory_order_relaxed);
      h->head.poster_cpu.store(values[(i + 2) % 5], std::memory_order_relaxed);
      h->send.holder_cpu.store(values[(i + 1) % 5], std::memory_order_relaxed);
      h->recv.holder_cpu.store(values[(i + 3) % 5], std::memory_order_relaxed);
      if (i % 64 == 0) sched_yield();
    }
  });
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < kPerProducer; ++i) {
        ASSERT_TRUE(
            q.SendFor(absl::StrCat(p * kPerProducer + i), absl::Seconds(60))
                .ok());
      }
    });
  }
  int count[kProducers] = {};
  std::string msg;
  for (int n = 0; n < kProducers * kPerProducer; ++n) {
    absl::Status s = q.ReceiveFor(&msg, absl::Seconds(60));
    ASSERT_TRUE(s.ok()) << s;
    int tag = -1;
    ASSERT_TRUE(absl::SimpleAtoi(msg, &tag)) << msg;
    const int p = tag / kPerProducer;
    ASSERT_TRUE(p >= 0 && p < kProducers) << msg;
    ASSERT_EQ(tag % kPerProducer, count[p]) << "producer " << p << " out of order";
    ++count[p];
  }
  for (std::thread& t : producers) t.join();
  stop = true;
  scribbler.join();
  EXPECT_EQ(q.GetStats().depth, 0u);
}

}  // namespace
}  // namespace ringbuf
