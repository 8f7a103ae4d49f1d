#include "ringbuf/internal/recovery.h"

#include "ringbuf/internal/counting_semaphore.h"
#include "ringbuf/internal/crash_point.h"

namespace ringbuf {
namespace internal {
namespace {

// Returns whether the dead owner had moved its index past the slot it was
// copying (published, for a producer; taken, for a consumer).
bool DeadOwnerAdvanced(const SideLock& side, const IndexLine& line) {
  return side.progress == kCopying &&
         line.index.load(std::memory_order_relaxed) != side.copying_index;
}

bool DeadOwnerWasCopying(const SideLock& side, const IndexLine& line) {
  return side.progress == kCopying &&
         line.index.load(std::memory_order_relaxed) == side.copying_index;
}

}  // namespace

void RepairSendSide(Header& h) {
  h.send.owner_deaths.fetch_add(1, std::memory_order_relaxed);
  RINGBUF_CRASH_POINT(kRepairing);
  // A torn slot at tail was never published; the next send overwrites it.
  if (DeadOwnerWasCopying(h.send, h.tail)) {
    h.send.lost_in_flight.fetch_add(1, std::memory_order_relaxed);
  }
  h.send.progress = kIdle;
  // The dead producer may have published without waking a consumer, even
  // after clearing the sleepers bit (it dies inside Post): wake them all,
  // whatever the bit says.
  SlotSemaphore(&h.tail).Interrupt();
}

void RepairReceiveSide(Header& h) {
  h.recv.owner_deaths.fetch_add(1, std::memory_order_relaxed);
  RINGBUF_CRASH_POINT(kRepairing);
  // Taken but never returned: lost to the dead consumer alone (one message,
  // or the batch it was taking). Had it not advanced head, the messages
  // would simply still be at head.
  if (DeadOwnerAdvanced(h.recv, h.head)) {
    h.recv.lost_in_flight.fetch_add(
        h.head.index.load(std::memory_order_relaxed) - h.recv.copying_index,
        std::memory_order_relaxed);
  }
  h.recv.progress = kIdle;
  // The dead consumer may have freed a slot without waking a producer (see
  // RepairSendSide).
  SlotSemaphore(&h.head).Interrupt();
}

}  // namespace internal
}  // namespace ringbuf
