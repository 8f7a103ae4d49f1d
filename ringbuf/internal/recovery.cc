#include "ringbuf/internal/recovery.h"

#include "ringbuf/internal/counting_semaphore.h"
#include "ringbuf/internal/crash_point.h"

namespace ringbuf {
namespace internal {
namespace {

// The index the dead owner was moving: the header's in a 1-level queue, its
// level's otherwise. Null if the level word is out of range (a corrupt
// header): then nothing is counted, and the header's index is still
// recomputed from the levels.
const std::atomic<uint64_t>* CopyingIndex(const SideLock& side,
                                          const IndexLine& line,
                                          std::atomic<uint64_t>* level_indexes,
                                          const Levels& levels) {
  if (!levels.multi()) return &line.index;
  const uint32_t level = side.copying_level;
  return level < levels.count ? &level_indexes[level] : nullptr;
}

// Returns whether the dead owner had moved its index past the slot it was
// copying (published, for a producer; taken, for a consumer).
bool DeadOwnerAdvanced(const SideLock& side,
                       const std::atomic<uint64_t>* index) {
  return side.progress == kCopying && index != nullptr &&
         index->load(std::memory_order_relaxed) != side.copying_index;
}

bool DeadOwnerWasCopying(const SideLock& side,
                         const std::atomic<uint64_t>* index) {
  return side.progress == kCopying && index != nullptr &&
         index->load(std::memory_order_relaxed) == side.copying_index;
}

}  // namespace

absl::StatusOr<bool> ProbeHolder(Header& h, const Levels& levels,
                                 LeaseTable& leases, uint32_t id,
                                 absl::string_view queue) {
  RobustMutex& lease = leases.of(id);
  absl::StatusOr<RobustMutex::Acquired> got = lease.TryLock(queue);
  if (!got.ok()) return got.status();
  if (*got == RobustMutex::Acquired::kBusy) return false;
  ReleaseLocksOf(h, levels, leases, id);
  if (*got == RobustMutex::Acquired::kOwnerDied) lease.MarkConsistent();
  lease.Unlock();
  return true;
}

void ReleaseLocksOf(Header& h, const Levels& levels, LeaseTable& leases,
                    uint32_t id) {
  RINGBUF_CRASH_POINT(kAdoptingLease);
  // Nobody else can take a lock in the name of `id` while we hold the
  // lease, so what we see here stays true until we unlock.
  // Repair only what it was inside of; give back whatever it had of each
  // lock (the word, a bias, a revocation it began: leased_lock.h).
  const InsideMarks send{&leases, kSendLock}, recv{&leases, kReceiveLock};
  if (h.send.lock.HeldBy(id, send)) RepairSendSide(h, levels);
  h.send.lock.ReleaseFor(id, send);
  if (h.recv.lock.HeldBy(id, recv)) RepairReceiveSide(h, levels);
  h.recv.lock.ReleaseFor(id, recv);
  RINGBUF_CRASH_POINT(kAdoptedLease);
}

void RepairSendSide(Header& h, const Levels& levels) {
  h.send.owner_deaths.fetch_add(1, std::memory_order_relaxed);
  RINGBUF_CRASH_POINT(kRepairing);
  // A torn slot at tail was never published; the next send overwrites it.
  if (DeadOwnerWasCopying(h.send,
                          CopyingIndex(h.send, h.tail, levels.tail, levels))) {
    h.send.lost_in_flight.fetch_add(1, std::memory_order_relaxed);
  }
  // Several levels: the dead producer may have counted its messages in tail
  // without publishing them in its level (kSendCounted). tail is the sum of
  // the level tails, whatever it died doing.
  if (levels.multi()) {
    h.tail.index.store(levels.SumTails(std::memory_order_relaxed),
                       std::memory_order_seq_cst);
  }
  h.send.progress = kIdle;
  // The dead producer may have published without waking a consumer, even
  // after clearing the sleepers bit (it dies inside Post): wake them all,
  // whatever the bit says.
  SlotSemaphore(&h.tail).Interrupt();
}

void RepairReceiveSide(Header& h, const Levels& levels) {
  h.recv.owner_deaths.fetch_add(1, std::memory_order_relaxed);
  RINGBUF_CRASH_POINT(kRepairing);
  // Taken but never returned: lost to the dead consumer alone (one message,
  // or the batch it was taking). Had it not advanced head, the messages
  // would simply still be at head.
  const std::atomic<uint64_t>* index =
      CopyingIndex(h.recv, h.head, levels.head, levels);
  if (DeadOwnerAdvanced(h.recv, index)) {
    h.recv.lost_in_flight.fetch_add(
        index->load(std::memory_order_relaxed) - h.recv.copying_index,
        std::memory_order_relaxed);
  }
  // Several levels: the dead consumer may have taken from its level without
  // moving head (kReceiveLevelTaken). head is the sum of the level heads.
  if (levels.multi()) {
    h.head.index.store(levels.SumHeads(std::memory_order_relaxed),
                       std::memory_order_seq_cst);
  }
  h.recv.progress = kIdle;
  // The dead consumer may have freed a slot without waking a producer (see
  // RepairSendSide).
  SlotSemaphore(&h.head).Interrupt();
}

}  // namespace internal
}  // namespace ringbuf
