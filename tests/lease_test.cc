// Leases (internal/lease_table.h, internal/thread_leases.h): each thread
// that locks a side of a queue through a handle holds a lease, a robust
// mutex in the mapping, and the side lock names it. What that promises:
//   * a lease is given back when its thread exits, when its handle closes
//     (on that thread at once, on another thread at this thread's next
//     lease lookup), and by the kernel (owner-dead) when its process is
//     killed; a lock still naming a lease given back or dead is released
//     (and its side repaired, counted in Stats) by the next thread to meet
//     it, promptly even if that thread is already asleep on the lock;
//   * at most kLeases threads use a queue at once; the next one is refused
//     with ResourceExhausted until one of them goes;
//   * a child of fork() takes a lease of its own, never its parent's;
//   * a thread that locks a side it already holds through the same handle
//     is refused at once (FailedPrecondition), not left to wait on itself.
// Which lease a thread holds is read white-box: the side lock's word names
// it while the thread holds a Reserve (a Peek); a lease's own state is read
// by trying it (internal::RobustMutex::TryLock) from the test's thread.
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "ringbuf/internal/layout.h"
#include "ringbuf/internal/lease_table.h"
#include "ringbuf/internal/leased_lock.h"
#include "ringbuf/internal/robust_mutex.h"
#include "ringbuf/queue.h"
#include "tests/test_util.h"

namespace ringbuf {
namespace {

using internal::kLeases;
using internal::RobustMutex;
using testing::RawView;
using testing::ScopedQueueName;

constexpr absl::Duration kBound = absl::Seconds(20);

// A one-shot event between threads of this process, every wait bounded.
// std::mutex and std::condition_variable, which ThreadSanitizer sees.
class Event {
 public:
  void Set() {
    std::lock_guard<std::mutex> lock(mu_);
    set_ = true;
    cv_.notify_all();
  }
  bool WaitFor(absl::Duration timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                        [&] { return set_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool set_ = false;
};

// The state of lease `id`, seen by trying it from this thread (given back
// at once if taken): kBusy while a living thread holds it (this one
// included), kClean if it was given back, kOwnerDied if its thread ended
// holding it.
RobustMutex::Acquired LeaseState(RawView& view, uint32_t id) {
  RobustMutex& lease = view.leases().of(id);
  absl::StatusOr<RobustMutex::Acquired> got = lease.TryLock("test");
  EXPECT_TRUE(got.ok()) << got.status();
  if (!got.ok()) return RobustMutex::Acquired::kBusy;
  if (*got == RobustMutex::Acquired::kOwnerDied) lease.MarkConsistent();
  if (*got != RobustMutex::Acquired::kBusy) lease.Unlock();
  return *got;
}


// The lease through which this thread sends on `q`: read from the send
// lock's word while a Reserve (dropped unsent) holds it.
uint32_t SendLeaseOfThisThread(Queue& q, RawView& view) {
  absl::StatusOr<Queue::Reservation> r = q.Reserve(kBound);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? view.header()->send.lock.holder() : 0;
}

int64_t MonotonicNanos() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

// A thread that exits holding a Peek gives its lease back (a thread_local's
// destructor) with the receive lock still naming it; the next receiver
// finds the lease free, releases the lock, counts the repair, and gets the
// message the dead Peek had left in place.
TEST(LeaseTest, ThreadExitingWithAPeekLeavesTheMessageToTheNextReceiver) {
  ScopedQueueName name;
  Queue q = testing::CreateQueue(name, 4, 32);
  ASSERT_TRUE(q.Send("first").ok());
  ASSERT_TRUE(q.Send("second").ok());
  // Where the thread leaves its Peeked, never to be finished or destroyed:
  // a thread that quit without ending it. (It owns no heap memory.)
  alignas(Queue::Peeked) unsigned char orphan[sizeof(Queue::Peeked)];
  absl::Status peeked;
  std::thread([&] {
    absl::StatusOr<Queue::Peeked> p = q.Peek(kBound);
    peeked = p.status();
    if (p.ok()) new (orphan) Queue::Peeked(*std::move(p));
  }).join();
  ASSERT_TRUE(peeked.ok()) << peeked;
  std::string out;
  ASSERT_TRUE(q.ReceiveFor(&out, kBound).ok());
  EXPECT_EQ(out, "first");
  Stats st = q.GetStats();
  EXPECT_EQ(st.receive_lock_owner_deaths, 1u);
  EXPECT_EQ(st.receives_lost_to_dead_consumers, 0u);
  ASSERT_TRUE(q.ReceiveFor(&out, kBound).ok());
  EXPECT_EQ(out, "second");
  EXPECT_EQ(q.TryReceive(&out).code(), absl::StatusCode::kUnavailable);
}

// A thread that used a handle and exited leaves its lease free, not
// owner-dead (which it would be had the thread ended holding it).
TEST(LeaseTest, ThreadExitGivesItsLeaseBack) {
  ScopedQueueName name;
  Queue q = testing::CreateQueue(name, 4, 32);
  RawView view(name);
  uint32_t id = 0;
  Event leased, may_exit;
  std::thread thread([&] {
    id = SendLeaseOfThisThread(q, view);
    ASSERT_TRUE(q.TrySend("sent").ok());
    leased.Set();
    may_exit.WaitFor(kBound);
  });
  ASSERT_TRUE(leased.WaitFor(kBound));
  ASSERT_GE(id, 1u);
  ASSERT_LE(id, kLeases);
  // Held while the thread lives (so the check below can tell).
  EXPECT_EQ(LeaseState(view, id), RobustMutex::Acquired::kBusy);
  may_exit.Set();
  thread.join();
  EXPECT_EQ(LeaseState(view, id), RobustMutex::Acquired::kClean);
  std::string out;
  ASSERT_TRUE(q.TryReceive(&out).ok());
  EXPECT_EQ(out, "sent");
  EXPECT_EQ(q.GetStats().send_lock_owner_deaths, 0u);
}

// A handle closed on the thread that holds a lease in it gives the lease
// back at once: the thread lives on, and the lease is free.
TEST(LeaseTest, HandleClosedOnItsThreadGivesTheLeaseBackAtOnce) {
  ScopedQueueName name;
  std::optional<Queue> q = testing::CreateQueue(name, 4, 32);
  RawView view(name);
  const uint32_t id = SendLeaseOfThisThread(*q, view);
  ASSERT_GE(id, 1u);
  std::atomic<RobustMutex::Acquired> state{RobustMutex::Acquired::kClean};
  std::thread([&] { state = LeaseState(view, id); }).join();
  EXPECT_EQ(state.load(), RobustMutex::Acquired::kBusy);
  q.reset();
  EXPECT_EQ(LeaseState(view, id), RobustMutex::Acquired::kClean);
}

// A thread alternating between handles finds each one's lease on the fast
// path (the two it used last, internal/thread_leases.h). A handle closed
// on it drops its lease from that cache too: the next handle, which may be
// mapped at the closed one's address, locks with a lease of its own that
// this thread holds, never the lease it gave back.
TEST(LeaseTest, AlternatingHandlesEachLockWithALeaseThisThreadHolds) {
  ScopedQueueName name;
  Queue creator = testing::CreateQueue(name, 64, 32);
  RawView view(name);
  auto open = [&] {
    absl::StatusOr<Queue> q = Queue::Open(name);
    EXPECT_TRUE(q.ok()) << q.status();
    return std::optional<Queue>(*std::move(q));
  };
  auto held_elsewhere = [&](uint32_t id) {
    std::atomic<RobustMutex::Acquired> state{RobustMutex::Acquired::kClean};
    std::thread([&] { state = LeaseState(view, id); }).join();
    return state.load() == RobustMutex::Acquired::kBusy;
  };
  std::optional<Queue> a = open(), b = open();
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(a->TrySend("a").ok());
    ASSERT_TRUE(b->TrySend("b").ok());
  }
  const uint32_t la = SendLeaseOfThisThread(*a, view);
  const uint32_t lb = SendLeaseOfThisThread(*b, view);
  ASSERT_GE(la, 1u);
  ASSERT_GE(lb, 1u);
  EXPECT_NE(la, lb);
  EXPECT_TRUE(held_elsewhere(la));
  EXPECT_TRUE(held_elsewhere(lb));

  a.reset();  // gives la back
  EXPECT_EQ(LeaseState(view, la), RobustMutex::Acquired::kClean);
  std::optional<Queue> c = open();
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(b->TrySend("b").ok());
    ASSERT_TRUE(c->TrySend("c").ok());
  }
  EXPECT_EQ(SendLeaseOfThisThread(*b, view), lb);
  const uint32_t lc = SendLeaseOfThisThread(*c, view);
  ASSERT_GE(lc, 1u);
  EXPECT_NE(lc, lb);
  EXPECT_TRUE(held_elsewhere(lc));
  EXPECT_EQ(creator.GetStats().send_lock_owner_deaths, 0u);
}

// A process SIGKILLed holding a Reserve (or a Peek) leaves its lease
// owner-dead, and nobody wakes the waiter already asleep on the lock: its
// own probe after a timed-out sleep must find the dead holder. Sleeps are
// capped at kLockSlice (50 ms), so it gets the lock well within 500 ms of
// the kill, whatever it had waited already.
void ExpectBlockedWaiterGetsLockOfKilledHolderPromptly(bool send_side) {
  ScopedQueueName name;
  Queue q = testing::CreateQueue(name, 4, 32);
  ASSERT_TRUE(q.Send("queued").ok());
  RawView view(name);
  testing::Signal holding;
  pid_t holder = testing::ForkChild([&] {
    absl::StatusOr<Queue> child = Queue::Open(name);
    if (!child.ok()) return 1;
    if (send_side) {
      absl::StatusOr<Queue::Reservation> r = child->Reserve(kBound);
      if (!r.ok()) return 2;
      std::memcpy(r->buffer().data(), "never", 5);
      holding.Notify('h');
      for (;;) pause();
    }
    absl::StatusOr<Queue::Peeked> p = child->Peek(kBound);
    if (!p.ok()) return 2;
    holding.Notify('h');
    for (;;) pause();
  });
  ASSERT_EQ(holding.WaitFor(kBound), 'h');
  const internal::SideLock& side =
      send_side ? view.header()->send : view.header()->recv;

  std::atomic<int64_t> got_lock_at{0};
  absl::Status status;
  std::string out;
  std::thread waiter([&] {
    status = send_side ? q.SendFor("after", kBound) : q.ReceiveFor(&out, kBound);
    got_lock_at.store(MonotonicNanos());
  });
  // Asleep on the lock (it announced itself on the lock's sleepers word),
  // not spinning.
  const absl::Time give_up = absl::Now() + kBound;
  while (!side.lock.waiter_may_sleep() && absl::Now() < give_up) {
    usleep(100);  // polling a condition, bounded by kBound
  }
  EXPECT_TRUE(side.lock.waiter_may_sleep())
      << "the waiter never slept on the lock";
  const int64_t killed_at = MonotonicNanos();
  kill(holder, SIGKILL);
  waitpid(holder, nullptr, 0);
  waiter.join();
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_LT(absl::Nanoseconds(got_lock_at.load() - killed_at),
            absl::Milliseconds(500));
  Stats st = q.GetStats();
  EXPECT_EQ(send_side ? st.send_lock_owner_deaths
                      : st.receive_lock_owner_deaths,
            1u);
  // The dead reservation is discarded, never published.
  EXPECT_EQ(st.discarded_partial_sends, send_side ? 1u : 0u);
  EXPECT_EQ(st.receives_lost_to_dead_consumers, 0u);
  // Nothing of the dead reservation; the peeked message stayed for us.
  if (send_side) {
    ASSERT_TRUE(q.TryReceive(&out).ok());
    EXPECT_EQ(out, "queued");
    ASSERT_TRUE(q.TryReceive(&out).ok());
    EXPECT_EQ(out, "after");
  } else {
    EXPECT_EQ(out, "queued");
  }
  EXPECT_EQ(q.TryReceive(&out).code(), absl::StatusCode::kUnavailable);
}

TEST(LeaseTest, ProcessKilledHoldingAReserveHandsTheLockToASleepingWaiter) {
  ExpectBlockedWaiterGetsLockOfKilledHolderPromptly(/*send_side=*/true);
}

TEST(LeaseTest, ProcessKilledHoldingAPeekHandsTheLockToASleepingWaiter) {
  ExpectBlockedWaiterGetsLockOfKilledHolderPromptly(/*send_side=*/false);
}

// kLeases threads each hold a lease (each sent once, then waits); the next
// thread is refused with ResourceExhausted naming the queue and the limit,
// and succeeds once one of the others has exited.
TEST(LeaseTest, OneThreadTooManyIsRefusedUntilAnotherExits) {
  ScopedQueueName name;
  Queue q = testing::CreateQueue(name, 2 * kLeases, 16);
  std::mutex mu;
  std::condition_variable cv;
  uint32_t leased = 0;
  int may_exit = -1;  // the index of the thread that may exit; kLeases: all
  std::vector<absl::Status> sent(kLeases);
  std::vector<std::thread> threads;
  for (uint32_t i = 0; i < kLeases; ++i) {
    threads.emplace_back([&, i] {
      sent[i] = q.TrySend(absl::StrCat(i));
      std::unique_lock<std::mutex> lock(mu);
      ++leased;
      cv.notify_all();
      cv.wait_for(lock, absl::ToChronoNanoseconds(kBound), [&] {
        return may_exit == static_cast<int>(i) ||
               may_exit == static_cast<int>(kLeases);
      });
    });
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, absl::ToChronoNanoseconds(kBound),
                            [&] { return leased == kLeases; }));
  }
  for (uint32_t i = 0; i < kLeases; ++i) {
    ASSERT_TRUE(sent[i].ok()) << "thread " << i << ": " << sent[i];
  }

  absl::Status refused, after;
  Event tried, retry;
  std::thread one_too_many([&] {
    refused = q.TrySend("one too many");
    tried.Set();
    if (retry.WaitFor(kBound)) after = q.TrySend("one too many");
  });
  ASSERT_TRUE(tried.WaitFor(kBound));
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted) << refused;
  EXPECT_NE(refused.message().find(name.get()), std::string::npos) << refused;
  EXPECT_NE(refused.message().find(absl::StrCat(kLeases)), std::string::npos)
      << refused;

  {
    std::lock_guard<std::mutex> lock(mu);
    may_exit = 0;
    cv.notify_all();
  }
  threads[0].join();
  retry.Set();
  one_too_many.join();
  EXPECT_TRUE(after.ok()) << after;
  {
    std::lock_guard<std::mutex> lock(mu);
    may_exit = kLeases;
    cv.notify_all();
  }
  for (uint32_t i = 1; i < kLeases; ++i) threads[i].join();
  EXPECT_EQ(q.GetStats().depth, kLeases + 1);
}

// Processes killed after using the queue leave their leases owner-dead;
// those are taken again. More processes than there are leases come and are
// killed one after another, and a fresh thread still gets a lease.
TEST(LeaseTest, LeasesOfKilledProcessesAreTakenAgain) {
  ScopedQueueName name;
  constexpr int kProcesses = kLeases + 44;
  Queue q = testing::CreateQueue(name, 512, 16);
  for (int i = 0; i < kProcesses; ++i) {
    testing::Signal sent;
    pid_t pid = testing::ForkChild([&] {
      absl::StatusOr<Queue> child = Queue::Open(name);
      sent.Notify(child.ok() && child->TrySend(absl::StrCat(i)).ok() ? 's'
                                                                       : 'f');
      for (;;) pause();
      return 0;
    });
    const char got = sent.WaitFor(kBound);
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    ASSERT_EQ(got, 's') << "process " << i << " could not send";
  }
  absl::Status fresh;
  std::thread([&] { fresh = q.TrySend("fresh"); }).join();
  EXPECT_TRUE(fresh.ok()) << fresh;
  Stats st = q.GetStats();
  EXPECT_EQ(st.depth, uint64_t{kProcesses} + 1);
  EXPECT_EQ(st.send_lock_owner_deaths, 0u);  // none died holding the lock
}

// A handle closed on thread A while thread B holds a lease in it: B gives
// the lease back the next time it looks for one (here: its first lock of
// another queue), though it never touches the closed handle again.
TEST(LeaseTest, LeaseInAHandleClosedElsewhereIsGivenBackAtTheNextLookup) {
  ScopedQueueName closing("closing"), other("other");
  std::optional<Queue> q1 = testing::CreateQueue(closing, 4, 32);
  Queue q2 = testing::CreateQueue(other, 4, 32);
  RawView view(closing);
  uint32_t id = 0;
  absl::Status sent;
  Event leased, closed, looked, checked;
  std::thread b([&] {
    id = SendLeaseOfThisThread(*q1, view);
    leased.Set();
    if (!closed.WaitFor(kBound)) return;
    sent = q2.TrySend("elsewhere");
    looked.Set();
    checked.WaitFor(kBound);  // B lives on meanwhile: its exit would free all
  });
  ASSERT_TRUE(leased.WaitFor(kBound));
  ASSERT_GE(id, 1u);
  EXPECT_EQ(LeaseState(view, id), RobustMutex::Acquired::kBusy);
  q1.reset();  // on this thread, which holds no lease in it
  // Still held: B has not looked for a lease since.
  EXPECT_EQ(LeaseState(view, id), RobustMutex::Acquired::kBusy);
  closed.Set();
  ASSERT_TRUE(looked.WaitFor(kBound));
  EXPECT_TRUE(sent.ok()) << sent;
  EXPECT_EQ(LeaseState(view, id), RobustMutex::Acquired::kClean);
  checked.Set();
  b.join();
}

// A thread holding a lease forks. The child, through the inherited handle,
// sends and receives under a lease of its own (its lock word names another
// id); the parent's lease stays the parent's, held, and it goes on as
// before.
TEST(LeaseTest, ForkedChildTakesALeaseOfItsOwn) {
  ScopedQueueName name;
  Queue q = testing::CreateQueue(name, 4, 32);
  RawView view(name);
  const uint32_t parent_id = SendLeaseOfThisThread(q, view);
  ASSERT_GE(parent_id, 1u);
  ASSERT_TRUE(q.Send("from parent").ok());
  pid_t pid = testing::ForkChild([&] {
    absl::StatusOr<Queue::Reservation> r = q.Reserve(kBound);
    if (!r.ok()) return 1;
    const uint32_t child_id = view.header()->send.lock.holder();
    if (child_id == parent_id) return 2;  // the parent's lease, reused
    std::memcpy(r->buffer().data(), "from child", 10);
    if (!r->Commit(10).ok()) return 3;
    std::string out;
    if (!q.TryReceive(&out).ok() || out != "from parent") return 4;
    absl::StatusOr<Queue::Peeked> p = q.Peek(kBound);
    if (!p.ok()) return 5;
    if (view.header()->recv.lock.holder() != child_id) return 6;
    return 0;  // the Peeked, dropped, leaves "from child" queued
  });
  const int status = testing::WaitChild(pid, kBound);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  ASSERT_EQ(WEXITSTATUS(status), 0)
      << "2: the child locked under its parent's lease";
  // The parent's lease is still its own, held, and names its locks.
  std::atomic<RobustMutex::Acquired> state{RobustMutex::Acquired::kClean};
  std::thread([&] { state = LeaseState(view, parent_id); }).join();
  EXPECT_EQ(state.load(), RobustMutex::Acquired::kBusy);
  EXPECT_EQ(SendLeaseOfThisThread(q, view), parent_id);
  std::string out;
  ASSERT_TRUE(q.ReceiveFor(&out, kBound).ok());
  EXPECT_EQ(out, "from child");
  ASSERT_TRUE(q.SendFor("again", kBound).ok());
  ASSERT_TRUE(q.ReceiveFor(&out, kBound).ok());
  EXPECT_EQ(out, "again");
  Stats st = q.GetStats();
  EXPECT_EQ(st.send_lock_owner_deaths, 0u);
  EXPECT_EQ(st.receive_lock_owner_deaths, 0u);
}

// Locking a side this thread already holds through the same handle (an
// unfinished Peek or Reserve) fails at once rather than waiting on itself,
// and leaves what it holds intact.
TEST(LeaseTest, RelockOnTheSameThreadAndHandleFailsAtOnce) {
  ScopedQueueName name;
  Queue q = testing::CreateQueue(name, 4, 32);
  ASSERT_TRUE(q.Send("first").ok());
  ASSERT_TRUE(q.Send("second").ok());
  {
    absl::StatusOr<Queue::Peeked> p = q.Peek(kBound);
    ASSERT_TRUE(p.ok()) << p.status();
    std::string out;
    absl::Status again = q.TryReceive(&out);
    EXPECT_EQ(again.code(), absl::StatusCode::kFailedPrecondition) << again;
    EXPECT_NE(again.message().find(name.get()), std::string::npos) << again;
    EXPECT_NE(again.message().find("already holds the receive lock"),
              std::string::npos)
        << again;
    const absl::Time start = absl::Now();
    again = q.ReceiveFor(&out, kBound);
    EXPECT_EQ(again.code(), absl::StatusCode::kFailedPrecondition) << again;
    EXPECT_LT(absl::Now() - start, absl::Seconds(1)) << "it waited on itself";
    EXPECT_EQ(p->data(), "first");
    ASSERT_TRUE(p->Release().ok());
  }
  {
    absl::StatusOr<Queue::Reservation> r = q.Reserve(kBound);
    ASSERT_TRUE(r.ok()) << r.status();
    absl::Status again = q.TrySend("x");
    EXPECT_EQ(again.code(), absl::StatusCode::kFailedPrecondition) << again;
    EXPECT_NE(again.message().find("already holds the send lock"),
              std::string::npos)
        << again;
    std::memcpy(r->buffer().data(), "third", 5);
    ASSERT_TRUE(r->Commit(5).ok());
  }
  std::string out;
  ASSERT_TRUE(q.TryReceive(&out).ok());
  EXPECT_EQ(out, "second");
  ASSERT_TRUE(q.TryReceive(&out).ok());
  EXPECT_EQ(out, "third");
  EXPECT_EQ(q.TryReceive(&out).code(), absl::StatusCode::kUnavailable);
  Stats st = q.GetStats();
  EXPECT_EQ(st.send_lock_owner_deaths + st.receive_lock_owner_deaths, 0u);
}

}  // namespace
}  // namespace ringbuf
