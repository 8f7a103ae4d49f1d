// The repair after a process died holding a side lock: one place, one story
// (the protocol is told in layout.h, its per-priority part in
// priority_levels.h). Called by the new holder of the lock after
// RobustMutex::Lock() reported kOwnerDied; the caller marks the lock
// consistent afterwards.
#ifndef RINGBUF_INTERNAL_RECOVERY_H_
#define RINGBUF_INTERNAL_RECOVERY_H_

#include "ringbuf/internal/layout.h"
#include "ringbuf/internal/priority_levels.h"

namespace ringbuf {
namespace internal {

// A producer died holding the send lock.
void RepairSendSide(Header& header, const Levels& levels);

// A consumer died holding the receive lock.
void RepairReceiveSide(Header& header, const Levels& levels);

}  // namespace internal
}  // namespace ringbuf

#endif  // RINGBUF_INTERNAL_RECOVERY_H_
