// Message priorities (Options::priorities), in the style of the peers'
// conformance tests: Boost.Interprocess's test_priority_order and LTP's
// mq_send / mq_timedsend priority cases (3-1: higher priority first; 4-x:
// FIFO within one priority; 13-1: a priority out of range is refused), plus
// the capacity semantics of queue.h: one capacity shared by all priorities.
#include <poll.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <atomic>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "ringbuf/internal/layout.h"
#include "ringbuf/internal/priority_levels.h"
#include "ringbuf/notifier.h"
#include "ringbuf/queue.h"
#include "tests/test_util.h"

namespace ringbuf {
namespace {

using testing::ScopedQueueName;

constexpr absl::Duration kBound = absl::Seconds(20);

Queue MakeQueue(const std::string& name, uint32_t priorities,
                uint64_t capacity = 16) {
  return testing::CreateQueue(name, capacity, /*slot_size=*/64, priorities);
}

struct Got {
  std::string message;
  uint32_t priority;
};

Got MustReceive(Queue& q) {
  Got got{"", 1000};
  absl::Status s = q.ReceiveFor(&got.message, kBound, &got.priority);
  EXPECT_TRUE(s.ok()) << s;
  return got;
}

// Boost test_priority_order: messages sent with random priorities come out
// highest priority first and, within a priority, in send order.
TEST(PriorityTest, ReceivesHighestPriorityFirstFifoWithin) {
  ScopedQueueName name;
  constexpr uint64_t kCount = 200;
  Queue q = MakeQueue(name, 8, kCount);
  std::mt19937 rng(14);
  std::vector<std::pair<uint32_t, std::string>> sent;
  for (uint64_t i = 0; i < kCount; ++i) {
    const uint32_t priority = rng() % 8;
    sent.emplace_back(priority, absl::StrCat("m", i));
    ASSERT_TRUE(q.TrySend(sent.back().second, priority).ok());
  }
  // The expected order: a stable sort by descending priority.
  std::vector<std::pair<uint32_t, std::string>> expected = sent;
  std::stable_sort(expected.begin(), expected.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  for (const auto& want : expected) {
    Got got = MustReceive(q);
    EXPECT_EQ(got.priority, want.first);
    EXPECT_EQ(got.message, want.second);
  }
  std::string out;
  EXPECT_EQ(q.TryReceive(&out).code(), absl::StatusCode::kUnavailable);
}

// LTP mq_send/3-1: a message of higher priority overtakes a backlog.
TEST(PriorityTest, HigherPriorityOvertakesBacklog) {
  ScopedQueueName name;
  Queue q = MakeQueue(name, 4);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(q.Send(absl::StrCat("data", i)).ok());
  ASSERT_TRUE(q.Send("shutdown", 3).ok());
  ASSERT_TRUE(q.Send("flush", 2).ok());
  EXPECT_EQ(MustReceive(q).message, "shutdown");
  EXPECT_EQ(MustReceive(q).message, "flush");
  for (int i = 0; i < 5; ++i) {
    Got got = MustReceive(q);
    EXPECT_EQ(got.message, absl::StrCat("data", i));
    EXPECT_EQ(got.priority, 0u);
  }
}

// LTP mq_send/4-1..4-3: equal priorities keep their order, also when the
// level's ring wraps many times while other levels hold messages.
TEST(PriorityTest, EqualPrioritiesStayFifoAcrossWraps) {
  ScopedQueueName name;
  Queue q = MakeQueue(name, 3, 4);
  ASSERT_TRUE(q.Send("low", 0).ok());
  for (int round = 0; round < 50; ++round) {
    ASSERT_TRUE(q.Send(absl::StrCat("a", round), 1).ok());
    ASSERT_TRUE(q.Send(absl::StrCat("b", round), 1).ok());
    ASSERT_TRUE(q.Send(absl::StrCat("top", round), 2).ok());
    EXPECT_EQ(MustReceive(q).message, absl::StrCat("top", round));
    EXPECT_EQ(MustReceive(q).message, absl::StrCat("a", round));
    EXPECT_EQ(MustReceive(q).message, absl::StrCat("b", round));
  }
  Got got = MustReceive(q);
  EXPECT_EQ(got.message, "low");
  EXPECT_EQ(got.priority, 0u);
}

// LTP mq_send/13-1 (and mq_timedsend's twin): a priority out of range is
// InvalidArgument, naming the queue, and nothing is enqueued.
TEST(PriorityTest, OutOfRangePriorityIsRefused) {
  ScopedQueueName name;
  Queue q = MakeQueue(name, 4);
  const std::vector<absl::Status> refused = {
      q.Send("x", 4), q.TrySend("x", 4), q.SendFor("x", 7, kBound),
      q.Reserve(4, kBound).status()};
  for (const absl::Status& s : refused) {
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
    EXPECT_NE(s.message().find(name.get()), std::string::npos) << s;
    EXPECT_NE(s.message().find("out of range"), std::string::npos) << s;
  }
  size_t sent = 99;
  std::vector<absl::string_view> batch = {"a", "b"};
  EXPECT_EQ(q.SendBatch(batch, 4, kBound, &sent).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(sent, 0u);
  EXPECT_EQ(q.GetStats().depth, 0u);

  // A 1-level queue has priority 0 only.
  ScopedQueueName plain_name("plain");
  Queue plain = MakeQueue(plain_name, 1);
  EXPECT_EQ(plain.Send("x", 1).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(plain.Send("x", 0).ok());
  Got got = MustReceive(plain);
  EXPECT_EQ(got.priority, 0u);
}

TEST(PriorityTest, PrioritiesOptionIsBounded) {
  ScopedQueueName name;
  Options o;
  o.capacity = kMaxPriorities;
  o.slot_size = 8;
  for (uint32_t bad : {0u, kMaxPriorities + 1}) {
    o.priorities = bad;
    absl::StatusOr<Queue> q = Queue::Create(name, o);
    ASSERT_EQ(q.status().code(), absl::StatusCode::kInvalidArgument)
        << q.status();
    EXPECT_NE(q.status().message().find("priorities"), std::string::npos);
  }
  o.priorities = kMaxPriorities;  // at least 32 levels, as the issue asks
  absl::StatusOr<Queue> q = Queue::Create(name, o);
  ASSERT_TRUE(q.ok()) << q.status();
  for (uint32_t p = 0; p < kMaxPriorities; p += 2) {
    ASSERT_TRUE(q->TrySend(absl::StrCat(p), p).ok());
  }
  for (uint32_t p = kMaxPriorities; p > 0;) {
    p -= 2;
    std::string out;
    uint32_t priority;
    ASSERT_TRUE(q->TryReceive(&out, &priority).ok());
    EXPECT_EQ(priority, p);
    EXPECT_EQ(out, absl::StrCat(p));
  }
}

// One capacity for all priorities, as POSIX and Boost: a queue holding
// `capacity` messages of any priorities is full for senders of every
// priority, and one freed slot of any level lets any priority in.
TEST(PriorityTest, CapacityIsSharedByAllPriorities) {
  ScopedQueueName name;
  Queue q = MakeQueue(name, 4, 4);
  ASSERT_TRUE(q.TrySend("p0", 0).ok());
  ASSERT_TRUE(q.TrySend("p3", 3).ok());
  ASSERT_TRUE(q.TrySend("p1", 1).ok());
  ASSERT_TRUE(q.TrySend("p0b", 0).ok());
  for (uint32_t p = 0; p < 4; ++p) {
    EXPECT_EQ(q.TrySend("more", p).code(), absl::StatusCode::kUnavailable);
  }
  EXPECT_EQ(q.SendFor("urgent", 3, absl::Milliseconds(20)).code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(MustReceive(q).message, "p3");
  ASSERT_TRUE(q.TrySend("urgent", 3).ok());
  EXPECT_EQ(q.TrySend("more", 0).code(), absl::StatusCode::kUnavailable);
  // Any one level may hold the whole capacity.
  for (const char* want : {"urgent", "p1", "p0", "p0b"}) {
    EXPECT_EQ(MustReceive(q).message, want);
  }
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(q.TrySend("two", 2).ok());
  EXPECT_EQ(q.TrySend("more", 1).code(), absl::StatusCode::kUnavailable);
  Stats st = q.GetStats();
  EXPECT_EQ(st.depth, 4u);
  EXPECT_EQ(st.depth_by_priority[2], 4u);
}

// A consumer asleep on an empty queue wakes for a message of any level; a
// producer asleep on a full queue wakes for a slot freed at any level.
TEST(PriorityTest, SleepersWakeForAnyLevel) {
  ScopedQueueName name;
  Queue q = MakeQueue(name, 4, 2);
  for (uint32_t level : {0u, 2u, 3u}) {
    Got got;
    absl::Status status;
    std::thread consumer(
        [&] { status = q.ReceiveFor(&got.message, kBound, &got.priority); });
    ASSERT_TRUE(testing::AwaitSleeper(name, testing::Side::kReceivers, kBound));
    ASSERT_TRUE(q.Send("wake", level).ok());
    consumer.join();
    ASSERT_TRUE(status.ok()) << status;
    EXPECT_EQ(got.priority, level);
  }
  ASSERT_TRUE(q.Send("a", 3).ok());
  ASSERT_TRUE(q.Send("b", 1).ok());
  absl::Status sent;
  std::thread producer([&] { sent = q.SendFor("c", 0, kBound); });
  ASSERT_TRUE(testing::AwaitSleeper(name, testing::Side::kSenders, kBound));
  EXPECT_EQ(MustReceive(q).message, "a");
  producer.join();
  ASSERT_TRUE(sent.ok()) << sent;
  EXPECT_EQ(MustReceive(q).message, "b");
  EXPECT_EQ(MustReceive(q).message, "c");
}

// Every receive call reports the priority of what it took.
TEST(PriorityTest, EveryReceiveReportsThePriority) {
  ScopedQueueName name;
  Queue q = MakeQueue(name, 4);
  ASSERT_TRUE(q.Send("zero", 0).ok());
  ASSERT_TRUE(q.Send("one", 1).ok());
  ASSERT_TRUE(q.Send("two", 2).ok());
  ASSERT_TRUE(q.Send("three", 3).ok());
  ASSERT_TRUE(q.Send(std::string("three\0b", 7), 3).ok());  // binary-safe

  absl::StatusOr<Queue::Peeked> peeked = q.Peek(kBound);
  ASSERT_TRUE(peeked.ok()) << peeked.status();
  EXPECT_EQ(peeked->data(), "three");
  EXPECT_EQ(peeked->priority(), 3u);
  ASSERT_TRUE(peeked->Release().ok());

  char buffer[64];
  uint32_t priority = 99;
  absl::StatusOr<size_t> n = q.ReceiveInto(absl::MakeSpan(buffer), kBound,
                                           &priority);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(std::string(buffer, *n), std::string("three\0b", 7));
  EXPECT_EQ(priority, 3u);

  n = q.TryReceiveInto(absl::MakeSpan(buffer), &priority);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(std::string(buffer, *n), "two");
  EXPECT_EQ(priority, 2u);

  std::string out;
  ASSERT_TRUE(q.TryReceive(&out, &priority).ok());
  EXPECT_EQ(out, "one");
  EXPECT_EQ(priority, 1u);
  ASSERT_TRUE(q.Receive(&out, &priority).ok());
  EXPECT_EQ(out, "zero");
  EXPECT_EQ(priority, 0u);

  // A batch is of one priority, the highest non-empty one.
  std::vector<absl::string_view> low = {"l0", "l1"};
  std::vector<absl::string_view> high = {"h0", "h1", "h2"};
  size_t sent = 0;
  ASSERT_TRUE(q.SendBatch(low, 1, kBound, &sent).ok());
  ASSERT_TRUE(q.SendBatch(high, 2, kBound, &sent).ok());
  std::vector<std::string> batch;
  ASSERT_TRUE(q.ReceiveBatch(10, kBound, &batch, &priority).ok());
  EXPECT_EQ(batch, (std::vector<std::string>{"h0", "h1", "h2"}));
  EXPECT_EQ(priority, 2u);
  batch.clear();
  ASSERT_TRUE(q.ReceiveBatch(10, kBound, &batch, &priority).ok());
  EXPECT_EQ(batch, (std::vector<std::string>{"l0", "l1"}));
  EXPECT_EQ(priority, 1u);

  // Zero-copy send at a priority.
  absl::StatusOr<Queue::Reservation> r = q.Reserve(3, kBound);
  ASSERT_TRUE(r.ok()) << r.status();
  std::memcpy(r->buffer().data(), "reserved", 8);
  ASSERT_TRUE(r->Commit(8).ok());
  ASSERT_TRUE(q.Send("plain").ok());
  Got got = MustReceive(q);
  EXPECT_EQ(got.message, "reserved");
  EXPECT_EQ(got.priority, 3u);
  got = MustReceive(q);
  EXPECT_EQ(got.message, "plain");
  EXPECT_EQ(got.priority, 0u);
}

// Open learns the priorities from the header; OpenOrCreate insists on them.
TEST(PriorityTest, OpenSeesPrioritiesAndOpenOrCreateChecksThem) {
  ScopedQueueName name;
  Queue q = MakeQueue(name, 5);
  absl::StatusOr<Queue> other = Queue::Open(name);
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_EQ(other->priorities(), 5u);
  ASSERT_TRUE(other->Send("hi", 4).ok());
  Got got = MustReceive(q);
  EXPECT_EQ(got.priority, 4u);
  EXPECT_EQ(q.GetStats().priorities, 5u);

  Options o;
  o.capacity = 16;
  o.slot_size = 64;
  o.priorities = 4;
  absl::StatusOr<Queue> mismatch = Queue::OpenOrCreate(name, o);
  ASSERT_EQ(mismatch.status().code(), absl::StatusCode::kFailedPrecondition)
      << mismatch.status();
  EXPECT_NE(mismatch.status().message().find("priorities 5"),
            std::string::npos)
      << mismatch.status();
  o.priorities = 5;
  EXPECT_TRUE(Queue::OpenOrCreate(name, o).ok());
}

TEST(PriorityTest, StatsReportDepthPerPriority) {
  ScopedQueueName name;
  Queue q = MakeQueue(name, 3);
  ASSERT_TRUE(q.Send("a", 0).ok());
  ASSERT_TRUE(q.Send("b", 2).ok());
  ASSERT_TRUE(q.Send("c", 2).ok());
  Stats st = q.GetStats();
  EXPECT_EQ(st.priorities, 3u);
  EXPECT_EQ(st.depth, 3u);
  EXPECT_EQ(st.depth_by_priority[0], 1u);
  EXPECT_EQ(st.depth_by_priority[1], 0u);
  EXPECT_EQ(st.depth_by_priority[2], 2u);
  EXPECT_EQ(st.total_sent, 3u);

  ScopedQueueName plain_name("plain");
  Queue plain = MakeQueue(plain_name, 1);
  ASSERT_TRUE(plain.Send("a").ok());
  st = plain.GetStats();
  EXPECT_EQ(st.priorities, 1u);
  EXPECT_EQ(st.depth_by_priority[0], 1u);
}

// Threads sending at mixed priorities: every message arrives exactly once,
// and per producer and priority in order.
TEST(PriorityTest, ConcurrentMixedPrioritiesExactlyOnceAndOrdered) {
  ScopedQueueName name;
  constexpr int kProducers = 4;
  constexpr int kPerProducer = 2000;
  Queue q = MakeQueue(name, 4, 8);
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&q, p] {
      for (int i = 0; i < kPerProducer; ++i) {
        const uint32_t level = (i * 7 + p) % 4;
        ASSERT_TRUE(q.SendFor(absl::StrCat(p, ":", level, ":", i), level,
                              kBound)
                        .ok());
      }
    });
  }
  std::map<std::pair<int, uint32_t>, int> last;  // (producer, level) -> seq
  for (int n = 0; n < kProducers * kPerProducer; ++n) {
    Got got = MustReceive(q);
    int p, i;
    uint32_t level;
    ASSERT_EQ(sscanf(got.message.c_str(), "%d:%u:%d", &p, &level, &i), 3);
    EXPECT_EQ(level, got.priority);
    auto [it, fresh] = last.emplace(std::make_pair(p, level), i);
    if (!fresh) {
      EXPECT_GT(i, it->second) << got.message;
      it->second = i;
    }
  }
  for (std::thread& t : producers) t.join();
  std::string out;
  EXPECT_EQ(q.TryReceive(&out).code(), absl::StatusCode::kUnavailable);
}

// A QueueNotifier on a queue of several priorities: its fd becomes readable
// for a message at any priority, also after Clear() re-armed it (it watches
// the level tails, which publish a message, not tail, which only counts it).
TEST(PriorityTest, NotifierFiresForMessagesAtAnyPriority) {
  ScopedQueueName name;
  Queue q = MakeQueue(name, 4);
  absl::StatusOr<std::unique_ptr<QueueNotifier>> n =
      QueueNotifier::Create(q, QueueNotifier::Event::kMessages);
  ASSERT_TRUE(n.ok()) << n.status();
  for (uint32_t level : {3u, 0u, 2u}) {
    (*n)->Clear();
    std::string out;
    ASSERT_EQ(q.TryReceive(&out).code(), absl::StatusCode::kUnavailable);
    ASSERT_TRUE(q.Send("m", level).ok());
    pollfd p{(*n)->fd(), POLLIN, 0};
    ASSERT_EQ(poll(&p, 1, absl::ToInt64Milliseconds(kBound)), 1)
        << "no event for priority " << level;
    EXPECT_EQ(MustReceive(q).priority, level);
  }
}

// PeekBatch names messages by ring index, which only a queue of one priority
// has: refused on more, with nothing taken.
TEST(PriorityTest, PeekBatchNeedsOnePriority) {
  ScopedQueueName name;
  Queue q = MakeQueue(name, 2);
  ASSERT_TRUE(q.Send("kept", 1).ok());
  absl::StatusOr<Queue::PeekedBatch> batch = q.PeekBatch(4, kBound);
  ASSERT_EQ(batch.status().code(), absl::StatusCode::kFailedPrecondition)
      << batch.status();
  EXPECT_NE(batch.status().message().find(name.get()), std::string::npos);
  EXPECT_EQ(MustReceive(q).message, "kept");
}

// The 1-level queue keeps today's layout: no level indexes, one ring (and
// the lease table after the slots, as every queue).
TEST(PriorityTest, OneLevelHasNoLevelIndexes) {
  EXPECT_EQ(internal::LevelIndexBytes(1), 0u);
  absl::StatusOr<uint64_t> one = internal::MappingSize("q", 4, 56, 1);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(*one, internal::kHeaderSize + 4 * 64 + internal::kLeaseTableBytes);
  absl::StatusOr<uint64_t> four = internal::MappingSize("q", 4, 56, 4);
  ASSERT_TRUE(four.ok());
  EXPECT_EQ(*four, internal::kHeaderSize + 2 * 64 + 4 * 4 * 64 +
                       internal::kLeaseTableBytes);
}

}  // namespace
}  // namespace ringbuf
