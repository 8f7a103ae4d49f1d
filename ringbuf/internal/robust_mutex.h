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

#include <cstddef>
#include <cstdint>

#include "absl/functional/function_ref.h"
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

  // Unlock() for a mutex this thread has held while others could write its
  // memory (a lease, held for as long as a handle is used). glibc keeps the
  // robust mutexes a thread holds in a list linked through two words inside
  // each mutex, and unlinks one by writing through its words: rewritten by
  // a peer, they would make this thread write where the peer chose. So
  // first the lock word must still name this thread, and the list, walked
  // forward from the thread's head, must pass only through mutexes `holds`
  // owns up to (at most `held` of them, this one among them) and come back;
  // then this mutex's backward link is set from the walk and it is
  // unlocked. Otherwise it stays locked and linked and false is returned:
  // the caller must keep its memory mapped while the thread lives (its
  // neighbours in the list write into it). A thread that also holds robust
  // mutexes `holds` does not know keeps its leases so too. (A peer that
  // rewrites the words between the walk and glibc's unlink still wins.)
  bool UnlockIfLinked(size_t held,
                      absl::FunctionRef<bool(const RobustMutex*)> holds);

 private:
  // This mutex's node in its holder's robust list.
  uintptr_t Node() const;

  pthread_mutex_t mutex_;
};

}  // namespace internal
}  // namespace ringbuf

#endif  // RINGBUF_INTERNAL_ROBUST_MUTEX_H_
