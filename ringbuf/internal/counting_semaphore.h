// How a producer waits for an empty slot and a consumer for a full one.
//
// The counts of the two counting semaphores are derived from the ring's
// indexes (layout.h): full = tail - head, empty = capacity - full. A
// SlotSemaphore is the waiting half of one of them: it names the index line
// whose advance raises the count (tail raises "full", head raises "empty");
// sleepers sleep on that line's `sleepers` word:
//
//   sleepers = epoch << 1 | someone_may_sleep
//
// A zero timeout (an already-expired deadline) looks once and returns.
// Otherwise, wait. If whoever last moved the index (poster_cpu) may be
// running on another CPU, spin reading the index (no shared writes, no
// system call) for the thread's adaptive budget; if it last ran on this very
// CPU, it cannot move the index while we spin, so yield the CPU to it a few
// times instead (spin.h says why). Then sleep on the line's sleepers word
// (sleepers.h: announce, re-check the count, FUTEX_WAIT; on waking,
// re-check and repeat).
// Post (whoever advanced the index): record its CPU in poster_cpu (a hint,
// written only when it changed), then wake sleepers if the word says any
// may sleep: all consumers (few, usually one), or one producer per freed
// slot, or everyone while a notifier's thread watches (sleepers.h). So the
// wake-up system call is never made when nobody sleeps.
//
// Crash safety: posters wake before they unlock, so a poster that dies
// between moving the index and waking leaves its lock naming its dead
// lease, and the repair (recovery.cc) wakes the sleepers as soon as anyone
// takes that lease. A producer woken for a slot and killed before it
// claims it wakes nobody else. In case nobody ever helps, sleeps are sliced
// at kRecheckInterval: a blocked waiter wakes once a second (no CPU to
// speak of) and sees the count for itself.
#ifndef RINGBUF_INTERNAL_COUNTING_SEMAPHORE_H_
#define RINGBUF_INTERNAL_COUNTING_SEMAPHORE_H_

#include <sched.h>

#include <atomic>
#include <cstdint>

#include "absl/time/time.h"
#include "ringbuf/internal/deadline.h"
#include "ringbuf/internal/layout.h"
#include "ringbuf/internal/sleepers.h"
#include "ringbuf/internal/spin.h"

namespace ringbuf {
namespace internal {

inline constexpr absl::Duration kRecheckInterval = absl::Seconds(1);

class SlotSemaphore {
 public:
  // `raised_by` is the index line whose advance raises this count.
  explicit SlotSemaphore(IndexLine* raised_by) : line_(raised_by) {}

  enum class Result { kAvailable, kExpired, kCancelled };

  // Waits until `available(index)` is true for a value of the index read
  // after the call began, until `deadline`, or until `*cancelled` is set
  // (and Interrupt() called). With an expired deadline, checks without
  // sleeping. A `watcher` only wants to know (a QueueNotifier) and will not
  // take what it waited for (sleepers.h).
  template <typename Available>
  Result Wait(const Available& available, const Deadline& deadline,
              const std::atomic<bool>& cancelled, bool watcher = false) {
    if (deadline.Expired()) {  // a zero timeout: one look, no spinning
      return available(line_->index.load(std::memory_order_seq_cst))
                 ? Result::kAvailable
                 : Result::kExpired;
    }
    // Before sleeping: spin if the poster may be running elsewhere, yield if
    // it last ran here (spin.h).
    if (MayRunBeside(line_->poster_cpu.load(std::memory_order_relaxed),
                     CurrentCpuTag())) {
      SpinBudget& budget = t_wait_spin;
      const int spins = budget.spins();
      for (int i = 0; i < spins; ++i) {
        if (available(line_->index.load(std::memory_order_acquire))) {
          budget.Paid();
          return Result::kAvailable;
        }
        if (cancelled.load(std::memory_order_relaxed)) return Result::kCancelled;
        CpuRelax();
      }
      budget.Wasted();
    } else {
      for (int i = 0; i < kWaitYields; ++i) {
        if (available(line_->index.load(std::memory_order_acquire))) {
          return Result::kAvailable;
        }
        if (cancelled.load(std::memory_order_relaxed)) return Result::kCancelled;
        if (deadline.Expired()) return Result::kExpired;
        sched_yield();
      }
    }
    Sleepers sleepers(&line_->sleepers);
    bool woken = false;
    // A taker woken for a token it does not take passes the wake-up on.
    auto leave = [&](Result r) {
      if (woken && !watcher) sleepers.Wake(1);
      return r;
    };
    for (;;) {
      bool fenced;
      const uint32_t expected = sleepers.Announce(&fenced, watcher);
      if (available(line_->index.load(std::memory_order_seq_cst))) {
        return Result::kAvailable;
      }
      if (cancelled.load(std::memory_order_seq_cst)) {
        return leave(Result::kCancelled);
      }
      if (deadline.Expired()) return leave(Result::kExpired);
      const timespec until =
          deadline.SliceEnd(fenced ? kRecheckInterval : kUnfencedSleep);
      woken = sleepers.Sleep(expected, until) == 0 || woken;
    }
  }

  // Wakes every sleeper, whatever the word says (Sleepers::Interrupt): for
  // a handle's Shutdown and for crash repair.
  void Interrupt() { Sleepers(&line_->sleepers).Interrupt(); }

  // After advancing the index (StoreBeforeWake): note where we run, and
  // wake up to `wake` sleepers, if any may sleep (kWakeAll: every one).
  void Post(int wake = kWakeAll) {
    const uint32_t cpu = CurrentCpuTag();
    if (line_->poster_cpu.load(std::memory_order_relaxed) != cpu) {
      line_->poster_cpu.store(cpu, std::memory_order_relaxed);
    }
    Sleepers(&line_->sleepers).Wake(wake);
  }

  // For a waiter that leaves with what it was woken for untaken (a dropped
  // Reserve, a producer whose lock wait failed): wakes one other sleeper.
  void PassOn() { Sleepers(&line_->sleepers).Wake(1); }

 private:
  IndexLine* line_;
};

}  // namespace internal
}  // namespace ringbuf

#endif  // RINGBUF_INTERNAL_COUNTING_SEMAPHORE_H_
