// Try and timed semantics: the distinct codes for full/empty and for an
// expired timeout, timeouts that never return early, and blocked calls that
// wake when the other side acts. Timing checks only that a call did not
// return early; nothing asserts that it returned quickly beyond a generous
// bound that proves it did not hang.
#include <string>
#include <thread>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "ringbuf/queue.h"
#include "tests/test_util.h"

namespace ringbuf {
namespace {

using testing::ScopedQueueName;

Queue MakeQueue(const std::string& name, uint64_t capacity) {
  Options o;
  o.capacity = capacity;
  o.slot_size = 32;
  absl::StatusOr<Queue> q = Queue::Create(name, o);
  EXPECT_TRUE(q.ok()) << q.status();
  return *std::move(q);
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

}  // namespace
}  // namespace ringbuf
