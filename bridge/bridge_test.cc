// ringbuf-bridge against real nats-server processes on 127.0.0.1 (started
// here, free ports, temporary storage, always stopped):
//   producer processes -> queue A -> `out` -> JetStream -> `in` -> queue B
// and a consumer here that drops redeliveries by stream sequence
// (--with_sequence) and checks every message arrives exactly once, in
// per-producer order, while the stream holds each exactly once.
//
// Fault injection: the bridges are SIGKILLed at random moments and
// restarted; in the cluster test one of three servers is SIGKILLed mid-run
// and restarted. Bad input: a server down at start, a missing stream, a
// message larger than the server's max_payload.
#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "bridge/sequence_prefix.h"
#include "bridge/testing/nats_server.h"
#include "gtest/gtest.h"
#include "nats/nats.h"
#include "ringbuf/queue.h"
#include "tests/test_util.h"

namespace ringbuf {
namespace {

using bridge_testing::Child;
using bridge_testing::FreePort;
using bridge_testing::NatsServer;
using bridge_testing::TempDir;
using testing::ScopedQueueName;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(undefined_behavior_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

// Sanitizer builds run several times slower on this 2-core machine: the
// same scenarios with fewer messages and kills.
int Scaled(int n) { return kSanitized ? std::max(1, n / 5) : n; }

constexpr absl::Duration kBound = absl::Seconds(50);
// A whole end-to-end run: typically 2-25 s here, far more when every core is
// busy (the three-server run re-elects leaders after each fault).
constexpr absl::Duration kEndToEndBound = absl::Seconds(120);

std::string Bridge() { return bridge_testing::Runfile("bridge/ringbuf-bridge"); }

Queue MakeQueue(const std::string& name, uint64_t capacity, uint32_t slot_size) {
  return testing::CreateQueue(name, capacity, slot_size);
}

// The number of messages in `stream`, read with cnats.
absl::StatusOr<uint64_t> StreamMessages(const std::string& urls,
                                        const std::string& stream) {
  natsConnection* nc = nullptr;
  natsStatus s = natsConnection_ConnectTo(&nc, urls.c_str());
  if (s != NATS_OK) return absl::UnavailableError(natsStatus_GetText(s));
  jsCtx* js = nullptr;
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  uint64_t msgs = 0;
  absl::Status result;
  // A cluster may still be electing the stream's leader: retry, bounded.
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  s = natsConnection_JetStream(&js, nc, nullptr);
  while (s == NATS_OK) {
    s = js_GetStreamInfo(&si, js, stream.c_str(), nullptr, &jerr);
    if (s == NATS_OK || absl::Now() > deadline) break;
    absl::SleepFor(absl::Milliseconds(200));
    s = NATS_OK;
  }
  if (s == NATS_OK) {
    msgs = si->State.Msgs;
    jsStreamInfo_Destroy(si);
  } else {
    result = absl::InternalError(absl::StrCat("stream info: ", natsStatus_GetText(s),
                                              " (", jerr, ")"));
  }
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  if (!result.ok()) return result;
  return msgs;
}

std::string Tail(const std::string& log) {
  return log.size() <= 4000 ? log : log.substr(log.size() - 4000);
}

// The consumer's side of --with_sequence: drops every message at or below
// the highest stream sequence seen (a redelivery).
class SequenceCheck {
 public:
  // False (with a test failure) if `message` has no prefix; else whether it
  // is new, with its payload in *payload.
  bool IsNew(absl::string_view message, absl::string_view* payload) {
    uint64_t seq;
    if (!bridge::SplitSequencePrefix(message, &seq, payload)) {
      ADD_FAILURE() << "message without its sequence prefix";
      return false;
    }
    if (seq <= max_seq_) {
      ++duplicates_;
      return false;
    }
    max_seq_ = seq;
    return true;
  }
  uint64_t max_seq() const { return max_seq_; }
  uint64_t duplicates() const { return duplicates_; }

 private:
  uint64_t max_seq_ = 0;
  uint64_t duplicates_ = 0;
};

// Queue A, the bridges, queue B and the checking consumer.
class Rig {
 public:
  Rig(std::string urls, int replicas)
      : urls_(std::move(urls)), replicas_(replicas),
        qa_(MakeQueue(a_, 4096, 64)), qb_(MakeQueue(b_, 4096, 64 + 8)) {}

  const std::string& stream() const { return stream_; }
  Queue& a() { return qa_; }

  void StartOut() {
    ++out_runs_;
    out_ = Child({Bridge(), "out", "--queue=" + a_.get(), "--nats=" + urls_,
                  "--subject=" + subject_, "--stream=" + stream_,
                  "--create_stream", absl::StrCat("--replicas=", replicas_),
                  "--max_inflight=512", "--ack_timeout=2s"},
                 absl::StrCat(logs_.path(), "/out-", out_runs_, ".log"));
  }
  void StartIn() {
    ++in_runs_;
    in_ = Child({Bridge(), "in", "--queue=" + b_.get(), "--nats=" + urls_,
                 "--subject=" + subject_, "--stream=" + stream_,
                 "--durable=rig", "--batch=256", "--with_sequence",
                 "--position_file=" + logs_.path() + "/in.position"},
                absl::StrCat(logs_.path(), "/in-", in_runs_, ".log"));
  }
  Child& out() { return out_; }
  Child& in() { return in_; }
  std::string Logs() const {
    return absl::StrCat("--- out bridge log (run ", out_runs_, "):\n",
                        Tail(out_.Log()), "\n--- in bridge log (run ", in_runs_,
                        "):\n", Tail(in_.Log()));
  }

  // Forks `producers` processes, each sending `per_producer` messages
  // "P<p>:<i>" into queue A.
  void StartProducers(int producers, int per_producer) {
    for (int p = 0; p < producers; ++p) {
      producer_pids_.push_back(testing::ForkChild([this, p, per_producer] {
        absl::StatusOr<Queue> q = Queue::Open(a_.get());
        if (!q.ok()) return 1;
        for (int i = 0; i < per_producer; ++i) {
          if (!q->SendFor(absl::StrFormat("P%d:%d", p, i), absl::Seconds(60)).ok()) {
            return 2;
          }
        }
        return 0;
      }));
    }
    expected_ = static_cast<uint64_t>(producers) * per_producer;
    next_.assign(producers, 0);
  }

  bool ProducersDone() {
    for (pid_t& pid : producer_pids_) {
      if (pid <= 0) continue;
      int status = 0;
      if (waitpid(pid, &status, WNOHANG) == pid) {
        EXPECT_TRUE(testing::ExitedCleanly(status)) << "producer failed";
        pid = -1;
      }
    }
    for (pid_t pid : producer_pids_) {
      if (pid > 0) return false;
    }
    return true;
  }

  // Takes what queue B has now and checks it; false on a violation.
  bool Consume(absl::Duration wait) {
    std::vector<std::string> batch;
    absl::Status s = qb_.ReceiveBatch(256, wait, &batch);
    // Unavailable: the receive lock stayed busy for the whole wait (the
    // machine is loaded): try again, as a timed loop must.
    if (!s.ok() && !absl::IsDeadlineExceeded(s) && !absl::IsUnavailable(s)) {
      ADD_FAILURE() << s;
      return false;
    }
    for (const std::string& m : batch) {
      absl::string_view payload;
      if (!check_.IsNew(m, &payload)) continue;
      int p = -1, i = -1;
      std::vector<std::string> parts = absl::StrSplit(payload.substr(1), ':');
      if (payload.empty() || payload[0] != 'P' || parts.size() != 2 ||
          !absl::SimpleAtoi(parts[0], &p) || !absl::SimpleAtoi(parts[1], &i) ||
          p < 0 || p >= static_cast<int>(next_.size())) {
        ADD_FAILURE() << "foreign message '" << payload << "'";
        return false;
      }
      if (i != next_[p]) {
        ADD_FAILURE() << "producer " << p << ": expected message " << next_[p]
                      << ", got " << i << " (stream sequence "
                      << check_.max_seq() << "): lost or out of order";
        return false;
      }
      ++next_[p];
      ++received_;
    }
    return true;
  }

  uint64_t received() const { return received_; }
  uint64_t expected() const { return expected_; }
  uint64_t redelivered() const { return check_.duplicates(); }

 private:
  std::string urls_;
  int replicas_;
  ScopedQueueName a_{"a"};
  ScopedQueueName b_{"b"};
  Queue qa_;
  Queue qb_;
  std::string subject_ = "ringbuf.test";
  std::string stream_ = "RINGBUF_TEST";
  TempDir logs_;
  Child out_;
  Child in_;
  int out_runs_ = 0;
  int in_runs_ = 0;
  std::vector<pid_t> producer_pids_;
  uint64_t expected_ = 0;
  std::vector<int> next_;
  SequenceCheck check_;
  uint64_t received_ = 0;
};

struct Faults {
  int bridge_kills = 0;       // SIGKILLs of a bridge (each restarted at once)
  bool restart_a_server = false;
};

// Runs producers -> A -> out -> stream -> in -> B -> consumer to the end
// and checks exactly-once delivery and the stream's message count.
void RunEndToEnd(std::vector<std::unique_ptr<NatsServer>>& servers, int producers,
                 int per_producer, const Faults& faults) {
  std::vector<std::string> urls;
  for (auto& s : servers) urls.push_back(s->url());
  const std::string all_urls = absl::StrJoin(urls, ",");
  Rig rig(all_urls, static_cast<int>(servers.size()));
  rig.StartOut();
  // `in` refuses a stream that does not exist: let `out` create it first.
  ASSERT_TRUE(rig.out().AwaitLog("created stream", absl::Seconds(30)))
      << rig.Logs();
  rig.StartIn();
  rig.StartProducers(producers, per_producer);
  // The bridges are killed when the consumer's count passes these points
  // (plus a random delay), so each kill comes after some progress.
  std::vector<uint64_t> kill_points;
  std::mt19937 rng(std::random_device{}());
  for (int k = 0; k < faults.bridge_kills; ++k) {
    kill_points.push_back(rng() % (rig.expected() * 6 / 10));
  }
  std::sort(kill_points.begin(), kill_points.end());
  // Progress required between two kills: all of them fit in the run.
  const uint64_t kill_spacing = std::min<uint64_t>(
      256, rig.expected() / (4 * static_cast<uint64_t>(faults.bridge_kills) + 1));

  const absl::Time deadline = absl::Now() + kEndToEndBound;
  int kills = 0;
  uint64_t received_at_last_kill = 0;
  bool server_killed = false, server_restarted = false;
  size_t killed_server = 0;
  while (rig.received() < rig.expected()) {
    ASSERT_LT(absl::Now(), deadline)
        << "received " << rig.received() << " of " << rig.expected()
        << " unique messages; queue A depth " << rig.a().GetStats().depth
        << "\n" << rig.Logs();
    ASSERT_TRUE(rig.Consume(absl::Milliseconds(50))) << rig.Logs();
    rig.ProducersDone();
    if (faults.restart_a_server && !server_killed &&
        rig.received() > rig.expected() / 4) {
      killed_server = rng() % servers.size();
      servers[killed_server]->Kill();  // mid-run, one of three
      server_killed = true;
      continue;
    }
    if (server_killed && !server_restarted &&
        rig.received() > rig.expected() / 2) {
      ASSERT_TRUE(servers[killed_server]->Start().ok());  // same store dir
      server_restarted = true;
      continue;
    }
    // Each kill waits for progress since the last (the restarted bridges
    // have been forwarding), then strikes after a random delay.
    if (kills < faults.bridge_kills && rig.received() >= kill_points[kills] &&
        rig.received() >= received_at_last_kill + kill_spacing) {
      received_at_last_kill = rig.received();
      absl::SleepFor(absl::Milliseconds(rng() % 30));
      ++kills;
      if (rng() % 2 == 0) {
        rig.out().Kill(SIGKILL);
        rig.StartOut();
      } else {
        rig.in().Kill(SIGKILL);
        rig.StartIn();
      }
    }
  }
  EXPECT_EQ(kills, faults.bridge_kills);
  if (faults.restart_a_server) {
    EXPECT_TRUE(server_restarted);
  }
  // A clean stop: exit 0, after the stats line (once they are up: a signal
  // before main() blocks it would just kill the process).
  ASSERT_TRUE(rig.out().AwaitLog("ringbuf-bridge out: forwarding", kBound)) << rig.Logs();
  ASSERT_TRUE(rig.in().AwaitLog("ringbuf-bridge in: forwarding", kBound)) << rig.Logs();
  EXPECT_EQ(rig.out().Terminate(absl::Seconds(20)), 0) << rig.Logs();
  EXPECT_EQ(rig.in().Terminate(absl::Seconds(20)), 0) << rig.Logs();
  // Into the stream exactly once: its count is the number of messages.
  absl::StatusOr<uint64_t> in_stream = StreamMessages(all_urls, rig.stream());
  ASSERT_TRUE(in_stream.ok()) << in_stream.status();
  EXPECT_EQ(*in_stream, rig.expected()) << "duplicates stored in the stream";
  EXPECT_TRUE(rig.Consume(absl::ZeroDuration()));
  EXPECT_EQ(rig.received(), rig.expected());
  EXPECT_EQ(rig.a().GetStats().depth, 0u);
  if (std::getenv("BRIDGE_TEST_LOGS") != nullptr) std::fprintf(stderr, "%s\n", rig.Logs().c_str());
  std::fprintf(stderr, "%llu messages exactly once; %llu redeliveries dropped; "
               "%d bridge kills\n",
               static_cast<unsigned long long>(rig.received()),
               static_cast<unsigned long long>(rig.redelivered()), kills);
}

std::vector<std::unique_ptr<NatsServer>> SingleNode() {
  std::vector<std::unique_ptr<NatsServer>> servers;
  servers.push_back(std::make_unique<NatsServer>(NatsServer::Config{}));
  return servers;
}

std::vector<std::unique_ptr<NatsServer>> ThreeNodes() {
  std::vector<int> cluster_ports = {FreePort(), FreePort(), FreePort()};
  std::vector<std::unique_ptr<NatsServer>> servers;
  for (size_t i = 0; i < 3; ++i) {
    NatsServer::Config c;
    c.name = absl::StrCat("n", i);
    c.cluster_ports = cluster_ports;
    c.index = i;
    servers.push_back(std::make_unique<NatsServer>(c));
  }
  return servers;
}

TEST(BridgeTest, SingleNodeEndToEndExactlyOnceInOrder) {
  auto servers = SingleNode();
  ASSERT_TRUE(servers[0]->Start().ok());
  RunEndToEnd(servers, 4, Scaled(100000) / 4, Faults{});
}

TEST(BridgeTest, SingleNodeBridgesKilledAtRandom) {
  auto servers = SingleNode();
  ASSERT_TRUE(servers[0]->Start().ok());
  RunEndToEnd(servers, 4, Scaled(40000) / 4, Faults{Scaled(30), false});
}

TEST(BridgeTest, ThreeNodesR3BridgesAndAServerKilled) {
  auto servers = ThreeNodes();
  for (auto& s : servers) ASSERT_TRUE(s->Start().ok());
  RunEndToEnd(servers, 4, Scaled(24000) / 4, Faults{Scaled(20), true});
}

// --- Crash sites, one at a time -------------------------------------------------
// The crash-points build of the bridge SIGKILLs itself at a named step of
// its protocol (bridge/crash_point.h); a normal bridge then takes over.

std::string CrashingBridge() {
  return bridge_testing::Runfile("bridge/ringbuf-bridge-crash-points");
}

std::vector<std::string> CrashAt(const std::string& site) {
  return {"RINGBUF_BRIDGE_CRASH_AT=" + site, "RINGBUF_BRIDGE_CRASH_SKIP=1"};
}

// Waits (bounded) until `q` is empty.
bool AwaitEmpty(Queue& q) {
  const absl::Time deadline = absl::Now() + kBound;
  while (q.GetStats().depth != 0) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

constexpr int kCrashMessages = 300;

// Queue A holds m0..m299; a stream "C" on "c" is created by the first `out`.
void FillQueue(Queue& q) {
  for (int i = 0; i < kCrashMessages; ++i) {
    ASSERT_TRUE(q.Send(absl::StrCat("m", i)).ok());
  }
}

std::vector<std::string> OutArgs(const std::string& bridge, const std::string& queue,
                                 const std::string& url) {
  return {bridge, "out", "--queue=" + queue, "--nats=" + url, "--subject=c",
          "--stream=C", "--create_stream", "--max_inflight=100"};
}

// Runs a normal `out` bridge until `q` is empty, stops it with SIGTERM
// (expecting exit 0) and returns its log.
std::string DrainWithOut(Queue& q, const std::string& queue, const std::string& url,
                         const std::string& log_path) {
  Child out(OutArgs(Bridge(), queue, url), log_path);
  EXPECT_TRUE(AwaitEmpty(q)) << out.Log();
  EXPECT_TRUE(out.AwaitLog("ringbuf-bridge out: forwarding", kBound));
  EXPECT_EQ(out.Terminate(kBound), 0) << out.Log();
  return out.Log();
}

class OutCrashTest : public ::testing::TestWithParam<const char*> {};

// Killed with a batch published (acked or not) but not taken from the
// queue: the next bridge publishes it again under the same ids, the stream
// stores none of them twice.
TEST_P(OutCrashTest, ResentBatchIsStoredOnce) {
  const std::string site = GetParam();
  NatsServer server(NatsServer::Config{});
  ASSERT_TRUE(server.Start().ok());
  ScopedQueueName a("a");
  Queue q = MakeQueue(a, 512, 64);
  FillQueue(q);
  TempDir logs;
  Child crashing(OutArgs(CrashingBridge(), a, server.url()),
                 logs.path() + "/crashing.log", CrashAt(site));
  ASSERT_EQ(crashing.Wait(kBound), -2) << crashing.Log();  // died of SIGKILL
  // What it had taken from the queue is stored; what it had not taken may
  // be stored too: `stored_not_taken` messages.
  const uint64_t taken = kCrashMessages - q.GetStats().depth;
  absl::StatusOr<uint64_t> before = StreamMessages(server.url(), "C");
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_GE(*before, taken);
  const uint64_t stored_not_taken = *before - taken;
  if (site == "out-acked") {
    EXPECT_GT(stored_not_taken, 0u) << "it crashed with acked messages in hand";
  }

  const std::string log = DrainWithOut(q, a, server.url(), logs.path() + "/out.log");
  absl::StatusOr<uint64_t> after = StreamMessages(server.url(), "C");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(*after, static_cast<uint64_t>(kCrashMessages));
  // Each of those was published again and recognised as a duplicate.
  EXPECT_NE(log.find(absl::StrCat("\"duplicates\":", stored_not_taken, ",")),
            std::string::npos)
      << stored_not_taken << "\n" << log;
}

INSTANTIATE_TEST_SUITE_P(Sites, OutCrashTest,
                         ::testing::Values("out-published", "out-acked"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           return info.param[4] == 'p' ? std::string("Published")
                                                       : std::string("Acked");
                         });

class InCrashTest : public ::testing::TestWithParam<const char*> {};

// Killed with a batch in the queue, before (in-sent) or after (in-recorded)
// recording the position, and before acking it: the next bridge goes on from
// the recorded position. Before it: the batch reaches the queue a second
// time and the sequence check drops it; after it: nothing twice.
TEST_P(InCrashTest, NextBridgeResumesAtThePosition) {
  const std::string site = GetParam();
  NatsServer server(NatsServer::Config{});
  ASSERT_TRUE(server.Start().ok());
  ScopedQueueName a("a"), b("b");
  Queue qa = MakeQueue(a, 512, 64);
  Queue qb = MakeQueue(b, 512, 64 + 8);
  FillQueue(qa);
  TempDir logs;
  DrainWithOut(qa, a, server.url(), logs.path() + "/out.log");
  auto in_args = [&](const std::string& bridge) {
    return std::vector<std::string>{
        bridge, "in", "--queue=" + b.get(), "--nats=" + server.url(),
        "--subject=c", "--stream=C", "--durable=d", "--batch=100",
        "--with_sequence", "--position_file=" + logs.path() + "/in.position"};
  };
  Child crashing(in_args(CrashingBridge()), logs.path() + "/crashing.log",
                 CrashAt(site));
  ASSERT_EQ(crashing.Wait(kBound), -2) << crashing.Log();
  const uint64_t in_queue_at_crash = qb.GetStats().depth;
  EXPECT_GT(in_queue_at_crash, 0u);

  Child in(in_args(Bridge()), logs.path() + "/in.log");
  uint64_t next_expected = 0;
  SequenceCheck check;
  const absl::Time deadline = absl::Now() + kBound;
  while (next_expected < kCrashMessages) {
    ASSERT_LT(absl::Now(), deadline) << in.Log();
    std::vector<std::string> batch;
    (void)qb.ReceiveBatch(512, absl::Milliseconds(50), &batch);
    for (const std::string& m : batch) {
      absl::string_view payload;
      if (!check.IsNew(m, &payload)) continue;
      ASSERT_EQ(payload, absl::StrCat("m", next_expected));
      ++next_expected;
    }
  }
  ASSERT_TRUE(in.AwaitLog("ringbuf-bridge in: forwarding", kBound));
  EXPECT_EQ(in.Terminate(kBound), 0) << in.Log();
  std::string extra;
  EXPECT_FALSE(qb.TryReceive(&extra).ok()) << "a message after the last";
  if (site == "in-sent") {
    EXPECT_GT(check.duplicates(), 0u) << "the unrecorded batch was not delivered again";
  } else {
    EXPECT_EQ(check.duplicates(), 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(Sites, InCrashTest,
                         ::testing::Values("in-sent", "in-recorded"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           return info.param[3] == 's' ? std::string("Sent")
                                                       : std::string("Recorded");
                         });

// --- Clean shutdown -------------------------------------------------------------

// The value of `field` in the last stats line of `log`, or -1.
int64_t LastStat(const std::string& log, const std::string& field) {
  const size_t at = log.rfind("\"" + field + "\":");
  int64_t value = -1;
  if (at == std::string::npos) return value;
  const size_t start = at + field.size() + 3;
  const size_t end = log.find_first_of(",}", start);
  if (!absl::SimpleAtoi(log.substr(start, end - start), &value)) return -1;
  return value;
}

// True once every thread of `pid` is stopped (state 'T' in /proc), bounded.
bool AwaitStopped(pid_t pid) {
  const absl::Time deadline = absl::Now() + kBound;
  while (absl::Now() < deadline) {
    bool all_stopped = true, any = false;
    const std::string tasks = absl::StrCat("/proc/", pid, "/task");
    if (DIR* dir = opendir(tasks.c_str())) {
      while (dirent* e = readdir(dir)) {
        if (e->d_name[0] == '.') continue;
        std::ifstream stat(absl::StrCat(tasks, "/", e->d_name, "/stat"));
        std::string line;
        std::getline(stat, line);
        // "pid (comm) S ...": the state follows the last ')'.
        const size_t paren = line.rfind(')');
        if (paren == std::string::npos || paren + 2 >= line.size()) continue;
        any = true;
        all_stopped = all_stopped && (line[paren + 2] == 'T' || line[paren + 2] == 't');
      }
      closedir(dir);
    }
    if (any && all_stopped) return true;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return false;
}

// SIGTERM with publishes in flight and a server that does not answer (it is
// SIGSTOPped): `out` waits for the acks (--ack_timeout), takes nothing that
// was not acknowledged, and exits 0. The next run re-sends them; the stream
// stores each once.
TEST(BridgeShutdownTest, SigtermTakesNothingUnacknowledged) {
  NatsServer server(NatsServer::Config{});
  ASSERT_TRUE(server.Start().ok());
  ScopedQueueName a("a");
  Queue q = MakeQueue(a, 64, 64);
  TempDir logs;
  std::vector<std::string> args = OutArgs(Bridge(), a, server.url());
  args.push_back("--ack_timeout=1s");
  Child out(args, logs.path() + "/out.log");
  ASSERT_TRUE(out.AwaitLog("ringbuf-bridge out: forwarding", kBound)) << out.Log();
  ASSERT_EQ(kill(server.pid(), SIGSTOP), 0);
  // kill() returns before the target has stopped: wait until it has.
  ASSERT_TRUE(AwaitStopped(server.pid())) << "nats-server did not stop";
  std::vector<std::string> messages;
  for (int i = 0; i < 50; ++i) messages.push_back(absl::StrCat("m", i));
  std::vector<absl::string_view> views(messages.begin(), messages.end());
  size_t sent = 0;
  ASSERT_TRUE(q.SendBatch(views, kBound, &sent).ok());
  // All published (in flight, perhaps more than once), as its stats say.
  const absl::Time deadline = absl::Now() + kBound;
  while (LastStat(out.Log(), "forwarded") < 50) {
    ASSERT_LT(absl::Now(), deadline) << out.Log();
    out.Kill(SIGUSR1);
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(out.Terminate(kBound), 0) << out.Log();
  EXPECT_EQ(q.GetStats().depth, 50u) << "taken without an ack";
  EXPECT_NE(out.Log().find("\"acked\":0,"), std::string::npos) << out.Log();
  ASSERT_EQ(kill(server.pid(), SIGCONT), 0);

  DrainWithOut(q, a, server.url(), logs.path() + "/again.log");
  absl::StatusOr<uint64_t> n = StreamMessages(server.url(), "C");
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 50u);
}

// --- Bad input ---------------------------------------------------------------

// A server that is down when the bridge starts: it says so, retries with
// backoff, and forwards once the server is there.
TEST(BridgeBadInputTest, ServerDownAtStartIsRetried) {
  NatsServer server(NatsServer::Config{});  // port chosen, not started yet
  ScopedQueueName a("a");
  Queue q = MakeQueue(a, 16, 64);
  ASSERT_TRUE(q.Send("waited for").ok());
  TempDir logs;
  Child out({Bridge(), "out", "--queue=" + a.get(), "--nats=" + server.url(),
             "--subject=late", "--stream=LATE", "--create_stream"},
            logs.path() + "/out.log");
  ASSERT_TRUE(out.AwaitLog("cannot connect to NATS at " + server.url(), kBound))
      << out.Log();
  ASSERT_TRUE(out.AwaitLog("retrying in", kBound)) << out.Log();
  EXPECT_EQ(q.GetStats().depth, 1u);
  ASSERT_TRUE(server.Start().ok());
  ASSERT_TRUE(out.AwaitLog("ringbuf-bridge out: forwarding", kBound)) << out.Log();
  absl::StatusOr<uint64_t> n = StreamMessages(server.url(), "LATE");
  const absl::Time deadline = absl::Now() + kBound;
  while (n.ok() && *n < 1 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
    n = StreamMessages(server.url(), "LATE");
  }
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 1u);
  EXPECT_EQ(out.Terminate(kBound), 0) << out.Log();
  EXPECT_EQ(q.GetStats().depth, 0u);
}

// ... and one that never comes: --connect_timeout gives up with exit 1.
TEST(BridgeBadInputTest, ServerThatNeverComesGivesUpAfterConnectTimeout) {
  const int port = FreePort();
  ScopedQueueName a("a");
  Queue q = MakeQueue(a, 16, 64);
  TempDir logs;
  Child out({Bridge(), "out", "--queue=" + a.get(),
             absl::StrCat("--nats=nats://127.0.0.1:", port), "--subject=x",
             "--stream=X", "--connect_timeout=1s"},
            logs.path() + "/out.log");
  EXPECT_EQ(out.Wait(kBound), 1);
  EXPECT_NE(out.Log().find("gave up after"), std::string::npos) << out.Log();
}

// A stream that does not exist: `in` (and `out` without --create_stream)
// stop at once with exit 1 and a message naming it.
TEST(BridgeBadInputTest, MissingStreamIsAClearError) {
  NatsServer server(NatsServer::Config{});
  ASSERT_TRUE(server.Start().ok());
  ScopedQueueName a("a");
  Queue q = MakeQueue(a, 16, 64);
  TempDir logs;
  Child in({Bridge(), "in", "--queue=" + a.get(), "--nats=" + server.url(),
            "--subject=nowhere", "--stream=NOPE", "--durable=d",
            "--position_file=" + logs.path() + "/in.position"},
           logs.path() + "/in.log");
  EXPECT_EQ(in.Wait(kBound), 1);
  EXPECT_NE(in.Log().find("stream 'NOPE' does not exist"), std::string::npos)
      << in.Log();
  Child out({Bridge(), "out", "--queue=" + a.get(), "--nats=" + server.url(),
             "--subject=nowhere", "--stream=NOPE"},
            logs.path() + "/out.log");
  EXPECT_EQ(out.Wait(kBound), 1);
  EXPECT_NE(out.Log().find("stream 'NOPE' does not exist"), std::string::npos)
      << out.Log();
}

// `out` names each message by its ring index, which every priority of a
// multi-priority queue numbers on its own: it refuses such a queue at start,
// before connecting, rather than fail at its first batch.
TEST(BridgeBadInputTest, OutRefusesAQueueOfSeveralPriorities) {
  ScopedQueueName a("a");
  Options o;
  o.capacity = 16;
  o.slot_size = 64;
  o.priorities = 2;
  absl::StatusOr<Queue> q = Queue::Create(a.get(), o);
  ASSERT_TRUE(q.ok()) << q.status();
  TempDir logs;
  Child out({Bridge(), "out", "--queue=" + a.get(),
             "--nats=nats://127.0.0.1:1", "--subject=s", "--stream=S"},
            logs.path() + "/out.log");
  EXPECT_EQ(out.Wait(kBound), 1);
  EXPECT_NE(out.Log().find("has 2 priorities"), std::string::npos)
      << out.Log();
}

// A message larger than the server's max_payload is never dropped: the
// bridge forwards everything before it, then stops with exit 1 and a
// message naming it; it stays at the head of the queue.
TEST(BridgeBadInputTest, MessageLargerThanMaxPayloadStopsTheBridge) {
  NatsServer::Config c;
  c.extra_config = "max_payload: 1024";
  NatsServer server(c);
  ASSERT_TRUE(server.Start().ok());
  ScopedQueueName a("a");
  Queue q = MakeQueue(a, 16, 4096);
  ASSERT_TRUE(q.Send("small 1").ok());
  ASSERT_TRUE(q.Send("small 2").ok());
  ASSERT_TRUE(q.Send(std::string(2000, 'L')).ok());
  ASSERT_TRUE(q.Send("after").ok());
  TempDir logs;
  Child out({Bridge(), "out", "--queue=" + a.get(), "--nats=" + server.url(),
             "--subject=big", "--stream=BIG", "--create_stream"},
            logs.path() + "/out.log");
  EXPECT_EQ(out.Wait(kBound), 1);
  EXPECT_NE(out.Log().find("message 2 is 2000 bytes, larger than the NATS "
                           "server's max_payload of 1024"),
            std::string::npos)
      << out.Log();
  absl::StatusOr<uint64_t> n = StreamMessages(server.url(), "BIG");
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 2u);
  std::string head;
  ASSERT_TRUE(q.TryReceive(&head).ok());
  EXPECT_EQ(head.size(), 2000u);
  EXPECT_EQ(q.GetStats().depth, 1u);
}

// `in`: a stream message larger than the queue's slot_size is not acked and
// stops the bridge (exit 1); it stays in the stream for a bigger queue.
TEST(BridgeBadInputTest, StreamMessageLargerThanTheSlotStopsIn) {
  NatsServer server(NatsServer::Config{});
  ASSERT_TRUE(server.Start().ok());
  ScopedQueueName a("a"), b("b");
  Queue qa = MakeQueue(a, 16, 256);
  Queue qb = MakeQueue(b, 16, 64);
  ASSERT_TRUE(qa.Send("fits").ok());
  ASSERT_TRUE(qa.Send(std::string(100, 'x')).ok());
  TempDir logs;
  Child out({Bridge(), "out", "--queue=" + a.get(), "--nats=" + server.url(),
             "--subject=s", "--stream=S", "--create_stream"},
            logs.path() + "/out.log");
  ASSERT_TRUE(out.AwaitLog("ringbuf-bridge out: forwarding", kBound)) << out.Log();
  Child in({Bridge(), "in", "--queue=" + b.get(), "--nats=" + server.url(),
            "--subject=s", "--stream=S", "--durable=d",
            "--position_file=" + logs.path() + "/in.position"},
           logs.path() + "/in.log");
  EXPECT_EQ(in.Wait(kBound), 1) << in.Log();
  EXPECT_NE(in.Log().find("larger than its slot_size 64"), std::string::npos)
      << in.Log();
  std::string m;
  ASSERT_TRUE(qb.TryReceive(&m).ok());
  EXPECT_EQ(m, "fits");
  EXPECT_EQ(out.Terminate(kBound), 0) << out.Log();
}

}  // namespace
}  // namespace ringbuf
