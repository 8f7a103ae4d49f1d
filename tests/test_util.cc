#include "tests/test_util.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <random>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "ringbuf/internal/layout.h"

namespace ringbuf {
namespace testing {

RawView::RawView(const std::string& name) {
  int fd = shm_open(name.c_str(), O_RDWR, 0);
  EXPECT_GE(fd, 0);
  size_ = lseek(fd, 0, SEEK_END);
  data_ = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
}

RawView::~RawView() { munmap(data_, size_); }

ScopedQueueName::ScopedQueueName(const std::string& suffix) {
  const ::testing::TestInfo* info =
      ::testing::UnitTest::GetInstance()->current_test_info();
  std::string test = info == nullptr
                         ? "none"
                         : absl::StrCat(info->test_suite_name(), ".",
                                        info->name());
  for (char& c : test) {
    if (c == '/') c = '_';  // parameterised test names contain '/'
  }
  // The pid alone is not unique: Bazel's sandbox gives each test its own pid
  // namespace (every test may be pid 12) while /dev/shm is shared.
  name_ = absl::StrCat("/rbt-", getpid(), "-", absl::Hex(std::random_device{}()),
                       "-", test,
                       suffix.empty() ? "" : "-", suffix);
  shm_unlink(name_.c_str());
}

// shm_unlink, not Queue::Remove: this file is linked with either build of
// the library (with or without crash points).
ScopedQueueName::~ScopedQueueName() { shm_unlink(name_.c_str()); }

pid_t ForkChild(const std::function<int()>& body) {
  fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    int code = 100;
    try {
      code = body();
    } catch (...) {
    }
    _exit(code);
  }
  return pid;
}

int WaitChild(pid_t pid, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    int status = 0;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0 && errno != EINTR) return -1;
    if (absl::Now() >= deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    // Polling a child's exit: there is no fd to wait on without pidfd; the
    // interval only bounds how late we notice, never what we conclude.
    usleep(1000);
  }
}

bool AwaitSleeper(const std::string& name, Side side,
                   absl::Duration timeout) {
  int fd = shm_open(name.c_str(), O_RDONLY, 0);
  if (fd < 0) return false;
  void* map = mmap(nullptr, internal::kHeaderSize, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  if (map == MAP_FAILED) return false;
  const auto* h = static_cast<const internal::Header*>(map);
  // Senders sleep until head moves; receivers until tail moves. The low bit
  // of `sleepers` is set by a waiter about to sleep (counting_semaphore.h).
  const std::atomic<uint32_t>& sleepers =
      side == Side::kSenders ? h->head.sleepers : h->tail.sleepers;
  absl::Time deadline = absl::Now() + timeout;
  bool reached = false;
  while (!(reached = (sleepers.load() & 1) != 0) && absl::Now() < deadline) {
    usleep(100);  // polling a condition, bounded by `timeout`
  }
  munmap(map, internal::kHeaderSize);
  return reached;
}

std::string RunfilePath(const std::string& path) {
  std::string resolved = path;
  if (!path.empty() && path[0] != '/' && access(path.c_str(), R_OK) != 0) {
    const char* srcdir = std::getenv("TEST_SRCDIR");
    const char* workspace = std::getenv("TEST_WORKSPACE");
    resolved = absl::StrCat(srcdir == nullptr ? "." : srcdir, "/",
                            workspace == nullptr ? "ringbuf" : workspace, "/",
                            path);
  }
  if (char* real = realpath(resolved.c_str(), nullptr)) {
    resolved = real;
    free(real);
  }
  return resolved;
}

bool ExitedCleanly(int status) {
  return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

Signal::Signal() {
  if (pipe(fds_) != 0) std::abort();
}

Signal::~Signal() {
  if (fds_[0] >= 0) close(fds_[0]);
  if (fds_[1] >= 0) close(fds_[1]);
}

void Signal::Notify(char byte) {
  while (write(fds_[1], &byte, 1) < 0 && errno == EINTR) {
  }
}

void Signal::CloseWriteEnd() {
  close(fds_[1]);
  fds_[1] = -1;
}

char Signal::WaitFor(absl::Duration timeout) {
  pollfd p{fds_[0], POLLIN, 0};
  int ms = static_cast<int>(absl::ToInt64Milliseconds(timeout));
  if (poll(&p, 1, ms) <= 0) return 0;
  char byte = 0;
  if (read(fds_[0], &byte, 1) != 1) return 0;
  return byte;
}

}  // namespace testing
}  // namespace ringbuf
