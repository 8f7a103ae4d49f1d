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

#include <atomic>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "ringbuf/internal/deadline.h"

namespace ringbuf {
namespace internal {

// How long one sleep waiting for the lock lasts before the waiter checks
// whether it was cancelled.
inline constexpr absl::Duration kLockSlice = absl::Milliseconds(50);

class RobustMutex {
 public:
  enum class Acquired { kClean, kOwnerDied };

  // Creator only, on zeroed memory, before the queue is published.
  absl::Status Init(absl::string_view queue);

  // Acquires the mutex, first spinning briefly (a holder only copies one
  // message) if the holder may be running on another CPU, for the thread's
  // spin budget, or yielding to it a few times if it took the lock on this
  // CPU (spin.h), then sleeping until `deadline`, in slices of
  // kLockSlice after each of which `cancelled` is checked (Cancelled if
  // set). `holder_cpu` is the word beside the mutex where each holder
  // records its CPU (a hint, spin.h): read while the lock is busy, written
  // once it is ours.
  // DeadlineExceeded if the deadline passes;
  // DataLoss if the mutex is unrecoverable or its words are garbage (its kind
  // word is checked before glibc sees it: some kinds crash the caller).
  absl::StatusOr<Acquired> Lock(absl::string_view queue,
                                const Deadline& deadline,
                                const std::atomic<bool>& cancelled,
                                std::atomic<uint32_t>& holder_cpu);

  // After kOwnerDied, once the guarded state is repaired.
  void MarkConsistent();

  void Unlock();

 private:
  pthread_mutex_t mutex_;
};

}  // namespace internal
}  // namespace ringbuf

#endif  // RINGBUF_INTERNAL_ROBUST_MUTEX_H_
