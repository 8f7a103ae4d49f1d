// The process-shared robust mutex that lives inside the mapping.
//
// If a process dies holding it, the kernel marks it owner-dead and the next
// Lock() reports kOwnerDied: the caller now holds the lock and must repair
// what it guards, then call MarkConsistent() before Unlock(). Unlocking
// without MarkConsistent() would leave the mutex unusable for everyone
// (ENOTRECOVERABLE); Lock() reports that as DataLoss.
#ifndef RINGBUF_INTERNAL_ROBUST_MUTEX_H_
#define RINGBUF_INTERNAL_ROBUST_MUTEX_H_

#include <pthread.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ringbuf/internal/deadline.h"

namespace ringbuf {
namespace internal {

class RobustMutex {
 public:
  enum class Acquired { kClean, kOwnerDied };

  // Creator only, on zeroed memory, before the queue is published.
  absl::Status Init(absl::string_view queue);

  // Acquires the mutex, first spinning briefly (a holder only copies one
  // message), then sleeping until `deadline`. DeadlineExceeded if it passes;
  // DataLoss if the mutex is unrecoverable or its words are garbage (its kind
  // word is checked before glibc sees it: some kinds crash the caller).
  absl::StatusOr<Acquired> Lock(absl::string_view queue,
                                const Deadline& deadline);

  // After kOwnerDied, once the guarded state is repaired.
  void MarkConsistent();

  void Unlock();

 private:
  pthread_mutex_t mutex_;
};

}  // namespace internal
}  // namespace ringbuf

#endif  // RINGBUF_INTERNAL_ROBUST_MUTEX_H_
