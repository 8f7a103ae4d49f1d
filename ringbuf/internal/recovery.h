// The repair after a thread died holding a side lock: one place, one story
// (the protocol is told in layout.h, its per-priority part in
// priority_levels.h, how a holder's death is learnt in lease_table.h).
#ifndef RINGBUF_INTERNAL_RECOVERY_H_
#define RINGBUF_INTERNAL_RECOVERY_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ringbuf/internal/layout.h"
#include "ringbuf/internal/lease_table.h"
#include "ringbuf/internal/priority_levels.h"

namespace ringbuf {
namespace internal {

// Whether the thread of lease `id` (named by a busy side lock) is gone:
// false if the lease is held (its thread lives, though perhaps preempted);
// otherwise takes the lease, releases every side lock it names
// (ReleaseLocksOf), frees it and returns true. DataLoss if the lease is
// corrupt. A prober killed midway leaves the lease owner-dead again, and
// the next prober repeats what it did not finish.
absl::StatusOr<bool> ProbeHolder(Header& header, const Levels& levels,
                                 LeaseTable& leases, uint32_t id,
                                 absl::string_view queue);

// With lease `id` held by the caller, taken free or owner-dead (its thread
// is gone): repairs and unlocks each side lock that still names it.
void ReleaseLocksOf(Header& header, const Levels& levels, LeaseTable& leases,
                    uint32_t id);

// A producer died holding the send lock.
void RepairSendSide(Header& header, const Levels& levels);

// A consumer died holding the receive lock.
void RepairReceiveSide(Header& header, const Levels& levels);

}  // namespace internal
}  // namespace ringbuf

#endif  // RINGBUF_INTERNAL_RECOVERY_H_
