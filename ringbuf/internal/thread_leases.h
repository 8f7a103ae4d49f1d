// Which lease (lease_table.h) this thread holds in each queue mapping it
// has locked a side of.
//
// A thread takes a lease the first time it locks a side through a handle,
// and keeps it, so that a lock costs no robust-mutex bookkeeping (see
// leased_lock.h). It gives it back:
//   * when the handle closes: at once if the handle closes on this thread
//     (DropLeaseOfThisThread), else the next time this thread looks for a
//     lease it does not hold yet;
//   * when the thread exits (a thread_local's destructor). A thread that
//     ends otherwise, or a process killed, leaves its leases to the kernel,
//     which marks them owner-dead; the next thread to take one releases the
//     side locks it still names.
// Until its lease is unlocked an entry keeps the mapping mapped
// (MappedRegion): glibc keeps a list of the robust mutexes a thread holds,
// walked on every robust unlock and by the kernel when the thread exits, so
// a held lease must never be unmapped.
// A child of fork() forgets the entries it inherited without unlocking
// them (the parent's thread holds those leases) and takes its own.
#ifndef RINGBUF_INTERNAL_THREAD_LEASES_H_
#define RINGBUF_INTERNAL_THREAD_LEASES_H_

#include <cstdint>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ringbuf/internal/lease_table.h"
#include "ringbuf/internal/shm_mapping.h"

namespace ringbuf {
namespace internal {

// The leases this thread used last, for the fast path: a thread that keeps
// sending (or receiving) through one handle, or alternates between two (a
// request queue and its reply queue), finds its lease with a few
// thread-local loads. Written only on the slow path (LeaseOfThisThread);
// an entry is cleared whenever its lease is given back. Hidden: see
// spin.h's thread_locals.
struct LastLease {
  const void* key;  // the mapping's address
  uint32_t id;
};
struct RecentLeases {
  LastLease latest;
  LastLease before;
};
__attribute__((visibility("hidden"))) inline thread_local RecentLeases
    t_recent_leases{{nullptr, 0}, {nullptr, 0}};

// This thread's lease in the queue mapped at `data`, if it is one of the
// two it used last; 0 otherwise (ask LeaseOfThisThread).
inline uint32_t LastLeaseOfThisThread(const void* data) {
  const RecentLeases& recent = t_recent_leases;
  if (recent.latest.key == data) return recent.latest.id;
  return recent.before.key == data ? recent.before.id : 0;
}

// The id (1..kLeases) of this thread's lease in the queue at `mapping`,
// whose lease table is `table`; taken now if this thread holds none there.
// A lease taken free or owner-dead may still name side locks: `adopt(id)`
// is called with the lease held, before it is used, to release them.
//   ResourceExhausted: every lease is held (more than kLeases threads use
//     the queue), or no memory.
//   DataLoss: a lease the scan met is corrupt and none was free.
absl::StatusOr<uint32_t> LeaseOfThisThread(
    const ShmMapping& mapping, LeaseTable& table, absl::string_view queue,
    absl::FunctionRef<void(uint32_t)> adopt);

// Gives back this thread's lease in `mapping`, if it holds one; the handle
// is closing.
void DropLeaseOfThisThread(const ShmMapping& mapping);

}  // namespace internal
}  // namespace ringbuf

#endif  // RINGBUF_INTERNAL_THREAD_LEASES_H_
