// Review of the biased side locks (internal/leased_lock.h): what the
// protocol promises beyond bias_test.cc's cases.
//   * mutual exclusion holds while a bias keeps changing hands, at the
//     lock itself, through millions of biased holds and revocations;
//   * a waiter looks at each lease it comes to wait for before it sleeps:
//     a dead revoker of a dead biased holder costs no sleep slice;
//   * a thread that exits inside through its bias is repaired as a dead
//     holder, one that exits with a bare bias counts no death;
//   * Shutdown ends a revoker's wait and hands the bias back; a queue of
//     priorities keeps its order across revocations; a process refused the
//     fence still revokes.
// White-box: the lock is driven directly, or its words written raw.
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <cerrno>
#include <cstddef>

#include <algorithm>
#include <cstring>
#include <atomic>
#include <cstdint>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "ringbuf/internal/asymmetric_fence.h"
#include "ringbuf/internal/deadline.h"
#include "ringbuf/internal/layout.h"
#include "ringbuf/internal/lease_table.h"
#include "ringbuf/internal/leased_lock.h"
#include "ringbuf/queue.h"
#include "tests/test_util.h"

namespace ringbuf {
namespace {

using internal::Deadline;
using internal::InsideMarks;
using internal::LeasedLock;
using internal::LeaseTable;
using testing::EarnBias;
using testing::kNoBias;
using testing::RawView;
using testing::ScopedQueueName;

constexpr absl::Duration kBound = absl::Seconds(20);

// Two leases of `view`'s table that nobody holds (their threads gone, as
// far as a prober can tell), or {0, 0}.
std::pair<uint32_t, uint32_t> TwoFreeLeases(RawView& view) {
  uint32_t found[2] = {0, 0};
  int n = 0;
  for (uint32_t id = 1; id <= internal::kLeases && n < 2; ++id) {
    if (__atomic_load_n(&view.lease(id).__data.__lock, __ATOMIC_RELAXED) ==
        0) {
      found[n++] = id;
    }
  }
  return {found[0], found[1]};
}

// A process killed while one of its threads was inside the receive lock
// through its bias (x, marked inside) and another of its threads, or of
// another killed process, was revoking that bias (Revoking(r, x)). The next
// receiver probes r and hands the bias back to x, revokes it and then waits
// for x: it must look at x's lease before it sleeps, as at any lease it
// comes to wait for, and take the lock at once, not one sleep slice
// (kLockSlice) later. A slice is a lower bound of each call without that
// look (nothing wakes the sleeper); with it, no call of five should come
// near half a slice, even on a loaded machine.
TEST(BiasReviewTest, WaiterLooksAtEachLeaseItComesToWaitForBeforeSleeping) {
  ScopedQueueName name;
  Queue q = testing::CreateQueue(name, 4, 32);
  ASSERT_TRUE(q.TrySend("m").ok());  // this thread takes its lease
  RawView view(name);
  const auto [x, r] = TwoFreeLeases(view);
  ASSERT_NE(r, 0u);
  internal::SideLock& recv = view.header()->recv;
  absl::Duration fastest = absl::InfiniteDuration();
  for (int i = 0; i < 5; ++i) {
    view.leases().inside(x, internal::kReceiveLock).store(1);
    RawView::lock_word(recv).store(internal::Revoking(r, x));
    std::string out;
    const absl::Time start = absl::Now();
    absl::Status s = q.ReceiveFor(&out, kBound);
    fastest = std::min(fastest, absl::Now() - start);
    ASSERT_TRUE(s.ok()) << s;
    EXPECT_EQ(out, "m");
    EXPECT_EQ(view.leases().inside(x, internal::kReceiveLock).load(), 0u);
    EXPECT_EQ(RawView::lock_word(recv).load(), 0u);
    ASSERT_TRUE(q.TrySend("m").ok());
  }
  EXPECT_LT(fastest, internal::kLockSlice / 2);
  // Each was a death inside the lock: repaired and counted.
  EXPECT_EQ(q.GetStats().receive_lock_owner_deaths, 5u);
}

// As lease_test's ThreadExitingWithAPeekLeavesTheMessageToTheNextReceiver,
// with the Peek held through the thread's bias: the lock word never names
// it, only its inside mark says it is in. The next receiver revokes the
// bias, finds the mark, probes the lease (given back at thread exit),
// repairs and counts, and gets the message the Peek had left in place.
TEST(BiasReviewTest, ThreadExitingWithAPeekHeldThroughItsBias) {
  ScopedQueueName name;
  Queue q = testing::CreateQueue(name, 4, 32);
  if (!internal::LightPostsEnabled()) GTEST_SKIP() << kNoBias;
  RawView view(name);
  internal::SideLock& recv = view.header()->recv;
  alignas(Queue::Peeked) unsigned char orphan[sizeof(Queue::Peeked)];
  absl::Status peeked;
  uint32_t lease = 0;
  std::thread([&] {
    if (!EarnBias(q) || !q.Send("first").ok() || !q.Send("second").ok()) {
      peeked = absl::InternalError("could not earn the bias");
      return;
    }
    lease = recv.lock.biased_to();
    absl::StatusOr<Queue::Peeked> p = q.Peek(kBound);
    peeked = p.status();
    if (p.ok()) new (orphan) Queue::Peeked(*std::move(p));
  }).join();
  ASSERT_TRUE(peeked.ok()) << peeked;
  ASSERT_NE(lease, 0u);
  ASSERT_EQ(RawView::lock_word(recv).load(), internal::BiasedTo(lease));
  ASSERT_EQ(view.leases().inside(lease, internal::kReceiveLock).load(), 1u);
  std::string out;
  ASSERT_TRUE(q.ReceiveFor(&out, kBound).ok());
  EXPECT_EQ(out, "first");
  EXPECT_EQ(view.leases().inside(lease, internal::kReceiveLock).load(), 0u);
  Stats st = q.GetStats();
  EXPECT_EQ(st.receive_lock_owner_deaths, 1u);
  EXPECT_EQ(st.receives_lost_to_dead_consumers, 0u);
  ASSERT_TRUE(q.ReceiveFor(&out, kBound).ok());
  EXPECT_EQ(out, "second");
  EXPECT_EQ(q.TryReceive(&out).code(), absl::StatusCode::kUnavailable);
}

// A thread that exits with a bias and nothing held leaves the bias to a
// lease nobody holds: the next thread revokes it without a repair (no death
// counted), and a thread that takes that lease later does not inherit it.
TEST(BiasReviewTest, ThreadExitingWithABiasAndNothingHeldCountsNoDeath) {
  ScopedQueueName name;
  Queue q = testing::CreateQueue(name, 4, 32);
  if (!internal::LightPostsEnabled()) GTEST_SKIP() << kNoBias;
  RawView view(name);
  internal::SideLock& send = view.header()->send;
  uint32_t lease = 0;
  std::thread([&] {
    if (EarnBias(q)) lease = send.lock.biased_to();
  }).join();
  ASSERT_NE(lease, 0u);
  ASSERT_TRUE(q.Send("after").ok());
  EXPECT_EQ(send.lock.biased_to(), 0u);
  std::string out;
  ASSERT_TRUE(q.Receive(&out).ok());
  EXPECT_EQ(out, "after");
  const Stats st = q.GetStats();
  EXPECT_EQ(st.send_lock_owner_deaths + st.receive_lock_owner_deaths, 0u);
}

// A queue of several priorities takes its side locks the same way: biased
// toward a lone thread, revoked by another, and every message still comes
// out highest priority first, oldest first within one.
TEST(BiasReviewTest, PrioritiesQueueKeepsItsOrderAcrossARevocation) {
  ScopedQueueName name;
  Options o;
  o.capacity = 8;
  o.slot_size = 32;
  o.priorities = 3;
  absl::StatusOr<Queue> created = Queue::Create(name, o);
  ASSERT_TRUE(created.ok()) << created.status();
  Queue& q = *created;
  if (!internal::LightPostsEnabled()) GTEST_SKIP() << kNoBias;
  RawView view(name);
  ASSERT_TRUE(EarnBias(q));
  const uint32_t a = view.header()->send.lock.biased_to();
  ASSERT_NE(a, 0u);
  ASSERT_EQ(view.header()->recv.lock.biased_to(), a);
  ASSERT_TRUE(q.Send("a-low", 0).ok());  // through the bias
  absl::Status sent;
  std::thread([&] {
    sent = q.Send("b-high", 2);
    if (sent.ok()) sent = q.Send("b-mid", 1);
  }).join();
  ASSERT_TRUE(sent.ok()) << sent;
  EXPECT_EQ(view.header()->send.lock.biased_to(), 0u);
  ASSERT_TRUE(q.Send("a-high", 2).ok());
  std::vector<std::pair<std::string, uint32_t>> got;
  std::thread([&] {  // revokes the receive bias
    std::string out;
    uint32_t priority = 0;
    if (q.TryReceive(&out, &priority).ok()) got.emplace_back(out, priority);
  }).join();
  for (;;) {
    std::string out;
    uint32_t priority = 0;
    if (!q.TryReceive(&out, &priority).ok()) break;
    got.emplace_back(out, priority);
  }
  const std::vector<std::pair<std::string, uint32_t>> want = {
      {"b-high", 2}, {"a-high", 2}, {"b-mid", 1}, {"a-low", 0}};
  EXPECT_EQ(got, want);
}

// Polls `done` until it holds, at most `timeout`.
template <typename F>
bool Await(F done, absl::Duration timeout) {
  const absl::Time until = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > until) return false;
    absl::SleepFor(absl::Microseconds(200));
  }
  return true;
}

// Shutdown() ends a revoker's wait for a biased holder that is inside (a
// Reserve of the same handle, on another thread): it returns Cancelled and
// hands the bias back, the holder still inside; the holder's commit then
// still publishes, and another handle takes the lock.
TEST(BiasReviewTest, ShutdownEndsARevokersWaitAndHandsTheBiasBack) {
  ScopedQueueName name;
  Queue q = testing::CreateQueue(name, 4, 32);
  if (!internal::LightPostsEnabled()) GTEST_SKIP() << kNoBias;
  RawView view(name);
  internal::SideLock& send = view.header()->send;
  ASSERT_TRUE(EarnBias(q));
  const uint32_t a = send.lock.biased_to();
  ASSERT_NE(a, 0u);
  absl::StatusOr<Queue::Reservation> r = q.Reserve(kBound);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(view.leases().inside(a, internal::kSendLock).load(), 1u);

  absl::Status late;
  absl::Time returned;
  std::thread revoker([&] {
    late = q.SendFor("late", kBound);
    returned = absl::Now();
  });
  // The revoker marked the word and sleeps on the lock, waiting for a.
  const bool asleep = Await(
      [&] {
        const internal::LockWord w =
            internal::DecodeLockWord(RawView::lock_word(send).load());
        return w.kind == internal::LockWord::kRevoking && w.lease == a &&
               send.lock.waiter_may_sleep();
      },
      kBound);
  const absl::Time shut = absl::Now();
  q.Shutdown();
  revoker.join();
  ASSERT_TRUE(asleep) << "the revoker never waited asleep";
  EXPECT_EQ(late.code(), absl::StatusCode::kCancelled) << late;
  // Long before its own timeout.
  EXPECT_LT(returned - shut, kBound / 2);
  EXPECT_EQ(RawView::lock_word(send).load(), internal::BiasedTo(a));
  EXPECT_EQ(view.leases().inside(a, internal::kSendLock).load(), 1u);
  std::memcpy(r->buffer().data(), "a", 1);
  ASSERT_TRUE(r->Commit(1).ok());
  EXPECT_EQ(view.leases().inside(a, internal::kSendLock).load(), 0u);

  absl::StatusOr<Queue> other = Queue::Open(name);
  ASSERT_TRUE(other.ok()) << other.status();
  std::string out;
  ASSERT_TRUE(other->ReceiveFor(&out, kBound).ok());
  EXPECT_EQ(out, "a");
  ASSERT_TRUE(other->SendFor("b", kBound).ok());
  ASSERT_TRUE(other->ReceiveFor(&out, kBound).ok());
  EXPECT_EQ(out, "b");
}

// Makes every membarrier(2) call of this process fail with EPERM from now
// on (a seccomp filter, as a sandbox might install). False if it cannot.
bool DenyMembarrier() {
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_membarrier, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog program = {static_cast<unsigned short>(std::size(filter)),
                        filter};
  return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
         prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) == 0;
}

// A process refused the fence (leased_lock.h: a revoker refused it waits
// kUnfencedSleep for the holder's store to drain instead) still revokes
// another process's bias, on both sides, and the holder takes the locks
// back the ordinary way afterwards.
TEST(BiasReviewTest, RevokerRefusedTheFenceStillRevokes) {
  ScopedQueueName name;
  Queue q = testing::CreateQueue(name, 4, 32);
  if (!internal::LightPostsEnabled()) GTEST_SKIP() << kNoBias;
  RawView view(name);
  ASSERT_TRUE(EarnBias(q));
  ASSERT_NE(view.header()->send.lock.biased_to(), 0u);
  ASSERT_NE(view.header()->recv.lock.biased_to(), 0u);
  const pid_t child = testing::ForkChild([&] {
    if (!DenyMembarrier()) return 10;
    if (internal::FenceAgainstLightPosts()) return 11;  // not refused
    absl::StatusOr<Queue> mine = Queue::Open(name);
    if (!mine.ok()) return 12;
    if (!mine->SendFor("child", kBound).ok()) return 13;
    std::string out;
    if (!mine->ReceiveFor(&out, kBound).ok() || out != "child") return 14;
    return 0;
  });
  const int status = testing::WaitChild(child, kBound);
  ASSERT_TRUE(testing::ExitedCleanly(status)) << "wait status " << status;
  EXPECT_EQ(view.header()->send.lock.biased_to(), 0u);
  EXPECT_EQ(view.header()->recv.lock.biased_to(), 0u);
  ASSERT_TRUE(q.Send("parent").ok());
  std::string out;
  ASSERT_TRUE(q.Receive(&out).ok());
  EXPECT_EQ(out, "parent");
}

// ---- The lock alone, under churn. ----

// A side lock and a lease table on the heap, driven directly by threads of
// this process, each with a lease id of its own (their leases are never
// taken: a probe says every holder lives).
struct LockUnderTest {
  LeasedLock lock{};
  std::atomic<uint32_t> holder_cpu{0};
  LeaseTable leases{};
};

// Threads take the lock in bursts of random length, most long enough to
// earn the bias, some holding it a while, and yield between bursts, so that
// the bias keeps passing from one to another: each pass a revocation racing
// the holder's next biased take. Two threads inside at once would show in
// `inside`. The test also proves it exercised both ways in.
TEST(BiasReviewTest, OneThreadInsideAtATimeWhileTheBiasChangesHands) {
  internal::RegisterLightPosts();
  if (!internal::LightPostsEnabled()) {
    GTEST_SKIP() << "the kernel does not register this process for "
                    "MEMBARRIER_CMD_GLOBAL_EXPEDITED: no lock is biased";
  }
  auto t = std::make_unique<LockUnderTest>();
  ASSERT_TRUE(t->leases.Init("bias_review").ok());
  const InsideMarks marks{&t->leases, internal::kSendLock};
  const std::atomic<bool> cancelled{false};
  std::atomic<bool> stop{false};
  std::atomic<int> inside{0};
  std::atomic<long> overlaps{0}, errors{0}, biased{0}, by_word{0};
  std::vector<std::thread> threads;
  for (uint32_t id = 1; id <= 4; ++id) {
    threads.emplace_back([&, id] {
      std::mt19937 rng(id);
      while (!stop.load(std::memory_order_relaxed)) {
        const int burst = 1 + static_cast<int>(rng() % 200);
        for (int i = 0; i < burst; ++i) {
          if (!t->lock.TryLock(id, t->holder_cpu, marks)) {
            absl::Status s = t->lock.Lock(
                "bias_review", "send", id, Deadline::After(kBound), cancelled,
                t->holder_cpu, marks,
                [](uint32_t) -> absl::StatusOr<bool> { return false; });
            if (!s.ok()) {
              ++errors;
              continue;
            }
          }
          if (inside.fetch_add(1) != 0) ++overlaps;
          if (t->lock.biased_to() == id) ++biased;
          if (t->lock.holder() == id) ++by_word;
          if (rng() % 64 == 0) {  // held a while: a revoker must wait
            for (int k = 0; k < 500; ++k) internal::CpuRelax();
          }
          inside.fetch_sub(1);
          t->lock.Unlock(marks);
        }
        if (rng() % 4 == 0) sched_yield();
      }
    });
  }
  absl::SleepFor(absl::Seconds(2));
  stop = true;
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_EQ(errors.load(), 0);
  EXPECT_GT(biased.load(), 0);
  EXPECT_GT(by_word.load(), 0);
  std::printf("%ld holds through a bias, %ld through the word\n",
              biased.load(), by_word.load());
}

}  // namespace
}  // namespace ringbuf
