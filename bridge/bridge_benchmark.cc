// Throughput of ringbuf-bridge on loopback, beside a plain cnats loop:
//
//   plain loop   js_PublishAsync of the same messages (same ids, same window
//                of outstanding acks), then js_PublishAsyncComplete: the
//                ceiling for a forwarder that waits for the stream's acks
//   out          queue A (pre-filled) -> ringbuf-bridge out -> stream, until
//                every message is acked and taken from the queue
//   end to end   queue A (pre-filled) -> out -> stream -> in -> queue B,
//                until queue B holds every message
//
// into an R1 stream on one nats-server and an R3 stream on three, all
// started here on 127.0.0.1 with temporary storage. Each row is the median
// of --repetitions runs, each with a fresh stream; the rows of one stream
// run interleaved, so a phase of machine noise hits all of them alike.
//
//   ./bazelw run -c opt //bridge:bridge_benchmark -- [--messages=200000]
//       [--size=64] [--repetitions=3]
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "bridge/testing/nats_server.h"
#include "nats/nats.h"
#include "ringbuf/queue.h"

ABSL_FLAG(int, messages, 200000, "messages per run");
ABSL_FLAG(int, size, 64, "message size, bytes");
ABSL_FLAG(int, repetitions, 3, "runs per row (the median is reported)");
ABSL_FLAG(int, max_inflight, 1024, "outstanding acks, plain loop and out");
ABSL_FLAG(std::vector<std::string>, out_flags, {},
          "extra flags for `ringbuf-bridge out`, comma-separated "
          "(e.g. --out_flags=--ordered=false)");

namespace ringbuf {
namespace {

using bridge_testing::Child;
using bridge_testing::FreePort;
using bridge_testing::NatsServer;
using bridge_testing::TempDir;

constexpr char kSubject[] = "bench";
constexpr char kStream[] = "BENCH";

void Die(const std::string& why) {
  std::fprintf(stderr, "bridge_benchmark: %s\n", why.c_str());
  std::exit(1);
}

std::string Payload(int i, int size) {
  std::string p = absl::StrFormat("%08d", i);
  p.resize(size, 'x');
  return p;
}

// A JetStream connection for the plain loop and stream management.
struct Js {
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  explicit Js(const std::string& urls, int max_pending) {
    if (natsConnection_ConnectTo(&nc, urls.c_str()) != NATS_OK) Die("connect");
    jsOptions o;
    jsOptions_Init(&o);
    o.PublishAsync.MaxPending = max_pending;
    if (natsConnection_JetStream(&js, nc, &o) != NATS_OK) Die("jetstream");
  }
  ~Js() {
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
  }
  // A fresh stream: deleted if it exists, created with `replicas`.
  void ResetStream(int replicas) {
    jsErrCode jerr;
    js_DeleteStream(js, kStream, nullptr, &jerr);
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    const char* subjects[] = {kSubject};
    cfg.Name = kStream;
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Replicas = replicas;
    jsStreamInfo* si = nullptr;
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    natsStatus s;
    while ((s = js_AddStream(&si, js, &cfg, nullptr, &jerr)) != NATS_OK) {
      if (absl::Now() > deadline) Die(absl::StrCat("add stream: ", natsStatus_GetText(s)));
      absl::SleepFor(absl::Milliseconds(200));
    }
    jsStreamInfo_Destroy(si);
  }
  uint64_t Messages() {
    jsStreamInfo* si = nullptr;
    jsErrCode jerr;
    if (js_GetStreamInfo(&si, js, kStream, nullptr, &jerr) != NATS_OK) return 0;
    const uint64_t n = si->State.Msgs;
    jsStreamInfo_Destroy(si);
    return n;
  }
};

// Messages per second of the plain loop.
double PlainLoop(Js& js, int messages, int size) {
  const absl::Time start = absl::Now();
  for (int i = 0; i < messages; ++i) {
    const std::string p = Payload(i, size);
    const std::string id = absl::StrCat("plain:", i);
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MsgId = id.c_str();
    natsStatus s;
    while ((s = js_PublishAsync(js.js, kSubject, p.data(), size, &po)) == NATS_TIMEOUT) {
    }
    if (s != NATS_OK) Die(absl::StrCat("publish: ", natsStatus_GetText(s)));
  }
  jsPubOptions wait;
  jsPubOptions_Init(&wait);
  wait.MaxWait = 60000;
  if (js_PublishAsyncComplete(js.js, &wait) != NATS_OK) Die("publish complete");
  const double secs = absl::ToDoubleSeconds(absl::Now() - start);
  if (js.Messages() != static_cast<uint64_t>(messages)) Die("plain loop: count");
  return messages / secs;
}

Queue FilledQueue(const std::string& name, int messages, int size) {
  Options o;
  o.capacity = static_cast<uint64_t>(messages);
  o.slot_size = static_cast<uint32_t>(size + 8);
  (void)Queue::Remove(name);
  absl::StatusOr<Queue> q = Queue::Create(name, o);
  if (!q.ok()) Die(std::string(q.status().message()));
  std::vector<std::string> payloads;
  for (int i = 0; i < messages; ++i) payloads.push_back(Payload(i, size));
  std::vector<absl::string_view> views(payloads.begin(), payloads.end());
  size_t sent = 0;
  if (!q->SendBatch(views, absl::Seconds(10), &sent).ok()) Die("fill");
  return *std::move(q);
}

std::string BridgeBinary() { return bridge_testing::Runfile("bridge/ringbuf-bridge"); }

// Messages per second through `out` (and `in`, if end_to_end).
double ThroughBridges(const std::string& urls, Js& js, int messages, int size,
                      bool end_to_end, const TempDir& logs, int run) {
  const std::string a = absl::StrCat("/bridge-bench-a-", getpid());
  const std::string b = absl::StrCat("/bridge-bench-b-", getpid());
  Queue qa = FilledQueue(a, messages, size);
  std::unique_ptr<Queue> qb;
  if (end_to_end) {
    Options o;
    o.capacity = static_cast<uint64_t>(messages);
    o.slot_size = static_cast<uint32_t>(size + 8);
    (void)Queue::Remove(b);
    absl::StatusOr<Queue> q = Queue::Create(b, o);
    if (!q.ok()) Die(std::string(q.status().message()));
    qb = std::make_unique<Queue>(*std::move(q));
  }
  const std::string max_inflight =
      absl::StrCat("--max_inflight=", absl::GetFlag(FLAGS_max_inflight));
  const absl::Time start = absl::Now();
  std::vector<std::string> out_args = {
      BridgeBinary(), "out", "--queue=" + a, "--nats=" + urls,
      std::string("--subject=") + kSubject, std::string("--stream=") + kStream,
      max_inflight};
  for (const std::string& f : absl::GetFlag(FLAGS_out_flags)) out_args.push_back(f);
  Child out(out_args, absl::StrCat(logs.path(), "/out-", run, ".log"));
  Child in;
  if (end_to_end) {
    in = Child({BridgeBinary(), "in", "--queue=" + b, "--nats=" + urls,
                std::string("--subject=") + kSubject,
                std::string("--stream=") + kStream,
                absl::StrCat("--durable=bench", run), "--batch=1024",
                absl::StrCat("--position_file=", logs.path(), "/pos-", run)},
               absl::StrCat(logs.path(), "/in-", run, ".log"));
  }
  const absl::Time deadline = start + absl::Minutes(5);
  for (;;) {
    const bool done = end_to_end ? qb->GetStats().tail == static_cast<uint64_t>(messages)
                                 : qa.GetStats().depth == 0;
    if (done) break;
    if (absl::Now() > deadline) Die("bridges: timed out\n" + out.Log() + in.Log());
    absl::SleepFor(absl::Microseconds(500));
  }
  const double secs = absl::ToDoubleSeconds(absl::Now() - start);
  out.Terminate(absl::Seconds(20));
  if (end_to_end) in.Terminate(absl::Seconds(20));
  if (js.Messages() != static_cast<uint64_t>(messages)) Die("bridge: stream count");
  (void)Queue::Remove(a);
  if (end_to_end) (void)Queue::Remove(b);
  return messages / secs;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::string Rate(double r) {
  return r >= 1e6 ? absl::StrFormat("%.2f M", r / 1e6) : absl::StrFormat("%.1f k", r / 1e3);
}

}  // namespace
}  // namespace ringbuf

int main(int argc, char** argv) {
  using namespace ringbuf;  // NOLINT
  absl::ParseCommandLine(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  const int messages = absl::GetFlag(FLAGS_messages);
  const int size = absl::GetFlag(FLAGS_size);
  const int reps = absl::GetFlag(FLAGS_repetitions);
  std::printf("| stream | plain cnats async loop | out | out ÷ plain | out + in, end to end |\n");
  std::printf("|:--|--:|--:|--:|--:|\n");
  for (int replicas : {1, 3}) {
    std::vector<std::unique_ptr<NatsServer>> servers;
    std::vector<int> cluster_ports;
    if (replicas == 3) cluster_ports = {FreePort(), FreePort(), FreePort()};
    for (int i = 0; i < replicas; ++i) {
      NatsServer::Config c;
      c.name = absl::StrCat("n", i);
      c.cluster_ports = cluster_ports;
      c.index = static_cast<size_t>(i);
      servers.push_back(std::make_unique<NatsServer>(c));
      if (!servers.back()->Start().ok()) Die("nats-server did not start");
    }
    std::vector<std::string> urls;
    for (auto& s : servers) urls.push_back(s->url());
    const std::string all = absl::StrJoin(urls, ",");
    Js js(all, absl::GetFlag(FLAGS_max_inflight));
    TempDir logs;
    std::vector<double> plain, out, e2e;
    for (int r = 0; r < reps; ++r) {
      js.ResetStream(replicas);
      plain.push_back(PlainLoop(js, messages, size));
      js.ResetStream(replicas);
      out.push_back(ThroughBridges(all, js, messages, size, false, logs, 2 * r));
      js.ResetStream(replicas);
      e2e.push_back(ThroughBridges(all, js, messages, size, true, logs, 2 * r + 1));
    }
    std::printf("| R%d | %s msg/s | %s msg/s | %.2f× | %s msg/s |\n", replicas,
                Rate(Median(plain)).c_str(), Rate(Median(out)).c_str(),
                Median(out) / Median(plain), Rate(Median(e2e)).c_str());
    std::fflush(stdout);
  }
  std::printf("\n%d messages of %d B per run, median of %d runs; max_inflight %d%s%s.\n",
              messages, size, reps, absl::GetFlag(FLAGS_max_inflight),
              absl::GetFlag(FLAGS_out_flags).empty() ? "" : "; out ",
              absl::StrJoin(absl::GetFlag(FLAGS_out_flags), " ").c_str());
  return 0;
}
