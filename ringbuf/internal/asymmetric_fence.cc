#include "ringbuf/internal/asymmetric_fence.h"

#include <linux/membarrier.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace ringbuf {
namespace internal {
namespace {

long Membarrier(int command) { return syscall(SYS_membarrier, command, 0, 0); }

// What MEMBARRIER_CMD_QUERY says the kernel offers: 0 if it has no
// membarrier at all (ENOSYS), -1 if the call is refused to this process
// (a seccomp filter), which tells nothing about other processes.
long Offered() {
  static const long offered = [] {
    const long mask = Membarrier(MEMBARRIER_CMD_QUERY);
    if (mask >= 0) return mask;
    return errno == ENOSYS ? 0L : -1L;
  }();
  return offered;
}

bool Register() {
  return Offered() > 0 &&
         (Offered() & MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) != 0 &&
         Membarrier(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) == 0;
}

// A child of fork() has a new address space, which the kernel may not
// carry the registration over to: register it again, or post heavily.
void RegisterChild() {
  if (g_light_posts.load(std::memory_order_relaxed)) {
    g_light_posts.store(Register(), std::memory_order_relaxed);
  }
}

}  // namespace

void RegisterLightPosts() {
  static const bool registered = [] {
    pthread_atfork(nullptr, nullptr, RegisterChild);
    const bool ok = Register();
    // seq_cst: the flag is set only once the kernel has registered us.
    g_light_posts.store(ok, std::memory_order_seq_cst);
    return ok;
  }();
  static_cast<void>(registered);
}

bool LightPostsEnabled() {
  return g_light_posts.load(std::memory_order_relaxed);
}

bool FenceAgainstLightPosts() {
  const long offered = Offered();
  // A kernel without the expedited command registers nobody: every post
  // on this machine is heavy, and there is nothing to fence against.
  if (offered >= 0 && (offered & MEMBARRIER_CMD_GLOBAL_EXPEDITED) == 0) {
    return true;
  }
  return offered > 0 && Membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) == 0;
}

}  // namespace internal
}  // namespace ringbuf
