// Helpers shared by the ringbuf tests: unique queue names that are removed
// before and after each test, and child processes with bounded waits.
#ifndef RINGBUF_TESTS_TEST_UTIL_H_
#define RINGBUF_TESTS_TEST_UTIL_H_

#include <pthread.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "ringbuf/internal/layout.h"
#include "ringbuf/internal/priority_levels.h"
#include "ringbuf/options.h"
#include "ringbuf/queue.h"

namespace ringbuf {
namespace testing {

// Maps an existing queue's whole object read-write, so a test can read or
// scribble on its header and slots as a peer could.
class RawView {
 public:
  explicit RawView(const std::string& name);
  ~RawView();
  RawView(const RawView&) = delete;
  RawView& operator=(const RawView&) = delete;

  internal::Header* header() { return static_cast<internal::Header*>(data_); }
  char* bytes() { return static_cast<char*>(data_); }
  // The level indexes of a queue of several priorities.
  internal::Levels levels() {
    return internal::Levels::At(data_, header()->priorities);
  }
  // The futex word of a side lock (internal/leased_lock.h): 0 when free,
  // else its holder's lease id.
  static std::atomic<uint32_t>& lock_word(internal::SideLock& side) {
    return reinterpret_cast<std::atomic<uint32_t>&>(side.lock);
  }
  // The robust mutex of lease `id` (1..kLeases), glibc's words and all: the
  // lease table is the object's last kLeaseTableBytes.
  pthread_mutex_t& lease(uint32_t id) {
    return reinterpret_cast<pthread_mutex_t&>(leases().of(id));
  }
  // The whole lease table (internal/lease_table.h).
  internal::LeaseTable& leases() {
    return *reinterpret_cast<internal::LeaseTable*>(
        bytes() + size_ - internal::kLeaseTableBytes);
  }

 private:
  void* data_;
  size_t size_;
};

// Creates the queue `name` with this geometry for a test. A failure is
// recorded (a non-fatal gtest failure naming the status) before the handle is
// returned, so the test stops at its first use of it.
Queue CreateQueue(const std::string& name, uint64_t capacity,
                  uint32_t slot_size, uint32_t priorities = 1);

// Sends and receives one message at a time through `q`, on this thread, one
// more than internal::kBiasAfter times, so that both side locks end biased
// toward this thread's lease (internal/leased_lock.h) where a process may
// be given a bias at all. False (with a non-fatal failure) if a call failed
// or a message came back different.
bool EarnBias(Queue& q);

// Why a bias test skips: internal::LightPostsEnabled() is false once this
// process has made a handle (which registers it where the kernel offers
// the command), so no side lock is ever biased toward it.
inline constexpr char kNoBias[] =
    "this process is not registered for membarrier "
    "(MEMBARRIER_CMD_GLOBAL_EXPEDITED): side locks are never biased";

// A queue name unique to this process and test ("/rbt-<pid>-<random>-
// <Suite>.<Test>[-suffix]"), unlinked when constructed and again when destroyed, so tests
// can run in parallel and leave nothing behind.
class ScopedQueueName {
 public:
  explicit ScopedQueueName(const std::string& suffix = "");
  ~ScopedQueueName();
  ScopedQueueName(const ScopedQueueName&) = delete;
  ScopedQueueName& operator=(const ScopedQueueName&) = delete;

  const std::string& get() const { return name_; }
  operator const std::string&() const { return name_; }  // NOLINT
  operator absl::string_view() const { return name_; }   // NOLINT

 private:
  std::string name_;
};

// Forks a child that runs `body` and _exit()s with its return value (or 100
// if it threw). The child does not run gtest's or atexit handlers.
pid_t ForkChild(const std::function<int()>& body);

// Waits for `pid` to exit, at most `timeout`; SIGKILLs and reaps it after
// that. Returns the wait status, or -1 if it had to be killed.
int WaitChild(pid_t pid, absl::Duration timeout);

// True if `status` (from WaitChild) is a normal exit with code 0.
bool ExitedCleanly(int status);

// An absolute path for a file of this workspace in the test's runfiles
// ("ringbuf/ringbufctl", or a $(rootpath) argument): resolved under
// $TEST_SRCDIR/$TEST_WORKSPACE unless it already names a readable file.
std::string RunfilePath(const std::string& path);

// A second user for tests that need two (the owner checks of
// ringbuf/trust.h): `nobody`.
struct OtherUser {
  uid_t uid;
  gid_t gid;
  std::string name;
};
// `nobody`, if this process can become it (tried in a child); otherwise
// FailedPrecondition with a message fit for GTEST_SKIP: it takes root (which
// CI has) outside a sandbox that maps root only (tag such tests
// "no-sandbox").
absl::StatusOr<OtherUser> SecondUser();

// As ForkChild, but the child first becomes `user` (supplementary groups,
// gid, then uid, for good) and exits 101 if it cannot.
pid_t ForkChildAs(const OtherUser& user, const std::function<int()>& body);

// Creates the queue `name` as `user` (in a forked child, see ForkChildAs)
// with `options`, and sends it `messages`. OK, or why not.
absl::Status CreateAs(const OtherUser& user, const std::string& name,
                      const Options& options,
                      const std::vector<std::string>& messages);

// A test that acts as root and as `nobody`: skipped, with the reason, where
// this process cannot become nobody (see SecondUser).
class TwoUserTest : public ::testing::Test {
 protected:
  void SetUp() override;

  // As nobody, creates `name` first (squats it) with mode `mode`, capacity
  // 4 and slot_size 32, holding one message: "planted".
  void Squat(const std::string& name, mode_t mode = 0666);

  // nobody as the errors spell an owner: "nobody (uid 65534)".
  std::string Owner() const;

  OtherUser nobody_;
};

enum class Side { kSenders, kReceivers };

// Reads the queue's header (internal layout) until a sender (receiver) has
// announced it is going to sleep, at most `timeout`. Lets a test prove a
// wake-up went through the futex rather than catching a spinner.
bool AwaitSleeper(const std::string& name, Side side, absl::Duration timeout);

// A pipe a child uses to tell its parent it reached some point.
class Signal {
 public:
  Signal();
  ~Signal();
  Signal(const Signal&) = delete;
  Signal& operator=(const Signal&) = delete;
  // In the child: writes one byte.
  void Notify(char byte = 'x');
  // In the parent: waits at most `timeout` for a byte; returns it, or 0.
  char WaitFor(absl::Duration timeout);
  // Closes the write end in this process (the parent, after forking), so
  // WaitFor returns early when every child holding it has exited.
  void CloseWriteEnd();
  // The raw write end, for code that must not allocate (a crash hook).
  int WriteFd() const { return fds_[1]; }

 private:
  int fds_[2];
};

}  // namespace testing
}  // namespace ringbuf

#endif  // RINGBUF_TESTS_TEST_UTIL_H_
