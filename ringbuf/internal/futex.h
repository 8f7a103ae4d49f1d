// The two futex operations ringbuf needs, on words inside a MAP_SHARED
// mapping (so never FUTEX_PRIVATE_FLAG: waiters and wakers are in different
// processes).
#ifndef RINGBUF_INTERNAL_FUTEX_H_
#define RINGBUF_INTERNAL_FUTEX_H_

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdint>

namespace ringbuf {
namespace internal {

static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t),
              "futex words are std::atomic<uint32_t> handed to the kernel");

// Sleeps while *word == expected, until woken or until the absolute
// CLOCK_MONOTONIC time `until` (nullptr: no limit). Returns 0 when woken, or
// the errno: EAGAIN (the word had already changed), ETIMEDOUT, EINTR.
inline int FutexWaitUntil(uint32_t* word, uint32_t expected,
                          const timespec* until) {
  long rc = syscall(SYS_futex, word, FUTEX_WAIT_BITSET, expected, until,
                    nullptr, FUTEX_BITSET_MATCH_ANY);
  return rc == 0 ? 0 : errno;
}

// Wakes up to `count` sleepers on `word`; returns how many were woken.
inline int FutexWake(uint32_t* word, int count) {
  long rc = syscall(SYS_futex, word, FUTEX_WAKE, count, nullptr, nullptr, 0);
  return rc < 0 ? 0 : static_cast<int>(rc);
}

inline constexpr int kWakeAll = INT_MAX;

}  // namespace internal
}  // namespace ringbuf

#endif  // RINGBUF_INTERNAL_FUTEX_H_
