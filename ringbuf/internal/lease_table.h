// The lease table: how a waiter learns that the holder of a side lock is
// gone.
//
// kLeases robust mutexes at the end of the mapping, one cache line each. A
// thread takes a free one the first time it locks a side of the queue
// through a handle, and holds it while it uses that handle
// (thread_leases.h); a side lock (leased_lock.h) names its holder by the
// holder's lease id, index + 1. The kernel marks a lease owner-dead when its
// thread dies, and that is all recovery needs: whoever takes a lease that
// is owner-dead or free — a waiter probing the holder of a busy lock, or a
// thread looking for a lease of its own — releases any side lock the lease
// still names, repairing what it guards first (recovery.h, ProbeHolder and
// ReleaseLocksOf).
//
// The robust-list bookkeeping glibc does on every lock and unlock of a
// robust mutex is thus paid once per thread and handle, not per message.
#ifndef RINGBUF_INTERNAL_LEASE_TABLE_H_
#define RINGBUF_INTERNAL_LEASE_TABLE_H_

#include <atomic>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "ringbuf/internal/robust_mutex.h"

namespace ringbuf {
namespace internal {

// The most threads that can use one queue at a time (each handle a thread
// uses counts once). 16 KiB of mapping.
inline constexpr uint32_t kLeases = 256;

// The side locks, for the marks below.
enum LockSide : int { kSendLock = 0, kReceiveLock = 1 };

struct alignas(64) Lease {
  RobustMutex mutex;
  // Per side lock: nonzero while this lease's thread is inside it through
  // its bias (leased_lock.h). Written by that thread alone, so that a
  // thread stepping back from a bias it lost can never clear or fake
  // another's mark; cleared by the repair of its death. In the lease's own
  // line: the hot path writes nothing another CPU reads per message.
  std::atomic<uint32_t> inside[2];
};

struct LeaseTable {
  // Creator only, on zeroed memory, before the queue is published.
  absl::Status Init(absl::string_view queue);

  // The lease of id 1..kLeases (the caller checks the range).
  RobustMutex& of(uint32_t id) { return lease[id - 1].mutex; }
  std::atomic<uint32_t>& inside(uint32_t id, LockSide side) {
    return lease[id - 1].inside[side];
  }

  Lease lease[kLeases];
};

inline constexpr uint64_t kLeaseTableBytes = sizeof(LeaseTable);
static_assert(kLeaseTableBytes == 64 * kLeases, "one cache line per lease");

}  // namespace internal
}  // namespace ringbuf

#endif  // RINGBUF_INTERNAL_LEASE_TABLE_H_
