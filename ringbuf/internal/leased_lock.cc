#include "ringbuf/internal/leased_lock.h"

#include <sched.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "ringbuf/internal/errno_status.h"
#include "ringbuf/internal/futex.h"
#include "ringbuf/internal/lease_table.h"

namespace ringbuf {
namespace internal {

bool LeasedLock::TakeIfFree(uint32_t& seen, uint32_t me) {
  // Acquire pairs with Unlock's release: what the last holder wrote under
  // the lock is visible to us. A free word is 0 (Unlock clears the waiters
  // bit with the holder); a taker that slept sets the bit again (`me`
  // carries it), since others may still sleep.
  while ((seen & kHolderMask) == 0) {
    if (word_.compare_exchange_weak(seen, me, std::memory_order_acquire,
                                    std::memory_order_relaxed)) {
      return true;
    }
  }
  return false;
}

absl::Status LeasedLock::Lock(absl::string_view queue, absl::string_view side,
                              uint32_t me, const Deadline& deadline,
                              const std::atomic<bool>& cancelled,
                              std::atomic<uint32_t>& holder_cpu,
                              HolderProbe probe_holder) {
  uint32_t seen = 0;
  if (!word_.compare_exchange_strong(seen, me, std::memory_order_acquire,
                                     std::memory_order_relaxed)) {
    bool taken = false;
    if ((seen & kHolderMask) == me) {
      return absl::FailedPreconditionError(QueueMessage(
          queue, absl::StrCat("this thread already holds the ", side,
                              " lock through this handle (a Peek, PeekBatch "
                              "or Reserve it has not finished)")));
    }
    // Before sleeping (spin.h): spin reading the word if the holder may be
    // running on another CPU (it only copies a message), for the thread's
    // budget; yield to it a few times if it took the lock on this CPU (it
    // cannot let go while we spin, and a yield leaves it nothing to wake).
    if (MayRunBeside(holder_cpu.load(std::memory_order_relaxed),
                     CurrentCpuTag())) {
      SpinBudget& budget = t_lock_spin;
      const int spins = budget.spins();
      for (int i = 0; i < spins && !taken; ++i) {
        CpuRelax();
        seen = word_.load(std::memory_order_relaxed);
        taken = TakeIfFree(seen, me);
      }
      if (taken) {
        budget.Paid();
      } else {
        budget.Wasted();
      }
    } else {
      for (int i = 0; i < kWaitYields && !taken; ++i) {
        sched_yield();
        seen = word_.load(std::memory_order_relaxed);
        taken = TakeIfFree(seen, me);
      }
    }
    // Then sleep on the word, looking at the holder's lease before the
    // first sleep and after each sleep that timed out (leased_lock.h).
    bool probe_due = true;
    while (!taken) {
      seen = word_.load(std::memory_order_relaxed);
      if (TakeIfFree(seen, me | kWaiters)) break;
      const uint32_t holder = seen & kHolderMask;
      if (holder > kLeases) {
        return absl::DataLossError(QueueMessage(
            queue, absl::StrCat("the ", side, " lock is corrupt: it names lease ",
                                holder, " of ", kLeases)));
      }
      if (probe_due) {
        absl::StatusOr<bool> gone = probe_holder(holder);
        if (!gone.ok()) return gone.status();
        probe_due = false;
        if (*gone) continue;  // its locks are free now: take this one
      }
      if (cancelled.load(std::memory_order_acquire)) {
        return absl::CancelledError(QueueMessage(queue, "cancelled"));
      }
      if (deadline.Expired()) {
        return absl::DeadlineExceededError(QueueMessage(
            queue, absl::StrCat("timed out waiting for the ", side, " lock")));
      }
      // Tell the holder someone may sleep, then sleep unless the word moved
      // meanwhile (the kernel compares it with what we saw).
      if ((seen & kWaiters) == 0 &&
          !word_.compare_exchange_weak(seen, seen | kWaiters,
                                       std::memory_order_relaxed)) {
        continue;
      }
      const timespec until = deadline.SliceEnd(kLockSlice);
      probe_due = FutexWaitUntil(reinterpret_cast<uint32_t*>(&word_),
                                 seen | kWaiters, &until) == ETIMEDOUT;
    }
  }
  NoteHolderCpu(holder_cpu);
  return absl::OkStatus();
}

void LeasedLock::Unlock() {
  // Release pairs with the next taker's acquire.
  if ((word_.exchange(0, std::memory_order_release) & kWaiters) != 0) {
    FutexWake(reinterpret_cast<uint32_t*>(&word_), 1);
  }
}

}  // namespace internal
}  // namespace ringbuf
