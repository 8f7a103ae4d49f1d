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

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "examples/argv.h"
#include "examples/log_record.h"
#include "ringbuf/queue.h"

namespace logsvc {
namespace {

constexpr char kUsage[] =
    "usage: log_worker --queue=NAME --id=K --count=N [--ack_file=PATH] "
    "[--send_timeout=30s] [--open_timeout=10s]";

struct WorkerOptions {
  std::string queue;       // the collector's queue (required)
  int64_t id = 0;          // this worker's id, stamped on its records
  int64_t count = 1000;    // records to send
  std::string ack_file;    // append "ID:SEQ" after each commit (truncated first)
  absl::Duration send_timeout = absl::Seconds(30);  // per record
  absl::Duration open_timeout = absl::Seconds(10);  // for the queue to exist
};

absl::Status ParseOptions(int argc, char** argv, WorkerOptions* o) {
  examples::Argv args;
  for (absl::Status s :
       {args.Parse(argc, argv), args.Read("queue", &o->queue),
        args.Read("id", &o->id), args.Read("count", &o->count),
        args.Read("ack_file", &o->ack_file),
        args.Read("send_timeout", &o->send_timeout),
        args.Read("open_timeout", &o->open_timeout), args.CheckAllUsed()}) {
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

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

int Run(const WorkerOptions& options) {
  const std::string& name = options.queue;
  const int64_t id = options.id;
  const int64_t count = options.count;
  const std::string& ack_path = options.ack_file;
  const absl::Duration send_timeout = options.send_timeout;
  if (name.empty()) {
    std::fprintf(stderr, "log_worker: --queue is required\n%s\n", kUsage);
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
      OpenWhenCreated(name, options.open_timeout);
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
  logsvc::WorkerOptions options;
  if (absl::Status s = logsvc::ParseOptions(argc, argv, &options); !s.ok()) {
    std::fprintf(stderr, "log_worker: %s\n%s\n",
                 std::string(s.message()).c_str(), logsvc::kUsage);
    return 2;
  }
  return logsvc::Run(options);
}
