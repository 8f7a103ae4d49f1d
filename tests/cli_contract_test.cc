// End-to-end contract of the `ringbufctl` binary, run as a real child process
// (fork + execv, stdin/stdout/stderr on pipes, every run killed after 30 s).
// It proves, point by point: `create` applies geometry and mode exactly and
// refuses an existing name; `send` enqueues one message per argument or per
// stdin line, echoing each line only once it is committed, waits forever by
// default and exits 3 when its timeout expires on a full queue, and refuses an
// over-long line without enqueuing it; `recv` prints and flushes one line per
// message, honours --count and its two default timeouts, and exits 3 when
// --count is not reached in time; `stat` reports geometry, depth, indexes and
// totals, with --json as one flat JSON object; `rm` unlinks; "orders" and
// "/orders" name the same queue; and bad input of every kind ends in a code
// in 1..127 other than 3 with a one-line error naming the queue, never a crash
// or a wait past the given timeout. The edges: recv takes a message only once
// it was written (a failing stdout leaves it queued, exit 1), send's echo is
// checked, a busy receive lock is never "empty", --timeout counts from
// --flagfile/--fromenv and on the monotonic clock, --format=nul frames
// binary-safe messages, --help/--version, per-command flags, list, stat's
// owner and mode, and rm's refusal and mapper count. The library
// (ringbuf/queue.h) is used only to prepare queues and to inspect what the
// CLI did to them.
//
// Usage: cli_contract_test PATH_TO_RINGBUFCTL [gtest flags]  (or set the
// RINGBUFCTL environment variable). Bazel passes the path via `args`.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "ringbuf/options.h"
#include "ringbuf/queue.h"
#include "ringbuf/trust.h"
#include "ringbuf/version.h"
#include "tests/test_util.h"

namespace ringbuf {
namespace {

using testing::AwaitSleeper;
using testing::ScopedQueueName;
using testing::Side;

// Path of the binary under test, set by main().
std::string* g_ringbufctl = nullptr;
// Path of tests/wallclock_jump.c's shared library, if main() was given one.
std::string* g_wallclock_jump = nullptr;

// Every child is SIGKILLed (and the test fails) after this long.
constexpr absl::Duration kKillAfter = absl::Seconds(30);
// Generous upper bound for calls that must return "promptly" or right after a
// short timeout; only catches hangs, never races a loaded machine.
constexpr absl::Duration kPrompt = absl::Seconds(10);

// ---------------------------------------------------------------------------
// Running the binary.

// What a finished (or killed) run did.
struct Outcome {
  std::vector<std::string> args;
  bool killed = false;  // still running after its bound; SIGKILLed
  int status = 0;       // waitpid status
  std::string out;
  std::string err;
  absl::Duration elapsed;  // from fork to observed exit

  bool Exited() const { return !killed && WIFEXITED(status); }
  int code() const { return Exited() ? WEXITSTATUS(status) : -1; }

  std::string Describe() const {
    std::string how;
    if (killed) {
      how = absl::StrCat("KILLED after ", absl::FormatDuration(elapsed));
    } else if (WIFSIGNALED(status)) {
      how = absl::StrCat("died of signal ", WTERMSIG(status));
    } else {
      how = absl::StrCat("exit ", WEXITSTATUS(status), " after ",
                         absl::FormatDuration(elapsed));
    }
    return absl::StrCat("\n  $ ringbufctl ", absl::StrJoin(args, " "), "\n  ",
                        how, "\n  stdout: \"", absl::CEscape(out),
                        "\"\n  stderr: \"", absl::CEscape(err), "\"");
  }
};

// One child running ringbufctl with its three standard streams on pipes.
// The test process drives its stdin and collects stdout/stderr while it runs.
class Ctl {
 public:
  // `stdout_fd` >= 0: the child's stdout is that descriptor (not captured).
  explicit Ctl(std::vector<std::string> args, mode_t child_umask = 022,
               int stdout_fd = -1)
      : start_(absl::Now()) {
    outcome_.args = args;
    int in[2], out[2], err[2];
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 ||
        pipe2(err, O_CLOEXEC) != 0) {
      ADD_FAILURE() << "pipe2: " << strerror(errno);
      return;
    }
    std::vector<std::string> argv_storage = {*g_ringbufctl};
    argv_storage.insert(argv_storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : argv_storage) argv.push_back(a.data());
    argv.push_back(nullptr);
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
      dup2(in[0], 0);
      dup2(stdout_fd >= 0 ? stdout_fd : out[1], 1);
      dup2(err[1], 2);
      umask(child_umask);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    close(err[1]);
    in_ = in[1];
    out_ = out[0];
    err_ = err[0];
    fcntl(in_, F_SETFL, O_NONBLOCK);
    if (pid_ < 0) {
      ADD_FAILURE() << "fork: " << strerror(errno);
      CloseAll();
    }
  }

  ~Ctl() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    CloseAll();
  }

  Ctl(const Ctl&) = delete;
  Ctl& operator=(const Ctl&) = delete;

  // Queues `data` for the child's stdin (written as the child reads it).
  void Feed(absl::string_view data) {
    pending_.append(data.data(), data.size());
    Pump(absl::Now());
  }

  // Closes the child's stdin once everything fed so far is written.
  void CloseStdin() {
    close_stdin_ = true;
    Pump(absl::Now());
  }

  // Moves data until stdout holds `expected` as a prefix or more, the child
  // closes its output, or `timeout` passes. True if stdout starts with
  // `expected`.
  bool AwaitStdout(absl::string_view expected, absl::Duration timeout) {
    absl::Time deadline = absl::Now() + timeout;
    while (outcome_.out.size() < expected.size() && out_ >= 0 &&
           absl::Now() < deadline) {
      Pump(deadline);
    }
    return absl::StartsWith(outcome_.out, expected);
  }

  // True while the child has not exited.
  bool Running() {
    if (reaped_) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      Reaped(status);
      return false;
    }
    return true;
  }

  // Waits for the child to exit, at most `bound` from its start (then
  // SIGKILLs it), and returns everything it did.
  Outcome Finish(absl::Duration bound = kKillAfter) {
    absl::Time deadline = start_ + bound;
    while ((out_ >= 0 || err_ >= 0) && absl::Now() < deadline) {
      Pump(deadline);
    }
    while (!reaped_) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        Reaped(status);
        break;
      }
      if (absl::Now() >= deadline) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        Reaped(status);
        outcome_.killed = true;
        // Collect what it wrote before it was killed.
        absl::Time drain_until = absl::Now() + absl::Seconds(1);
        while ((out_ >= 0 || err_ >= 0) && absl::Now() < drain_until) {
          Pump(drain_until);
        }
        break;
      }
      // Output is closed but the child has not exited yet: poll its exit.
      // The interval only bounds how late we notice, not what we conclude.
      usleep(1000);
    }
    CloseAll();
    return outcome_;
  }

 private:
  void Reaped(int status) {
    reaped_ = true;
    outcome_.status = status;
    outcome_.elapsed = absl::Now() - start_;
  }

  static void CloseFd(int* fd) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }

  void CloseAll() {
    CloseFd(&in_);
    CloseFd(&out_);
    CloseFd(&err_);
  }

  // One round of I/O: writes pending stdin, reads stdout/stderr; waits at
  // most until `deadline` (and at most 100 ms) for something to happen.
  void Pump(absl::Time deadline) {
    if (in_ >= 0 && pending_.empty() && close_stdin_) CloseFd(&in_);
    pollfd fds[3];
    int* owners[3];
    int n = 0;
    if (in_ >= 0 && !pending_.empty()) {
      fds[n] = {in_, POLLOUT, 0};
      owners[n++] = &in_;
    }
    if (out_ >= 0) {
      fds[n] = {out_, POLLIN, 0};
      owners[n++] = &out_;
    }
    if (err_ >= 0) {
      fds[n] = {err_, POLLIN, 0};
      owners[n++] = &err_;
    }
    if (n == 0) return;
    int64_t ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    ms = std::max<int64_t>(0, std::min<int64_t>(ms, 100));
    if (poll(fds, n, static_cast<int>(ms)) <= 0) return;
    for (int i = 0; i < n; ++i) {
      if (fds[i].revents == 0) continue;
      int* fd = owners[i];
      if (fd == &in_) {
        ssize_t w = write(in_, pending_.data(), pending_.size());
        if (w > 0) {
          pending_.erase(0, w);
        } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
          pending_.clear();  // EPIPE: the child closed its stdin
          CloseFd(&in_);
        }
        if (in_ >= 0 && pending_.empty() && close_stdin_) CloseFd(&in_);
      } else {
        char buf[4096];
        ssize_t r = read(*fd, buf, sizeof(buf));
        if (r > 0) {
          (fd == &out_ ? outcome_.out : outcome_.err).append(buf, r);
        } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
          CloseFd(fd);
        }
      }
    }
  }

  absl::Time start_;
  pid_t pid_ = -1;
  bool reaped_ = false;
  int in_ = -1, out_ = -1, err_ = -1;
  std::string pending_;
  bool close_stdin_ = false;
  Outcome outcome_;
};

// Runs ringbufctl to completion with `stdin_data` as its whole stdin.
Outcome RunCtl(std::vector<std::string> args, absl::string_view stdin_data = "",
               mode_t child_umask = 022) {
  Ctl ctl(std::move(args), child_umask);
  ctl.Feed(stdin_data);
  ctl.CloseStdin();
  return ctl.Finish();
}

// Runs ringbufctl with `stdout_fd` as its stdout (not captured).
Outcome RunCtlToFd(std::vector<std::string> args, int stdout_fd,
                   absl::string_view stdin_data = "") {
  Ctl ctl(std::move(args), 022, stdout_fd);
  ctl.Feed(stdin_data);
  ctl.CloseStdin();
  return ctl.Finish();
}

// ---------------------------------------------------------------------------
// Judging outcomes.

::testing::AssertionResult Succeeded(const Outcome& o) {
  if (o.code() == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "expected exit 0:" << o.Describe();
}

::testing::AssertionResult TimedOut(const Outcome& o) {
  if (o.code() == 3) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "expected exit 3 (timeout expired):" << o.Describe();
}

// A failure other than a timeout: the process exited by itself (no signal, no
// hang) with a code in 1..127 other than 3, and wrote exactly one non-empty
// line to stderr that contains `mention` (if `mention` is non-empty).
::testing::AssertionResult FailedCleanly(const Outcome& o,
                                         absl::string_view mention = "") {
  if (!o.Exited()) {
    return ::testing::AssertionFailure()
           << "expected a clean failure, but it crashed or hung:"
           << o.Describe();
  }
  int code = o.code();
  if (code == 0 || code == 3 || code >= 128) {
    return ::testing::AssertionFailure()
           << "expected an exit code in 1..127 other than 3:" << o.Describe();
  }
  absl::string_view err = o.err;
  if (absl::EndsWith(err, "\n")) err.remove_suffix(1);
  if (err.empty() || absl::StrContains(err, '\n')) {
    return ::testing::AssertionFailure()
           << "expected exactly one line on stderr:" << o.Describe();
  }
  if (!mention.empty() && !absl::StrContains(err, mention)) {
    return ::testing::AssertionFailure()
           << "expected stderr to name \"" << mention << "\":" << o.Describe();
  }
  return ::testing::AssertionSuccess();
}

// ---------------------------------------------------------------------------
// Preparing and inspecting queues through the library (inspection trusts
// any owner: the two-user tests look into other users' queues).

// "/rbt-..." -> "rbt-...": the bare spelling of a queue name. Error messages
// must contain it whichever spelling the queue was given in.
std::string Bare(const std::string& name) {
  return absl::StartsWith(name, "/") ? name.substr(1) : name;
}

void MakeQueue(const std::string& name, uint64_t capacity, uint32_t slot_size,
               const std::vector<std::string>& messages = {}) {
  Options o;
  o.capacity = capacity;
  o.slot_size = slot_size;
  absl::StatusOr<Queue> q = Queue::Create(name, o);
  ASSERT_TRUE(q.ok()) << q.status();
  for (const std::string& m : messages) ASSERT_TRUE(q->TrySend(m).ok()) << m;
}

// Takes every message now in the queue, in order.
std::vector<std::string> Drain(const std::string& name) {
  std::vector<std::string> got;
  absl::StatusOr<Queue> q = Queue::Open(name, Trust::Any());
  EXPECT_TRUE(q.ok()) << q.status();
  if (!q.ok()) return got;
  std::string m;
  while (q->TryReceive(&m).ok()) got.push_back(m);
  return got;
}

// Takes exactly the oldest message (a blocked sender may refill the slot at
// once, so Drain's "until empty" would race with it).
std::string TakeOne(const std::string& name) {
  absl::StatusOr<Queue> q = Queue::Open(name);
  EXPECT_TRUE(q.ok()) << q.status();
  std::string m;
  if (q.ok()) EXPECT_TRUE(q->TryReceive(&m).ok());
  return m;
}

uint64_t Depth(const std::string& name) {
  absl::StatusOr<Queue> q = Queue::Open(name, Trust::Any());
  EXPECT_TRUE(q.ok()) << q.status();
  return q.ok() ? q->GetStats().depth : ~uint64_t{0};
}

bool Exists(const std::string& name) {
  absl::StatusOr<Queue> q = Queue::Open(name, Trust::Any());
  EXPECT_TRUE(q.ok() || absl::IsNotFound(q.status())) << q.status();
  return q.ok();
}

// Permission bits of the shared-memory object, or -1 if it cannot be opened.
int ObjectMode(const std::string& name) {
  int fd = shm_open(name.c_str(), O_RDONLY, 0);
  if (fd < 0) return -1;
  struct stat st;
  int r = fstat(fd, &st);
  close(fd);
  return r == 0 ? static_cast<int>(st.st_mode & 07777) : -1;
}

using Lines = std::vector<std::string>;

// ---------------------------------------------------------------------------
// Reading `stat` output.

// Parses `text` as exactly one flat JSON object (string keys; string, number,
// true, false or null values; whitespace around tokens) and nothing else.
// Nested objects and arrays, duplicate keys and trailing garbage are errors.
// Values are kept as their raw JSON text.
bool ParseFlatJsonObject(absl::string_view text,
                         std::map<std::string, std::string>* out,
                         std::string* error) {
  size_t i = 0;
  auto fail = [&](const std::string& why) {
    *error = absl::StrCat(why, " at offset ", i);
    return false;
  };
  auto ws = [&] {
    while (i < text.size() && strchr(" \t\r\n", text[i]) != nullptr) ++i;
  };
  auto string_token = [&](std::string* s) {
    if (i >= text.size() || text[i] != '"') return false;
    size_t begin = i++;
    while (i < text.size() && text[i] != '"') {
      unsigned char c = text[i];
      if (c < 0x20) return false;
      if (c == '\\') {
        if (++i >= text.size()) return false;
        if (text[i] == 'u') {
          for (int k = 0; k < 4; ++k) {
            if (++i >= text.size() || !isxdigit(text[i])) return false;
          }
        } else if (strchr("\"\\/bfnrt", text[i]) == nullptr) {
          return false;
        }
      }
      ++i;
    }
    if (i >= text.size()) return false;
    ++i;
    *s = std::string(text.substr(begin + 1, i - begin - 2));
    return true;
  };
  auto digits = [&] {
    size_t b = i;
    while (i < text.size() && isdigit(text[i])) ++i;
    return i > b;
  };
  auto value_token = [&](std::string* v) {
    size_t begin = i;
    if (i < text.size() && text[i] == '"') {
      std::string s;
      if (!string_token(&s)) return false;
    } else if (i < text.size() && (text[i] == '-' || isdigit(text[i]))) {
      if (text[i] == '-') ++i;
      if (i < text.size() && text[i] == '0') {
        ++i;
      } else if (!digits()) {
        return false;
      }
      if (i < text.size() && text[i] == '.' && (++i, !digits())) return false;
      if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
        ++i;
        if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
        if (!digits()) return false;
      }
    } else {
      bool literal = false;
      for (absl::string_view lit : {"true", "false", "null"}) {
        if (absl::StartsWith(text.substr(i), lit)) {
          i += lit.size();
          literal = true;
          break;
        }
      }
      if (!literal) return false;  // includes '{' and '[': not flat
    }
    *v = std::string(text.substr(begin, i - begin));
    return true;
  };

  ws();
  if (i >= text.size() || text[i] != '{') return fail("expected '{'");
  ++i;
  ws();
  if (i < text.size() && text[i] == '}') {
    ++i;
  } else {
    for (;;) {
      ws();
      std::string key, value;
      if (!string_token(&key)) return fail("expected a string key");
      ws();
      if (i >= text.size() || text[i] != ':') return fail("expected ':'");
      ++i;
      ws();
      if (!value_token(&value)) {
        return fail("expected a string, number or literal value");
      }
      if (!out->emplace(key, value).second) return fail("duplicate key");
      ws();
      if (i < text.size() && text[i] == ',') {
        ++i;
        continue;
      }
      if (i < text.size() && text[i] == '}') {
        ++i;
        break;
      }
      return fail("expected ',' or '}'");
    }
  }
  ws();
  if (i != text.size()) return fail("trailing text after the object");
  return true;
}

// The first decimal number after the first occurrence (case-insensitive) of
// the first of `keywords` found in `text`; -1 if none is found.
int64_t NumberAfter(absl::string_view text,
                    std::initializer_list<absl::string_view> keywords) {
  std::string lower = absl::AsciiStrToLower(text);
  for (absl::string_view k : keywords) {
    size_t at = lower.find(absl::AsciiStrToLower(k));
    if (at == std::string::npos) continue;
    size_t d = at + k.size();
    while (d < lower.size() && !isdigit(lower[d])) {
      if (lower[d] == '\n') return -1;  // the number must be on its line
      ++d;
    }
    if (d == lower.size()) return -1;
    int64_t n = 0;
    while (d < lower.size() && isdigit(lower[d]))
      n = n * 10 + (lower[d++] - '0');
    return n;
  }
  return -1;
}

// ===========================================================================
// create

TEST(CliCreate, MakesAnEmptyQueueWithTheGivenGeometryAndMode0600ByDefault) {
  ScopedQueueName name;
  Outcome o = RunCtl({"create", name, "--capacity=5", "--slot_size=64"});
  ASSERT_TRUE(Succeeded(o));
  absl::StatusOr<Queue> q = Queue::Open(name);
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->capacity(), 5u);
  EXPECT_EQ(q->slot_size(), 64u);
  EXPECT_EQ(q->GetStats().depth, 0u);
  EXPECT_EQ(ObjectMode(name), 0600);
}

TEST(CliCreate, AppliesTheModeExactlyWhateverTheUmask) {
  ScopedQueueName restrictive("restrictive-umask");
  ScopedQueueName open("open-mode");
  // A umask of 077 must not strip group bits from 0640 ...
  ASSERT_TRUE(Succeeded(RunCtl(
      {"create", restrictive, "--capacity=2", "--slot_size=8", "--mode=0640"},
      "", /*child_umask=*/077)));
  EXPECT_EQ(ObjectMode(restrictive), 0640);
  // ... and a umask of 022 must not strip write bits from 0666.
  ASSERT_TRUE(Succeeded(RunCtl(
      {"create", open, "--capacity=2", "--slot_size=8", "--mode=0666"}, "",
      /*child_umask=*/022)));
  EXPECT_EQ(ObjectMode(open), 0666);
}

TEST(CliCreate, RefusesAnExistingNameAndLeavesThatQueueUntouched) {
  ScopedQueueName name;
  MakeQueue(name, 3, 16, {"kept"});
  Outcome o = RunCtl({"create", name, "--capacity=9", "--slot_size=99"});
  EXPECT_TRUE(FailedCleanly(o, Bare(name)));
  absl::StatusOr<Queue> q = Queue::Open(name);
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->capacity(), 3u);
  EXPECT_EQ(q->slot_size(), 16u);
  EXPECT_EQ(Drain(name), Lines{"kept"});
}

TEST(CliCreate, RefusesMissingOrInvalidGeometryAndModeWithoutCreating) {
  ScopedQueueName name;
  const std::vector<std::vector<std::string>> flag_sets = {
      {"--slot_size=8"},  // no --capacity
      {"--capacity=2"},   // no --slot_size
      {"--capacity=0", "--slot_size=8"},
      {"--capacity=-1", "--slot_size=8"},
      {"--capacity=abc", "--slot_size=8"},
      {absl::StrCat("--capacity=", kMaxCapacity + 1), "--slot_size=8"},
      {"--capacity=2", "--slot_size=0"},
      {"--capacity=2", "--slot_size=-5"},
      {"--capacity=2",
       absl::StrCat("--slot_size=", uint64_t{kMaxSlotSize} + 1)},
      {"--capacity=2", "--slot_size=8", "--mode=abc"},
      {"--capacity=2", "--slot_size=8", "--mode=0999"},  // not octal
  };
  for (const auto& flags : flag_sets) {
    std::vector<std::string> args = {"create", name};
    args.insert(args.end(), flags.begin(), flags.end());
    Outcome o = RunCtl(args);
    EXPECT_TRUE(FailedCleanly(o, Bare(name)));
    EXPECT_FALSE(Exists(name)) << "created anyway:" << o.Describe();
    (void)Queue::Remove(name);
  }
}

// ===========================================================================
// send

TEST(CliSend, EachArgumentIsOneMessage) {
  ScopedQueueName name;
  MakeQueue(name, 8, 32);
  ASSERT_TRUE(Succeeded(RunCtl({"send", name, "hello world", "second", "3"})));
  EXPECT_EQ(Drain(name), (Lines{"hello world", "second", "3"}));
}

TEST(CliSend, AnEmptyArgumentIsAnEmptyMessage) {
  ScopedQueueName name;
  MakeQueue(name, 8, 32);
  ASSERT_TRUE(Succeeded(RunCtl({"send", name, "", "x"})));
  EXPECT_EQ(Drain(name), (Lines{"", "x"}));
}

TEST(CliSend, StdinLinesAreMessagesWithoutNewlineAndAreEchoedInOrder) {
  ScopedQueueName name;
  MakeQueue(name, 8, 32);
  const std::string input = "alpha\nbeta gamma\n\ndelta\n";
  Outcome o = RunCtl({"send", name}, input);
  ASSERT_TRUE(Succeeded(o));
  EXPECT_EQ(o.out, input) << o.Describe();
  EXPECT_EQ(Drain(name), (Lines{"alpha", "beta gamma", "", "delta"}));
}

TEST(CliSend, AFinalLineWithoutNewlineIsStillAMessage) {
  ScopedQueueName name;
  MakeQueue(name, 8, 32);
  Outcome o = RunCtl({"send", name}, "first\nlast");
  ASSERT_TRUE(Succeeded(o));
  // Whether the echo of an unterminated line gets a newline is not specified.
  EXPECT_TRUE(o.out == "first\nlast" || o.out == "first\nlast\n")
      << o.Describe();
  EXPECT_EQ(Drain(name), (Lines{"first", "last"}));
}

TEST(CliSend, EchoesEachStdinLineOnlyOnceCommittedAndFlushesItAtOnce) {
  ScopedQueueName name;
  MakeQueue(name, 8, 32);
  Ctl ctl({"send", name});
  ctl.Feed("one\n");
  ASSERT_TRUE(ctl.AwaitStdout("one\n", kPrompt)) << ctl.Finish().Describe();
  // The echo arrived while stdin is still open: it was flushed per line, and
  // the message was already in the queue when it was written.
  EXPECT_TRUE(ctl.Running());
  EXPECT_EQ(Depth(name), 1u);
  ctl.Feed("two\n");
  ASSERT_TRUE(ctl.AwaitStdout("one\ntwo\n", kPrompt))
      << ctl.Finish().Describe();
  EXPECT_EQ(Depth(name), 2u);
  ctl.CloseStdin();
  Outcome o = ctl.Finish();
  ASSERT_TRUE(Succeeded(o));
  EXPECT_EQ(o.out, "one\ntwo\n");
  EXPECT_EQ(Drain(name), (Lines{"one", "two"}));
}

TEST(CliSend, FullQueueWithTimeoutExits3AndEchoesExactlyTheCommittedLines) {
  ScopedQueueName name;
  MakeQueue(name, 2, 16);
  Outcome o = RunCtl({"send", name, "--timeout=300ms"}, "l1\nl2\nl3\nl4\nl5\n");
  ASSERT_TRUE(TimedOut(o));
  EXPECT_EQ(o.out, "l1\nl2\n") << o.Describe();
  EXPECT_GE(o.elapsed, absl::Milliseconds(300)) << o.Describe();
  EXPECT_LT(o.elapsed, kPrompt) << o.Describe();
  EXPECT_EQ(Drain(name), (Lines{"l1", "l2"}));
}

TEST(CliSend, FullQueueWithTimeoutExits3ForArgumentsToo) {
  ScopedQueueName name;
  MakeQueue(name, 1, 16);
  Outcome o = RunCtl({"send", name, "--timeout=200ms", "a", "b", "c"});
  ASSERT_TRUE(TimedOut(o));
  EXPECT_GE(o.elapsed, absl::Milliseconds(200)) << o.Describe();
  EXPECT_LT(o.elapsed, kPrompt) << o.Describe();
  EXPECT_EQ(Drain(name), Lines{"a"});
}

TEST(CliSend, ZeroTimeoutOnAFullQueueExits3AtOnceAndEnqueuesNothing) {
  ScopedQueueName name;
  MakeQueue(name, 1, 16, {"old"});
  Outcome o = RunCtl({"send", name, "--timeout=0", "new"});
  ASSERT_TRUE(TimedOut(o));
  EXPECT_LT(o.elapsed, kPrompt) << o.Describe();
  EXPECT_EQ(Drain(name), Lines{"old"});
}

TEST(CliSend, WaitsForeverByDefaultUntilASlotFrees) {
  ScopedQueueName name;
  MakeQueue(name, 1, 16, {"old"});
  Ctl ctl({"send", name, "new"});
  // The sender is asleep on the full queue (not exited, not spinning).
  ASSERT_TRUE(AwaitSleeper(name, Side::kSenders, kPrompt))
      << ctl.Finish(absl::ZeroDuration()).Describe();
  ASSERT_TRUE(ctl.Running());
  std::string got;
  {
    absl::StatusOr<Queue> q = Queue::Open(name);
    ASSERT_TRUE(q.ok()) << q.status();
    ASSERT_TRUE(q->TryReceive(&got).ok());
  }
  EXPECT_EQ(got, "old");
  ASSERT_TRUE(Succeeded(ctl.Finish()));
  EXPECT_EQ(Drain(name), Lines{"new"});
}

TEST(CliSend, InfTimeoutWaitsUntilASlotFrees) {
  ScopedQueueName name;
  MakeQueue(name, 1, 16, {"old"});
  Ctl ctl({"send", name, "--timeout=inf"});
  ctl.Feed("new\n");
  ASSERT_TRUE(AwaitSleeper(name, Side::kSenders, kPrompt))
      << ctl.Finish(absl::ZeroDuration()).Describe();
  ASSERT_TRUE(ctl.Running());
  EXPECT_EQ(TakeOne(name), "old");  // frees the slot it waits for
  ASSERT_TRUE(ctl.AwaitStdout("new\n", kPrompt)) << ctl.Finish().Describe();
  ctl.CloseStdin();
  ASSERT_TRUE(Succeeded(ctl.Finish()));
  EXPECT_EQ(Drain(name), Lines{"new"});
}

TEST(CliSend, ALineOfExactlySlotSizeBytesIsAccepted) {
  ScopedQueueName name;
  MakeQueue(name, 4, 4);
  Outcome o = RunCtl({"send", name}, "abcd\n");
  ASSERT_TRUE(Succeeded(o));
  EXPECT_EQ(o.out, "abcd\n");
  EXPECT_EQ(Drain(name), Lines{"abcd"});
}

TEST(CliSend, ALineLongerThanTheSlotIsRefusedAfterEarlierLinesCommit) {
  ScopedQueueName name;
  MakeQueue(name, 4, 4);
  Outcome o = RunCtl({"send", name}, "abcd\nabcde\nzz\n");
  EXPECT_TRUE(FailedCleanly(o, Bare(name)));
  EXPECT_TRUE(absl::StartsWith(o.out, "abcd\n")) << o.Describe();
  EXPECT_FALSE(absl::StrContains(o.out, "abcde")) << o.Describe();
  // Whether lines after the refused one are still sent is not specified;
  // the refused one must not be in the queue, and the earlier one must be.
  Lines got = Drain(name);
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got[0], "abcd");
  for (const std::string& m : got) EXPECT_NE(m, "abcde");
}

TEST(CliSend, AnArgumentLongerThanTheSlotIsRefused) {
  ScopedQueueName name;
  MakeQueue(name, 4, 4);
  Outcome o = RunCtl({"send", name, "ok", "much-too-long"});
  EXPECT_TRUE(FailedCleanly(o, Bare(name)));
  for (const std::string& m : Drain(name)) EXPECT_NE(m, "much-too-long");
}

// ===========================================================================
// recv

TEST(CliRecv, CountStopsAfterNMessagesAndLeavesTheRest) {
  ScopedQueueName name;
  MakeQueue(name, 8, 16, {"m1", "m2", "m3"});
  Outcome o = RunCtl({"recv", name, "--count=2"});
  ASSERT_TRUE(Succeeded(o));
  EXPECT_EQ(o.out, "m1\nm2\n");
  EXPECT_EQ(Drain(name), Lines{"m3"});
}

TEST(CliRecv, WithoutCountDrainsTheQueueAndReturnsWhenEmpty) {
  ScopedQueueName name;
  MakeQueue(name, 8, 16, {"a", "", "c d"});
  Outcome o = RunCtl({"recv", name});
  ASSERT_TRUE(Succeeded(o));
  EXPECT_EQ(o.out, "a\n\nc d\n");
  EXPECT_LT(o.elapsed, kPrompt) << o.Describe();
  EXPECT_EQ(Depth(name), 0u);
}

TEST(CliRecv, WithoutCountTheDefaultTimeoutIsZeroOnAnEmptyQueue) {
  ScopedQueueName name;
  MakeQueue(name, 8, 16);
  Outcome o = RunCtl({"recv", name});
  ASSERT_TRUE(Succeeded(o));
  EXPECT_EQ(o.out, "");
  EXPECT_LT(o.elapsed, kPrompt) << o.Describe();
}

TEST(CliRecv, WithoutCountATimeoutThatPassesEmptyEndsWithExit0) {
  ScopedQueueName name;
  MakeQueue(name, 8, 16);
  Outcome o = RunCtl({"recv", name, "--timeout=300ms"});
  ASSERT_TRUE(Succeeded(o));
  EXPECT_EQ(o.out, "");
  EXPECT_GE(o.elapsed, absl::Milliseconds(300)) << o.Describe();
  EXPECT_LT(o.elapsed, kPrompt) << o.Describe();
}

TEST(CliRecv, WithoutCountKeepsReceivingUntilNothingArrivesWithinTheTimeout) {
  ScopedQueueName name;
  MakeQueue(name, 8, 16);
  const absl::Duration timeout = absl::Seconds(2);
  Ctl ctl({"recv", name, "--timeout=2s"});
  // It waits on the empty queue instead of returning ...
  ASSERT_TRUE(AwaitSleeper(name, Side::kReceivers, kPrompt))
      << ctl.Finish(absl::ZeroDuration()).Describe();
  {
    absl::StatusOr<Queue> q = Queue::Open(name);
    ASSERT_TRUE(q.ok()) << q.status();
    ASSERT_TRUE(q->TrySend("late").ok());
  }
  // ... prints what arrives as it arrives ...
  ASSERT_TRUE(ctl.AwaitStdout("late\n", kPrompt)) << ctl.Finish().Describe();
  // ... and only stops once a whole timeout has passed with nothing.
  Outcome o = ctl.Finish();
  ASSERT_TRUE(Succeeded(o));
  EXPECT_EQ(o.out, "late\n");
  EXPECT_GE(o.elapsed, timeout) << o.Describe();
  EXPECT_LT(o.elapsed, timeout + kPrompt) << o.Describe();
}

TEST(CliRecv, CountWithTimeoutExits3AndPrintsWhatDidArrive) {
  ScopedQueueName name;
  MakeQueue(name, 8, 16, {"only"});
  Outcome o = RunCtl({"recv", name, "--count=3", "--timeout=200ms"});
  ASSERT_TRUE(TimedOut(o));
  EXPECT_EQ(o.out, "only\n") << o.Describe();
  EXPECT_GE(o.elapsed, absl::Milliseconds(200)) << o.Describe();
  EXPECT_LT(o.elapsed, kPrompt) << o.Describe();
  EXPECT_EQ(Depth(name), 0u);
}

TEST(CliRecv, WithCountWaitsForeverByDefaultAndFlushesEachMessage) {
  ScopedQueueName name;
  MakeQueue(name, 8, 16);
  Ctl ctl({"recv", name, "--count=2"});
  ASSERT_TRUE(AwaitSleeper(name, Side::kReceivers, kPrompt))
      << ctl.Finish(absl::ZeroDuration()).Describe();
  ASSERT_TRUE(ctl.Running());
  absl::StatusOr<Queue> q = Queue::Open(name);
  ASSERT_TRUE(q.ok()) << q.status();
  ASSERT_TRUE(q->TrySend("first").ok());
  // Printed and flushed while the process still waits for the second one.
  ASSERT_TRUE(ctl.AwaitStdout("first\n", kPrompt)) << ctl.Finish().Describe();
  EXPECT_TRUE(ctl.Running());
  ASSERT_TRUE(q->TrySend("second").ok());
  Outcome o = ctl.Finish();
  ASSERT_TRUE(Succeeded(o));
  EXPECT_EQ(o.out, "first\nsecond\n");
}

TEST(CliRecv, InfTimeoutWaitsForTheMessage) {
  ScopedQueueName name;
  MakeQueue(name, 8, 16);
  Ctl ctl({"recv", name, "--count=1", "--timeout=inf"});
  ASSERT_TRUE(AwaitSleeper(name, Side::kReceivers, kPrompt))
      << ctl.Finish(absl::ZeroDuration()).Describe();
  ASSERT_TRUE(ctl.Running());
  {
    absl::StatusOr<Queue> q = Queue::Open(name);
    ASSERT_TRUE(q.ok()) << q.status();
    ASSERT_TRUE(q->TrySend("eventually").ok());
  }
  Outcome o = ctl.Finish();
  ASSERT_TRUE(Succeeded(o));
  EXPECT_EQ(o.out, "eventually\n");
}

// ===========================================================================
// stat

// Capacity 7, slot 48; five sent, two received: depth 3, head 2, tail 5.
void PrepareStatQueue(const std::string& name) {
  ASSERT_TRUE(
      Succeeded(RunCtl({"create", name, "--capacity=7", "--slot_size=48"})));
  ASSERT_TRUE(Succeeded(RunCtl({"send", name, "a", "b", "c", "d", "e"})));
  Outcome r = RunCtl({"recv", name, "--count=2"});
  ASSERT_TRUE(Succeeded(r));
  ASSERT_EQ(r.out, "a\nb\n");
}

TEST(CliStat, TextShowsCapacitySlotSizeDepthHeadTailAndTotals) {
  ScopedQueueName name;
  PrepareStatQueue(name);
  Outcome o = RunCtl({"stat", name});
  ASSERT_TRUE(Succeeded(o));
  // The queue name (which holds this test's name) may be printed; keep its
  // words out of the keyword search.
  const std::string text = absl::StrReplaceAll(o.out, {{Bare(name), "NAME"}});
  EXPECT_EQ(NumberAfter(text, {"capacity"}), 7) << o.Describe();
  EXPECT_EQ(NumberAfter(text, {"slot_size", "slot size", "slot-size", "slot"}),
            48)
      << o.Describe();
  EXPECT_EQ(NumberAfter(text, {"depth"}), 3) << o.Describe();
  EXPECT_EQ(NumberAfter(text, {"head"}), 2) << o.Describe();
  EXPECT_EQ(NumberAfter(text, {"tail"}), 5) << o.Describe();
  EXPECT_EQ(NumberAfter(text, {"total_sent", "sent"}), 5) << o.Describe();
  EXPECT_EQ(NumberAfter(text, {"total_received", "received", "recv"}), 2)
      << o.Describe();
  EXPECT_EQ(Depth(name), 3u);  // looking does not take anything
}

TEST(CliStat, JsonIsOneFlatObjectWithCapacitySlotSizeAndDepth) {
  ScopedQueueName name;
  PrepareStatQueue(name);
  Outcome o = RunCtl({"stat", name, "--json"});
  ASSERT_TRUE(Succeeded(o));
  std::map<std::string, std::string> fields;
  std::string error;
  ASSERT_TRUE(ParseFlatJsonObject(o.out, &fields, &error))
      << error << o.Describe();
  EXPECT_EQ(fields["capacity"], "7") << o.Describe();
  EXPECT_EQ(fields["slot_size"], "48") << o.Describe();
  EXPECT_EQ(fields["depth"], "3") << o.Describe();
  EXPECT_EQ(Depth(name), 3u);
}

// Priorities: create --priorities, send --priority, recv --show_priority
// (highest first, FIFO within one), stat's depth per priority (flat JSON).
TEST(CliPriorities, CreateSendRecvAndStatPerPriority) {
  ScopedQueueName name;
  ASSERT_TRUE(Succeeded(RunCtl({"create", name, "--capacity=8",
                                "--slot_size=32", "--priorities=4"})));
  ASSERT_TRUE(Succeeded(RunCtl({"send", name, "low1", "low2"})));
  ASSERT_TRUE(Succeeded(RunCtl({"send", name, "--priority=3", "urgent"})));
  ASSERT_TRUE(Succeeded(RunCtl({"send", name, "--priority=1"}, "mid\n")));
  Outcome refused = RunCtl({"send", name, "--priority=4", "x"});
  EXPECT_EQ(refused.code(), 1) << refused.Describe();
  EXPECT_NE(refused.err.find("priority 4"), std::string::npos)
      << refused.Describe();
  Outcome st = RunCtl({"stat", name, "--json"});
  ASSERT_TRUE(Succeeded(st));
  std::map<std::string, std::string> fields;
  std::string error;
  ASSERT_TRUE(ParseFlatJsonObject(st.out, &fields, &error))
      << error << st.Describe();
  EXPECT_EQ(fields["priorities"], "4") << st.Describe();
  EXPECT_EQ(fields["depth"], "4") << st.Describe();
  EXPECT_EQ(fields["depth_priority_0"], "2") << st.Describe();
  EXPECT_EQ(fields["depth_priority_1"], "1") << st.Describe();
  EXPECT_EQ(fields["depth_priority_2"], "0") << st.Describe();
  EXPECT_EQ(fields["depth_priority_3"], "1") << st.Describe();
  Outcome o = RunCtl({"recv", name, "--show_priority"});
  ASSERT_TRUE(Succeeded(o));
  EXPECT_EQ(o.out, "3\turgent\n1\tmid\n0\tlow1\n0\tlow2\n") << o.Describe();
}

TEST(CliPriorities, BadPriorityFlagsAreUsageErrors) {
  ScopedQueueName name;
  for (const char* bad : {"--priorities=0", "--priorities=33",
                          "--priorities=two"}) {
    Outcome o = RunCtl({"create", name, "--capacity=2", "--slot_size=8", bad});
    EXPECT_EQ(o.code(), 2) << o.Describe();
    EXPECT_FALSE(Exists(name)) << bad;
  }
  ASSERT_TRUE(Succeeded(
      RunCtl({"create", name, "--capacity=2", "--slot_size=8"})));
  for (const char* bad : {"--priority=-1", "--priority=abc", "--priority=32"}) {
    Outcome o = RunCtl({"send", name, bad, "x"});
    EXPECT_EQ(o.code(), 2) << o.Describe();
  }
  EXPECT_EQ(Depth(name), 0u);
  // --priority belongs to send, --show_priority to recv.
  EXPECT_EQ(RunCtl({"recv", name, "--priority=0"}).code(), 2);
  EXPECT_EQ(RunCtl({"send", name, "--show_priority", "x"}).code(), 2);
}

TEST(CliStat, TheFlatJsonCheckerRejectsWhatIsNotOneFlatObject) {
  std::map<std::string, std::string> f;
  std::string e;
  EXPECT_TRUE(
      ParseFlatJsonObject(" {\"a\": 1, \"b\": \"x\\\"y\", \"c\": -2.5e3,"
                          " \"d\": true, \"e\": null}\n",
                          &f, &e))
      << e;
  EXPECT_EQ(f["a"], "1");
  EXPECT_EQ(f["c"], "-2.5e3");
  for (absl::string_view bad :
       {"", "{", "{}{}", "{\"a\":1,}", "{\"a\":{\"b\":1}}", "{\"a\":[1]}",
        "{a:1}", "{\"a\":01}", "{\"a\":1,\"a\":2}", "capacity: 7",
        "{\"a\":1} trailing"}) {
    f.clear();
    EXPECT_FALSE(ParseFlatJsonObject(bad, &f, &e)) << bad;
  }
}

// ===========================================================================
// rm

TEST(CliRm, UnlinksTheQueueAndLaterCommandsFailNamingIt) {
  ScopedQueueName name;
  MakeQueue(name, 2, 8, {"x"});
  ASSERT_TRUE(Succeeded(RunCtl({"rm", name})));
  EXPECT_FALSE(Exists(name));
  EXPECT_TRUE(FailedCleanly(RunCtl({"stat", name}), Bare(name)));
  EXPECT_TRUE(FailedCleanly(RunCtl({"rm", name}), Bare(name)));
}

// ===========================================================================
// names

TEST(CliNames, BareAndSlashedSpellingsReachTheSameQueue) {
  ScopedQueueName slashed_name;
  const std::string slashed = slashed_name;
  const std::string bare = Bare(slashed);
  ASSERT_NE(bare, slashed);
  ASSERT_TRUE(
      Succeeded(RunCtl({"create", bare, "--capacity=4", "--slot_size=16"})));
  ASSERT_TRUE(Exists(slashed));
  EXPECT_TRUE(FailedCleanly(
      RunCtl({"create", slashed, "--capacity=4", "--slot_size=16"}), bare));
  ASSERT_TRUE(Succeeded(RunCtl({"send", slashed, "via-slash"})));
  ASSERT_TRUE(Succeeded(RunCtl({"send", bare, "via-bare"})));
  Outcome st = RunCtl({"stat", bare, "--json"});
  ASSERT_TRUE(Succeeded(st));
  std::map<std::string, std::string> fields;
  std::string error;
  ASSERT_TRUE(ParseFlatJsonObject(st.out, &fields, &error)) << error;
  EXPECT_EQ(fields["depth"], "2") << st.Describe();
  Outcome r = RunCtl({"recv", bare, "--count=1"});
  ASSERT_TRUE(Succeeded(r));
  EXPECT_EQ(r.out, "via-slash\n");
  r = RunCtl({"recv", slashed, "--count=1"});
  ASSERT_TRUE(Succeeded(r));
  EXPECT_EQ(r.out, "via-bare\n");
  ASSERT_TRUE(Succeeded(RunCtl({"rm", bare})));
  EXPECT_FALSE(Exists(slashed));
}

TEST(CliNames, InvalidNamesAreRefusedByEverySubcommand) {
  const std::string long_name(300, 'n');
  for (const std::string& bad :
       {std::string("a/b"), std::string("/a/b"), std::string("/"), long_name}) {
    const std::string mention = bad == "/" ? "" : Bare(bad);
    for (const std::vector<std::string>& args :
         std::vector<std::vector<std::string>>{
             {"create", bad, "--capacity=2", "--slot_size=8"},
             {"send", bad, "--timeout=0", "x"},
             {"recv", bad},
             {"recv", bad, "--count=1", "--timeout=0"},
             {"stat", bad},
             {"stat", bad, "--json"},
             {"rm", bad}}) {
      EXPECT_TRUE(FailedCleanly(RunCtl(args), mention));
    }
  }
  // An empty name is refused too (there is nothing to name in the message).
  EXPECT_TRUE(
      FailedCleanly(RunCtl({"create", "", "--capacity=2", "--slot_size=8"})));
  EXPECT_TRUE(FailedCleanly(RunCtl({"stat", ""})));
}

// ===========================================================================
// bad input in general

TEST(CliBadInput, NoArgumentsOrAnUnknownSubcommandFailCleanly) {
  ScopedQueueName name;
  MakeQueue(name, 2, 8);
  EXPECT_TRUE(FailedCleanly(RunCtl({})));
  EXPECT_TRUE(FailedCleanly(RunCtl({"frobnicate", name})));
  EXPECT_TRUE(FailedCleanly(RunCtl({"--json"})));
  EXPECT_EQ(Depth(name), 0u);
}

TEST(CliBadInput, AMissingNameFailsCleanlyForEverySubcommand) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{
           {"create", "--capacity=2", "--slot_size=8"},
           {"send"},
           {"send", "--timeout=0"},
           {"recv"},
           {"recv", "--count=1", "--timeout=0"},
           {"stat"},
           {"stat", "--json"},
           {"rm"}}) {
    EXPECT_TRUE(FailedCleanly(RunCtl(args, "line\n")));
  }
}

TEST(CliBadInput, BadDurationsFailCleanlyNamingTheQueueAndChangeNothing) {
  ScopedQueueName name;
  MakeQueue(name, 2, 8, {"kept"});
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{
           {"send", name, "--timeout=soon", "x"},
           {"send", name, "--timeout=5", "x"},  // no unit
           {"send", name, "--timeout="},
           {"recv", name, "--timeout=abc"},
           {"recv", name, "--count=1", "--timeout=1 fortnight"},
           {"recv", name, "--count=1", "--timeout=10xs"}}) {
    EXPECT_TRUE(FailedCleanly(RunCtl(args, "y\n"), Bare(name)));
  }
  EXPECT_EQ(Drain(name), Lines{"kept"});
}

TEST(CliBadInput, BadFlagValuesAndUnknownFlagsFailCleanlyNamingTheQueue) {
  ScopedQueueName name;
  MakeQueue(name, 2, 8, {"kept"});
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{
           {"recv", name, "--count=abc"},
           {"recv", name, "--count=-1"},
           {"recv", name, "--count=99999999999999999999999"},
           {"stat", name, "--bogus=1"},
           {"send", name, "--no_such_flag", "x"}}) {
    EXPECT_TRUE(FailedCleanly(RunCtl(args), Bare(name)));
  }
  EXPECT_EQ(Drain(name), Lines{"kept"});
}

TEST(CliBadInput, ANonexistentQueueFailsCleanlyNamingItAndIsNotCreated) {
  ScopedQueueName name;
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{
           {"send", name, "x"},
           {"send", name, "--timeout=0", "x"},
           {"send", name},
           {"recv", name},
           {"recv", name, "--count=1"},
           {"recv", name, "--count=1", "--timeout=100ms"},
           {"stat", name},
           {"stat", name, "--json"},
           {"rm", name}}) {
    EXPECT_TRUE(FailedCleanly(RunCtl(args, "line\n"), Bare(name)));
    EXPECT_FALSE(Exists(name));
  }
}

TEST(CliBadInput, AnObjectThatIsNotAQueueFailsCleanlyNamingIt) {
  ScopedQueueName name;
  int fd = shm_open(name.get().c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  ASSERT_GE(fd, 0) << strerror(errno);
  ASSERT_EQ(ftruncate(fd, 4096), 0);
  const std::string junk = "this is not a ringbuf queue header";
  ASSERT_EQ(pwrite(fd, junk.data(), junk.size(), 0),
            static_cast<ssize_t>(junk.size()));
  close(fd);
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{
           {"stat", name},
           {"stat", name, "--json"},
           {"send", name, "--timeout=0", "x"},
           {"recv", name},
           {"recv", name, "--count=1", "--timeout=0"}}) {
    EXPECT_TRUE(FailedCleanly(RunCtl(args), Bare(name)));
  }
}

// ===========================================================================
// Nothing lost at the edges (issue 10).

::testing::AssertionResult ExitedWith(const Outcome& o, int code) {
  if (o.code() == code) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "expected exit " << code << ":" << o.Describe();
}

// Opens a descriptor on /dev/full (every write: ENOSPC).
int DevFull() { return open("/dev/full", O_WRONLY | O_CLOEXEC); }

TEST(CliEdges, RecvToAFailingStdoutExits1AndLeavesTheMessages) {
  ScopedQueueName name;
  MakeQueue(name, 8, 16, {"a", "b", "c"});
  const int full = DevFull();
  ASSERT_GE(full, 0);
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{
           {"recv", name, "--count=2"}, {"recv", name}}) {
    Outcome o = RunCtlToFd(args, full);
    EXPECT_TRUE(FailedCleanly(o, Bare(name)));
    EXPECT_TRUE(ExitedWith(o, 1));
    EXPECT_EQ(Depth(name), 3u) << o.Describe();
  }
  close(full);
  EXPECT_EQ(Drain(name), (Lines{"a", "b", "c"}));
}

// The reader is gone before recv writes (SIGPIPE is ignored in this test
// process, and so in its children, as in many supervisors).
TEST(CliEdges, RecvIntoAPipeWithoutReaderExits1AndLeavesTheMessages) {
  ScopedQueueName name;
  MakeQueue(name, 8, 16, {"a", "b", "c"});
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
  close(fds[0]);
  Outcome o = RunCtlToFd({"recv", name}, fds[1]);
  close(fds[1]);
  EXPECT_TRUE(FailedCleanly(o, Bare(name)));
  EXPECT_TRUE(ExitedWith(o, 1));
  EXPECT_EQ(Depth(name), 3u);
}

// recv holds the message (a Peek) while writing it; killed there, stalled on
// a full pipe, it leaves the message in the queue for the next receiver.
TEST(CliEdges, RecvKilledWhileItsStdoutIsStalledLeavesTheMessage) {
  ScopedQueueName name;
  const std::string big(150000, 'x');  // more than a pipe holds
  MakeQueue(name, 2, 200000, {big});
  {
    Ctl ctl({"recv", name, "--count=1"});  // its stdout is never read here
    absl::StatusOr<Queue> q = Queue::Open(name);
    ASSERT_TRUE(q.ok());
    // Wait until it holds the receive lock (Peek here finds it busy).
    const absl::Time end = absl::Now() + kPrompt;
    bool held = false;
    while (!held && absl::Now() < end) {
      absl::StatusOr<Queue::Peeked> p = q->Peek(absl::ZeroDuration());
      held = absl::IsUnavailable(p.status());
    }
    ASSERT_TRUE(held) << "recv never took the receive lock";
    EXPECT_TRUE(ctl.Running());
  }  // SIGKILLs it, mid-write
  absl::StatusOr<Queue> q = Queue::Open(name);
  ASSERT_TRUE(q.ok());
  std::string m;
  ASSERT_TRUE(q->ReceiveFor(&m, kPrompt).ok());
  EXPECT_EQ(m, big);
  EXPECT_EQ(q->GetStats().receive_lock_owner_deaths, 1u);
}

TEST(CliEdges, SendWhoseEchoCannotBeWrittenExits1AfterTheFirstCommit) {
  ScopedQueueName name;
  MakeQueue(name, 8, 16);
  const int full = DevFull();
  ASSERT_GE(full, 0);
  Outcome o = RunCtlToFd({"send", name}, full, "one\ntwo\nthree\n");
  close(full);
  EXPECT_TRUE(FailedCleanly(o, Bare(name)));
  EXPECT_TRUE(ExitedWith(o, 1));
  EXPECT_TRUE(absl::StrContains(o.err, "echo")) << o.Describe();
  // The first line was committed; its echo failed, so nothing more was sent.
  EXPECT_EQ(Drain(name), (Lines{"one"}));
}

// Another consumer holding the receive lock is not an empty queue: the
// drain says so (exit 3) instead of exiting 0 with messages left.
TEST(CliEdges, DrainWhileAnotherConsumerHoldsTheLockIsNotReportedEmpty) {
  ScopedQueueName name;
  MakeQueue(name, 8, 16, {"a", "b", "c"});
  absl::StatusOr<Queue> q = Queue::Open(name);
  ASSERT_TRUE(q.ok());
  absl::StatusOr<Queue::Peeked> held = q->Peek(absl::Seconds(10));
  ASSERT_TRUE(held.ok()) << held.status();
  Outcome o = RunCtl({"recv", name});
  EXPECT_TRUE(TimedOut(o));
  EXPECT_EQ(o.out, "");
  EXPECT_TRUE(absl::StrContains(o.err, "busy")) << o.Describe();
  held = absl::CancelledError("released");  // drops the Peeked: lock free
  Outcome after = RunCtl({"recv", name});
  EXPECT_TRUE(Succeeded(after));
  EXPECT_EQ(after.out, "a\nb\nc\n");
}

// --timeout given through --flagfile or --fromenv counts as given.
TEST(CliEdges, TimeoutFromAFlagfileOrTheEnvironmentIsHonoured) {
  ScopedQueueName name;
  MakeQueue(name, 1, 16, {"full"});
  const std::string flagfile =
      absl::StrCat(getenv("TEST_TMPDIR") ? getenv("TEST_TMPDIR") : "/tmp",
                   "/ringbufctl-flags-", getpid());
  {
    FILE* f = fopen(flagfile.c_str(), "w");
    ASSERT_NE(f, nullptr);
    fputs("--timeout=100ms\n", f);
    fclose(f);
  }
  Ctl send({"send", name, "x", absl::StrCat("--flagfile=", flagfile)});
  EXPECT_TRUE(TimedOut(send.Finish(kPrompt)));
  unlink(flagfile.c_str());
  setenv("FLAGS_timeout", "100ms", 1);
  Ctl recv({"recv", name, "--count=2", "--fromenv=timeout"});
  Outcome o = recv.Finish(kPrompt);
  unsetenv("FLAGS_timeout");
  EXPECT_TRUE(TimedOut(o));
  EXPECT_EQ(o.out, "full\n");
}

TEST(CliEdges, NulFramingCarriesNewlinesBothWays) {
  ScopedQueueName name;
  MakeQueue(name, 8, 32);
  const std::string input("one\nline\0two\0\0last", 18);
  Outcome sent = RunCtl({"send", name, "--format=nul"}, input);
  EXPECT_TRUE(Succeeded(sent));
  EXPECT_EQ(sent.out, std::string("one\nline\0two\0\0last\0", 19));
  Outcome got = RunCtl({"recv", name, "--format=nul"});
  EXPECT_TRUE(Succeeded(got));
  EXPECT_EQ(got.out, std::string("one\nline\0two\0\0last\0", 19));
  EXPECT_TRUE(ExitedWith(RunCtl({"send", name, "--format=csv", "x"}), 2));
}

TEST(CliEdges, QuietSendEchoesNothing) {
  ScopedQueueName name;
  MakeQueue(name, 8, 16);
  Outcome o = RunCtl({"send", name, "--quiet"}, "a\nb\n");
  EXPECT_TRUE(Succeeded(o));
  EXPECT_EQ(o.out, "");
  EXPECT_EQ(Drain(name), (Lines{"a", "b"}));
}

TEST(CliEdges, ASendThatStopsEarlySaysHowManyWentAndWhatStoppedIt) {
  ScopedQueueName name;
  MakeQueue(name, 1, 16);
  Outcome o = RunCtl({"send", name, "--timeout=0", "first", "second", "third"});
  EXPECT_TRUE(TimedOut(o));
  EXPECT_TRUE(absl::StrContains(o.err, "committed 1 of 3")) << o.Describe();
  EXPECT_TRUE(absl::StrContains(o.err, "argument 2 'second'")) << o.Describe();
  TakeOne(name);
  Outcome lines = RunCtl({"send", name, "--timeout=0"}, "x\ny\nz\n");
  EXPECT_TRUE(TimedOut(lines));
  EXPECT_EQ(lines.out, "x\n");
  EXPECT_TRUE(absl::StrContains(lines.err, "committed 1 messages from stdin"))
      << lines.Describe();
  EXPECT_TRUE(absl::StrContains(lines.err, "line 2 'y'")) << lines.Describe();
}

TEST(CliEdges, SizesTakeSuffixesAndModeZeroIsRefused) {
  ScopedQueueName name;
  EXPECT_TRUE(Succeeded(
      RunCtl({"create", name, "--capacity=1k", "--slot_size=4k"})));
  absl::StatusOr<Queue> q = Queue::Open(name);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->capacity(), 1024u);
  EXPECT_EQ(q->slot_size(), 4096u);
  ScopedQueueName other;
  for (const char* mode : {"--mode=0", "--mode=0000", "--mode=0400",
                           "--mode=0066"}) {
    Outcome o =
        RunCtl({"create", other, "--capacity=2", "--slot_size=8", mode});
    EXPECT_TRUE(ExitedWith(o, 2)) << mode;
    EXPECT_FALSE(Exists(other)) << mode;
  }
  EXPECT_TRUE(ExitedWith(
      RunCtl({"create", other, "--capacity=2", "--slot_size=4x"}), 2));
}

// More than /dev/shm holds in all: refused at once (nothing is allocated),
// saying what was needed and what was free.
TEST(CliEdges, ACreateLargerThanDevShmSaysWhatItNeededAndWhatWasFree) {
  struct statvfs vfs;
  ASSERT_EQ(statvfs("/dev/shm", &vfs), 0);
  const uint64_t total = uint64_t{vfs.f_blocks} * vfs.f_frsize;
  const uint64_t slot = kMaxSlotSize;
  const uint64_t capacity = total / slot + 2;
  if (capacity * (slot + 64) > kMaxMappingSize) {
    GTEST_SKIP() << "/dev/shm is larger than the largest queue";
  }
  ScopedQueueName name;
  Outcome o = RunCtl({"create", name, absl::StrCat("--capacity=", capacity),
                      "--slot_size=64m"});
  EXPECT_TRUE(FailedCleanly(o, Bare(name)));
  EXPECT_TRUE(absl::StrContains(o.err, "/dev/shm")) << o.Describe();
  EXPECT_TRUE(absl::StrContains(o.err, "free")) << o.Describe();
  EXPECT_TRUE(absl::StrContains(o.err, "needs")) << o.Describe();
  EXPECT_FALSE(Exists(name));
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define RINGBUF_SANITIZED_RUNTIME 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define RINGBUF_SANITIZED_RUNTIME 1
#endif
#endif

// recv --count --timeout measures on the monotonic clock: with the wall
// clock jumping an hour at every read, a 1 s timeout still lasts 1 s (on
// the wall clock it expired at once).
TEST(CliEdges, RecvCountTimeoutIgnoresWallClockJumps) {
#ifdef RINGBUF_SANITIZED_RUNTIME
  GTEST_SKIP() << "an LD_PRELOAD shim cannot go before the ASan/TSan runtime";
#endif
  if (g_wallclock_jump == nullptr) GTEST_SKIP() << "no wallclock_jump.so given";
  ScopedQueueName name;
  MakeQueue(name, 4, 16, {"only"});
  setenv("LD_PRELOAD", g_wallclock_jump->c_str(), 1);
  const absl::Time start = absl::Now();
  Ctl ctl({"recv", name, "--count=2", "--timeout=1s"});
  unsetenv("LD_PRELOAD");
  Outcome o = ctl.Finish(kPrompt);
  const absl::Duration took = absl::Now() - start;
  EXPECT_TRUE(TimedOut(o));
  EXPECT_EQ(o.out, "only\n");
  EXPECT_GE(took, absl::Seconds(1)) << "expired early:" << o.Describe();
}

TEST(CliHelp, HelpAndVersionExit0) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{
           {"--help"}, {"help"}, {"-h"}, {"recv", "x", "--help"}}) {
    Outcome o = RunCtl(args);
    EXPECT_TRUE(Succeeded(o));
    EXPECT_TRUE(absl::StrContains(o.out, "  list [--json]")) << o.Describe();
    EXPECT_EQ(o.err, "");
  }
  Outcome v = RunCtl({"--version"});
  EXPECT_TRUE(Succeeded(v));
  EXPECT_EQ(v.out, absl::StrCat("ringbufctl ", Version(), "\n"));
}

// The README's reference is the help text, byte for byte.
TEST(CliHelp, TheReadmeReferenceIsTheHelpText) {
  std::ifstream in(testing::RunfilePath("README.md"));
  ASSERT_TRUE(in) << "README.md not in the runfiles";
  std::stringstream readme;
  readme << in.rdbuf();
  const std::string text = readme.str();
  const std::string begin = "<!-- ringbufctl --help: begin -->\n```\n";
  const std::string end = "```\n<!-- ringbufctl --help: end -->";
  const size_t b = text.find(begin);
  const size_t e = text.find(end);
  ASSERT_NE(b, std::string::npos);
  ASSERT_NE(e, std::string::npos);
  const std::string block = text.substr(b + begin.size(), e - b - begin.size());
  Outcome o = RunCtl({"--help"});
  ASSERT_TRUE(Succeeded(o));
  EXPECT_EQ(o.out, block) << "update README.md's block from ringbufctl --help";
}

TEST(CliHelp, AFlagOfAnotherCommandAndABadNameAreUsageErrors) {
  ScopedQueueName name;
  MakeQueue(name, 2, 8);
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{
           {"send", name, "--json", "x"},
           {"stat", name, "--count=1"},
           {"recv", name, "--quiet"},
           {"rm", name, "--timeout=1s"},
           {"list", "--force"},
           {"create", name, "--capacity=2", "--slot_size=8", "--format=nul"}}) {
    Outcome o = RunCtl(args);
    EXPECT_TRUE(ExitedWith(o, 2));
    EXPECT_TRUE(FailedCleanly(o));
  }
  EXPECT_TRUE(Exists(name));
  for (const char* bad : {"a/b", "..", ""}) {
    EXPECT_TRUE(ExitedWith(RunCtl({"stat", bad}), 2)) << bad;
    EXPECT_TRUE(ExitedWith(RunCtl({"recv", bad}), 2)) << bad;
  }
}

TEST(CliList, ShowsQueuesWithOwnerAndModeAndLeavesOtherObjectsOut) {
  ScopedQueueName queue("q"), open_queue("open"), other("other");
  MakeQueue(queue, 4, 16, {"m"});
  ASSERT_TRUE(Succeeded(RunCtl({"create", open_queue, "--capacity=2",
                                "--slot_size=8", "--mode=0666"})));
  int fd = shm_open(other.get().c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(ftruncate(fd, 8192), 0);
  close(fd);
  Outcome o = RunCtl({"list"});
  ASSERT_TRUE(Succeeded(o));
  std::string queue_line, open_line;
  for (absl::string_view line : absl::StrSplit(o.out, '\n')) {
    if (absl::StartsWith(line, queue.get() + " ")) queue_line = std::string(line);
    if (absl::StartsWith(line, open_queue.get() + " ")) open_line = std::string(line);
  }
  EXPECT_TRUE(absl::StrContains(queue_line, " 0600")) << o.Describe();
  EXPECT_FALSE(absl::StrContains(queue_line, "world-writable"));
  EXPECT_TRUE(absl::StrContains(open_line, "0666 world-writable"))
      << o.Describe();
  EXPECT_FALSE(absl::StrContains(o.out, other.get())) << o.Describe();
  Outcome json = RunCtl({"list", "--json"});
  ASSERT_TRUE(Succeeded(json));
  EXPECT_TRUE(absl::StartsWith(json.out, "[")) << json.Describe();
  EXPECT_TRUE(absl::StrContains(
      json.out, absl::StrCat("{\"name\":\"", queue.get(),
                             "\",\"capacity\":4,\"slot_size\":16,\"depth\":1,")))
      << json.Describe();
  EXPECT_TRUE(absl::StrContains(json.out, "\"mode\":\"0666\",\"world_writable\":true"))
      << json.Describe();
  EXPECT_FALSE(absl::StrContains(json.out, other.get()));
}

TEST(CliStat, ShowsOwnerAndModeAndFlagsAWorldWritableQueue) {
  ScopedQueueName name;
  ASSERT_TRUE(Succeeded(RunCtl(
      {"create", name, "--capacity=2", "--slot_size=8", "--mode=0602"})));
  Outcome o = RunCtl({"stat", name});
  ASSERT_TRUE(Succeeded(o));
  EXPECT_TRUE(absl::StrContains(o.out, absl::StrCat("(uid ", geteuid(), ")")))
      << o.Describe();
  EXPECT_TRUE(absl::StrContains(o.out, "mode: 0602 (world-writable"))
      << o.Describe();
  Outcome json = RunCtl({"stat", name, "--json"});
  std::map<std::string, std::string> fields;
  std::string error;
  ASSERT_TRUE(ParseFlatJsonObject(json.out, &fields, &error)) << error;
  EXPECT_EQ(fields["mode"], "\"0602\"");
  EXPECT_EQ(fields["world_writable"], "true");
  EXPECT_EQ(fields["owner_uid"], absl::StrCat(geteuid()));
}

TEST(CliRm, RefusesWhatIsNotAQueueUnlessForced) {
  ScopedQueueName name;
  int fd = shm_open(name.get().c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(ftruncate(fd, 4096), 0);
  close(fd);
  Outcome o = RunCtl({"rm", name});
  EXPECT_TRUE(FailedCleanly(o, Bare(name)));
  EXPECT_TRUE(absl::StrContains(o.err, "--force")) << o.Describe();
  EXPECT_EQ(ObjectMode(name), 0600);
  EXPECT_TRUE(Succeeded(RunCtl({"rm", name, "--force"})));
  EXPECT_EQ(ObjectMode(name), -1);
}

TEST(CliRm, SaysHowManyProcessesStillMapTheQueue) {
  ScopedQueueName name;
  MakeQueue(name, 2, 8);
  absl::StatusOr<Queue> mapped = Queue::Open(name);  // this test process
  ASSERT_TRUE(mapped.ok());
  Outcome o = RunCtl({"rm", name});
  EXPECT_TRUE(Succeeded(o));
  EXPECT_TRUE(absl::StrContains(o.err, "1 process still has it mapped"))
      << o.Describe();
  EXPECT_FALSE(Exists(name));
  ScopedQueueName unused;
  MakeQueue(unused, 2, 8);
  Outcome quiet = RunCtl({"rm", unused});
  EXPECT_TRUE(Succeeded(quiet));
  EXPECT_EQ(quiet.err, "");
}

// ===========================================================================
// --owner: send, recv and rm refuse a queue another user made first
// (squatted) unless --owner names its owner; stat never refuses. Run as two
// users, root and `nobody` (a forked child that setuids), so unsandboxed: the
// target cli_owner_test runs these (see tests/BUILD.bazel).

class CliOwner : public testing::TwoUserTest {
 protected:
  void Squat() { TwoUserTest::Squat(name_); }

  ScopedQueueName name_;
};

TEST_F(CliOwner, SendAndRecvRefuseASquattedQueueByDefault) {
  ASSERT_NO_FATAL_FAILURE(Squat());
  for (const Outcome& o :
       {RunCtl({"send", name_, "secret"}), RunCtl({"send", name_}, "secret\n"),
        RunCtl({"recv", name_}),
        RunCtl({"recv", name_, "--count=1", "--timeout=0"})}) {
    EXPECT_TRUE(FailedCleanly(o, Bare(name_)));
    EXPECT_TRUE(FailedCleanly(o, "owned by " + Owner()));
    EXPECT_TRUE(FailedCleanly(o, "--owner=" + nobody_.name)) << "how to opt in";
    EXPECT_TRUE(FailedCleanly(o, "lets any user write it"));
    EXPECT_EQ(o.out, "") << o.Describe();
  }
  EXPECT_EQ(Drain(name_), Lines{"planted"}) << "nothing sent, nothing taken";
}

TEST_F(CliOwner, OwnerFlagAcceptsTheNamedOwnerByNameUidOrAny) {
  ASSERT_NO_FATAL_FAILURE(Squat());
  EXPECT_TRUE(
      Succeeded(RunCtl({"send", name_, "--owner=" + nobody_.name, "one"})));
  EXPECT_TRUE(Succeeded(
      RunCtl({"send", name_, absl::StrCat("--owner=", nobody_.uid), "two"})));
  EXPECT_TRUE(Succeeded(RunCtl({"stat", name_}))) << "stat never refuses";
  Outcome r = RunCtl({"recv", name_, "--owner=any"});
  EXPECT_TRUE(Succeeded(r));
  EXPECT_EQ(r.out, "planted\none\ntwo\n") << r.Describe();
}

TEST_F(CliOwner, RmRefusesAnUntrustedOwnersQueueUnlessAllowed) {
  ASSERT_NO_FATAL_FAILURE(Squat());
  EXPECT_TRUE(FailedCleanly(RunCtl({"rm", name_}), "owned by " + Owner()));
  EXPECT_TRUE(Exists(name_));
  EXPECT_TRUE(Succeeded(RunCtl({"rm", name_, "--owner=" + nobody_.name})));
  EXPECT_FALSE(Exists(name_));
}

// One user is enough for a bad --owner value.
TEST(CliOwnerFlag, ABadOwnerIsAUsageErrorNamingTheQueueAndChangesNothing) {
  ScopedQueueName name;
  MakeQueue(name, 2, 8, {"kept"});
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{
           {"send", name, "--owner=no-such-user-rbt", "x"},
           {"send", name, "--owner=", "x"},
           {"recv", name, "--owner=no-such-user-rbt"},
           {"rm", name, "--owner=4294967295"}}) {
    Outcome o = RunCtl(args);
    EXPECT_TRUE(FailedCleanly(o, Bare(name)));
    EXPECT_TRUE(FailedCleanly(o, "--owner="));
    EXPECT_EQ(o.code(), 2) << o.Describe();
  }
  EXPECT_EQ(Drain(name), Lines{"kept"});
}

}  // namespace
}  // namespace ringbuf

// Takes the path of ringbufctl from the first non-gtest argument (or from
// $RINGBUFCTL), resolving a runfiles-relative path under Bazel.
int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  signal(SIGPIPE, SIG_IGN);  // a child that exits early must not kill us
  std::string path;
  if (argc >= 2) {
    path = argv[1];
  } else if (const char* env = getenv("RINGBUFCTL")) {
    path = env;
  }
  if (path.empty()) {
    fprintf(stderr, "usage: %s PATH_TO_RINGBUFCTL [gtest flags]\n", argv[0]);
    return 2;
  }
  path = ringbuf::testing::RunfilePath(path);
  if (access(path.c_str(), X_OK) != 0) {
    fprintf(stderr, "ringbufctl not executable at %s: %s\n", path.c_str(),
            strerror(errno));
    return 2;
  }
  static std::string binary = path;
  ringbuf::g_ringbufctl = &binary;
  if (argc >= 3) {
    static std::string shim = ringbuf::testing::RunfilePath(argv[2]);
    ringbuf::g_wallclock_jump = &shim;
  }
  return RUN_ALL_TESTS();
}
