// Fuzzes what ringbuf does with a mapping whose bytes someone else wrote.
//
// Property: whatever bytes the shared-memory object holds, Queue::Open and
// every bounded call on the queue (GetStats, TrySend, TryReceive, SendFor,
// ReceiveFor, SendBatch, ReceiveInto, ReceiveBatch, Reserve/Commit,
// Peek/Release and PeekBatch/Release(k), all with tiny timeouts) return, within their timeout plus
// slack, a status from the call's documented list; nothing crashes or
// touches memory outside the mapping (ASan), and a message handed back never
// exceeds the handle's slot_size. A violation aborts, so libFuzzer keeps the
// input.
//
// Two variants, chosen by the first input byte:
//   * Live queue: Queue::Create makes a real queue (geometry and prefill
//     from the input), then a program of records alternates byte patches on
//     a raw mmap of the object with operations on the creator's handle and
//     on handles opened after the damage. This models a peer scribbling on
//     a queue in use.
//   * Raw object: an object of arbitrary size holding arbitrary bytes, then
//     Queue::Open and, if that succeeds, a fixed round of operations.
//
// The side locks are futex words naming a lease; the leases, at the end of
// the object, are robust pthread mutexes: glibc state (internal/
// leased_lock.h, lease_table.h). The first byte says whether patches may
// touch them: not at all, every byte but the leases' __kind (the side lock
// words; the leases' lock words, owners, counts and robust-list pointers),
// or every byte. Either way the leases this very thread holds keep their
// lock word and robust-list pointers, which glibc follows when the thread
// gives a lease back (see fuzz/README.md). (A garbage __kind used to make
// glibc crash the caller; RobustMutex now refuses it.)
//
// Each process uses one object name (pid plus a random part: Bazel's
// sandboxes share /dev/shm but not pid namespaces), unlinked before and
// after every input.
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "ringbuf/internal/layout.h"
#include "ringbuf/queue.h"

namespace ringbuf {
namespace fuzz {
namespace {

using internal::Header;
using internal::SideLock;

static_assert(sizeof(internal::RobustMutex) == sizeof(pthread_mutex_t) &&
                  offsetof(internal::Lease, mutex) == 0,
              "a lease is a bare pthread_mutex_t at the start of its line; "
              "the byte ranges below assume it");

// Where glibc keeps a mutex's type (normal/recursive/errorcheck, robust,
// priority inheritance or protection, elision, process-shared), which every
// pthread_mutex_* call dispatches on.
constexpr size_t kKindOffset = offsetof(pthread_mutex_t, __data.__kind);
constexpr size_t kKindSize = sizeof(int);
// A mutex's lock word (the holder's thread id) and its robust-list links.
constexpr size_t kLockOffset = offsetof(pthread_mutex_t, __data.__lock);
constexpr size_t kLockSize = sizeof(int);
constexpr size_t kListOffset = offsetof(pthread_mutex_t, __data.__list);
constexpr size_t kListSize = sizeof(__pthread_list_t);
constexpr uint32_t kFutexTidMask = 0x3fffffff;

// Every call waits at least this long for a side lock (queue.cc's
// kLockWaitFloor).
constexpr absl::Duration kTryLockWait = absl::Milliseconds(10);
// Scheduling noise allowed on top of a call's own bound (sanitizers and a
// busy 2-core machine); a call slower than this is treated as a hang.
constexpr absl::Duration kSlack = absl::Seconds(2);

// Caps that keep one input cheap.
constexpr int kMaxRecords = 64;
constexpr int kMaxOps = 24;
constexpr size_t kMaxRawObject = 1 << 16;

// Which bytes of the side lock words and the lease table patches may change.
enum class LockPolicy { kKeep, kAllButKind, kAll };

// First input byte:
//   bits 0-1: 2 = raw object, anything else = live queue
//   bits 2-3: 0 = kKeep, 1 = kAllButKind, 2 and 3 = kAll
//   bits 4-5: the live queue's priorities: 1, 2, 4 or 8
bool IsRawObject(uint8_t flags) { return (flags & 3) == 2; }

uint32_t PrioritiesFromFlags(uint8_t flags) { return 1u << ((flags >> 4) & 3); }

LockPolicy PolicyFromFlags(uint8_t flags) {
  switch ((flags >> 2) & 3) {
    case 0:
      return LockPolicy::kKeep;
    case 1:
      return LockPolicy::kAllButKind;
    default:
      return LockPolicy::kAll;
  }
}

// The offsets of the two side locks' futex words in the mapping.
constexpr size_t kSideLockOffsets[] = {
    offsetof(Header, send) + offsetof(SideLock, lock),
    offsetof(Header, recv) + offsetof(SideLock, lock),
};
constexpr size_t kSideLockSize = sizeof(internal::LeasedLock);

// Reads the input front to back; past the end every read yields zeros.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : p_(data), n_(size) {}
  bool empty() const { return n_ == 0; }
  size_t remaining() const { return n_; }
  uint8_t U8() {
    if (n_ == 0) return 0;
    --n_;
    return *p_++;
  }
  uint16_t U16() {  // little-endian; two statements fix the read order
    const uint16_t low = U8();
    return static_cast<uint16_t>(low | (U8() << 8));
  }
  // Up to `k` bytes (fewer at the end of the input).
  std::pair<const uint8_t*, size_t> Bytes(size_t k) {
    if (k > n_) k = n_;
    std::pair<const uint8_t*, size_t> out{p_, k};
    p_ += k;
    n_ -= k;
    return out;
  }

 private:
  const uint8_t* p_;
  size_t n_;
};

// RINGBUF_FUZZ_VERBOSE=1 traces every call and its status to stderr (for
// reading what a crashing or slow input does; far too slow for fuzzing).
bool Verbose() {
  static const bool verbose = std::getenv("RINGBUF_FUZZ_VERBOSE") != nullptr;
  return verbose;
}

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "mapping_fuzzer: property violated: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

const std::string& ObjectName() {
  static const std::string* name = new std::string(absl::StrCat(
      "/ringbuf-fuzz-", getpid(), "-", absl::Hex(std::random_device{}())));
  return *name;
}

// Unlinks the object when an input is done, however it ends.
class ScopedUnlink {
 public:
  ScopedUnlink() { shm_unlink(ObjectName().c_str()); }
  ~ScopedUnlink() { shm_unlink(ObjectName().c_str()); }
};

// A raw read-write view of the whole object, independent of any Queue.
class RawView {
 public:
  explicit RawView(const std::string& name) {
    int fd = shm_open(name.c_str(), O_RDWR, 0);
    if (fd < 0) Fail(absl::StrCat("shm_open(", name, ") for the raw view"));
    struct stat st;
    if (fstat(fd, &st) != 0) Fail("fstat for the raw view");
    size_ = static_cast<size_t>(st.st_size);
    void* p = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) Fail("mmap for the raw view");
    bytes_ = static_cast<uint8_t*>(p);
  }
  ~RawView() { munmap(bytes_, size_); }
  RawView(const RawView&) = delete;
  RawView& operator=(const RawView&) = delete;

  uint8_t* bytes() const { return bytes_; }
  size_t size() const { return size_; }

  // The lease table is the object's last kLeaseTableBytes (if it is that
  // large: a raw object may be smaller).
  size_t leases() const {
    return size_ >= internal::kLeaseTableBytes
               ? size_ - internal::kLeaseTableBytes
               : size_;
  }
  uint32_t Word(size_t at) const {
    return __atomic_load_n(reinterpret_cast<const uint32_t*>(bytes_ + at),
                           __ATOMIC_RELAXED);
  }
  // Whether the lease of id 1..kLeases is locked by this very thread.
  bool HeldByThisThread(uint32_t id) const {
    if (leases() == size_ || id == 0 || id > internal::kLeases) return false;
    const size_t lease = leases() + (id - 1) * sizeof(internal::Lease);
    return (Word(lease + kLockOffset) & kFutexTidMask) ==
           static_cast<uint32_t>(gettid());
  }

 private:
  uint8_t* bytes_ = nullptr;
  size_t size_ = 0;
};

// The view of the object under test, for Prober's check of
// FailedPrecondition; null between inputs.
const RawView* g_view = nullptr;

bool InRange(size_t offset, size_t begin, size_t size) {
  return offset >= begin && offset < begin + size;
}

// Whether byte `offset` of the mapping may be patched under `policy`.
bool Patchable(const RawView& view, size_t offset, LockPolicy policy) {
  const size_t table = view.leases();
  if (policy == LockPolicy::kKeep) {
    for (size_t word : kSideLockOffsets) {
      if (InRange(offset, word, kSideLockSize)) return false;
    }
    return offset < table;
  }
  if (offset < table) return true;
  const size_t in_lease = (offset - table) % sizeof(internal::Lease);
  if (policy == LockPolicy::kAllButKind &&
      InRange(in_lease, kKindOffset, kKindSize)) {
    return false;
  }
  // A lease this thread holds is in the thread's robust list: glibc unlinks
  // it through these words when the thread gives it back.
  const uint32_t id =
      static_cast<uint32_t>((offset - table) / sizeof(internal::Lease)) + 1;
  return !(view.HeldByThisThread(id) &&
           (InRange(in_lease, kLockOffset, kLockSize) ||
            InRange(in_lease, kListOffset, kListSize)));
}

// A side lock naming a lease this thread holds (or biased toward it) is
// what an unfinished Peek, PeekBatch or Reserve of this thread leaves; a call that meets it says so
// with FailedPrecondition (internal/leased_lock.h) rather than wait for
// itself. Patches can write such a word.
bool SaysItHoldsTheLock(const absl::Status& s) {
  if (s.code() != absl::StatusCode::kFailedPrecondition || g_view == nullptr ||
      s.message().find("this thread already holds the") == std::string::npos) {
    return false;
  }
  for (size_t word : kSideLockOffsets) {
    // Held through the word, or through a bias toward this thread's lease
    // (whose inside mark a patch may have set).
    const internal::LockWord w = internal::DecodeLockWord(g_view->Word(word));
    if (w.kind != internal::LockWord::kCorrupt &&
        g_view->HeldByThisThread(w.lease)) {
      return true;
    }
  }
  return false;
}

bool Allowed(absl::StatusCode code,
             std::initializer_list<absl::StatusCode> ok) {
  for (absl::StatusCode c : ok) {
    if (c == code) return true;
  }
  return false;
}

// Runs operations on one handle and checks each against the contract in
// queue.h: the status is one the call documents, the call returned within
// its bound (plus kSlack), and what it hands back fits the geometry.
class Prober {
 public:
  explicit Prober(Queue* queue) : q_(queue) {}

  // Runs the operation `opcode` selects, reading its arguments from `in`.
  //   0 GetStats       1 TrySend        2 TryReceive      3 SendFor
  //   4 ReceiveFor     5 Open another   6 SendBatch       7 ReceiveInto
  //   8 ReceiveBatch   9 Reserve+Commit 10 Peek or PeekBatch, +Release
  //  11 Shutdown
  void Run(uint8_t opcode, Reader& in) {
    switch (opcode % 12) {
      case 0:
        Stats();
        break;
      case 1: {
        const uint8_t size = in.U8();
        TrySend(MessageOfSize(size), PriorityOf(size));
        break;
      }
      case 2:
        TryReceive();
        break;
      case 3: {
        const uint8_t size = in.U8();
        std::string m = MessageOfSize(size);
        SendFor(m, PriorityOf(size), TinyTimeout(in.U8()));
        break;
      }
      case 4:
        ReceiveFor(TinyTimeout(in.U8()));
        break;
      case 5:
        OpenAnother();
        break;
      case 6: {
        const uint8_t count = in.U8();
        std::vector<std::string> batch(count % 4);
        for (std::string& m : batch) m = MessageOfSize(in.U8());
        SendBatch(batch, PriorityOf(count), TinyTimeout(in.U8()));
        break;
      }
      case 7: {
        const size_t room = in.U8() % (size_t{q_->slot_size()} + 2);
        ReceiveInto(room, TinyTimeout(in.U8()));
        break;
      }
      case 8: {
        const size_t max = in.U8() % 4;
        ReceiveBatch(max, TinyTimeout(in.U8()));
        break;
      }
      case 9: {
        const uint8_t length = in.U8();
        ReserveAndCommit(length, TinyTimeout(in.U8()));
        break;
      }
      case 10: {
        const uint8_t how = in.U8();
        if (how & 2) {
          PeekBatchAndRelease(how >> 2, TinyTimeout(in.U8()));
        } else {
          PeekAndRelease(how & 1, TinyTimeout(in.U8()));
        }
        break;
      }
      case 11:
        q_->Shutdown();
        shut_down_ = true;
        break;
    }
  }

  // The round the raw variant runs once Open succeeded.
  void FixedRound() {
    Stats();
    TryReceive();
    TrySend(MessageOfSize(1), 0);
    ReceiveFor(absl::ZeroDuration());
    SendFor(MessageOfSize(q_->slot_size()), q_->priorities() - 1,
            absl::Microseconds(100));
    ReceiveInto(q_->slot_size(), absl::Microseconds(-1));
    SendBatch({MessageOfSize(0), MessageOfSize(2)}, q_->priorities() / 2,
              absl::ZeroDuration());
    ReceiveBatch(3, absl::ZeroDuration());
    ReserveAndCommit(4, absl::ZeroDuration());
    PeekAndRelease(true, absl::ZeroDuration());
    PeekBatchAndRelease(3 + 5 * 2, absl::ZeroDuration());  // up to 3, take 2
    TrySend(MessageOfSize(q_->slot_size() + 1), 0);
    TrySend(MessageOfSize(1), q_->priorities());
    Stats();
  }

  static void CheckOpenStatus(const absl::Status& s) {
    if (!Allowed(s.code(), {absl::StatusCode::kDataLoss,
                            absl::StatusCode::kFailedPrecondition})) {
      Fail(
          absl::StrCat("Open returned an undocumented status: ", s.ToString()));
    }
  }

 private:
  using Code = absl::StatusCode;

  // Sizes wrap at slot_size + 2 so "one byte too many" comes up often.
  std::string MessageOfSize(uint32_t selector) {
    const uint64_t n = selector % (uint64_t{q_->slot_size()} + 2);
    std::string m(n, '\0');
    for (uint64_t i = 0; i < n; ++i) m[i] = static_cast<char>(counter_ + i);
    ++counter_;
    return m;
  }

  // 0, 50 us, 500 us or a negative timeout: never long enough to matter.
  static absl::Duration TinyTimeout(uint8_t selector) {
    switch (selector % 4) {
      case 0:
        return absl::ZeroDuration();
      case 1:
        return absl::Microseconds(50);
      case 2:
        return absl::Microseconds(500);
      default:
        return absl::Milliseconds(-1);
    }
  }

  // Runs `call`, failing if it outlasts `timeout` (negative: zero) plus the
  // try-lock wait plus kSlack, or returns a code outside `allowed` (to which
  // Cancelled is added once Shutdown was called on this handle).
  template <typename Call>
  absl::Status Checked(const char* op, absl::Duration timeout,
                       std::initializer_list<Code> allowed, Call call) {
    const absl::Time start = absl::Now();
    absl::Status s = call();
    const absl::Duration took = absl::Now() - start;
    const absl::Duration bound =
        std::max(timeout, absl::ZeroDuration()) + kTryLockWait + kSlack;
    if (Verbose()) {
      std::fprintf(stderr, "  %s -> %s (%s)\n", op, s.ToString().c_str(),
                   absl::FormatDuration(took).c_str());
    }
    if (took > bound) {
      Fail(absl::StrCat(op, " took ", absl::FormatDuration(took),
                        ", more than its bound ", absl::FormatDuration(bound),
                        "; ", s.ToString()));
    }
    if (!Allowed(s.code(), allowed) &&
        !(shut_down_ && s.code() == Code::kCancelled) &&
        !SaysItHoldsTheLock(s)) {
      Fail(
          absl::StrCat(op, " returned an undocumented status: ", s.ToString()));
    }
    return s;
  }

  void CheckFits(const char* op, size_t size) {
    if (size > q_->slot_size()) {
      Fail(absl::StrCat(op, " handed back ", size,
                        " bytes from a queue of slot_size ", q_->slot_size()));
    }
  }

  // InvalidArgument exactly when a message is too large for a slot.
  // InvalidArgument exactly when a message is too big or the priority is
  // out of range (a shut-down handle may say Cancelled instead).
  void CheckSendVerdict(const char* op, bool too_big, uint32_t priority,
                        const absl::Status& s) {
    const bool refused = too_big || priority >= q_->priorities();
    if (refused != (s.code() == Code::kInvalidArgument) &&
        !(shut_down_ && s.code() == Code::kCancelled)) {
      Fail(absl::StrCat(op, ": a message ", too_big ? "too big" : "fitting",
                        " for slot_size ", q_->slot_size(), " at priority ",
                        priority, " of ", q_->priorities(), " is ",
                        refused ? "" : "not ", "to be refused, got ",
                        s.ToString()));
    }
  }

  void CheckPriority(const char* op, uint32_t priority) {
    if (priority >= q_->priorities()) {
      Fail(absl::StrCat(op, " reported priority ", priority, " of a queue of ",
                        q_->priorities()));
    }
  }

  void Stats() {
    ringbuf::Stats st = q_->GetStats();
    if (st.capacity != q_->capacity() || st.slot_size != q_->slot_size() ||
        st.priorities != q_->priorities()) {
      Fail("GetStats disagrees with the handle's validated geometry");
    }
    for (uint32_t l = st.priorities; l < kMaxPriorities; ++l) {
      if (st.depth_by_priority[l] != 0) {
        Fail(absl::StrCat("GetStats reports depth at priority ", l));
      }
    }
  }

  // The priority a send whose size came from `selector` is made at: some
  // level of the queue, or (1 in 16) the first one out of range.
  uint32_t PriorityOf(uint8_t selector) const {
    const uint32_t nibble = selector >> 4;
    return nibble == 15 ? q_->priorities() : nibble % q_->priorities();
  }

  void TrySend(const std::string& m, uint32_t priority) {
    absl::Status s = Checked("TrySend", absl::ZeroDuration(),
                             {Code::kOk, Code::kUnavailable,
                              Code::kInvalidArgument, Code::kDataLoss},
                             [&] { return q_->TrySend(m, priority); });
    CheckSendVerdict("TrySend", m.size() > q_->slot_size(), priority, s);
  }

  void SendFor(const std::string& m, uint32_t priority,
               absl::Duration timeout) {
    absl::Status s = Checked("SendFor", timeout,
                             {Code::kOk, Code::kDeadlineExceeded,
                              Code::kUnavailable, Code::kInvalidArgument,
                              Code::kDataLoss},
                             [&] { return q_->SendFor(m, priority, timeout); });
    CheckSendVerdict("SendFor", m.size() > q_->slot_size(), priority, s);
  }

  void SendBatch(const std::vector<std::string>& batch, uint32_t priority,
                 absl::Duration timeout) {
    std::vector<absl::string_view> views(batch.begin(), batch.end());
    bool too_big = false;
    for (const std::string& m : batch) too_big |= m.size() > q_->slot_size();
    size_t sent = ~size_t{0};
    absl::Status s =
        Checked("SendBatch", timeout,
                {Code::kOk, Code::kDeadlineExceeded, Code::kUnavailable,
                 Code::kInvalidArgument, Code::kDataLoss},
                [&] {
                  return q_->SendBatch(views, priority, timeout, &sent);
                });
    CheckSendVerdict("SendBatch", too_big, priority, s);
    if (sent > batch.size() || (s.ok() && sent != batch.size()) ||
        ((too_big || priority >= q_->priorities()) && sent != 0)) {
      Fail(absl::StrCat("SendBatch of ", batch.size(), " reported ", sent,
                        " sent with ", s.ToString()));
    }
  }

  void TryReceive() {
    std::string m;
    uint32_t priority = 0;
    absl::Status s = Checked("TryReceive", absl::ZeroDuration(),
                             {Code::kOk, Code::kUnavailable, Code::kDataLoss},
                             [&] { return q_->TryReceive(&m, &priority); });
    if (s.ok()) CheckFits("TryReceive", m.size());
    if (s.ok()) CheckPriority("TryReceive", priority);
  }

  void ReceiveFor(absl::Duration timeout) {
    std::string m;
    uint32_t priority = 0;
    absl::Status s =
        Checked("ReceiveFor", timeout,
                {Code::kOk, Code::kDeadlineExceeded, Code::kUnavailable,
                 Code::kDataLoss},
                [&] { return q_->ReceiveFor(&m, timeout, &priority); });
    if (s.ok()) CheckFits("ReceiveFor", m.size());
    if (s.ok()) CheckPriority("ReceiveFor", priority);
  }

  void ReceiveInto(size_t room, absl::Duration timeout) {
    std::vector<char> buffer(room);
    uint32_t priority = 0;
    absl::StatusOr<size_t> n;
    (void)Checked("ReceiveInto", timeout,
                  {Code::kOk, Code::kResourceExhausted, Code::kDeadlineExceeded,
                   Code::kUnavailable, Code::kDataLoss},
                  [&] {
                    n = q_->ReceiveInto(absl::MakeSpan(buffer), timeout,
                                        &priority);
                    return n.status();
                  });
    if (n.ok() && *n > room) {
      Fail(absl::StrCat("ReceiveInto wrote ", *n, " bytes into ", room));
    }
    if (n.ok()) CheckFits("ReceiveInto", *n);
    if (n.ok()) CheckPriority("ReceiveInto", priority);
  }

  void ReceiveBatch(size_t max, absl::Duration timeout) {
    std::vector<std::string> out(1, "already here");
    uint32_t priority = 0;
    absl::Status s =
        Checked("ReceiveBatch", timeout,
                {Code::kOk, Code::kDeadlineExceeded, Code::kUnavailable,
                 Code::kDataLoss, Code::kInvalidArgument},
                [&] {
                  return q_->ReceiveBatch(max, timeout, &out, &priority);
                });
    if (s.ok()) CheckPriority("ReceiveBatch", priority);
    if ((max == 0) != (s.code() == Code::kInvalidArgument) ||
        out.size() > 1 + max || (s.ok() && out.size() < 2) ||
        ((s.code() == Code::kDeadlineExceeded ||
          s.code() == Code::kUnavailable) &&
         out.size() != 1)) {
      Fail(absl::StrCat("ReceiveBatch(", max, ") appended ", out.size() - 1,
                        " with ", s.ToString()));
    }
    for (size_t i = 1; i < out.size(); ++i) {
      CheckFits("ReceiveBatch", out[i].size());
    }
  }

  // Reserves a slot, fills all of it, then commits `length` (mod slot_size
  // + 2) bytes, or drops the reservation when length is odd.
  void ReserveAndCommit(uint8_t length, absl::Duration timeout) {
    std::optional<Queue::Reservation> r;
    const uint32_t priority = PriorityOf(length);
    absl::Status reserved = Checked(
        "Reserve", timeout,
        {Code::kOk, Code::kDeadlineExceeded, Code::kUnavailable,
         Code::kDataLoss, Code::kInvalidArgument},
        [&] {
                    absl::StatusOr<Queue::Reservation> got =
                        q_->Reserve(priority, timeout);
                    if (got.ok()) r.emplace(*std::move(got));
                    return got.status();
                  });
    if ((reserved.code() == Code::kInvalidArgument) !=
            (priority >= q_->priorities()) &&
        !(shut_down_ && reserved.code() == Code::kCancelled)) {
      Fail(absl::StrCat("Reserve at priority ", priority, " of ",
                        q_->priorities(), ": ", reserved.ToString()));
    }
    if (!r) return;
    if (r->buffer().size() != q_->slot_size()) {
      Fail(absl::StrCat("Reserve's buffer is ", r->buffer().size(),
                        " bytes, slot_size ", q_->slot_size()));
    }
    std::memset(r->buffer().data(), 'r', r->buffer().size());
    if (length & 1) return;  // dropped uncommitted
    const size_t n = length % (size_t{q_->slot_size()} + 2);
    absl::Status s = r->Commit(n);
    if (s.code() !=
        (n > q_->slot_size() ? Code::kInvalidArgument : Code::kOk)) {
      Fail(absl::StrCat("Commit(", n, ") with slot_size ", q_->slot_size(),
                        ": ", s.ToString()));
    }
  }

  // Peeks the oldest message, reads every byte of it, then releases it or
  // drops the view.
  void PeekAndRelease(bool release, absl::Duration timeout) {
    std::optional<Queue::Peeked> p;
    (void)Checked("Peek", timeout,
                  {Code::kOk, Code::kDeadlineExceeded, Code::kUnavailable,
                   Code::kDataLoss},
                  [&] {
                    absl::StatusOr<Queue::Peeked> got = q_->Peek(timeout);
                    if (got.ok()) p.emplace(*std::move(got));
                    return got.status();
                  });
    if (!p) return;
    CheckFits("Peek", p->data().size());
    CheckPriority("Peek", p->priority());
    uint8_t sum = 0;
    for (char c : p->data()) sum = static_cast<uint8_t>(sum + c);
    read_sink_ = sum;  // every byte of the view was read
    if (release) {
      if (absl::Status s = p->Release(); !s.ok()) {
        Fail(absl::StrCat("Release: ", s.ToString()));
      }
    }
  }

  // PeekBatch of 0..4 messages (`how` % 5), reads every byte of each, then
  // releases some prefix of them (or none).
  void PeekBatchAndRelease(uint8_t how, absl::Duration timeout) {
    const size_t max = how % 5;
    std::optional<Queue::PeekedBatch> b;
    (void)Checked("PeekBatch", timeout,
                  max == 0 ? std::initializer_list<Code>{Code::kInvalidArgument}
                  : q_->priorities() > 1
                      // Ring indexes name messages of one priority only.
                      ? std::initializer_list<Code>{Code::kFailedPrecondition}
                      : std::initializer_list<Code>{Code::kOk,
                                                    Code::kDeadlineExceeded,
                                                    Code::kUnavailable,
                                                    Code::kDataLoss},
                  [&] {
                    absl::StatusOr<Queue::PeekedBatch> got =
                        q_->PeekBatch(max, timeout);
                    if (got.ok()) b.emplace(*std::move(got));
                    return got.status();
                  });
    if (!b) return;
    if (b->size() == 0 || b->size() > max) {
      Fail(absl::StrCat("PeekBatch(", max, ") showed ", b->size(), " messages"));
    }
    uint8_t sum = 0;
    for (size_t i = 0; i < b->size(); ++i) {
      CheckFits("PeekBatch", b->data(i).size());
      for (char c : b->data(i)) sum = static_cast<uint8_t>(sum + c);
    }
    read_sink_ = sum;  // every byte of every view was read
    const size_t take = (how / 5) % (b->size() + 1);
    if (absl::Status s = b->Release(take); !s.ok()) {
      Fail(absl::StrCat("PeekedBatch::Release(", take, "): ", s.ToString()));
    }
  }

  // A fresh handle while this one is live: a few calls on it too.
  void OpenAnother() {
    absl::StatusOr<Queue> other = Queue::Open(q_->name());
    if (!other.ok()) {
      CheckOpenStatus(other.status());
      return;
    }
    Prober p(&*other);
    p.Stats();
    p.TryReceive();
    p.PeekAndRelease(false, absl::ZeroDuration());
  }

  Queue* q_;
  uint32_t counter_ = 0;
  bool shut_down_ = false;
  volatile uint8_t read_sink_ = 0;
};

// Points g_view at `view` for as long as it lives.
class ScopedView {
 public:
  explicit ScopedView(const RawView& view) { g_view = &view; }
  ~ScopedView() { g_view = nullptr; }
  ScopedView(const ScopedView&) = delete;
  ScopedView& operator=(const ScopedView&) = delete;
};

// Writes `bytes` at `offset` of the view (wrapping), skipping bytes the
// policy protects; `xor_in` combines instead of overwriting. What is
// protected is decided before the first byte is written: a lease the patch
// itself makes look like ours is not.
void Patch(const RawView& view, size_t offset, const uint8_t* bytes, size_t n,
           bool xor_in, LockPolicy policy) {
  bool patchable[256];
  n = std::min(n, sizeof(patchable));
  for (size_t i = 0; i < n; ++i) {
    patchable[i] = Patchable(view, (offset + i) % view.size(), policy);
  }
  for (size_t i = 0; i < n; ++i) {
    const size_t at = (offset + i) % view.size();
    if (!patchable[i]) continue;
    view.bytes()[at] = xor_in ? (view.bytes()[at] ^ bytes[i]) : bytes[i];
  }
}

absl::StatusOr<Queue> CreateQueue(const Options& options) {
  absl::StatusOr<Queue> q = Queue::Create(ObjectName(), options);
  if (!q.ok()) Fail(absl::StrCat("Create: ", q.status().ToString()));
  return q;
}

// Live-queue variant. Input after the flags byte:
//   capacity-1 (mod 8), slot_size-1 (mod 96), prefill count (mod capacity+1)
//   records until the input ends, tag % 6:
//     0 overwrite  offset:u16 len:u8 bytes[len % 17]
//     1 xor        offset:u16 len:u8 bytes[len % 17]
//     2 op on the creator's handle      opcode:u8 args
//     3 op on the latest opened handle  opcode:u8 args (opens one if none)
//     4 reopen (replaces the latest opened handle)
//     5 own-tid    offset:u16 high-bits:u8: stores this thread's id, with
//                  the top two bits from high-bits (FUTEX_WAITERS,
//                  FUTEX_OWNER_DIED), as a 32-bit word at offset & ~3 —
//                  the lock-word values a random byte string will not hit.
void RunLiveQueue(Reader& in, LockPolicy policy, uint32_t priorities) {
  Options options;
  options.capacity = 1 + in.U8() % 8;
  options.slot_size = 1 + in.U8() % 96;
  options.priorities = priorities;
  const int prefill = in.U8() % (options.capacity + 1);

  absl::StatusOr<Queue> creator = CreateQueue(options);
  for (int i = 0; i < prefill; ++i) {
    if (absl::Status s = creator->TrySend(
            std::string(std::min<uint32_t>(i % 7, options.slot_size), 'p'),
            i % priorities);
        !s.ok()) {
      Fail(absl::StrCat("prefill: ", s.ToString()));
    }
  }
  RawView view(ObjectName());
  ScopedView scoped_view(view);
  Prober creator_probe(&*creator);
  std::optional<Queue> opened;
  std::optional<Prober> opened_probe;  // lives as long as `opened`
  auto reopen = [&] {
    opened_probe.reset();
    opened.reset();
    absl::StatusOr<Queue> q = Queue::Open(ObjectName());
    if (Verbose()) {
      std::fprintf(stderr, "Open -> %s\n", q.status().ToString().c_str());
    }
    if (q.ok()) {
      opened.emplace(*std::move(q));
      opened_probe.emplace(&*opened);
    } else {
      Prober::CheckOpenStatus(q.status());
    }
  };

  int ops = 0;
  for (int r = 0; r < kMaxRecords && !in.empty(); ++r) {
    const uint8_t tag = in.U8() % 6;
    switch (tag) {
      case 0:
      case 1: {
        const uint16_t offset = in.U16();
        auto [bytes, n] = in.Bytes(in.U8() % 17);
        Patch(view, offset, bytes, n, /*xor_in=*/tag == 1, policy);
        break;
      }
      case 2:
        if (++ops > kMaxOps) return;
        creator_probe.Run(in.U8(), in);
        break;
      case 3:
        if (++ops > kMaxOps) return;
        if (!opened) reopen();
        if (opened) {
          opened_probe->Run(in.U8(), in);
        } else {
          in.U8();  // the opcode, unused: keep the record's length fixed
        }
        break;
      case 4:
        reopen();
        break;
      case 5: {
        const uint16_t offset = in.U16() & ~uint16_t{3};
        const uint32_t word = static_cast<uint32_t>(gettid()) |
                              (static_cast<uint32_t>(in.U8() & 3) << 30);
        uint8_t bytes[4];
        std::memcpy(bytes, &word, sizeof(word));
        Patch(view, offset, bytes, sizeof(bytes), /*xor_in=*/false, policy);
        break;
      }
    }
  }
}

// Raw-object variant. Input after the flags byte: size:u16, then the
// object's leading bytes (the rest of the object is zero).
void RunRawObject(Reader& in) {
  const size_t size = in.U16() % kMaxRawObject;
  {
    int fd = shm_open(ObjectName().c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0) Fail("shm_open for the raw object");
    if (ftruncate(fd, static_cast<off_t>(size)) != 0) Fail("ftruncate");
    auto [bytes, n] = in.Bytes(size);
    if (n > 0 && pwrite(fd, bytes, n, 0) != static_cast<ssize_t>(n)) {
      Fail("pwrite");
    }
    close(fd);
  }
  absl::StatusOr<Queue> q = Queue::Open(ObjectName());
  if (Verbose())
    std::fprintf(stderr, "Open -> %s\n", q.status().ToString().c_str());
  if (!q.ok()) {
    Prober::CheckOpenStatus(q.status());
    return;
  }
  absl::StatusOr<uint64_t> needed = internal::MappingSize(
      "raw", q->capacity(), q->slot_size(), q->priorities());
  if (!needed.ok() || *needed != size) {
    Fail(absl::StrCat("Open accepted capacity ", q->capacity(), ", slot_size ",
                      q->slot_size(), ", priorities ", q->priorities(),
                      " for an object of ", size, " bytes"));
  }
  RawView view(ObjectName());
  ScopedView scoped_view(view);
  Prober(&*q).FixedRound();
}

}  // namespace
}  // namespace fuzz
}  // namespace ringbuf

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ringbuf::fuzz;  // NOLINT: the entry point is global
  ScopedUnlink unlink_before_and_after;
  Reader in(data, size);
  const uint8_t flags = in.U8();
  if (IsRawObject(flags)) {
    RunRawObject(in);
  } else {
    RunLiveQueue(in, PolicyFromFlags(flags), PrioritiesFromFlags(flags));
  }
  return 0;
}
