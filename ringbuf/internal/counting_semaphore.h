// How a producer waits for an empty slot and a consumer for a full one.
//
// The counts of the two counting semaphores are derived from the ring's
// indexes (layout.h): full = tail - head, empty = capacity - full. A
// SlotSemaphore is the waiting half of one of them: it names the index
// whose advance raises the count (tail raises "full", head raises "empty")
// and keeps the sleepers' count beside it.
//
// Wait: spin briefly reading the index (no shared writes, no system call),
// then register in `waiters` and sleep on the index's futex word, in slices,
// re-checking the count after each. Post (by whoever advanced the index):
// one atomic load of `waiters`, and a FUTEX_WAKE only if someone sleeps.
//
// No lost wake-up: the poster stores the index and then loads `waiters`; the
// sleeper increments `waiters` and then loads the index, all seq_cst; and
// FUTEX_WAIT re-checks the word in the kernel. Either the poster sees the
// sleeper, or the sleeper sees the new index.
//
// Crash safety: a waiter woken by Post that dies before using its wake-up
// would leave the next sleeper asleep beside a free slot. Sleeps are
// therefore sliced at kRecheckInterval: a blocked waiter wakes a few times a
// second (no CPU to speak of) and sees the count for itself. A waiter that
// gives up (deadline) while the count is positive passes the wake-up on.
#ifndef RINGBUF_INTERNAL_COUNTING_SEMAPHORE_H_
#define RINGBUF_INTERNAL_COUNTING_SEMAPHORE_H_

#include <atomic>
#include <cstdint>

#include "absl/time/time.h"
#include "ringbuf/internal/deadline.h"
#include "ringbuf/internal/futex.h"
#include "ringbuf/internal/layout.h"
#include "ringbuf/internal/spin.h"

namespace ringbuf {
namespace internal {

inline constexpr absl::Duration kRecheckInterval = absl::Milliseconds(200);

class SlotSemaphore {
 public:
  // `raised_by` is the index line whose advance raises this count.
  explicit SlotSemaphore(IndexLine* raised_by) : line_(raised_by) {}

  // Waits until `available(index)` is true for a value of the index read
  // after the call began, or until `deadline`. Returns whether it became
  // true; with an expired deadline, checks exactly once (plus the spin).
  template <typename Available>
  bool Wait(const Available& available, const Deadline& deadline) {
    for (int i = 0; i < kWaitSpins; ++i) {
      if (available(line_->index.load(std::memory_order_acquire))) return true;
      CpuRelax();
    }
    line_->waiters.fetch_add(1, std::memory_order_seq_cst);
    bool ok;
    for (;;) {
      // seq_cst: pairs with Post's store-then-load (see the file comment).
      uint64_t seen = line_->index.load(std::memory_order_seq_cst);
      if (available(seen)) {
        ok = true;
        break;
      }
      if (deadline.Expired()) {
        ok = false;
        break;
      }
      timespec until = deadline.SliceEnd(kRecheckInterval);
      FutexWaitUntil(FutexWord(&line_->index), static_cast<uint32_t>(seen),
                     &until);
    }
    line_->waiters.fetch_sub(1, std::memory_order_seq_cst);
    if (!ok && available(line_->index.load(std::memory_order_seq_cst))) {
      Post();  // we may have swallowed a wake-up meant for a token we leave
    }
    return ok;
  }

  // After advancing the index with a seq_cst store: wake one sleeper, if any.
  void Post() {
    if (line_->waiters.load(std::memory_order_seq_cst) != 0) {
      FutexWake(FutexWord(&line_->index), 1);
    }
  }

  // Wake every sleeper (crash recovery: the dead owner may have skipped Post).
  void PostAll() { FutexWake(FutexWord(&line_->index), kWakeAll); }

 private:
  IndexLine* line_;
};

}  // namespace internal
}  // namespace ringbuf

#endif  // RINGBUF_INTERNAL_COUNTING_SEMAPHORE_H_
