#include "ringbuf/queue.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "ringbuf/internal/asymmetric_fence.h"
#include "ringbuf/internal/counting_semaphore.h"
#include "ringbuf/internal/crash_point.h"
#include "ringbuf/internal/deadline.h"
#include "ringbuf/internal/errno_status.h"
#include "ringbuf/internal/layout.h"
#include "ringbuf/internal/priority_levels.h"
#include "ringbuf/internal/recovery.h"
#include "ringbuf/internal/thread_leases.h"
#include "ringbuf/internal/shm_mapping.h"

namespace ringbuf {

using internal::Deadline;
using internal::Header;
using internal::Levels;
using internal::QueueMessage;
using internal::SlotHeader;
using internal::SlotSemaphore;

namespace {

// Every call waits at least this long for a busy side lock, whatever its
// timeout (the try-calls exactly this long): its holder normally releases it
// after one copy, and a zero timeout must not mistake that for "empty" or
// "full". A lock still busy then is Unavailable, never DeadlineExceeded
// (queue.h).
constexpr absl::Duration kLockWaitFloor = absl::Milliseconds(10);

// OpenOrCreate retries while others create and remove the name under it.
constexpr int kOpenOrCreateAttempts = 64;

absl::Status MovedFrom() {
  return absl::FailedPreconditionError("ringbuf::Queue used after move");
}

// A status that may be built while a side lock is held, or when memory has
// run out: the code, and the message if there is memory for it (nothing may
// throw with a lock held).
template <typename... Parts>
absl::Status NoThrowStatus(absl::StatusCode code, absl::string_view queue,
                           const Parts&... parts) {
  try {
    return absl::Status(code, QueueMessage(queue, absl::StrCat(parts...)));
  } catch (...) {
    return absl::Status(code, "");
  }
}

// Out of memory for what the caller asked to receive.
absl::Status NoMemory(absl::string_view queue, absl::string_view what) {
  return NoThrowStatus(absl::StatusCode::kResourceExhausted, queue,
                       "out of memory for ", what);
}

absl::Status ShutDownError(absl::string_view queue) {
  return absl::CancelledError(
      QueueMessage(queue, "this handle was shut down (Queue::Shutdown)"));
}

// Turns the result of a wait on a slot semaphore into OK (go round again),
// Cancelled or DeadlineExceeded.
absl::Status AfterWait(SlotSemaphore::Result result, absl::string_view queue,
                       absl::string_view waited_for) {
  switch (result) {
    case SlotSemaphore::Result::kAvailable:
      return absl::OkStatus();
    case SlotSemaphore::Result::kCancelled:
      return ShutDownError(queue);
    case SlotSemaphore::Result::kExpired:
      break;
  }
  return absl::DeadlineExceededError(
      QueueMessage(queue, absl::StrCat("timed out waiting for ", waited_for)));
}

}  // namespace

Queue::Queue(std::string name, internal::ShmMapping mapping,
             const internal::Geometry& geometry)
    : name_(std::move(name)),
      mapping_(std::make_unique<internal::ShmMapping>(std::move(mapping))),
      header_(static_cast<Header*>(mapping_->data())),
      capacity_(geometry.capacity),
      slot_size_(geometry.slot_size),
      slot_stride_(geometry.slot_stride),
      priorities_(geometry.priorities),
      slots_(static_cast<char*>(mapping_->data()) + internal::kHeaderSize +
             internal::LevelIndexBytes(geometry.priorities)),
      shut_down_(std::make_unique<std::atomic<bool>>(false)) {
  internal::RegisterLightPosts();
  const Levels levels = Levels::At(mapping_->data(), priorities_);
  level_tails_ = levels.tail;
  level_heads_ = levels.head;
}

Queue::~Queue() { DropThisThreadsLease(); }

void Queue::DropThisThreadsLease() {
  // Other threads give theirs back when they next look for a lease, or
  // exit (internal/thread_leases.h).
  if (mapping_ != nullptr) internal::DropLeaseOfThisThread(*mapping_);
}

Queue::Queue(Queue&& other) noexcept { *this = std::move(other); }

Queue& Queue::operator=(Queue&& other) noexcept {
  if (this != &other) {
    DropThisThreadsLease();
    name_ = std::move(other.name_);
    mapping_ = std::move(other.mapping_);
    header_ = std::exchange(other.header_, nullptr);
    capacity_ = std::exchange(other.capacity_, 0);
    slot_size_ = std::exchange(other.slot_size_, 0);
    slot_stride_ = std::exchange(other.slot_stride_, 0);
    priorities_ = std::exchange(other.priorities_, 1);
    slots_ = std::exchange(other.slots_, nullptr);
    level_tails_ = std::exchange(other.level_tails_, nullptr);
    level_heads_ = std::exchange(other.level_heads_, nullptr);
    shut_down_ = std::move(other.shut_down_);
  }
  return *this;
}

absl::StatusOr<Queue> Queue::Create(absl::string_view name,
                                    const Options& options) {
  absl::StatusOr<std::string> normalized = internal::NormalizeName(name);
  if (!normalized.ok()) return normalized.status();
  absl::StatusOr<uint64_t> size = internal::MappingSize(
      *normalized, options.capacity, options.slot_size, options.priorities);
  if (!size.ok()) return size.status();
  if ((options.mode & ~mode_t{0777}) != 0) {
    return absl::InvalidArgumentError(QueueMessage(
        *normalized, absl::StrCat("mode 0", absl::Hex(options.mode),
                                  " has bits outside 0777")));
  }
  absl::StatusOr<internal::ShmMapping> mapping =
      internal::ShmMapping::CreateExclusive(
          *normalized, *size, options.mode, [&](void* data) {
            return internal::InitHeader(*normalized, data, *size,
                                        options.capacity, options.slot_size,
                                        options.priorities);
          });
  if (!mapping.ok()) return mapping.status();
  internal::Geometry geometry{options.capacity, options.slot_size,
                              internal::SlotStride(options.slot_size),
                              options.priorities};
  return Queue(*std::move(normalized), *std::move(mapping), geometry);
}

absl::StatusOr<Queue> Queue::Open(absl::string_view name,
                                  const Trust& trust) {
  absl::StatusOr<std::string> normalized = internal::NormalizeName(name);
  if (!normalized.ok()) return normalized.status();
  absl::StatusOr<internal::ShmMapping> mapping =
      internal::ShmMapping::OpenExisting(*normalized, internal::kHeaderSize,
                                         kMaxMappingSize, trust);
  if (!mapping.ok()) return mapping.status();
  absl::StatusOr<internal::Geometry> geometry = internal::ValidateHeader(
      *normalized, *static_cast<const Header*>(mapping->data()),
      mapping->size());
  if (!geometry.ok()) return geometry.status();
  return Queue(*std::move(normalized), *std::move(mapping), *geometry);
}

absl::StatusOr<Queue> Queue::OpenOrCreate(absl::string_view name,
                                          const Options& options,
                                          const Trust& trust) {
  for (int attempt = 0; attempt < kOpenOrCreateAttempts; ++attempt) {
    absl::StatusOr<Queue> queue = Open(name, trust);
    if (queue.ok()) {
      if (queue->capacity() != options.capacity ||
          queue->slot_size() != options.slot_size ||
          queue->priorities() != options.priorities) {
        return absl::FailedPreconditionError(QueueMessage(
            queue->name(),
            absl::StrCat("exists with capacity ", queue->capacity(),
                         ", slot_size ", queue->slot_size(), " and priorities ",
                         queue->priorities(), ", but capacity ",
                         options.capacity, ", slot_size ", options.slot_size,
                         " and priorities ", options.priorities,
                         " were asked for")));
      }
      return queue;
    }
    if (!absl::IsNotFound(queue.status())) return queue.status();
    queue = Create(name, options);
    if (!absl::IsAlreadyExists(queue.status())) return queue;
    // Someone created it between our Open and Create: open theirs.
  }
  return absl::AbortedError(
      absl::StrCat("queue '", name, "': gave up after ", kOpenOrCreateAttempts,
                   " attempts: the name keeps being created and removed"));
}

absl::Status Queue::Remove(absl::string_view name, const Trust& trust) {
  absl::StatusOr<std::string> normalized = internal::NormalizeName(name);
  if (!normalized.ok()) return normalized.status();
  return internal::ShmMapping::Unlink(*normalized, trust);
}

char* Queue::Slot(uint32_t level, uint64_t index) const {
  return slots_ + (level * capacity_ + index % capacity_) * slot_stride_;
}

Levels Queue::levels() const {
  return Levels{priorities_, level_tails_, level_heads_};
}

internal::InsideMarks Queue::Marks(const internal::SideLock& side) const {
  return {&internal::LeaseTableOf(*mapping_),
          &side == &header_->send ? internal::kSendLock
                                  : internal::kReceiveLock};
}

absl::Status Queue::LockSide(internal::SideLock& side,
                             const Deadline& deadline, Mode mode) {
  // The fast path: this thread's lease is the one it used last, and the
  // lock is free. No clock, no system call.
  const uint32_t me = internal::LastLeaseOfThisThread(header_);
  if (ABSL_PREDICT_TRUE(me != 0) &&
      side.lock.TryLock(me, side.holder_cpu, Marks(side))) {
    return absl::OkStatus();
  }
  return LockSideSlowly(side, deadline, mode);
}

absl::Status Queue::LockSideSlowly(internal::SideLock& side,
                                   const Deadline& deadline, Mode mode) {
  Header& h = *header_;
  const Levels levels = this->levels();
  const bool send = &side == &h.send;
  internal::LeaseTable& leases = internal::LeaseTableOf(*mapping_);
  absl::StatusOr<uint32_t> me = internal::LeaseOfThisThread(
      *mapping_, leases, name_,
      [&](uint32_t id) { internal::ReleaseLocksOf(h, levels, leases, id); });
  if (!me.ok()) return me.status();
  // Shutdown() also ends a wait for a lock held long (a Peek or a
  // Reservation elsewhere, a stopped holder): the wait checks shut_down_.
  absl::Status locked = side.lock.Lock(
      name_, send ? "send" : "receive", *me,
      mode == Mode::kTry ? Deadline::After(kLockWaitFloor)
                         : deadline.NoSoonerThan(kLockWaitFloor),
      *shut_down_, side.holder_cpu, Marks(side), [&](uint32_t holder) {
        return internal::ProbeHolder(h, levels, leases, holder, name_);
      });
  if (absl::IsCancelled(locked)) return ShutDownError(name_);
  if (absl::IsDeadlineExceeded(locked)) {
    // The queue was not seen: neither "empty" nor "full" may be claimed.
    return absl::UnavailableError(QueueMessage(
        name_, absl::StrCat("the ", send ? "send" : "receive",
                            " lock stayed busy (another process or thread "
                            "holds it, e.g. a Peek or a Reserve); the queue "
                            "was not looked at")));
  }
  return locked;
}

absl::Status Queue::BusyAfterLooking(const absl::Status& status,
                                     absl::string_view waited_for) const {
  // The call saw the queue full (empty) and waited; the lock being busy
  // when it came back at its deadline is that timeout (queue.h, Busy locks).
  if (!absl::IsUnavailable(status)) return status;
  return AfterWait(SlotSemaphore::Result::kExpired, name_, waited_for);
}

namespace {

// Releases a side lock with nothing published.
void Abandon(internal::SideLock& side, const internal::InsideMarks& marks) {
  side.progress = internal::kIdle;
  side.lock.Unlock(marks);
}

}  // namespace

absl::Status Queue::CheckUsable() const {
  if (header_ == nullptr) return MovedFrom();
  if (shut_down_->load(std::memory_order_acquire)) return ShutDownError(name_);
  return absl::OkStatus();
}

absl::Status Queue::PriorityOutOfRange(uint32_t priority) const {
  return absl::InvalidArgumentError(QueueMessage(
      name_, absl::StrCat("priority ", priority, " is out of range: the queue has ",
                          priorities_, priorities_ == 1 ? " priority (0)"
                                                        : " priorities (0..",
                          priorities_ == 1 ? "" : absl::StrCat(priorities_ - 1, ")"))));
}

absl::Status Queue::Corrupt(uint64_t head, uint64_t tail) const {
  return absl::DataLossError(QueueMessage(
      name_, absl::StrCat("ring indexes are corrupt: head ", head, ", tail ",
                          tail, ", capacity ", capacity_)));
}

void Queue::Shutdown() {
  if (header_ == nullptr) return;
  shut_down_->store(true, std::memory_order_seq_cst);
  SlotSemaphore(&header_->tail).Interrupt();
  SlotSemaphore(&header_->head).Interrupt();
  header_->send.lock.InterruptWaiters();
  header_->recv.lock.InterruptWaiters();
}

// ---------------------------------------------------------------------------
// The send side: acquire space, copy, publish.

absl::Status Queue::AcquireSpace(const Deadline& deadline, Mode mode,
                                 uint64_t want, uint32_t level,
                                 uint64_t* tail_out, uint64_t* free_out) {
  return priorities_ == 1
             ? AcquireSpace<false>(deadline, mode, want, 0, tail_out, free_out)
             : AcquireSpace<true>(deadline, mode, want, level, tail_out,
                                  free_out);
}

template <bool kLeveled>
absl::Status Queue::AcquireSpace(const Deadline& deadline, Mode mode,
                                 uint64_t want, uint32_t level,
                                 uint64_t* tail_out, uint64_t* free_out) {
  if (absl::Status s = CheckUsable(); !s.ok()) return s;
  Header& h = *header_;
  for (bool looked = false;; looked = true) {
    RINGBUF_CRASH_POINT(kSendBeforeLock);
    if (absl::Status s = LockSide(h.send, deadline, mode);
        !s.ok()) {
      if (!looked) return s;
      // Woken for a free slot we now leave: pass the wake-up on.
      SlotSemaphore(&h.head).PassOn();
      return BusyAfterLooking(s, "a free slot");
    }
    // Only the send-lock holder writes tail. Head is read (acquire, pairing
    // with the consumer's store of head: the slots we are about to reuse have
    // been fully read) only when the cached copy shows less room than wanted.
    // With several levels, "head" is the sum of the level heads, which
    // consumers move first (internal/priority_levels.h).
    const uint64_t tail = h.tail.index.load(std::memory_order_relaxed);
    uint64_t head = h.send.cached_other_index;
    if (tail - head > capacity_ - std::min(want, capacity_)) {
      head = kLeveled ? levels().SumHeads(std::memory_order_acquire)
                      : h.head.index.load(std::memory_order_acquire);
      h.send.cached_other_index = head;
    }
    const uint64_t depth = tail - head;
    if (depth < capacity_) {
      RINGBUF_CRASH_POINT(kSendLocked);
      // Several levels: the level's ring holds at most the whole queue
      // (tail - head) and so has the room too.
      const uint64_t slot_tail =
          kLeveled ? level_tails_[level].load(std::memory_order_relaxed)
                   : tail;
      // A 1-level queue's copying_level stays 0 (its repairer ignores it).
      if (kLeveled) h.send.copying_level = level;
      h.send.copying_index = slot_tail;
      // The repairer of a dead owner reads copying_index only when progress
      // says kCopying: keep the compiler from swapping the two stores.
      std::atomic_signal_fence(std::memory_order_seq_cst);
      h.send.progress = internal::kCopying;
      *tail_out = slot_tail;
      *free_out = capacity_ - depth;
      return absl::OkStatus();
    }
    h.send.lock.Unlock(Marks(h.send));
    if (depth > capacity_) return Corrupt(head, tail);
    if (mode == Mode::kTry) {
      return absl::UnavailableError(QueueMessage(name_, "queue is full"));
    }
    // Sleep until head moves far enough to leave a free slot (or the
    // indexes turn out corrupt, which the locked check then reports).
    const Levels levels = this->levels();
    const SlotSemaphore::Result r = SlotSemaphore(&h.head).Wait(
        [&](uint64_t head_now) {
          if (kLeveled) head_now = levels.SumHeads(std::memory_order_seq_cst);
          return h.tail.index.load(std::memory_order_relaxed) - head_now !=
                 capacity_;
        },
        deadline, *shut_down_);
    if (absl::Status s = AfterWait(r, name_, "a free slot"); !s.ok()) return s;
  }
}

void Queue::PublishTail(uint32_t level, uint64_t tail, uint64_t n) {
  if (priorities_ == 1) {
    PublishTail<false>(0, tail, n);
  } else {
    PublishTail<true>(level, tail, n);
  }
}

template <bool kLeveled>
void Queue::PublishTail(uint32_t level, uint64_t tail, uint64_t n) {
  Header& h = *header_;
  if constexpr (kLeveled) {
    levels().PublishSend(h.tail, level, tail, n);  // out of line
  } else {
    // Commit: this store takes the "full" tokens' place (full = tail - head).
    // Release publishes the slots to consumers that acquire tail; it comes
    // before Post's load of the sleepers word (asymmetric_fence.h).
    internal::StoreBeforeWake<uint64_t>(h.tail.index, tail + n);
  }
  RINGBUF_CRASH_POINT(kSendPublished);
  // Wake consumers before unlocking: should we die between the store and the
  // wake-up, the lock still names our dead lease, and whoever takes that
  // lease next repairs the side and wakes them for us.
  SlotSemaphore(&h.tail).Post();
  h.send.progress = internal::kIdle;
  h.send.lock.Unlock(Marks(h.send));
  RINGBUF_CRASH_POINT(kSendUnlocked);
}

void Queue::AbandonSend() {
  Abandon(header_->send, Marks(header_->send));
  // The reservation may have taken a slot a sleeping producer was woken
  // for (one wake-up per freed slot): offer it again.
  SlotSemaphore(&header_->head).PassOn();
}

namespace {

// Copies in two halves with a crash site between, so the crash tests can
// kill a copy in the middle.
void CopyIntoSlot(char* dst, const char* src, size_t n) {
  if (n == 0) return;  // src may be null for an empty message
  const size_t half = n / 2;
  std::memcpy(dst, src, half);
  RINGBUF_CRASH_POINT(kSendMidCopy);
  std::memcpy(dst + half, src + half, n - half);
}

void CopyFromSlot(char* dst, const char* src, size_t n) {
  if (n == 0) return;  // dst may be null for an empty buffer
  const size_t half = n / 2;
  std::memcpy(dst, src, half);
  RINGBUF_CRASH_POINT(kReceiveMidCopy);
  std::memcpy(dst + half, src + half, n - half);
}

}  // namespace

absl::Status Queue::SendImpl(absl::Span<const absl::string_view> messages,
                             uint32_t priority, const Deadline& deadline,
                             Mode mode, size_t* sent) {
  *sent = 0;
  if (header_ == nullptr) return MovedFrom();
  if (priority >= priorities_) return PriorityOutOfRange(priority);
  for (absl::string_view m : messages) {
    if (m.size() > slot_size_) {
      return absl::InvalidArgumentError(QueueMessage(
          name_, absl::StrCat("message of ", m.size(),
                              " bytes is larger than slot_size ", slot_size_)));
    }
  }
  return priorities_ == 1
             ? SendGroups<false>(messages, 0, deadline, mode, sent)
             : SendGroups<true>(messages, priority, deadline, mode, sent);
}

template <bool kLeveled>
absl::Status Queue::SendGroups(absl::Span<const absl::string_view> messages,
                               uint32_t level, const Deadline& deadline,
                               Mode mode, size_t* sent) {
  if (!kLeveled) level = 0;  // a constant from here on
  // A batch may copy up to a whole ring before it first has to wait: start
  // its clock now, so that the timeout bounds the whole call.
  if (messages.size() > 1) deadline.Start();
  while (*sent < messages.size()) {
    const uint64_t want = messages.size() - *sent;
    uint64_t tail, free;
    if (absl::Status s =
            AcquireSpace<kLeveled>(deadline, mode, want, level, &tail, &free);
        !s.ok()) {
      return s;
    }
    const uint64_t n = std::min(want, free);
    for (uint64_t i = 0; i < n; ++i) {
      absl::string_view m = messages[*sent + i];
      char* slot = Slot(level, tail + i);
      reinterpret_cast<SlotHeader*>(slot)->length =
          static_cast<uint32_t>(m.size());
      CopyIntoSlot(slot + internal::kSlotHeaderSize, m.data(), m.size());
    }
    PublishTail<kLeveled>(level, tail, n);
    *sent += n;
  }
  return absl::OkStatus();
}

absl::Status Queue::Send(absl::string_view message) { return Send(message, 0); }

absl::Status Queue::Send(absl::string_view message, uint32_t priority) {
  size_t sent;
  return SendImpl({message}, priority, Deadline::Infinite(), Mode::kBlock,
                  &sent);
}

absl::Status Queue::TrySend(absl::string_view message) {
  return TrySend(message, 0);
}

absl::Status Queue::TrySend(absl::string_view message, uint32_t priority) {
  size_t sent;
  return SendImpl({message}, priority, Deadline::Infinite(), Mode::kTry, &sent);
}

absl::Status Queue::SendFor(absl::string_view message,
                            absl::Duration timeout) {
  return SendFor(message, 0, timeout);
}

absl::Status Queue::SendFor(absl::string_view message, uint32_t priority,
                            absl::Duration timeout) {
  size_t sent;
  return SendImpl({message}, priority, Deadline::After(timeout), Mode::kBlock,
                  &sent);
}

absl::Status Queue::SendBatch(absl::Span<const absl::string_view> messages,
                              absl::Duration timeout, size_t* sent) {
  return SendBatch(messages, 0, timeout, sent);
}

absl::Status Queue::SendBatch(absl::Span<const absl::string_view> messages,
                              uint32_t priority, absl::Duration timeout,
                              size_t* sent) {
  return SendImpl(messages, priority, Deadline::After(timeout), Mode::kBlock,
                  sent);
}

absl::StatusOr<Queue::Reservation> Queue::Reserve(absl::Duration timeout) {
  return Reserve(0, timeout);
}

absl::StatusOr<Queue::Reservation> Queue::Reserve(uint32_t priority,
                                                  absl::Duration timeout) {
  if (header_ != nullptr) {
    if (priority >= priorities_) return PriorityOutOfRange(priority);
  }
  uint64_t tail, free;
  if (absl::Status s = AcquireSpace(Deadline::After(timeout), Mode::kBlock, 1,
                                    priority, &tail, &free);
      !s.ok()) {
    return s;
  }
  char* payload = Slot(priority, tail) + internal::kSlotHeaderSize;
  return Reservation(this, priority, tail,
                     absl::Span<char>(payload, slot_size_));
}

Queue::Reservation::Reservation(Reservation&& other) noexcept
    : queue_(std::exchange(other.queue_, nullptr)),
      level_(other.level_),
      tail_(other.tail_),
      buffer_(other.buffer_) {}

Queue::Reservation& Queue::Reservation::operator=(
    Reservation&& other) noexcept {
  if (this != &other) {
    if (queue_ != nullptr) queue_->AbandonSend();
    queue_ = std::exchange(other.queue_, nullptr);
    level_ = other.level_;
    tail_ = other.tail_;
    buffer_ = other.buffer_;
  }
  return *this;
}

Queue::Reservation::~Reservation() {
  if (queue_ != nullptr) queue_->AbandonSend();
}

absl::Status Queue::Reservation::Commit(size_t length) {
  if (queue_ == nullptr) {
    return absl::FailedPreconditionError("reservation already committed or dropped");
  }
  if (length > buffer_.size()) {
    // Still reserved, so the send lock is held.
    return NoThrowStatus(absl::StatusCode::kInvalidArgument, queue_->name_,
                         "commit of ", length, " bytes is larger than slot_size ",
                         buffer_.size());
  }
  reinterpret_cast<SlotHeader*>(queue_->Slot(level_, tail_))->length =
      static_cast<uint32_t>(length);
  std::exchange(queue_, nullptr)->PublishTail(level_, tail_, 1);
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// The receive side: acquire messages, copy, publish.

absl::Status Queue::PickLevel(uint32_t* level_out, uint64_t* head_out,
                              uint64_t* available_out) const {
  // Highest level first; each level tail is acquired (pairing with its
  // producer's store: the slots' bytes are visible). A receive thus reads
  // the level indexes, one cache line per 8 levels.
  for (uint32_t level = priorities_; level-- > 0;) {
    const uint64_t head = level_heads_[level].load(std::memory_order_relaxed);
    const uint64_t tail = level_tails_[level].load(std::memory_order_acquire);
    const uint64_t depth = tail - head;
    if (depth > capacity_) {
      // The receive lock is held: nothing may throw.
      return NoThrowStatus(absl::StatusCode::kDataLoss, name_,
                           "ring indexes of priority ", level,
                           " are corrupt: head ", head, ", tail ", tail,
                           ", capacity ", capacity_);
    }
    if (depth > 0) {
      *level_out = level;
      *head_out = head;
      *available_out = depth;
      return absl::OkStatus();
    }
  }
  *available_out = 0;
  return absl::OkStatus();
}

absl::Status Queue::AcquireMessages(const Deadline& deadline, Mode mode,
                                    uint32_t* level_out, uint64_t* head_out,
                                    uint64_t* available_out) {
  return priorities_ == 1
             ? AcquireMessages<false>(deadline, mode, level_out, head_out,
                                      available_out)
             : AcquireMessages<true>(deadline, mode, level_out, head_out,
                                     available_out);
}

template <bool kLeveled>
absl::Status Queue::AcquireMessages(const Deadline& deadline, Mode mode,
                                    uint32_t* level_out, uint64_t* head_out,
                                    uint64_t* available_out) {
  if (absl::Status s = CheckUsable(); !s.ok()) return s;
  Header& h = *header_;
  for (bool looked = false;; looked = true) {
    RINGBUF_CRASH_POINT(kReceiveBeforeLock);
    if (absl::Status s = LockSide(h.recv, deadline, mode);
        !s.ok()) {
      return looked ? BusyAfterLooking(s, "a message") : s;
    }
    uint32_t level = 0;
    uint64_t head = 0, tail = 0, depth = 0;
    if constexpr (kLeveled) {
      if (absl::Status s = PickLevel(&level, &head, &depth); !s.ok()) {
        h.recv.lock.Unlock(Marks(h.recv));
        return s;
      }
    } else {
      // Only the receive-lock holder writes head. Tail is read (acquire,
      // pairing with the producer's store of tail: the slots' bytes are
      // visible) only when the cached copy says the ring is empty.
      head = h.head.index.load(std::memory_order_relaxed);
      tail = h.recv.cached_other_index;
      if (tail - head - 1 >= capacity_) {  // empty (0) or out of range
        tail = h.tail.index.load(std::memory_order_acquire);
        h.recv.cached_other_index = tail;
      }
      depth = tail - head;
    }
    if (depth > 0 && depth <= capacity_) {
      RINGBUF_CRASH_POINT(kReceiveLocked);
      // A 1-level queue's copying_level stays 0 (its repairer ignores it).
      if (kLeveled) h.recv.copying_level = level;
      h.recv.copying_index = head;
      // The repairer of a dead owner reads copying_index only when progress
      // says kCopying: keep the compiler from swapping the two stores.
      std::atomic_signal_fence(std::memory_order_seq_cst);
      h.recv.progress = internal::kCopying;
      *level_out = level;
      *head_out = head;
      *available_out = depth;
      return absl::OkStatus();
    }
    h.recv.lock.Unlock(Marks(h.recv));
    if (depth > capacity_) return Corrupt(head, tail);
    if (mode == Mode::kTry) {
      return absl::UnavailableError(QueueMessage(name_, "queue is empty"));
    }
    // Several levels: the level tails are what a producer publishes.
    const Levels levels = this->levels();
    const SlotSemaphore::Result r = SlotSemaphore(&h.tail).Wait(
        [&](uint64_t tail_now) {
          if (kLeveled) return levels.AnyMessage();
          return tail_now != h.head.index.load(std::memory_order_relaxed);
        },
        deadline, *shut_down_);
    if (absl::Status s = AfterWait(r, name_, "a message"); !s.ok()) return s;
  }
}

void Queue::PublishHead(uint32_t level, uint64_t head, uint64_t n) {
  if (priorities_ == 1) {
    PublishHead<false>(0, head, n);
  } else {
    PublishHead<true>(level, head, n);
  }
}

template <bool kLeveled>
void Queue::PublishHead(uint32_t level, uint64_t head, uint64_t n) {
  Header& h = *header_;
  if constexpr (kLeveled) {
    levels().PublishReceive(h.head, level, head, n);  // out of line
  } else {
    // Take: this store returns the "empty" tokens (empty = capacity - (tail -
    // head)). Release hands the slots back to producers only after we
    // finished reading them; it comes before Post's load of the sleepers
    // word (asymmetric_fence.h).
    internal::StoreBeforeWake<uint64_t>(h.head.index, head + n);
  }
  RINGBUF_CRASH_POINT(kReceiveTaken);
  // Wake producers before unlocking (see PublishTail): one per slot freed,
  // not all of them. Sixty-four producers sleeping on a full queue would
  // otherwise all wake for each slot, run, find it taken and sleep again,
  // starving the consumer of CPU (docs/design.md §3).
  SlotSemaphore(&h.head).Post(
      static_cast<int>(std::min<uint64_t>(n, internal::kWakeAll)));
  h.recv.progress = internal::kIdle;
  h.recv.lock.Unlock(Marks(h.recv));
  RINGBUF_CRASH_POINT(kReceiveUnlocked);
}

void Queue::AbandonReceive() {
  Abandon(header_->recv, Marks(header_->recv));
}

bool Queue::Payload(uint32_t level, uint64_t head, absl::string_view* payload,
                    uint32_t* bad_length) const {
  const char* slot = Slot(level, head);
  // Read the length once: a peer could change it under us.
  const uint32_t length =
      reinterpret_cast<const volatile SlotHeader*>(slot)->length;
  if (length > slot_size_) {
    *bad_length = length;
    return false;
  }
  *payload = absl::string_view(slot + internal::kSlotHeaderSize, length);
  return true;
}

absl::Status Queue::DroppedMessage(uint32_t level, uint64_t head,
                                     uint32_t length) const {
  try {
    return absl::DataLossError(QueueMessage(
        name_, absl::StrCat("message ", head,
                            priorities_ > 1 ? absl::StrCat(" of priority ", level)
                                            : "",
                            " (slot ", head % capacity_,
                            ") has length ", length, ", larger than slot_size ",
                            slot_size_, "; it was dropped")));
  } catch (...) {
    // Out of memory: the code alone (an empty message allocates nothing).
    return absl::Status(absl::StatusCode::kDataLoss, "");
  }
}

absl::Status Queue::ReceiveImpl(std::string* message, const Deadline& deadline,
                                Mode mode, uint32_t* priority) {
  return priorities_ == 1 ? ReceiveOne<false>(message, deadline, mode, priority)
                          : ReceiveOne<true>(message, deadline, mode, priority);
}

template <bool kLeveled>
absl::Status Queue::ReceiveOne(std::string* message, const Deadline& deadline,
                               Mode mode, uint32_t* priority) {
  uint32_t level;
  uint64_t head, available;
  if (absl::Status s =
          AcquireMessages<kLeveled>(deadline, mode, &level, &head, &available);
      !s.ok()) {
    return s;
  }
  if (!kLeveled) level = 0;  // a constant from here on
  absl::string_view payload;
  uint32_t bad_length = 0;
  if (Payload(level, head, &payload, &bad_length)) {
    try {
      message->resize(payload.size());
    } catch (...) {
      AbandonReceive();  // leave the message; never keep the lock
      return NoMemory(name_, "the message; it stays in the queue");
    }
    CopyFromSlot(&(*message)[0], payload.data(), payload.size());
    PublishHead<kLeveled>(level, head, 1);
    if (priority != nullptr) *priority = level;
    return absl::OkStatus();
  }
  message->clear();  // the message is dropped rather than wedge the queue
  PublishHead<kLeveled>(level, head, 1);
  return DroppedMessage(level, head, bad_length);
}

absl::Status Queue::Receive(std::string* message) {
  return ReceiveImpl(message, Deadline::Infinite(), Mode::kBlock, nullptr);
}

absl::Status Queue::Receive(std::string* message, uint32_t* priority) {
  return ReceiveImpl(message, Deadline::Infinite(), Mode::kBlock, priority);
}

absl::Status Queue::TryReceive(std::string* message) {
  return ReceiveImpl(message, Deadline::Infinite(), Mode::kTry, nullptr);
}

absl::Status Queue::TryReceive(std::string* message, uint32_t* priority) {
  return ReceiveImpl(message, Deadline::Infinite(), Mode::kTry, priority);
}

absl::Status Queue::ReceiveFor(std::string* message, absl::Duration timeout) {
  return ReceiveImpl(message, Deadline::After(timeout), Mode::kBlock, nullptr);
}

absl::Status Queue::ReceiveFor(std::string* message, absl::Duration timeout,
                               uint32_t* priority) {
  return ReceiveImpl(message, Deadline::After(timeout), Mode::kBlock, priority);
}

absl::StatusOr<size_t> Queue::ReceiveInto(absl::Span<char> buffer,
                                          absl::Duration timeout) {
  return ReceiveIntoImpl(buffer, Deadline::After(timeout), Mode::kBlock,
                         nullptr);
}

absl::StatusOr<size_t> Queue::ReceiveInto(absl::Span<char> buffer,
                                          absl::Duration timeout,
                                          uint32_t* priority) {
  return ReceiveIntoImpl(buffer, Deadline::After(timeout), Mode::kBlock,
                         priority);
}

absl::StatusOr<size_t> Queue::TryReceiveInto(absl::Span<char> buffer) {
  return ReceiveIntoImpl(buffer, Deadline::Infinite(), Mode::kTry, nullptr);
}

absl::StatusOr<size_t> Queue::TryReceiveInto(absl::Span<char> buffer,
                                             uint32_t* priority) {
  return ReceiveIntoImpl(buffer, Deadline::Infinite(), Mode::kTry, priority);
}

size_t Queue::MessageSizeOf(const absl::Status& status) {
  absl::optional<absl::Cord> payload = status.GetPayload(kMessageSizePayload);
  size_t size = 0;
  if (!payload.has_value() ||
      !absl::SimpleAtoi(std::string(*payload), &size)) {
    return 0;
  }
  return size;
}

absl::StatusOr<size_t> Queue::ReceiveIntoImpl(absl::Span<char> buffer,
                                              const Deadline& deadline,
                                              Mode mode, uint32_t* priority) {
  uint32_t level;
  uint64_t head, available;
  if (absl::Status s =
          AcquireMessages(deadline, mode, &level, &head, &available);
      !s.ok()) {
    return s;
  }
  absl::string_view payload;
  uint32_t bad_length = 0;
  if (!Payload(level, head, &payload, &bad_length)) {
    PublishHead(level, head, 1);  // dropped, as in Receive
    return DroppedMessage(level, head, bad_length);
  }
  if (payload.size() > buffer.size()) {
    AbandonReceive();  // leave it for a receiver with room
    absl::Status too_long = absl::ResourceExhaustedError(QueueMessage(
        name_, absl::StrCat("the next message is ", payload.size(),
                            " bytes; the buffer holds ", buffer.size())));
    too_long.SetPayload(kMessageSizePayload,
                        absl::Cord(absl::StrCat(payload.size())));
    return too_long;
  }
  CopyFromSlot(buffer.data(), payload.data(), payload.size());
  PublishHead(level, head, 1);
  if (priority != nullptr) *priority = level;
  return payload.size();
}

absl::Status Queue::ReceiveBatch(size_t max_messages, absl::Duration timeout,
                                 std::vector<std::string>* out) {
  return ReceiveBatch(max_messages, timeout, out, nullptr);
}

absl::Status Queue::ReceiveBatch(size_t max_messages, absl::Duration timeout,
                                 std::vector<std::string>* out,
                                 uint32_t* priority) {
  if (max_messages == 0) {
    return absl::InvalidArgumentError(
        QueueMessage(name_, "ReceiveBatch of 0 messages"));
  }
  uint32_t level;
  uint64_t head, available;
  if (absl::Status s = AcquireMessages(Deadline::After(timeout), Mode::kBlock,
                                       &level, &head, &available);
      !s.ok()) {
    return s;
  }
  if (priority != nullptr) *priority = level;
  const uint64_t n = std::min<uint64_t>(available, max_messages);
  // The first message dropped for a bad length word, reported once unlocked.
  bool dropped = false;
  uint64_t dropped_index = 0;
  uint32_t dropped_length = 0;
  uint64_t i = 0;
  try {
    for (; i < n; ++i) {
      absl::string_view payload;
      uint32_t bad_length = 0;
      if (!Payload(level, head + i, &payload, &bad_length)) {
        if (!dropped) {
          dropped = true;
          dropped_index = head + i;
          dropped_length = bad_length;
        }
        continue;  // dropped, as in Receive
      }
      out->emplace_back(payload.data(), payload.size());
    }
  } catch (...) {
    // Out of memory: take what was appended, leave the rest, never keep
    // the lock.
    PublishHead(level, head, i);
    return NoMemory(name_, "the batch; the rest stays in the queue");
  }
  PublishHead(level, head, n);
  if (dropped) return DroppedMessage(level, dropped_index, dropped_length);
  return absl::OkStatus();
}

absl::StatusOr<Queue::Peeked> Queue::Peek(absl::Duration timeout) {
  uint32_t level;
  uint64_t head, available;
  if (absl::Status s = AcquireMessages(Deadline::After(timeout), Mode::kBlock,
                                       &level, &head, &available);
      !s.ok()) {
    return s;
  }
  absl::string_view payload;
  uint32_t bad_length = 0;
  if (!Payload(level, head, &payload, &bad_length)) {
    PublishHead(level, head, 1);  // dropped, as in Receive
    return DroppedMessage(level, head, bad_length);
  }
  return Peeked(this, level, head, payload);
}

Queue::Peeked::Peeked(Peeked&& other) noexcept
    : queue_(std::exchange(other.queue_, nullptr)),
      level_(other.level_),
      head_(other.head_),
      data_(other.data_) {}

Queue::Peeked& Queue::Peeked::operator=(Peeked&& other) noexcept {
  if (this != &other) {
    if (queue_ != nullptr) queue_->AbandonReceive();
    queue_ = std::exchange(other.queue_, nullptr);
    level_ = other.level_;
    head_ = other.head_;
    data_ = other.data_;
  }
  return *this;
}

Queue::Peeked::~Peeked() {
  if (queue_ != nullptr) queue_->AbandonReceive();
}

absl::Status Queue::Peeked::Release() {
  if (queue_ == nullptr) {
    return absl::FailedPreconditionError("message already released or dropped");
  }
  std::exchange(queue_, nullptr)->PublishHead(level_, head_, 1);
  return absl::OkStatus();
}

absl::StatusOr<QueueInfo> Queue::Inspect(absl::string_view name) {
  absl::StatusOr<std::string> normalized = internal::NormalizeName(name);
  if (!normalized.ok()) return normalized.status();
  absl::StatusOr<internal::ShmMapping> mapping =
      internal::ShmMapping::OpenReadOnly(*normalized, internal::kHeaderSize,
                                         kMaxMappingSize);
  if (!mapping.ok()) return mapping.status();
  const Header& header = *static_cast<const Header*>(mapping->data());
  absl::StatusOr<internal::Geometry> geometry =
      internal::ValidateHeader(*normalized, header, mapping->size());
  if (!geometry.ok()) return geometry.status();
  QueueInfo info;
  info.stats = internal::ReadStats(header, *geometry);
  info.owner = mapping->owner();
  info.mode = mapping->mode();
  info.bytes = mapping->size();
  return info;
}

// ---------------------------------------------------------------------------
// Forwarding: PeekBatch and the incarnation (see queue.h).

uint64_t Queue::incarnation() const {
  if (header_ == nullptr) return 0;
  // Written by the creator before the name was linked; read-only since.
  return static_cast<const volatile Header*>(header_)->incarnation;
}

absl::StatusOr<Queue::PeekedBatch> Queue::PeekBatch(size_t max_messages,
                                                    absl::Duration timeout) {
  if (max_messages == 0) {
    return absl::InvalidArgumentError(
        QueueMessage(name_, "PeekBatch of 0 messages"));
  }
  // Ring indexes name messages only in a queue of one priority: with
  // several, each level numbers its own.
  if (priorities_ != 1) {
    return absl::FailedPreconditionError(QueueMessage(
        name_, absl::StrCat("PeekBatch needs a queue of one priority; this "
                            "one has ", priorities_)));
  }
  uint32_t level;
  uint64_t head, available;
  if (absl::Status s = AcquireMessages(Deadline::After(timeout), Mode::kBlock,
                                       &level, &head, &available);
      !s.ok()) {
    return s;
  }
  const uint64_t n = std::min<uint64_t>(available, max_messages);
  std::vector<absl::string_view> data;
  try {
    data.reserve(n);
  } catch (...) {
    AbandonReceive();  // never keep the lock; the batch stays in the queue
    return NoMemory(name_, "the batch's views; the batch stays in the queue");
  }
  for (uint64_t i = 0; i < n; ++i) {
    absl::string_view payload;
    uint32_t bad_length = 0;
    if (!Payload(level, head + i, &payload, &bad_length)) {
      if (i > 0) break;  // reported by the next PeekBatch, at the head
      PublishHead(level, head, 1);  // dropped, as in Receive
      return DroppedMessage(level, head, bad_length);
    }
    data.push_back(payload);  // reserved: cannot throw
  }
  // The batch is held with progress kCopying and copying_index == head, as a
  // Peek is: a holder that dies leaves head unmoved, so its repairer keeps
  // every message of the batch in the queue.
  RINGBUF_CRASH_POINT(kPeekBatchHeld);
  return PeekedBatch(this, head, std::move(data));
}

Queue::PeekedBatch::PeekedBatch(PeekedBatch&& other) noexcept
    : queue_(std::exchange(other.queue_, nullptr)),
      first_index_(other.first_index_),
      data_(std::move(other.data_)) {}

Queue::PeekedBatch& Queue::PeekedBatch::operator=(
    PeekedBatch&& other) noexcept {
  if (this != &other) {
    if (queue_ != nullptr) queue_->AbandonReceive();
    queue_ = std::exchange(other.queue_, nullptr);
    first_index_ = other.first_index_;
    data_ = std::move(other.data_);
  }
  return *this;
}

Queue::PeekedBatch::~PeekedBatch() {
  if (queue_ != nullptr) queue_->AbandonReceive();
}

absl::Status Queue::PeekedBatch::Release(size_t count) {
  if (queue_ == nullptr) {
    return absl::FailedPreconditionError("batch already released or dropped");
  }
  if (count > data_.size()) {
    // Still held, so the receive lock is too.
    return NoThrowStatus(absl::StatusCode::kInvalidArgument, queue_->name_,
                         "release of ", count, " messages from a batch of ",
                         data_.size());
  }
  Queue* queue = std::exchange(queue_, nullptr);
  data_.clear();
  if (count == 0) {
    queue->AbandonReceive();
  } else {
    queue->PublishHead(0, first_index_, count);  // one priority (PeekBatch)
  }
  return absl::OkStatus();
}

// --- end of the forwarding block.

Stats Queue::GetStats() const {
  if (header_ == nullptr) return Stats();
  return internal::ReadStats(
      *header_, internal::Geometry{capacity_, slot_size_, slot_stride_, priorities_});
}

}  // namespace ringbuf
