// The C API's examples interoperate with a C++ producer on one queue: this
// process creates the queue and sends known messages with ringbuf::Queue,
// while examples/c_consumer (C, linked with //ringbuf:c_api) and
// examples/py_consumer.py (Python ctypes over //ringbuf:libringbuf_c.so) run
// as child processes and print what they receive. Their stdout must be the
// messages exactly, in order (binary bytes and the empty message included),
// and the queue must end empty with every message taken once. The queue is
// smaller than the message count, so the producer blocks and each consumer
// wakes it across processes and languages. With both consumers on the queue
// at once, each prints an in-order subsequence and together they print
// every message exactly once. Failures (missing queue, too few messages)
// exit 1 with the code name and the queue on stderr.
//
// Under ASan and TSan the Python cases are skipped: the instrumented
// libringbuf_c.so needs its sanitizer runtime loaded first, which an
// uninstrumented python3 does not do (the C cases still run instrumented).
//
// Usage: c_interop_test C_CONSUMER PY_CONSUMER_PY LIBRINGBUF_C_SO [gtest
// flags]; Bazel passes the runfiles paths via `args`. The Python example
// runs under `python3` from PATH (/usr/bin/python3 under Bazel's strict
// action environment).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "ringbuf/options.h"
#include "ringbuf/queue.h"
#include "tests/sanitizer_build.h"
#include "tests/test_util.h"


namespace ringbuf {
namespace {

using testing::ScopedQueueName;
using testing::WaitChild;

// Absolute paths of the programs under test, set by main().
std::string* g_c_consumer = nullptr;
std::string* g_py_consumer = nullptr;
std::string* g_lib = nullptr;

// Every child is SIGKILLed (and the test fails) after this long.
constexpr absl::Duration kKillAfter = absl::Seconds(60);
// How long a consumer waits for each message: only catches hangs.
constexpr int kConsumerTimeoutMs = 20000;
// How long the producer waits for a free slot: only catches hangs.
constexpr absl::Duration kSendTimeout = absl::Seconds(20);
// The producer's waits are sliced so it notices consumers that died.
constexpr absl::Duration kSendSlice = absl::Milliseconds(100);

constexpr uint64_t kCapacity = 4;
constexpr uint32_t kSlotSize = 64;

// The messages the producer sends: more than kCapacity, of every length from
// empty to a full slot, with NUL, tab and high bytes; no newline, since the
// consumers end each message with one.
std::vector<std::string> Messages() {
  std::vector<std::string> m = {
      "hello from C++",
      "",
      std::string("nul\0inside", 10),
      "tab\there and spaces  ",
      "\xff\xfe high bytes \x01",
      std::string(kSlotSize, 'S'),
  };
  for (int i = 0; i < 14; ++i) m.push_back(absl::StrCat("message #", i));
  return m;
}

std::string Lines(const std::vector<std::string>& messages) {
  std::string out;
  for (const std::string& m : messages) absl::StrAppend(&out, m, "\n");
  return out;
}

// A child process with stdout and stderr on pipes.
class Child {
 public:
  explicit Child(std::vector<std::string> argv) : argv_(std::move(argv)) {
    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
      ADD_FAILURE() << "pipe2: " << strerror(errno);
      return;
    }
    std::vector<char*> args;
    for (std::string& a : argv_) args.push_back(a.data());
    args.push_back(nullptr);
    fflush(nullptr);
    pid_ = fork();
    // A failed fork must stop the test here: killing pid -1 would kill
    // every process we may signal.
    if (pid_ < 0) {
      std::perror("fork");
      std::abort();
    }
    if (pid_ == 0) {
      // Child: only async-signal-safe calls from here on.
      dup2(out[1], 1);
      dup2(err[1], 2);
      execvp(args[0], args.data());
      _exit(127);
    }
    close(out[1]);
    close(err[1]);
    out_ = out[0];
    err_ = err[0];
    if (pid_ < 0) ADD_FAILURE() << "fork: " << strerror(errno);
  }

  ~Child() {
    if (pid_ > 0 && !reaped_) WaitChild(pid_, absl::ZeroDuration());
    if (out_ >= 0) close(out_);
    if (err_ >= 0) close(err_);
  }

  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  // Collects stdout and stderr until the child closes them, then its exit
  // status; all within kKillAfter of now (then SIGKILLs it).
  void Finish() {
    const absl::Time deadline = absl::Now() + kKillAfter;
    while ((out_ >= 0 || err_ >= 0) && absl::Now() < deadline) {
      pollfd fds[2];
      int* owners[2];
      std::string* sinks[2];
      int n = 0;
      if (out_ >= 0) {
        fds[n] = {out_, POLLIN, 0};
        owners[n] = &out_;
        sinks[n++] = &out;
      }
      if (err_ >= 0) {
        fds[n] = {err_, POLLIN, 0};
        owners[n] = &err_;
        sinks[n++] = &err;
      }
      const int64_t ms = std::max<int64_t>(
          1, absl::ToInt64Milliseconds(deadline - absl::Now()));
      if (poll(fds, n, static_cast<int>(std::min<int64_t>(ms, 1000))) <= 0) {
        continue;
      }
      for (int i = 0; i < n; ++i) {
        if (fds[i].revents == 0) continue;
        char buf[4096];
        const ssize_t r = read(*owners[i], buf, sizeof buf);
        if (r > 0) {
          sinks[i]->append(buf, static_cast<size_t>(r));
        } else if (r == 0 || errno != EINTR) {
          close(*owners[i]);
          *owners[i] = -1;
        }
      }
    }
    if (!reaped_ && pid_ > 0) {
      status = WaitChild(pid_, std::max(absl::ZeroDuration(),
                                        deadline - absl::Now()));
      reaped_ = true;
    }
  }

  // True while the child has not exited (reaps it once it has).
  bool Running() {
    if (reaped_ || pid_ <= 0) return false;
    int st = 0;
    if (waitpid(pid_, &st, WNOHANG) != pid_) return true;
    status = st;
    reaped_ = true;
    return false;
  }

  bool ExitedWith(int code) const {
    return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == code;
  }

  std::string Describe() const {
    std::string how = status == -1 ? "KILLED (hung)"
                      : WIFSIGNALED(status)
                          ? absl::StrCat("died of signal ", WTERMSIG(status))
                          : absl::StrCat("exit ", WEXITSTATUS(status));
    return absl::StrCat("\n  $ ", absl::StrJoin(argv_, " "), "\n  ", how,
                        "\n  stdout: \"", absl::CEscape(out),
                        "\"\n  stderr: \"", absl::CEscape(err), "\"");
  }

  std::string out, err;
  int status = -1;

 private:
  std::vector<std::string> argv_;
  pid_t pid_ = -1;
  int out_ = -1, err_ = -1;
  bool reaped_ = false;
};

enum class Consumer { kC, kPython };

std::string ConsumerName(Consumer c) {
  return c == Consumer::kC ? "C" : "Python";
}

std::vector<std::string> ConsumerArgv(Consumer c, const std::string& queue,
                                      size_t count,
                                      int timeout_ms = kConsumerTimeoutMs) {
  std::vector<std::string> argv;
  if (c == Consumer::kC) {
    argv = {*g_c_consumer};
  } else {
    argv = {"python3", *g_py_consumer, "--lib", *g_lib};
  }
  argv.push_back(queue);
  argv.push_back(absl::StrCat(count));
  argv.push_back(absl::StrCat(timeout_ms));
  return argv;
}

// Sends `messages` in order, waiting for free slots while any of
// `consumers` still runs (within kSendTimeout in all). OK once all are sent.
absl::Status SendAll(Queue& q, const std::vector<std::string>& messages,
                     std::initializer_list<Child*> consumers) {
  const absl::Time deadline = absl::Now() + kSendTimeout;
  for (const std::string& m : messages) {
    for (;;) {
      absl::Status s = q.SendFor(m, kSendSlice);
      if (s.ok()) break;
      if (!absl::IsDeadlineExceeded(s) && !absl::IsUnavailable(s)) return s;
      if (absl::Now() >= deadline) return s;
      if (std::none_of(consumers.begin(), consumers.end(),
                       [](Child* c) { return c->Running(); })) {
        return absl::AbortedError(absl::StrCat(
            "every consumer exited with \"", absl::CEscape(m),
            "\" still to send"));
      }
    }
  }
  return absl::OkStatus();
}

// GTEST_SKIP() returns from the function it is in, hence a macro.
#define SKIP_IF_PYTHON_CANNOT_LOAD_THE_LIBRARY(consumer)                   \
  if ((consumer) == Consumer::kPython && RINGBUF_PYTHON_CANNOT_LOAD_LIB) { \
    GTEST_SKIP() << "sanitizer build: python3 cannot load the "            \
                    "instrumented libringbuf_c.so";                        \
  }

Queue MakeQueue(const std::string& name) {
  return testing::CreateQueue(name, kCapacity, kSlotSize);
}

class InteropTest : public ::testing::TestWithParam<Consumer> {};

TEST_P(InteropTest, ConsumerPrintsExactlyWhatTheCppProducerSends) {
  SKIP_IF_PYTHON_CANNOT_LOAD_THE_LIBRARY(GetParam())
  ScopedQueueName name;
  Queue q = MakeQueue(name);
  const std::vector<std::string> messages = Messages();
  ASSERT_GT(messages.size(), kCapacity) << "the producer must have to wait";

  Child child(ConsumerArgv(GetParam(), name, messages.size()));
  const absl::Status sent = SendAll(q, messages, {&child});
  EXPECT_TRUE(sent.ok()) << sent;
  child.Finish();
  EXPECT_TRUE(child.ExitedWith(0)) << child.Describe();
  EXPECT_EQ(child.out, Lines(messages)) << child.Describe();
  EXPECT_EQ(child.err, "") << child.Describe();
  const Stats stats = q.GetStats();
  EXPECT_EQ(stats.depth, 0u);
  EXPECT_EQ(stats.total_received, messages.size());
}

TEST_P(InteropTest, MissingQueueExits1WithNotFoundNamingTheQueue) {
  SKIP_IF_PYTHON_CANNOT_LOAD_THE_LIBRARY(GetParam())
  ScopedQueueName name;
  Child child(ConsumerArgv(GetParam(), name, 1));
  child.Finish();
  EXPECT_TRUE(child.ExitedWith(1)) << child.Describe();
  EXPECT_EQ(child.out, "") << child.Describe();
  EXPECT_NE(child.err.find("NOT_FOUND"), std::string::npos)
      << child.Describe();
  EXPECT_NE(child.err.find(name.get()), std::string::npos) << child.Describe();
}

// Asked for one message more than was sent: prints those, then gives up
// after its timeout with DEADLINE_EXCEEDED.
TEST_P(InteropTest, TooFewMessagesExits1WithDeadlineExceeded) {
  SKIP_IF_PYTHON_CANNOT_LOAD_THE_LIBRARY(GetParam())
  ScopedQueueName name;
  Queue q = MakeQueue(name);
  ASSERT_TRUE(q.Send("only").ok());
  Child child(ConsumerArgv(GetParam(), name, 2, /*timeout_ms=*/200));
  child.Finish();
  EXPECT_TRUE(child.ExitedWith(1)) << child.Describe();
  EXPECT_EQ(child.out, "only\n") << child.Describe();
  EXPECT_NE(child.err.find("DEADLINE_EXCEEDED"), std::string::npos)
      << child.Describe();
}

INSTANTIATE_TEST_SUITE_P(
    CAndPython, InteropTest, ::testing::Values(Consumer::kC, Consumer::kPython),
    [](const ::testing::TestParamInfo<Consumer>& info) {
      return ConsumerName(info.param);
    });

// The C and the Python consumer on the queue at once, against one C++
// producer: how the messages split between them is up to the scheduler, but
// each must print an in-order subsequence (FIFO) and together they must
// print every message exactly once. Messages carry their index to tell.
TEST(SharedQueueTest, CAndPythonConsumersShareOneQueueExactlyOnce) {
  SKIP_IF_PYTHON_CANNOT_LOAD_THE_LIBRARY(Consumer::kPython)
  ScopedQueueName name;
  Queue q = MakeQueue(name);
  constexpr int kPerConsumer = 40;
  Child c(ConsumerArgv(Consumer::kC, name, kPerConsumer));
  Child py(ConsumerArgv(Consumer::kPython, name, kPerConsumer));
  std::vector<std::string> messages;
  for (int i = 0; i < 2 * kPerConsumer; ++i) {
    messages.push_back(absl::StrCat("m", i));
  }
  const absl::Status sent = SendAll(q, messages, {&c, &py});
  EXPECT_TRUE(sent.ok()) << sent;
  c.Finish();
  py.Finish();
  ASSERT_TRUE(c.ExitedWith(0)) << c.Describe();
  ASSERT_TRUE(py.ExitedWith(0)) << py.Describe();

  std::vector<int> seen;
  for (const Child* child : {&c, &py}) {
    std::vector<std::string> lines =
        absl::StrSplit(child->out, '\n', absl::SkipEmpty());
    EXPECT_EQ(lines.size(), static_cast<size_t>(kPerConsumer))
        << child->Describe();
    int previous = -1;
    for (const std::string& line : lines) {
      int i = -1;
      ASSERT_TRUE(line.size() > 1 && line[0] == 'm' &&
                  absl::SimpleAtoi(line.substr(1), &i))
          << line << child->Describe();
      EXPECT_GT(i, previous) << "out of order" << child->Describe();
      previous = i;
      seen.push_back(i);
    }
  }
  std::sort(seen.begin(), seen.end());
  std::vector<int> all(2 * kPerConsumer);
  for (int i = 0; i < 2 * kPerConsumer; ++i) all[i] = i;
  EXPECT_EQ(seen, all) << "every message exactly once";
  EXPECT_EQ(q.GetStats().depth, 0u);
}


}  // namespace
}  // namespace ringbuf

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  signal(SIGPIPE, SIG_IGN);
  if (argc != 4) {
    fprintf(stderr,
            "usage: %s C_CONSUMER PY_CONSUMER_PY LIBRINGBUF_C_SO "
            "[gtest flags]\n",
            argv[0]);
    return 2;
  }
  std::string paths[3];
  for (int i = 0; i < 3; ++i) {
    paths[i] = ringbuf::testing::RunfilePath(argv[i + 1]);
    if (access(paths[i].c_str(), R_OK) != 0) {
      fprintf(stderr, "not found: %s\n", paths[i].c_str());
      return 2;
    }
  }
  ringbuf::g_c_consumer = &paths[0];
  ringbuf::g_py_consumer = &paths[1];
  ringbuf::g_lib = &paths[2];
  return RUN_ALL_TESTS();
}
