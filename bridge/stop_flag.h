// A one-way "stop" flag a loop can sleep on. std::mutex and
// std::condition_variable (pthread underneath, which ThreadSanitizer sees)
// rather than absl's, whose Debian build is not instrumented.
#ifndef RINGBUF_BRIDGE_STOP_FLAG_H_
#define RINGBUF_BRIDGE_STOP_FLAG_H_

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "absl/time/time.h"

namespace ringbuf {
namespace bridge {

class StopFlag {
 public:
  void Notify() {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
    cv_.notify_all();
  }
  bool HasBeenNotified() const {
    std::lock_guard<std::mutex> lock(mu_);
    return stopped_;
  }
  // Waits `d` unless notified first; true if it was.
  bool WaitFor(absl::Duration d) const {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, absl::ToChronoNanoseconds(d),
                        [this] { return stopped_; });
  }

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool stopped_ = false;
};

}  // namespace bridge
}  // namespace ringbuf

#endif  // RINGBUF_BRIDGE_STOP_FLAG_H_
