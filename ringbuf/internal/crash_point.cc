#include "ringbuf/internal/crash_point.h"

#ifdef RINGBUF_CRASH_POINTS
#include <atomic>

namespace ringbuf {
namespace internal {
namespace {
std::atomic<CrashHook> g_hook{nullptr};
}  // namespace

void SetCrashHook(CrashHook hook) { g_hook.store(hook); }

void HitCrashPoint(CrashSite site) {
  if (CrashHook hook = g_hook.load()) hook(site);
}

}  // namespace internal
}  // namespace ringbuf
#endif  // RINGBUF_CRASH_POINTS
