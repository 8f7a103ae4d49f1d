// Try and timed semantics: the distinct codes for full/empty and for an
// expired timeout, timeouts that never return early, and blocked calls that
// wake when the other side acts. Timing checks only that a call did not
// return early; nothing asserts that it returned quickly beyond a generous
// bound that proves it did not hang.
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "ringbuf/queue.h"
#include "tests/test_util.h"

namespace ringbuf {
namespace {

using testing::ScopedQueueName;

Queue MakeQueue(const std::string& name, uint64_t capacity) {
  return testing::CreateQueue(name, capacity, /*slot_size=*/32);
}

TEST(TimeoutTest, TrySendOnFullIsUnavailable) {
  ScopedQueueName name;
  Queue q = MakeQueue(name, 2);
  ASSERT_TRUE(q.TrySend("a").ok());
  ASSERT_TRUE(q.TrySend("b").ok());
  absl::Status s = q.TrySend("c");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_NE(s.message().find("full"), std::string::npos);
  EXPECT_EQ(q.GetStats().depth, 2u);
}

TEST(TimeoutTest, TryReceiveOnEmptyIsUnavailable) {
  ScopedQueueName name;
  Queue q = MakeQueue(name, 2);
  std::string out;
  absl::Status s = q.TryReceive(&out);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_NE(s.message().find("empty"), std::string::npos);
}

TEST(TimeoutTest, SendForOnFullIsDeadlineExceededAndNotEarly) {
  ScopedQueueName name;
  Queue q = MakeQueue(name, 1);
  ASSERT_TRUE(q.Send("a").ok());
  absl::Time start = absl::Now();
  absl::Status s = q.SendFor("b", absl::Milliseconds(300));
  absl::Duration took = absl::Now() - start;
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
  EXPECT_GE(took, absl::Milliseconds(300));
  EXPECT_LT(took, absl::Seconds(30));
  EXPECT_EQ(q.GetStats().depth, 1u);
}

TEST(TimeoutTest, ReceiveForOnEmptyIsDeadlineExceededAndNotEarly) {
  ScopedQueueName name;
  Queue q = MakeQueue(name, 1);
  std::string out;
  absl::Time start = absl::Now();
  absl::Status s = q.ReceiveFor(&out, absl::Milliseconds(300));
  absl::Duration took = absl::Now() - start;
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
  EXPECT_GE(took, absl::Milliseconds(300));
  EXPECT_LT(took, absl::Seconds(30));
}

TEST(TimeoutTest, ZeroAndNegativeTimeoutsMakeOneAttempt) {
  ScopedQueueName name;
  Queue q = MakeQueue(name, 1);
  std::string out;
  EXPECT_EQ(q.ReceiveFor(&out, absl::ZeroDuration()).code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(q.ReceiveFor(&out, absl::Seconds(-5)).code(),
            absl::StatusCode::kDeadlineExceeded);
  ASSERT_TRUE(q.SendFor("a", absl::ZeroDuration()).ok());
  EXPECT_EQ(q.SendFor("b", absl::Seconds(-5)).code(),
            absl::StatusCode::kDeadlineExceeded);
  ASSERT_TRUE(q.ReceiveFor(&out, absl::ZeroDuration()).ok());
  EXPECT_EQ(out, "a");
}

TEST(TimeoutTest, InfiniteTimeoutWaitsUntilAMessageArrives) {
  ScopedQueueName name;
  Queue q = MakeQueue(name, 1);
  std::thread sender([&] {
    // Runs concurrently; the receiver below may already be asleep or not.
    EXPECT_TRUE(q.Send("late").ok());
  });
  std::string out;
  ASSERT_TRUE(q.ReceiveFor(&out, absl::InfiniteDuration()).ok());
  EXPECT_EQ(out, "late");
  sender.join();
}

// A consumer asleep on an empty queue (well past the spin phase) is woken
// by a send from another process-like peer (here another thread).
TEST(TimeoutTest, BlockedReceiveWakesOnSend) {
  ScopedQueueName name;
  Queue q = MakeQueue(name, 1);
  std::string out;
  absl::Status got;
  std::thread receiver([&] { got = q.Receive(&out); });
  // Wait until the receiver is registered as a sleeper: then the send must
  // wake it through the futex, not catch it spinning.
  ASSERT_TRUE(testing::AwaitSleeper(name, testing::Side::kReceivers, absl::Seconds(30)));
  ASSERT_TRUE(q.Send("wake").ok());
  receiver.join();
  ASSERT_TRUE(got.ok()) << got;
  EXPECT_EQ(out, "wake");
}

TEST(TimeoutTest, BlockedSendWakesWhenASlotFrees) {
  ScopedQueueName name;
  Queue q = MakeQueue(name, 1);
  ASSERT_TRUE(q.Send("first").ok());
  absl::Status sent;
  std::thread sender([&] { sent = q.Send("second"); });
  ASSERT_TRUE(testing::AwaitSleeper(name, testing::Side::kSenders, absl::Seconds(30)));
  std::string out;
  ASSERT_TRUE(q.Receive(&out).ok());
  EXPECT_EQ(out, "first");
  ASSERT_TRUE(q.ReceiveFor(&out, absl::Seconds(30)).ok());
  EXPECT_EQ(out, "second");
  sender.join();
  EXPECT_TRUE(sent.ok()) << sent;
}

// A lock held by another consumer (here a Peek on another thread) is not an
// empty queue: a zero-timeout drain must not stop as if it were (queue.h,
// "Busy locks"). Every receive call says Unavailable, after waiting at least
// the 10 ms floor, and takes nothing.
TEST(BusyLockTest, ZeroTimeoutReceivesWhileAPeekIsHeldAreUnavailableNotEmpty) {
  ScopedQueueName name;
  Queue q = MakeQueue(name, 4);
  ASSERT_TRUE(q.Send("a").ok());
  ASSERT_TRUE(q.Send("b").ok());
  absl::Notification held, release;
  std::thread holder([&] {
    absl::StatusOr<Queue> other = Queue::Open(name.get());
    ASSERT_TRUE(other.ok()) << other.status();
    absl::StatusOr<Queue::Peeked> p = other->Peek(absl::Seconds(10));
    ASSERT_TRUE(p.ok()) << p.status();
    held.Notify();
    release.WaitForNotificationWithTimeout(absl::Seconds(30));
  });
  ASSERT_TRUE(held.WaitForNotificationWithTimeout(absl::Seconds(30)));
  std::string m;
  const absl::Time start = absl::Now();
  absl::Status s = q.ReceiveFor(&m, absl::ZeroDuration());
  const absl::Duration took = absl::Now() - start;
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_NE(s.message().find("busy"), std::string::npos) << s;
  EXPECT_GE(took, absl::Milliseconds(10)) << "the lock floor was not waited";
  s = q.ReceiveFor(&m, absl::Milliseconds(-5));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  s = q.ReceiveFor(&m, absl::Milliseconds(50));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_EQ(q.TryReceive(&m).code(), absl::StatusCode::kUnavailable);
  char buf[8];
  EXPECT_EQ(q.ReceiveInto(absl::MakeSpan(buf), absl::ZeroDuration())
                .status()
                .code(),
            absl::StatusCode::kUnavailable);
  std::vector<std::string> batch;
  EXPECT_EQ(q.ReceiveBatch(8, absl::ZeroDuration(), &batch).code(),
            absl::StatusCode::kUnavailable);
  EXPECT_TRUE(batch.empty());
  EXPECT_EQ(q.Peek(absl::ZeroDuration()).status().code(),
            absl::StatusCode::kUnavailable);
  release.Notify();
  holder.join();
  EXPECT_EQ(q.GetStats().depth, 2u);
  // Once the lock is free, an empty queue is DeadlineExceeded again.
  ASSERT_TRUE(q.ReceiveFor(&m, absl::ZeroDuration()).ok());
  ASSERT_TRUE(q.ReceiveFor(&m, absl::ZeroDuration()).ok());
  EXPECT_EQ(q.ReceiveFor(&m, absl::ZeroDuration()).code(),
            absl::StatusCode::kDeadlineExceeded);
}

// The mirror image: a Reservation held elsewhere is not a full queue.
TEST(BusyLockTest, ZeroTimeoutSendsWhileAReservationIsHeldAreUnavailableNotFull) {
  ScopedQueueName name;
  Queue q = MakeQueue(name, 4);
  absl::Notification held, release;
  std::thread holder([&] {
    absl::StatusOr<Queue> other = Queue::Open(name.get());
    ASSERT_TRUE(other.ok()) << other.status();
    absl::StatusOr<Queue::Reservation> r = other->Reserve(absl::Seconds(10));
    ASSERT_TRUE(r.ok()) << r.status();
    held.Notify();
    release.WaitForNotificationWithTimeout(absl::Seconds(30));
  });
  ASSERT_TRUE(held.WaitForNotificationWithTimeout(absl::Seconds(30)));
  absl::Status s = q.SendFor("x", absl::ZeroDuration());
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_NE(s.message().find("busy"), std::string::npos) << s;
  size_t sent = 7;
  const absl::string_view batch[] = {"y", "z"};
  EXPECT_EQ(q.SendBatch(batch, absl::Milliseconds(20), &sent).code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(sent, 0u);
  EXPECT_EQ(q.Reserve(absl::ZeroDuration()).status().code(),
            absl::StatusCode::kUnavailable);
  release.Notify();
  holder.join();
  EXPECT_EQ(q.GetStats().depth, 0u);
}

}  // namespace
}  // namespace ringbuf
