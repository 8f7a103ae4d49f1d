// The processes of one benchmark run.
//
// A Crew forks the run's children. Each child attaches to its channel, then
// calls Child::AwaitStart(), which holds it at a start gate until every child
// is attached, so process start-up and attaching are never timed. The parent
// opens the gate (Crew::Start) and waits for the children (Crew::Wait), under
// a deadline after which it kills them: every run is bounded.
//
// What the children measure travels back through memory shared with the
// parent (SharedArray): each child's CPU time (user + sys, getrusage of
// itself) and its monotonic clock, both from the gate to Child::Finish(), so
// that neither start-up nor tear-down (unmapping a 64 MiB queue, say) counts.
// A run's wall time is from the gate to the last child's Finish().
//
// Children leave through _exit(): no destructor or atexit handler of the
// parent's (the benchmark library's buffered output, a Channel that would
// remove the name) runs in them.
#ifndef BENCH_CREW_H_
#define BENCH_CREW_H_

#include <sys/mman.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <new>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace ringbuf_bench {

// CLOCK_MONOTONIC in nanoseconds.
int64_t NowNs();

// `n` value-initialized Ts in an anonymous MAP_SHARED mapping, made before
// fork() so that parent and children see the same memory. T must be trivially
// destructible; lock-free atomics work across the processes.
template <typename T>
class SharedArray {
 public:
  explicit SharedArray(size_t n) : size_(n) {
    void* p = mmap(nullptr, Bytes(), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    data_ = static_cast<T*>(p);
    for (size_t i = 0; i < n; ++i) new (data_ + i) T();
  }
  ~SharedArray() { munmap(data_, Bytes()); }
  SharedArray(const SharedArray&) = delete;
  SharedArray& operator=(const SharedArray&) = delete;

  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }
  size_t size() const { return size_; }

 private:
  size_t Bytes() const { return (size_ > 0 ? size_ : 1) * sizeof(T); }
  size_t size_;
  T* data_;
};

// What one child reports to the parent.
struct ChildReport {
  int64_t start_ns = 0;  // when the gate opened for it (NowNs)
  int64_t end_ns = 0;    // when it called Finish()
  int64_t cpu_ns = 0;    // its user + sys CPU between the two
  char error[512] = {};  // why it failed, if it did
};

// A child's view of the crew, handed to its body.
class Child {
 public:
  // Reports ready, blocks until the parent opens the gate, then starts this
  // child's clocks. Call once, after attaching.
  absl::Status AwaitStart();
  // Stops the clocks: call when the measured work is done.
  void Finish();

 private:
  friend class Crew;
  Child(int ready_fd, int gate_fd, ChildReport* report)
      : ready_fd_(ready_fd), gate_fd_(gate_fd), report_(report) {}
  // Runs `body` and returns the exit code for _exit().
  int Run(absl::FunctionRef<absl::Status(Child&)> body);
  void SignalReady();

  int ready_fd_;
  int gate_fd_;
  ChildReport* report_;
  bool ready_sent_ = false;
  bool finished_ = false;
  int64_t cpu_start_ns_ = 0;
};

class Crew {
 public:
  // Room for up to `max_children` children.
  explicit Crew(int max_children);
  // Kills and reaps any child still running.
  ~Crew();
  Crew(const Crew&) = delete;
  Crew& operator=(const Crew&) = delete;

  // Forks a child that runs `body` and exits 0 if it returns OK, else 1 with
  // the status in its report. The body may use anything the parent had
  // before the fork (a Channel, a SharedArray). A non-empty `cpus` pins the
  // child to those CPUs (sched_setaffinity, before the body runs); empty
  // leaves it where the parent may run.
  absl::Status Spawn(absl::FunctionRef<absl::Status(Child&)> body,
                     const std::vector<int>& cpus = {});

  // Waits (at most `timeout`) until every child is ready, then opens the
  // gate. Returns the gate's time (NowNs).
  absl::StatusOr<int64_t> Start(absl::Duration timeout);

  // Waits for every child to exit. As soon as one fails, kills the others
  // (they might wait forever for it) and returns its error; after `timeout`,
  // kills them all and returns DeadlineExceeded.
  absl::Status Wait(absl::Duration timeout);

  int size() const { return static_cast<int>(members_.size()); }
  pid_t pid(int i) const { return members_[i].pid; }
  const ChildReport& report(int i) const { return reports_[i]; }
  // Latest Finish() of all children, and their summed CPU.
  int64_t LastEndNs() const;
  int64_t TotalCpuNs() const;

 private:
  struct Member {
    pid_t pid;
    int pidfd;
    bool running;
  };
  void KillRunning();
  std::string Describe(int i, int wait_status) const;

  SharedArray<ChildReport> reports_;
  std::vector<Member> members_;
  int ready_[2] = {-1, -1};  // children write one byte each when attached
  int gate_[2] = {-1, -1};   // the parent closes [1]: EOF opens the gate
  absl::Status setup_;
};

}  // namespace ringbuf_bench

#endif  // BENCH_CREW_H_
