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
// After spinning, a waiter yields the CPU a few times before sleeping: with
// more runnable processes than cores (4 producers on 2 vCPUs), the peer it
// waits for is often runnable on this very CPU, and a yield lets it run at
// the cost of one cheap system call instead of a futex sleep and wake-up.
inline constexpr int kWaitYields = 4;

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
