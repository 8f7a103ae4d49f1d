// ringbufctl: create, feed, drain, inspect, list and remove ringbuf queues.
// kHelp below is the reference (the README holds the same text, checked by
// cli_contract_test).
//
// Nothing a command takes is lost on the way out: `recv` removes a message
// only once it has been written to stdout (Peek, write, Release), `send`
// echoes each committed stdin message and fails when the echo cannot be
// written, and every write is checked.
#include <dirent.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "ringbuf/queue.h"
#include "ringbuf/trust.h"
#include "ringbuf/version.h"

// A value flag as it was given. absl parses nothing (every value is checked
// below, so that a bad one is reported in one line naming the queue), and
// `given` tells "not given" from "given empty" wherever the value came from:
// the command line, --flagfile or --fromenv.
struct FlagText {
  bool given = false;
  std::string text;
};
bool AbslParseFlag(absl::string_view text, FlagText* flag, std::string*) {
  flag->given = true;
  flag->text = std::string(text);
  return true;
}
std::string AbslUnparseFlag(const FlagText& flag) { return flag.text; }

ABSL_FLAG(FlagText, capacity, {}, "create: number of slots");
ABSL_FLAG(FlagText, slot_size, {}, "create: largest message in bytes");
ABSL_FLAG(FlagText, mode, {}, "create: octal permission bits");
ABSL_FLAG(FlagText, priorities, {}, "create: number of message priorities");
ABSL_FLAG(FlagText, priority, {}, "send: the messages' priority (0 lowest)");
ABSL_FLAG(bool, show_priority, false, "recv: print each message's priority");
ABSL_FLAG(FlagText, timeout, {}, "send/recv: how long to wait");
ABSL_FLAG(FlagText, count, {}, "recv: take exactly this many messages");
ABSL_FLAG(FlagText, format, {}, "send/recv: lines or nul");
ABSL_FLAG(bool, json, false, "stat/list: JSON output");
ABSL_FLAG(bool, quiet, false, "send: no echo");
ABSL_FLAG(bool, force, false, "rm: remove what is not a ringbuf queue");
ABSL_FLAG(FlagText, owner, {},
          "send/recv/rm: also accept a queue owned by this user (a user "
          "name, a uid, or 'any')");

namespace ringbuf {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr int kExitTimeout = 3;

constexpr char kShmDir[] = "/dev/shm";

constexpr char kHelp[] =
    R"(Usage: ringbufctl COMMAND [NAME] [flags] [MESSAGE...]

Commands:
  create NAME --capacity=N --slot_size=SIZE [--mode=0600] [--priorities=P]
      Make an empty queue of N slots of up to SIZE bytes each. Its whole
      size is reserved in memory (/dev/shm) now. --mode: octal permission
      bits, applied exactly; they must give the owner read and write.
      --priorities: message priorities 0..P-1 (1..32, default 1); recv
      takes the oldest message of the highest priority first. The N slots
      are shared by all priorities; each priority reserves memory for N.
  send NAME [--timeout=D] [--format=lines|nul] [--quiet] [--priority=P]
       [--owner=USER|UID|any] [MESSAGE...]
      Send each MESSAGE; without any, each line of stdin (--format=nul:
      each NUL-terminated record), echoed to stdout once committed
      (--quiet: not echoed). Waits for a free slot up to D per message
      (default: forever). Stopping early, it says how many were committed
      and which argument or line stopped it. --priority: send at P
      (default 0, the lowest).
  recv NAME [--count=N] [--timeout=D] [--format=lines|nul] [--show_priority]
       [--owner=USER|UID|any]
      Print messages, each followed by a newline (--format=nul: a NUL);
      --show_priority: each preceded by its priority and a tab.
      A message leaves the queue only once written to stdout. --count=N
      takes exactly N, waiting up to D in all (default: forever); without
      it, drains until the queue is seen empty for D (default: 0).
  stat NAME [--json]
      Geometry, depth (and per priority), indexes, totals, crash repairs,
      owner and mode.
      Needs only read permission; takes no lock.
  list [--json]
      Every ringbuf queue in /dev/shm that you can read, with capacity,
      slot size, depth, owner and mode. Other objects are left out.
  rm NAME [--force] [--owner=USER|UID|any]
      Remove the queue, saying how many processes still have it mapped
      (they keep using it). Refuses an object that is not a ringbuf queue
      unless --force.
  help, --help         This text.
  --version            The version.

Sizes: a number, optionally with k, m or g (x1024): --slot_size=4k.
Durations: 250ms, 2s, 1m, inf. Flags may also come from --flagfile=FILE
or --fromenv=timeout,... (environment variables FLAGS_timeout, ...).
Queues that any user can write (mode o+w) are flagged by stat and list.
send, recv and rm refuse a queue owned by anyone but you and root unless
--owner names its owner (a user name, a uid, or any); stat and list never
refuse.

Exit codes: 0 success; 3 a timeout expired (send: the queue stayed full;
recv --count: fewer than N arrived) or a queue lock stayed busy (another
process holds it; recv: messages may remain); 2 bad usage; 1 any other
failure. Every error is one line on stderr naming the queue and the reason.
)";

// ---------------------------------------------------------------------------
// Errors.

int Fail(absl::string_view command, const absl::Status& status) {
  std::fprintf(stderr, "ringbufctl %s: %s\n", std::string(command).c_str(),
               std::string(status.message()).c_str());
  // Unavailable from a timed call is a side lock that stayed busy for the
  // whole timeout: a timeout too, and never "empty".
  if (absl::IsDeadlineExceeded(status) || absl::IsUnavailable(status)) {
    return kExitTimeout;
  }
  return kExitFailure;
}

// One line, like every other error: scripts read the first line of stderr.
int UsageError(absl::string_view why) {
  std::fprintf(stderr, "ringbufctl: %s (see ringbufctl --help)\n",
               std::string(why).c_str());
  return kExitUsage;
}

// A failure to open or look at the queue: a bad name is bad usage.
int OpenFailed(absl::string_view command, const absl::Status& status) {
  if (absl::IsInvalidArgument(status)) return UsageError(status.message());
  return Fail(command, status);
}

std::string Quoted(absl::string_view queue) {
  return absl::StrCat("queue '", queue, "'");
}

absl::Status FlagError(absl::string_view queue, absl::string_view flag,
                       absl::string_view value, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(
      Quoted(queue), ": --", flag, "='", value, "' ", why));
}

// ---------------------------------------------------------------------------
// Flag values.

// --timeout, or `fallback` when it was not given.
absl::StatusOr<absl::Duration> TimeoutFlag(absl::string_view queue,
                                           absl::Duration fallback) {
  const FlagText flag = absl::GetFlag(FLAGS_timeout);
  if (!flag.given) return fallback;
  absl::Duration d;
  if (flag.text.empty() || !absl::ParseDuration(flag.text, &d)) {
    return FlagError(queue, "timeout", flag.text,
                     "is not a duration (e.g. 250ms, 2s, inf)");
  }
  return d;
}

// A whole number in [1, max], with an optional k/m/g suffix (x1024).
absl::StatusOr<int64_t> SizeFlag(absl::string_view queue,
                                 absl::string_view flag,
                                 const std::string& text, int64_t max) {
  absl::string_view digits = text;
  int64_t scale = 1;
  if (!digits.empty()) {
    switch (absl::ascii_tolower(static_cast<unsigned char>(digits.back()))) {
      case 'k':
        scale = int64_t{1} << 10;
        break;
      case 'm':
        scale = int64_t{1} << 20;
        break;
      case 'g':
        scale = int64_t{1} << 30;
        break;
    }
    if (scale != 1) digits.remove_suffix(1);
  }
  int64_t value = 0;
  const bool all_digits =
      !digits.empty() && std::all_of(digits.begin(), digits.end(), [](char c) {
        return absl::ascii_isdigit(static_cast<unsigned char>(c));
      });
  if (!all_digits || !absl::SimpleAtoi(digits, &value) || value < 1 ||
      value > max / scale) {
    return FlagError(queue, flag, text,
                     absl::StrCat("is not a whole number in 1..", max,
                                  " (suffixes k, m, g allowed)"));
  }
  return value * scale;
}

// --priority: a whole number in 0..kMaxPriorities-1 (0 when not given); the
// queue itself refuses one past its own priorities.
absl::StatusOr<uint32_t> PriorityFlag(absl::string_view queue) {
  const FlagText flag = absl::GetFlag(FLAGS_priority);
  if (!flag.given) return 0;
  uint32_t value = 0;
  const bool all_digits =
      !flag.text.empty() &&
      std::all_of(flag.text.begin(), flag.text.end(), [](char c) {
        return absl::ascii_isdigit(static_cast<unsigned char>(c));
      });
  if (!all_digits || !absl::SimpleAtoi(flag.text, &value) ||
      value >= kMaxPriorities) {
    return FlagError(queue, "priority", flag.text,
                     absl::StrCat("is not a priority in 0..",
                                  kMaxPriorities - 1));
  }
  return value;
}

// A required size flag.
absl::StatusOr<int64_t> RequiredSize(absl::string_view queue,
                                     absl::string_view flag,
                                     const FlagText& value, int64_t max) {
  if (!value.given) {
    return absl::InvalidArgumentError(
        absl::StrCat(Quoted(queue), ": --", flag, " is required"));
  }
  return SizeFlag(queue, flag, value.text, max);
}

// --owner: whose queues send, recv and rm accept besides this user's and
// root's (the library's default when it is not given).
absl::StatusOr<Trust> OwnerFlag(absl::string_view queue) {
  const FlagText flag = absl::GetFlag(FLAGS_owner);
  if (!flag.given) return Trust();
  absl::StatusOr<Trust> trust = Trust::Owner(flag.text);
  if (!trust.ok()) {
    return FlagError(queue, "owner", flag.text,
                     "is not 'any', a known user name or a uid");
  }
  return trust;
}

// How messages are framed on stdin and stdout.
struct Framing {
  char delimiter = '\n';
  absl::string_view unit = "line";  // for messages about stdin
};

absl::StatusOr<Framing> FormatFlag(absl::string_view queue) {
  const FlagText flag = absl::GetFlag(FLAGS_format);
  if (!flag.given || flag.text == "lines") return Framing{};
  if (flag.text == "nul") return Framing{'\0', "record"};
  return FlagError(queue, "format", flag.text, "is not lines or nul");
}

// ---------------------------------------------------------------------------
// Checked output. Raw writes to fd 1, so that an error is seen at once and
// nothing is buffered past the point where the caller believes it written.

absl::Status WriteAll(absl::string_view a, absl::string_view b = "") {
  iovec parts[2] = {{const_cast<char*>(a.data()), a.size()},
                    {const_cast<char*>(b.data()), b.size()}};
  iovec* next = parts;
  int left = 2;
  while (left > 0) {
    if (next->iov_len == 0) {
      ++next;
      --left;
      continue;
    }
    ssize_t n = writev(STDOUT_FILENO, next, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::DataLossError(
          absl::StrCat("writing stdout failed: ", std::strerror(errno)));
    }
    while (left > 0 && static_cast<size_t>(n) >= next->iov_len) {
      n -= next->iov_len;
      ++next;
      --left;
    }
    if (left > 0) {
      next->iov_base = static_cast<char*>(next->iov_base) + n;
      next->iov_len -= n;
    }
  }
  return absl::OkStatus();
}

// Waits until stdout can take more, at most `timeout` (infinite: no limit).
// DeadlineExceeded if it could not; DataLoss if its reader is gone.
absl::Status AwaitStdout(absl::Duration timeout) {
  for (;;) {
    pollfd p{STDOUT_FILENO, POLLOUT, 0};
    const int ms =
        timeout == absl::InfiniteDuration()
            ? -1
            : static_cast<int>(std::clamp<int64_t>(
                  absl::ToInt64Milliseconds(absl::Ceil(timeout,
                                                       absl::Milliseconds(1))),
                  0, 1 << 30));
    const int rc = poll(&p, 1, ms);
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) {
      return absl::DataLossError(
          absl::StrCat("poll on stdout failed: ", std::strerror(errno)));
    }
    if (rc == 0) {
      return absl::DeadlineExceededError("stdout stayed full (not writable)");
    }
    if ((p.revents & POLLOUT) == 0) {
      return absl::DataLossError("stdout is closed (its reader is gone)");
    }
    return absl::OkStatus();
  }
}

// ---------------------------------------------------------------------------
// Monotonic deadlines (a wall-clock step must not stretch or cut a wait).

using Clock = std::chrono::steady_clock;

class Deadline {
 public:
  explicit Deadline(absl::Duration timeout)
      : infinite_(timeout == absl::InfiniteDuration()),
        at_(infinite_ ? Clock::time_point::max()
                      : Clock::now() + absl::ToChronoNanoseconds(
                                           std::max(timeout,
                                                    absl::ZeroDuration()))) {}
  absl::Duration Left() const {
    if (infinite_) return absl::InfiniteDuration();
    return std::max(absl::FromChrono(at_ - Clock::now()),
                    absl::ZeroDuration());
  }

 private:
  bool infinite_;
  Clock::time_point at_;
};

// ---------------------------------------------------------------------------
// Commands. Each takes the queue name as given and the positional arguments
// after it.

int Create(const std::string& name, const std::vector<std::string>&) {
  absl::StatusOr<int64_t> capacity = RequiredSize(
      name, "capacity", absl::GetFlag(FLAGS_capacity), kMaxCapacity);
  if (!capacity.ok()) return UsageError(capacity.status().message());
  absl::StatusOr<int64_t> slot_size = RequiredSize(
      name, "slot_size", absl::GetFlag(FLAGS_slot_size), kMaxSlotSize);
  if (!slot_size.ok()) return UsageError(slot_size.status().message());
  Options options;
  options.capacity = static_cast<uint64_t>(*capacity);
  options.slot_size = static_cast<uint32_t>(*slot_size);
  const FlagText mode = absl::GetFlag(FLAGS_mode);
  if (mode.given) {
    char* end = nullptr;
    const unsigned long bits = std::strtoul(mode.text.c_str(), &end, 8);
    if (mode.text.empty() || *end != '\0' || mode.text[0] == '-' ||
        bits > 0777) {
      return UsageError(
          FlagError(name, "mode", mode.text,
                    "is not octal permission bits (0000-0777)")
              .message());
    }
    if ((bits & 0600) != 0600) {
      return UsageError(
          FlagError(name, "mode", mode.text,
                    "would not let the owner read and write the queue "
                    "(0600 at least)")
              .message());
    }
    options.mode = static_cast<mode_t>(bits);
  }
  const FlagText priorities = absl::GetFlag(FLAGS_priorities);
  if (priorities.given) {
    absl::StatusOr<int64_t> p =
        SizeFlag(name, "priorities", priorities.text, kMaxPriorities);
    if (!p.ok()) return UsageError(p.status().message());
    options.priorities = static_cast<uint32_t>(*p);
  }
  absl::StatusOr<Queue> queue = Queue::Create(name, options);
  if (!queue.ok()) return OpenFailed("create", queue.status());
  return kExitOk;
}

// At most 40 bytes of a message, for an error line.
std::string Excerpt(absl::string_view m) {
  std::string shown = absl::CHexEscape(m.substr(0, 40));
  if (m.size() > 40) shown += "...";
  return shown;
}

int Send(const std::string& name, const std::vector<std::string>& messages) {
  absl::StatusOr<absl::Duration> timeout =
      TimeoutFlag(name, absl::InfiniteDuration());
  if (!timeout.ok()) return UsageError(timeout.status().message());
  absl::StatusOr<Framing> framing = FormatFlag(name);
  if (!framing.ok()) return UsageError(framing.status().message());
  const bool quiet = absl::GetFlag(FLAGS_quiet);
  absl::StatusOr<uint32_t> priority = PriorityFlag(name);
  if (!priority.ok()) return UsageError(priority.status().message());
  absl::StatusOr<Trust> trust = OwnerFlag(name);
  if (!trust.ok()) return UsageError(trust.status().message());
  absl::StatusOr<Queue> queue = Queue::Open(name, *trust);
  if (!queue.ok()) return OpenFailed("send", queue.status());
  if (!messages.empty()) {
    for (size_t i = 0; i < messages.size(); ++i) {
      absl::Status s = queue->SendFor(messages[i], *priority, *timeout);
      if (!s.ok()) {
        return Fail("send", absl::Status(s.code(), absl::StrCat(
            s.message(), " (committed ", i, " of ", messages.size(),
            " messages; argument ", i + 1, " '", Excerpt(messages[i]),
            "' was not)")));
      }
    }
    return kExitOk;
  }
  // One message per stdin line (record); echo each once it is committed, so
  // a caller (or a supervisor, if we are killed) knows exactly which went in.
  std::string message;
  uint64_t committed = 0;
  while (std::getline(std::cin, message, framing->delimiter)) {
    absl::Status s = queue->SendFor(message, *priority, *timeout);
    if (!s.ok()) {
      return Fail("send", absl::Status(s.code(), absl::StrCat(
          s.message(), " (committed ", committed, " messages from stdin; ",
          framing->unit, " ", committed + 1, " '", Excerpt(message),
          "' was not)")));
    }
    ++committed;
    if (quiet) continue;
    if (absl::Status w = WriteAll(message, {&framing->delimiter, 1});
        !w.ok()) {
      return Fail("send", absl::DataLossError(absl::StrCat(
          Quoted(queue->name()), ": ", w.message(), ": ", framing->unit, " ",
          committed, " was committed but its echo was not written (",
          committed, " committed in all)")));
    }
  }
  if (std::cin.bad()) {
    return Fail("send", absl::DataLossError(absl::StrCat(
        Quoted(queue->name()), ": reading stdin failed after ", committed,
        " messages were committed")));
  }
  return kExitOk;
}

int Receive(const std::string& name, const std::vector<std::string>&) {
  const FlagText count_flag = absl::GetFlag(FLAGS_count);
  const bool counted = count_flag.given;
  int64_t count = 0;
  if (counted) {
    absl::StatusOr<int64_t> parsed =
        SizeFlag(name, "count", count_flag.text, int64_t{1} << 62);
    if (!parsed.ok()) return UsageError(parsed.status().message());
    count = *parsed;
  }
  absl::StatusOr<absl::Duration> timeout = TimeoutFlag(
      name, counted ? absl::InfiniteDuration() : absl::ZeroDuration());
  if (!timeout.ok()) return UsageError(timeout.status().message());
  absl::StatusOr<Framing> framing = FormatFlag(name);
  if (!framing.ok()) return UsageError(framing.status().message());
  absl::StatusOr<Trust> trust = OwnerFlag(name);
  if (!trust.ok()) return UsageError(trust.status().message());
  const bool show_priority = absl::GetFlag(FLAGS_show_priority);
  absl::StatusOr<Queue> queue = Queue::Open(name, *trust);
  if (!queue.ok()) return OpenFailed("recv", queue.status());
  // With --count, the timeout bounds the whole command; without, it is how
  // long the queue must stay empty, per message.
  const Deadline deadline(counted ? *timeout : absl::InfiniteDuration());
  auto taken = [&](int64_t n) {
    return counted ? absl::StrCat("received ", n, " of ", count, " messages")
                   : absl::StrCat("received ", n, " messages");
  };
  for (int64_t n = 0; !counted || n < count; ++n) {
    // Wait for stdout first, holding nothing: the receive lock is then held
    // across one message's write at most.
    if (absl::Status s = AwaitStdout(deadline.Left()); !s.ok()) {
      return Fail("recv", absl::Status(s.code(), absl::StrCat(
          Quoted(queue->name()), ": ", s.message(), "; ", taken(n))));
    }
    absl::StatusOr<Queue::Peeked> peeked =
        queue->Peek(counted ? deadline.Left() : *timeout);
    if (!peeked.ok()) {
      const absl::Status& s = peeked.status();
      if (absl::IsDeadlineExceeded(s) && !counted) return kExitOk;  // empty
      if (absl::IsDeadlineExceeded(s)) {
        return Fail("recv", absl::DeadlineExceededError(absl::StrCat(
            Quoted(queue->name()), ": ", taken(n), " before the timeout")));
      }
      return Fail("recv", absl::Status(s.code(), absl::StrCat(
          s.message(), " (", taken(n), ")")));
    }
    // --show_priority: "P<tab>message" (a copy, only then).
    const std::string shown =
        show_priority ? absl::StrCat(peeked->priority(), "\t", peeked->data())
                      : std::string();
    if (absl::Status w = WriteAll(show_priority ? shown : peeked->data(),
                                  {&framing->delimiter, 1});
        !w.ok()) {
      // Dropping the Peeked leaves the message at the head of the queue.
      return Fail("recv", absl::DataLossError(absl::StrCat(
          Quoted(queue->name()), ": ", w.message(),
          "; the message stays in the queue (", taken(n), ")")));
    }
    if (absl::Status s = peeked->Release(); !s.ok()) return Fail("recv", s);
  }
  return kExitOk;
}

// ---------------------------------------------------------------------------
// stat and list.

std::string JsonString(absl::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      absl::StrAppendFormat(&out, "\\u%04x", c);
    } else {
      out.push_back(c);
    }
  }
  out += "\"";
  return out;
}

std::string UserName(uid_t uid) {
  passwd pw;
  passwd* found = nullptr;
  char buf[1024];
  if (getpwuid_r(uid, &pw, buf, sizeof(buf), &found) == 0 && found != nullptr) {
    return found->pw_name;
  }
  return absl::StrCat(uid);
}

bool WorldWritable(const QueueInfo& info) { return (info.mode & 0002) != 0; }

// One queue as JSON fields (no braces) or as "key: value" lines.
std::string Describe(const std::string& name, const QueueInfo& info, bool json,
                     bool full) {
  const Stats& st = info.stats;
  std::vector<std::pair<std::string, uint64_t>> numbers = {
      {"capacity", st.capacity},
      {"slot_size", st.slot_size},
      {"depth", st.depth},
  };
  if (full) {
    numbers.insert(
        numbers.end(),
        {{"head", st.head},
         {"tail", st.tail},
         {"total_sent", st.total_sent},
         {"total_received", st.total_received},
         {"send_lock_owner_deaths", st.send_lock_owner_deaths},
         {"receive_lock_owner_deaths", st.receive_lock_owner_deaths},
         {"discarded_partial_sends", st.discarded_partial_sends},
         {"receives_lost_to_dead_consumers",
          st.receives_lost_to_dead_consumers},
         {"bytes", info.bytes},
         {"priorities", st.priorities}});
    // One flat key per priority (JSON stays one flat object).
    for (uint32_t p = 0; p < st.priorities && p < kMaxPriorities; ++p) {
      numbers.emplace_back(absl::StrCat("depth_priority_", p),
                           st.depth_by_priority[p]);
    }
  }
  const std::string mode = absl::StrFormat("%04o", info.mode);
  const std::string owner = UserName(info.owner);
  if (json) {
    std::string out = absl::StrCat("\"name\":", JsonString(name));
    for (const auto& [key, value] : numbers) {
      absl::StrAppend(&out, ",\"", key, "\":", value);
    }
    absl::StrAppend(&out, ",\"owner\":", JsonString(owner),
                    ",\"owner_uid\":", info.owner, ",\"mode\":\"", mode,
                    "\",\"world_writable\":",
                    WorldWritable(info) ? "true" : "false");
    return out;
  }
  std::string out = absl::StrCat("name: ", name, "\n");
  for (const auto& [key, value] : numbers) {
    absl::StrAppend(&out, key, ": ", value, "\n");
  }
  absl::StrAppend(&out, "owner: ", owner, " (uid ", info.owner, ")\n",
                  "mode: ", mode,
                  WorldWritable(info)
                      ? " (world-writable: any user can send, receive and "
                        "corrupt it)"
                      : "",
                  "\n");
  return out;
}

int Output(absl::string_view command, absl::string_view text) {
  if (absl::Status s = WriteAll(text); !s.ok()) return Fail(command, s);
  return kExitOk;
}

int Stat(const std::string& name, const std::vector<std::string>&) {
  absl::StatusOr<QueueInfo> info = Queue::Inspect(name);
  if (!info.ok()) return OpenFailed("stat", info.status());
  const std::string normalized =
      absl::StartsWith(name, "/") ? name : absl::StrCat("/", name);
  const bool json = absl::GetFlag(FLAGS_json);
  std::string out = Describe(normalized, *info, json, /*full=*/true);
  if (json) out = absl::StrCat("{", out, "}\n");
  return Output("stat", out);
}

int List(const std::string&, const std::vector<std::string>&) {
  DIR* dir = opendir(kShmDir);
  if (dir == nullptr) {
    return Fail("list", absl::FailedPreconditionError(absl::StrCat(
        "cannot read ", kShmDir, ": ", std::strerror(errno))));
  }
  std::vector<std::pair<std::string, QueueInfo>> queues;
  while (dirent* e = readdir(dir)) {
    const std::string name = absl::StrCat("/", e->d_name);
    if (name == "/." || name == "/..") continue;
    if (e->d_type != DT_REG && e->d_type != DT_UNKNOWN) continue;
    // Recognised by the header, read through a read-only mapping; objects
    // that are not queues, or that we may not read, are left out.
    absl::StatusOr<QueueInfo> info = Queue::Inspect(name);
    if (info.ok()) queues.emplace_back(name, *info);
  }
  closedir(dir);
  std::sort(queues.begin(), queues.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string out;
  if (absl::GetFlag(FLAGS_json)) {
    out = "[";
    for (size_t i = 0; i < queues.size(); ++i) {
      absl::StrAppend(&out, i == 0 ? "" : ",", "{",
                      Describe(queues[i].first, queues[i].second, true, false),
                      "}");
    }
    out += "]\n";
  } else {
    int width = 4;
    for (const auto& entry : queues) {
      width = std::max(width, static_cast<int>(entry.first.size()));
    }
    out = absl::StrFormat("%-*s %10s %10s %10s %-16s %s\n", width, "NAME",
                          "CAPACITY", "SLOT_SIZE", "DEPTH", "OWNER", "MODE");
    for (const auto& [name, info] : queues) {
      absl::StrAppendFormat(
          &out, "%-*s %10d %10d %10d %-16s %04o%s\n", width, name,
          info.stats.capacity, info.stats.slot_size, info.stats.depth,
          absl::StrCat(UserName(info.owner), "(", info.owner, ")"), info.mode,
          WorldWritable(info) ? " world-writable" : "");
    }
  }
  return Output("list", out);
}

// ---------------------------------------------------------------------------
// rm.

// How many other processes map /dev/shm/NAME, from /proc/*/maps (those we
// may read).
int MappingProcesses(const std::string& normalized) {
  const std::string path = absl::StrCat(kShmDir, normalized);
  const std::string self = absl::StrCat(getpid());
  int count = 0;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return 0;
  while (dirent* e = readdir(proc)) {
    absl::string_view pid = e->d_name;
    if (pid.empty() || !std::all_of(pid.begin(), pid.end(), [](char c) {
          return absl::ascii_isdigit(static_cast<unsigned char>(c));
        })) {
      continue;
    }
    if (pid == self) continue;
    std::ifstream maps(absl::StrCat("/proc/", pid, "/maps"));
    std::string line;
    while (std::getline(maps, line)) {
      // address perms offset dev inode path: the path is what follows the
      // fifth field's spaces.
      std::vector<absl::string_view> fields =
          absl::StrSplit(line, absl::MaxSplits(' ', 5));
      if (fields.size() == 6 &&
          absl::StripLeadingAsciiWhitespace(fields[5]) == path) {
        ++count;
        break;
      }
    }
  }
  closedir(proc);
  return count;
}

int Remove(const std::string& name, const std::vector<std::string>&) {
  const bool force = absl::GetFlag(FLAGS_force);
  absl::StatusOr<Trust> trust = OwnerFlag(name);
  if (!trust.ok()) return UsageError(trust.status().message());
  absl::StatusOr<QueueInfo> info = Queue::Inspect(name);
  if (absl::IsInvalidArgument(info.status())) {
    return UsageError(info.status().message());
  }
  if (absl::IsNotFound(info.status())) return Fail("rm", info.status());
  if (!info.ok() && !absl::IsFailedPrecondition(info.status()) && !force) {
    // FailedPrecondition is a queue of another layout version: still ours.
    return Fail("rm", absl::Status(info.status().code(), absl::StrCat(
        info.status().message(),
        "; not removed: it may not be a ringbuf queue (--force removes it "
        "anyway)")));
  }
  const std::string normalized =
      absl::StartsWith(name, "/") ? name : absl::StrCat("/", name);
  const int mappers = MappingProcesses(normalized);
  if (absl::Status s = Queue::Remove(name, *trust); !s.ok()) {
    return Fail("rm", s);
  }
  if (mappers > 0) {
    std::fprintf(stderr,
                 "ringbufctl rm: %s removed; %d process%s still ha%s it "
                 "mapped and keep%s using it\n",
                 Quoted(normalized).c_str(), mappers,
                 mappers == 1 ? "" : "es", mappers == 1 ? "s" : "ve",
                 mappers == 1 ? "s" : "");
  }
  return kExitOk;
}

// ---------------------------------------------------------------------------
// Dispatch.

struct Command {
  absl::string_view name;
  bool takes_name;
  bool takes_messages;
  // The flags this command takes; any other flag given is bad usage.
  std::vector<absl::string_view> flags;
  int (*run)(const std::string& name, const std::vector<std::string>& rest);
};

const std::vector<Command>& Commands() {
  static const auto* commands = new std::vector<Command>{
      {"create", true, false, {"capacity", "slot_size", "mode", "priorities"},
       Create},
      {"send", true, true, {"timeout", "format", "quiet", "priority", "owner"},
       Send},
      {"recv", true, false,
       {"count", "timeout", "format", "show_priority", "owner"}, Receive},
      {"stat", true, false, {"json"}, Stat},
      {"list", false, false, {"json"}, List},
      {"rm", true, false, {"force", "owner"}, Remove},
  };
  return *commands;
}

// The ringbufctl flags that were given, wherever they came from.
std::vector<absl::string_view> GivenFlags() {
  std::vector<absl::string_view> given;
  const std::pair<absl::string_view, bool> flags[] = {
      {"capacity", absl::GetFlag(FLAGS_capacity).given},
      {"slot_size", absl::GetFlag(FLAGS_slot_size).given},
      {"mode", absl::GetFlag(FLAGS_mode).given},
      {"priorities", absl::GetFlag(FLAGS_priorities).given},
      {"priority", absl::GetFlag(FLAGS_priority).given},
      {"show_priority", absl::GetFlag(FLAGS_show_priority)},
      {"timeout", absl::GetFlag(FLAGS_timeout).given},
      {"count", absl::GetFlag(FLAGS_count).given},
      {"format", absl::GetFlag(FLAGS_format).given},
      {"json", absl::GetFlag(FLAGS_json)},
      {"quiet", absl::GetFlag(FLAGS_quiet)},
      {"force", absl::GetFlag(FLAGS_force)},
      {"owner", absl::GetFlag(FLAGS_owner).given},
  };
  for (const auto& [flag, is_given] : flags) {
    if (is_given) given.push_back(flag);
  }
  return given;
}

// absl reports an unknown flag without naming the queue and exits; find
// such flags first. Returns the first unknown flag, or "".
std::string UnknownFlag(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") break;
    if (arg.size() < 2 || arg[0] != '-') continue;
    arg.remove_prefix(arg[1] == '-' ? 2 : 1);
    absl::string_view flag = arg.substr(0, arg.find('='));
    if (absl::FindCommandLineFlag(flag) != nullptr) continue;
    // --nojson is --json=false.
    if (absl::ConsumePrefix(&flag, "no") &&
        absl::FindCommandLineFlag(flag) != nullptr) {
      continue;
    }
    return std::string(argv[i]);
  }
  return "";
}

// The NAME argument, if one was given (the second non-flag argument).
std::string NameArgument(int argc, char** argv) {
  int seen = 0;
  for (int i = 1; i < argc; ++i) {
    if (argv[i][0] == '-' && argv[i][1] != '\0') continue;
    if (++seen == 2) return argv[i];
  }
  return "";
}

bool IsHelp(absl::string_view arg) {
  return arg == "-h" || arg == "-help" || absl::StartsWith(arg, "--help");
}

int Main(int argc, char** argv) {
  // A reader that goes away is a write error to report, not a silent death
  // (recv then leaves the message it was writing in the queue).
  signal(SIGPIPE, SIG_IGN);
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") break;
    if (IsHelp(arg) || (i == 1 && arg == "help")) return Output("help", kHelp);
    if (arg == "--version" || arg == "-version") {
      return Output("version", absl::StrCat("ringbufctl ", Version(), "\n"));
    }
  }
  if (std::string flag = UnknownFlag(argc, argv); !flag.empty()) {
    std::string name = NameArgument(argc, argv);
    return UsageError(absl::StrCat(name.empty() ? "" : Quoted(name),
                                   name.empty() ? "" : ": ", "unknown flag '",
                                   flag, "'"));
  }
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() < 2) return UsageError("missing COMMAND");
  const std::string command_name = args[1];
  const Command* command = nullptr;
  for (const Command& c : Commands()) {
    if (c.name == command_name) command = &c;
  }
  if (command == nullptr) {
    return UsageError(absl::StrCat("unknown command '", command_name, "'"));
  }
  size_t first_rest = 2;
  std::string name;
  if (command->takes_name) {
    if (args.size() < 3) {
      return UsageError(absl::StrCat(command_name, ": missing NAME"));
    }
    name = args[2];
    first_rest = 3;
  }
  std::vector<std::string> rest(args.begin() + first_rest, args.end());
  const std::string who =
      name.empty() ? command_name : absl::StrCat(Quoted(name));
  if (!command->takes_messages && !rest.empty()) {
    return UsageError(absl::StrCat(command_name, ": unexpected argument '",
                                   rest.front(), "'"));
  }
  for (absl::string_view flag : GivenFlags()) {
    if (std::find(command->flags.begin(), command->flags.end(), flag) ==
        command->flags.end()) {
      return UsageError(absl::StrCat(
          who, ": --", flag, " is not a flag of ", command_name,
          command->flags.empty()
              ? ""
              : absl::StrCat(" (it takes --",
                             absl::StrJoin(command->flags, ", --"), ")")));
    }
  }
  return command->run(name, rest);
}

}  // namespace
}  // namespace ringbuf

int main(int argc, char** argv) { return ringbuf::Main(argc, argv); }
