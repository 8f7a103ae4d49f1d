// Corrupting a live queue's shared memory never crashes or hangs a caller.
//
// Property: after random bytes of a live queue's header and slots are
// damaged, or its side lock words (their bias forms and streaks too) or the
// robust mutexes and inside marks of its lease table
// (internal/leased_lock.h, lease_table.h) are scribbled on, every bounded
// call —
// TrySend, TryReceive, SendFor and ReceiveFor with small timeouts, GetStats,
// and Open of a fresh handle — returns within its timeout plus generous
// slack, with OK or one of the codes queue.h documents for it, and touches
// no memory outside the mapping (CI runs this under ASan and UBSan). A
// received message is never longer than slot_size, a too-large send is
// always InvalidArgument, and a peer already asleep in ReceiveFor/SendFor
// when the damage lands also returns by its deadline.
//
// How the data proves it: each iteration forks a child that builds a queue
// of random geometry, sends and receives a few messages, damages the object
// through its own raw mmap of /dev/shm, and runs a random sequence of calls,
// checking each one. A child that crashes, hangs (it is killed after
// kIterationLimit) or reports a violation fails the test with the seed that
// replays it. Each test prints a tally of the codes its calls returned, so a
// run shows it reached DataLoss, DeadlineExceeded and the rest.
//
// Replay: RINGBUF_CORRUPTION_SEED=<seed> repeats a run; add
// RINGBUF_CORRUPTION_ITERATION=<i> to run only iteration i.
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "ringbuf/internal/asymmetric_fence.h"
#include "ringbuf/internal/layout.h"
#include "ringbuf/internal/lease_table.h"
#include "ringbuf/internal/leased_lock.h"
#include "ringbuf/queue.h"
#include "tests/test_util.h"

namespace ringbuf {
namespace {

using internal::Header;
using internal::IndexLine;
using internal::SideLock;
using testing::ScopedQueueName;
using Code = absl::StatusCode;

// Scheduling noise allowed on top of a call's own bound (sanitizers, a busy
// 2-core machine). Only a hang should ever come near it.
constexpr absl::Duration kSlack = absl::Seconds(2);
// Every call waits at least this long for a busy side lock (queue.cc).
constexpr absl::Duration kTryLockWait = absl::Milliseconds(10);
// How long a peer that is already asleep when the damage lands waits.
constexpr absl::Duration kSleeperTimeout = absl::Milliseconds(150);
// A child slower than this is taken to hang and is killed.
constexpr absl::Duration kIterationLimit = absl::Seconds(60);

// The side locks: a futex word each, 0 when free, else the holder's lease
// id (1..kLeases), followed by the lock's sleepers word (sleepers.h).
constexpr size_t kSideLockOffsets[] = {
    offsetof(Header, send) + offsetof(SideLock, lock),
    offsetof(Header, recv) + offsetof(SideLock, lock),
};
constexpr size_t kSideLockSize = sizeof(internal::LeasedLock);
constexpr uint32_t kLeases = internal::kLeases;
// The sleepers word's may-sleep bit, and its offset from the lock word.
constexpr uint32_t kMaySleep = internal::kSomeoneMaySleep;
constexpr size_t kSleepersOffset = sizeof(uint32_t);
// The streak the lock counts toward a bias, after the sleepers word.
constexpr size_t kStreakOffset = 2 * sizeof(uint32_t);
// The leases: one robust pthread mutex per cache line, the object's last
// kLeaseTableBytes (LeaseOffset).
constexpr size_t kMutexSize = sizeof(pthread_mutex_t);
static_assert(sizeof(internal::RobustMutex) == kMutexSize,
              "RobustMutex is a bare pthread_mutex_t");
static_assert(offsetof(internal::Lease, mutex) == 0 &&
                  sizeof(internal::Lease) >= kMutexSize,
              "a lease is its mutex, padded to a line");
// glibc's mutex words, by offset in pthread_mutex_t (x86-64).
constexpr size_t kLockWord = offsetof(pthread_mutex_t, __data.__lock);
constexpr size_t kCountWord = offsetof(pthread_mutex_t, __data.__count);
constexpr size_t kOwnerWord = offsetof(pthread_mutex_t, __data.__owner);
constexpr size_t kKindWord = offsetof(pthread_mutex_t, __data.__kind);
// glibc's lock-word bits (<linux/futex.h>) and __owner sentinels.
constexpr uint32_t kFutexWaiters = 0x80000000u;
constexpr uint32_t kFutexOwnerDied = 0x40000000u;
constexpr uint32_t kFutexTidMask = 0x3fffffffu;
constexpr uint32_t kOwnerNotRecoverable = 0x7ffffffe;
constexpr uint32_t kOwnerInconsistent = 0x7fffffff;

enum class Damage {
  kHeaderAndSlots,  // every byte but the side lock words and the leases
  kLockWords,       // the side lock words; the leases, all but __kind
                    // (their inside marks too)
  kLeaseKind,       // the leases' __kind word
};

// ---------------------------------------------------------------------------
// Helpers shared by the parent and the child.

uint64_t BaseSeed() {
  static const uint64_t seed = [] {
    uint64_t s;
    const char* env = std::getenv("RINGBUF_CORRUPTION_SEED");
    if (env != nullptr && absl::SimpleAtoi(env, &s)) return s;
    std::random_device rd;
    return (uint64_t{rd()} << 32) | rd();
  }();
  return seed;
}

std::optional<int> OnlyIteration() {
  int i;
  const char* env = std::getenv("RINGBUF_CORRUPTION_ITERATION");
  if (env != nullptr && absl::SimpleAtoi(env, &i)) return i;
  return std::nullopt;
}

uint64_t IterationSeed(uint64_t base, int iteration) {
  return base ^ (uint64_t(iteration + 1) * 0x9E3779B97F4A7C15ull);
}

bool InSideLock(size_t offset) {
  for (size_t m : kSideLockOffsets) {
    if (offset >= m && offset < m + kSideLockSize) return true;
  }
  return false;
}

// A raw read-write view of the whole object, independent of any Queue.
class RawView {
 public:
  explicit RawView(const std::string& name) {
    int fd = shm_open(name.c_str(), O_RDWR, 0);
    if (fd < 0) return;
    struct stat st;
    if (fstat(fd, &st) == 0) {
      size_ = static_cast<size_t>(st.st_size);
      void* p = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      if (p != MAP_FAILED) bytes_ = static_cast<uint8_t*>(p);
    }
    close(fd);
  }
  ~RawView() {
    if (bytes_ != nullptr) munmap(bytes_, size_);
  }
  RawView(const RawView&) = delete;
  RawView& operator=(const RawView&) = delete;

  bool ok() const { return bytes_ != nullptr; }
  size_t size() const { return size_; }

  // Damage is written with relaxed atomic stores, byte by byte or word by
  // word, so that a peer reading the same words atomically is not a data
  // race (for TSan); what it does to the queue is the same.
  void StoreByte(size_t at, uint8_t v) {
    __atomic_store_n(bytes_ + at, v, __ATOMIC_RELAXED);
  }
  uint8_t LoadByte(size_t at) const {
    return __atomic_load_n(bytes_ + at, __ATOMIC_RELAXED);
  }
  void Store32(size_t at, uint32_t v) {
    __atomic_store_n(reinterpret_cast<uint32_t*>(bytes_ + at), v,
                     __ATOMIC_RELAXED);
  }
  uint32_t Load32(size_t at) const {
    return __atomic_load_n(reinterpret_cast<const uint32_t*>(bytes_ + at),
                           __ATOMIC_RELAXED);
  }
  void Store64(size_t at, uint64_t v) {
    __atomic_store_n(reinterpret_cast<uint64_t*>(bytes_ + at), v,
                     __ATOMIC_RELAXED);
  }
  uint64_t Load64(size_t at) const {
    return __atomic_load_n(reinterpret_cast<const uint64_t*>(bytes_ + at),
                           __ATOMIC_RELAXED);
  }

  // Where the lease table starts, and lease `id` (1..kLeases) in it.
  size_t leases() const { return size_ - internal::kLeaseTableBytes; }
  size_t lease(uint32_t id) const {
    return leases() + (id - 1) * sizeof(internal::Lease);
  }

 private:
  uint8_t* bytes_ = nullptr;
  size_t size_ = 0;
};

// ---------------------------------------------------------------------------
// The child: one iteration.

// What one iteration found: violations, and how often each call returned
// each code. Sent to the parent as lines "V <text>" and "C <call> <code> <n>".
class Report {
 public:
  void Violation(std::string what) {
    if (violations_.size() < 20) violations_.push_back(std::move(what));
  }
  void Count(const std::string& call, Code code) {
    ++counts_[call + " " + absl::StatusCodeToString(code)];
  }
  bool clean() const { return violations_.empty(); }

  void WriteTo(int fd) const {
    std::string out;
    for (const std::string& v : violations_)
      absl::StrAppend(&out, "V ", v, "\n");
    for (const auto& [key, n] : counts_)
      absl::StrAppend(&out, "C ", key, " ", n, "\n");
    out.resize(std::min<size_t>(out.size(), 32 * 1024));  // within a pipe
    for (size_t done = 0; done < out.size();) {
      ssize_t w = write(fd, out.data() + done, out.size() - done);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) break;
      done += static_cast<size_t>(w);
    }
  }

 private:
  std::vector<std::string> violations_;
  std::map<std::string, int> counts_;
};

bool Allowed(Code code, std::initializer_list<Code> allowed) {
  return std::find(allowed.begin(), allowed.end(), code) != allowed.end();
}

// Runs calls on one handle and checks each against queue.h.
class Prober {
 public:
  Prober(Queue* q, std::mt19937_64* rng, Report* report)
      : q_(q), rng_(*rng), report_(*report) {}

  void RandomCall() {
    switch (rng_() % 6) {
      case 0:
        Stats();
        break;
      case 1:
        TrySend();
        break;
      case 2:
        TryReceive();
        break;
      case 3:
        SendFor(SmallTimeout());
        break;
      case 4:
        ReceiveFor(SmallTimeout());
        break;
      case 5:
        OpenFresh();
        break;
    }
  }

  void Stats() {
    ringbuf::Stats st = q_->GetStats();
    if (st.capacity != q_->capacity() || st.slot_size != q_->slot_size()) {
      report_.Violation(absl::StrCat(
          "GetStats says capacity ", st.capacity, ", slot_size ", st.slot_size,
          "; the handle validated ", q_->capacity(), ", ", q_->slot_size()));
    }
  }

  void TrySend() {
    const std::string m = Message();
    absl::Status s = Checked("TrySend", absl::ZeroDuration(),
                             {Code::kOk, Code::kUnavailable, Code::kDataLoss,
                              Code::kInvalidArgument},
                             [&] { return q_->TrySend(m); });
    CheckSizeVerdict("TrySend", m, s);
  }

  void SendFor(absl::Duration timeout) {
    const std::string m = Message();
    absl::Status s = Checked("SendFor", timeout,
                             {Code::kOk, Code::kDeadlineExceeded,
                              Code::kUnavailable, Code::kDataLoss,
                              Code::kInvalidArgument},
                             [&] { return q_->SendFor(m, timeout); });
    CheckSizeVerdict("SendFor", m, s);
  }

  void TryReceive() {
    std::string m;
    absl::Status s = Checked("TryReceive", absl::ZeroDuration(),
                             {Code::kOk, Code::kUnavailable, Code::kDataLoss},
                             [&] { return q_->TryReceive(&m); });
    if (s.ok()) CheckFits("TryReceive", m);
  }

  void ReceiveFor(absl::Duration timeout) {
    std::string m;
    absl::Status s =
        Checked("ReceiveFor", timeout,
                {Code::kOk, Code::kDeadlineExceeded, Code::kUnavailable,
                 Code::kDataLoss},
                [&] { return q_->ReceiveFor(&m, timeout); });
    if (s.ok()) CheckFits("ReceiveFor", m);
  }

  // Opens a second handle on the damaged object and makes a few calls on it.
  void OpenFresh() {
    std::optional<Queue> fresh;
    Checked("Open", absl::ZeroDuration(),
            {Code::kOk, Code::kDataLoss, Code::kFailedPrecondition},
            [&] {
              absl::StatusOr<Queue> q = Queue::Open(q_->name());
              if (q.ok()) fresh.emplace(*std::move(q));
              return q.status();
            })
        .IgnoreError();
    if (!fresh) return;
    Prober p(&*fresh, &rng_, &report_);
    for (int i = 0; i < 3; ++i) {
      switch (rng_() % 5) {
        case 0:
          p.Stats();
          break;
        case 1:
          p.TrySend();
          break;
        case 2:
          p.TryReceive();
          break;
        case 3:
          p.SendFor(SmallTimeout());
          break;
        case 4:
          p.ReceiveFor(SmallTimeout());
          break;
      }
    }
  }

 private:
  // Zero, negative, or a few milliseconds: enough to sleep on a futex.
  absl::Duration SmallTimeout() {
    switch (rng_() % 5) {
      case 0:
        return absl::ZeroDuration();
      case 1:
        return absl::Milliseconds(-1);
      case 2:
        return absl::Milliseconds(1);
      case 3:
        return absl::Milliseconds(5);
      default:
        return absl::Milliseconds(20);
    }
  }

  // Mostly messages that fit; one in eight is one byte too large.
  std::string Message() {
    const uint32_t n =
        rng_() % 8 == 0 ? q_->slot_size() + 1
                        : static_cast<uint32_t>(rng_() % (q_->slot_size() + 1));
    return std::string(n, static_cast<char>('a' + rng_() % 26));
  }

  template <typename Call>
  absl::Status Checked(const char* call, absl::Duration timeout,
                       std::initializer_list<Code> allowed, Call fn) {
    const absl::Time start = absl::Now();
    absl::Status s = fn();
    const absl::Duration took = absl::Now() - start;
    // Any call may wait kTryLockWait for the lock, a timed call its timeout
    // if longer; Open waits for nothing.
    const absl::Duration bound =
        std::max(timeout, absl::ZeroDuration()) + kTryLockWait + kSlack;
    report_.Count(call, s.code());
    if (took > bound) {
      report_.Violation(absl::StrCat(call, " took ", absl::FormatDuration(took),
                                     " (bound ", absl::FormatDuration(bound),
                                     "): ", s.ToString()));
    }
    if (!Allowed(s.code(), allowed)) {
      report_.Violation(
          absl::StrCat(call, " returned an undocumented code: ", s.ToString()));
    }
    return s;
  }

  // A send of a message larger than slot_size is InvalidArgument whatever
  // state the mapping is in, and only such a send is.
  void CheckSizeVerdict(const char* call, const std::string& m,
                        const absl::Status& s) {
    const bool too_big = m.size() > q_->slot_size();
    if (too_big != (s.code() == Code::kInvalidArgument)) {
      report_.Violation(absl::StrCat(call, " of ", m.size(),
                                     " bytes (slot_size ", q_->slot_size(),
                                     "): ", s.ToString()));
    }
  }

  void CheckFits(const char* call, const std::string& m) {
    if (m.size() > q_->slot_size()) {
      report_.Violation(absl::StrCat(call, " returned ", m.size(),
                                     " bytes; slot_size is ", q_->slot_size()));
    }
  }

  Queue* q_;
  std::mt19937_64& rng_;
  Report& report_;
};

// Flips, overwrites or sets to boundary values random bytes and fields of
// the header and slots, never touching the side lock words or the leases.
void DamageHeaderAndSlots(RawView& view, const Queue& q, std::mt19937_64& rng) {
  const uint64_t cap = q.capacity();
  const uint64_t head =
      view.Load64(offsetof(Header, head) + offsetof(IndexLine, index));
  const uint64_t tail =
      view.Load64(offsetof(Header, tail) + offsetof(IndexLine, index));
  const uint64_t interesting[] = {
      0,        1,        cap,        cap + 1,  head,         tail,
      head + 1, tail + 1, head + cap, tail - 1, ~uint64_t{0}, uint64_t{1} << 32,
      rng()};
  // 8-byte fields worth setting to boundary values: the ring indexes and
  // everything on line 0 (which a fresh Open validates).
  const size_t fields[] = {
      offsetof(Header, head) + offsetof(IndexLine, index),
      offsetof(Header, tail) + offsetof(IndexLine, index),
      offsetof(Header, capacity),
      offsetof(Header, slot_stride),
      offsetof(Header, mapping_size),
      0,                              // magic + version
      offsetof(Header, header_size),  // header_size + slot_size
  };
  const int actions = 1 + static_cast<int>(rng() % 6);
  for (int a = 0; a < actions; ++a) {
    switch (rng() % 4) {
      case 0: {  // flip bits of a header byte
        size_t at = rng() % internal::kHeaderSize;
        while (InSideLock(at)) at = rng() % internal::kHeaderSize;
        view.StoreByte(
            at, view.LoadByte(at) ^ static_cast<uint8_t>(1 + rng() % 255));
        break;
      }
      case 1: {  // flip bits of a slot byte (length words included)
        if (view.leases() <= internal::kHeaderSize) break;
        const size_t at = internal::kHeaderSize +
                          rng() % (view.leases() - internal::kHeaderSize);
        view.StoreByte(
            at, view.LoadByte(at) ^ static_cast<uint8_t>(1 + rng() % 255));
        break;
      }
      case 2: {  // a slot's length word: past slot_size, or huge
        const uint64_t slot = rng() % cap;
        const uint32_t lengths[] = {q.slot_size() + 1, 0xffffffffu,
                                    static_cast<uint32_t>(rng()),
                                    q.slot_size()};
        view.Store32(
            internal::kHeaderSize + slot * internal::SlotStride(q.slot_size()),
            lengths[rng() % 4]);
        break;
      }
      case 3:  // a field to a boundary value
        view.Store64(fields[rng() % (sizeof(fields) / sizeof(fields[0]))],
                     interesting[rng() % (sizeof(interesting) /
                                          sizeof(interesting[0]))]);
        break;
    }
  }
}

// The lease this thread holds in the queue (its handle takes one on its
// first send or receive and keeps it), 0 if none.
uint32_t OwnLease(const RawView& view) {
  for (uint32_t id = 1; id <= kLeases; ++id) {
    if ((view.Load32(view.lease(id) + kLockWord) & kFutexTidMask) ==
        static_cast<uint32_t>(gettid())) {
      return id;
    }
  }
  return 0;
}

// A lease worth damaging: one a side lock names, or any; never `own`, the
// one this thread holds, learnt before any damage (damage may write this
// thread's id into another lease's lock word, after which OwnLease would
// find that one). Damage to a lease while its thread holds it is not
// covered: glibc unlinks a robust mutex from its holder's robust list
// through the __prev/__next words in the mutex, and those bytes are trusted
// while it is held (docs/design.md §5). A side lock naming `own` is what an
// unfinished Peek or Reserve of this thread leaves, and the call says so
// (FailedPrecondition) at once: SideLockWordTest covers it.
uint32_t SomeLease(const RawView& view, std::mt19937_64& rng, uint32_t own) {
  if (rng() % 2) {
    const uint32_t named = view.Load32(kSideLockOffsets[rng() % 2]);
    if (named >= 1 && named <= kLeases && named != own) return named;
  }
  for (;;) {
    const uint32_t id = 1 + static_cast<uint32_t>(rng() % kLeases);
    if (id != own) return id;
  }
}

// Sets one side lock's words to what a peer might leave there: a lease out
// of range, a lease nobody holds (as a dead holder leaves it), free, or a
// random word; and its sleepers word to a sleeper announced or not, or any
// value (which can only make sleepers wake early or a releaser wake nobody).
void DamageSideLock(RawView& view, std::mt19937_64& rng, uint32_t own) {
  const size_t at = kSideLockOffsets[rng() % 2];
  switch (rng() % 7) {
    case 0:  // a lease out of range
      view.Store32(at, kLeases + 1 +
                           static_cast<uint32_t>(rng() % (~0u - kLeases)));
      break;
    case 1:  // another lease, most likely nobody's
      view.Store32(at, SomeLease(view, rng, own));
      break;
    case 2:  // free
      view.Store32(at, 0);
      break;
    case 3:  // a random word naming no lease
      view.Store32(at, static_cast<uint32_t>(rng()) | (kLeases + 1));
      break;
    case 4:  // a random high byte: a lease out of range
      view.StoreByte(at + 2 + rng() % 2, static_cast<uint8_t>(1 + rng() % 255));
      break;
    case 5:  // biased toward another lease, most likely nobody's
      view.Store32(at, internal::BiasedTo(SomeLease(view, rng, own)));
      break;
    case 6: {  // that bias being revoked by another lease
      const uint32_t x = SomeLease(view, rng, own);
      view.Store32(at, internal::Revoking(SomeLease(view, rng, own), x));
      break;
    }
  }
  if (rng() % 4 == 0) {  // the streak: only ever decides a bias
    view.Store32(at + kStreakOffset, static_cast<uint32_t>(rng()));
  }
  switch (rng() % 3) {
    case 0:
      break;
    case 1:  // a sleeper announced, or the bit cleared
      view.Store32(at + kSleepersOffset,
                   view.Load32(at + kSleepersOffset) ^ kMaySleep);
      break;
    case 2:
      view.Store32(at + kSleepersOffset, static_cast<uint32_t>(rng()));
      break;
  }
}

// Scribbles on a lease's words: random bytes anywhere but __kind, or the
// values that mean something to glibc (a free lock, a lock held by a live
// or a dead thread, owner-died, the waiters bit, unrecoverable and
// inconsistent owners, counts about to overflow).
void DamageLease(RawView& view, std::mt19937_64& rng, pid_t dead_tid,
                 uint32_t own) {
  const size_t m = view.lease(SomeLease(view, rng, own));
  switch (rng() % 10) {
    case 0:  // random bytes, __kind excepted
      for (int i = 1 + static_cast<int>(rng() % 8); i > 0; --i) {
        size_t at = rng() % kMutexSize;
        while (at >= kKindWord && at < kKindWord + 4) at = rng() % kMutexSize;
        view.StoreByte(m + at, static_cast<uint8_t>(rng()));
      }
      break;
    case 1:  // held by a thread that no longer exists
      view.Store32(m + kLockWord, static_cast<uint32_t>(dead_tid));
      break;
    case 2:  // held by this very process (its only thread)
      view.Store32(m + kLockWord, static_cast<uint32_t>(getpid()) |
                                      (rng() % 2 ? kFutexWaiters : 0));
      break;
    case 3:  // owner died, as the kernel marks it
      view.Store32(
          m + kLockWord,
          kFutexOwnerDied | static_cast<uint32_t>(rng() % 2 ? dead_tid : 0));
      break;
    case 4:  // a random lock word
      view.Store32(m + kLockWord, static_cast<uint32_t>(rng()));
      break;
    case 5:
      view.Store32(m + kOwnerWord, kOwnerNotRecoverable);
      break;
    case 6:
      view.Store32(m + kOwnerWord, kOwnerInconsistent);
      break;
    case 7:
      view.Store32(m + kCountWord, 0xffffffffu);
      break;
    case 8:  // the robust-list pointers, the spin and elision counters
      for (size_t at = kKindWord + 4; at < kMutexSize; ++at) {
        view.StoreByte(m + at, static_cast<uint8_t>(rng()));
      }
      break;
    case 9:  // an inside mark (leased_lock.h): set, as a dead biased holder
             // leaves it, or any value
      view.Store32(m + offsetof(internal::Lease, inside) +
                       (rng() % 2) * sizeof(uint32_t),
                   rng() % 2 ? 1u : static_cast<uint32_t>(rng()));
      break;
  }
}

// Scribbles on the side lock words, the leases' words (all but __kind), or
// both: a side lock naming a damaged lease makes its waiters act on it.
void DamageLockWords(RawView& view, std::mt19937_64& rng, pid_t dead_tid,
                     uint32_t own) {
  const int actions = 1 + static_cast<int>(rng() % 4);
  for (int a = 0; a < actions; ++a) {
    if (rng() % 2) {
      DamageSideLock(view, rng, own);
    } else {
      DamageLease(view, rng, dead_tid, own);
    }
  }
}

// Rewrites one lease's __kind: the types that made glibc crash its caller
// before RobustMutex checked the word, or a random word. Mostly the lease a
// side lock is made to name, so that its waiters probe it.
void DamageLeaseKind(RawView& view, std::mt19937_64& rng, pid_t dead_tid,
                     uint32_t own) {
  const uint32_t id = SomeLease(view, rng, own);
  if (rng() % 3 != 0) view.Store32(kSideLockOffsets[rng() % 2], id);
  const size_t m = view.lease(id);
  switch (rng() % 5) {
    case 0:  // timed + lock elision: xbegin, SIGILL without TSX
      view.Store32(m + kKindWord, 0x180);
      view.Store32(m + kLockWord, 0);
      break;
    case 1:  // robust priority-inheritance, owner gone: assert (ESRCH)
      view.Store32(m + kKindWord, 0xb0);
      view.Store32(m + kLockWord, static_cast<uint32_t>(dead_tid));
      break;
    case 2:  // priority-protect with a ceiling out of range: assert
      view.Store32(m + kKindWord, 0xc0);
      view.Store32(m + kLockWord, 0x7ffu << 19);
      break;
    case 3:  // robust recursive, "owned" by us with no robust-list entry
      view.Store32(m + kKindWord, 0x91);
      view.Store32(m + kLockWord, static_cast<uint32_t>(getpid()));
      view.Store32(m + kOwnerWord, static_cast<uint32_t>(getpid()));
      view.Store32(m + kCountWord, 0);
      for (size_t at = kKindWord + 4; at < kMutexSize; ++at)
        view.StoreByte(m + at, 0);
      break;
    case 4:
      view.Store32(m + kKindWord, static_cast<uint32_t>(rng()));
      break;
  }
}

// A thread id that is certainly not running: a child that has exited and
// been reaped (its id is free, and nothing will reuse it in the short life
// of an iteration on a machine with 2^22 pids, or if something does, it
// merely holds the lock — which the test also expects to be survived).
pid_t DeadTid() {
  pid_t pid = testing::ForkChild([] { return 0; });
  testing::WaitChild(pid, absl::Seconds(10));
  return pid;
}

// A peer process that is asleep in a timed call when the damage lands: it
// must return by its deadline with a documented code, whatever it wakes to.
pid_t StartSleeper(Queue& q) {
  const ringbuf::Stats st = q.GetStats();
  const bool empty = st.depth == 0;
  const bool full = st.depth == q.capacity();
  if (!empty && !full) return -1;
  return testing::ForkChild([&q, empty] {
    const absl::Time start = absl::Now();
    std::string m;
    absl::Status s = empty ? q.ReceiveFor(&m, kSleeperTimeout)
                           : q.SendFor("z", kSleeperTimeout);
    const absl::Duration took = absl::Now() - start;
    if (took > kSleeperTimeout + kSlack) return 3;
    if (!Allowed(s.code(), {Code::kOk, Code::kDeadlineExceeded,
                            Code::kUnavailable, Code::kDataLoss})) {
      return 4;
    }
    if (s.ok() && m.size() > q.slot_size()) return 5;
    return 0;
  });
}

// One iteration, in the child. Never uses gtest: findings go to `report`.
void RunIteration(const std::string& name, uint64_t seed, Damage damage,
                  Report& report) {
  std::mt19937_64 rng(seed);
  Options o;
  o.capacity = 1 + rng() % 16;
  o.slot_size = static_cast<uint32_t>(1 + rng() % 200);
  absl::StatusOr<Queue> q = Queue::Create(name, o);
  if (!q.ok()) {
    report.Violation(absl::StrCat("Create: ", q.status().ToString()));
    return;
  }
  // Move the indexes off zero (and around the ring) and leave some messages.
  const uint64_t rounds = rng() % (3 * o.capacity);
  std::string m;
  for (uint64_t i = 0; i < rounds; ++i) {
    (void)q->TrySend(std::string(rng() % (o.slot_size + 1), 'm'));
    if (rng() % 2) (void)q->TryReceive(&m);
  }

  const pid_t dead_tid = DeadTid();
  pid_t sleeper = -1;
  if (damage == Damage::kHeaderAndSlots && rng() % 3 == 0) {
    sleeper = StartSleeper(*q);
    if (sleeper > 0) {
      testing::AwaitSleeper(name,
                            q->GetStats().depth == 0 ? testing::Side::kReceivers
                                                     : testing::Side::kSenders,
                            absl::Seconds(1));
    }
  }

  {
    RawView view(name);
    if (!view.ok()) {
      report.Violation("could not map the object raw");
      return;
    }
    const uint32_t own = OwnLease(view);
    switch (damage) {
      case Damage::kHeaderAndSlots:
        DamageHeaderAndSlots(view, *q, rng);
        break;
      case Damage::kLockWords:
        DamageLockWords(view, rng, dead_tid, own);
        break;
      case Damage::kLeaseKind:
        DamageLeaseKind(view, rng, dead_tid, own);
        break;
    }
  }

  Prober prober(&*q, &rng, &report);
  for (int i = 0; i < 10; ++i) prober.RandomCall();
  prober.OpenFresh();

  if (sleeper > 0) {
    const int status =
        testing::WaitChild(sleeper, kSleeperTimeout + kSlack * 2);
    if (!testing::ExitedCleanly(status)) {
      report.Violation(absl::StrCat(
          "a peer asleep in a timed call when the damage landed ",
          status == -1 ? "hung" : "failed", " (wait status ", status,
          "; 3 = late, 4 = undocumented code, 5 = oversized message)"));
    }
  }
}

// ---------------------------------------------------------------------------
// The parent.

class CorruptionTest : public ::testing::Test {
 protected:
  // Runs up to `iterations` iterations of `damage`, stopping early once
  // `budget` is spent (sanitizer builds are slower), each in a child.
  void RunIterations(Damage damage, int iterations, absl::Duration budget) {
    const uint64_t base = BaseSeed();
    const std::optional<int> only = OnlyIteration();
    const absl::Time start = absl::Now();
    int ran = 0;
    std::map<std::string, int> tally;
    for (int i = only.value_or(0); i < (only ? *only + 1 : iterations); ++i) {
      if (!only && absl::Now() - start > budget) break;
      ScopedQueueName name(absl::StrCat(i));
      const uint64_t seed = IterationSeed(base, i);
      int fds[2];
      ASSERT_EQ(pipe(fds), 0);
      pid_t pid = testing::ForkChild([&] {
        close(fds[0]);
        Report report;
        RunIteration(name, seed, damage, report);
        report.WriteTo(fds[1]);
        return report.clean() ? 0 : 1;
      });
      close(fds[1]);
      const int status = testing::WaitChild(pid, kIterationLimit);
      const std::string output = ReadAvailable(fds[0]);
      close(fds[0]);
      ++ran;

      std::string violations;
      for (absl::string_view line : absl::StrSplit(output, '\n')) {
        if (absl::ConsumePrefix(&line, "V ")) {
          absl::StrAppend(&violations, "\n  ", line);
        } else if (absl::ConsumePrefix(&line, "C ")) {
          std::vector<std::string> parts = absl::StrSplit(line, ' ');
          int n = 0;
          if (parts.size() == 3 && absl::SimpleAtoi(parts[2], &n)) {
            tally[parts[0] + " " + parts[1]] += n;
          }
        }
      }
      const std::string replay = absl::StrCat(
          "iteration ", i, " (replay: RINGBUF_CORRUPTION_SEED=", base,
          " RINGBUF_CORRUPTION_ITERATION=", i, ")");
      if (status == -1) {
        ADD_FAILURE() << replay << " hung: killed after " << kIterationLimit
                      << violations;
      } else if (WIFSIGNALED(status)) {
        ADD_FAILURE() << replay << " crashed with signal " << WTERMSIG(status)
                      << " (" << strsignal(WTERMSIG(status)) << ")"
                      << violations;
      } else if (!testing::ExitedCleanly(status)) {
        ADD_FAILURE() << replay << " violated the contract (exit "
                      << WEXITSTATUS(status) << "):" << violations;
      }
    }
    std::string summary;
    for (const auto& [key, n] : tally)
      absl::StrAppend(&summary, "\n  ", key, ": ", n);
    std::printf("seed %llu: %d iterations in %s; calls by code:%s\n",
                static_cast<unsigned long long>(base), ran,
                absl::FormatDuration(absl::Now() - start).c_str(),
                summary.c_str());
    EXPECT_GT(ran, 0);
  }

 private:
  static std::string ReadAvailable(int fd) {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    std::string out;
    char buf[4096];
    for (;;) {
      ssize_t n = read(fd, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }
};

TEST_F(CorruptionTest, DamagedHeaderAndSlotsNeverCrashOrHang) {
  RunIterations(Damage::kHeaderAndSlots, 400, absl::Seconds(7));
}

TEST_F(CorruptionTest, ScribbledLockWordsNeverOutlastATimeout) {
  RunIterations(Damage::kLockWords, 300, absl::Seconds(7));
}

// Regression test for a fuzz finding (fuzz/README.md): a mutex whose __kind
// word was scribbled on made glibc crash the caller — SIGILL (lock elision
// without TSX), abort() (assertions in the priority-inheritance and
// priority-protect paths) or SIGSEGV (a robust-list unlink through garbage
// pointers) — where the contract says DataLoss. The robust mutexes are the
// leases now; RobustMutex::TryLock checks the word first.
TEST_F(CorruptionTest, ScribbledLeaseKindIsDataLossNotACrash) {
  RunIterations(Damage::kLeaseKind, 60, absl::Seconds(3));
}

// A queue of 4 slots holding "kept", sent by this thread (which took its
// lease), mapped raw.
class SideLockWordTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(q_.TrySend("kept").ok());
    ASSERT_TRUE(view_.ok());
    own_ = OwnLease(view_);
    ASSERT_NE(own_, 0u);
  }

  ScopedQueueName name_;
  Queue q_ = testing::CreateQueue(name_, 4, 32);
  RawView view_{name_};
  uint32_t own_ = 0;
};

// A side lock word naming a lease the table does not have is DataLoss naming
// the queue and the lock, at once rather than at the deadline; the other
// side is unaffected.
TEST_F(SideLockWordTest, NamingALeaseOutOfRangeIsDataLoss) {
  Queue& q = q_;
  RawView& view = view_;
  const std::string name = name_.get();
  // Long enough that only a wait for it could reach it.
  const absl::Duration timeout = 3 * kSlack;
  const size_t send = kSideLockOffsets[0], recv = kSideLockOffsets[1];
  for (const uint32_t word : {0x7fffffffu, 0x80000000u | (kLeases + 1)}) {
    const std::string names =
        absl::StrCat("lock is corrupt: it names lease ", word,
                     " of ", kLeases);
    view.Store32(send, word);
    absl::Time start = absl::Now();
    absl::Status s = q.SendFor("lost", timeout);
    EXPECT_LT(absl::Now() - start, kSlack);
    EXPECT_EQ(s.code(), Code::kDataLoss) << s;
    EXPECT_NE(s.message().find(name), std::string::npos) << s;
    EXPECT_NE(s.message().find(absl::StrCat("the send ", names)),
              std::string::npos)
        << s;
    view.Store32(send, 0);

    view.Store32(recv, word);
    std::string out;
    start = absl::Now();
    s = q.ReceiveFor(&out, timeout);
    EXPECT_LT(absl::Now() - start, kSlack);
    EXPECT_EQ(s.code(), Code::kDataLoss) << s;
    EXPECT_NE(s.message().find(name), std::string::npos) << s;
    EXPECT_NE(s.message().find(absl::StrCat("the receive ", names)),
              std::string::npos)
        << s;
    EXPECT_TRUE(q.TrySend("sent past it").ok());
    view.Store32(recv, 0);
  }
  const ringbuf::Stats st = q.GetStats();
  EXPECT_EQ(st.depth, 3u);  // "kept" and the two sent past it; none lost
  EXPECT_EQ(st.send_lock_owner_deaths + st.receive_lock_owner_deaths, 0u);
}

// A side lock naming a lease nobody holds is what a holder leaves when its
// thread is gone (the lease freed, or owner-dead): the next caller releases
// it, counted as an owner death, and carries on.
TEST_F(SideLockWordTest, NamingALeaseNobodyHoldsIsReleasedAsAnOwnerDeath) {
  Queue& q = q_;
  RawView& view = view_;
  const uint32_t nobodys = own_ % kLeases + 1;
  ASSERT_EQ(view.Load32(view.lease(nobodys) + kLockWord), 0u);

  view.Store32(kSideLockOffsets[0], nobodys);
  EXPECT_TRUE(q.TrySend("second").ok());
  EXPECT_EQ(view.Load32(kSideLockOffsets[0]), 0u);
  EXPECT_EQ(q.GetStats().send_lock_owner_deaths, 1u);

  view.Store32(kSideLockOffsets[1], nobodys);
  std::string out;
  ASSERT_TRUE(q.TryReceive(&out).ok());
  EXPECT_EQ(out, "kept");
  EXPECT_EQ(view.Load32(kSideLockOffsets[1]), 0u);
  const ringbuf::Stats st = q.GetStats();
  EXPECT_EQ(st.receive_lock_owner_deaths, 1u);
  EXPECT_EQ(st.send_lock_owner_deaths, 1u);
  EXPECT_EQ(st.depth, 1u);
}

// A side lock naming the calling thread's own lease is what its unfinished
// Peek, PeekBatch or Reserve leaves (internal/leased_lock.h): a peer writing
// it gets the call to say so at once, rather than wait for itself. Another
// thread, with a lease of its own, finds the lock busy.
TEST_F(SideLockWordTest, NamingThisThreadsOwnLeaseIsRefusedAtOnce) {
  Queue& q = q_;
  RawView& view = view_;
  const std::string name = name_.get();
  view.Store32(kSideLockOffsets[0], own_);
  const absl::Time start = absl::Now();
  absl::Status s = q.SendFor("refused", 3 * kSlack);
  EXPECT_LT(absl::Now() - start, kSlack);
  EXPECT_EQ(s.code(), Code::kFailedPrecondition) << s;
  EXPECT_NE(s.message().find(name), std::string::npos) << s;
  EXPECT_NE(s.message().find("already holds the send lock"), std::string::npos)
      << s;
  absl::Status other;
  std::thread([&] { other = q.TrySend("busy"); }).join();
  EXPECT_EQ(other.code(), Code::kUnavailable) << other;
  EXPECT_EQ(q.GetStats().depth, 1u);
  view.Store32(kSideLockOffsets[0], 0);
  EXPECT_TRUE(q.TrySend("sent").ok());
}

// A side lock biased toward a lease (internal/leased_lock.h) whose thread
// is gone: revoked by the next caller at once, and repaired as an owner
// death only if that lease was marked inside.
TEST_F(SideLockWordTest, BiasTowardALeaseNobodyHoldsIsRevoked) {
  Queue& q = q_;
  RawView& view = view_;
  const uint32_t nobodys = own_ % kLeases + 1;
  const size_t inside = view.lease(nobodys) + offsetof(internal::Lease, inside);

  view.Store32(kSideLockOffsets[0], internal::BiasedTo(nobodys));
  EXPECT_TRUE(q.TrySend("second").ok());
  EXPECT_EQ(view.Load32(kSideLockOffsets[0]), 0u);
  EXPECT_EQ(q.GetStats().send_lock_owner_deaths, 0u);

  view.Store32(kSideLockOffsets[1], internal::BiasedTo(nobodys));
  view.Store32(inside + 4 * internal::kReceiveLock, 1);
  std::string out;
  ASSERT_TRUE(q.TryReceive(&out).ok());
  EXPECT_EQ(out, "kept");
  EXPECT_EQ(view.Load32(kSideLockOffsets[1]), 0u);
  EXPECT_EQ(view.Load32(inside + 4 * internal::kReceiveLock), 0u);
  const ringbuf::Stats st = q.GetStats();
  EXPECT_EQ(st.receive_lock_owner_deaths, 1u);
  EXPECT_EQ(st.send_lock_owner_deaths, 0u);
  EXPECT_EQ(st.depth, 1u);
}

// A revocation begun by a lease whose thread is gone: the next caller probes
// that lease, hands the bias back to the lease it was taken from, and
// revokes it in turn; nobody was inside, so no death is counted.
TEST_F(SideLockWordTest, RevocationByALeaseNobodyHoldsIsTakenOver) {
  Queue& q = q_;
  RawView& view = view_;
  const uint32_t revoker = own_ % kLeases + 1;
  const uint32_t biased = revoker % kLeases + 1;
  ASSERT_NE(biased, own_);
  view.Store32(kSideLockOffsets[0], internal::Revoking(revoker, biased));
  const absl::Time start = absl::Now();
  EXPECT_TRUE(q.SendFor("second", 3 * kSlack).ok());
  EXPECT_LT(absl::Now() - start, kSlack);
  EXPECT_EQ(view.Load32(kSideLockOffsets[0]), 0u);
  EXPECT_EQ(q.GetStats().send_lock_owner_deaths, 0u);
  EXPECT_EQ(q.GetStats().depth, 2u);
}

// A bias toward the calling thread's own lease is taken through the bias;
// marked inside as well, it is what the thread's own unfinished Reserve
// leaves, refused at once as for a word naming the thread's lease.
TEST_F(SideLockWordTest, BiasTowardThisThreadsOwnLease) {
  Queue& q = q_;
  RawView& view = view_;
  if (!internal::LightPostsEnabled()) {
    GTEST_SKIP() << "this process could not register for membarrier: "
                    "a bias toward it is revoked like anyone's";
  }
  const size_t inside = view.lease(own_) + offsetof(internal::Lease, inside);
  view.Store32(kSideLockOffsets[0], internal::BiasedTo(own_));
  EXPECT_TRUE(q.TrySend("through the bias").ok());
  EXPECT_EQ(view.Load32(kSideLockOffsets[0]), internal::BiasedTo(own_));
  EXPECT_EQ(view.Load32(inside + 4 * internal::kSendLock), 0u);

  view.Store32(inside + 4 * internal::kSendLock, 1);
  const absl::Time start = absl::Now();
  absl::Status s = q.SendFor("refused", 3 * kSlack);
  EXPECT_LT(absl::Now() - start, kSlack);
  EXPECT_EQ(s.code(), Code::kFailedPrecondition) << s;
  EXPECT_NE(s.message().find("already holds the send lock"), std::string::npos)
      << s;
  view.Store32(inside + 4 * internal::kSendLock, 0);
  EXPECT_TRUE(q.TrySend("sent").ok());
  EXPECT_EQ(q.GetStats().depth, 3u);
}

// The bias forms with a lease out of range, or both tag bits: DataLoss at
// once, naming the queue and the lock, as any word the protocol never
// writes; nothing is counted as a death.
TEST_F(SideLockWordTest, BiasFormsNamingNoLeaseAreDataLoss) {
  Queue& q = q_;
  RawView& view = view_;
  const std::string name = name_.get();
  const uint32_t x = own_ % kLeases + 1;
  const size_t send = kSideLockOffsets[0], recv = kSideLockOffsets[1];
  for (const uint32_t word :
       {internal::BiasedTo(0), internal::BiasedTo(kLeases + 1),
        internal::BiasedTo(0xffff), internal::Revoking(0, x),
        internal::Revoking(x, 0), internal::Revoking(kLeases + 1, x),
        internal::Revoking(x, kLeases + 1), internal::kBiasedTag |
                                                internal::kRevokingTag | x,
        internal::BiasedTo(x) | 1u << 16}) {
    SCOPED_TRACE(absl::StrCat("word ", absl::Hex(word)));
    view.Store32(send, word);
    absl::Time start = absl::Now();
    absl::Status s = q.SendFor("lost", 3 * kSlack);
    EXPECT_LT(absl::Now() - start, kSlack);
    EXPECT_EQ(s.code(), Code::kDataLoss) << s;
    EXPECT_NE(s.message().find(name), std::string::npos) << s;
    EXPECT_NE(s.message().find("the send lock is corrupt"), std::string::npos)
        << s;
    EXPECT_EQ(view.Load32(send), word);
    view.Store32(send, 0);

    view.Store32(recv, word);
    std::string out;
    start = absl::Now();
    s = q.ReceiveFor(&out, 3 * kSlack);
    EXPECT_LT(absl::Now() - start, kSlack);
    EXPECT_EQ(s.code(), Code::kDataLoss) << s;
    EXPECT_NE(s.message().find("the receive lock is corrupt"),
              std::string::npos)
        << s;
    view.Store32(recv, 0);
  }
  const ringbuf::Stats st = q.GetStats();
  EXPECT_EQ(st.depth, 1u);
  EXPECT_EQ(st.send_lock_owner_deaths + st.receive_lock_owner_deaths, 0u);
}

// The streak (holds in a row, and whose) only decides when a bias is
// given: any value in it leaves every call working.
TEST_F(SideLockWordTest, AnyStreakLeavesTheLockWorking) {
  Queue& q = q_;
  RawView& view = view_;
  const size_t streak = kSideLockOffsets[0] + 2 * sizeof(uint32_t);
  for (const uint32_t value :
       {0xffffffffu, 0xffffu << 16 | own_, 0xfffeu << 16 | own_, 0u}) {
    view.Store32(streak, value);
    EXPECT_TRUE(q.TrySend("m").ok());
    std::string out;
    ASSERT_TRUE(q.TryReceive(&out).ok());
    EXPECT_EQ(out, "kept");
    EXPECT_TRUE(q.TrySend("kept").ok());
    ASSERT_TRUE(q.TryReceive(&out).ok());
    EXPECT_EQ(out, "m");
  }
  EXPECT_EQ(q.GetStats().depth, 1u);
}

// A thread holds its lease while it uses a handle and gives it back when
// the handle closes, in whatever order its handles close: each closed
// handle's lease is free again at once. (A lease's bytes while its thread
// holds it are trusted, docs/design.md §5: the random damage above spares
// the leases this thread holds.)
TEST(HeldLeaseTest, LeasesAreGivenBackInAnyOrder) {
  ScopedQueueName name;
  Queue creator = testing::CreateQueue(name, 4, 32);
  RawView view(name);
  ASSERT_TRUE(view.ok());
  std::optional<Queue> q[3];
  uint32_t lease[3];
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<Queue> opened = Queue::Open(name);
    ASSERT_TRUE(opened.ok()) << opened.status();
    q[i].emplace(*std::move(opened));
    // Each handle maps the queue anew, so takes a lease of its own.
    uint32_t before[internal::kLeases + 1] = {};
    for (uint32_t id = 1; id <= kLeases; ++id) {
      before[id] = view.Load32(view.lease(id) + kLockWord);
    }
    ASSERT_TRUE(q[i]->TrySend("x").ok());
    lease[i] = 0;
    for (uint32_t id = 1; id <= kLeases; ++id) {
      if (before[id] == 0 && view.Load32(view.lease(id) + kLockWord) != 0) {
        lease[i] = id;
      }
    }
    ASSERT_NE(lease[i], 0u);
  }
  for (int i : {1, 0, 2}) {  // the middle one of the thread's list first
    q[i].reset();
    EXPECT_EQ(view.Load32(view.lease(lease[i]) + kLockWord), 0u) << i;
  }
}

}  // namespace
}  // namespace ringbuf
