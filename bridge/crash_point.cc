#include "bridge/crash_point.h"

#ifdef RINGBUF_BRIDGE_CRASH_POINTS
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace ringbuf {
namespace bridge {

void HitCrashPoint(const char* site) {
  static const char* const target = std::getenv("RINGBUF_BRIDGE_CRASH_AT");
  static std::atomic<long> skip{[] {
    const char* s = std::getenv("RINGBUF_BRIDGE_CRASH_SKIP");
    return s != nullptr ? std::atol(s) : 0L;
  }()};
  if (target == nullptr || std::strcmp(target, site) != 0) return;
  if (skip.fetch_sub(1) > 0) return;
  kill(getpid(), SIGKILL);
  for (;;) pause();
}

}  // namespace bridge
}  // namespace ringbuf
#endif  // RINGBUF_BRIDGE_CRASH_POINTS
