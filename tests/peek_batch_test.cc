// The forwarding block of queue.h: Queue::PeekBatch and Queue::incarnation().
//
// Linked against the crash-point build of the library so that a child can be
// SIGKILLed while it holds a batch, inside PeekBatch itself.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "ringbuf/internal/crash_point.h"
#include "ringbuf/queue.h"
#include "tests/test_util.h"

namespace ringbuf {
namespace {

using internal::CrashSite;
using testing::ScopedQueueName;

constexpr absl::Duration kBound = absl::Seconds(20);

Queue MakeQueue(const std::string& name, uint64_t capacity) {
  return testing::CreateQueue(name, capacity, /*slot_size=*/64);
}

std::vector<std::string> Drain(Queue& q) {
  std::vector<std::string> out;
  std::string m;
  while (q.TryReceive(&m).ok()) out.push_back(m);
  return out;
}

TEST(PeekBatchTest, ShowsTheOldestMessagesWithTheirRingIndexes) {
  ScopedQueueName name;
  Queue q = MakeQueue(name, 8);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(q.Send(absl::StrCat("m", i)).ok());
  std::string first;
  ASSERT_TRUE(q.Receive(&first).ok());  // index 0 is gone: the batch starts at 1

  absl::StatusOr<Queue::PeekedBatch> b = q.PeekBatch(3, kBound);
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_EQ(b->size(), 3u);
  EXPECT_EQ(b->first_index(), 1u);
  EXPECT_EQ(b->data(0), "m1");
  EXPECT_EQ(b->data(1), "m2");
  EXPECT_EQ(b->data(2), "m3");
  ASSERT_TRUE(b->Release(2).ok());
  EXPECT_EQ(b->Release(1).code(), absl::StatusCode::kFailedPrecondition);

  // The third stays, at the head, followed by the rest.
  EXPECT_EQ(Drain(q), (std::vector<std::string>{"m3", "m4"}));
  EXPECT_EQ(q.GetStats().head, 5u);
}

TEST(PeekBatchTest, ShowsAtMostWhatIsThere) {
  ScopedQueueName name;
  Queue q = MakeQueue(name, 8);
  ASSERT_TRUE(q.Send("only").ok());
  absl::StatusOr<Queue::PeekedBatch> b = q.PeekBatch(100, kBound);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->size(), 1u);
  EXPECT_EQ(b->Release(2).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(b->Release(1).ok());  // still held after the refused release
  EXPECT_EQ(q.GetStats().depth, 0u);
}

TEST(PeekBatchTest, DroppingOrReleasingNoneTakesNothing) {
  ScopedQueueName name;
  Queue q = MakeQueue(name, 4);
  ASSERT_TRUE(q.Send("a").ok());
  ASSERT_TRUE(q.Send("b").ok());
  {
    absl::StatusOr<Queue::PeekedBatch> b = q.PeekBatch(4, kBound);
    ASSERT_TRUE(b.ok()) << b.status();
  }
  {
    absl::StatusOr<Queue::PeekedBatch> b = q.PeekBatch(4, kBound);
    ASSERT_TRUE(b.ok()) << b.status();
    ASSERT_TRUE(b->Release(0).ok());
  }
  EXPECT_EQ(Drain(q), (std::vector<std::string>{"a", "b"}));
}

TEST(PeekBatchTest, HoldsTheReceiveLockUntilReleased) {
  ScopedQueueName name;
  Queue q = MakeQueue(name, 4);
  ASSERT_TRUE(q.Send("a").ok());
  ASSERT_TRUE(q.Send("b").ok());
  absl::StatusOr<Queue::PeekedBatch> b = q.PeekBatch(1, kBound);
  ASSERT_TRUE(b.ok()) << b.status();
  absl::StatusOr<Queue> other = Queue::Open(name);
  ASSERT_TRUE(other.ok());
  std::string m;
  // Another consumer cannot take "b" while the batch of "a" is held.
  EXPECT_EQ(other->TryReceive(&m).code(), absl::StatusCode::kUnavailable);
  ASSERT_TRUE(b->Release(1).ok());
  ASSERT_TRUE(other->TryReceive(&m).ok());
  EXPECT_EQ(m, "b");
}

TEST(PeekBatchTest, TimesOutOnAnEmptyQueueAndRefusesZero) {
  ScopedQueueName name;
  Queue q = MakeQueue(name, 4);
  EXPECT_EQ(q.PeekBatch(4, absl::Milliseconds(1)).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(q.PeekBatch(0, kBound).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(PeekBatchTest, WaitsForAMessage) {
  ScopedQueueName name;
  Queue q = MakeQueue(name, 4);
  std::thread producer([&] { ASSERT_TRUE(q.Send("late").ok()); });
  absl::StatusOr<Queue::PeekedBatch> b = q.PeekBatch(4, kBound);
  producer.join();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->data(0), "late");
}

TEST(PeekBatchTest, RingIndexesRunOnAcrossTheWrap) {
  ScopedQueueName name;
  Queue q = MakeQueue(name, 3);
  uint64_t expected_index = 0;
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(q.Send(absl::StrCat(round, i)).ok());
    absl::StatusOr<Queue::PeekedBatch> b = q.PeekBatch(3, kBound);
    ASSERT_TRUE(b.ok()) << b.status();
    ASSERT_EQ(b->size(), 3u);
    EXPECT_EQ(b->first_index(), expected_index);
    EXPECT_EQ(b->data(2), absl::StrCat(round, 2));
    ASSERT_TRUE(b->Release(3).ok());
    expected_index += 3;
  }
}

// A process that dies holding a batch takes nothing: every message of the
// batch is received afterwards, in order, and the lock was repaired.
TEST(PeekBatchTest, BatchOfAKilledProcessStaysInTheQueue) {
  ScopedQueueName name;
  Queue q = MakeQueue(name, 8);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(q.Send(absl::StrCat("kept", i)).ok());
  testing::Signal peeked;
  pid_t pid = testing::ForkChild([&] {
    absl::StatusOr<Queue> c = Queue::Open(name);
    if (!c.ok()) return 1;
    absl::StatusOr<Queue::PeekedBatch> b = c->PeekBatch(3, kBound);
    if (!b.ok() || b->size() != 3) return 2;
    peeked.Notify();
    for (;;) pause();  // holding the batch: "published, ack awaited"
  });
  ASSERT_EQ(peeked.WaitFor(kBound), 'x');
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  std::vector<std::string> out;
  ASSERT_TRUE(q.ReceiveBatch(8, kBound, &out).ok());
  EXPECT_EQ(out, (std::vector<std::string>{"kept0", "kept1", "kept2", "kept3"}));
  Stats st = q.GetStats();
  EXPECT_EQ(st.receive_lock_owner_deaths, 1u);
  EXPECT_EQ(st.receives_lost_to_dead_consumers, 0u);
}

// The same, killed inside PeekBatch at its crash site.
CrashSite g_target;
int g_notify_fd = -1;
void StopHere(CrashSite site) {
  if (site != g_target) return;
  char byte = 'k';
  (void)!write(g_notify_fd, &byte, 1);
  for (;;) pause();
}

TEST(PeekBatchTest, KilledInsidePeekBatchTakesNothing) {
  ScopedQueueName name;
  Queue q = MakeQueue(name, 4);
  ASSERT_TRUE(q.Send("x").ok());
  ASSERT_TRUE(q.Send("y").ok());
  testing::Signal reached;
  pid_t pid = testing::ForkChild([&] {
    absl::StatusOr<Queue> c = Queue::Open(name);
    if (!c.ok()) return 1;
    g_target = CrashSite::kPeekBatchHeld;
    g_notify_fd = reached.WriteFd();
    internal::SetCrashHook(StopHere);
    (void)c->PeekBatch(4, kBound);
    return 2;
  });
  ASSERT_EQ(reached.WaitFor(kBound), 'k');
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  EXPECT_EQ(Drain(q), (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(q.GetStats().receive_lock_owner_deaths, 1u);
}

TEST(IncarnationTest, SameForEveryHandleNewForARecreatedQueue) {
  ScopedQueueName name;
  std::set<uint64_t> seen;
  for (int i = 0; i < 3; ++i) {
    Queue q = MakeQueue(name, 4);
    absl::StatusOr<Queue> other = Queue::Open(name);
    ASSERT_TRUE(other.ok());
    EXPECT_EQ(q.incarnation(), other->incarnation());
    seen.insert(q.incarnation());
    ASSERT_TRUE(Queue::Remove(name).ok());
  }
  EXPECT_EQ(seen.size(), 3u);  // fails with probability ~2^-63
}

}  // namespace
}  // namespace ringbuf
