// ringbufctl: create, feed, drain, inspect and remove ringbuf queues.
//
//   ringbufctl create NAME --capacity=N --slot_size=BYTES [--mode=0600]
//   ringbufctl send NAME [--timeout=D] [--owner=USER|UID|any] [MESSAGE...]
//   ringbufctl recv NAME [--count=N] [--timeout=D] [--owner=USER|UID|any]
//   ringbufctl stat NAME [--json]
//   ringbufctl rm NAME [--owner=USER|UID|any]
//
// send, recv and rm refuse a queue owned by anyone but this user and root
// unless --owner names its owner (ringbuf/trust.h); stat never refuses.
//
// Exit codes: 0 success; 3 a timeout expired; 2 bad usage; 1 any other
// failure, with one line on stderr naming the queue and the reason.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "ringbuf/queue.h"
#include "ringbuf/trust.h"

// Value flags are strings parsed here, not by absl, so that every bad value
// is reported in one line naming the queue (absl's own messages do not).
ABSL_FLAG(std::string, capacity, "", "create (required): number of slots");
ABSL_FLAG(std::string, slot_size, "",
          "create (required): largest message in bytes");
ABSL_FLAG(std::string, mode, "0600",
          "create: octal permission bits of the queue, applied exactly");
ABSL_FLAG(std::string, timeout, "",
          "send/recv: how long to wait (absl duration: 250ms, 2s, inf). "
          "Default: send waits forever; recv waits forever with --count, "
          "else 0 (stop as soon as the queue is empty)");
ABSL_FLAG(std::string, count, "", "recv: stop after this many messages");
ABSL_FLAG(bool, json, false, "stat: print one JSON object");
ABSL_FLAG(std::string, owner, "",
          "send/recv/rm: also accept a queue owned by this user (a user name, "
          "a uid, or 'any'). Default: only queues of yours or root's");

namespace ringbuf {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr int kExitTimeout = 3;

constexpr char kUsage[] =
    "ringbufctl COMMAND NAME [flags] [args]\n"
    "  create NAME --capacity=N --slot_size=BYTES [--mode=0600]\n"
    "  send NAME [--timeout=D] [--owner=USER|UID|any] [MESSAGE...]   (no "
    "MESSAGE: one per stdin line, echoed once committed)\n"
    "  recv NAME [--count=N] [--timeout=D] [--owner=USER|UID|any]\n"
    "  stat NAME [--json]\n"
    "  rm NAME [--owner=USER|UID|any]\n"
    "send/recv/rm refuse a queue not owned by you or root unless --owner "
    "names its owner.\n"
    "Exit codes: 0 ok, 3 timeout expired, 2 bad usage, 1 other failure.";

int Fail(absl::string_view command, const absl::Status& status) {
  std::fprintf(stderr, "ringbufctl %s: %s\n", std::string(command).c_str(),
               std::string(status.message()).c_str());
  return absl::IsDeadlineExceeded(status) ? kExitTimeout : kExitFailure;
}

// One line, like every other error: scripts read the first line of stderr.
int UsageError(absl::string_view why) {
  std::fprintf(stderr, "ringbufctl: %s (see ringbufctl --help)\n",
               std::string(why).c_str());
  return kExitUsage;
}

// The flags given on the command line, by name (this absl version keeps
// "was it given?" private, and "given empty" must differ from "not given").
std::vector<std::string>& GivenFlags() {
  static auto* given = new std::vector<std::string>;
  return *given;
}

bool Specified(absl::string_view flag) {
  for (const std::string& f : GivenFlags()) {
    if (f == flag) return true;
  }
  return false;
}

absl::Status FlagError(absl::string_view queue, absl::string_view flag,
                       absl::string_view value, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(
      "queue '", queue, "': --", flag, "='", value, "' ", why));
}

// Parses --timeout, or returns `fallback` when it was not given.
absl::StatusOr<absl::Duration> TimeoutFlag(absl::string_view queue,
                                           absl::Duration fallback) {
  if (!Specified("timeout")) return fallback;
  const std::string text = absl::GetFlag(FLAGS_timeout);
  absl::Duration d;
  if (text.empty() || !absl::ParseDuration(text, &d)) {
    return FlagError(queue, "timeout", text,
                     "is not a duration (e.g. 250ms, 2s, inf)");
  }
  return d;
}

// Parses --owner: whose queues send, recv and rm accept besides this user's
// and root's (the library's default when it is not given).
absl::StatusOr<Trust> OwnerFlag(absl::string_view queue) {
  if (!Specified("owner")) return Trust();
  const std::string text = absl::GetFlag(FLAGS_owner);
  absl::StatusOr<Trust> trust = Trust::Owner(text);
  if (!trust.ok()) {
    return FlagError(queue, "owner", text,
                     "is not 'any', a known user name or a uid");
  }
  return trust;
}

// Parses an integer flag that must lie in [1, max].
absl::StatusOr<int64_t> CountFlag(absl::string_view queue,
                                  absl::string_view flag,
                                  const std::string& text, int64_t max) {
  int64_t value = 0;
  if (!absl::SimpleAtoi(text, &value) || value < 1 || value > max) {
    return FlagError(queue, flag, text,
                     absl::StrCat("is not a whole number in 1..", max));
  }
  return value;
}

// Reads a required, positive geometry flag.
absl::StatusOr<int64_t> GeometryFlag(absl::string_view queue,
                                     absl::string_view flag,
                                     const std::string& text, int64_t max) {
  if (!Specified(flag)) {
    return absl::InvalidArgumentError(
        absl::StrCat("queue '", queue, "': --", flag, " is required"));
  }
  return CountFlag(queue, flag, text, max);
}

int Create(const std::string& name) {
  absl::StatusOr<int64_t> capacity = GeometryFlag(
      name, "capacity", absl::GetFlag(FLAGS_capacity), kMaxCapacity);
  if (!capacity.ok()) return UsageError(capacity.status().message());
  absl::StatusOr<int64_t> slot_size = GeometryFlag(
      name, "slot_size", absl::GetFlag(FLAGS_slot_size), kMaxSlotSize);
  if (!slot_size.ok()) return UsageError(slot_size.status().message());
  Options options;
  options.capacity = static_cast<uint64_t>(*capacity);
  options.slot_size = static_cast<uint32_t>(*slot_size);
  std::string mode = absl::GetFlag(FLAGS_mode);
  char* end = nullptr;
  unsigned long bits = std::strtoul(mode.c_str(), &end, 8);
  if (mode.empty() || *end != '\0' || bits > 0777) {
    return UsageError(absl::StrCat("queue '", name, "': --mode='", mode,
                                   "' is not octal permission bits (0000-0777)"));
  }
  options.mode = static_cast<mode_t>(bits);
  absl::StatusOr<Queue> queue = Queue::Create(name, options);
  if (!queue.ok()) return Fail("create", queue.status());
  return kExitOk;
}

// Writes `line` and a newline to stdout and flushes: once this returns, the
// caller's reader has seen it.
void WriteLine(absl::string_view line) {
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

int Send(const std::string& name, const std::vector<std::string>& messages) {
  absl::StatusOr<absl::Duration> timeout =
      TimeoutFlag(name, absl::InfiniteDuration());
  if (!timeout.ok()) return UsageError(timeout.status().message());
  absl::StatusOr<Trust> trust = OwnerFlag(name);
  if (!trust.ok()) return UsageError(trust.status().message());
  absl::StatusOr<Queue> queue = Queue::Open(name, *trust);
  if (!queue.ok()) return Fail("send", queue.status());
  auto send_one = [&](absl::string_view message) {
    return queue->SendFor(message, *timeout);
  };
  if (!messages.empty()) {
    for (const std::string& message : messages) {
      if (absl::Status s = send_one(message); !s.ok()) return Fail("send", s);
    }
    return kExitOk;
  }
  // One message per stdin line; echo each once it is committed, so a caller
  // (or a supervisor, if we are killed) knows exactly which lines went in.
  std::string line;
  while (std::getline(std::cin, line)) {
    if (absl::Status s = send_one(line); !s.ok()) return Fail("send", s);
    WriteLine(line);
  }
  if (std::cin.bad()) {
    return Fail("send", absl::DataLossError("reading stdin failed"));
  }
  return kExitOk;
}

int Receive(const std::string& name) {
  const bool counted = Specified("count");
  int64_t count = 0;
  if (counted) {
    absl::StatusOr<int64_t> parsed = CountFlag(
        name, "count", absl::GetFlag(FLAGS_count), int64_t{1} << 62);
    if (!parsed.ok()) return UsageError(parsed.status().message());
    count = *parsed;
  }
  absl::StatusOr<absl::Duration> timeout = TimeoutFlag(
      name, counted ? absl::InfiniteDuration() : absl::ZeroDuration());
  if (!timeout.ok()) return UsageError(timeout.status().message());
  absl::StatusOr<Trust> trust = OwnerFlag(name);
  if (!trust.ok()) return UsageError(trust.status().message());
  absl::StatusOr<Queue> queue = Queue::Open(name, *trust);
  if (!queue.ok()) return Fail("recv", queue.status());
  std::string message;
  if (counted) {
    // The timeout bounds the whole command: --count=N --timeout=1s waits at
    // most a second in total for the N messages.
    const absl::Time deadline = *timeout == absl::InfiniteDuration()
                                    ? absl::InfiniteFuture()
                                    : absl::Now() + *timeout;
    for (int64_t i = 0; i < count; ++i) {
      absl::Duration left = deadline == absl::InfiniteFuture()
                                ? absl::InfiniteDuration()
                                : deadline - absl::Now();
      absl::Status s = queue->ReceiveFor(&message, left);
      if (!s.ok()) {
        if (absl::IsDeadlineExceeded(s)) {
          return Fail("recv", absl::DeadlineExceededError(absl::StrCat(
                                  "queue '", queue->name(), "': received ", i,
                                  " of ", count, " messages before the timeout")));
        }
        return Fail("recv", s);
      }
      WriteLine(message);
    }
    return kExitOk;
  }
  // No count: drain until the queue stays empty for `timeout`.
  for (;;) {
    absl::Status s = queue->ReceiveFor(&message, *timeout);
    if (absl::IsDeadlineExceeded(s)) return kExitOk;
    if (!s.ok()) return Fail("recv", s);
    WriteLine(message);
  }
}

int Stat(const std::string& name) {
  // Read-only inspection: never refused for who owns the queue.
  absl::StatusOr<Queue> queue = Queue::Open(name, Trust::Any());
  if (!queue.ok()) return Fail("stat", queue.status());
  const Stats st = queue->GetStats();
  const std::pair<const char*, uint64_t> fields[] = {
      {"capacity", st.capacity},
      {"slot_size", st.slot_size},
      {"depth", st.depth},
      {"head", st.head},
      {"tail", st.tail},
      {"total_sent", st.total_sent},
      {"total_received", st.total_received},
      {"send_lock_owner_deaths", st.send_lock_owner_deaths},
      {"receive_lock_owner_deaths", st.receive_lock_owner_deaths},
      {"discarded_partial_sends", st.discarded_partial_sends},
      {"receives_lost_to_dead_consumers", st.receives_lost_to_dead_consumers},
  };
  if (absl::GetFlag(FLAGS_json)) {
    // The name is validated (no '/', no NUL) but may hold '"' or '\\'.
    std::string escaped;
    for (char c : queue->name()) {
      if (c == '"' || c == '\\') escaped.push_back('\\');
      if (static_cast<unsigned char>(c) < 0x20) {
        absl::StrAppendFormat(&escaped, "\\u%04x", c);
        continue;
      }
      escaped.push_back(c);
    }
    std::string out = absl::StrCat("{\"name\":\"", escaped, "\"");
    for (const auto& [key, value] : fields) {
      absl::StrAppend(&out, ",\"", key, "\":", value);
    }
    out += "}";
    WriteLine(out);
    return kExitOk;
  }
  std::string out = absl::StrCat("name: ", queue->name(), "\n");
  for (const auto& [key, value] : fields) {
    absl::StrAppend(&out, key, ": ", value, "\n");
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return kExitOk;
}

int Remove(const std::string& name) {
  absl::StatusOr<Trust> trust = OwnerFlag(name);
  if (!trust.ok()) return UsageError(trust.status().message());
  if (absl::Status s = Queue::Remove(name, *trust); !s.ok()) {
    return Fail("rm", s);
  }
  return kExitOk;
}

// absl reports an unknown flag without naming the queue and exits; find
// such flags first, noting every flag given. Returns the first unknown flag,
// or "".
std::string UnknownFlag(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") break;
    if (arg.size() < 2 || arg[0] != '-') continue;
    arg.remove_prefix(arg[1] == '-' ? 2 : 1);
    absl::string_view flag = arg.substr(0, arg.find('='));
    GivenFlags().emplace_back(flag);
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

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  if (std::string flag = UnknownFlag(argc, argv); !flag.empty()) {
    std::string name = NameArgument(argc, argv);
    return UsageError(absl::StrCat(name.empty() ? "" : "queue '", name,
                                   name.empty() ? "" : "': ", "unknown flag '",
                                   flag, "'"));
  }
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() < 2) return UsageError("missing COMMAND");
  const std::string command = args[1];
  if (args.size() < 3) return UsageError(absl::StrCat(command, ": missing NAME"));
  const std::string name = args[2];
  std::vector<std::string> rest(args.begin() + 3, args.end());
  if (command == "send") return Send(name, rest);
  if (!rest.empty()) {
    return UsageError(absl::StrCat(command, ": unexpected argument '",
                                   rest.front(), "'"));
  }
  if (command == "create") return Create(name);
  if (command == "recv") return Receive(name);
  if (command == "stat") return Stat(name);
  if (command == "rm") return Remove(name);
  return UsageError(absl::StrCat("unknown command '", command, "'"));
}

}  // namespace
}  // namespace ringbuf

int main(int argc, char** argv) { return ringbuf::Main(argc, argv); }
