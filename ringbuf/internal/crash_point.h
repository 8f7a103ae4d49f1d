// Test-only crash injection. In the library target these macros expand to
// nothing (zero cost). In //ringbuf:ringbuf_crash_points, built from the same
// sources with RINGBUF_CRASH_POINTS defined, each site calls a hook the test
// installs, typically one that tells the parent where it is and waits to be
// SIGKILLed there.
#ifndef RINGBUF_INTERNAL_CRASH_POINT_H_
#define RINGBUF_INTERNAL_CRASH_POINT_H_

namespace ringbuf {
namespace internal {

// The hazard windows of a send and a receive, in program order.
enum class CrashSite {
  kSendBeforeLock,      // found space, not yet locked (was: holding an empty token)
  kSendLocked,          // holding the send lock, nothing written
  kSendMidCopy,         // half the payload written into the slot
  kSendPublished,       // tail advanced, consumers not yet woken (was: before post(full))
  kSendUnlocked,        // consumers woken, lock released, not yet returned
  kReceiveBeforeLock,   // saw a message, not yet locked (was: holding a full token)
  kReceiveLocked,       // holding the receive lock, nothing read
  kReceiveMidCopy,      // half the payload copied out
  kReceiveTaken,        // head advanced, producers not yet woken (was: before post(empty))
  kReceiveUnlocked,     // producers woken, lock released, not yet returned
  kRepairing,           // repairing after a dead owner, lock not yet consistent
  kWaking,              // in Post: sleepers bit cleared, FUTEX_WAKE not yet made
  kPeekBatchHeld,       // PeekBatch returning with the receive lock held, nothing taken
  // Only in a queue of several priorities (internal/priority_levels.h); the
  // sites above hold there too, for the level being sent or received.
  kSendCounted,         // tail advanced, the level tail not yet: nothing published
  kReceiveLevelTaken,   // the level head advanced, head not yet: message taken
  // Taking over a lease (lease_table.h) found free or owner-dead, by a waiter
  // probing a lock's holder or by a thread taking a lease of its own.
  kAdoptingLease,       // lease held, the side locks it names not yet released
  kAdoptedLease,        // those locks repaired and released, lease not yet
                        // marked consistent
  kUnlockedNotWoken,    // a side lock's word (or its holder's inside mark)
                        // cleared, its sleepers not yet woken (leased_lock.h)
  // A side lock biased toward one lease (leased_lock.h).
  kBiasedBusy,          // the biased holder marked itself inside, not yet
                        // checked that the bias is still its own
  kRevokingBias,        // a bias marked as being revoked, the fence not yet made
};

#ifdef RINGBUF_CRASH_POINTS
using CrashHook = void (*)(CrashSite site);
// Installs `hook` for every site in this process (nullptr: none).
void SetCrashHook(CrashHook hook);
void HitCrashPoint(CrashSite site);
#define RINGBUF_CRASH_POINT(site) \
  ::ringbuf::internal::HitCrashPoint(::ringbuf::internal::CrashSite::site)
#else
#define RINGBUF_CRASH_POINT(site) static_cast<void>(0)
#endif

}  // namespace internal
}  // namespace ringbuf

#endif  // RINGBUF_INTERNAL_CRASH_POINT_H_
