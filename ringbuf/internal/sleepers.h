// A sleepers word: the futex word a group of waiters sleeps on, and the
// handshake by which whoever gives them what they wait for (a message, a
// slot, a lock) wakes them, with no system call when nobody sleeps.
//
//   word = epoch << 2 | a_watcher_may_sleep << 1 | someone_may_sleep
//
// Most sleepers take what they were woken for (a slot, a lock), so a
// releaser that freed n of them need wake only n sleepers. A watcher does
// not take it (a QueueNotifier waiting for space, to tell its fd): woken in
// a taker's stead it would leave the taker asleep, and a taker woken in its
// stead would leave its fd silent. So a watcher announces itself with the
// second bit too, and while that bit is set every wake-up wakes everyone.
//
// Sleeper: Announce() sets the bit, then (fence) the caller re-checks its
// condition, and only then Sleep()s on the value Announce returned.
// Releaser: makes the change the sleepers wait for (StoreBeforeWake,
// asymmetric_fence.h), then Wake(): one load of the word; only if the bit
// is set, bump the epoch and FUTEX_WAKE.
//
// No lost wake-up: each side stores, then loads what the other stored,
// with a full fence between (the releaser's being the sleeper's membarrier
// where the kernel allows, asymmetric_fence.h). Either the releaser sees the
// bit, or the sleeper sees the change. A sleeper that announced before a
// wake-up but calls FUTEX_WAIT after it finds the epoch moved and returns at
// once (the epoch is why a later sleeper re-setting the bit cannot make the
// old value current again).
//
// Crash safety: a sleeper that dies leaves the bit set, which costs the next
// releaser one spare FUTEX_WAKE and heals itself. The word is never trusted:
// any value only makes a sleeper wake early or a releaser wake nobody.
#ifndef RINGBUF_INTERNAL_SLEEPERS_H_
#define RINGBUF_INTERNAL_SLEEPERS_H_

#include <time.h>

#include <atomic>
#include <cstdint>

#include "ringbuf/internal/asymmetric_fence.h"
#include "ringbuf/internal/crash_point.h"
#include "ringbuf/internal/futex.h"

namespace ringbuf {
namespace internal {

inline constexpr uint32_t kSomeoneMaySleep = 1;
inline constexpr uint32_t kWatcherMaySleep = 2;
inline constexpr uint32_t kEpochUnit = 4;

// The next epoch, both bits cleared.
inline constexpr uint32_t NextEpochOf(uint32_t w) { return (w | 3) + 1; }

class Sleepers {
 public:
  explicit Sleepers(std::atomic<uint32_t>* word) : word_(word) {}

  // The sleeper's first step: sets the bit and fences, then returns the
  // value to Sleep() on. *fenced is false if the fence against light
  // releasers could not be issued: then sleep no longer than
  // kUnfencedSleep at a time.
  // A watcher (`watcher` true) wants to know, not to take.
  uint32_t Announce(bool* fenced, bool watcher = false) {
    // seq_cst: the sleeper's half of the handshake, and pairs with
    // Interrupt's store of a cancelled flag then epoch bump.
    const uint32_t bits =
        watcher ? kSomeoneMaySleep | kWatcherMaySleep : kSomeoneMaySleep;
    const uint32_t expected =
        word_->fetch_or(bits, std::memory_order_seq_cst) | bits;
    // Releasers may make their change without a fence: this one stands
    // for theirs.
    *fenced = FenceAgainstLightPosts();
    return expected;
  }

  // Sleeps while the word still holds `expected`, until woken or `until`.
  // Returns 0 when woken, else ETIMEDOUT, EAGAIN (the word moved) or EINTR.
  int Sleep(uint32_t expected, const timespec& until) {
    return FutexWaitUntil(raw(), expected, &until);
  }

  // The releaser's step, after its change: wakes up to `count` sleepers
  // (kWakeAll, or a watcher may sleep: every one) if the bit says any may
  // sleep. Waking fewer than
  // all keeps the bit set (others may still sleep) and bumps the epoch, so
  // that a sleeper on its way to FUTEX_WAIT with the old value looks again;
  // if fewer than `count` were asleep, nobody is left: the bit is cleared
  // (the epoch bumped again) and whoever fell asleep between the two steps
  // is woken, normally nobody. Waking one per thing freed, rather than all,
  // spares a herd: sixty-four producers woken for each slot, running to
  // find it taken, starved the consumer (docs/design.md §3).
  void Wake(int count) {
    uint32_t w = word_->load(std::memory_order_seq_cst);
    while ((w & kSomeoneMaySleep) != 0) {
      if (count == kWakeAll || (w & kWatcherMaySleep) != 0) {
        // Clear the bits and bump the epoch in one step.
        if (word_->compare_exchange_weak(w, NextEpochOf(w),
                                         std::memory_order_seq_cst)) {
          RINGBUF_CRASH_POINT(kWaking);
          FutexWake(raw(), kWakeAll);
          return;
        }
      } else if (word_->compare_exchange_weak(w, w + kEpochUnit,
                                              std::memory_order_seq_cst)) {
        RINGBUF_CRASH_POINT(kWaking);
        if (FutexWake(raw(), count) < count) {
          uint32_t bumped = w + kEpochUnit;
          if (word_->compare_exchange_strong(bumped, NextEpochOf(bumped),
                                             std::memory_order_seq_cst)) {
            FutexWake(raw(), kWakeAll);
          }
        }
        return;
      }
    }
  }

  // Moves the epoch so no sleeper can go to sleep on the old value, and
  // wakes every sleeper, whatever the bit says: for a handle's Shutdown
  // (after it set its cancelled flag, seq_cst) and for crash repair (a
  // releaser that died inside Wake may have moved the word without waking
  // anyone). Sleepers with nothing new for them re-check and sleep again.
  void Interrupt() {
    word_->fetch_add(kEpochUnit, std::memory_order_seq_cst);
    FutexWake(raw(), kWakeAll);
  }

 private:
  uint32_t* raw() const { return reinterpret_cast<uint32_t*>(word_); }

  std::atomic<uint32_t>* word_;
};

}  // namespace internal
}  // namespace ringbuf

#endif  // RINGBUF_INTERNAL_SLEEPERS_H_
