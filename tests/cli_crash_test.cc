// The crash guarantees hold for the CLI: `ringbufctl send` reading stdin,
// SIGKILLed at random moments, tells exactly which messages it committed.
//
// Property: every line `ringbufctl send` echoed was committed and is received
// exactly once, in order; at most one more line (committed, killed before
// its echo) is received; nothing else from that run is. Proof: each run r
// sends lines "r:0", "r:1", ...; a consumer thread in this process logs what
// it receives; for each run the received lines must be "r:0".."r:n-1" with
// n = echoed or echoed + 1.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "ringbuf/queue.h"
#include "tests/test_util.h"

namespace ringbuf {
namespace {

std::string CtlPath() { return testing::RunfilePath("ringbuf/ringbufctl"); }

// `ringbufctl send NAME` with its stdin fed `input` and its stdout piped.
struct SendProcess {
  pid_t pid;
  int stdout_fd;
};

SendProcess StartSend(const std::string& name, const std::string& input) {
  int in[2], out[2];
  if (pipe(in) != 0 || pipe(out) != 0) std::abort();
  // The whole input fits in the pipe buffer, so it is written before fork
  // and the child reads EOF after it.
  if (write(in[1], input.data(), input.size()) !=
      static_cast<ssize_t>(input.size())) {
    std::abort();
  }
  close(in[1]);
  const std::string ctl = CtlPath();
  pid_t pid = fork();
  // A failed fork must stop the test here: killing pid -1 would kill
  // every process we may signal.
  if (pid < 0) {
    std::perror("fork");
    std::abort();
  }
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    close(in[0]);
    close(out[0]);
    close(out[1]);
    execl(ctl.c_str(), ctl.c_str(), "send", name.c_str(), "--timeout=10s",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  return {pid, out[0]};
}

// Reads complete lines from `fd` into `lines` until `want` lines have come
// or EOF; every read is bounded.
void ReadLines(int fd, std::string* partial, std::vector<std::string>* lines,
               size_t want) {
  char buf[4096];
  while (lines->size() < want) {
    pollfd p{fd, POLLIN, 0};
    ASSERT_GT(poll(&p, 1, 20000), 0) << "ringbufctl stalled";
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) return;
    partial->append(buf, n);
    size_t nl;
    while ((nl = partial->find('\n')) != std::string::npos) {
      lines->push_back(partial->substr(0, nl));
      partial->erase(0, nl + 1);
    }
  }
}

TEST(CliCrashTest, KilledSendEchoesExactlyWhatItCommitted) {
  testing::ScopedQueueName name;
  Options o;
  o.capacity = 16;
  o.slot_size = 32;
  absl::StatusOr<Queue> q = Queue::Create(name, o);
  ASSERT_TRUE(q.ok()) << q.status();

  std::mutex mu;
  std::vector<std::string> received;
  std::atomic<bool> stop{false};
  std::thread consumer([&] {
    std::string msg;
    for (;;) {
      absl::Status s = q->ReceiveFor(&msg, absl::Milliseconds(100));
      if (s.ok()) {
        std::lock_guard<std::mutex> lock(mu);
        received.push_back(msg);
      } else if (stop.load()) {
        return;
      }
    }
  });

  constexpr int kRuns = 30;
  constexpr int kLines = 3000;
  std::mt19937 rng(std::random_device{}());
  std::vector<size_t> echoed(kRuns);
  for (int run = 0; run < kRuns; ++run) {
    std::string input;
    for (int i = 0; i < kLines; ++i) absl::StrAppend(&input, run, ":", i, "\n");
    SendProcess p = StartSend(name, input);
    std::string partial;
    std::vector<std::string> lines;
    ReadLines(p.stdout_fd, &partial, &lines, rng() % kLines);
    usleep(rng() % 300);  // land the kill at a random instruction
    kill(p.pid, SIGKILL);
    ReadLines(p.stdout_fd, &partial, &lines, kLines + 1);  // to EOF
    close(p.stdout_fd);
    waitpid(p.pid, nullptr, 0);
    for (size_t i = 0; i < lines.size(); ++i) {
      ASSERT_EQ(lines[i], absl::StrCat(run, ":", i)) << "echo out of order";
    }
    echoed[run] = lines.size();
  }
  // Every ringbufctl is dead; drain what is left, then stop the consumer.
  stop.store(true);
  consumer.join();
  std::string msg;
  while (q->TryReceive(&msg).ok()) received.push_back(msg);

  std::map<int, std::vector<int>> by_run;
  for (const std::string& line : received) {
    std::vector<std::string> parts = absl::StrSplit(line, ':');
    int run = 0, i = 0;
    ASSERT_EQ(parts.size(), 2u) << line;
    ASSERT_TRUE(absl::SimpleAtoi(parts[0], &run) && absl::SimpleAtoi(parts[1], &i));
    by_run[run].push_back(i);
  }
  int unechoed_commits = 0;
  for (int run = 0; run < kRuns; ++run) {
    const std::vector<int>& got = by_run[run];
    ASSERT_TRUE(got.size() == echoed[run] || got.size() == echoed[run] + 1)
        << "run " << run << ": echoed " << echoed[run] << ", received "
        << got.size();
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_EQ(got[i], static_cast<int>(i)) << "run " << run;
    }
    unechoed_commits += got.size() - echoed[run];
  }
  std::printf("runs %d, committed before the kill but not echoed: %d\n", kRuns,
              unechoed_commits);
  // No slot leaked by the kills.
  uint64_t free_slots = 0;
  while (q->TrySend("x").ok()) ++free_slots;
  EXPECT_EQ(free_slots, 16u);
}

// `ringbufctl stat` works on a queue whose last user died holding its lock:
// stat reads without locking. A child reserves a slot (holding the send lock)
// and is SIGKILLed; stat must then exit 0 promptly with the right depth.
TEST(CliCrashTest, StatWorksWhileADeadProcessHoldsTheLock) {
  testing::ScopedQueueName name;
  Options o;
  o.capacity = 4;
  o.slot_size = 16;
  absl::StatusOr<Queue> q = Queue::Create(name, o);
  ASSERT_TRUE(q.ok()) << q.status();
  ASSERT_TRUE(q->Send("one").ok());
  testing::Signal holding;
  pid_t holder = testing::ForkChild([&] {
    absl::StatusOr<Queue> c = Queue::Open(name);
    if (!c.ok()) return 1;
    absl::StatusOr<Queue::Reservation> r = c->Reserve(absl::Seconds(10));
    if (!r.ok()) return 2;
    holding.Notify();
    for (;;) pause();
  });
  ASSERT_EQ(holding.WaitFor(absl::Seconds(20)), 'x');
  kill(holder, SIGKILL);
  waitpid(holder, nullptr, 0);

  int out[2];
  ASSERT_EQ(pipe(out), 0);
  const std::string ctl = CtlPath();
  pid_t pid = fork();
  // A failed fork must stop the test here: killing pid -1 would kill
  // every process we may signal.
  if (pid < 0) {
    std::perror("fork");
    std::abort();
  }
  if (pid == 0) {
    dup2(out[1], 1);
    close(out[0]);
    execl(ctl.c_str(), ctl.c_str(), "stat", name.get().c_str(), "--json",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out[1]);
  std::string partial;
  std::vector<std::string> lines;
  ReadLines(out[0], &partial, &lines, 1);
  close(out[0]);
  EXPECT_TRUE(testing::ExitedCleanly(testing::WaitChild(pid, absl::Seconds(20))));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("\"depth\":1"), std::string::npos) << lines[0];
  // The dead holder is not repaired by stat (it takes no lock) but by the
  // next send, which then works.
  EXPECT_TRUE(q->SendFor("two", absl::Seconds(10)).ok());
  EXPECT_EQ(q->GetStats().send_lock_owner_deaths, 1u);
}

}  // namespace
}  // namespace ringbuf
