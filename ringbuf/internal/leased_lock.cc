#include "ringbuf/internal/leased_lock.h"

#include <sched.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "ringbuf/internal/errno_status.h"
#include "ringbuf/internal/lease_table.h"

namespace ringbuf {
namespace internal {

bool LeasedLock::TakeIfFree(uint32_t& seen, uint32_t me) {
  // Acquire pairs with Unlock's release: what the last holder wrote under
  // the lock is visible to us.
  while (seen == 0) {
    if (word_.compare_exchange_weak(seen, me, std::memory_order_acquire,
                                    std::memory_order_relaxed)) {
      return true;
    }
  }
  return false;
}

bool LeasedLock::SpinOrYield(uint32_t me,
                             const std::atomic<uint32_t>& holder_cpu) {
  // Spin reading the word if the holder may be running on another CPU (it
  // only copies a message), for the thread's budget; yield to it a few
  // times if it took the lock on this CPU (it cannot let go while we spin,
  // and a yield leaves it nothing to wake). spin.h says why.
  uint32_t seen;
  if (MayRunBeside(holder_cpu.load(std::memory_order_relaxed),
                   CurrentCpuTag())) {
    SpinBudget& budget = t_lock_spin;
    const int spins = budget.spins();
    for (int i = 0; i < spins; ++i) {
      CpuRelax();
      seen = word_.load(std::memory_order_relaxed);
      if (TakeIfFree(seen, me)) {
        budget.Paid();
        return true;
      }
    }
    budget.Wasted();
    return false;
  }
  for (int i = 0; i < kWaitYields; ++i) {
    sched_yield();
    seen = word_.load(std::memory_order_relaxed);
    if (TakeIfFree(seen, me)) return true;
  }
  return false;
}

absl::Status LeasedLock::Lock(absl::string_view queue, absl::string_view side,
                              uint32_t me, const Deadline& deadline,
                              const std::atomic<bool>& cancelled,
                              std::atomic<uint32_t>& holder_cpu,
                              HolderProbe probe_holder) {
  uint32_t seen = word_.load(std::memory_order_relaxed);
  if (seen == me) {
    return absl::FailedPreconditionError(QueueMessage(
        queue, absl::StrCat("this thread already holds the ", side,
                            " lock through this handle (a Peek, PeekBatch "
                            "or Reserve it has not finished)")));
  }
  bool taken = TakeIfFree(seen, me) || SpinOrYield(me, holder_cpu);
  // Then sleep on the sleepers word, looking at the holder's lease before
  // the first sleep and after each sleep that timed out (leased_lock.h).
  Sleepers sleepers(&sleepers_);
  bool woken = false;
  // A waiter woken for the lock that leaves without it passes the wake-up
  // on: Unlock wakes one sleeper only.
  auto leave = [&](absl::Status status) {
    if (woken) sleepers.Wake(1);
    return status;
  };
  bool probe_due = true;
  while (!taken) {
    bool fenced;
    const uint32_t expected = sleepers.Announce(&fenced);
    // seq_cst: the sleeper's load of the handshake (sleepers.h), ordered
    // after its announcement even where no membarrier was issued.
    seen = word_.load(std::memory_order_seq_cst);
    if (TakeIfFree(seen, me)) break;
    if (seen > kLeases) {
      return leave(absl::DataLossError(QueueMessage(
          queue, absl::StrCat("the ", side, " lock is corrupt: it names lease ",
                              seen, " of ", kLeases))));
    }
    if (probe_due) {
      absl::StatusOr<bool> gone = probe_holder(seen);
      if (!gone.ok()) return leave(gone.status());
      probe_due = false;
      if (*gone) continue;  // its locks are free now: take this one
    }
    if (cancelled.load(std::memory_order_acquire)) {
      return leave(absl::CancelledError(QueueMessage(queue, "cancelled")));
    }
    if (deadline.Expired()) {
      return leave(absl::DeadlineExceededError(QueueMessage(
          queue, absl::StrCat("timed out waiting for the ", side, " lock"))));
    }
    const timespec until =
        deadline.SliceEnd(fenced ? kLockSlice : kUnfencedSleep);
    const int slept = sleepers.Sleep(expected, until);
    woken = woken || slept == 0;
    probe_due = slept == ETIMEDOUT;
  }
  NoteHolderCpu(holder_cpu);
  return absl::OkStatus();
}

}  // namespace internal
}  // namespace ringbuf
