// A point on CLOCK_MONOTONIC by which a call must return, or "never".
//
// Every wait in ringbuf (the side locks, the futex sleeps) is given an
// absolute monotonic time computed once at the start of the call, so a
// timeout bounds the whole call and a wall-clock jump neither cuts it short
// nor stretches it.
#ifndef RINGBUF_INTERNAL_DEADLINE_H_
#define RINGBUF_INTERNAL_DEADLINE_H_

#include <time.h>

#include <cstdint>

#include "absl/time/time.h"

namespace ringbuf {
namespace internal {

class Deadline {
 public:
  // Never expires.
  static Deadline Infinite() { return Deadline(); }

  // Expires `timeout` after the call first asks where it stands (Expired,
  // at, SliceEnd, NoSoonerThan): a call that never has to wait never reads
  // the clock, and the time before the first question is the call's own
  // non-blocking work, one message's copy (a batch asks at once). Zero or negative: already
  // expired (the call makes one attempt). absl::InfiniteDuration():
  // Infinite().
  static Deadline After(absl::Duration timeout) {
    if (timeout == absl::InfiniteDuration()) return Infinite();
    Deadline d;
    d.infinite_ = false;
    d.timeout_ = timeout;
    return d;
  }

  bool infinite() const { return infinite_; }

  // Starts the clock now rather than at the first question (a batch, whose
  // copying before it first waits may be long).
  void Start() const {
    if (!infinite_) at();
  }

  // The later of this deadline and `floor` from now: a wait that must last
  // at least `floor` whatever the caller's timeout (a side lock's holder
  // normally lets go after one copy, which a zero timeout must not race).
  Deadline NoSoonerThan(absl::Duration floor) const {
    if (infinite_) return *this;
    const Deadline f = After(floor);
    return Before(at(), f.at()) ? f : *this;
  }

  bool Expired() const {
    if (infinite_) return false;
    if (!resolved_ && timeout_ <= absl::ZeroDuration()) return true;
    return !Before(Now(), at());
  }

  // The absolute CLOCK_MONOTONIC time, for FUTEX_WAIT_BITSET. Undefined
  // for an infinite deadline.
  const timespec& at() const {
    if (!resolved_) {
      at_ = Now();
      if (timeout_ > absl::ZeroDuration()) {
        at_ = absl::ToTimespec(absl::DurationFromTimespec(at_) + timeout_);
      }
      resolved_ = true;
    }
    return at_;
  }

  // The earlier of this deadline and `slice` from now: how long one sleep
  // may last before the sleeper looks around again.
  timespec SliceEnd(absl::Duration slice) const {
    timespec end = absl::ToTimespec(absl::DurationFromTimespec(Now()) + slice);
    return (!infinite_ && Before(at(), end)) ? at() : end;
  }

  static timespec Now() {
    timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now;
  }

 private:
  Deadline() = default;

  static bool Before(const timespec& a, const timespec& b) {
    return a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
  }

  bool infinite_ = true;
  absl::Duration timeout_;
  // at_ is computed from timeout_ on first use (one call, one thread).
  mutable bool resolved_ = false;
  mutable timespec at_{};
};

}  // namespace internal
}  // namespace ringbuf

#endif  // RINGBUF_INTERNAL_DEADLINE_H_
