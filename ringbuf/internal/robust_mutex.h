// A process-shared robust mutex inside the mapping: a lease
// (lease_table.h), which a thread holds for as long as it uses the queue.
//
// If its thread dies holding it, the kernel marks it owner-dead and the next
// TryLock() reports kOwnerDied: the caller now holds it and must repair
// what it guards, then call MarkConsistent() before Unlock(). Unlocking
// without MarkConsistent() would leave the mutex unusable for everyone
// (ENOTRECOVERABLE); TryLock() reports that as DataLoss.
#ifndef RINGBUF_INTERNAL_ROBUST_MUTEX_H_
#define RINGBUF_INTERNAL_ROBUST_MUTEX_H_

#include <pthread.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ringbuf {
namespace internal {

class RobustMutex {
 public:
  enum class Acquired { kClean, kOwnerDied, kBusy };

  // Creator only, on zeroed memory, before the queue is published.
  absl::Status Init(absl::string_view queue);

  // Takes the mutex if it is free, never waiting. kOwnerDied: its last owner
  // died holding it; the caller holds it now and must repair what it guards
  // before MarkConsistent() and Unlock(). kBusy: someone holds it (this very
  // thread included). DataLoss if the mutex is unrecoverable or its words
  // are garbage (its kind word is checked before glibc sees it: some kinds
  // crash the caller).
  absl::StatusOr<Acquired> TryLock(absl::string_view queue);

  // After kOwnerDied, once the guarded state is repaired.
  void MarkConsistent();

  void Unlock();

 private:
  pthread_mutex_t mutex_;
};

}  // namespace internal
}  // namespace ringbuf

#endif  // RINGBUF_INTERNAL_ROBUST_MUTEX_H_
