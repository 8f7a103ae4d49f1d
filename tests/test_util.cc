#include "tests/test_util.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <sys/mman.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "ringbuf/internal/layout.h"
#include "ringbuf/queue.h"

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

Queue CreateQueue(const std::string& name, uint64_t capacity,
                  uint32_t slot_size, uint32_t priorities) {
  Options o;
  o.capacity = capacity;
  o.slot_size = slot_size;
  o.priorities = priorities;
  absl::StatusOr<Queue> q = Queue::Create(name, o);
  EXPECT_TRUE(q.ok()) << q.status();
  return *std::move(q);
}

bool EarnBias(Queue& q) {
  for (uint32_t i = 0; i <= internal::kBiasAfter; ++i) {
    const std::string m = absl::StrCat("streak ", i);
    absl::Status s = q.SendFor(m, absl::Seconds(20));
    EXPECT_TRUE(s.ok()) << s;
    std::string out;
    if (s.ok()) s = q.ReceiveFor(&out, absl::Seconds(20));
    EXPECT_TRUE(s.ok()) << s;
    EXPECT_EQ(out, m);
    if (!s.ok() || out != m) return false;
  }
  return true;
}

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
  // A failed fork must stop the test here: killing pid -1 would kill
  // every process we may signal.
  if (pid < 0) {
    std::perror("fork");
    std::abort();
  }
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

namespace {

// Drops this process's groups, gid and uid to `user`'s, for good: 0, or the
// errno of the step that failed.
int BecomeUser(const OtherUser& user) {
  if (setgroups(0, nullptr) != 0 || setgid(user.gid) != 0 ||
      setuid(user.uid) != 0) {
    return errno;
  }
  return 0;
}

}  // namespace

absl::StatusOr<OtherUser> SecondUser() {
  if (geteuid() != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "this two-user test acts as root and as `nobody` (setuid in a forked "
        "child), which takes root; running as uid ", geteuid(),
        ". CI runs the suite as root."));
  }
  // getpwnam is fine here: tests call this from one thread, before forking.
  const struct passwd* pw = getpwnam("nobody");
  if (pw == nullptr) {
    return absl::FailedPreconditionError(
        "this two-user test needs the user `nobody`, which this system lacks");
  }
  OtherUser user{pw->pw_uid, pw->pw_gid, pw->pw_name};
  // Root in a user namespace that maps no other uid (Bazel's linux-sandbox)
  // cannot become anyone else: find out, and say so.
  int err = 0;
  pid_t probe = ForkChild([&] { return BecomeUser(user); });
  const int status = WaitChild(probe, absl::Seconds(30));
  if (!ExitedCleanly(status)) {
    err = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
    return absl::FailedPreconditionError(absl::StrCat(
        "this two-user test cannot become `nobody` here (setuid: ",
        err == 0 ? "the probe child died" : std::strerror(err),
        "): a sandbox's user namespace maps root only; run the target "
        "unsandboxed (tags = [\"no-sandbox\"])"));
  }
  return user;
}

pid_t ForkChildAs(const OtherUser& user, const std::function<int()>& body) {
  return ForkChild([&] {
    if (int err = BecomeUser(user); err != 0) {
      std::fprintf(stderr, "ForkChildAs: becoming uid %u: %s\n",
                   static_cast<unsigned>(user.uid), std::strerror(err));
      return 101;
    }
    return body();
  });
}

absl::Status CreateAs(const OtherUser& user, const std::string& name,
                      const Options& options,
                      const std::vector<std::string>& messages) {
  pid_t pid = ForkChildAs(user, [&] {
    absl::StatusOr<Queue> q = Queue::Create(name, options);
    if (!q.ok()) {
      std::fprintf(stderr, "CreateAs: %s\n", q.status().ToString().c_str());
      return 1;
    }
    for (const std::string& m : messages) {
      if (absl::Status s = q->TrySend(m); !s.ok()) {
        std::fprintf(stderr, "CreateAs: %s\n", s.ToString().c_str());
        return 2;
      }
    }
    return 0;
  });
  const int status = WaitChild(pid, absl::Seconds(30));
  if (ExitedCleanly(status)) return absl::OkStatus();
  return absl::InternalError(absl::StrCat(
      "creating ", name, " as ", user.name, " (uid ", user.uid, ") failed: ",
      status == -1              ? std::string("killed after 30 s")
      : !WIFEXITED(status)      ? absl::StrCat("signal ", WTERMSIG(status))
      : WEXITSTATUS(status) == 101 ? std::string("could not become that user")
      : WEXITSTATUS(status) == 1   ? std::string("Queue::Create failed")
                                   : std::string("a send failed")));
}

void TwoUserTest::SetUp() {
  absl::StatusOr<OtherUser> user = SecondUser();
  if (!user.ok()) GTEST_SKIP() << user.status().message();
  nobody_ = *user;
}

void TwoUserTest::Squat(const std::string& name, mode_t mode) {
  Options options;
  options.capacity = 4;
  options.slot_size = 32;
  options.mode = mode;
  absl::Status s = CreateAs(nobody_, name, options, {"planted"});
  ASSERT_TRUE(s.ok()) << s;
}

std::string TwoUserTest::Owner() const {
  return absl::StrCat(nobody_.name, " (uid ", nobody_.uid, ")");
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
