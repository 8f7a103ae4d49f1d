// ringbuf beside its peers: POSIX message queues, Boost.Interprocess
// message_queue and a pipe, with a busy-poll SPSC ring as the limit. Every
// workload below is written once against the Channel/Endpoint seam of
// transport.h and registered once per transport, so a row such as
//
//   BM_Throughput/ringbuf/place:split/p:4/c:1/size:64/cap:1024/manual_time
//
// has a twin for posix_mq, boost_mq, pipe and spsc_busy, run in the same
// binary, in the same run, right after it.
//
// Why the workloads are shaped so:
//   * Separate processes (fork), never threads: that is what an inter-process
//     queue is for, and what its peers' costs (system calls, wake-ups across
//     address spaces) depend on.
//   * Time starts when every child has attached and the start gate opens
//     (crew.h), and ends at the last child's last operation: no fork, open or
//     unmap in the figure. That is the manual time; CPU is each child's own
//     user + sys over the same span, summed.
//   * Every transfer is verified (Tally); a run that loses, duplicates,
//     reorders or tears a message reports an error, never a figure.
//   * Each transport is asked for the same capacity; what it actually got
//     (peers' limits) is the capacity_got counter, and a geometry a peer
//     cannot provide at all is skipped with "unavailable: <why>".
//   * The placement is fixed per row (place:): whether producers and
//     consumers share a CPU decides who wins more than anything else does
//     on a small VM, so a row that left it to the scheduler would measure the
//     scheduler's mood. See Placement below.
//
// Flags besides Google Benchmark's: --placement=LIST, a comma-separated
// subset of none,split,same (default none): the placements to register rows
// for. Scale: RINGBUF_BENCH_QUICK=1 moves half the messages per run,
// RINGBUF_BENCH_SMOKE=1 a few thousand (for the CI smoke test). Which rows
// run is chosen with --benchmark_filter (see run_benchmarks.sh).
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/crew.h"
#include "bench/transport.h"
#include "benchmark/benchmark.h"

namespace ringbuf_bench {
namespace {

// ---- Scale ------------------------------------------------------------------

enum class Scale { kFull, kQuick, kSmoke };

bool EnvFlag(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' && std::strcmp(v, "0") != 0;
}

Scale CurrentScale() {
  static const Scale scale = EnvFlag("RINGBUF_BENCH_SMOKE")   ? Scale::kSmoke
                             : EnvFlag("RINGBUF_BENCH_QUICK") ? Scale::kQuick
                                                              : Scale::kFull;
  return scale;
}

const char* ScaleName() {
  switch (CurrentScale()) {
    case Scale::kSmoke:
      return "smoke";
    case Scale::kQuick:
      return "quick";
    case Scale::kFull:
      break;
  }
  return "full";
}

// Messages one throughput run moves, whatever the transport, so that rows
// compare the same work: capped by count for small messages and by bytes for
// large ones, so that a run lasts ~0.1-0.5 s on the slower transports of a
// 2-core VM. Faster transports finish a run sooner; Google Benchmark then
// repeats runs until the row has --benchmark_min_time of measured time.
uint64_t MessagesPerRun(uint32_t message_size) {
  constexpr uint64_t kMaxMessages = 200000;
  constexpr uint64_t kMaxBytes = uint64_t{256} << 20;
  const uint64_t full = std::min(kMaxMessages, kMaxBytes / message_size);
  switch (CurrentScale()) {
    case Scale::kSmoke:
      return std::min<uint64_t>(full, 4000);
    case Scale::kQuick:
      return full / 2;
    case Scale::kFull:
      break;
  }
  return full;
}

// ---- Placement ----------------------------------------------------------------
//
//   none   every child unpinned: the scheduler places them (what an
//          application gets by default, and the least repeatable).
//   split  senders (producers; the pinger) on one CPU, receivers (consumers;
//          the ponger) on another: each side has a CPU of its own, the
//          hand-off crosses CPUs.
//   same   every child on one CPU: a waiter's peer can only run when the
//          waiter gives the CPU up (a service with more busy threads than
//          cores).
// The two CPUs are the first two this process may use when it starts.

enum class Placement { kNone, kSplit, kSame };

const char* PlacementName(Placement placement) {
  switch (placement) {
    case Placement::kSplit:
      return "split";
    case Placement::kSame:
      return "same";
    case Placement::kNone:
      break;
  }
  return "none";
}

absl::StatusOr<Placement> ParsePlacement(absl::string_view name) {
  for (Placement p : {Placement::kNone, Placement::kSplit, Placement::kSame}) {
    if (name == PlacementName(p)) return p;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "--placement: '", name, "' is not one of none, split, same"));
}

// The first two CPUs in this process's affinity mask at start-up (-1: none).
struct CpuPair {
  int first = -1;
  int second = -1;
};

const CpuPair& Cpus() {
  static const CpuPair cpus = [] {
    CpuPair pair;
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) != 0) return pair;
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (!CPU_ISSET(cpu, &set)) continue;
      (pair.first < 0 ? pair.first : pair.second) = cpu;
      if (pair.second >= 0) break;
    }
    return pair;
  }();
  return cpus;
}

// Unavailable, with the reason, when the machine cannot give the placement.
absl::Status CheckPlacement(Placement placement) {
  if (placement == Placement::kSplit && Cpus().second < 0) {
    return absl::UnavailableError(
        "placement split needs two CPUs; this process may use one");
  }
  return absl::OkStatus();
}

// The CPUs a sending / receiving child is pinned to (empty: unpinned).
std::vector<int> SenderCpus(Placement placement) {
  if (placement == Placement::kNone) return {};
  return {Cpus().first};
}

std::vector<int> ReceiverCpus(Placement placement) {
  switch (placement) {
    case Placement::kSplit:
      return {Cpus().second};
    case Placement::kSame:
      return {Cpus().first};
    case Placement::kNone:
      break;
  }
  return {};
}

constexpr absl::Duration kReadyTimeout = absl::Seconds(30);
constexpr absl::Duration kRunTimeout = absl::Seconds(60);

// ---- Helpers shared by the workloads ----------------------------------------

// Only a transport's own "cannot provide this here" (from Transport::create)
// is a skip; a child or the harness failing is a failure, whatever errno.
absl::Status AsFailure(const absl::Status& status) {
  return absl::IsUnavailable(status) ? absl::InternalError(status.message())
                                     : status;
}

// Stops the benchmark's row with a message, and no figures.
void SkipWithStatus(benchmark::State& state, const absl::Status& status) {
  const std::string text = absl::IsUnavailable(status)
                               ? absl::StrCat("unavailable: ", status.message())
                               : absl::StrCat("FAILED: ", status.ToString());
  state.SkipWithError(text.c_str());
}

// Every message starts and ends with the same tag: the producer's id in the
// top byte, its sequence number below. Start and end differing means a torn
// or misframed message; an 8-byte message is the tag alone.
constexpr int kSeqBits = 56;
constexpr uint64_t kSeqMask = (uint64_t{1} << kSeqBits) - 1;
constexpr uint64_t kStopProducer = 0xFF;  // the tag of an end-of-run message
constexpr int kMaxProducers = 64;
// The priorities of the BM_MixedPriority rows (POSIX mq offers 32768,
// Boost's message_queue any unsigned int, ringbuf up to 32).
constexpr uint32_t kMixedPriorities = 4;

uint64_t Tag(uint64_t producer, uint64_t seq) {
  return producer << kSeqBits | seq;
}

void StampTag(std::string* message, uint64_t tag) {
  std::memcpy(&(*message)[0], &tag, sizeof(tag));
  std::memcpy(&(*message)[message->size() - sizeof(tag)], &tag, sizeof(tag));
}

absl::StatusOr<uint64_t> ReadTag(const std::string& message, size_t size) {
  if (message.size() != size) {
    return absl::DataLossError(
        absl::StrCat("received ", message.size(), " bytes, sent ", size));
  }
  uint64_t head, tail;
  std::memcpy(&head, message.data(), sizeof(head));
  std::memcpy(&tail, message.data() + size - sizeof(tail), sizeof(tail));
  if (head != tail) {
    return absl::DataLossError(absl::StrCat("torn message: starts with tag ",
                                            absl::Hex(head), ", ends with ",
                                            absl::Hex(tail)));
  }
  return head;
}

// A message of `size` bytes with a filler that is not all zeros.
std::string Payload(size_t size) {
  std::string message(size, '\0');
  for (size_t i = 0; i < size; ++i)
    message[i] = static_cast<char>('a' + i % 26);
  return message;
}

// ---- Throughput -------------------------------------------------------------
//
// P producer processes each send `per_producer` tagged messages as fast as
// the channel takes them; C consumer processes receive until each gets an
// end-of-run message. The last producer to finish sends the C end-of-run
// messages: every data message was committed before them, so FIFO order
// delivers all data before any of them.
//
// Proof of an exact transfer: each consumer checks that every producer's
// sequence strictly increases in what it receives (nothing reordered or
// duplicated within it) and tallies, per producer, the count and the sum of
// the sequence numbers; the parent checks that across consumers each
// producer's count is per_producer and its sum 0 + 1 + ... + (n - 1)
// (nothing lost, nothing duplicated across consumers).

struct Tally {
  uint64_t count[kMaxProducers];
  uint64_t seq_sum[kMaxProducers];
};

absl::Status Produce(Channel& channel, const Geometry& g, int id,
                     uint64_t per_producer, std::atomic<int>& producers_done,
                     Child& child) {
  absl::StatusOr<std::unique_ptr<Endpoint>> endpoint = channel.Attach();
  if (!endpoint.ok()) return endpoint.status();
  std::string message = Payload(g.message_size);
  if (absl::Status s = child.AwaitStart(); !s.ok()) return s;
  for (uint64_t seq = 0; seq < per_producer; ++seq) {
    StampTag(&message, Tag(id, seq));
    // Mixed priorities: message seq goes at seq % priorities.
    if (absl::Status s = g.priorities == 1
                             ? (*endpoint)->Send(message)
                             : (*endpoint)->SendAt(message,
                                                   seq % g.priorities);
        !s.ok()) {
      return s;
    }
  }
  if (producers_done.fetch_add(1) + 1 == g.producers) {
    StampTag(&message, Tag(kStopProducer, 0));
    for (int c = 0; c < g.consumers; ++c) {
      if (absl::Status s = (*endpoint)->Send(message); !s.ok()) return s;
    }
  }
  child.Finish();
  return absl::OkStatus();
}

absl::Status Consume(Channel& channel, const Geometry& g, Tally* tally,
                     Child& child) {
  absl::StatusOr<std::unique_ptr<Endpoint>> endpoint = channel.Attach();
  if (!endpoint.ok()) return endpoint.status();
  Tally mine{};
  // Per producer and priority (seq % priorities): the last sequence + 1,
  // 0 for none yet. Order holds within a priority; a higher one overtakes.
  uint64_t next_seq[kMaxProducers][kMixedPriorities] = {};
  std::string message;
  message.reserve(g.message_size);
  if (absl::Status s = child.AwaitStart(); !s.ok()) return s;
  for (;;) {
    if (absl::Status s = (*endpoint)->Receive(&message); !s.ok()) return s;
    absl::StatusOr<uint64_t> tag = ReadTag(message, g.message_size);
    if (!tag.ok()) return tag.status();
    const uint64_t producer = *tag >> kSeqBits;
    const uint64_t seq = *tag & kSeqMask;
    if (producer == kStopProducer) break;
    if (producer >= static_cast<uint64_t>(g.producers)) {
      return absl::DataLossError(absl::StrCat("message from producer ",
                                              producer, ", which is not one"));
    }
    uint64_t& next = next_seq[producer][seq % g.priorities];
    if (seq < next) {
      return absl::DataLossError(absl::StrCat(
          "producer ", producer, "'s sequence went from ", next - 1, " to ",
          seq, " at priority ", seq % g.priorities,
          ": duplicated or reordered"));
    }
    next = seq + 1;
    ++mine.count[producer];
    mine.seq_sum[producer] += seq;
  }
  child.Finish();
  *tally = mine;
  return absl::OkStatus();
}

absl::Status CheckTallies(const SharedArray<Tally>& tallies, int producers,
                          uint64_t per_producer) {
  for (int p = 0; p < producers; ++p) {
    uint64_t count = 0, sum = 0;
    for (size_t c = 0; c < tallies.size(); ++c) {
      count += tallies[c].count[p];
      sum += tallies[c].seq_sum[p];
    }
    if (count != per_producer || sum != per_producer * (per_producer - 1) / 2) {
      return absl::DataLossError(absl::StrCat(
          "producer ", p, ": ", count, " of ", per_producer,
          " messages arrived, sequence sum ", sum, " (want ",
          per_producer * (per_producer - 1) / 2, "): lost or duplicated"));
    }
  }
  return absl::OkStatus();
}

struct ThroughputRun {
  double seconds;
  double cpu_seconds;
  uint64_t messages;
  uint64_t capacity_got;
};

absl::StatusOr<ThroughputRun> RunThroughput(const Transport& transport,
                                            const Geometry& g,
                                            Placement placement,
                                            uint64_t per_producer) {
  absl::StatusOr<std::unique_ptr<Channel>> channel = transport.create(g);
  if (!channel.ok()) return channel.status();
  SharedArray<Tally> tallies(static_cast<size_t>(g.consumers));
  SharedArray<std::atomic<int>> producers_done(1);
  Crew crew(g.producers + g.consumers);
  for (int c = 0; c < g.consumers; ++c) {
    absl::Status s = crew.Spawn(
        [&](Child& child) {
          return Consume(**channel, g, &tallies[c], child);
        },
        ReceiverCpus(placement));
    if (!s.ok()) return AsFailure(s);
  }
  for (int p = 0; p < g.producers; ++p) {
    absl::Status s = crew.Spawn(
        [&](Child& child) {
          return Produce(**channel, g, p, per_producer, producers_done[0],
                         child);
        },
        SenderCpus(placement));
    if (!s.ok()) return AsFailure(s);
  }
  absl::StatusOr<int64_t> start = crew.Start(kReadyTimeout);
  if (!start.ok()) return AsFailure(start.status());
  if (absl::Status s = crew.Wait(kRunTimeout); !s.ok()) return AsFailure(s);
  if (absl::Status s = CheckTallies(tallies, g.producers, per_producer);
      !s.ok()) {
    return s;
  }
  return ThroughputRun{(crew.LastEndNs() - *start) * 1e-9,
                       crew.TotalCpuNs() * 1e-9, per_producer * g.producers,
                       (*channel)->capacity_got()};
}

// Args: p, c, size, cap. `priorities`: 1, or kMixedPriorities for the
// BM_MixedPriority rows.
void BM_Throughput(benchmark::State& state, const Transport* transport,
                   Placement placement, uint32_t priorities) {
  static_assert(kMixedPriorities <= 32, "ringbuf offers up to 32");
  if (absl::Status s = CheckPlacement(placement); !s.ok()) {
    SkipWithStatus(state, s);
    return;
  }
  Geometry g;
  g.priorities = priorities;
  g.cpus_apart = placement == Placement::kSplit;
  g.producers = static_cast<int>(state.range(0));
  g.consumers = static_cast<int>(state.range(1));
  g.message_size = static_cast<uint32_t>(state.range(2));
  g.capacity = static_cast<uint64_t>(state.range(3));
  const uint64_t per_producer =
      std::max<uint64_t>(1, MessagesPerRun(g.message_size) / g.producers);
  ThroughputRun total{0, 0, 0, 0};
  for (auto _ : state) {
    absl::StatusOr<ThroughputRun> run =
        RunThroughput(*transport, g, placement, per_producer);
    if (!run.ok()) {
      SkipWithStatus(state, run.status());
      break;
    }
    state.SetIterationTime(run->seconds);
    total.seconds += run->seconds;
    total.cpu_seconds += run->cpu_seconds;
    total.messages += run->messages;
    total.capacity_got = run->capacity_got;
  }
  if (total.messages == 0) return;
  const double messages = static_cast<double>(total.messages);
  state.counters["msgs_per_sec"] = messages / total.seconds;
  state.counters["bytes_per_sec"] = messages * g.message_size / total.seconds;
  state.counters["cpu_us_per_msg"] = total.cpu_seconds * 1e6 / messages;
  state.counters["capacity_got"] = static_cast<double>(total.capacity_got);
  state.counters["msgs_per_run"] =
      static_cast<double>(per_producer * g.producers);
}

// ---- Round trip -------------------------------------------------------------
//
// A pinger sends a 64-byte message on one channel and blocks until a ponger
// sends it back on a second one; each round trip is timed on CLOCK_MONOTONIC.
// One message is in flight at a time, so every receive finds its channel
// empty and waits: this measures the latency of the waiting path (whatever
// the transport does there: spin, sleep, or both), not bandwidth. The
// first kWarmup round trips are not sampled.

constexpr uint64_t kWarmup = 200;

uint64_t RoundTrips() {
  switch (CurrentScale()) {
    case Scale::kSmoke:
      return 500;
    case Scale::kQuick:
      return 10000;
    case Scale::kFull:
      break;
  }
  return 40000;
}

absl::Status Ping(Channel& out, Channel& back, uint32_t size,
                  SharedArray<int64_t>& samples, Child& child) {
  absl::StatusOr<std::unique_ptr<Endpoint>> tx = out.Attach();
  if (!tx.ok()) return tx.status();
  absl::StatusOr<std::unique_ptr<Endpoint>> rx = back.Attach();
  if (!rx.ok()) return rx.status();
  std::string message = Payload(size);
  std::string reply;
  if (absl::Status s = child.AwaitStart(); !s.ok()) return s;
  for (uint64_t i = 0; i < kWarmup + samples.size(); ++i) {
    const int64_t t0 = NowNs();
    StampTag(&message, Tag(0, i));
    if (absl::Status s = (*tx)->Send(message); !s.ok()) return s;
    if (absl::Status s = (*rx)->Receive(&reply); !s.ok()) return s;
    const int64_t t1 = NowNs();
    absl::StatusOr<uint64_t> tag = ReadTag(reply, size);
    if (!tag.ok()) return tag.status();
    if (*tag != Tag(0, i)) {
      return absl::DataLossError(
          absl::StrCat("round trip ", i, " came back as ", *tag & kSeqMask));
    }
    if (i >= kWarmup) samples[i - kWarmup] = t1 - t0;
  }
  child.Finish();
  return absl::OkStatus();
}

absl::Status Pong(Channel& in, Channel& back, uint32_t size, uint64_t rounds,
                  Child& child) {
  absl::StatusOr<std::unique_ptr<Endpoint>> rx = in.Attach();
  if (!rx.ok()) return rx.status();
  absl::StatusOr<std::unique_ptr<Endpoint>> tx = back.Attach();
  if (!tx.ok()) return tx.status();
  std::string message;
  message.reserve(size);
  if (absl::Status s = child.AwaitStart(); !s.ok()) return s;
  for (uint64_t i = 0; i < rounds; ++i) {
    if (absl::Status s = (*rx)->Receive(&message); !s.ok()) return s;
    absl::StatusOr<uint64_t> tag = ReadTag(message, size);
    if (!tag.ok()) return tag.status();
    if (*tag != Tag(0, i)) {
      return absl::DataLossError(
          absl::StrCat("ping ", i, " arrived as ", *tag & kSeqMask));
    }
    if (absl::Status s = (*tx)->Send(message); !s.ok()) return s;
  }
  child.Finish();
  return absl::OkStatus();
}

struct RoundTripRun {
  double seconds;
  double cpu_seconds;
  std::vector<int64_t> samples_ns;
  uint64_t capacity_got;
};

absl::StatusOr<RoundTripRun> RunRoundTrip(const Transport& transport,
                                          uint32_t size, Placement placement) {
  Geometry g;
  g.message_size = size;
  g.capacity = 16;
  g.cpus_apart = placement == Placement::kSplit;
  absl::StatusOr<std::unique_ptr<Channel>> ping = transport.create(g);
  if (!ping.ok()) return ping.status();
  absl::StatusOr<std::unique_ptr<Channel>> pong = transport.create(g);
  if (!pong.ok()) return pong.status();
  SharedArray<int64_t> samples(RoundTrips());
  Crew crew(2);
  absl::Status s = crew.Spawn(
      [&](Child& child) { return Ping(**ping, **pong, size, samples, child); },
      SenderCpus(placement));
  if (s.ok()) {
    s = crew.Spawn(
        [&](Child& child) {
          return Pong(**ping, **pong, size, kWarmup + samples.size(), child);
        },
        ReceiverCpus(placement));
  }
  if (!s.ok()) return AsFailure(s);
  absl::StatusOr<int64_t> start = crew.Start(kReadyTimeout);
  if (!start.ok()) return AsFailure(start.status());
  if (s = crew.Wait(kRunTimeout); !s.ok()) return AsFailure(s);
  RoundTripRun run{(crew.LastEndNs() - *start) * 1e-9,
                   crew.TotalCpuNs() * 1e-9,
                   {},
                   std::min((*ping)->capacity_got(), (*pong)->capacity_got())};
  run.samples_ns.assign(&samples[0], &samples[0] + samples.size());
  return run;
}

double PercentileUs(std::vector<int64_t>& samples, double q) {
  const size_t k =
      std::min(samples.size() - 1, static_cast<size_t>(q * samples.size()));
  std::nth_element(samples.begin(), samples.begin() + k, samples.end());
  return samples[k] * 1e-3;
}

void BM_RoundTrip(benchmark::State& state, const Transport* transport,
                  Placement placement) {
  if (absl::Status s = CheckPlacement(placement); !s.ok()) {
    SkipWithStatus(state, s);
    return;
  }
  const uint32_t size = static_cast<uint32_t>(state.range(0));
  std::vector<int64_t> samples;
  double cpu_seconds = 0;
  uint64_t capacity_got = 0;
  for (auto _ : state) {
    absl::StatusOr<RoundTripRun> run =
        RunRoundTrip(*transport, size, placement);
    if (!run.ok()) {
      SkipWithStatus(state, run.status());
      break;
    }
    state.SetIterationTime(run->seconds);
    samples.insert(samples.end(), run->samples_ns.begin(),
                   run->samples_ns.end());
    cpu_seconds += run->cpu_seconds;
    capacity_got = run->capacity_got;
  }
  if (samples.empty()) return;
  const double runs = static_cast<double>(samples.size() / RoundTrips());
  state.counters["p50_us"] = PercentileUs(samples, 0.50);
  state.counters["p99_us"] = PercentileUs(samples, 0.99);
  // Both processes' CPU, warm-up round trips included.
  state.counters["cpu_us_per_roundtrip"] =
      cpu_seconds * 1e6 / (runs * (kWarmup + RoundTrips()));
  state.counters["capacity_got"] = static_cast<double>(capacity_got);
  state.counters["roundtrips_per_run"] = static_cast<double>(RoundTrips());
}

// ---- Idle waiter ------------------------------------------------------------
//
// A consumer blocks on an empty channel; a waker lets it settle into its
// wait, then reads the consumer's CPU-time clock (clock_getcpuclockid) at the
// start and the end of IdleTime() of idleness before sending it one message.
// So the figure is what an idle subscriber costs the machine per second,
// steady state, without the wake-up: ~0 for a transport that sleeps in the
// kernel, more for one that polls or spins.

constexpr absl::Duration kSettle = absl::Milliseconds(50);

absl::Duration IdleTime() {
  return CurrentScale() == Scale::kSmoke ? absl::Milliseconds(100)
                                         : absl::Milliseconds(500);
}

// What the waker saw of the waiter while it was blocked.
struct IdleSample {
  int64_t cpu_ns;
  int64_t wall_ns;
};

absl::Status IdleWaiter(Channel& channel, Child& child) {
  absl::StatusOr<std::unique_ptr<Endpoint>> endpoint = channel.Attach();
  if (!endpoint.ok()) return endpoint.status();
  std::string message;
  if (absl::Status s = child.AwaitStart(); !s.ok()) return s;
  if (absl::Status s = (*endpoint)->Receive(&message); !s.ok()) return s;
  child.Finish();
  absl::StatusOr<uint64_t> tag = ReadTag(message, message.size());
  return tag.ok() && *tag == Tag(0, 0)
             ? absl::OkStatus()
             : absl::DataLossError("the wake-up message came back wrong");
}

absl::Status Waker(Channel& channel, uint32_t size, pid_t waiter,
                   IdleSample* sample, Child& child) {
  absl::StatusOr<std::unique_ptr<Endpoint>> endpoint = channel.Attach();
  if (!endpoint.ok()) return endpoint.status();
  clockid_t waiter_cpu;
  if (int e = clock_getcpuclockid(waiter, &waiter_cpu); e != 0) {
    return absl::ErrnoToStatus(e, "clock_getcpuclockid(waiter)");
  }
  auto cpu_ns = [waiter_cpu] {
    timespec ts{};
    clock_gettime(waiter_cpu, &ts);
    return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
  };
  std::string message = Payload(size);
  StampTag(&message, Tag(0, 0));
  if (absl::Status s = child.AwaitStart(); !s.ok()) return s;
  absl::SleepFor(kSettle);
  const int64_t cpu0 = cpu_ns(), wall0 = NowNs();
  absl::SleepFor(IdleTime());
  *sample = {cpu_ns() - cpu0, NowNs() - wall0};
  if (absl::Status s = (*endpoint)->Send(message); !s.ok()) return s;
  child.Finish();
  return absl::OkStatus();
}

absl::StatusOr<IdleSample> RunIdle(const Transport& transport) {
  Geometry g;
  g.message_size = 64;
  g.capacity = 16;
  absl::StatusOr<std::unique_ptr<Channel>> channel = transport.create(g);
  if (!channel.ok()) return channel.status();
  SharedArray<IdleSample> sample(1);
  Crew crew(2);
  absl::Status s =
      crew.Spawn([&](Child& child) { return IdleWaiter(**channel, child); });
  if (s.ok()) {
    s = crew.Spawn([&](Child& child) {
      return Waker(**channel, g.message_size, crew.pid(0), &sample[0], child);
    });
  }
  if (!s.ok()) return AsFailure(s);
  absl::StatusOr<int64_t> start = crew.Start(kReadyTimeout);
  if (!start.ok()) return AsFailure(start.status());
  if (s = crew.Wait(kRunTimeout); !s.ok()) return AsFailure(s);
  return sample[0];
}

void BM_IdleWait(benchmark::State& state, const Transport* transport) {
  IdleSample total{0, 0};
  for (auto _ : state) {
    absl::StatusOr<IdleSample> run = RunIdle(*transport);
    if (!run.ok()) {
      SkipWithStatus(state, run.status());
      break;
    }
    state.SetIterationTime(run->wall_ns * 1e-9);
    total.cpu_ns += run->cpu_ns;
    total.wall_ns += run->wall_ns;
  }
  if (total.wall_ns == 0) return;
  state.counters["cpu_us_per_idle_sec"] =
      total.cpu_ns * 1e-3 / (total.wall_ns * 1e-9);
  state.counters["idle_sec"] = total.wall_ns * 1e-9;
}

// ---- Registration -----------------------------------------------------------

// Rows are registered configuration-major, transports innermost, so the
// transports of one configuration run back to back (or, with
// --benchmark_enable_random_interleaving, their repetitions are shuffled
// among all rows'). Each placement asked for gets the whole matrix; the many-
// producer crews (16 and 64 -> 1) only 64 B, capacity 1024, unpinned: with
// more producers than CPUs, placing them by hand would measure the placement.
void RegisterAll(const std::vector<Placement>& placements) {
  constexpr int kCrews[][2] = {{1, 1}, {4, 1}, {4, 2}};  // producers, consumers
  constexpr int kManyProducers[] = {16, 64};
  constexpr int kSizes[] = {8, 64, 512, 4096, 65536};
  constexpr int kCapacities[] = {16, 1024};
  static_assert(64 <= kMaxProducers, "Tally has room for kMaxProducers");
  auto throughput = [](Placement placement, const Transport& t, int producers,
                       int consumers, int size, int capacity) {
    benchmark::RegisterBenchmark(
        absl::StrCat("BM_Throughput/", t.name, "/place:",
                     PlacementName(placement))
            .c_str(),
        BM_Throughput, &t, placement, 1u)
        ->Args({producers, consumers, size, capacity})
        ->ArgNames({"p", "c", "size", "cap"})
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
  };
  for (Placement placement : placements) {
    for (const auto& crew : kCrews) {
      for (int size : kSizes) {
        for (int capacity : kCapacities) {
          for (const Transport& t : AllTransports()) {
            throughput(placement, t, crew[0], crew[1], size, capacity);
          }
        }
      }
    }
    if (placement == Placement::kNone) {
      for (int producers : kManyProducers) {
        for (const Transport& t : AllTransports()) {
          throughput(placement, t, producers, 1, 64, 1024);
        }
      }
    }
    if (placement == Placement::kNone) {
      // Mixed priorities: the producers cycle through 4 priorities, beside
      // the peers that have them (POSIX and Boost message queues).
      for (int k = 0; k < 2; ++k) {  // 1 -> 1 and 4 -> 1
        const auto& crew = kCrews[k];
        for (const Transport& t : AllTransports()) {
          benchmark::RegisterBenchmark(
              absl::StrCat("BM_MixedPriority/", t.name, "/place:",
                           PlacementName(placement), "/prio:",
                           kMixedPriorities)
                  .c_str(),
              BM_Throughput, &t, placement, kMixedPriorities)
              ->Args({crew[0], crew[1], 64, 1024})
              ->ArgNames({"p", "c", "size", "cap"})
              ->UseManualTime()
              ->Unit(benchmark::kMillisecond);
        }
      }
    }
    for (const Transport& t : AllTransports()) {
      benchmark::RegisterBenchmark(
          absl::StrCat("BM_RoundTrip/", t.name, "/place:",
                       PlacementName(placement))
              .c_str(),
          BM_RoundTrip, &t, placement)
          ->Arg(64)
          ->ArgName("size")
          ->UseManualTime()
          ->Unit(benchmark::kMillisecond);
    }
  }
  for (const Transport& t : AllTransports()) {
    benchmark::RegisterBenchmark(("BM_IdleWait/" + t.name).c_str(), BM_IdleWait,
                                 &t)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
  }
}

// Takes --placement=LIST out of argv (before Google Benchmark sees it).
absl::StatusOr<std::vector<Placement>> TakePlacementFlag(int* argc,
                                                         char** argv) {
  constexpr absl::string_view kFlag = "--placement=";
  std::vector<Placement> placements;
  int kept = 1;
  for (int i = 1; i < *argc; ++i) {
    absl::string_view arg = argv[i];
    if (!absl::StartsWith(arg, kFlag)) {
      argv[kept++] = argv[i];
      continue;
    }
    placements.clear();
    for (absl::string_view name :
         absl::StrSplit(arg.substr(kFlag.size()), ',')) {
      absl::StatusOr<Placement> p = ParsePlacement(name);
      if (!p.ok()) return p.status();
      placements.push_back(*p);
    }
  }
  *argc = kept;
  argv[kept] = nullptr;
  if (placements.empty()) placements.push_back(Placement::kNone);
  return placements;
}

}  // namespace
}  // namespace ringbuf_bench

int main(int argc, char** argv) {
  absl::StatusOr<std::vector<ringbuf_bench::Placement>> placements =
      ringbuf_bench::TakePlacementFlag(&argc, argv);
  if (!placements.ok()) {
    std::fprintf(stderr, "%s\n", std::string(placements.status().message()).c_str());
    return 2;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  for (const auto& [key, value] : ringbuf_bench::PreparePeerLimits()) {
    benchmark::AddCustomContext(key, value);
  }
  benchmark::AddCustomContext("ringbuf_bench_scale",
                              ringbuf_bench::ScaleName());
  ringbuf_bench::RegisterAll(*placements);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
