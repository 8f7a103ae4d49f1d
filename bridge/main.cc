// ringbuf-bridge: forwards messages between a ringbuf queue and NATS
// JetStream, without losing any on a crash.
//
//   ringbuf-bridge out --queue=Q --nats=URL --subject=S --stream=N
//                      [--max_inflight=1024] [--create_stream [--replicas=1]]
//   ringbuf-bridge in  --queue=Q --nats=URL --subject=S --stream=N
//                      --durable=D [--batch=256] [--with_sequence]
//
// out: queue -> stream, every message stored exactly once (out.h).
// in:  stream -> queue, at least once; with --with_sequence a consumer
//      can drop the redeliveries (in.h, sequence_prefix.h).
// Stops cleanly on SIGTERM or SIGINT: in-flight acks are awaited and nothing
// that was not acknowledged is taken. Stats go to stderr as one JSON line at
// exit, on SIGUSR1 and every --stats_interval.
//
// Exit codes: 0 stopped by a signal; 1 a failure (one line on stderr naming
// the queue or stream and the reason); 2 bad usage.
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "bridge/stop_flag.h"
#include "absl/time/time.h"
#include "bridge/in.h"
#include "bridge/out.h"
#include "bridge/stats.h"
#include "nats/nats.h"
#include "ringbuf/queue.h"

ABSL_FLAG(std::string, queue, "", "the ringbuf queue (required; must exist)");
ABSL_FLAG(std::string, nats, "nats://127.0.0.1:4222",
          "NATS server URL(s), comma-separated");
ABSL_FLAG(std::string, subject, "", "the NATS subject (required)");
ABSL_FLAG(std::string, stream, "", "the JetStream stream (required)");
ABSL_FLAG(std::string, durable, "", "in: the durable consumer's name (required)");
ABSL_FLAG(int32_t, batch, 256, "in: messages fetched per request, 1..65536");
ABSL_FLAG(int32_t, max_inflight, 1024,
          "out: publishes awaiting their ack at once, 1..65536");
ABSL_FLAG(bool, create_stream, false,
          "out: create the stream on --subject if it does not exist");
ABSL_FLAG(int32_t, replicas, 1, "out --create_stream: the stream's replicas, 1..5");
ABSL_FLAG(absl::Duration, duplicate_window, absl::Minutes(2),
          "out --create_stream: the stream's duplicate window; a bridge that "
          "restarts later than this after a crash may store a message twice");
ABSL_FLAG(bool, ordered, true,
          "out: make the stream refuse a message whose predecessor it lacks "
          "(needs the bridge to be the stream's only publisher)");
ABSL_FLAG(absl::Duration, ack_timeout, absl::Seconds(5),
          "out: how long to wait for a batch's acks before re-sending");
ABSL_FLAG(absl::Duration, ack_wait, absl::Seconds(30),
          "in: the consumer's ack wait, when the bridge creates it");
ABSL_FLAG(bool, with_sequence, false,
          "in: prefix each message with its stream sequence (8 bytes, "
          "big-endian)");
ABSL_FLAG(std::string, position_file, "",
          "in: where to record the highest stream sequence put into the "
          "queue (default: /dev/shm/ringbuf-bridge-in.<queue>.<durable>)");
ABSL_FLAG(absl::Duration, connect_timeout, absl::InfiniteDuration(),
          "give up if NATS cannot be reached at start for this long");
ABSL_FLAG(absl::Duration, stats_interval, absl::ZeroDuration(),
          "print the stats line this often (0: only at exit and on SIGUSR1)");

namespace ringbuf {
namespace bridge {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

int UsageError(absl::string_view why) {
  std::fprintf(stderr, "ringbuf-bridge: %s (see ringbuf-bridge --help)\n",
               std::string(why).c_str());
  return kExitUsage;
}

// Signals are taken by one thread with sigtimedwait (they are blocked in
// every thread, including cnats', before any is created), so the handlers
// may do anything: stop the loop, shut the queue handle down, print stats.
class SignalThread {
 public:
  SignalThread(Stats* stats, std::string direction, std::string queue,
               Queue* q, StopFlag* stop, absl::Duration interval)
      : thread_([=] { Run(stats, direction, queue, q, stop, interval); }) {}
  ~SignalThread() {
    done_.store(true);
    thread_.join();
  }

 private:
  void Run(Stats* stats, const std::string& direction,
           const std::string& queue, Queue* q, StopFlag* stop,
           absl::Duration interval) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGUSR1);
    absl::Time next_stats = absl::Now() + interval;
    while (!done_.load()) {
      const timespec slice = {0, 100 * 1000 * 1000};
      const int sig = sigtimedwait(&set, nullptr, &slice);
      if ((sig == SIGTERM || sig == SIGINT) && !stop->HasBeenNotified()) {
        stop->Notify();
        // `in` may sit in SendBatch on a full queue: wake it. `out` polls
        // `stop` and must keep its handle to release what is acked.
        if (direction == "in") q->Shutdown();
      }
      if (sig == SIGUSR1 ||
          (interval > absl::ZeroDuration() && absl::Now() >= next_stats)) {
        std::fprintf(stderr, "%s\n", StatsJson(*stats, direction, queue).c_str());
        next_stats = absl::Now() + interval;
      }
    }
  }

  std::atomic<bool> done_{false};
  std::thread thread_;
};

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "ringbuf-bridge out|in --queue=Q --nats=URL --subject=S --stream=N "
      "[--durable=D] [flags]");
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() != 2) return UsageError("expected one command: out or in");
  const std::string direction = args[1];
  if (direction != "out" && direction != "in") {
    return UsageError(absl::StrCat("unknown command '", direction, "'"));
  }
  const std::string queue_name = absl::GetFlag(FLAGS_queue);
  for (const char* f : {"queue", "subject", "stream"}) {
    const std::string v = f == std::string("queue")     ? queue_name
                          : f == std::string("subject") ? absl::GetFlag(FLAGS_subject)
                                                        : absl::GetFlag(FLAGS_stream);
    if (v.empty()) return UsageError(absl::StrCat("--", f, " is required"));
  }
  if (direction == "in" && absl::GetFlag(FLAGS_durable).empty()) {
    return UsageError("in: --durable is required");
  }
  const int32_t batch = absl::GetFlag(FLAGS_batch);
  const int32_t max_inflight = absl::GetFlag(FLAGS_max_inflight);
  const int32_t replicas = absl::GetFlag(FLAGS_replicas);
  if (batch < 1 || batch > 65536) {
    return UsageError(absl::StrCat("--batch=", batch, " is not in 1..65536"));
  }
  if (max_inflight < 1 || max_inflight > 65536) {
    return UsageError(
        absl::StrCat("--max_inflight=", max_inflight, " is not in 1..65536"));
  }
  if (replicas < 1 || replicas > 5) {
    return UsageError(absl::StrCat("--replicas=", replicas, " is not in 1..5"));
  }

  // Before any thread exists, so that every thread inherits the mask.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  absl::StatusOr<Queue> queue = Queue::Open(queue_name);
  if (!queue.ok()) {
    std::fprintf(stderr, "ringbuf-bridge %s: %s\n", direction.c_str(),
                 std::string(queue.status().message()).c_str());
    return kExitFailure;
  }
  if (direction == "out" && queue->priorities() > 1) {
    // A message's id is its ring index, and each priority numbers its own
    // messages: ids would collide (Queue::PeekBatch refuses such a queue).
    std::fprintf(stderr,
                 "ringbuf-bridge out: queue '%s' has %u priorities; out "
                 "forwards a queue of one priority only\n",
                 queue->name().c_str(), queue->priorities());
    return kExitFailure;
  }
  Stats stats;
  StopFlag stop;
  absl::Status result;
  {
    SignalThread signals(&stats, direction, queue->name(), &*queue, &stop,
                         absl::GetFlag(FLAGS_stats_interval));
    if (direction == "out") {
      OutConfig c;
      c.urls = absl::GetFlag(FLAGS_nats);
      c.subject = absl::GetFlag(FLAGS_subject);
      c.stream = absl::GetFlag(FLAGS_stream);
      c.max_inflight = static_cast<size_t>(max_inflight);
      c.ack_timeout = absl::GetFlag(FLAGS_ack_timeout);
      c.ordered = absl::GetFlag(FLAGS_ordered);
      c.create_stream = absl::GetFlag(FLAGS_create_stream);
      c.replicas = replicas;
      c.duplicate_window = absl::GetFlag(FLAGS_duplicate_window);
      c.connect_timeout = absl::GetFlag(FLAGS_connect_timeout);
      result = RunOut(c, *queue, stats, stop);
    } else {
      InConfig c;
      c.urls = absl::GetFlag(FLAGS_nats);
      c.subject = absl::GetFlag(FLAGS_subject);
      c.stream = absl::GetFlag(FLAGS_stream);
      c.durable = absl::GetFlag(FLAGS_durable);
      c.batch = batch;
      c.with_sequence = absl::GetFlag(FLAGS_with_sequence);
      c.ack_wait = absl::GetFlag(FLAGS_ack_wait);
      c.position_file = absl::GetFlag(FLAGS_position_file);
      c.connect_timeout = absl::GetFlag(FLAGS_connect_timeout);
      result = RunIn(c, *queue, stats, stop);
    }
  }
  // Let cnats' threads finish so nothing of it outlives main.
  nats_CloseAndWait(2000);
  std::fprintf(stderr, "%s\n", StatsJson(stats, direction, queue->name()).c_str());
  if (!result.ok()) {
    std::fprintf(stderr, "ringbuf-bridge %s: %s\n", direction.c_str(),
                 std::string(result.message()).c_str());
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace
}  // namespace bridge
}  // namespace ringbuf

int main(int argc, char** argv) { return ringbuf::bridge::Main(argc, argv); }
