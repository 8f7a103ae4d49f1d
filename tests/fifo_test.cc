// FIFO order, binary safety, message boundaries and size limits.
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "ringbuf/queue.h"
#include "tests/test_util.h"

namespace ringbuf {
namespace {

using testing::ScopedQueueName;

Queue MakeQueue(const std::string& name, uint64_t capacity,
                uint32_t slot_size) {
  return testing::CreateQueue(name, capacity, slot_size);
}

TEST(FifoTest, MessagesLeaveInSendOrderAcrossManyLapsOfTheRing) {
  ScopedQueueName name;
  Queue q = MakeQueue(name, 3, 16);
  uint64_t next_out = 0;
  std::string out;
  // Interleave so the ring wraps many times at every fill level.
  for (uint64_t in = 0; in < 1000; ++in) {
    ASSERT_TRUE(q.TrySend(absl::StrCat(in)).ok());
    if (in % 3 != 0) {
      ASSERT_TRUE(q.TryReceive(&out).ok());
      EXPECT_EQ(out, absl::StrCat(next_out++));
    }
    if (q.GetStats().depth == 3) {
      while (q.TryReceive(&out).ok()) EXPECT_EQ(out, absl::StrCat(next_out++));
    }
  }
  while (q.TryReceive(&out).ok()) EXPECT_EQ(out, absl::StrCat(next_out++));
  EXPECT_EQ(next_out, 1000u);
}

TEST(FifoTest, EveryByteValueSurvivesAndBoundariesArePreserved) {
  ScopedQueueName name;
  Queue q = MakeQueue(name, 4, 512);
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  std::string nuls(10, '\0');
  std::string lines = "a\nb\r\nc\n";
  ASSERT_TRUE(q.Send(all).ok());
  ASSERT_TRUE(q.Send(nuls).ok());
  ASSERT_TRUE(q.Send(lines).ok());
  std::string out = "previous contents are replaced";
  ASSERT_TRUE(q.Receive(&out).ok());
  EXPECT_EQ(out, all);
  ASSERT_TRUE(q.Receive(&out).ok());
  EXPECT_EQ(out, nuls);
  ASSERT_TRUE(q.Receive(&out).ok());
  EXPECT_EQ(out, lines);
}

TEST(FifoTest, EmptyMessageIsAMessage) {
  ScopedQueueName name;
  Queue q = MakeQueue(name, 2, 8);
  ASSERT_TRUE(q.Send("").ok());
  EXPECT_EQ(q.GetStats().depth, 1u);
  std::string out = "x";
  ASSERT_TRUE(q.TryReceive(&out).ok());
  EXPECT_EQ(out, "");
  EXPECT_EQ(q.GetStats().depth, 0u);
}

TEST(FifoTest, MessageOfExactlySlotSizeFits) {
  ScopedQueueName name;
  Queue q = MakeQueue(name, 2, 100);
  std::string full(100, 'z');
  ASSERT_TRUE(q.Send(full).ok());
  std::string out;
  ASSERT_TRUE(q.Receive(&out).ok());
  EXPECT_EQ(out, full);
}

TEST(FifoTest, OversizedMessageIsRefusedAndNothingIsEnqueued) {
  ScopedQueueName name;
  Queue q = MakeQueue(name, 2, 100);
  ASSERT_TRUE(q.Send("before").ok());
  // Send and TrySend are overloaded (with a priority): name the one meant.
  using SendCall = absl::Status (Queue::*)(absl::string_view);
  for (SendCall call : {SendCall{&Queue::Send}, SendCall{&Queue::TrySend}}) {
    absl::Status s = (q.*call)(std::string(101, 'z'));
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
    EXPECT_NE(s.message().find("slot_size"), std::string::npos) << s;
  }
  EXPECT_EQ(q.SendFor(std::string(101, 'z'), absl::Seconds(1)).code(),
            absl::StatusCode::kInvalidArgument);
  Stats st = q.GetStats();
  EXPECT_EQ(st.depth, 1u);
  EXPECT_EQ(st.total_sent, 1u);
  std::string out;
  ASSERT_TRUE(q.TryReceive(&out).ok());
  EXPECT_EQ(out, "before");
}

TEST(FifoTest, ReceiveReusesTheCallersBufferForShorterMessages) {
  ScopedQueueName name;
  Queue q = MakeQueue(name, 2, 64);
  std::string out(64, 'q');
  ASSERT_TRUE(q.Send("short").ok());
  ASSERT_TRUE(q.Receive(&out).ok());
  EXPECT_EQ(out, "short");
}

TEST(FifoTest, StatsCountWhatWentThrough) {
  ScopedQueueName name;
  Queue q = MakeQueue(name, 8, 16);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(q.Send("m").ok());
  std::string out;
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(q.Receive(&out).ok());
  Stats st = q.GetStats();
  EXPECT_EQ(st.capacity, 8u);
  EXPECT_EQ(st.slot_size, 16u);
  EXPECT_EQ(st.depth, 3u);
  EXPECT_EQ(st.total_sent, 5u);
  EXPECT_EQ(st.total_received, 2u);
  EXPECT_EQ(st.tail, 5u);
  EXPECT_EQ(st.head, 2u);
}

}  // namespace
}  // namespace ringbuf
