// The embedding API: batches, zero-copy reservations and peeks, receiving
// into a caller's buffer, Shutdown, and the event-loop notifier — each
// alone, across processes, and when its holder is killed.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "ringbuf/internal/layout.h"
#include "ringbuf/notifier.h"
#include "ringbuf/queue.h"
#include "tests/test_util.h"

namespace ringbuf {
namespace {

using testing::ScopedQueueName;

constexpr absl::Duration kBound = absl::Seconds(20);

Queue MakeQueue(const std::string& name, uint64_t capacity,
                uint32_t slot_size = 64) {
  return testing::CreateQueue(name, capacity, slot_size);
}

std::vector<std::string> Numbered(int n, const std::string& prefix = "m") {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(absl::StrCat(prefix, i));
  return out;
}

std::vector<absl::string_view> Views(const std::vector<std::string>& v) {
  return std::vector<absl::string_view>(v.begin(), v.end());
}

// Asserts that exactly `capacity` slots are free: nothing leaked.
void ExpectAllSlotsFree(Queue& q) {
  std::string out;
  ASSERT_EQ(q.TryReceive(&out).code(), absl::StatusCode::kUnavailable);
  uint64_t n = 0;
  while (q.TrySend("x").ok()) ++n;
  EXPECT_EQ(n, q.capacity());
  while (q.TryReceive(&out).ok()) {
  }
}

// --- Batches ---------------------------------------------------------------

TEST(BatchTest, SendBatchThatFitsCommitsAllInOrder) {
  ScopedQueueName name;
  Queue q = MakeQueue(name, 8);
  std::vector<std::string> msgs = Numbered(8);
  size_t sent = 99;
  ASSERT_TRUE(q.SendBatch(Views(msgs), kBound, &sent).ok());
  EXPECT_EQ(sent, 8u);
  std::vector<std::string> got;
  ASSERT_TRUE(q.ReceiveBatch(100, kBound, &got).ok());
  EXPECT_EQ(got, msgs);
}

TEST(BatchTest, PartialSendBatchOnTimeoutReportsHowManyWent) {
  ScopedQueueName name;
  Queue q = MakeQueue(name, 4);
  std::vector<std::string> msgs = Numbered(10);
  size_t sent = 0;
  absl::Status s = q.SendBatch(Views(msgs), absl::Milliseconds(100), &sent);
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
  EXPECT_EQ(sent, 4u);
  std::vector<std::string> got;
  ASSERT_TRUE(q.ReceiveBatch(100, kBound, &got).ok());
  EXPECT_EQ(got, std::vector<std::string>(msgs.begin(), msgs.begin() + 4));
}

TEST(BatchTest, OversizedMessageRefusesTheWholeBatch) {
  ScopedQueueName name;
  Queue q = MakeQueue(name, 4, 8);
  std::vector<std::string> msgs = {"ok", std::string(9, 'x'), "ok"};
  size_t sent = 99;
  EXPECT_EQ(q.SendBatch(Views(msgs), kBound, &sent).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(sent, 0u);
  EXPECT_EQ(q.GetStats().depth, 0u);
}

TEST(BatchTest, BatchLargerThanCapacityFlowsThroughAConsumer) {
  ScopedQueueName name;
  Queue q = MakeQueue(name, 4);
  std::vector<std::string> msgs = Numbered(1000);
  std::vector<std::string> got;
  std::thread consumer([&] {
    while (got.size() < msgs.size()) {
      ASSERT_TRUE(q.ReceiveBatch(3, kBound, &got).ok());
    }
  });
  size_t sent = 0;
  ASSERT_TRUE(q.SendBatch(Views(msgs), kBound, &sent).ok());
  consumer.join();
  EXPECT_EQ(sent, msgs.size());
  EXPECT_EQ(got, msgs);
}

TEST(BatchTest, ReceiveBatchTakesAtMostMaxAndTimesOutWhenEmpty) {
  ScopedQueueName name;
  Queue q = MakeQueue(name, 8);
  size_t sent;
  std::vector<std::string> msgs = Numbered(5);
  ASSERT_TRUE(q.SendBatch(Views(msgs), kBound, &sent).ok());
  std::vector<std::string> got;
  ASSERT_TRUE(q.ReceiveBatch(2, kBound, &got).ok());
  EXPECT_EQ(got, (std::vector<std::string>{"m0", "m1"}));
  ASSERT_TRUE(q.ReceiveBatch(10, kBound, &got).ok());
  EXPECT_EQ(got, msgs);
  absl::Time start = absl::Now();
  EXPECT_EQ(q.ReceiveBatch(10, absl::Milliseconds(100), &got).code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(100));
  EXPECT_EQ(got.size(), 5u);
}

// Property: batches from 3 producer processes reach 1 batch-consuming
// process exactly once and in per-producer order. Proof: sequence numbers,
// checked by the consumer, which exits non-zero on any gap or repeat.
TEST(BatchTest, BatchesAcrossProcessesAreExactlyOnceInOrder) {
  ScopedQueueName name;
  Queue q = MakeQueue(name, 16);
  constexpr int kProducers = 3;
  constexpr int kPerProducer = 30000;
  pid_t consumer = testing::ForkChild([&] {
    absl::StatusOr<Queue> c = Queue::Open(name);
    if (!c.ok()) return 1;
    std::vector<int> next(kProducers, 0);
    std::vector<std::string> got;
    int total = 0;
    while (total < kProducers * kPerProducer) {
      got.clear();
      if (!c->ReceiveBatch(64, kBound, &got).ok()) return 2;
      for (const std::string& m : got) {
        int p = m[0] - '0';
        int seq = std::stoi(m.substr(2));
        if (p < 0 || p >= kProducers || seq != next[p]) return 3;
        ++next[p];
        ++total;
      }
    }
    return 0;
  });
  std::vector<pid_t> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.push_back(testing::ForkChild([&, p] {
      absl::StatusOr<Queue> c = Queue::Open(name);
      if (!c.ok()) return 1;
      for (int base = 0; base < kPerProducer; base += 50) {
        std::vector<std::string> batch;
        for (int i = base; i < base + 50 && i < kPerProducer; ++i) {
          batch.push_back(absl::StrCat(p, ":", i));
        }
        size_t sent;
        if (!c->SendBatch(Views(batch), kBound, &sent).ok()) return 2;
      }
      return 0;
    }));
  }
  for (pid_t pid : producers) {
    EXPECT_TRUE(testing::ExitedCleanly(testing::WaitChild(pid, absl::Seconds(60))));
  }
  EXPECT_TRUE(
      testing::ExitedCleanly(testing::WaitChild(consumer, absl::Seconds(60))));
  EXPECT_EQ(q.GetStats().total_received, uint64_t{kProducers * kPerProducer});
}

// --- Zero-copy ---------------------------------------------------------------

TEST(ZeroCopyTest, ReservedSlotIsWrittenInPlaceAndCommitted) {
  ScopedQueueName name;
  Queue q = MakeQueue(name, 4, 32);
  absl::StatusOr<Queue::Reservation> r = q.Reserve(kBound);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->buffer().size(), 32u);
  std::memcpy(r->buffer().data(), "in place", 8);
  EXPECT_EQ(r->Commit(33).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(r->Commit(8).ok());
  EXPECT_EQ(r->Commit(8).code(), absl::StatusCode::kFailedPrecondition);
  std::string out;
  ASSERT_TRUE(q.TryReceive(&out).ok());
  EXPECT_EQ(out, "in place");
}

TEST(ZeroCopyTest, DroppedReservationSendsNothingAndFreesTheSlot) {
  ScopedQueueName name;
  Queue q = MakeQueue(name, 4);
  {
    absl::StatusOr<Queue::Reservation> r = q.Reserve(kBound);
    ASSERT_TRUE(r.ok());
    std::memcpy(r->buffer().data(), "never sent", 10);
  }
  EXPECT_EQ(q.GetStats().total_sent, 0u);
  ExpectAllSlotsFree(q);
}

TEST(ZeroCopyTest, PeekSeesInPlaceAndReleaseTakes) {
  ScopedQueueName name;
  Queue q = MakeQueue(name, 4);
  ASSERT_TRUE(q.Send("first").ok());
  ASSERT_TRUE(q.Send("second").ok());
  {
    absl::StatusOr<Queue::Peeked> p = q.Peek(kBound);
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_EQ(p->data(), "first");
  }  // dropped: stays
  absl::StatusOr<Queue::Peeked> p = q.Peek(kBound);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->data(), "first");
  ASSERT_TRUE(p->Release().ok());
  EXPECT_EQ(p->Release().code(), absl::StatusCode::kFailedPrecondition);
  std::string out;
  ASSERT_TRUE(q.TryReceive(&out).ok());
  EXPECT_EQ(out, "second");
}

// A reservation held by a process that dies is reclaimed by crash recovery,
// never leaked and never delivered half-written.
TEST(ZeroCopyTest, ReservationOfAKilledProcessIsReclaimed) {
  ScopedQueueName name;
  Queue q = MakeQueue(name, 4);
  testing::Signal reserved;
  pid_t pid = testing::ForkChild([&] {
    absl::StatusOr<Queue> c = Queue::Open(name);
    if (!c.ok()) return 1;
    absl::StatusOr<Queue::Reservation> r = c->Reserve(kBound);
    if (!r.ok()) return 2;
    std::memcpy(r->buffer().data(), "half-writ", 9);
    reserved.Notify();
    for (;;) pause();
  });
  ASSERT_EQ(reserved.WaitFor(kBound), 'x');
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  ASSERT_TRUE(q.SendFor("whole", kBound).ok());
  std::string out;
  ASSERT_TRUE(q.ReceiveFor(&out, kBound).ok());
  EXPECT_EQ(out, "whole");
  Stats st = q.GetStats();
  EXPECT_EQ(st.send_lock_owner_deaths, 1u);
  EXPECT_EQ(st.discarded_partial_sends, 1u);
  ExpectAllSlotsFree(q);
}

// A peek held by a process that dies leaves the message in the queue.
TEST(ZeroCopyTest, PeekOfAKilledProcessLeavesTheMessage) {
  ScopedQueueName name;
  Queue q = MakeQueue(name, 4);
  ASSERT_TRUE(q.Send("kept").ok());
  testing::Signal peeked;
  pid_t pid = testing::ForkChild([&] {
    absl::StatusOr<Queue> c = Queue::Open(name);
    if (!c.ok()) return 1;
    absl::StatusOr<Queue::Peeked> p = c->Peek(kBound);
    if (!p.ok()) return 2;
    peeked.Notify();
    for (;;) pause();
  });
  ASSERT_EQ(peeked.WaitFor(kBound), 'x');
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  std::string out;
  ASSERT_TRUE(q.ReceiveFor(&out, kBound).ok());
  EXPECT_EQ(out, "kept");
  EXPECT_EQ(q.GetStats().receives_lost_to_dead_consumers, 0u);
}

TEST(ReceiveIntoTest, CopiesIntoTheCallersBufferOrLeavesTooLongMessages) {
  ScopedQueueName name;
  Queue q = MakeQueue(name, 4);
  ASSERT_TRUE(q.Send("0123456789").ok());
  char small[4];
  absl::StatusOr<size_t> n = q.ReceiveInto(absl::MakeSpan(small), kBound);
  EXPECT_EQ(n.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(n.status().message().find("10 bytes"), std::string::npos);
  char big[64];
  n = q.ReceiveInto(absl::MakeSpan(big), kBound);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(absl::string_view(big, *n), "0123456789");
}

// --- Shutdown ----------------------------------------------------------------

TEST(ShutdownTest, WakesABlockedReceiveAndCancelsLaterCalls) {
  ScopedQueueName name;
  Queue q = MakeQueue(name, 4);
  absl::StatusOr<Queue> other = Queue::Open(name);
  ASSERT_TRUE(other.ok());
  absl::Status got;
  std::thread blocked([&] {
    std::string out;
    got = q.Receive(&out);  // no timeout: only Shutdown ends it
  });
  ASSERT_TRUE(testing::AwaitSleeper(name, testing::Side::kReceivers, kBound));
  q.Shutdown();
  blocked.join();
  EXPECT_EQ(got.code(), absl::StatusCode::kCancelled) << got;
  EXPECT_EQ(q.Send("x").code(), absl::StatusCode::kCancelled);
  // Other handles on the same queue are unaffected.
  ASSERT_TRUE(other->Send("still works").ok());
  std::string out;
  ASSERT_TRUE(other->TryReceive(&out).ok());
}

TEST(ShutdownTest, WakesABlockedSend) {
  ScopedQueueName name;
  Queue q = MakeQueue(name, 1);
  ASSERT_TRUE(q.Send("fills it").ok());
  absl::Status got;
  std::thread blocked([&] { got = q.Send("waits"); });
  ASSERT_TRUE(testing::AwaitSleeper(name, testing::Side::kSenders, kBound));
  q.Shutdown();
  blocked.join();
  EXPECT_EQ(got.code(), absl::StatusCode::kCancelled) << got;
  EXPECT_EQ(q.GetStats().depth, 1u);
}

// Reads the receive lock's sleepers word: a waiter announces itself there
// before it sleeps (internal/leased_lock.h, sleepers.h).
bool AwaitReceiveLockWaiter(const std::string& name, absl::Duration timeout) {
  testing::RawView view(name);
  const internal::LeasedLock& lock = view.header()->recv.lock;
  absl::Time deadline = absl::Now() + timeout;
  bool waiting = false;
  while (!(waiting = lock.waiter_may_sleep()) && absl::Now() < deadline) {
    usleep(100);  // polling a condition, bounded by `timeout`
  }
  return waiting;
}

// Shutdown also ends a wait for a side lock held long elsewhere (here a
// Peek on another handle), not only a wait for messages.
TEST(ShutdownTest, WakesACallWaitingForALockHeldByAPeek) {
  ScopedQueueName name;
  Queue q = MakeQueue(name, 4);
  ASSERT_TRUE(q.Send("held").ok());
  absl::StatusOr<Queue> other = Queue::Open(name);
  ASSERT_TRUE(other.ok());
  absl::StatusOr<Queue::Peeked> peek = other->Peek(kBound);
  ASSERT_TRUE(peek.ok());
  std::atomic<bool> done{false};
  absl::Status got;
  std::thread blocked([&] {
    std::string out;
    got = q.Receive(&out);
    done.store(true);
  });
  ASSERT_TRUE(AwaitReceiveLockWaiter(name, kBound));
  q.Shutdown();
  absl::Time give_up = absl::Now() + kBound;
  while (!done.load() && absl::Now() < give_up) usleep(100);
  const bool returned_while_held = done.load();
  peek = absl::CancelledError("dropped");  // releases the lock either way
  blocked.join();
  EXPECT_TRUE(returned_while_held) << "Receive waited for the Peek to end";
  EXPECT_EQ(got.code(), absl::StatusCode::kCancelled) << got;
}

TEST(ShutdownTest, ShutdownFromASignalHandlerEndsAProcessBlockedInReceive) {
  ScopedQueueName name;
  Queue q = MakeQueue(name, 4);
  static Queue* g_queue = nullptr;
  pid_t pid = testing::ForkChild([&] {
    absl::StatusOr<Queue> c = Queue::Open(name);
    if (!c.ok()) return 1;
    g_queue = &*c;
    signal(SIGTERM, [](int) { g_queue->Shutdown(); });
    std::string out;
    return absl::IsCancelled(c->Receive(&out)) ? 0 : 2;
  });
  ASSERT_TRUE(testing::AwaitSleeper(name, testing::Side::kReceivers, kBound));
  kill(pid, SIGTERM);
  EXPECT_TRUE(testing::ExitedCleanly(testing::WaitChild(pid, kBound)));
}

// --- Notifier -----------------------------------------------------------------

bool Readable(int fd, absl::Duration timeout) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout))) == 1;
}

TEST(NotifierTest, FdBecomesReadableWhenAnotherProcessSends) {
  ScopedQueueName name;
  Queue q = MakeQueue(name, 4);
  absl::StatusOr<std::unique_ptr<QueueNotifier>> n =
      QueueNotifier::Create(q, QueueNotifier::Event::kMessages);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_FALSE(Readable((*n)->fd(), absl::ZeroDuration()));
  pid_t pid = testing::ForkChild([&] {
    absl::StatusOr<Queue> c = Queue::Open(name);
    return c.ok() && c->Send("hello").ok() ? 0 : 1;
  });
  ASSERT_TRUE(Readable((*n)->fd(), kBound));
  EXPECT_TRUE(testing::ExitedCleanly(testing::WaitChild(pid, kBound)));
  (*n)->Clear();
  std::string out;
  while (q.TryReceive(&out).ok()) {
  }
  EXPECT_EQ(out, "hello");
  // Drained and cleared: quiet until the next commit, then readable again.
  ASSERT_TRUE(q.Send("again").ok());
  EXPECT_TRUE(Readable((*n)->fd(), kBound));
}

TEST(NotifierTest, ReadableAtOnceForAQueueThatAlreadyHasMessages) {
  ScopedQueueName name;
  Queue q = MakeQueue(name, 4);
  ASSERT_TRUE(q.Send("waiting").ok());
  absl::StatusOr<std::unique_ptr<QueueNotifier>> n =
      QueueNotifier::Create(q, QueueNotifier::Event::kMessages);
  ASSERT_TRUE(n.ok());
  EXPECT_TRUE(Readable((*n)->fd(), kBound));
}

TEST(NotifierTest, SpaceFdBecomesReadableWhenASlotFrees) {
  ScopedQueueName name;
  Queue q = MakeQueue(name, 1);
  ASSERT_TRUE(q.Send("full").ok());
  absl::StatusOr<std::unique_ptr<QueueNotifier>> n =
      QueueNotifier::Create(q, QueueNotifier::Event::kSpace);
  ASSERT_TRUE(n.ok());
  EXPECT_FALSE(Readable((*n)->fd(), absl::ZeroDuration()));
  std::string out;
  ASSERT_TRUE(q.TryReceive(&out).ok());
  EXPECT_TRUE(Readable((*n)->fd(), kBound));
  (*n)->Clear();
  EXPECT_FALSE(Readable((*n)->fd(), absl::ZeroDuration()));
}

}  // namespace
}  // namespace ringbuf
