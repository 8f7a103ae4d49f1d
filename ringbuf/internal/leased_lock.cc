#include "ringbuf/internal/leased_lock.h"

#include <sched.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "ringbuf/internal/errno_status.h"
#include "ringbuf/internal/lease_table.h"

namespace ringbuf {
namespace internal {

LockWord DecodeLockWord(uint32_t word) {
  const auto lease = [](uint32_t id) { return id >= 1 && id <= kLeases; };
  if (word == 0) return {LockWord::kFree, 0, 0};
  if (lease(word)) return {LockWord::kHeld, word, 0};
  const uint32_t x = word & 0xffff;
  if ((word & ~0xffffu) == kBiasedTag && lease(x)) {
    return {LockWord::kBiased, x, 0};
  }
  const uint32_t r = (word >> 16) & 0x3fff;
  if ((word & 0xc0000000u) == kRevokingTag && lease(r) && lease(x)) {
    return {LockWord::kRevoking, x, r};
  }
  return {LockWord::kCorrupt, 0, 0};
}

absl::StatusOr<LeasedLock::Step> LeasedLock::TryStep(absl::string_view queue,
                                                     absl::string_view side,
                                                     uint32_t me,
                                                     InsideMarks marks,
                                                     uint32_t* probe) {
  auto corrupt = [&](absl::string_view what) {
    return absl::DataLossError(QueueMessage(
        queue, absl::StrCat("the ", side, " lock is corrupt: ", what)));
  };
  *probe = 0;
  // seq_cst loads: in the sleep loop these are the sleeper's load of the
  // handshake (sleepers.h), after its announcement.
  uint32_t seen = word_.load(std::memory_order_seq_cst);
  for (;;) {
    const LockWord w = DecodeLockWord(seen);
    switch (w.kind) {
      case LockWord::kFree:
        if (TakeIfFree(seen, me)) return Step::kTaken;
        continue;  // someone else moved it: look again
      case LockWord::kHeld:
        *probe = w.lease;
        return Step::kWait;
      case LockWord::kBiased:
        if (w.lease == me && LightPostsEnabled()) {
          // Lock ruled out our being inside already: a mark left set is
          // someone else's writing.
          if (marks.of(me).load(std::memory_order_relaxed) != 0) {
            return corrupt(absl::StrCat("it is biased toward this thread's "
                                        "lease ", me, ", marked inside"));
          }
          if (TakeBiased(me, marks.of(me))) return Step::kTaken;
          seen = word_.load(std::memory_order_seq_cst);  // revoked meanwhile
          continue;
        } else if (word_.compare_exchange_strong(
                       seen, Revoking(me, w.lease), std::memory_order_seq_cst,
                       std::memory_order_seq_cst)) {
          RINGBUF_CRASH_POINT(kRevokingBias);
          // Now x's CPU fences if x runs (file comment). A process refused
          // the fence cannot make x's mark visible: it gives that store
          // time to drain instead.
          if (!FenceAgainstLightPosts()) absl::SleepFor(kUnfencedSleep);
          seen = word_.load(std::memory_order_seq_cst);
        }
        continue;  // a failed CAS left the word's value in `seen`
      case LockWord::kRevoking: {
        if (w.revoker != me) {
          *probe = w.revoker;
          return Step::kWait;
        }
        // Ours to finish: wait for x to be out. Acquire pairs with x's
        // release of its mark: what x wrote inside is visible to us.
        if (marks.of(w.lease).load(std::memory_order_seq_cst) != 0) {
          *probe = w.lease;
          return Step::kWait;
        }
        if (word_.compare_exchange_strong(seen, me, std::memory_order_seq_cst,
                                          std::memory_order_seq_cst)) {
          CountHold(me);
          return Step::kTaken;
        }
        continue;
      }
      case LockWord::kCorrupt:
        return corrupt(absl::StrCat("it names lease ", seen, " of ", kLeases));
    }
  }
}

void LeasedLock::AbandonRevocation(uint32_t me) {
  uint32_t seen = word_.load(std::memory_order_seq_cst);
  const LockWord w = DecodeLockWord(seen);
  if (w.kind != LockWord::kRevoking || w.revoker != me) return;
  // Back to the state before we began; x may be inside, or may come back.
  if (word_.compare_exchange_strong(seen, BiasedTo(w.lease),
                                    std::memory_order_seq_cst)) {
    Sleepers(&sleepers_).Wake(kWakeAll);
  }
}

void LeasedLock::ReleaseFor(uint32_t id, InsideMarks marks) {
  bool changed = false;
  if (marks.of(id).load(std::memory_order_acquire) != 0) {
    StoreBeforeWake<uint32_t>(marks.of(id), 0);
    changed = true;
  }
  uint32_t seen = word_.load(std::memory_order_seq_cst);
  for (;;) {
    const LockWord w = DecodeLockWord(seen);
    uint32_t next = seen;
    if (seen == id || seen == BiasedTo(id)) {
      next = 0;
    } else if (w.kind == LockWord::kRevoking && w.revoker == id) {
      next = BiasedTo(w.lease);  // the state before the revocation began
    }
    // Others may move the word meanwhile (a revoker of id's bias): CAS.
    if (next == seen) break;
    if (word_.compare_exchange_strong(seen, next, std::memory_order_seq_cst)) {
      changed = true;
      break;
    }
  }
  // The holder may have died anywhere in Unlock or in Wake: wake every
  // sleeper, whatever the sleepers word says.
  if (changed) Sleepers(&sleepers_).Interrupt();
}

bool LeasedLock::SpinOrYield(absl::string_view queue, absl::string_view side,
                             uint32_t me,
                             const std::atomic<uint32_t>& holder_cpu,
                             InsideMarks marks) {
  // Spin looking at the lock if its holder may be running on another CPU
  // (it only copies a message), for the thread's budget; yield to it a few
  // times if it took the lock on this CPU (it cannot let go while we spin,
  // and a yield leaves it nothing to wake). spin.h says why.
  // A corrupt word ends the looking at once: the sleep loop reports it.
  uint32_t probe;
  bool corrupt = false;
  auto taken = [&] {
    absl::StatusOr<Step> step = TryStep(queue, side, me, marks, &probe);
    corrupt = !step.ok();
    return !corrupt && *step == Step::kTaken;
  };
  if (MayRunBeside(holder_cpu.load(std::memory_order_relaxed),
                   CurrentCpuTag())) {
    SpinBudget& budget = t_lock_spin;
    const int spins = budget.spins();
    for (int i = 0; i < spins && !corrupt; ++i) {
      CpuRelax();
      if (taken()) {
        budget.Paid();
        return true;
      }
    }
    budget.Wasted();
    return false;
  }
  for (int i = 0; i < kWaitYields && !corrupt; ++i) {
    sched_yield();
    if (taken()) return true;
  }
  return false;
}

absl::Status LeasedLock::Lock(absl::string_view queue, absl::string_view side,
                              uint32_t me, const Deadline& deadline,
                              const std::atomic<bool>& cancelled,
                              std::atomic<uint32_t>& holder_cpu,
                              InsideMarks marks, HolderProbe probe_holder) {
  const uint32_t seen = word_.load(std::memory_order_relaxed);
  const LockWord w = DecodeLockWord(seen);
  if (seen == me ||
      (marks.of(me).load(std::memory_order_relaxed) != 0 &&
       (w.kind == LockWord::kBiased || w.kind == LockWord::kRevoking) &&
       w.lease == me)) {
    return absl::FailedPreconditionError(QueueMessage(
        queue, absl::StrCat("this thread already holds the ", side,
                            " lock through this handle (a Peek, PeekBatch "
                            "or Reserve it has not finished)")));
  }
  uint32_t probe;
  absl::StatusOr<Step> step = TryStep(queue, side, me, marks, &probe);
  bool taken = step.ok() && (*step == Step::kTaken ||
                             SpinOrYield(queue, side, me, holder_cpu, marks));
  // Then sleep on the sleepers word, looking at each lease we wait for
  // before the first sleep on it and after each sleep that timed out
  // (leased_lock.h).
  Sleepers sleepers(&sleepers_);
  bool woken = false;
  // A waiter woken for the lock that leaves without it passes the wake-up
  // on (Unlock wakes one sleeper only), and hands back a bias it was
  // taking away.
  auto leave = [&](absl::Status status) {
    AbandonRevocation(me);
    if (woken) sleepers.Wake(1);
    return status;
  };
  bool probe_due = true;
  // A lease we come to wait for anew (a dead revoker's release leaves us
  // waiting for the biased holder, perhaps dead too) is looked at before
  // we sleep, as the first was: up to two looks between sleeps, so that
  // the deadline is still checked however the word changes.
  uint32_t probed = 0;  // the lease looked at last
  int looks = 0;        // since the last sleep
  while (!taken) {
    bool fenced;
    const uint32_t expected = sleepers.Announce(&fenced);
    step = TryStep(queue, side, me, marks, &probe);
    if (!step.ok()) return leave(step.status());
    if (*step == Step::kTaken) break;
    if (probe == 0) continue;
    if (probe_due || (probe != probed && looks < 2)) {
      absl::StatusOr<bool> gone = probe_holder(probe);
      if (!gone.ok()) return leave(gone.status());
      probe_due = false;
      probed = probe;
      ++looks;
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
    looks = 0;
  }
  NoteHolderCpu(holder_cpu);
  return absl::OkStatus();
}

}  // namespace internal
}  // namespace ringbuf
