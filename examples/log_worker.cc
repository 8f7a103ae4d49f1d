// A small log service, worker half: sends --count structured records
// (timestamp, level, pid, worker id, sequence number, text; see
// log_record.h) to the queue of examples/log_collector, one SendFor each.
//
//   log_worker --queue=NAME --id=K --count=N [--ack_file=PATH]
//              [--send_timeout=30s] [--open_timeout=10s]
//
// Record `seq` (0, 1, ..., N-1) has level seq % 4 (DEBUG, INFO, WARN, ERROR)
// and the text "record <seq> of <N>"; every tenth (seq % 10 == 9) adds a
// second line, "\n\tcontinued", to show the collector keeps a record on one
// line. tests/log_collector_test.cc checks the file against exactly this.
//
// Acknowledgements. With --ack_file, once a record's send returned OK (it is
// committed in the queue: see log_collector.cc for what that guarantees) the
// worker appends the line "K:SEQ" to the file with one write(), so a reader
// knows which records were acknowledged. A worker killed between the two has
// committed one record it did not acknowledge.
//
// Backpressure. A full queue blocks SendFor: the worker goes at the
// collector's pace. It gives up, exiting 1, if one record waits longer than
// --send_timeout (no collector, or a stuck one). It waits up to
// --open_timeout for the collector to create the queue.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "examples/log_record.h"
#include "ringbuf/queue.h"

ABSL_FLAG(std::string, queue, "", "the collector's queue (required)");
ABSL_FLAG(int64_t, id, 0, "this worker's id, stamped on its records");
ABSL_FLAG(int64_t, count, 1000, "records to send");
ABSL_FLAG(std::string, ack_file, "",
          "append 'ID:SEQ' here after each record is committed (truncated "
          "first)");
ABSL_FLAG(absl::Duration, send_timeout, absl::Seconds(30),
          "give up if one record cannot be sent for this long");
ABSL_FLAG(absl::Duration, open_timeout, absl::Seconds(10),
          "wait this long for the queue to exist");

namespace logsvc {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

int Fail(int64_t id, const std::string& what) {
  std::fprintf(stderr, "log_worker %" PRId64 ": %s\n", id, what.c_str());
  return kExitFailure;
}

// Opens `name`, waiting up to `timeout` for the collector to create it.
absl::StatusOr<ringbuf::Queue> OpenWhenCreated(const std::string& name,
                                               absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    absl::StatusOr<ringbuf::Queue> queue = ringbuf::Queue::Open(name);
    if (!absl::IsNotFound(queue.status()) || absl::Now() >= deadline) {
      return queue;
    }
    // Polling for a name to appear: shared memory has no way to wait for
    // one. The interval only bounds how late we notice.
    absl::SleepFor(absl::Milliseconds(10));
  }
}

int64_t RealtimeNanos() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

int Run() {
  const std::string name = absl::GetFlag(FLAGS_queue);
  const int64_t id = absl::GetFlag(FLAGS_id);
  const int64_t count = absl::GetFlag(FLAGS_count);
  const std::string ack_path = absl::GetFlag(FLAGS_ack_file);
  const absl::Duration send_timeout = absl::GetFlag(FLAGS_send_timeout);
  if (name.empty()) {
    std::fprintf(stderr, "log_worker: --queue is required (see --help)\n");
    return kExitUsage;
  }
  if (id < 0 || id > UINT32_MAX || count < 0) {
    std::fprintf(stderr, "log_worker: --id must be in 0..%" PRIu32
                 " and --count not negative\n", UINT32_MAX);
    return kExitUsage;
  }

  int ack_fd = -1;
  if (!ack_path.empty()) {
    ack_fd = open(ack_path.c_str(),
                  O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    if (ack_fd < 0) return Fail(id, absl::StrCat(ack_path, ": ", std::strerror(errno)));
  }
  absl::StatusOr<ringbuf::Queue> queue =
      OpenWhenCreated(name, absl::GetFlag(FLAGS_open_timeout));
  if (!queue.ok()) return Fail(id, queue.status().ToString());

  Record record;
  record.pid = static_cast<uint32_t>(getpid());
  record.worker = static_cast<uint32_t>(id);
  std::string text, message, ack;
  for (int64_t seq = 0; seq < count; ++seq) {
    text = absl::StrCat("record ", seq, " of ", count,
                        seq % 10 == 9 ? "\n\tcontinued" : "");
    record.seq = static_cast<uint64_t>(seq);
    record.level = static_cast<Level>(seq % 4);
    record.unix_nanos = RealtimeNanos();
    record.text = text;
    EncodeRecord(record, &message);
    if (absl::Status s = queue->SendFor(message, send_timeout); !s.ok()) {
      return Fail(id, absl::StrCat("record ", seq, ": ", s.ToString()));
    }
    if (ack_fd >= 0) {
      ack = absl::StrCat(id, ":", seq, "\n");
      if (write(ack_fd, ack.data(), ack.size()) != static_cast<ssize_t>(ack.size())) {
        return Fail(id, absl::StrCat(ack_path, ": short write of an ack"));
      }
    }
  }
  if (ack_fd >= 0) close(ack_fd);
  std::printf("log_worker %" PRId64 ": sent %" PRId64 " records to %s\n", id,
              count, queue->name().c_str());
  return kExitOk;
}

}  // namespace
}  // namespace logsvc

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "log_worker --queue=NAME --id=K --count=N [--ack_file=PATH] "
      "[--send_timeout=30s] [--open_timeout=10s]");
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() > 1) {
    std::fprintf(stderr, "log_worker: unexpected argument '%s'\n", args[1]);
    return 2;
  }
  return logsvc::Run();
}
