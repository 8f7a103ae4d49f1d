// Wake-ups between producers and consumers (internal/counting_semaphore.h,
// internal/asymmetric_fence.h):
//   * a consumer wakes one sleeping producer per slot it frees, so a woken
//     producer that dies before claiming its slot must not leave the others
//     asleep for longer than their once-a-second re-check;
//   * posters publish with plain release stores and rely on the sleeper's
//     membarrier for the store-load fence of the sleep handshake: a lost
//     wake-up would show as a wait that lasts until that re-check.
#include <linux/membarrier.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <atomic>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "ringbuf/internal/asymmetric_fence.h"
#include "ringbuf/internal/counting_semaphore.h"
#include "ringbuf/internal/crash_point.h"
#include "ringbuf/internal/leased_lock.h"
#include "ringbuf/internal/sleepers.h"
#include "ringbuf/notifier.h"
#include "ringbuf/queue.h"
#include "tests/test_util.h"

namespace ringbuf {
namespace {

using internal::CrashSite;
using testing::ScopedQueueName;

constexpr absl::Duration kBound = absl::Seconds(20);

// For the crash hook in the child: stop at the second kSendBeforeLock, the
// one a producer reaches after it was woken from its wait for a slot.
int g_notify_fd = -1;
int g_hits = 0;

void StopWhenWoken(CrashSite site) {
  if (site != CrashSite::kSendBeforeLock || ++g_hits < 2) return;
  char byte = 'w';
  (void)!write(g_notify_fd, &byte, 1);
  for (;;) pause();  // the parent SIGKILLs us here
}

// Whether thread `tid` of this process is blocked in futex(2) (syscall 202
// on x86-64, 98 on arm64): /proc/self/task/TID/syscall starts with the
// number of the system call a blocked thread is in.
bool BlockedInFutex(pid_t tid) {
  std::ifstream in(absl::StrCat("/proc/self/task/", tid, "/syscall"));
  long number = -1;
  in >> number;
  return number == SYS_futex;
}

bool AwaitBlockedInFutex(const std::atomic<pid_t>& tid, absl::Duration timeout) {
  const absl::Time end = absl::Now() + timeout;
  while (absl::Now() < end) {
    const pid_t t = tid.load();
    if (t != 0 && BlockedInFutex(t)) return true;
    std::this_thread::yield();
  }
  return false;
}

TEST(WakeupTest, WokenProducerKilledBeforeItsClaimDelaysOthersOnlyUntilTheirRecheck) {
  ScopedQueueName name;
  Queue q = testing::CreateQueue(name, 2, /*slot_size=*/64);
  ASSERT_TRUE(q.Send("a").ok());
  ASSERT_TRUE(q.Send("b").ok());

  // The first sleeper: a child that stops once it is woken for a slot.
  testing::Signal reached;
  pid_t child = testing::ForkChild([&] {
    absl::StatusOr<Queue> mine = Queue::Open(name);
    if (!mine.ok()) return 1;
    g_notify_fd = reached.WriteFd();
    internal::SetCrashHook(StopWhenWoken);
    (void)mine->Send("child");
    return 2;
  });
  ASSERT_TRUE(testing::AwaitSleeper(name, testing::Side::kSenders, kBound));

  // The second: a thread of ours, asleep behind it in the kernel.
  std::atomic<pid_t> tid{0};
  std::atomic<bool> done{false};
  absl::Status sent;
  std::thread producer([&] {
    tid = gettid();
    sent = q.SendFor("parent", kBound);
    done = true;
  });
  ASSERT_TRUE(AwaitBlockedInFutex(tid, kBound));

  // Free one slot: one sleeper is woken for it. The kernel wakes the
  // longest sleeper first, the child; should it pick our thread, free
  // another slot so the child is woken too.
  std::string out;
  ASSERT_TRUE(q.Receive(&out).ok());
  EXPECT_EQ(out, "a");
  absl::Time killed;
  if (reached.WaitFor(absl::Seconds(2)) == 'w') {
    kill(child, SIGKILL);
    killed = absl::Now();
    producer.join();
    // The slot the child was woken for is free, and nothing wakes our
    // thread but its re-check (a second, plus this machine's slack).
    EXPECT_LT(absl::Now() - killed,
              internal::kRecheckInterval + absl::Seconds(3));
  } else {
    ASSERT_TRUE(done.load()) << "neither sleeper took the freed slot";
    producer.join();
    ASSERT_TRUE(q.Receive(&out).ok());
    EXPECT_EQ(out, "b");
    ASSERT_EQ(reached.WaitFor(kBound), 'w');
    kill(child, SIGKILL);
  }
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  ASSERT_TRUE(sent.ok()) << sent;

  // Nothing lost, nothing leaked: what is left drains, then both slots fill.
  while (q.TryReceive(&out).ok()) EXPECT_NE(out, "child");
  ASSERT_TRUE(q.TrySend("x").ok());
  ASSERT_TRUE(q.TrySend("y").ok());
  EXPECT_EQ(q.TrySend("z").code(), absl::StatusCode::kUnavailable);
}

// A QueueNotifier waiting for space sleeps on the same word as producers
// blocked on a full queue, and a consumer wakes one producer per freed
// slot: the notifier's thread and a producer must not take each other's
// wake-up (neither may be left for its 1 s re-check), whichever fell asleep
// first.
bool WatcherAsleepOnHead(testing::RawView& view) {
  return (view.header()->head.sleepers.load() & internal::kWatcherMaySleep) != 0;
}

void ExpectSpaceReachesProducerAndNotifier(bool notifier_first) {
  ScopedQueueName name;
  Queue q = testing::CreateQueue(name, 4, /*slot_size=*/16);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(q.Send("full").ok());
  testing::RawView view(name);
  std::unique_ptr<QueueNotifier> notifier;
  auto start_notifier = [&] {
    absl::StatusOr<std::unique_ptr<QueueNotifier>> n =
        QueueNotifier::Create(q, QueueNotifier::Event::kSpace);
    ASSERT_TRUE(n.ok()) << n.status();
    notifier = *std::move(n);
    const absl::Time end = absl::Now() + kBound;
    while (!WatcherAsleepOnHead(view) && absl::Now() < end) {
      std::this_thread::yield();
    }
    ASSERT_TRUE(WatcherAsleepOnHead(view));
  };
  std::atomic<pid_t> tid{0};
  std::atomic<int64_t> sent_at{0};
  absl::Status sent;
  std::thread producer;
  auto start_producer = [&] {
    producer = std::thread([&] {
      tid = gettid();
      sent = q.SendFor("more", kBound);
      sent_at = absl::ToUnixNanos(absl::Now());
    });
    ASSERT_TRUE(AwaitBlockedInFutex(tid, kBound));
  };
  if (notifier_first) {
    start_notifier();
    start_producer();
  } else {
    start_producer();
    start_notifier();
  }
  std::string out;
  const absl::Time freed = absl::Now();
  ASSERT_TRUE(q.TryReceive(&out).ok());
  pollfd p{notifier->fd(), POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(kBound))), 1);
  EXPECT_LT(absl::Now() - freed, absl::Milliseconds(500))
      << "the notifier's fd waited for its re-check";
  producer.join();
  ASSERT_TRUE(sent.ok()) << sent;
  EXPECT_LT(absl::FromUnixNanos(sent_at.load()) - freed, absl::Milliseconds(500))
      << "the producer waited for its re-check";
}

TEST(WakeupTest, FreedSlotReachesProducerAndSpaceNotifierAsleepBeforeIt) {
  ExpectSpaceReachesProducerAndNotifier(/*notifier_first=*/true);
}

TEST(WakeupTest, FreedSlotReachesProducerAndSpaceNotifierAsleepAfterIt) {
  ExpectSpaceReachesProducerAndNotifier(/*notifier_first=*/false);
}

// A side lock is released with a plain store, then its sleepers are woken:
// a holder killed between the two leaves the lock free and a waiter asleep
// on it, whom nothing wakes but the end of its sleep slice (kLockSlice),
// after which it looks again and takes the lock.
int g_commit_fd = -1;

void StopAfterUnlocking(CrashSite site) {
  if (site != CrashSite::kUnlockedNotWoken) return;
  char byte = 'u';
  (void)!write(g_commit_fd, &byte, 1);
  for (;;) pause();
}

TEST(WakeupTest, HolderKilledBetweenUnlockAndWakeDelaysTheWaiterOneSliceAtMost) {
  ScopedQueueName name;
  Queue q = testing::CreateQueue(name, 4, /*slot_size=*/64);
  testing::Signal reserved;
  testing::Signal go;
  testing::Signal unlocked;
  pid_t child = testing::ForkChild([&] {
    absl::StatusOr<Queue> mine = Queue::Open(name);
    if (!mine.ok()) return 1;
    absl::StatusOr<Queue::Reservation> r = mine->Reserve(kBound);
    if (!r.ok()) return 2;
    reserved.Notify();
    if (go.WaitFor(kBound) == 0) return 3;
    g_commit_fd = unlocked.WriteFd();
    internal::SetCrashHook(StopAfterUnlocking);
    std::memcpy(r->buffer().data(), "reserved", 8);
    (void)r->Commit(8);
    return 4;
  });
  ASSERT_EQ(reserved.WaitFor(kBound), 'x');
  // A sender of ours, asleep on the send lock the child holds.
  std::atomic<pid_t> tid{0};
  absl::Status sent;
  std::thread producer([&] {
    tid = gettid();
    sent = q.SendFor("waiter", kBound);
  });
  ASSERT_TRUE(AwaitBlockedInFutex(tid, kBound));
  go.Notify();
  ASSERT_EQ(unlocked.WaitFor(kBound), 'u');
  kill(child, SIGKILL);
  const absl::Time killed = absl::Now();
  producer.join();
  ASSERT_TRUE(sent.ok()) << sent;
  EXPECT_LT(absl::Now() - killed,
            internal::kLockSlice + absl::Seconds(2));
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  // The reservation was committed before the unlock; no death to repair.
  std::string out;
  ASSERT_TRUE(q.TryReceive(&out).ok());
  EXPECT_EQ(out, "reserved");
  ASSERT_TRUE(q.TryReceive(&out).ok());
  EXPECT_EQ(out, "waiter");
  EXPECT_EQ(q.GetStats().send_lock_owner_deaths, 0u);
}

// Light posts (plain release stores) are safe only from a process the
// kernel registered for MEMBARRIER_CMD_GLOBAL_EXPEDITED, whose CPUs a
// sleeper's membarrier then fences: a process posts lightly exactly when it
// is registered, and so does a child of fork().
long Membarrier(int command) { return syscall(SYS_membarrier, command, 0, 0); }
constexpr int kGetRegistrations = 1 << 9;  // MEMBARRIER_CMD_GET_REGISTRATIONS

bool Registered() {
  const long r = Membarrier(kGetRegistrations);
  return r >= 0 && (r & MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) != 0;
}

TEST(WakeupTest, PostsAreLightOnlyFromARegisteredProcess) {
  const long offered = Membarrier(MEMBARRIER_CMD_QUERY);
  if (offered < 0 || (offered & kGetRegistrations) == 0) {
    GTEST_SKIP() << "this kernel cannot report membarrier registrations "
                    "(MEMBARRIER_CMD_GET_REGISTRATIONS, Linux 6.3+)";
  }
  ScopedQueueName name;
  Queue q = testing::CreateQueue(name, 2, /*slot_size=*/16);
  // Where the kernel offers the expedited command, making a handle
  // registered us; either way, light only if registered.
  EXPECT_EQ(internal::LightPostsEnabled(),
            (offered & MEMBARRIER_CMD_GLOBAL_EXPEDITED) != 0);
  EXPECT_EQ(internal::LightPostsEnabled(), Registered());
  pid_t child = testing::ForkChild([] {
    return internal::LightPostsEnabled() == Registered() ? 0 : 1;
  });
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

// A ping-pong between two processes in which each reply comes after a
// random pause of a few microseconds, so that waiters often give up
// spinning and go to sleep just as the reply is posted. A missed wake-up
// leaves the waiter asleep until its re-check, a second later; no round
// trip may take that long. (A stress test: it catches a handshake that
// misses systematically; the hardware's own store-load race is a few
// nanoseconds wide, too narrow to provoke at will, and is what the
// membarrier argument above covers.)
TEST(WakeupTest, SleepersNeverMissAReplyPostedAsTheyFallAsleep) {
  ScopedQueueName ping_name("ping");
  ScopedQueueName pong_name("pong");
  Queue ping = testing::CreateQueue(ping_name, 8, /*slot_size=*/16);
  Queue pong = testing::CreateQueue(pong_name, 8, /*slot_size=*/16);
  constexpr int kRounds = 20000;
  const absl::Duration kTooLong =
      internal::kRecheckInterval - absl::Milliseconds(100);

  pid_t echo = testing::ForkChild([&] {
    absl::StatusOr<Queue> in = Queue::Open(ping_name);
    absl::StatusOr<Queue> out = Queue::Open(pong_name);
    if (!in.ok() || !out.ok()) return 1;
    std::minstd_rand rng(getpid());
    std::string m;
    for (int i = 0; i < kRounds; ++i) {
      if (!in->ReceiveFor(&m, kBound).ok()) return 3;
      // Busy for 0..20 µs: long enough for the other side's spin budget to
      // run out now and then, short enough to race its fall asleep.
      const absl::Time until = absl::Now() + absl::Nanoseconds(rng() % 20000);
      while (absl::Now() < until) {
      }
      if (!out->SendFor(m, kBound).ok()) return 4;
    }
    return 0;
  });

  absl::Duration slowest;
  std::string reply;
  for (int i = 0; i < kRounds; ++i) {
    const std::string m = absl::StrCat(i);
    const absl::Time start = absl::Now();
    ASSERT_TRUE(ping.SendFor(m, kBound).ok());
    absl::Status s = pong.ReceiveFor(&reply, kBound);
    ASSERT_TRUE(s.ok()) << s << " at round " << i;
    ASSERT_EQ(reply, m);
    slowest = std::max(slowest, absl::Now() - start);
    ASSERT_LT(slowest, kTooLong) << "round " << i << " waited for the re-check";
  }
  int status = 0;
  waitpid(echo, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

}  // namespace
}  // namespace ringbuf
