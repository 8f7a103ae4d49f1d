// Asymmetric fences: the poster's half of the no-lost-wake-up handshake
// (counting_semaphore.h) made free, the sleeper's half made heavy.
//
// The handshake is Dekker's: a poster stores the index, then loads the
// sleepers word; a sleeper sets its bit in the word, then loads the index.
// Each side needs a full fence between its store and its load. The
// poster's (a seq_cst store: an xchg on x86) was one of the six atomic
// read-modify-writes a message cost, paid on every message, while sleeps
// are rare. membarrier(2) moves that cost to the sleeper: its
// MEMBARRIER_CMD_GLOBAL_EXPEDITED makes every CPU running a thread of a
// process registered for it execute a full fence before the call returns
// (a thread not running passed one when it was switched out), so a poster
// in a registered process needs only a compiler barrier. This is the
// example of the membarrier(2) manual page, across processes.
//
// Each half degrades safely on its own:
//   * a process that cannot register (an old kernel, a seccomp filter)
//     posts with seq_cst stores, needing nothing from sleepers;
//   * a kernel without the expedited command registers nobody, so its
//     sleepers have nothing to fence against;
//   * a sleeper refused the command (a seccomp filter on it alone) cannot
//     rule out a registered poster's store still sitting in its CPU's
//     store buffer, so it sleeps in slices of kUnfencedSleep: a wake-up it
//     missed costs at most that long.
#ifndef RINGBUF_INTERNAL_ASYMMETRIC_FENCE_H_
#define RINGBUF_INTERNAL_ASYMMETRIC_FENCE_H_

#include <atomic>
#include <cstdint>

#include "absl/time/time.h"

namespace ringbuf {
namespace internal {

inline constexpr absl::Duration kUnfencedSleep = absl::Milliseconds(10);

// Set once this process registered for MEMBARRIER_CMD_GLOBAL_EXPEDITED
// (RegisterLightPosts); cleared in a child of fork() that could not
// register again. Hidden: see spin.h's thread_locals.
__attribute__((visibility("hidden"))) inline std::atomic<bool>
    g_light_posts{false};

// Registers this process, once, so that its posts may be light. Called
// when a handle is made; until it returns, posts are heavy.
void RegisterLightPosts();

// Whether this process's posts are light (g_light_posts, for tests: the
// variable is hidden, so each shared object has its own).
bool LightPostsEnabled();

// The poster's half: stores `value` into a word (an index, a lock word)
// whose sleepers word the caller loads next (sleepers.h).
template <typename T>
inline void StoreBeforeWake(std::atomic<T>& word, T value) {
  if (g_light_posts.load(std::memory_order_relaxed)) {
    // Release publishes what the store stands for; the sleeper's
    // membarrier supplies the store-load fence. The compiler must not sink
    // the store below the caller's load of the sleepers word.
    word.store(value, std::memory_order_release);
    std::atomic_signal_fence(std::memory_order_seq_cst);
  } else {
    word.store(value, std::memory_order_seq_cst);
  }
}

// The sleeper's half, between setting its bit and loading the index.
// False if the fence could not be issued: the caller then sleeps no longer
// than kUnfencedSleep at a time.
bool FenceAgainstLightPosts();

}  // namespace internal
}  // namespace ringbuf

#endif  // RINGBUF_INTERNAL_ASYMMETRIC_FENCE_H_
