// A small log service, collector half: receives the records that
// examples/log_worker processes send through one queue, in batches, and
// appends each batch to a log file with one write().
//
//   log_collector --queue=NAME --out=FILE [--batch=256] [--capacity=1024]
//                 [--slot_size=512] [--slow_disk_us=0] [--fsync]
//                 [--stats_every=10s]
//   log_worker --queue=NAME --id=K --count=N [--ack_file=PATH]   (any number)
//   ringbufctl stat NAME                       (the queue's depth and counters)
//
// The collector opens the queue with OpenOrCreate, so workers may start
// first (they wait for the name) and a restarted collector carries on with
// whatever the last run left in the queue. It never removes the queue; retire
// it with `ringbufctl rm NAME`. Each record becomes one line (log_record.h).
//
// Backpressure. The queue holds --capacity records. While the disk (or
// --slow_disk_us, which sleeps after every batch written to stand in for
// one) is slower than the workers, the queue fills and the workers' sends
// block until the collector frees slots: workers slow down to the disk's
// pace and nothing is dropped.
//
// Shutdown: SIGTERM or SIGINT. The handler calls Queue::Shutdown() on the
// receiving handle, which wakes a ReceiveBatch blocked in it. The collector
// writes the batch in hand, reads the queue's tail, the count of records ever
// committed: that is the cut. It then drains, on a second handle it opened
// at start (a shut-down handle refuses every call), until the queue's head
// reaches the cut, writes those batches, fdatasync()s the file, prints one
// summary line on stdout and exits 0. Further stop signals are blocked from
// the cut on: the drain is at most --capacity records (tail - head never
// exceeds it), so it ends on its own.
//
// Contract ("nothing lost"). Every record whose Send returned OK to a worker
// before the stop signal reached the collector is in the file when the
// collector exits 0, exactly once: it committed before the cut, the drain
// takes every record before the cut, and every record taken is written
// before exit. A record committed after the cut is either in the file (a
// drain batch happened to take it) or still in the queue, exactly once in
// both together, for the next collector run; workers meanwhile block, and
// give up after their --send_timeout if no collector returns. Within one
// worker, the file holds its records in the order it sent them. The contract
// needs the handled stop: a collector killed outright (SIGKILL, a crash)
// loses the batch it had taken and not yet written, at most --batch records.
// A non-zero exit means a write failed or the queue is corrupt; stderr then
// says how many taken records were not written.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "examples/argv.h"
#include "examples/log_record.h"
#include "ringbuf/queue.h"

namespace logsvc {
namespace {

struct CollectorOptions {
  std::string queue;        // queue to collect from (required)
  std::string out;          // log file to append to (required)
  int64_t batch = 256;      // most records taken and written at once
  int64_t capacity = 1024;  // queue capacity, if this run creates it
  // Largest record in bytes (header + text), if this run creates it.
  int64_t slot_size = 512;
  // Sleep this long after each batch written: a stand-in slow disk.
  int64_t slow_disk_us = 0;
  bool fsync = false;  // fdatasync() after every batch, not just at exit
  // Print a stats line on stderr this often (0: never).
  absl::Duration stats_every = absl::Seconds(10);
};

absl::Status ParseOptions(int argc, char** argv, CollectorOptions* o) {
  examples::Argv args;
  for (absl::Status s :
       {args.Parse(argc, argv), args.Read("queue", &o->queue),
        args.Read("out", &o->out), args.Read("batch", &o->batch),
        args.Read("capacity", &o->capacity),
        args.Read("slot_size", &o->slot_size),
        args.Read("slow_disk_us", &o->slow_disk_us),
        args.Read("fsync", &o->fsync),
        args.Read("stats_every", &o->stats_every), args.CheckAllUsed()}) {
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

// The handle the main loop receives on; the signal handler shuts it down.
std::atomic<ringbuf::Queue*> g_receiver{nullptr};
volatile std::sig_atomic_t g_stop = 0;
static_assert(std::atomic<ringbuf::Queue*>::is_always_lock_free,
              "the signal handler loads it");

// Async-signal-safe: a store, a lock-free load, and Shutdown() (an atomic
// store and futex calls, per queue.h).
void OnStopSignal(int) {
  g_stop = 1;
  if (ringbuf::Queue* receiver = g_receiver.load()) receiver->Shutdown();
}

void InstallStopHandler() {
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
}

void BlockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

// The log file: formats a batch and appends it with one write().
class LogFile {
 public:
  LogFile(int fd, bool fsync_each_batch, absl::Duration slow_disk)
      : fd_(fd), fsync_each_batch_(fsync_each_batch), slow_disk_(slow_disk) {}
  ~LogFile() { close(fd_); }
  LogFile(const LogFile&) = delete;
  LogFile& operator=(const LogFile&) = delete;

  // Appends one line per message. On error the batch's records were taken
  // from the queue but are not (all) in the file.
  absl::Status Append(const std::vector<std::string>& batch) {
    buffer_.clear();
    for (const std::string& message : batch) {
      Record record;
      if (DecodeRecord(message, &record)) {
        AppendLine(record, &buffer_);
      } else {
        // Not dropped silently: a line that shows what arrived.
        ++malformed_;
        absl::StrAppend(&buffer_, "MALFORMED ", message.size(), " bytes: ",
                        absl::CHexEscape(absl::string_view(message).substr(0, 64)),
                        "\n");
      }
    }
    if (absl::Status s = WriteAll(); !s.ok()) return s;
    if (fsync_each_batch_) {
      if (absl::Status s = Sync(); !s.ok()) return s;
    }
    records_ += batch.size();
    ++batches_;
    // The simulated slow disk: a workload stand-in, not synchronization.
    if (slow_disk_ > absl::ZeroDuration()) absl::SleepFor(slow_disk_);
    return absl::OkStatus();
  }

  absl::Status Sync() {
    if (fdatasync(fd_) != 0) return absl::ErrnoToStatus(errno, "fdatasync");
    return absl::OkStatus();
  }

  uint64_t records() const { return records_; }
  uint64_t batches() const { return batches_; }
  uint64_t malformed() const { return malformed_; }

 private:
  // One write() for the batch; more only if the kernel writes short.
  absl::Status WriteAll() {
    absl::string_view rest = buffer_;
    while (!rest.empty()) {
      ssize_t n = write(fd_, rest.data(), rest.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return absl::ErrnoToStatus(errno, "write");
      }
      rest.remove_prefix(static_cast<size_t>(n));
    }
    return absl::OkStatus();
  }

  const int fd_;
  const bool fsync_each_batch_;
  const absl::Duration slow_disk_;
  std::string buffer_;
  uint64_t records_ = 0;
  uint64_t batches_ = 0;
  uint64_t malformed_ = 0;
};

int Fail(const std::string& what) {
  std::fprintf(stderr, "log_collector: %s\n", what.c_str());
  return kExitFailure;
}

int Usage(const std::string& why) {
  std::fprintf(stderr,
               "log_collector: %s\nusage: log_collector --queue=NAME "
               "--out=FILE [--batch=256] [--capacity=1024] [--slot_size=512] "
               "[--slow_disk_us=0] [--fsync] [--stats_every=10s]\n",
               why.c_str());
  return kExitUsage;
}

// Writes a batch; on failure says how many taken records it could not write.
bool WriteOrReport(LogFile& file, const std::vector<std::string>& batch) {
  if (batch.empty()) return true;
  absl::Status s = file.Append(batch);
  if (s.ok()) return true;
  Fail(absl::StrCat(s.ToString(), "; ", batch.size(),
                    " records taken from the queue were not written"));
  return false;
}

void PrintStats(const ringbuf::Queue& queue, const LogFile& file) {
  const ringbuf::Stats st = queue.GetStats();
  std::fprintf(stderr,
               "log_collector: wrote %" PRIu64 " records in %" PRIu64
               " batches; queue %s depth %" PRIu64 "/%" PRIu64 ", sent %" PRIu64
               ", received %" PRIu64 "\n",
               file.records(), file.batches(), queue.name().c_str(), st.depth,
               st.capacity, st.total_sent, st.total_received);
}

// A receive status the loops can carry on after: OK, a timeout, a lock
// another consumer held throughout (`ringbufctl recv` on the same queue), or
// DataLoss that still delivered messages (one corrupt slot, dropped by the
// library).
bool CanContinue(const absl::Status& s, const std::vector<std::string>& batch) {
  if (s.ok() || absl::IsDeadlineExceeded(s) || absl::IsUnavailable(s)) {
    return true;
  }
  Fail(s.ToString());
  return absl::IsDataLoss(s) && !batch.empty();
}

int Run(const CollectorOptions& args) {
  const std::string& name = args.queue;
  const std::string& path = args.out;
  const int64_t batch_size = args.batch;
  const int64_t slow_disk_us = args.slow_disk_us;
  const absl::Duration stats_every = args.stats_every;
  if (name.empty()) return Usage("--queue is required");
  if (path.empty()) return Usage("--out is required");
  if (batch_size < 1) return Usage("--batch must be at least 1");
  if (slow_disk_us < 0) return Usage("--slow_disk_us must not be negative");
  const int64_t capacity = args.capacity;
  const int64_t slot_size = args.slot_size;
  if (capacity < 1 || static_cast<uint64_t>(capacity) > ringbuf::kMaxCapacity) {
    return Usage(absl::StrCat("--capacity must be in 1..", ringbuf::kMaxCapacity));
  }
  if (slot_size < static_cast<int64_t>(kRecordHeaderSize) ||
      static_cast<uint64_t>(slot_size) > ringbuf::kMaxSlotSize) {
    return Usage(absl::StrCat("--slot_size must be in ", kRecordHeaderSize, "..",
                              ringbuf::kMaxSlotSize, " (a record header is ",
                              kRecordHeaderSize, " bytes)"));
  }

  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return Fail(absl::StrCat(path, ": ", std::strerror(errno)));
  LogFile file(fd, args.fsync, absl::Microseconds(slow_disk_us));

  ringbuf::Options options;
  options.capacity = static_cast<uint64_t>(capacity);
  options.slot_size = static_cast<uint32_t>(slot_size);
  absl::StatusOr<ringbuf::Queue> receiver =
      ringbuf::Queue::OpenOrCreate(name, options);
  if (!receiver.ok()) return Fail(receiver.status().ToString());
  // The drain's handle, opened now so shutdown needs no new resources.
  absl::StatusOr<ringbuf::Queue> drainer = ringbuf::Queue::Open(name);
  if (!drainer.ok()) return Fail(drainer.status().ToString());

  g_receiver.store(&*receiver);
  if (g_stop) receiver->Shutdown();  // a signal that came before the store
  std::printf("log_collector: collecting from %s (capacity %" PRIu64
              ", slot_size %u) into %s, batches of up to %" PRId64 "\n",
              receiver->name().c_str(), receiver->capacity(),
              receiver->slot_size(), path.c_str(), batch_size);
  std::fflush(stdout);

  const bool print_stats = stats_every > absl::ZeroDuration();
  absl::Time next_stats = absl::Now() + stats_every;
  std::vector<std::string> batch;
  for (;;) {
    batch.clear();
    // Blocks until records arrive or Shutdown(); the timeout only paces the
    // stats line.
    const absl::Duration wait =
        print_stats ? std::max(next_stats - absl::Now(), absl::ZeroDuration())
                    : absl::InfiniteDuration();
    absl::Status s =
        receiver->ReceiveBatch(static_cast<size_t>(batch_size), wait, &batch);
    if (!WriteOrReport(file, batch)) return kExitFailure;
    if (print_stats && absl::Now() >= next_stats) {
      PrintStats(*receiver, file);
      next_stats = absl::Now() + stats_every;
    }
    if (absl::IsCancelled(s)) break;  // the stop signal
    if (!CanContinue(s, batch)) return kExitFailure;
  }

  // The cut. From here on the handler must not run: it would touch a
  // handle being destroyed, and the drain is bounded anyway.
  BlockStopSignals();
  g_receiver.store(nullptr);
  const uint64_t cut = drainer->GetStats().tail;
  const uint64_t taken_before_drain = file.records();
  // Everything before `cut` is committed, so while head < cut each
  // ReceiveBatch returns at once, taking at least min(batch, cut - head).
  while (drainer->GetStats().head < cut) {
    batch.clear();
    absl::Status s = drainer->ReceiveBatch(static_cast<size_t>(batch_size),
                                           absl::Seconds(1), &batch);
    if (!WriteOrReport(file, batch)) return kExitFailure;
    if (!CanContinue(s, batch)) return kExitFailure;
  }
  if (absl::Status s = file.Sync(); !s.ok()) return Fail(s.ToString());

  const ringbuf::Stats st = drainer->GetStats();
  std::printf("log_collector: stopped: wrote %" PRIu64 " records (%" PRIu64
              " in the final drain, %" PRIu64 " malformed) in %" PRIu64
              " batches to %s; %" PRIu64 " left in %s for the next run\n",
              file.records(), file.records() - taken_before_drain,
              file.malformed(), file.batches(), path.c_str(), st.depth,
              drainer->name().c_str());
  std::fflush(stdout);
  return kExitOk;
}

}  // namespace
}  // namespace logsvc

int main(int argc, char** argv) {
  // First, so a stop signal is never the default (fatal) action once the
  // queue exists.
  logsvc::InstallStopHandler();
  logsvc::CollectorOptions options;
  if (absl::Status s = logsvc::ParseOptions(argc, argv, &options); !s.ok()) {
    return logsvc::Usage(std::string(s.message()));
  }
  return logsvc::Run(options);
}
