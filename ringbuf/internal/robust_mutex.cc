#include "ringbuf/internal/robust_mutex.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
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

// glibc's robust list (x86-64, where each mutex links both ways): a node is
// the address of a word holding the next node's address (bit 0 flags a
// priority-inheritance mutex), preceded by a word holding the previous
// node's. The head is the thread's robust_list_head, registered with the
// kernel, whose first word is the forward link and which glibc precedes
// with the backward one too (struct pthread's robust_prev).
static_assert(offsetof(pthread_mutex_t, __data.__list.__next) ==
                  offsetof(pthread_mutex_t, __data.__list.__prev) +
                      sizeof(void*),
              "each robust-list node's backward link precedes its forward one");

uintptr_t Forward(uintptr_t node) {
  return __atomic_load_n(reinterpret_cast<const uintptr_t*>(node),
                         __ATOMIC_RELAXED) &
         ~uintptr_t{1};
}

void SetBackward(uintptr_t node, uintptr_t previous) {
  __atomic_store_n(reinterpret_cast<uintptr_t*>(node - sizeof(uintptr_t)),
                   previous, __ATOMIC_RELAXED);
}

// This thread's robust list head; 0 if the kernel does not say.
uintptr_t RobustListHead() {
  void* head = nullptr;
  size_t length = 0;
  if (syscall(SYS_get_robust_list, 0, &head, &length) != 0) return 0;
  return reinterpret_cast<uintptr_t>(head);
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

uintptr_t RobustMutex::Node() const {
  return reinterpret_cast<uintptr_t>(&mutex_.__data.__list.__next);
}

bool RobustMutex::UnlockIfLinked(
    size_t held, absl::FunctionRef<bool(const RobustMutex*)> holds) {
  // glibc refuses (EPERM) to unlock a mutex whose lock word names another
  // thread, and leaves it linked.
  if ((__atomic_load_n(&mutex_.__data.__lock, __ATOMIC_RELAXED) &
       FUTEX_TID_MASK) != static_cast<int>(gettid())) {
    return false;
  }
  const uintptr_t head = RobustListHead();
  if (head == 0) return false;
  constexpr uintptr_t kNodeOffset =
      offsetof(pthread_mutex_t, __data.__list.__next);
  // Every node read below is the head or a mutex `holds` owns, so reading
  // it cannot fault, whatever its words say.
  uintptr_t before = 0;  // the node before this one
  uintptr_t node = head;
  for (size_t steps = 0;; ++steps) {
    const uintptr_t next = Forward(node);
    if (next == head) break;
    if (steps == held ||
        !holds(reinterpret_cast<const RobustMutex*>(next - kNodeOffset))) {
      return false;
    }
    if (next == Node()) before = node;
    node = next;
  }
  if (before == 0) return false;
  // glibc unlinks through both words; the forward one was walked above.
  SetBackward(Node(), before);
  Unlock();
  return true;
}

void RobustMutex::Unlock() {
  // Held by us, so only a hostile peer can have changed the kind since Lock;
  // put back the one we locked with rather than let glibc act on garbage.
  __atomic_store_n(&mutex_.__data.__kind, ExpectedKind(), __ATOMIC_RELAXED);
  pthread_mutex_unlock(&mutex_);
}

}  // namespace internal
}  // namespace ringbuf
