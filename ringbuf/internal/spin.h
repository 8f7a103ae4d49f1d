// Bounded spinning before sleeping. A peer that is actively running usually
// finishes (releases the lock, publishes a message) within a few hundred
// nanoseconds; sleeping instead costs a futex round trip through the kernel
// on both sides. The budget is small so an idle waiter soon sleeps and burns
// no CPU.
#ifndef RINGBUF_INTERNAL_SPIN_H_
#define RINGBUF_INTERNAL_SPIN_H_

namespace ringbuf {
namespace internal {

inline constexpr int kLockSpins = 256;
inline constexpr int kWaitSpins = 512;

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace internal
}  // namespace ringbuf

#endif  // RINGBUF_INTERNAL_SPIN_H_
