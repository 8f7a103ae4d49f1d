// Side locks biased toward a lone holder (internal/leased_lock.h):
//   * after kBiasAfter holds in a row by one lease, the lock is left biased
//     toward it and taken through its inside mark, not the word; the
//     thread still cannot take it twice;
//   * another thread or process revokes the bias, waiting while the biased
//     holder is inside, and the holder takes the lock the ordinary way
//     afterwards;
//   * a biased holder or a revoker that dies anywhere in the handshake
//     (kBiasedBusy, kRevokingBias, kUnlockedNotWoken) delays the others at
//     most until their probe or the end of a sleep slice.
// White-box: the lock word and the inside marks are read from the mapping.
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <functional>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "ringbuf/internal/asymmetric_fence.h"
#include "ringbuf/internal/crash_point.h"
#include "ringbuf/internal/layout.h"
#include "ringbuf/internal/lease_table.h"
#include "ringbuf/internal/leased_lock.h"
#include "ringbuf/queue.h"
#include "tests/test_util.h"

namespace ringbuf {
namespace {

using internal::CrashSite;
using internal::kBiasAfter;
using internal::LockWord;
using testing::EarnBias;
using testing::kNoBias;
using testing::RawView;
using testing::ScopedQueueName;

constexpr absl::Duration kBound = absl::Seconds(20);
// How soon a waiter gets a lock whose holder died: its probe before its
// first sleep, or after one sleep slice, plus this loaded machine's slack.
const absl::Duration kRecovered = internal::kLockSlice + absl::Seconds(2);

LockWord Word(internal::SideLock& side) {
  return internal::DecodeLockWord(RawView::lock_word(side).load());
}

uint32_t Inside(RawView& view, uint32_t id, internal::LockSide side) {
  return view.leases().inside(id, side).load();
}

// The lease this thread uses on `q`: read from the send lock's word while a
// Reserve (dropped unsent) holds it the ordinary way.
uint32_t LeaseOfThisThread(Queue& q, RawView& view) {
  EXPECT_EQ(view.header()->send.lock.biased_to(), 0u);
  absl::StatusOr<Queue::Reservation> r = q.Reserve(kBound);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? view.header()->send.lock.holder() : 0;
}

bool AwaitWord(internal::SideLock& side, LockWord::Kind kind,
               absl::Duration timeout) {
  const absl::Time end = absl::Now() + timeout;
  while (Word(side).kind != kind && absl::Now() < end) {
    usleep(100);  // polling a condition, bounded by `timeout`
  }
  return Word(side).kind == kind;
}

bool AwaitSleeperOnLock(internal::SideLock& side, absl::Duration timeout) {
  const absl::Time end = absl::Now() + timeout;
  while (!side.lock.waiter_may_sleep() && absl::Now() < end) {
    usleep(100);  // polling a condition, bounded by `timeout`
  }
  return side.lock.waiter_may_sleep();
}

// Receives exactly `expected`, in order, then finds the queue empty.
void ExpectExactly(Queue& q, const std::vector<std::string>& expected) {
  for (const std::string& m : expected) {
    std::string out;
    absl::Status s = q.ReceiveFor(&out, kBound);
    ASSERT_TRUE(s.ok()) << s << " waiting for " << m;
    EXPECT_EQ(out, m);
  }
  std::string extra;
  EXPECT_EQ(q.TryReceive(&extra).code(), absl::StatusCode::kUnavailable)
      << "an extra message: " << extra;
}

// A queue of 8 slots of 64 bytes, its mapping seen raw; skipped where this
// process could not register for membarrier (no bias is ever granted).
// LightPostsEnabled is only known once a handle exists.
class BiasTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!internal::LightPostsEnabled()) GTEST_SKIP() << kNoBias;
  }

  ScopedQueueName name;
  Queue q = testing::CreateQueue(name, 8, /*slot_size=*/64);
  RawView view{name};
};

TEST_F(BiasTest, BiasIsGrantedAfterAStreakAndUsedWithoutTheWord) {
  internal::SideLock& send = view.header()->send;
  internal::SideLock& recv = view.header()->recv;
  const uint32_t me = LeaseOfThisThread(q, view);
  ASSERT_NE(me, 0u);
  ASSERT_TRUE(EarnBias(q));
  EXPECT_EQ(send.lock.biased_to(), me);
  EXPECT_EQ(recv.lock.biased_to(), me);
  EXPECT_EQ(RawView::lock_word(send).load(), internal::BiasedTo(me));
  EXPECT_EQ(RawView::lock_word(recv).load(), internal::BiasedTo(me));
  EXPECT_EQ(send.lock.holder(), 0u);

  // Taken through the bias: FIFO as ever, the bias kept, no mark left.
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(q.Send(absl::StrCat("b", i)).ok());
  ExpectExactly(q, {"b0", "b1", "b2", "b3", "b4"});
  EXPECT_EQ(RawView::lock_word(send).load(), internal::BiasedTo(me));
  EXPECT_EQ(Inside(view, me, internal::kSendLock), 0u);
  EXPECT_EQ(Inside(view, me, internal::kReceiveLock), 0u);

  // Held through the bias: the mark says so, the word does not change, and
  // the thread cannot take the lock again.
  {
    absl::StatusOr<Queue::Reservation> r = q.Reserve(kBound);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(Inside(view, me, internal::kSendLock), 1u);
    EXPECT_EQ(RawView::lock_word(send).load(), internal::BiasedTo(me));
    EXPECT_EQ(q.Reserve(kBound).status().code(),
              absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(q.Send("twice").code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(q.TrySend("twice").code(),
              absl::StatusCode::kFailedPrecondition);
    std::memcpy(r->buffer().data(), "reserved", 8);
    ASSERT_TRUE(r->Commit(8).ok());
  }
  EXPECT_EQ(Inside(view, me, internal::kSendLock), 0u);
  {
    absl::StatusOr<Queue::Peeked> p = q.Peek(kBound);
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_EQ(Inside(view, me, internal::kReceiveLock), 1u);
    std::string out;
    EXPECT_EQ(q.Receive(&out).code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(std::string(p->data().data(), p->data().size()), "reserved");
    ASSERT_TRUE(p->Release().ok());
  }
  EXPECT_EQ(Inside(view, me, internal::kReceiveLock), 0u);
  ExpectExactly(q, {});
}

TEST_F(BiasTest, AnotherThreadRevokesTheBiasAndTheHolderTakesTheWordAgain) {
  internal::SideLock& send = view.header()->send;
  const uint32_t a = LeaseOfThisThread(q, view);
  ASSERT_TRUE(EarnBias(q));
  ASSERT_EQ(send.lock.biased_to(), a);

  uint32_t b = 0;
  absl::Status sent;
  std::thread other([&] {
    absl::StatusOr<Queue::Reservation> r = q.Reserve(kBound);
    if (!r.ok()) {
      sent = r.status();
      return;
    }
    b = send.lock.holder();  // the word names B, the bias is gone
    std::memcpy(r->buffer().data(), "b", 1);
    sent = r->Commit(1);
  });
  other.join();
  ASSERT_TRUE(sent.ok()) << sent;
  EXPECT_NE(b, 0u);
  EXPECT_NE(b, a);
  EXPECT_EQ(Inside(view, a, internal::kSendLock), 0u);
  EXPECT_EQ(send.lock.biased_to(), 0u);

  // A takes it the ordinary way now (its streak begins again).
  ASSERT_TRUE(q.Send("a-again").ok());
  EXPECT_EQ(RawView::lock_word(send).load(), 0u);
  ExpectExactly(q, {"b", "a-again"});
}

TEST_F(BiasTest, AnotherProcessRevokesTheBias) {
  const uint32_t a = LeaseOfThisThread(q, view);
  ASSERT_TRUE(EarnBias(q));
  ASSERT_EQ(view.header()->send.lock.biased_to(), a);
  ASSERT_EQ(view.header()->recv.lock.biased_to(), a);
  pid_t child = testing::ForkChild([&] {
    absl::StatusOr<Queue> mine = Queue::Open(name);
    if (!mine.ok()) return 1;
    if (!mine->SendFor("child", kBound).ok()) return 2;
    // And the receive side's bias too: this one is taken back later.
    std::string out;
    if (!mine->ReceiveFor(&out, kBound).ok() || out != "child") return 3;
    return mine->SendFor("child2", kBound).ok() ? 0 : 4;
  });
  const int status = testing::WaitChild(child, kBound);
  ASSERT_TRUE(testing::ExitedCleanly(status)) << status;
  EXPECT_EQ(view.header()->send.lock.biased_to(), 0u);
  EXPECT_EQ(view.header()->recv.lock.biased_to(), 0u);
  ASSERT_TRUE(q.Send("a-again").ok());
  ExpectExactly(q, {"child2", "a-again"});
}

// A revoker finds the biased holder inside (a Reserve): it waits, and gives
// up with the lock's Unavailable after its timeout, handing the bias back;
// once the holder commits, the next revoker gets in.
TEST_F(BiasTest, RevokerWaitsWhileTheBiasedHolderIsInside) {
  internal::SideLock& send = view.header()->send;
  const uint32_t a = LeaseOfThisThread(q, view);
  ASSERT_TRUE(EarnBias(q));
  absl::StatusOr<Queue::Reservation> r = q.Reserve(kBound);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(Inside(view, a, internal::kSendLock), 1u);

  absl::Status gave_up;
  std::thread([&] { gave_up = q.SendFor("late", absl::Milliseconds(100)); })
      .join();
  EXPECT_EQ(gave_up.code(), absl::StatusCode::kUnavailable) << gave_up;
  // Handed back: still A's, A still inside.
  EXPECT_EQ(RawView::lock_word(send).load(), internal::BiasedTo(a));
  EXPECT_EQ(Inside(view, a, internal::kSendLock), 1u);

  absl::Status sent;
  std::thread waiter([&] { sent = q.SendFor("b", kBound); });
  const bool revoking = AwaitWord(send, LockWord::kRevoking, kBound);
  EXPECT_TRUE(revoking) << "the waiter never began the revocation";
  if (revoking) {
    EXPECT_EQ(Word(send).lease, a);
    EXPECT_NE(Word(send).revoker, a);
  }
  std::memcpy(r->buffer().data(), "a", 1);
  ASSERT_TRUE(r->Commit(1).ok());
  waiter.join();
  ASSERT_TRUE(sent.ok()) << sent;
  EXPECT_EQ(Inside(view, a, internal::kSendLock), 0u);
  ExpectExactly(q, {"a", "b"});
}

// ---- Deaths in the handshake (crash-point hooks in forked children). ----

int g_notify_fd = -1;
CrashSite g_stop_at;

// Tells the parent where it is and waits there to be SIGKILLed.
void StopHere(CrashSite site) {
  if (site != g_stop_at) return;
  char byte = 's';
  (void)!write(g_notify_fd, &byte, 1);
  for (;;) pause();
}

void StopAt(CrashSite site, testing::Signal& signal) {
  g_notify_fd = signal.WriteFd();
  g_stop_at = site;
  internal::SetCrashHook(StopHere);
}

void Kill(pid_t child) {
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
}

// Exit code of a child that found itself not registered for membarrier.
constexpr int kChildUnbiased = 7;

// Forks a child that opens `name` and exits with what `body` returns for
// its handle (kChildUnbiased if its process cannot be biased).
pid_t ForkQueueChild(const std::string& name,
                     const std::function<int(Queue&)>& body) {
  return testing::ForkChild([&] {
    absl::StatusOr<Queue> mine = Queue::Open(name);
    if (!mine.ok()) return 1;
    if (!internal::LightPostsEnabled()) return kChildUnbiased;
    return body(*mine);
  });
}

// Waits for `child` to write `byte` to `signal` (its write end closed here
// first). "" once it did; else reaps the child and says why not (kNoBias
// if the child could not be biased).
std::string AwaitChild(pid_t child, testing::Signal& signal, char byte) {
  signal.CloseWriteEnd();
  if (signal.WaitFor(kBound) == byte) return "";
  const int status = testing::WaitChild(child, kBound);
  if (WIFEXITED(status) && WEXITSTATUS(status) == kChildUnbiased) {
    return kNoBias;
  }
  return absl::StrCat("the child never got there (wait status ", status, ")");
}

// A child that revokes the send bias and stops at kRevokingBias, the word
// marked Revoking, its fence not yet made.
pid_t ForkRevokerStoppedBeforeItsFence(const std::string& name,
                                        testing::Signal& stopped) {
  return ForkQueueChild(name, [&](Queue& mine) {
    StopAt(CrashSite::kRevokingBias, stopped);
    (void)mine.Send("doomed");
    return 3;
  });
}

// The biased holder dies with its mark set, before it checked the word: a
// revoker waits for the mark, probes the holder, repairs (a death counted)
// and takes the lock at once.
TEST_F(BiasTest, BiasedHolderKilledBeforeItsCheckIsRepairedByTheRevoker) {
  internal::SideLock& send = view.header()->send;
  testing::Signal stopped;
  pid_t child = ForkQueueChild(name, [&](Queue& mine) {
    if (!EarnBias(mine)) return 2;
    if (!mine.Send("kept1").ok() || !mine.Send("kept2").ok()) return 2;
    StopAt(CrashSite::kBiasedBusy, stopped);
    (void)mine.Send("doomed");
    return 3;
  });
  const std::string why = AwaitChild(child, stopped, 's');
  if (why == kNoBias) GTEST_SKIP() << "the child: " << why;
  ASSERT_EQ(why, "") << "stopping at kBiasedBusy";
  const uint32_t x = send.lock.biased_to();
  ASSERT_NE(x, 0u);
  EXPECT_EQ(RawView::lock_word(send).load(), internal::BiasedTo(x));
  EXPECT_EQ(Inside(view, x, internal::kSendLock), 1u);
  Kill(child);

  const absl::Time killed = absl::Now();
  absl::Status sent = q.SendFor("after", kBound);
  ASSERT_TRUE(sent.ok()) << sent;
  EXPECT_LT(absl::Now() - killed, kRecovered);
  EXPECT_EQ(Inside(view, x, internal::kSendLock), 0u);
  EXPECT_EQ(send.lock.biased_to(), 0u);
  const Stats st = q.GetStats();
  EXPECT_EQ(st.send_lock_owner_deaths, 1u);
  EXPECT_EQ(st.discarded_partial_sends, 0u);
  ExpectExactly(q, {"kept1", "kept2", "after"});
}

// The same on the receive side: the consumer dies marked inside, having
// taken nothing; the next receiver repairs and gets every message.
TEST_F(BiasTest, BiasedConsumerKilledBeforeItsCheckLosesNoMessage) {
  internal::SideLock& recv = view.header()->recv;
  testing::Signal stopped;
  pid_t child = ForkQueueChild(name, [&](Queue& mine) {
    if (!EarnBias(mine)) return 2;
    if (!mine.Send("kept1").ok() || !mine.Send("kept2").ok()) return 2;
    StopAt(CrashSite::kBiasedBusy, stopped);
    std::string out;
    (void)mine.Receive(&out);
    return 3;
  });
  const std::string why = AwaitChild(child, stopped, 's');
  if (why == kNoBias) GTEST_SKIP() << "the child: " << why;
  ASSERT_EQ(why, "") << "stopping at kBiasedBusy";
  const uint32_t x = recv.lock.biased_to();
  ASSERT_NE(x, 0u);
  EXPECT_EQ(Inside(view, x, internal::kReceiveLock), 1u);
  Kill(child);

  const absl::Time killed = absl::Now();
  std::string out;
  absl::Status got = q.ReceiveFor(&out, kBound);
  ASSERT_TRUE(got.ok()) << got;
  EXPECT_LT(absl::Now() - killed, kRecovered);
  EXPECT_EQ(out, "kept1");
  EXPECT_EQ(Inside(view, x, internal::kReceiveLock), 0u);
  const Stats st = q.GetStats();
  EXPECT_EQ(st.receive_lock_owner_deaths, 1u);
  EXPECT_EQ(st.receives_lost_to_dead_consumers, 0u);
  ExpectExactly(q, {"kept2"});
}

// A revoker dies having marked the word Revoking(r, x), before its fence:
// the next waiter probes r, whose repair hands the bias back to x, and then
// revokes it itself. x lives on and takes the lock again afterwards.
TEST_F(BiasTest, RevokerKilledBeforeItsFenceLeavesTheLockToAThirdParty) {
  internal::SideLock& send = view.header()->send;
  const uint32_t x = LeaseOfThisThread(q, view);
  ASSERT_TRUE(EarnBias(q));
  ASSERT_EQ(send.lock.biased_to(), x);
  testing::Signal stopped;
  pid_t child = ForkRevokerStoppedBeforeItsFence(name, stopped);
  const std::string why = AwaitChild(child, stopped, 's');
  if (why == kNoBias) GTEST_SKIP() << "the child: " << why;
  ASSERT_EQ(why, "") << "stopping at kRevokingBias";
  const LockWord w = Word(send);
  ASSERT_EQ(w.kind, LockWord::kRevoking);
  EXPECT_EQ(w.lease, x);
  const uint32_t r = w.revoker;
  EXPECT_NE(r, x);
  Kill(child);

  absl::Status sent;
  absl::Duration took;
  uint32_t third = 0;
  std::thread([&] {
    const absl::Time start = absl::Now();
    absl::StatusOr<Queue::Reservation> res = q.Reserve(kBound);
    took = absl::Now() - start;
    if (!res.ok()) {
      sent = res.status();
      return;
    }
    third = send.lock.holder();
    std::memcpy(res->buffer().data(), "third", 5);
    sent = res->Commit(5);
  }).join();
  ASSERT_TRUE(sent.ok()) << sent;
  EXPECT_LT(took, kRecovered);
  EXPECT_NE(third, 0u);
  EXPECT_NE(third, x);
  EXPECT_NE(third, r);
  // The revoker held nothing: no repair counted.
  EXPECT_EQ(q.GetStats().send_lock_owner_deaths, 0u);

  ASSERT_TRUE(q.SendFor("x-again", kBound).ok());
  ExpectExactly(q, {"third", "x-again"});
}

// As above, but the one that comes next is x itself: the bias is handed
// back to it and it takes the lock through it.
TEST_F(BiasTest, RevokerKilledBeforeItsFenceHandsTheBiasBackToItsHolder) {
  internal::SideLock& send = view.header()->send;
  const uint32_t x = LeaseOfThisThread(q, view);
  ASSERT_TRUE(EarnBias(q));
  testing::Signal stopped;
  pid_t child = ForkRevokerStoppedBeforeItsFence(name, stopped);
  const std::string why = AwaitChild(child, stopped, 's');
  if (why == kNoBias) GTEST_SKIP() << "the child: " << why;
  ASSERT_EQ(why, "") << "stopping at kRevokingBias";
  ASSERT_EQ(Word(send).kind, LockWord::kRevoking);
  Kill(child);

  const absl::Time killed = absl::Now();
  absl::StatusOr<Queue::Reservation> res = q.Reserve(kBound);
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_LT(absl::Now() - killed, kRecovered);
  EXPECT_EQ(RawView::lock_word(send).load(), internal::BiasedTo(x));
  EXPECT_EQ(Inside(view, x, internal::kSendLock), 1u);
  std::memcpy(res->buffer().data(), "x", 1);
  ASSERT_TRUE(res->Commit(1).ok());
  EXPECT_EQ(q.GetStats().send_lock_owner_deaths, 0u);
  ExpectExactly(q, {"x"});
}

// The biased holder clears its mark on release, then wakes the sleepers: a
// holder killed between the two leaves a revoker asleep that nothing wakes
// but the end of its sleep slice, after which it takes the lock.
TEST_F(BiasTest, BiasedHolderKilledBetweenReleaseAndWakeDelaysTheRevokerOneSlice) {
  internal::SideLock& send = view.header()->send;
  testing::Signal reserved;
  testing::Signal go;
  testing::Signal stopped;
  pid_t child = ForkQueueChild(name, [&](Queue& mine) {
    if (!EarnBias(mine)) return 2;
    absl::StatusOr<Queue::Reservation> r = mine.Reserve(kBound);
    if (!r.ok()) return 2;
    reserved.Notify('r');
    if (go.WaitFor(kBound) == 0) return 3;
    StopAt(CrashSite::kUnlockedNotWoken, stopped);
    std::memcpy(r->buffer().data(), "reserved", 8);
    (void)r->Commit(8);
    return 4;
  });
  stopped.CloseWriteEnd();
  const std::string why = AwaitChild(child, reserved, 'r');
  if (why == kNoBias) GTEST_SKIP() << "the child: " << why;
  ASSERT_EQ(why, "") << "reserving through its bias";
  const uint32_t x = send.lock.biased_to();
  ASSERT_NE(x, 0u) << "the child's reservation is not held through a bias";
  ASSERT_EQ(Inside(view, x, internal::kSendLock), 1u);

  absl::Status sent;
  std::thread waiter([&] { sent = q.SendFor("waiter", kBound); });
  ASSERT_TRUE(AwaitSleeperOnLock(send, kBound))
      << "the revoker never slept on the lock";
  EXPECT_EQ(Word(send).kind, LockWord::kRevoking);
  go.Notify();
  ASSERT_EQ(stopped.WaitFor(kBound), 's');
  EXPECT_EQ(Inside(view, x, internal::kSendLock), 0u);
  Kill(child);
  const absl::Time killed = absl::Now();
  waiter.join();
  ASSERT_TRUE(sent.ok()) << sent;
  EXPECT_LT(absl::Now() - killed, kRecovered);
  // Committed before the release; nothing to repair.
  EXPECT_EQ(q.GetStats().send_lock_owner_deaths, 0u);
  ExpectExactly(q, {"reserved", "waiter"});
}


// ---- Biases changing hands under load. ----

// Producer processes send numbered messages in bursts long enough to earn
// the bias, so it keeps passing from one to another, each pass a
// revocation racing the holder's next message; one consumer (this process)
// checks every producer's messages arrive exactly once and in order. A
// revocation that let two producers in at once would show as a message
// overwritten (lost) or published twice.
TEST(BiasStressTest, BiasesChangingHandsLoseAndDuplicateNothing) {
  ScopedQueueName name;
  Queue q = testing::CreateQueue(name, 1024, /*slot_size=*/32);
  if (!internal::LightPostsEnabled()) GTEST_SKIP() << kNoBias;
  constexpr int kProducers = 3;
  constexpr int kPerProducer = 100000;
  constexpr int kBurst = 4 * static_cast<int>(kBiasAfter);
  // Per producer, how often it saw the send bias its own and then lost it
  // (a revocation of its bias), in memory its children share.
  void* shared = mmap(nullptr, sizeof(std::atomic<uint64_t>) * kProducers,
                      PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1,
                      0);
  ASSERT_NE(shared, MAP_FAILED);
  auto* revoked = new (shared) std::atomic<uint64_t>[kProducers]();
  std::vector<pid_t> children;
  for (int p = 0; p < kProducers; ++p) {
    children.push_back(testing::ForkChild([&, p] {
      absl::StatusOr<Queue> mine = Queue::Open(name);
      if (!mine.ok()) return 1;
      RawView view(name);
      const internal::LeasedLock& lock = view.header()->send.lock;
      uint32_t me = 0;
      {
        absl::StatusOr<Queue::Reservation> r = mine->Reserve(kBound);
        if (!r.ok()) return 2;
        me = lock.holder();  // taken through the word: names our lease
      }
      bool had = false;
      for (int i = 0; i < kPerProducer; ++i) {
        if (!mine->SendFor(absl::StrCat(p, ":", i), kBound).ok()) return 3;
        const bool has = lock.biased_to() == me;
        if (had && !has) revoked[p].fetch_add(1, std::memory_order_relaxed);
        had = has;
        // Let the others have the lock now and then: the bias moves.
        if (i % kBurst == kBurst - 1) sched_yield();
      }
      return 0;
    }));
  }
  int next[kProducers] = {};
  const absl::Time end = absl::Now() + absl::Seconds(60);
  std::string out;
  // On the first wrong message, stop (the producers are reaped below,
  // killed if they are stuck).
  for (int got = 0; got < kProducers * kPerProducer; ++got) {
    absl::Status s = q.ReceiveFor(&out, end - absl::Now());
    int p = -1, i = -1;
    if (!s.ok() || sscanf(out.c_str(), "%d:%d", &p, &i) != 2 || p < 0 ||
        p >= kProducers || i != next[p]) {
      ADD_FAILURE() << "after " << got << " messages: " << s << ", got '"
                    << out << "', lost or out of order";
      break;
    }
    ++next[p];
  }
  uint64_t revocations = 0;
  for (int p = 0; p < kProducers; ++p) {
    const int status = testing::WaitChild(children[p], absl::Seconds(10));
    EXPECT_TRUE(testing::ExitedCleanly(status)) << status;
    revocations += revoked[p].load();
  }
  munmap(shared, sizeof(std::atomic<uint64_t>) * kProducers);
  EXPECT_EQ(q.TryReceive(&out).code(), absl::StatusCode::kUnavailable)
      << "an extra message: " << out;
  EXPECT_EQ(q.GetStats().send_lock_owner_deaths, 0u);
  RecordProperty("send_bias_revocations_seen", static_cast<int>(revocations));
  EXPECT_GE(revocations, 1u) << "no producer ever lost its bias: the test "
                                "did not exercise revocation";
}

}  // namespace
}  // namespace ringbuf
