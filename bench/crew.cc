#include "bench/crew.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "absl/strings/str_cat.h"

namespace ringbuf_bench {
namespace {

int64_t CpuNs() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return (int64_t{ru.ru_utime.tv_sec} + ru.ru_stime.tv_sec) * 1000000000 +
         (int64_t{ru.ru_utime.tv_usec} + ru.ru_stime.tv_usec) * 1000;
}

void CloseFd(int* fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

absl::Status Errno(absl::string_view what) {
  return absl::ErrnoToStatus(errno, what);
}

}  // namespace

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

// ---- Child ------------------------------------------------------------------

absl::Status Child::AwaitStart() {
  SignalReady();
  // Nobody writes to the gate; the parent closing it makes read() return 0.
  char c;
  for (;;) {
    ssize_t n = read(gate_fd_, &c, 1);
    if (n == 0) break;
    if (n < 0 && errno != EINTR) return Errno("read(start gate)");
  }
  cpu_start_ns_ = CpuNs();
  report_->start_ns = NowNs();
  return absl::OkStatus();
}

void Child::Finish() {
  if (finished_) return;
  finished_ = true;
  report_->end_ns = NowNs();
  report_->cpu_ns = CpuNs() - cpu_start_ns_;
}

void Child::SignalReady() {
  if (ready_sent_) return;
  ready_sent_ = true;
  const char c = 1;
  while (write(ready_fd_, &c, 1) < 0 && errno == EINTR) {
  }
}

int Child::Run(absl::FunctionRef<absl::Status(Child&)> body) {
  absl::Status status;
  try {
    status = body(*this);
  } catch (const std::exception& e) {
    status = absl::InternalError(absl::StrCat("exception: ", e.what()));
  } catch (...) {
    status = absl::InternalError("unknown exception");
  }
  Finish();
  if (!status.ok()) {
    std::snprintf(report_->error, sizeof(report_->error), "%s",
                  status.ToString().c_str());
  }
  // A child that failed while attaching must not leave the parent waiting
  // for its ready byte.
  SignalReady();
  return status.ok() ? 0 : 1;
}

// ---- Crew -------------------------------------------------------------------

Crew::Crew(int max_children) : reports_(static_cast<size_t>(max_children)) {
  if (pipe2(ready_, O_CLOEXEC) != 0 || pipe2(gate_, O_CLOEXEC) != 0) {
    setup_ = Errno("pipe2");
  }
}

Crew::~Crew() {
  KillRunning();
  for (Member& m : members_) {
    if (m.running) waitpid(m.pid, nullptr, 0);
    CloseFd(&m.pidfd);
  }
  for (int* fd : {&ready_[0], &ready_[1], &gate_[0], &gate_[1]}) CloseFd(fd);
}

absl::Status Crew::Spawn(absl::FunctionRef<absl::Status(Child&)> body,
                         const std::vector<int>& cpus) {
  if (!setup_.ok()) return setup_;
  if (members_.size() >= reports_.size()) {
    return absl::InternalError("Crew: more children than reserved");
  }
  ChildReport* report = &reports_[members_.size()];
  const pid_t parent = getpid();
  std::fflush(nullptr);  // nothing buffered may be written twice
  const pid_t pid = fork();
  if (pid < 0) return Errno("fork");
  if (pid == 0) {
    // Die with the parent (a test timeout kills only the parent), and
    // close the ends that belong to the parent.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    close(ready_[0]);
    close(gate_[1]);
    Child child(ready_[1], gate_[0], report);
    _exit(child.Run([&](Child& c) -> absl::Status {
      if (!cpus.empty()) {
        cpu_set_t set;
        CPU_ZERO(&set);
        for (int cpu : cpus) CPU_SET(cpu, &set);
        if (sched_setaffinity(0, sizeof(set), &set) != 0) {
          return Errno("sched_setaffinity");
        }
      }
      return body(c);
    }));
  }
  // syscall(): glibc 2.36's <sys/pidfd.h> lacks extern "C" for C++.
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    const absl::Status error = Errno("pidfd_open");
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    return error;
  }
  members_.push_back({pid, pidfd, true});
  return absl::OkStatus();
}

absl::StatusOr<int64_t> Crew::Start(absl::Duration timeout) {
  if (!setup_.ok()) return setup_;
  // With our write end closed, read() returns 0 once every child is gone.
  CloseFd(&ready_[1]);
  const int64_t deadline = NowNs() + absl::ToInt64Nanoseconds(timeout);
  int ready = 0;
  while (ready < size()) {
    const int64_t left_ms = (deadline - NowNs()) / 1000000;
    pollfd p{ready_[0], POLLIN, 0};
    const int r = left_ms > 0 ? poll(&p, 1, static_cast<int>(left_ms)) : 0;
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Errno("poll(ready)");
    if (r == 0) {
      return absl::DeadlineExceededError(absl::StrCat(
          size() - ready, " of ", size(), " children not ready after ",
          absl::FormatDuration(timeout)));
    }
    char buf[64];
    const ssize_t n = read(ready_[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // all children gone: Wait() says why
    ready += static_cast<int>(n);
  }
  const int64_t start = NowNs();
  CloseFd(&gate_[1]);
  return start;
}

absl::Status Crew::Wait(absl::Duration timeout) {
  const int64_t deadline = NowNs() + absl::ToInt64Nanoseconds(timeout);
  absl::Status first_error;
  for (;;) {
    std::vector<pollfd> fds;
    std::vector<int> who;
    for (int i = 0; i < size(); ++i) {
      if (!members_[i].running) continue;
      fds.push_back({members_[i].pidfd, POLLIN, 0});
      who.push_back(i);
    }
    if (fds.empty()) return first_error;
    const int64_t left_ms = (deadline - NowNs() + 999999) / 1000000;
    const int r = left_ms > 0
                      ? poll(fds.data(), fds.size(), static_cast<int>(left_ms))
                      : 0;
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Errno("poll(pidfd)");
    if (r == 0) {
      KillRunning();
      if (!first_error.ok()) return first_error;
      return absl::DeadlineExceededError(
          absl::StrCat("children still running after ",
                       absl::FormatDuration(timeout), "; killed them"));
    }
    for (size_t k = 0; k < fds.size(); ++k) {
      if (fds[k].revents == 0) continue;
      Member& m = members_[who[k]];
      int status = 0;
      while (waitpid(m.pid, &status, 0) < 0 && errno == EINTR) {
      }
      m.running = false;
      CloseFd(&m.pidfd);
      const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
      if (!ok && first_error.ok()) {
        first_error = absl::InternalError(Describe(who[k], status));
        KillRunning();  // the others may be waiting for it forever
      }
    }
  }
}

int64_t Crew::LastEndNs() const {
  int64_t last = 0;
  for (int i = 0; i < size(); ++i) last = std::max(last, reports_[i].end_ns);
  return last;
}

int64_t Crew::TotalCpuNs() const {
  int64_t total = 0;
  for (int i = 0; i < size(); ++i) total += reports_[i].cpu_ns;
  return total;
}

void Crew::KillRunning() {
  for (const Member& m : members_) {
    if (m.running) kill(m.pid, SIGKILL);
  }
}

std::string Crew::Describe(int i, int wait_status) const {
  if (WIFSIGNALED(wait_status)) {
    return absl::StrCat("child ", i, " killed by signal ",
                        WTERMSIG(wait_status), " (",
                        strsignal(WTERMSIG(wait_status)), ")");
  }
  if (reports_[i].error[0] != '\0') {
    return absl::StrCat("child ", i, ": ", reports_[i].error);
  }
  return absl::StrCat("child ", i, " exited with status ",
                      WEXITSTATUS(wait_status));
}

}  // namespace ringbuf_bench
