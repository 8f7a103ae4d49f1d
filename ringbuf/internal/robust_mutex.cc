#include "ringbuf/internal/robust_mutex.h"

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "ringbuf/internal/errno_status.h"

namespace ringbuf {
namespace internal {

namespace {

// glibc dispatches every mutex call on the mutex's __kind word, and some
// kinds make it abort, fault or execute TSX instructions the CPU may lack.
// A peer can scribble on the word, so it is checked before each call against
// the value Init writes, learned once from a scratch mutex.
__attribute__((noinline)) int LearnExpectedKind() {
  pthread_mutex_t scratch;
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_init(&scratch, &attr);
  pthread_mutexattr_destroy(&attr);
  int k = scratch.__data.__kind;
  pthread_mutex_destroy(&scratch);
  return k;
}

// Called on every lock and unlock: the scratch mutex lives out of line, so
// this is a guard check and a load.
inline int ExpectedKind() {
  static const int kind = LearnExpectedKind();
  return kind;
}

}  // namespace

absl::Status RobustMutex::Init(absl::string_view queue) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  int rc = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  if (rc == 0) rc = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  if (rc == 0) rc = pthread_mutex_init(&mutex_, &attr);
  pthread_mutexattr_destroy(&attr);
  if (rc != 0) return ErrnoStatus(rc, "pthread_mutex_init", queue);
  return absl::OkStatus();
}

absl::StatusOr<RobustMutex::Acquired> RobustMutex::TryLock(
    absl::string_view queue) {
  const int kind = __atomic_load_n(&mutex_.__data.__kind, __ATOMIC_RELAXED);
  if (kind != ExpectedKind()) {
    return absl::DataLossError(QueueMessage(
        queue, absl::StrCat("queue lease is corrupt: its kind word is ", kind,
                            ", expected ", ExpectedKind())));
  }
  switch (const int rc = pthread_mutex_trylock(&mutex_)) {
    case 0:
      return Acquired::kClean;
    case EOWNERDEAD:
      return Acquired::kOwnerDied;
    case EBUSY:
      return Acquired::kBusy;
    case ENOTRECOVERABLE:
      return absl::DataLossError(QueueMessage(
          queue, "queue lease is unrecoverable (a repair was abandoned)"));
    default:
      // EINVAL, EAGAIN...: the lock word is not a lock we made.
      return absl::DataLossError(QueueMessage(
          queue, absl::StrCat("queue lease is corrupt: pthread_mutex_trylock: ",
                              std::strerror(rc))));
  }
}

void RobustMutex::MarkConsistent() { pthread_mutex_consistent(&mutex_); }

void RobustMutex::Unlock() {
  // Held by us, so only a hostile peer can have changed the kind since Lock;
  // put back the one we locked with rather than let glibc act on garbage.
  __atomic_store_n(&mutex_.__data.__kind, ExpectedKind(), __ATOMIC_RELAXED);
  pthread_mutex_unlock(&mutex_);
}

}  // namespace internal
}  // namespace ringbuf
