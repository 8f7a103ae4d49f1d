// Crash recovery, one hazard window at a time.
//
// Each test forks a child that runs one send or receive on the queue with a
// crash hook installed (the library is built with RINGBUF_CRASH_POINTS). When
// the child reaches the chosen site it tells the parent and waits; the parent
// SIGKILLs it right there. The parent then checks the invariants a kernel
// queue would keep:
//   * nothing committed is lost, nothing is duplicated, nothing torn is
//     delivered (the queue drains to exactly the expected messages);
//   * no slot leaked: after draining, exactly `capacity` TrySends succeed;
//   * nothing wedged: every later call returns within its timeout;
//   * a receive killed mid-flight loses at most the message it was taking;
//   * the repair was counted in Stats.
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "ringbuf/internal/asymmetric_fence.h"
#include "ringbuf/internal/crash_point.h"
#include "ringbuf/internal/layout.h"
#include "ringbuf/internal/lease_table.h"
#include "ringbuf/queue.h"
#include "tests/test_util.h"

namespace ringbuf {
namespace {

using internal::CrashSite;
using testing::ScopedQueueName;

constexpr uint64_t kCapacity = 4;
constexpr absl::Duration kBound = absl::Seconds(20);

// State for the crash hook in the child (set after fork, before the call).
CrashSite g_target;
int g_notify_fd = -1;
// If set, the hook stops at the lease sites (kAdoptingLease, kAdoptedLease)
// only in the thread that holds this lease: every lease taken passes them,
// dead or free, naming locks or not. The lease's pthread mutex, whose lock
// word holds its owner's thread id (glibc; the kernel's robust futex ABI).
const pthread_mutex_t* g_adopted_lease = nullptr;

bool ThisThreadHolds(const pthread_mutex_t* lease) {
  const int word = __atomic_load_n(&lease->__data.__lock, __ATOMIC_RELAXED);
  return (static_cast<unsigned>(word) & FUTEX_TID_MASK) ==
         static_cast<unsigned>(syscall(SYS_gettid));
}

void StopHere(CrashSite site) {
  if (site != g_target) return;
  if (g_adopted_lease != nullptr && !ThisThreadHolds(g_adopted_lease)) return;
  char byte = 'k';
  (void)!write(g_notify_fd, &byte, 1);
  for (;;) pause();  // the parent SIGKILLs us here
}

Queue MakeQueue(const std::string& name) {
  return testing::CreateQueue(name, kCapacity, /*slot_size=*/64);
}

// A message long enough that "half copied" is visibly torn.
std::string Msg(int i) { return absl::StrCat("message-", i, std::string(40, 'a' + i)); }

// Runs `op` in a child that is SIGKILLed when it reaches `site`. Returns
// false if the child never got there.
bool KillChildAt(const std::string& name, CrashSite site,
                 const std::function<void(Queue&)>& op) {
  testing::Signal reached;
  pid_t pid = testing::ForkChild([&] {
    absl::StatusOr<Queue> q = Queue::Open(name);
    if (!q.ok()) return 1;
    g_target = site;
    g_notify_fd = reached.WriteFd();
    internal::SetCrashHook(StopHere);
    op(*q);
    return 2;  // finished without reaching the site
  });
  bool got_there = reached.WaitFor(kBound) == 'k';
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  return got_there && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

// Drains `q`, expecting exactly `expected`, then proves no slot leaked.
void ExpectDrainsToThenFullCapacity(Queue& q,
                                    const std::vector<std::string>& expected) {
  std::string out;
  for (const std::string& want : expected) {
    absl::Status s = q.ReceiveFor(&out, kBound);
    ASSERT_TRUE(s.ok()) << s;
    EXPECT_EQ(out, want);
  }
  EXPECT_EQ(q.TryReceive(&out).code(), absl::StatusCode::kUnavailable)
      << "unexpected extra message: " << out;
  for (uint64_t i = 0; i < kCapacity; ++i) {
    ASSERT_TRUE(q.SendFor(Msg(100 + i), kBound).ok()) << "slot " << i << " leaked";
  }
  EXPECT_EQ(q.TrySend("one too many").code(), absl::StatusCode::kUnavailable);
  for (uint64_t i = 0; i < kCapacity; ++i) {
    ASSERT_TRUE(q.ReceiveFor(&out, kBound).ok());
    EXPECT_EQ(out, Msg(100 + i));
  }
}

struct SendCase {
  CrashSite site;
  bool committed;      // the killed send's message is in the queue
  bool held_the_lock;  // the child died holding the send lock
  bool torn;           // it died with a half-written slot
};

class SendKilledTest : public ::testing::TestWithParam<SendCase> {};

const SendCase kSendCases[] = {
    // Window 2: between "there is an empty slot" and taking the mutex.
    {CrashSite::kSendBeforeLock, false, false, false},
    // Window 1: holding the mutex.
    {CrashSite::kSendLocked, false, true, false},
    // Window 3: mid-copy; the torn slot must never be delivered.
    {CrashSite::kSendMidCopy, false, true, true},
    // Window 2: published (tail moved), consumers not woken (the classic
    // "before post(full)"); still holding the mutex.
    {CrashSite::kSendPublished, true, true, false},
    // After waking and unlocking, before returning.
    {CrashSite::kSendUnlocked, true, false, false},
};

template <typename Case>
std::string SiteName(const ::testing::TestParamInfo<Case>& info) {
  return std::to_string(static_cast<int>(info.param.site));
}

// After a child queued Msg(0) and Msg(1) and was killed at c.site sending
// Msg(2): the next send (ours) takes the lock, repairing it if the child
// held it, and the queue holds the two, plus the third exactly when it had
// been published, intact.
void ExpectSendWindowRepaired(Queue& q, const SendCase& c) {
  ASSERT_TRUE(q.SendFor(Msg(3), kBound).ok());
  Stats st = q.GetStats();
  EXPECT_EQ(st.send_lock_owner_deaths, c.held_the_lock ? 1u : 0u);
  EXPECT_EQ(st.discarded_partial_sends, c.torn ? 1u : 0u);
  std::vector<std::string> expected = {Msg(0), Msg(1)};
  if (c.committed) expected.push_back(Msg(2));
  expected.push_back(Msg(3));
  ExpectDrainsToThenFullCapacity(q, expected);
}

// Two messages are queued, then a child's send of a third is killed at the
// site. The queue holds the two, plus the third exactly when it had been
// published, intact.
TEST_P(SendKilledTest, QueueStaysConsistent) {
  const SendCase c = GetParam();
  ScopedQueueName name;
  Queue q = MakeQueue(name);
  ASSERT_TRUE(q.Send(Msg(0)).ok());
  ASSERT_TRUE(q.Send(Msg(1)).ok());
  ASSERT_TRUE(KillChildAt(name, c.site, [](Queue& child) {
    (void)child.Send(Msg(2));
  }));
  ExpectSendWindowRepaired(q, c);
}

INSTANTIATE_TEST_SUITE_P(
    Windows, SendKilledTest,
    ::testing::ValuesIn(kSendCases), SiteName<SendCase>);

struct ReceiveCase {
  CrashSite site;
  bool taken;          // the message left the queue with the dead consumer
  bool held_the_lock;  // the child died holding the receive lock
};

class ReceiveKilledTest : public ::testing::TestWithParam<ReceiveCase> {};

const ReceiveCase kReceiveCases[] = {
    // After seeing a message (was: holding a full token), before the lock.
    {CrashSite::kReceiveBeforeLock, false, false},
    {CrashSite::kReceiveLocked, false, true},
    {CrashSite::kReceiveMidCopy, false, true},
    // After advancing head, before returning.
    {CrashSite::kReceiveTaken, true, true},
    {CrashSite::kReceiveUnlocked, true, false},
};

// After Msg(0..2) were queued and a child's receive was killed at c.site:
// the dead consumer cost at most the message it was taking.
void ExpectReceiveWindowRepaired(Queue& q, const ReceiveCase& c) {
  std::string out;
  ASSERT_TRUE(q.ReceiveFor(&out, kBound).ok());
  EXPECT_EQ(out, c.taken ? Msg(1) : Msg(0));
  Stats st = q.GetStats();
  EXPECT_EQ(st.receive_lock_owner_deaths, c.held_the_lock ? 1u : 0u);
  EXPECT_EQ(st.receives_lost_to_dead_consumers,
            c.held_the_lock && c.taken ? 1u : 0u);
  std::vector<std::string> rest;
  for (int i = c.taken ? 2 : 1; i < 3; ++i) rest.push_back(Msg(i));
  ExpectDrainsToThenFullCapacity(q, rest);
}

// Three messages are queued, then a child's receive is killed at the site
// (window 4). The dead consumer costs at most the message it was taking.
TEST_P(ReceiveKilledTest, LosesAtMostTheMessageInFlight) {
  const ReceiveCase c = GetParam();
  ScopedQueueName name;
  Queue q = MakeQueue(name);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(q.Send(Msg(i)).ok());
  ASSERT_TRUE(KillChildAt(name, c.site, [](Queue& child) {
    std::string out;
    (void)child.Receive(&out);
  }));
  ExpectReceiveWindowRepaired(q, c);
}

INSTANTIATE_TEST_SUITE_P(
    Windows, ReceiveKilledTest,
    ::testing::ValuesIn(kReceiveCases), SiteName<ReceiveCase>);

// ---- The same windows, the lock held through a bias (leased_lock.h). ----

// A site no call reaches: the hook stays quiet while a child earns a bias.
constexpr CrashSite kNowhere = static_cast<CrashSite>(-1);

// As KillChildAt, but the child first earns the bias of both side locks
// (kBiasAfter + 1 sends and receives in a row, the hook quiet meanwhile),
// then runs `setup` through them, and only then `op`: killed at `site`, it
// holds a lock (if it does) through its inside mark, never the word. False
// if the child got no bias or never reached the site.
bool KillBiasedChildAt(const std::string& name, CrashSite site,
                       const std::function<void(Queue&)>& setup,
                       const std::function<void(Queue&)>& op) {
  return KillChildAt(name, site, [&](Queue& child) {
    g_target = kNowhere;
    if (!testing::EarnBias(child)) return;
    setup(child);
    testing::RawView view(name);
    if (view.header()->send.lock.biased_to() == 0 ||
        view.header()->recv.lock.biased_to() == 0) {
      return;
    }
    g_target = site;
    op(child);
  });
}

class BiasedSendKilledTest : public ::testing::TestWithParam<SendCase> {};

// As SendKilledTest, the dead producer holding the send lock through its
// bias: the parent's send revokes it, finds the mark where the child died
// inside, probes the dead lease and repairs exactly as for a word holder.
TEST_P(BiasedSendKilledTest, QueueStaysConsistent) {
  const SendCase c = GetParam();
  ScopedQueueName name;
  Queue q = MakeQueue(name);
  if (!internal::LightPostsEnabled()) {
    GTEST_SKIP() << testing::kNoBias;
  }
  ASSERT_TRUE(KillBiasedChildAt(
      name, c.site,
      [](Queue& child) {
        (void)child.Send(Msg(0));
        (void)child.Send(Msg(1));
      },
      [](Queue& child) { (void)child.Send(Msg(2)); }));
  ExpectSendWindowRepaired(q, c);
}

INSTANTIATE_TEST_SUITE_P(
    Windows, BiasedSendKilledTest,
    ::testing::ValuesIn(kSendCases), SiteName<SendCase>);

class BiasedReceiveKilledTest
    : public ::testing::TestWithParam<ReceiveCase> {};

// As ReceiveKilledTest, the dead consumer holding the receive lock through
// its bias.
TEST_P(BiasedReceiveKilledTest, LosesAtMostTheMessageInFlight) {
  const ReceiveCase c = GetParam();
  ScopedQueueName name;
  Queue q = MakeQueue(name);
  if (!internal::LightPostsEnabled()) {
    GTEST_SKIP() << testing::kNoBias;
  }
  ASSERT_TRUE(KillBiasedChildAt(
      name, c.site,
      [](Queue& child) {
        for (int i = 0; i < 3; ++i) (void)child.Send(Msg(i));
      },
      [](Queue& child) {
        std::string out;
        (void)child.Receive(&out);
      }));
  ExpectReceiveWindowRepaired(q, c);
}

INSTANTIATE_TEST_SUITE_P(
    Windows, BiasedReceiveKilledTest,
    ::testing::ValuesIn(kReceiveCases), SiteName<ReceiveCase>);

// Window 2 seen from a sleeper: a producer dies after publishing but before
// waking anyone, and no other producer comes to repair its lock. A consumer
// already asleep on the empty queue still gets the message, at its next
// re-check, well within its timeout.
TEST(CrashRecoveryTest, SleepingConsumerGetsMessageWhosePosterDied) {
  ScopedQueueName name;
  Queue q = MakeQueue(name);
  std::string out;
  absl::Status got;
  std::thread consumer([&] { got = q.ReceiveFor(&out, kBound); });
  ASSERT_TRUE(testing::AwaitSleeper(name, testing::Side::kReceivers, kBound));
  ASSERT_TRUE(KillChildAt(name, CrashSite::kSendPublished,
                          [](Queue& child) { (void)child.Send(Msg(7)); }));
  consumer.join();
  ASSERT_TRUE(got.ok()) << got;
  EXPECT_EQ(out, Msg(7));
}

// A producer dies inside its wake-up call, after clearing the sleepers bit
// but before FUTEX_WAKE, holding the send lock. The next producer repairs the
// lock and must wake the sleeping consumer although the bit reads clear;
// the consumer then gets both messages, in order.
TEST(CrashRecoveryTest, RepairWakesSleepersAPosterDiedWaking) {
  ScopedQueueName name;
  Queue q = MakeQueue(name);
  std::vector<std::string> got;
  absl::Status status;
  std::thread consumer([&] {
    std::string out;
    for (int i = 0; i < 2 && (status = q.ReceiveFor(&out, kBound)).ok(); ++i) {
      got.push_back(out);
    }
  });
  ASSERT_TRUE(testing::AwaitSleeper(name, testing::Side::kReceivers, kBound));
  ASSERT_TRUE(KillChildAt(name, CrashSite::kWaking,
                          [](Queue& child) { (void)child.Send(Msg(7)); }));
  ASSERT_TRUE(q.SendFor(Msg(8), kBound).ok());
  consumer.join();
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(got, (std::vector<std::string>{Msg(7), Msg(8)}));
  EXPECT_EQ(q.GetStats().send_lock_owner_deaths, 1u);
}

// The mirror image: a consumer frees a slot and dies before waking the
// producer asleep on the full queue; the producer still gets the slot.
TEST(CrashRecoveryTest, SleepingProducerGetsSlotWhoseFreerDied) {
  ScopedQueueName name;
  Queue q = MakeQueue(name);
  for (uint64_t i = 0; i < kCapacity; ++i) ASSERT_TRUE(q.Send(Msg(i)).ok());
  absl::Status sent;
  std::thread producer([&] { sent = q.SendFor(Msg(9), kBound); });
  ASSERT_TRUE(testing::AwaitSleeper(name, testing::Side::kSenders, kBound));
  ASSERT_TRUE(KillChildAt(name, CrashSite::kReceiveTaken, [](Queue& child) {
    std::string out;
    (void)child.Receive(&out);
  }));
  producer.join();
  ASSERT_TRUE(sent.ok()) << sent;
  std::vector<std::string> expected;
  for (uint64_t i = 1; i < kCapacity; ++i) expected.push_back(Msg(i));
  expected.push_back(Msg(9));
  ExpectDrainsToThenFullCapacity(q, expected);
}

// Window 5: the repair itself is interrupted. A first child dies mid-copy
// holding the send lock; a second child starts the repair and dies in it
// before marking the lock consistent. The next locker repairs again, and
// the queue works, with both deaths counted.
TEST(CrashRecoveryTest, InterruptedRepairIsRepairedByTheNextLocker) {
  ScopedQueueName name;
  Queue q = MakeQueue(name);
  ASSERT_TRUE(q.Send(Msg(0)).ok());
  ASSERT_TRUE(KillChildAt(name, CrashSite::kSendMidCopy,
                          [](Queue& child) { (void)child.Send(Msg(1)); }));
  ASSERT_TRUE(KillChildAt(name, CrashSite::kRepairing,
                          [](Queue& child) { (void)child.Send(Msg(2)); }));
  ASSERT_TRUE(q.SendFor(Msg(3), kBound).ok());
  Stats st = q.GetStats();
  EXPECT_EQ(st.send_lock_owner_deaths, 2u);
  EXPECT_EQ(st.discarded_partial_sends, 1u);
  ExpectDrainsToThenFullCapacity(q, {Msg(0), Msg(3)});
}

// Stats must work on a queue whose last user died holding a lock: it reads
// without locking.
TEST(CrashRecoveryTest, StatsWorkWhileADeadProcessHoldsTheLock) {
  ScopedQueueName name;
  Queue q = MakeQueue(name);
  ASSERT_TRUE(q.Send(Msg(0)).ok());
  ASSERT_TRUE(KillChildAt(name, CrashSite::kSendLocked,
                          [](Queue& child) { (void)child.Send(Msg(1)); }));
  absl::StatusOr<Queue> fresh = Queue::Open(name);
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  Stats st = fresh->GetStats();
  EXPECT_EQ(st.depth, 1u);
  EXPECT_EQ(st.send_lock_owner_deaths, 0u);  // not repaired until next lock
}

// ---------------------------------------------------------------------------
// Taking over a dead holder's lease (internal/lease_table.h) is a hazard
// window of its own: the taker holds the lease, owner-dead or free, and
// releases the side locks it still names (recovery.h, ReleaseLocksOf). Two
// takers: a waiter probing the holder of a busy lock (a prober), and a
// thread looking for a lease of its own. Each is killed at kAdoptingLease
// (nothing released yet) and at kAdoptedLease (the locks repaired and
// released, the lease not yet marked consistent); then the next locker
// finishes or finds nothing to do. The repair is counted exactly once,
// nothing committed is lost or duplicated, and the lease can be taken again.


// In new threads of this process, one after another, runs `op` on `q` (each
// thread then keeps its lease, up to kLeases threads) until `done()`; then
// lets them all exit. Returns whether `done()` came true.
bool InNewThreadsUntil(Queue& q, const std::function<void(Queue&)>& op,
                       const std::function<bool()>& done) {
  std::mutex mu;
  std::condition_variable cv;
  int finished = 0;
  bool all_may_exit = false;
  std::vector<std::thread> threads;
  bool reached = false;
  for (uint32_t i = 0; i < internal::kLeases && !reached; ++i) {
    threads.emplace_back([&] {
      op(q);
      std::unique_lock<std::mutex> lock(mu);
      ++finished;
      cv.notify_all();
      cv.wait_for(lock, absl::ToChronoNanoseconds(kBound),
                  [&] { return all_may_exit; });
    });
    std::unique_lock<std::mutex> lock(mu);
    if (!cv.wait_for(lock, absl::ToChronoNanoseconds(kBound),
                     [&] { return finished == static_cast<int>(i) + 1; })) {
      break;
    }
    lock.unlock();
    reached = done();
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    all_may_exit = true;
    cv.notify_all();
  }
  for (std::thread& t : threads) t.join();
  return reached;
}

// Locks and releases the side opposite to the one a dead holder left
// locked, changing nothing: a Peek dropped, or a Reserve dropped. Such a
// lock never waits on the dead holder, so only taking a lease can meet it.
void LockOtherSide(Queue& q, bool dead_held_send) {
  if (dead_held_send) {
    (void)q.Peek(kBound);
  } else {
    (void)q.Reserve(kBound);
  }
}

// As KillChildAt, but the child first takes its lease (a Reserve dropped:
// nothing changes), then waits for `while_leased` to run here before it runs
// `op` with the hook armed: so it meets a lease that died meanwhile as a
// prober, not as a taker.
bool KillProberAt(const std::string& name, CrashSite site,
                  const std::function<void(Queue&)>& op,
                  const std::function<bool()>& while_leased) {
  testing::Signal leased, go, reached;
  pid_t pid = testing::ForkChild([&] {
    absl::StatusOr<Queue> q = Queue::Open(name);
    if (!q.ok()) return 1;
    if (!q->Reserve(kBound).ok()) return 3;
    leased.Notify('l');
    if (go.WaitFor(kBound) != 'g') return 4;
    g_target = site;
    g_notify_fd = reached.WriteFd();
    internal::SetCrashHook(StopHere);
    op(*q);
    return 2;  // finished without reaching the site
  });
  bool ok = leased.WaitFor(kBound) == 'l' && while_leased();
  if (ok) go.Notify('g');
  ok = ok && reached.WaitFor(kBound) == 'k';
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  return ok && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

enum class Taker { kProber, kOwnLease };

struct AdoptCase {
  CrashSite site;  // kAdoptingLease or kAdoptedLease
  bool send;       // the first child died holding the send lock (else receive)
  Taker taker;
};

class AdoptionKilledTest : public ::testing::TestWithParam<AdoptCase> {};

// Three messages queued. A first child dies holding a side lock with
// something in flight: mid-copy of a send (a torn slot) or after taking a
// message (lost to it). A second child takes over its lease and is killed
// at the site. The parent's next call on that side then works, with the
// first death counted once and its message discarded (lost) once.
TEST_P(AdoptionKilledTest, NextLockerFinishesTheTakeover) {
  const AdoptCase c = GetParam();
  ScopedQueueName name;
  Queue q = MakeQueue(name);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(q.Send(Msg(i)).ok());
  testing::RawView view(name);
  internal::SideLock& side = c.send ? view.header()->send : view.header()->recv;
  uint32_t dead = 0;
  auto first_dies_holding_the_lock = [&] {
    const bool killed =
        c.send ? KillChildAt(name, CrashSite::kSendMidCopy,
                             [](Queue& child) { (void)child.Send(Msg(3)); })
               : KillChildAt(name, CrashSite::kReceiveTaken, [](Queue& child) {
                   std::string out;
                   (void)child.Receive(&out);
                 });
    dead = side.lock.holder();
    return killed && dead != 0;
  };

  if (c.taker == Taker::kProber) {
    ASSERT_TRUE(KillProberAt(
        name, c.site,
        [&](Queue& child) {
          // The dead lease is known only now (the lock names it): this
          // child was forked before the first one died.
          g_adopted_lease = &view.lease(side.lock.holder());
          if (c.send) {
            (void)child.Send(Msg(5));
          } else {
            std::string out;
            (void)child.Receive(&out);
          }
        },
        first_dies_holding_the_lock));
  } else {
    ASSERT_TRUE(first_dies_holding_the_lock());
    // A fresh process's threads take leases (locking the other side only)
    // until one takes the dead one.
    ASSERT_TRUE(KillChildAt(name, c.site, [&](Queue& child) {
      g_adopted_lease = &view.lease(dead);
      InNewThreadsUntil(
          child, [&](Queue& t) { LockOtherSide(t, c.send); },
          [] { return false; });
    }));
  }
  g_adopted_lease = nullptr;

  // Killed before releasing anything, the lock still names the dead lease;
  // killed after, it is free and the repair counted.
  const bool released = c.site == CrashSite::kAdoptedLease;
  EXPECT_EQ(side.lock.holder(), released ? 0u : dead);
  Stats st = q.GetStats();
  EXPECT_EQ(c.send ? st.send_lock_owner_deaths : st.receive_lock_owner_deaths,
            released ? 1u : 0u);

  std::vector<std::string> expected;
  std::string out;
  if (c.send) {
    ASSERT_TRUE(q.SendFor(Msg(4), kBound).ok());
    expected = {Msg(0), Msg(1), Msg(2), Msg(4)};
  } else {
    ASSERT_TRUE(q.ReceiveFor(&out, kBound).ok());
    EXPECT_EQ(out, Msg(1));  // Msg(0) went with the first child
    expected = {Msg(2)};
  }
  st = q.GetStats();
  EXPECT_EQ(st.send_lock_owner_deaths, c.send ? 1u : 0u);
  EXPECT_EQ(st.discarded_partial_sends, c.send ? 1u : 0u);
  EXPECT_EQ(st.receive_lock_owner_deaths, c.send ? 0u : 1u);
  EXPECT_EQ(st.receives_lost_to_dead_consumers, c.send ? 0u : 1u);

  ExpectDrainsToThenFullCapacity(q, expected);

  // The dead lease can be taken again (a thread of ours takes it: locking
  // under it works), and taking it repairs nothing twice.
  uint32_t taken = 0;
  EXPECT_TRUE(InNewThreadsUntil(
      q,
      [&](Queue& t) {
        absl::StatusOr<Queue::Reservation> r = t.Reserve(kBound);
        taken = r.ok() ? view.header()->send.lock.holder() : 0;
      },
      [&] { return taken == dead; }))
      << "no thread could take lease " << dead;
  st = q.GetStats();
  EXPECT_EQ(st.send_lock_owner_deaths + st.receive_lock_owner_deaths, 1u);
  EXPECT_EQ(st.depth, 0u);
}

INSTANTIATE_TEST_SUITE_P(
    Takeovers, AdoptionKilledTest,
    ::testing::Values(
        AdoptCase{CrashSite::kAdoptingLease, true, Taker::kProber},
        AdoptCase{CrashSite::kAdoptedLease, true, Taker::kProber},
        AdoptCase{CrashSite::kAdoptingLease, false, Taker::kProber},
        AdoptCase{CrashSite::kAdoptedLease, false, Taker::kProber},
        AdoptCase{CrashSite::kAdoptingLease, true, Taker::kOwnLease},
        AdoptCase{CrashSite::kAdoptedLease, true, Taker::kOwnLease},
        AdoptCase{CrashSite::kAdoptingLease, false, Taker::kOwnLease},
        AdoptCase{CrashSite::kAdoptedLease, false, Taker::kOwnLease}),
    [](const ::testing::TestParamInfo<AdoptCase>& info) {
      return absl::StrCat(static_cast<int>(info.param.site),
                          info.param.send ? "Send" : "Receive",
                          info.param.taker == Taker::kProber ? "Prober"
                                                             : "OwnLease");
    });

// A thread taking a lease of its own that turns out to be a dead holder's
// releases the lock it names before the lease is used, though the thread
// never locks that side: the send lock is free and its repair counted
// before anyone sends again.
TEST(CrashRecoveryTest, TakingADeadLeaseReleasesTheLockItNames) {
  ScopedQueueName name;
  Queue q = MakeQueue(name);
  ASSERT_TRUE(q.Send(Msg(0)).ok());
  ASSERT_TRUE(KillChildAt(name, CrashSite::kSendMidCopy,
                          [](Queue& child) { (void)child.Send(Msg(1)); }));
  testing::RawView view(name);
  const uint32_t dead = view.header()->send.lock.holder();
  ASSERT_NE(dead, 0u);
  EXPECT_TRUE(InNewThreadsUntil(
      q, [](Queue& t) { LockOtherSide(t, /*dead_held_send=*/true); },
      [&] { return view.header()->send.lock.holder() == 0; }))
      << "no new thread took lease " << dead;
  Stats st = q.GetStats();
  EXPECT_EQ(st.send_lock_owner_deaths, 1u);
  EXPECT_EQ(st.discarded_partial_sends, 1u);
  EXPECT_EQ(st.depth, 1u);
  ASSERT_TRUE(q.SendFor(Msg(2), kBound).ok());
  EXPECT_EQ(q.GetStats().send_lock_owner_deaths, 1u);
  ExpectDrainsToThenFullCapacity(q, {Msg(0), Msg(2)});
}

// ---------------------------------------------------------------------------
// Several priorities (internal/priority_levels.h): every window above at one
// level of a 4-level queue, plus the two new ones between a level's index
// and the header's (kSendCounted, kReceiveLevelTaken). Besides the checks
// above, the header's tail and head must again be the sums of the levels'
// (Stats: depth is the sum of the per-level depths), or the drain-and-fill
// check finds a leaked or an invented slot.

constexpr uint32_t kLevels = 4;

Queue MakeLeveledQueue(const std::string& name) {
  return testing::CreateQueue(name, kCapacity, /*slot_size=*/64, kLevels);
}

struct Leveled {
  std::string message;
  uint32_t priority;
  bool operator==(const Leveled& o) const {
    return message == o.message && priority == o.priority;
  }
};

// Once both sides were locked since the crash (so repaired), the header's
// tail - head is again the sum of the levels' depths.
void ExpectConsistentStats(Queue& q) {
  Stats st = q.GetStats();
  uint64_t sum = 0;
  for (uint32_t l = 0; l < kLevels; ++l) sum += st.depth_by_priority[l];
  EXPECT_EQ(st.depth, sum);
  EXPECT_EQ(st.tail - st.head, sum)
      << "tail " << st.tail << ", head " << st.head;
}

// Drains `q`, expecting exactly `expected`, then proves no slot leaked (at
// every level) and the header's indexes agree with the levels'.
void ExpectLevelsDrainToThenFullCapacity(Queue& q,
                                         const std::vector<Leveled>& expected) {
  for (const Leveled& want : expected) {
    Leveled got{"", 99};
    absl::Status s = q.ReceiveFor(&got.message, kBound, &got.priority);
    ASSERT_TRUE(s.ok()) << s;
    EXPECT_EQ(got.message, want.message);
    EXPECT_EQ(got.priority, want.priority);
  }
  std::string out;
  EXPECT_EQ(q.TryReceive(&out).code(), absl::StatusCode::kUnavailable)
      << "unexpected extra message: " << out;
  ExpectConsistentStats(q);
  for (uint64_t i = 0; i < kCapacity; ++i) {
    ASSERT_TRUE(q.SendFor(Msg(100 + i), i % kLevels, kBound).ok())
        << "slot " << i << " leaked";
  }
  for (uint32_t l = 0; l < kLevels; ++l) {
    EXPECT_EQ(q.TrySend("one too many", l).code(),
              absl::StatusCode::kUnavailable);
  }
  for (uint64_t i = kCapacity; i-- > 0;) {  // kCapacity == kLevels: one each
    uint32_t priority;
    ASSERT_TRUE(q.ReceiveFor(&out, kBound, &priority).ok());
    EXPECT_EQ(out, Msg(100 + i));
    EXPECT_EQ(priority, i % kLevels);
  }
  static_assert(kCapacity == kLevels, "the loop above takes one per level");
}

class LeveledSendKilledTest : public ::testing::TestWithParam<SendCase> {};

// Msg(0) at 0 and Msg(1) at 3 are queued; a child's send of Msg(2) at 2 is
// killed at the site; the parent then sends Msg(3) at 2.
TEST_P(LeveledSendKilledTest, QueueStaysConsistent) {
  const SendCase c = GetParam();
  ScopedQueueName name;
  Queue q = MakeLeveledQueue(name);
  ASSERT_TRUE(q.Send(Msg(0), 0).ok());
  ASSERT_TRUE(q.Send(Msg(1), 3).ok());
  ASSERT_TRUE(KillChildAt(name, c.site, [](Queue& child) {
    (void)child.Send(Msg(2), 2);
  }));
  ASSERT_TRUE(q.SendFor(Msg(3), 2, kBound).ok());
  Stats st = q.GetStats();
  EXPECT_EQ(st.send_lock_owner_deaths, c.held_the_lock ? 1u : 0u);
  EXPECT_EQ(st.discarded_partial_sends, c.torn ? 1u : 0u);
  std::vector<Leveled> expected = {{Msg(1), 3}};
  if (c.committed) expected.push_back({Msg(2), 2});
  expected.push_back({Msg(3), 2});
  expected.push_back({Msg(0), 0});
  ExpectLevelsDrainToThenFullCapacity(q, expected);
}

INSTANTIATE_TEST_SUITE_P(
    Windows, LeveledSendKilledTest,
    ::testing::Values(
        SendCase{CrashSite::kSendBeforeLock, false, false, false},
        SendCase{CrashSite::kSendLocked, false, true, false},
        SendCase{CrashSite::kSendMidCopy, false, true, true},
        // tail counted the message, its level tail not yet: never
        // published, so discarded, and the repairer takes tail back to the
        // sum of the level tails.
        SendCase{CrashSite::kSendCounted, false, true, true},
        SendCase{CrashSite::kSendPublished, true, true, false},
        SendCase{CrashSite::kSendUnlocked, true, false, false}),
    [](const ::testing::TestParamInfo<SendCase>& info) {
      return std::to_string(static_cast<int>(info.param.site));
    });

class LeveledReceiveKilledTest
    : public ::testing::TestWithParam<ReceiveCase> {};

// Msg(0) at 0, then Msg(1) and Msg(2) at 2 are queued; a child's receive
// (which takes Msg(1)) is killed at the site.
TEST_P(LeveledReceiveKilledTest, LosesAtMostTheMessageInFlight) {
  const ReceiveCase c = GetParam();
  ScopedQueueName name;
  Queue q = MakeLeveledQueue(name);
  ASSERT_TRUE(q.Send(Msg(0), 0).ok());
  ASSERT_TRUE(q.Send(Msg(1), 2).ok());
  ASSERT_TRUE(q.Send(Msg(2), 2).ok());
  ASSERT_TRUE(KillChildAt(name, c.site, [](Queue& child) {
    std::string out;
    (void)child.Receive(&out);
  }));
  std::string out;
  uint32_t priority;
  ASSERT_TRUE(q.ReceiveFor(&out, kBound, &priority).ok());
  EXPECT_EQ(out, c.taken ? Msg(2) : Msg(1));
  EXPECT_EQ(priority, 2u);
  Stats st = q.GetStats();
  EXPECT_EQ(st.receive_lock_owner_deaths, c.held_the_lock ? 1u : 0u);
  EXPECT_EQ(st.receives_lost_to_dead_consumers,
            c.held_the_lock && c.taken ? 1u : 0u);
  std::vector<Leveled> rest;
  if (!c.taken) rest.push_back({Msg(2), 2});
  rest.push_back({Msg(0), 0});
  ExpectLevelsDrainToThenFullCapacity(q, rest);
}

INSTANTIATE_TEST_SUITE_P(
    Windows, LeveledReceiveKilledTest,
    ::testing::Values(
        ReceiveCase{CrashSite::kReceiveBeforeLock, false, false},
        ReceiveCase{CrashSite::kReceiveLocked, false, true},
        ReceiveCase{CrashSite::kReceiveMidCopy, false, true},
        // The level head moved, head not yet: taken, and the repairer
        // brings head up to the sum of the level heads.
        ReceiveCase{CrashSite::kReceiveLevelTaken, true, true},
        ReceiveCase{CrashSite::kReceiveTaken, true, true},
        ReceiveCase{CrashSite::kReceiveUnlocked, true, false}),
    [](const ::testing::TestParamInfo<ReceiveCase>& info) {
      return std::to_string(static_cast<int>(info.param.site));
    });

// A consumer asleep on an empty 4-level queue gets a message whose producer
// died after publishing it in its level, before waking anyone, with no other
// producer to repair the lock: its re-check reads the level tails.
TEST(CrashRecoveryTest, LeveledSleepingConsumerGetsMessageWhosePosterDied) {
  ScopedQueueName name;
  Queue q = MakeLeveledQueue(name);
  std::string out;
  uint32_t priority = 0;
  absl::Status got;
  std::thread consumer([&] { got = q.ReceiveFor(&out, kBound, &priority); });
  ASSERT_TRUE(testing::AwaitSleeper(name, testing::Side::kReceivers, kBound));
  ASSERT_TRUE(KillChildAt(name, CrashSite::kSendPublished,
                          [](Queue& child) { (void)child.Send(Msg(7), 3); }));
  consumer.join();
  ASSERT_TRUE(got.ok()) << got;
  EXPECT_EQ(out, Msg(7));
  EXPECT_EQ(priority, 3u);
}

// A producer asleep on a full 4-level queue gets the slot a consumer freed
// in its level before dying (head not yet moved, no consumer to repair the
// lock): its re-check sums the level heads.
TEST(CrashRecoveryTest, LeveledSleepingProducerGetsSlotWhoseFreerDied) {
  ScopedQueueName name;
  Queue q = MakeLeveledQueue(name);
  for (uint64_t i = 0; i < kCapacity; ++i) {
    ASSERT_TRUE(q.Send(Msg(i), i % kLevels).ok());
  }
  absl::Status sent;
  std::thread producer([&] { sent = q.SendFor(Msg(9), 1, kBound); });
  ASSERT_TRUE(testing::AwaitSleeper(name, testing::Side::kSenders, kBound));
  ASSERT_TRUE(KillChildAt(name, CrashSite::kReceiveLevelTaken,
                          [](Queue& child) {
                            std::string out;
                            (void)child.Receive(&out);
                          }));
  producer.join();
  ASSERT_TRUE(sent.ok()) << sent;
  // Msg(3) at 3 went with the dead consumer.
  ExpectLevelsDrainToThenFullCapacity(
      q, {{Msg(2), 2}, {Msg(1), 1}, {Msg(9), 1}, {Msg(0), 0}});
}

}  // namespace
}  // namespace ringbuf
