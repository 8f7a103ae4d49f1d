// Bounded, adaptive spinning before sleeping.
//
// A peer that is running on another CPU usually finishes (releases the
// lock, publishes a message) within a few hundred nanoseconds; sleeping
// instead costs a futex round trip through the kernel (and the hypervisor)
// on both sides. But spinning pays only while the peer can run at the same
// time, so the policy is:
//
//   * Spin only when the party that will release us may be running on
//     another CPU. The side that publishes an index (IndexLine::poster_cpu)
//     and the holder of a side lock (SideLock::holder_cpu) record the CPU
//     they ran on; a waiter that finds it equal to its own CPU knows the
//     peer cannot run while it spins, and does not spin (it yields, below).
//     The record is a hint: stale, missing (0) or scribbled on, it only
//     makes a waiter spin or yield when the other would have been better;
//     the protocol's proofs (sleepers.h, leased_lock.h) never
//     read it.
//   * Spin for a budget that adapts to recent success (SpinBudget): doubled
//     when a spin ended with the peer's progress, halved when it ran out
//     and the waiter went on to sleep, so an idle waiter soon spins a
//     fraction of a microsecond, and a busy hand-off across CPUs keeps the
//     whole budget.
//   * When the peer last ran on this CPU, yield to it a few times instead
//     (kWaitYields): it is often runnable right here, and a yield lets it
//     run at the cost of one cheap system call and leaves it nothing to
//     wake. Not when it runs elsewhere: yielding cannot help it there, and
//     with many waiters (64 producers on 2 CPUs) yield storms starved the
//     consumer they were all waiting for.
//
// Finding the CPU is sched_getcpu(): glibc 2.35+ reads it from the rseq area
// it registers for every thread (or the vDSO without rseq): about 2 ns and
// no system call (measured on glibc 2.36, strace shows none).
#ifndef RINGBUF_INTERNAL_SPIN_H_
#define RINGBUF_INTERNAL_SPIN_H_

#include <sched.h>

#include <algorithm>
#include <cstdint>

namespace ringbuf {
namespace internal {

inline constexpr int kLockSpins = 256;
inline constexpr int kWaitSpins = 512;
// A waiter whose peer last ran on its CPU yields this many times before it
// sleeps: with more runnable processes than cores (4 producers and a
// consumer on one CPU) the peer is usually runnable right here, and a yield
// lets it run at the cost of one cheap system call instead of a futex sleep
// and wake-up. Fewer measured worse: sleeping at once cut 4 -> 1 on one CPU
// to a third, a single yield to below 0.1 M msg/s (every message became a
// wake-up of all the sleeping producers), and a yield budget that adapts
// like SpinBudget (down to one) cut unpinned 16 -> 1 from 5.8 to 0.4 M.
inline constexpr int kWaitYields = 4;

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// The CPU this thread is running on, plus one; 0 if unknown. The form the
// poster_cpu and holder_cpu words hold (0: never recorded).
inline uint32_t CurrentCpuTag() {
  const int cpu = sched_getcpu();
  return cpu < 0 ? 0 : static_cast<uint32_t>(cpu) + 1;
}

// Whether a peer last seen on CPU tag `theirs` may run while a waiter on
// `mine` spins: not if both are the same known CPU.
inline bool MayRunBeside(uint32_t theirs, uint32_t mine) {
  return theirs == 0 || mine == 0 || theirs != mine;
}

// How many CpuRelax() rounds a waiter spins before it gives the CPU up,
// learnt from its recent waits. Per thread (see the thread_local instances
// below): the waits of one thread on one queue look alike, and a thread
// switching between queues only relearns within a few waits.
class SpinBudget {
 public:
  constexpr SpinBudget(int initial, int min, int max)
      : spins_(initial), min_(min), max_(max) {}

  int spins() const { return spins_; }
  // The spin ended with what it waited for: spin longer next time.
  void Paid() { spins_ = std::min(max_, spins_ * 2); }
  // The budget ran out and the waiter yielded or slept: spin less.
  void Wasted() { spins_ = std::max(min_, spins_ / 2); }

 private:
  int spins_;
  int min_;
  int max_;
};

// The floor keeps a few hundred nanoseconds of looking before a sleep, so
// a waiter whose budget collapsed still notices when spinning pays again.
// Hidden: with default visibility an inline variable is a GNU "unique"
// symbol, which libringbuf_c.lds cannot make local, so libringbuf_c.so would
// export it beside the C API (examples/consumers/run_all.sh checks).
__attribute__((visibility("hidden"))) inline thread_local SpinBudget
    t_wait_spin(kWaitSpins, 16, 2 * kWaitSpins);
__attribute__((visibility("hidden"))) inline thread_local SpinBudget
    t_lock_spin(kLockSpins, 16, 2 * kLockSpins);

}  // namespace internal
}  // namespace ringbuf

#endif  // RINGBUF_INTERNAL_SPIN_H_
