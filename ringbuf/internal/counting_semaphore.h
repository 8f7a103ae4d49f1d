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
// times instead (spin.h says why). Then set the bit, re-check the count,
// and FUTEX_WAIT on the word with the value that has the bit set; on
// waking, re-check and repeat.
// Post (whoever advanced the index): record its CPU in poster_cpu (a hint,
// written only when it changed); one load of the word; only if the bit is
// set, clear it and bump the epoch in one CAS (word + 1 does both) and
// FUTEX_WAKE every sleeper. So the wake-up system call is made once per
// sleep episode, not once per message, and never when nobody sleeps.
//
// No lost wake-up: the poster stores the index, then loads the word; the
// sleeper sets the bit, then loads the index, with a full fence between
// each side's store and load (the poster's is the sleeper's membarrier
// where the kernel allows: asymmetric_fence.h). Either the poster sees the
// bit, or the sleeper sees the new index. A sleeper that set the bit
// before a Post but calls FUTEX_WAIT after it finds the epoch moved and
// returns at once (the epoch is why a later sleeper re-setting the bit cannot
// make the old value current again).
//
// Crash safety: a sleeper that dies leaves the bit set, which costs the next
// poster one spare FUTEX_WAKE and heals itself. Posters wake before they
// unlock, so a poster that dies between moving the index and waking leaves
// its lock owner-dead, and the repair (recovery.cc) wakes the sleepers as
// soon as anyone takes that lock. In case nobody ever does, sleeps are sliced
// at kRecheckInterval: a blocked waiter wakes once a second (no CPU to speak
// of) and sees the count for itself.
#ifndef RINGBUF_INTERNAL_COUNTING_SEMAPHORE_H_
#define RINGBUF_INTERNAL_COUNTING_SEMAPHORE_H_

#include <sched.h>

#include <atomic>
#include <cstdint>

#include "absl/time/time.h"
#include "ringbuf/internal/asymmetric_fence.h"
#include "ringbuf/internal/crash_point.h"
#include "ringbuf/internal/deadline.h"
#include "ringbuf/internal/futex.h"
#include "ringbuf/internal/layout.h"
#include "ringbuf/internal/spin.h"

namespace ringbuf {
namespace internal {

inline constexpr absl::Duration kRecheckInterval = absl::Seconds(1);
inline constexpr uint32_t kSomeoneMaySleep = 1;


class SlotSemaphore {
 public:
  // `raised_by` is the index line whose advance raises this count.
  explicit SlotSemaphore(IndexLine* raised_by) : line_(raised_by) {}

  enum class Result { kAvailable, kExpired, kCancelled };

  // Waits until `available(index)` is true for a value of the index read
  // after the call began, until `deadline`, or until `*cancelled` is set
  // (and Interrupt() called). With an expired deadline, checks without
  // sleeping.
  template <typename Available>
  Result Wait(const Available& available, const Deadline& deadline,
              const std::atomic<bool>& cancelled) {
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
    uint32_t* word = reinterpret_cast<uint32_t*>(&line_->sleepers);
    bool woken = false;
    // A waiter woken for a token it does not take passes the wake-up on.
    auto leave = [&](Result r) {
      if (woken) Wake(1);
      return r;
    };
    for (;;) {
      // seq_cst: pairs with Post's store-then-load (see the file comment),
      // and with Interrupt's store of `cancelled` then epoch bump.
      const uint32_t expected =
          line_->sleepers.fetch_or(kSomeoneMaySleep, std::memory_order_seq_cst) |
          kSomeoneMaySleep;
      // Posters may store the index without a fence (asymmetric_fence.h):
      // this one stands for theirs.
      const bool fenced = FenceAgainstLightPosts();
      if (available(line_->index.load(std::memory_order_seq_cst))) {
        return Result::kAvailable;
      }
      if (cancelled.load(std::memory_order_seq_cst)) {
        return leave(Result::kCancelled);
      }
      if (deadline.Expired()) return leave(Result::kExpired);
      timespec until =
          deadline.SliceEnd(fenced ? kRecheckInterval : kUnfencedSleep);
      woken = FutexWaitUntil(word, expected, &until) == 0 || woken;
    }
  }

  // Moves the epoch so no sleeper can go to sleep on the old value, and wakes
  // every sleeper, whatever the bit says. For a handle's Shutdown (after it
  // set its `cancelled` flag, seq_cst) and for crash repair (a poster that
  // died inside Post may have cleared the bit without waking anyone).
  // Sleepers with nothing new for them re-check and sleep again.
  void Interrupt() {
    line_->sleepers.fetch_add(2, std::memory_order_seq_cst);
    FutexWake(reinterpret_cast<uint32_t*>(&line_->sleepers), kWakeAll);
  }

  // After advancing the index (StoreIndexBeforePost): note where we run,
  // and wake up to `wake` sleepers, if any may sleep (kWakeAll: every one).
  void Post(int wake = kWakeAll) {
    const uint32_t cpu = CurrentCpuTag();
    if (line_->poster_cpu.load(std::memory_order_relaxed) != cpu) {
      line_->poster_cpu.store(cpu, std::memory_order_relaxed);
    }
    Wake(wake);
  }

  // Wakes up to `count` sleepers if the bit says any may sleep. Post's
  // second half, and how a waiter that was woken but leaves without taking
  // what it was woken for passes the wake-up on (count 1).
  void Wake(int count) {
    uint32_t* word = reinterpret_cast<uint32_t*>(&line_->sleepers);
    uint32_t w = line_->sleepers.load(std::memory_order_seq_cst);
    while ((w & kSomeoneMaySleep) != 0) {
      if (count == kWakeAll) {
        // Clear the bit and bump the epoch in one step, then wake everyone.
        if (line_->sleepers.compare_exchange_weak(w, w + 1,
                                                  std::memory_order_seq_cst)) {
          RINGBUF_CRASH_POINT(kWaking);
          FutexWake(word, kWakeAll);
          return;
        }
      } else if (line_->sleepers.compare_exchange_weak(
                     w, w + 2, std::memory_order_seq_cst)) {
        // Bump the epoch and keep the bit (others may still sleep): a
        // sleeper on its way to FUTEX_WAIT with the old value looks again.
        RINGBUF_CRASH_POINT(kWaking);
        if (FutexWake(word, count) < count) {
          // Fewer sleepers than wake-ups: nobody is left asleep. Clear the
          // bit (bumping the epoch again), then wake whoever fell asleep
          // between the two steps, normally nobody.
          uint32_t bumped = w + 2;
          if (line_->sleepers.compare_exchange_strong(
                  bumped, bumped + 1, std::memory_order_seq_cst)) {
            FutexWake(word, kWakeAll);
          }
        }
        return;
      }
    }
  }

 private:
  IndexLine* line_;
};

}  // namespace internal
}  // namespace ringbuf

#endif  // RINGBUF_INTERNAL_COUNTING_SEMAPHORE_H_
