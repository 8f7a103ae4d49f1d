// Randomised crash torture: processes SIGKILLed at random moments, hundreds
// of times, while others keep sending and receiving.
//
// Phase 1 kills producers. Each producer process is a (slot, generation):
// when one is killed a new generation takes its slot (each generation sends
// at most its share of the consumers' log, then exits, so a slow run cannot
// overflow the log). A message carries
// (slot, generation, sequence) and a filler derived from them, so a torn
// message is detected. After each send returns OK the producer records the
// sequence in shared memory (`last_ok`). Consumers (never killed here) log
// every message they receive. The properties, and how the data proves them:
//   * every message whose send returned OK is received exactly once: for
//     each (slot, generation) the received sequences are exactly 0..last_ok,
//     or 0..last_ok+1 (the one send that committed before its process was
//     killed, before it could record it), each once;
//   * nothing received that was not sent and nothing torn: each message
//     decodes and its filler matches;
//   * per-producer order: in each consumer's log, each slot's
//     (generation, sequence) pairs strictly increase;
//   * no operation blocks past its timeout (each call is timed);
//   * after draining, exactly `capacity` TrySends succeed (no leaked slot).
// Phase 1 runs with 3 producers, and (one level only) with 8: many sleepers
// on the send lock when its holder dies, more processes than the queue has
// leases.
// Phase 2 kills consumers instead: no duplicates, nothing unsent, and the
// number of messages lost is at most the number of consumer kills.
// Both phases run on a plain queue and on one of 4 priorities, where each
// message goes at a priority derived from it (mixed, known to the checker):
// it must arrive at that priority, and order is kept per producer and
// priority (across priorities, a higher one overtakes by design).
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "ringbuf/queue.h"
#include "tests/test_util.h"

namespace ringbuf {
namespace {

constexpr uint64_t kCapacity = 32;
constexpr uint32_t kSlotSize = 64;
constexpr int kMaxSlots = 8;  // producer slots
constexpr int kMaxGenerations = 1024;
constexpr uint64_t kMaxEntries = uint64_t{1} << 23;
constexpr absl::Duration kCallTimeout = absl::Milliseconds(100);
constexpr absl::Duration kSendTimeout = absl::Seconds(5);
// A call may overrun its timeout by scheduling noise, never by this much.
constexpr absl::Duration kOverrunSlack = absl::Seconds(3);

struct Entry {
  std::atomic<uint32_t> valid;  // set last: a consumer killed mid-append leaves 0
  uint16_t consumer;
  uint16_t slot;
  uint16_t gen;
  uint32_t seq;
  uint32_t priority;
};

struct Shared {
  std::atomic<int64_t> last_ok[kMaxSlots][kMaxGenerations];
  std::atomic<int> stop_producers;
  std::atomic<int> stop_consumers;
  std::atomic<int> overruns;
  std::atomic<int> bad_messages;
  std::atomic<int> send_failures;
  std::atomic<uint64_t> next_entry;
  Entry entries[kMaxEntries];
};

class SharedMemory {
 public:
  SharedMemory() {
    void* p = mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) std::abort();
    shared_ = static_cast<Shared*>(p);  // zero-filled
    for (auto& slot : shared_->last_ok) {
      for (auto& g : slot) g.store(-1);
    }
  }
  ~SharedMemory() { munmap(shared_, sizeof(Shared)); }
  Shared* operator->() { return shared_; }
  Shared* get() { return shared_; }

 private:
  Shared* shared_;
};

struct Header {
  uint16_t slot;
  uint16_t gen;
  uint32_t seq;
};

std::string Encode(uint16_t slot, uint16_t gen, uint32_t seq) {
  Header h{slot, gen, seq};
  std::string msg(reinterpret_cast<const char*>(&h), sizeof(h));
  msg.append(seq % (kSlotSize - sizeof(h)),
             static_cast<char>((seq * 7 + slot + gen) & 0xff));
  return msg;
}

// The priority message `seq` of (slot, gen) is sent at: mixed, and known to
// the checker.
uint32_t PriorityOf(uint16_t slot, uint16_t gen, uint32_t seq,
                    uint32_t priorities) {
  return ((seq * 2654435761u) >> 7 ^ slot ^ gen) % priorities;
}

bool Decode(const std::string& msg, Header* h) {
  if (msg.size() < sizeof(Header)) return false;
  std::memcpy(h, msg.data(), sizeof(*h));
  return h->slot < kMaxSlots && h->gen < kMaxGenerations &&
         msg == Encode(h->slot, h->gen, h->seq);
}

void TimedCheck(Shared* s, absl::Time start, absl::Duration timeout) {
  if (absl::Now() - start > timeout + kOverrunSlack) s->overruns.fetch_add(1);
}

int RunProducer(const std::string& name, Shared* s, uint16_t slot,
                uint16_t gen, uint32_t limit) {
  absl::StatusOr<Queue> q = Queue::Open(name);
  if (!q.ok()) return 1;
  for (uint32_t seq = 0; seq < limit && !s->stop_producers.load(); ++seq) {
    absl::Time start = absl::Now();
    absl::Status st =
        q->SendFor(Encode(slot, gen, seq),
                   PriorityOf(slot, gen, seq, q->priorities()), kSendTimeout);
    TimedCheck(s, start, kSendTimeout);
    if (!st.ok()) {
      s->send_failures.fetch_add(1);
      return 2;
    }
    s->last_ok[slot][gen].store(seq);
  }
  return 0;
}

int RunConsumer(const std::string& name, Shared* s, uint16_t id) {
  absl::StatusOr<Queue> q = Queue::Open(name);
  if (!q.ok()) return 1;
  std::string msg;
  for (;;) {
    absl::Time start = absl::Now();
    uint32_t priority = 0;
    absl::Status st = q->ReceiveFor(&msg, kCallTimeout, &priority);
    TimedCheck(s, start, kCallTimeout);
    if (absl::IsDeadlineExceeded(st) || absl::IsUnavailable(st)) {
      if (s->stop_consumers.load()) return 0;
      continue;
    }
    Header h;
    if (!st.ok() || !Decode(msg, &h) ||
        priority != PriorityOf(h.slot, h.gen, h.seq, q->priorities())) {
      s->bad_messages.fetch_add(1);
      continue;
    }
    uint64_t i = s->next_entry.fetch_add(1);
    if (i >= kMaxEntries) return 3;
    Entry& e = s->entries[i];
    e.consumer = id;
    e.slot = h.slot;
    e.gen = h.gen;
    e.seq = h.seq;
    e.priority = priority;
    e.valid.store(1, std::memory_order_release);
  }
}

// Everything the consumers logged, grouped: (slot, gen) -> seq -> count.
using Received = std::map<std::pair<int, int>, std::map<uint32_t, int>>;

Received Collect(Shared* s, int* out_of_order) {
  Received got;
  // (consumer, slot, priority) -> the last (gen, seq)
  std::map<std::tuple<int, int, uint32_t>, std::pair<int, int64_t>> last;
  *out_of_order = 0;
  uint64_t n = std::min<uint64_t>(s->next_entry.load(), kMaxEntries);
  for (uint64_t i = 0; i < n; ++i) {
    const Entry& e = s->entries[i];
    if (e.valid.load(std::memory_order_acquire) == 0) continue;
    ++got[{e.slot, e.gen}][e.seq];
    auto key = std::make_tuple(int{e.consumer}, int{e.slot}, e.priority);
    auto now = std::make_pair(int{e.gen}, int64_t{e.seq});
    auto it = last.find(key);
    if (it != last.end() && !(it->second < now)) ++*out_of_order;
    last[key] = now;
  }
  return got;
}

void ExpectExactlyCapacityFreeSlots(const std::string& name) {
  absl::StatusOr<Queue> q = Queue::Open(name);
  ASSERT_TRUE(q.ok());
  std::string msg;
  ASSERT_EQ(q->TryReceive(&msg).code(), absl::StatusCode::kUnavailable);
  uint64_t sent = 0;
  while (q->TrySend("x", sent % q->priorities()).ok()) ++sent;
  EXPECT_EQ(sent, kCapacity) << "slots leaked or invented";
}

uint32_t Seed() {
  uint32_t seed = std::random_device{}();
  std::printf("random seed: %u\n", seed);
  return seed;
}

// Phase 1 with `producer_count` producer processes (at most kMaxSlots),
// killed `kill_count` times in all, on a queue of `priorities`.
void KillProducers(uint32_t priorities, int producer_count, int kill_count) {
  testing::ScopedQueueName name;
  Options o;
  o.capacity = kCapacity;
  o.slot_size = kSlotSize;
  o.priorities = priorities;
  ASSERT_TRUE(Queue::Create(name, o).ok());
  SharedMemory shared;
  Shared* s = shared.get();

  const int kProducers = producer_count;
  constexpr int kConsumers = 2;
  const int kKills = kill_count;
  ASSERT_LE(kProducers, kMaxSlots);
  ASSERT_LT(kKills, kMaxGenerations);
  // However slowly the kills come, the consumers' log cannot overflow: each
  // generation sends at most this many, then exits (a later kill of it
  // finds it gone).
  const uint32_t per_generation =
      static_cast<uint32_t>(kMaxEntries / (kKills + kProducers));
  std::vector<pid_t> consumers;
  for (uint16_t c = 0; c < kConsumers; ++c) {
    consumers.push_back(testing::ForkChild([&, c] { return RunConsumer(name, s, c); }));
  }
  std::vector<pid_t> producers(kProducers);
  std::vector<uint16_t> gen(kProducers, 0);
  auto spawn = [&](int slot) {
    producers[slot] = testing::ForkChild([&, slot] {
      return RunProducer(name, s, slot, gen[slot], per_generation);
    });
  };
  for (int p = 0; p < kProducers; ++p) spawn(p);

  std::mt19937 rng(Seed());
  for (int k = 0; k < kKills; ++k) {
    int slot = rng() % kProducers;
    usleep(rng() % 2000);  // the kill lands at a random instruction
    kill(producers[slot], SIGKILL);
    waitpid(producers[slot], nullptr, 0);
    ++gen[slot];
    spawn(slot);
  }
  s->stop_producers.store(1);
  for (pid_t pid : producers) {
    EXPECT_TRUE(testing::ExitedCleanly(testing::WaitChild(pid, absl::Seconds(30))));
  }
  s->stop_consumers.store(1);
  for (pid_t pid : consumers) {
    EXPECT_TRUE(testing::ExitedCleanly(testing::WaitChild(pid, absl::Seconds(30))));
  }

  EXPECT_EQ(s->bad_messages.load(), 0) << "torn or foreign messages received";
  EXPECT_EQ(s->overruns.load(), 0) << "calls blocked past their timeout";
  EXPECT_EQ(s->send_failures.load(), 0);
  int out_of_order = 0;
  Received got = Collect(s, &out_of_order);
  EXPECT_EQ(out_of_order, 0) << "per-producer order broken";
  uint64_t committed_unacknowledged = 0;
  for (int slot = 0; slot < kProducers; ++slot) {
    for (int g = 0; g <= gen[slot]; ++g) {
      const int64_t last_ok = s->last_ok[slot][g].load();
      const std::map<uint32_t, int>& seqs = got[{slot, g}];
      for (int64_t seq = 0; seq <= last_ok; ++seq) {
        auto it = seqs.find(seq);
        ASSERT_TRUE(it != seqs.end())
            << "acknowledged message lost: slot " << slot << " gen " << g
            << " seq " << seq;
        ASSERT_EQ(it->second, 1) << "duplicate: slot " << slot << " gen " << g
                                 << " seq " << seq;
      }
      for (const auto& [seq, count] : seqs) {
        ASSERT_LE(int64_t{seq}, last_ok + 1)
            << "received a message never sent: slot " << slot << " gen " << g;
        ASSERT_EQ(count, 1);
        if (int64_t{seq} == last_ok + 1) ++committed_unacknowledged;
      }
    }
  }
  EXPECT_LE(committed_unacknowledged, static_cast<uint64_t>(kKills));
  ExpectExactlyCapacityFreeSlots(name);
  absl::StatusOr<Queue> q = Queue::Open(name);
  ASSERT_TRUE(q.ok());
  Stats st = q->GetStats();
  EXPECT_LE(st.send_lock_owner_deaths, static_cast<uint64_t>(kKills));
  std::printf("kills %d, producer deaths holding the lock %llu, partial sends "
              "discarded %llu, committed but unacknowledged %llu\n",
              kKills, static_cast<unsigned long long>(st.send_lock_owner_deaths),
              static_cast<unsigned long long>(st.discarded_partial_sends),
              static_cast<unsigned long long>(committed_unacknowledged));
}

class CrashTortureTest : public ::testing::TestWithParam<uint32_t> {};

TEST_P(CrashTortureTest, KilledProducersNeverLoseDuplicateOrTearCommittedMessages) {
  KillProducers(GetParam(), /*producer_count=*/3, /*kill_count=*/300);
}

// Many producers contend for the send lock, so a killed one often leaves
// several others asleep on it, each probing its lease (internal/
// leased_lock.h); and more producer processes come and go than the queue
// has leases, so leases of the dead are taken again all along. One level
// only: the time budget (the sanitizer runs) has no room for two.
TEST(ManyProducersCrashTortureTest,
     KilledProducersNeverLoseDuplicateOrTearCommittedMessages) {
  KillProducers(/*priorities=*/1, /*producer_count=*/kMaxSlots,
                /*kill_count=*/300);
}

TEST_P(CrashTortureTest, KilledConsumersLoseAtMostOneMessageEach) {
  testing::ScopedQueueName name;
  Options o;
  o.capacity = kCapacity;
  o.slot_size = kSlotSize;
  o.priorities = GetParam();
  ASSERT_TRUE(Queue::Create(name, o).ok());
  SharedMemory shared;
  Shared* s = shared.get();

  constexpr int kProducers = 2;
  constexpr int kConsumers = 2;
  constexpr uint32_t kPerProducer = 100000;
  constexpr int kKills = 200;
  std::vector<pid_t> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.push_back(testing::ForkChild(
        [&, p] { return RunProducer(name, s, p, 0, kPerProducer); }));
  }
  std::vector<pid_t> consumers(kConsumers);
  uint16_t next_id = 0;
  auto spawn = [&](int slot) {
    uint16_t id = next_id++;
    consumers[slot] =
        testing::ForkChild([&, id] { return RunConsumer(name, s, id); });
  };
  for (int c = 0; c < kConsumers; ++c) spawn(c);

  std::mt19937 rng(Seed());
  for (int k = 0; k < kKills; ++k) {
    int slot = rng() % kConsumers;
    usleep(rng() % 2000);
    kill(consumers[slot], SIGKILL);
    waitpid(consumers[slot], nullptr, 0);
    spawn(slot);
  }
  for (pid_t pid : producers) {
    EXPECT_TRUE(testing::ExitedCleanly(testing::WaitChild(pid, absl::Seconds(60))));
  }
  s->stop_consumers.store(1);
  for (pid_t pid : consumers) {
    EXPECT_TRUE(testing::ExitedCleanly(testing::WaitChild(pid, absl::Seconds(30))));
  }

  EXPECT_EQ(s->bad_messages.load(), 0);
  EXPECT_EQ(s->overruns.load(), 0);
  EXPECT_EQ(s->send_failures.load(), 0);
  int out_of_order = 0;
  Received got = Collect(s, &out_of_order);
  EXPECT_EQ(out_of_order, 0);
  uint64_t lost = 0;
  for (int p = 0; p < kProducers; ++p) {
    const std::map<uint32_t, int>& seqs = got[{p, 0}];
    for (const auto& [seq, count] : seqs) {
      ASSERT_LT(seq, kPerProducer) << "received a message never sent";
      ASSERT_EQ(count, 1) << "duplicate: producer " << p << " seq " << seq;
    }
    lost += kPerProducer - seqs.size();
  }
  EXPECT_LE(lost, uint64_t{kKills}) << "more lost than consumers killed";
  ExpectExactlyCapacityFreeSlots(name);
  std::printf("consumer kills %d, messages lost with them %llu\n", kKills,
              static_cast<unsigned long long>(lost));
}

INSTANTIATE_TEST_SUITE_P(Priorities, CrashTortureTest, ::testing::Values(1u, 4u),
                         [](const ::testing::TestParamInfo<uint32_t>& info) {
                           return absl::StrCat(info.param, "Levels");
                         });

}  // namespace
}  // namespace ringbuf
