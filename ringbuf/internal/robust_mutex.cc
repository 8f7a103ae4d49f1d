#include "ringbuf/internal/robust_mutex.h"

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

#include "ringbuf/internal/errno_status.h"

// ThreadSanitizer intercepts pthread_mutex_trylock and unlock but not
// pthread_mutex_clocklock; tell it about that one by hand, or it sees a lock
// taken there as never taken.
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RINGBUF_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define RINGBUF_TSAN 1
#endif
#ifdef RINGBUF_TSAN
#include <sanitizer/tsan_interface.h>
#endif
#include "ringbuf/internal/spin.h"

namespace ringbuf {
namespace internal {

namespace {

// glibc dispatches every mutex call on the mutex's __kind word, and some
// kinds make it abort, fault or execute TSX instructions the CPU may lack.
// A peer can scribble on the word, so it is checked before each call against
// the value Init writes, learned once from a scratch mutex.
__attribute__((noinline)) int LearnExpectedKind() {
  pthread_mutex_t scratch;
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_init(&scratch, &attr);
  pthread_mutexattr_destroy(&attr);
  int k = scratch.__data.__kind;
  pthread_mutex_destroy(&scratch);
  return k;
}

// Called on every lock and unlock: the scratch mutex lives out of line, so
// this is a guard check and a load.
inline int ExpectedKind() {
  static const int kind = LearnExpectedKind();
  return kind;
}

}  // namespace

absl::Status RobustMutex::Init(absl::string_view queue) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  int rc = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  if (rc == 0) rc = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  if (rc == 0) rc = pthread_mutex_init(&mutex_, &attr);
  pthread_mutexattr_destroy(&attr);
  if (rc != 0) return ErrnoStatus(rc, "pthread_mutex_init", queue);
  return absl::OkStatus();
}

absl::StatusOr<RobustMutex::Acquired> RobustMutex::Lock(
    absl::string_view queue, const Deadline& deadline,
    const std::atomic<bool>& cancelled, std::atomic<uint32_t>& holder_cpu) {
  const int kind = __atomic_load_n(&mutex_.__data.__kind, __ATOMIC_RELAXED);
  if (kind != ExpectedKind()) {
    return absl::DataLossError(QueueMessage(
        queue, absl::StrCat("queue lock is corrupt: its kind word is ", kind,
                            ", expected ", ExpectedKind())));
  }
  // A free lock is taken at once. Otherwise, before sleeping (spin.h):
  //   * if the holder may be running on another CPU, spin for the thread's
  //     budget: the holder only copies one message, and sleeping costs a
  //     futex round trip through the kernel (and the hypervisor) on both
  //     sides. The spin only reads the lock word (glibc's __lock: 0 when
  //     free), so waiters do not steal the cache line from the holder;
  //   * if it took the lock on this very CPU, it cannot release it while we
  //     spin: yield to it a few times instead. A preempted holder needs only
  //     a moment to finish its copy, and a yield hands it the CPU without
  //     the futex sleep that would make its unlock a system call too.
  int rc = EBUSY;
  if (__atomic_load_n(&mutex_.__data.__lock, __ATOMIC_RELAXED) == 0) {
    rc = pthread_mutex_trylock(&mutex_);
  }
  auto try_if_free = [&] {
    if (__atomic_load_n(&mutex_.__data.__lock, __ATOMIC_RELAXED) == 0) {
      rc = pthread_mutex_trylock(&mutex_);
    }
  };
  if (rc != EBUSY) {
    // Taken (or an error for the switch below) without waiting.
  } else if (MayRunBeside(holder_cpu.load(std::memory_order_relaxed),
                          CurrentCpuTag())) {
    SpinBudget& budget = t_lock_spin;
    const int spins = budget.spins();
    for (int i = 0; i < spins && rc == EBUSY; ++i) {
      CpuRelax();
      try_if_free();
    }
    if (rc == EBUSY) {
      budget.Wasted();
    } else {
      budget.Paid();
    }
  } else {
    for (int i = 0; i < kWaitYields && rc == EBUSY; ++i) {
      sched_yield();
      try_if_free();
    }
  }
  // Then sleep, in slices, so that a cancelled caller (Queue::Shutdown) is
  // not held here by a lock someone keeps long.
  while (rc == EBUSY) {
    const timespec until = deadline.SliceEnd(kLockSlice);
#ifdef RINGBUF_TSAN
    __tsan_mutex_pre_lock(&mutex_, __tsan_mutex_try_lock);
#endif
    rc = pthread_mutex_clocklock(&mutex_, CLOCK_MONOTONIC, &until);
#ifdef RINGBUF_TSAN
    __tsan_mutex_post_lock(
        &mutex_,
        rc == 0 || rc == EOWNERDEAD
            ? __tsan_mutex_try_lock
            : __tsan_mutex_try_lock | __tsan_mutex_try_lock_failed,
        0);
#endif
    if (rc != ETIMEDOUT || deadline.Expired()) break;
    if (cancelled.load(std::memory_order_acquire)) {
      return absl::CancelledError(QueueMessage(queue, "cancelled"));
    }
    rc = EBUSY;
  }
  if (rc == 0 || rc == EOWNERDEAD) {
    // Ours now: record where we run, for the next waiter's choice (spin.h).
    const uint32_t cpu = CurrentCpuTag();
    if (holder_cpu.load(std::memory_order_relaxed) != cpu) {
      holder_cpu.store(cpu, std::memory_order_relaxed);
    }
  }
  switch (rc) {
    case 0:
      return Acquired::kClean;
    case EOWNERDEAD:
      return Acquired::kOwnerDied;
    case ETIMEDOUT:
      return absl::DeadlineExceededError(
          QueueMessage(queue, "timed out waiting for the queue lock"));
    case ENOTRECOVERABLE:
      return absl::DataLossError(QueueMessage(
          queue, "queue lock is unrecoverable (a repair was abandoned)"));
    default:
      // EINVAL, EDEADLK, EAGAIN...: the lock word is not a lock we made.
      return absl::DataLossError(QueueMessage(
          queue, absl::StrCat("queue lock is corrupt: pthread_mutex_lock: ",
                              std::strerror(rc))));
  }
}

void RobustMutex::MarkConsistent() { pthread_mutex_consistent(&mutex_); }

void RobustMutex::Unlock() {
  // Held by us, so only a hostile peer can have changed the kind since Lock;
  // put back the one we locked with rather than let glibc act on garbage.
  __atomic_store_n(&mutex_.__data.__kind, ExpectedKind(), __ATOMIC_RELAXED);
  pthread_mutex_unlock(&mutex_);
}

}  // namespace internal
}  // namespace ringbuf
