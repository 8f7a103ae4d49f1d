// A side lock (the send lock, the receive lock): a futex word in the mapping
// that names its holder's lease, and a sleepers word for its waiters.
//
// Why not a robust pthread mutex, as before layout version 4: glibc's robust
// mutexes keep a per-thread list of the mutexes a thread holds, so that the
// kernel can mark them owner-dead when it dies, and every lock and unlock
// updates that list. Taken for every message, that bookkeeping was a third
// of the cost of a message on one CPU (docs/design.md §6). The list is only
// needed to learn that a holder died, and a thread's death does not change
// from one message to the next: so each thread holds one robust mutex, its
// lease (lease_table.h), for as long as it uses the queue, and the side lock
// itself is a bare word: 0 when free, else the holder's lease id
// (1..kLeases). Taking it is one compare-and-swap. Releasing it is a plain
// store and one load of the sleepers word (sleepers.h, asymmetric_fence.h):
// no atomic read-modify-write at all unless someone sleeps, where a mutex
// needs an exchange to learn whether it has waiters.
//
// A waiter that cannot take the lock asks `probe_holder` whether the lease
// it names still has a living thread; once the thread is gone, the prober
// releases every lock the lease holds, repairing what each guards first
// (recovery.h), and the waiter takes the lock like any other.
//
// Recovery bound: the kernel wakes nobody sleeping on a side lock when its
// holder dies, so a sleeper looks at the holder's lease before its first
// sleep and after each sleep that ends without a wake-up. Sleeps last
// kLockSlice: a holder that dies while others sleep on its lock is noticed
// within that. (Starting at 1 ms and doubling measured worse: with 64
// producers on 2 CPUs, dozens of waiters of a busy send lock woke a
// thousand times a second each for nothing, and 64 -> 1 collapsed.)
#ifndef RINGBUF_INTERNAL_LEASED_LOCK_H_
#define RINGBUF_INTERNAL_LEASED_LOCK_H_

#include <atomic>
#include <cstdint>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "ringbuf/internal/asymmetric_fence.h"
#include "ringbuf/internal/crash_point.h"
#include "ringbuf/internal/deadline.h"
#include "ringbuf/internal/sleepers.h"
#include "ringbuf/internal/spin.h"

namespace ringbuf {
namespace internal {

// How long a waiter sleeps before it looks at the holder's lease again,
// and at its cancelled flag.
inline constexpr absl::Duration kLockSlice = absl::Milliseconds(50);

class LeasedLock {
 public:
  // Called by a waiter with the lease id the word names: true once that
  // lease's thread is known to be gone and its locks were released (go
  // round again), false while it lives, or an error (a corrupt lease).
  using HolderProbe = absl::FunctionRef<absl::StatusOr<bool>(uint32_t)>;

  // Takes the lock for lease `me` (1..kLeases). A free lock is taken at
  // once. Otherwise, before sleeping (spin.h): if the holder may be running
  // on another CPU, spin reading the word for the thread's budget; if it
  // took the lock on this CPU, yield to it a few times. Then sleep until
  // `deadline`, probing the holder as the file comment says and checking
  // `cancelled` after every sleep. `holder_cpu` is the word beside the lock
  // where each holder records its CPU (a hint): read while the lock is
  // busy, written once it is ours.
  //   DeadlineExceeded: the deadline passed.
  //   Cancelled: `cancelled` was set.
  //   FailedPrecondition: `me` already holds it (this thread has not
  //     finished a Peek or a Reserve).
  //   DataLoss: the word names no lease (a hostile peer wrote it), or the
  //     probe said the holder's lease is corrupt.
  absl::Status Lock(absl::string_view queue, absl::string_view side,
                    uint32_t me, const Deadline& deadline,
                    const std::atomic<bool>& cancelled,
                    std::atomic<uint32_t>& holder_cpu,
                    HolderProbe probe_holder);

  // The fast path: takes the lock for lease `me` only if it is free, and
  // records this CPU in `holder_cpu` if so.
  bool TryLock(uint32_t me, std::atomic<uint32_t>& holder_cpu) {
    uint32_t free = 0;
    // Acquire pairs with Unlock's release: what the last holder wrote under
    // the lock is visible to us.
    if (!word_.compare_exchange_strong(free, me, std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
      return false;
    }
    NoteHolderCpu(holder_cpu);
    return true;
  }

  // Releases the lock: by its holder, or by whoever took over the lease it
  // names (recovery.h). Wakes one sleeper if any may sleep.
  void Unlock() {
    StoreBeforeWake<uint32_t>(word_, 0);
    RINGBUF_CRASH_POINT(kUnlockedNotWoken);
    Sleepers(&sleepers_).Wake(1);
  }

  // The lease id the word names, 0 if free.
  uint32_t holder() const { return word_.load(std::memory_order_acquire); }

  // Wakes every waiter, to look at its cancelled flag (Queue::Shutdown).
  void InterruptWaiters() { Sleepers(&sleepers_).Interrupt(); }

  // Whether a waiter may be asleep on the lock (its sleepers word's bit).
  bool waiter_may_sleep() const {
    return (sleepers_.load(std::memory_order_relaxed) & kSomeoneMaySleep) != 0;
  }

 private:
  // Takes the lock if `seen` (updated as it goes) says it is free.
  bool TakeIfFree(uint32_t& seen, uint32_t me);
  // The waiting policy's first phases: whether it took the lock.
  bool SpinOrYield(uint32_t me, const std::atomic<uint32_t>& holder_cpu);
  // Ours now: record where we run, for the next waiter's choice (spin.h).
  static void NoteHolderCpu(std::atomic<uint32_t>& holder_cpu) {
    const uint32_t cpu = CurrentCpuTag();
    if (holder_cpu.load(std::memory_order_relaxed) != cpu) {
      holder_cpu.store(cpu, std::memory_order_relaxed);
    }
  }

  std::atomic<uint32_t> word_;
  std::atomic<uint32_t> sleepers_;  // sleepers.h: epoch << 1 | may-sleep
};

static_assert(sizeof(LeasedLock) == 2 * sizeof(uint32_t),
              "a side lock is its word and its sleepers word");

}  // namespace internal
}  // namespace ringbuf

#endif  // RINGBUF_INTERNAL_LEASED_LOCK_H_
