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
// (1..kLeases). Taking it is one compare-and-swap (none at all through a
// bias, below). Releasing it is a plain store and one load of the sleepers
// word (sleepers.h, asymmetric_fence.h): no atomic read-modify-write at all
// unless someone sleeps, where a mutex needs an exchange to learn whether
// it has waiters.
//
// A waiter that cannot take the lock asks `probe_holder` whether the lease
// it names still has a living thread; once the thread is gone, the prober
// releases every lock the lease holds, repairing what each guards first
// (recovery.h), and the waiter takes the lock like any other.
//
// Biased toward a lone holder. Even one compare-and-swap per message is a
// locked instruction, and on x86 a locked instruction waits until every
// store before it (the previous message's slot and index) has left the
// CPU: across CPUs that is a cache-line round trip to the other side per
// message, which the busy-poll ring never pays (docs/design.md §6). So a
// lock taken kBiasAfter times in a row by one lease is left *biased* toward
// it when that holder unlocks: the word says BiasedTo(x), and from then on
// x takes it with no read-modify-write, Dekker-style, the asymmetric fence
// (asymmetric_fence.h) being the heavy half. x marks itself inside in its
// own lease's line (Lease::inside), which nobody else writes:
//
//   x:       inside[x] = 1; compiler barrier; still BiasedTo(x)? then the
//            lock is ours; else inside[x] = 0 (step back), take it the
//            ordinary way.
//   another: CAS word BiasedTo(x) -> Revoking(me, x); membarrier; wait
//            until inside[x] == 0; CAS Revoking(me, x) -> me: ours.
//
// The membarrier makes x's CPU fence if x is running, so either x's check
// sees the revocation (x steps back) or the revoker sees x's mark (and
// waits for x's unlock, which clears it). Only a process registered for
// the fence (LightPostsEnabled) is given a bias, and a revoker refused the
// fence waits kUnfencedSleep for x's store to drain instead. The revoker
// pays a system call once per change of hands, where the lone holder
// saves a locked instruction per message.
//
// A biased holder that dies is learnt like any other holder: the revoker
// probes x's lease, and the repair (ReleaseFor) clears x's mark and the
// bias. A revoker that dies mid-revocation is probed by the next waiter,
// whose repair hands the bias back to x, the state before it began.
//
// Recovery bound: the kernel wakes nobody sleeping on a side lock when its
// holder dies, so a sleeper looks at the lease it waits for before its
// first sleep on it (a revoker's release may leave it waiting for the
// biased holder next: that one too) and after each sleep that ends without
// a wake-up. Sleeps last
// kLockSlice: a holder that dies while others sleep on its lock is noticed
// within that. (Starting at 1 ms and doubling measured worse: with 64
// producers on 2 CPUs, dozens of waiters of a busy send lock woke a
// thousand times a second each for nothing, and 64 -> 1 collapsed.)
#ifndef RINGBUF_INTERNAL_LEASED_LOCK_H_
#define RINGBUF_INTERNAL_LEASED_LOCK_H_

#include <algorithm>
#include <atomic>
#include <cstdint>

#include "absl/base/attributes.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "ringbuf/internal/asymmetric_fence.h"
#include "ringbuf/internal/crash_point.h"
#include "ringbuf/internal/deadline.h"
#include "ringbuf/internal/futex.h"
#include "ringbuf/internal/lease_table.h"
#include "ringbuf/internal/sleepers.h"
#include "ringbuf/internal/spin.h"

namespace ringbuf {
namespace internal {

// How long a waiter sleeps before it looks at the holder's lease again,
// and at its cancelled flag.
inline constexpr absl::Duration kLockSlice = absl::Milliseconds(50);

// Ordinary holds in a row by one lease, without a sleeping waiter, after
// which its unlock leaves the lock biased toward it. Large enough that
// threads taking turns (producers on a shared CPU, one time slice each)
// pay a revocation per turn, not per message.
inline constexpr uint32_t kBiasAfter = 64;

// The lock word: 0 free; a lease id (1..kLeases) holding it;
// BiasedTo(x) free for lease x to take without a read-modify-write (held
// while x's inside mark is set); Revoking(r, x) lease r taking x's bias
// away, waiting for x's mark to clear.
inline constexpr uint32_t kBiasedTag = 1u << 30;
inline constexpr uint32_t kRevokingTag = 2u << 30;
inline constexpr uint32_t BiasedTo(uint32_t x) { return kBiasedTag | x; }
inline constexpr uint32_t Revoking(uint32_t r, uint32_t x) {
  return kRevokingTag | r << 16 | x;
}

// A lock word taken apart; kCorrupt for any value the protocol never writes.
struct LockWord {
  enum Kind { kFree, kHeld, kBiased, kRevoking, kCorrupt };
  Kind kind;
  uint32_t lease;    // kHeld: the holder; kBiased, kRevoking: the bias's
  uint32_t revoker;  // kRevoking: who is taking the bias away
};
LockWord DecodeLockWord(uint32_t word);

// Where each lease marks itself inside one side lock through its bias
// (Lease::inside, lease_table.h): given to every call that may take, leave
// or judge a bias.
struct InsideMarks {
  LeaseTable* leases;
  LockSide side;
  std::atomic<uint32_t>& of(uint32_t id) const {
    return leases->inside(id, side);
  }
};

class LeasedLock {
 public:
  // Called by a waiter with the lease id whose thread it waits for: true
  // once that lease's thread is known to be gone and its locks were
  // released (go round again), false while it lives, or an error (a
  // corrupt lease).
  using HolderProbe = absl::FunctionRef<absl::StatusOr<bool>(uint32_t)>;

  // Takes the lock for lease `me` (1..kLeases). A free lock, or one biased
  // toward `me`, is taken at once; one biased toward another lease is
  // revoked (file comment). Otherwise, before sleeping (spin.h): if the
  // holder may be running on another CPU, spin looking at the lock for the
  // thread's budget; if it took the lock on this CPU, yield to it a few
  // times. Then sleep until `deadline`, probing the lease we wait for as
  // the file comment says and checking `cancelled` after every sleep.
  // `holder_cpu` is the word beside the lock where each holder records its
  // CPU (a hint): read while the lock is busy, written once it is ours.
  //   DeadlineExceeded: the deadline passed.
  //   Cancelled: `cancelled` was set.
  //   FailedPrecondition: `me` already holds it (this thread has not
  //     finished a Peek or a Reserve).
  //   DataLoss: the word holds what the protocol never writes (a hostile
  //     peer wrote it), or the probe said a lease is corrupt.
  absl::Status Lock(absl::string_view queue, absl::string_view side,
                    uint32_t me, const Deadline& deadline,
                    const std::atomic<bool>& cancelled,
                    std::atomic<uint32_t>& holder_cpu, InsideMarks marks,
                    HolderProbe probe_holder);

  // The fast path: takes the lock for lease `me` only if it is free or
  // biased toward `me`, and records this CPU in `holder_cpu` if so.
  ABSL_ATTRIBUTE_ALWAYS_INLINE bool TryLock(uint32_t me,
                                            std::atomic<uint32_t>& holder_cpu,
                                            InsideMarks marks) {
    uint32_t seen = word_.load(std::memory_order_relaxed);
    if (seen == BiasedTo(me)) {
      if (!g_light_posts.load(std::memory_order_relaxed) ||
          !TakeBiased(me, marks.of(me))) {
        return false;
      }
    } else if (seen != 0 || !TakeIfFree(seen, me)) {
      return false;
    }
    NoteHolderCpu(holder_cpu);
    return true;
  }

  // Releases the lock, by its holder. Held through its bias: clears the
  // holder's inside mark and wakes every sleeper if any may sleep (a
  // revoker waits among them). Held through the word: frees it (or, after
  // kBiasAfter holds in a row, biases it toward the holder) and wakes one.
  ABSL_ATTRIBUTE_ALWAYS_INLINE void Unlock(InsideMarks marks) {
    const uint32_t seen = word_.load(std::memory_order_relaxed);
    if (seen > kLeases) {  // BiasedTo(us) or Revoking(r, us)
      const uint32_t us = seen & 0xffff;  // both forms end with our id
      if (us - 1 < kLeases) StoreBeforeWake<uint32_t>(marks.of(us), 0);
      RINGBUF_CRASH_POINT(kUnlockedNotWoken);
      Sleepers(&sleepers_).Wake(kWakeAll);
      return;
    }
    StoreBeforeWake<uint32_t>(word_, WordAfterHold(seen));
    RINGBUF_CRASH_POINT(kUnlockedNotWoken);
    Sleepers(&sleepers_).Wake(1);
  }

  // The lease holding the word, 0 if none (free, or biased: biased_to()).
  uint32_t holder() const {
    const uint32_t seen = word_.load(std::memory_order_acquire);
    return seen <= kLeases ? seen : 0;
  }

  // The lease the lock is biased toward (also while being revoked), 0 if
  // none.
  uint32_t biased_to() const {
    const LockWord w = DecodeLockWord(word_.load(std::memory_order_acquire));
    return w.kind == LockWord::kBiased || w.kind == LockWord::kRevoking
               ? w.lease
               : 0;
  }

  // Whether lease `id` (gone, its lease held by the caller) was inside the
  // critical section, through the word or its bias: what the lock guards
  // needs repair (recovery.h). An inside mark without the bias is a step
  // back that never finished: nothing to repair.
  bool HeldBy(uint32_t id, InsideMarks marks) const {
    return holder() == id ||
           (biased_to() == id &&
            marks.of(id).load(std::memory_order_acquire) != 0);
  }

  // With lease `id` held by the caller and its thread gone, after any
  // repair: gives up whatever `id` had of the lock (the word, its bias, its
  // inside mark, a revocation it began) and, if that was anything, wakes
  // every sleeper.
  void ReleaseFor(uint32_t id, InsideMarks marks);

  // Wakes every waiter, to look at its cancelled flag (Queue::Shutdown).
  void InterruptWaiters() { Sleepers(&sleepers_).Interrupt(); }

  // Whether a waiter may be asleep on the lock (its sleepers word's bit).
  bool waiter_may_sleep() const {
    return (sleepers_.load(std::memory_order_relaxed) & kSomeoneMaySleep) != 0;
  }

 private:
  enum class Step { kTaken, kWait };

  // Takes the lock if `seen` (updated as it goes) says it is free.
  bool TakeIfFree(uint32_t& seen, uint32_t me) {
    // Acquire pairs with Unlock's release: what the last holder wrote under
    // the lock is visible to us.
    while (seen == 0) {
      if (word_.compare_exchange_weak(seen, me, std::memory_order_acquire,
                                      std::memory_order_relaxed)) {
        CountHold(me);
        return true;
      }
    }
    return false;
  }

  // The biased holder's side of the handshake (file comment); `inside` is
  // its own mark.
  bool TakeBiased(uint32_t me, std::atomic<uint32_t>& inside) {
    if (inside.load(std::memory_order_relaxed) != 0) return false;  // Lock says
    inside.store(1, std::memory_order_relaxed);
    RINGBUF_CRASH_POINT(kBiasedBusy);
    // The revoker's membarrier stands for the fence between the store and
    // the load; the compiler must not swap them. Acquire pairs with the
    // release that biased the word (our own unlock).
    std::atomic_signal_fence(std::memory_order_seq_cst);
    if (word_.load(std::memory_order_acquire) == BiasedTo(me)) return true;
    // Revoked before we got in: step back for the revoker.
    StoreBeforeWake<uint32_t>(inside, 0);
    Sleepers(&sleepers_).Wake(kWakeAll);
    return false;
  }

  // One ordinary hold by `me`, counted toward the bias (guarded by the
  // lock: only holders write streak_).
  void CountHold(uint32_t me) {
    const uint32_t s = streak_.load(std::memory_order_relaxed);
    const uint32_t count = (s & 0xffff) == me ? std::min(s >> 16, 0xfffeu) : 0;
    streak_.store((count + 1) << 16 | me, std::memory_order_relaxed);
  }

  // What the word becomes when its holder `me` unlocks: biased toward it
  // after kBiasAfter holds in a row with nobody asleep waiting, if its
  // process can be fenced against; else free.
  uint32_t WordAfterHold(uint32_t me) const {
    const uint32_t s = streak_.load(std::memory_order_relaxed);
    const bool bias = (s & 0xffff) == me && s >> 16 >= kBiasAfter &&
                      LightPostsEnabled() && !waiter_may_sleep();
    return bias ? BiasedTo(me) : 0;
  }

  // One look at the lock, without waiting: takes it, or begins or finishes
  // a revocation. On kWait, *probe is the lease whose thread we wait for.
  // DataLoss for a corrupt word.
  absl::StatusOr<Step> TryStep(absl::string_view queue,
                               absl::string_view side, uint32_t me,
                               InsideMarks marks, uint32_t* probe);
  // A waiter leaving without the lock: hands back a bias it was revoking.
  void AbandonRevocation(uint32_t me);
  // The waiting policy's first phases: whether it took the lock.
  bool SpinOrYield(absl::string_view queue, absl::string_view side,
                   uint32_t me, const std::atomic<uint32_t>& holder_cpu,
                   InsideMarks marks);
  // Ours now: record where we run, for the next waiter's choice (spin.h).
  static void NoteHolderCpu(std::atomic<uint32_t>& holder_cpu) {
    const uint32_t cpu = CurrentCpuTag();
    if (holder_cpu.load(std::memory_order_relaxed) != cpu) {
      holder_cpu.store(cpu, std::memory_order_relaxed);
    }
  }

  std::atomic<uint32_t> word_;
  std::atomic<uint32_t> sleepers_;  // sleepers.h: epoch << 1 | may-sleep
  // Ordinary holds in a row << 16 | the lease that made them; guarded by
  // the lock, read to decide a bias.
  std::atomic<uint32_t> streak_;
};

static_assert(sizeof(LeasedLock) == 3 * sizeof(uint32_t),
              "a side lock is its word, its sleepers word and its streak");

}  // namespace internal
}  // namespace ringbuf

#endif  // RINGBUF_INTERNAL_LEASED_LOCK_H_
