#include "ringbuf/queue.h"

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "ringbuf/internal/counting_semaphore.h"
#include "ringbuf/internal/crash_point.h"
#include "ringbuf/internal/deadline.h"
#include "ringbuf/internal/errno_status.h"
#include "ringbuf/internal/recovery.h"

namespace ringbuf {

using internal::Deadline;
using internal::Header;
using internal::QueueMessage;
using internal::SlotHeader;
using internal::SlotSemaphore;

namespace {

// The try-calls do not wait for space or messages, but they do wait this long
// for the side lock, whose holder normally releases it after one copy.
constexpr absl::Duration kTryLockWait = absl::Milliseconds(10);

// OpenOrCreate retries while others create and remove the name under it.
constexpr int kOpenOrCreateAttempts = 64;

absl::Status MovedFrom() {
  return absl::FailedPreconditionError("ringbuf::Queue used after move");
}

}  // namespace

Queue::Queue(std::string name, internal::ShmMapping mapping,
             const internal::Geometry& geometry)
    : name_(std::move(name)),
      mapping_(std::move(mapping)),
      header_(static_cast<Header*>(mapping_.data())),
      capacity_(geometry.capacity),
      slot_size_(geometry.slot_size),
      slot_stride_(geometry.slot_stride),
      slots_(static_cast<char*>(mapping_.data()) + internal::kHeaderSize) {}

Queue::Queue(Queue&& other) noexcept { *this = std::move(other); }

Queue& Queue::operator=(Queue&& other) noexcept {
  if (this != &other) {
    name_ = std::move(other.name_);
    mapping_ = std::move(other.mapping_);
    header_ = std::exchange(other.header_, nullptr);
    capacity_ = std::exchange(other.capacity_, 0);
    slot_size_ = std::exchange(other.slot_size_, 0);
    slot_stride_ = std::exchange(other.slot_stride_, 0);
    slots_ = std::exchange(other.slots_, nullptr);
  }
  return *this;
}

absl::StatusOr<Queue> Queue::Create(absl::string_view name,
                                    const Options& options) {
  absl::StatusOr<std::string> normalized = internal::NormalizeName(name);
  if (!normalized.ok()) return normalized.status();
  absl::StatusOr<uint64_t> size =
      internal::MappingSize(*normalized, options.capacity, options.slot_size);
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
                                        options.capacity, options.slot_size);
          });
  if (!mapping.ok()) return mapping.status();
  internal::Geometry geometry{options.capacity, options.slot_size,
                              internal::SlotStride(options.slot_size)};
  return Queue(*std::move(normalized), *std::move(mapping), geometry);
}

absl::StatusOr<Queue> Queue::Open(absl::string_view name) {
  absl::StatusOr<std::string> normalized = internal::NormalizeName(name);
  if (!normalized.ok()) return normalized.status();
  absl::StatusOr<internal::ShmMapping> mapping =
      internal::ShmMapping::OpenExisting(*normalized, internal::kHeaderSize,
                                         kMaxMappingSize);
  if (!mapping.ok()) return mapping.status();
  absl::StatusOr<internal::Geometry> geometry = internal::ValidateHeader(
      *normalized, *static_cast<const Header*>(mapping->data()),
      mapping->size());
  if (!geometry.ok()) return geometry.status();
  return Queue(*std::move(normalized), *std::move(mapping), *geometry);
}

absl::StatusOr<Queue> Queue::OpenOrCreate(absl::string_view name,
                                          const Options& options) {
  for (int attempt = 0; attempt < kOpenOrCreateAttempts; ++attempt) {
    absl::StatusOr<Queue> queue = Open(name);
    if (queue.ok()) {
      if (queue->capacity() != options.capacity ||
          queue->slot_size() != options.slot_size) {
        return absl::FailedPreconditionError(QueueMessage(
            queue->name(),
            absl::StrCat("exists with capacity ", queue->capacity(),
                         " and slot_size ", queue->slot_size(),
                         ", but capacity ", options.capacity,
                         " and slot_size ", options.slot_size,
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

absl::Status Queue::Remove(absl::string_view name) {
  absl::StatusOr<std::string> normalized = internal::NormalizeName(name);
  if (!normalized.ok()) return normalized.status();
  return internal::ShmMapping::Unlink(*normalized);
}

char* Queue::Slot(uint64_t index) const {
  return slots_ + (index % capacity_) * slot_stride_;
}

absl::Status Queue::LockSide(internal::SideLock& side,
                             void (*repair)(Header&),
                             const Deadline& deadline, Mode mode) {
  absl::StatusOr<internal::RobustMutex::Acquired> acquired = side.mutex.Lock(
      name_, mode == Mode::kTry ? Deadline::After(kTryLockWait) : deadline);
  if (!acquired.ok()) {
    if (mode == Mode::kTry && absl::IsDeadlineExceeded(acquired.status())) {
      return absl::UnavailableError(QueueMessage(
          name_, "the queue lock was busy for longer than the try-call waits"));
    }
    return acquired.status();
  }
  if (*acquired == internal::RobustMutex::Acquired::kOwnerDied) {
    repair(*header_);  // the protocol is in internal/layout.h
    side.mutex.MarkConsistent();
  }
  return absl::OkStatus();
}

absl::Status Queue::Send(absl::string_view message) {
  return SendImpl(message, Deadline::Infinite(), Mode::kBlock);
}

absl::Status Queue::TrySend(absl::string_view message) {
  return SendImpl(message, Deadline::Infinite(), Mode::kTry);
}

absl::Status Queue::SendFor(absl::string_view message,
                            absl::Duration timeout) {
  return SendImpl(message, Deadline::After(timeout), Mode::kBlock);
}

absl::Status Queue::Receive(std::string* message) {
  return ReceiveImpl(message, Deadline::Infinite(), Mode::kBlock);
}

absl::Status Queue::TryReceive(std::string* message) {
  return ReceiveImpl(message, Deadline::Infinite(), Mode::kTry);
}

absl::Status Queue::ReceiveFor(std::string* message, absl::Duration timeout) {
  return ReceiveImpl(message, Deadline::After(timeout), Mode::kBlock);
}

absl::Status Queue::Corrupt(uint64_t head, uint64_t tail) const {
  return absl::DataLossError(QueueMessage(
      name_, absl::StrCat("ring indexes are corrupt: head ", head, ", tail ",
                          tail, ", capacity ", capacity_)));
}

absl::Status Queue::SendImpl(absl::string_view message,
                             const Deadline& deadline, Mode mode) {
  if (header_ == nullptr) return MovedFrom();
  if (message.size() > slot_size_) {
    return absl::InvalidArgumentError(QueueMessage(
        name_, absl::StrCat("message of ", message.size(),
                            " bytes is larger than slot_size ", slot_size_)));
  }
  Header& h = *header_;
  for (;;) {
    RINGBUF_CRASH_POINT(kSendBeforeLock);
    if (absl::Status s = LockSide(h.send, internal::RepairSendSide, deadline,
                                  mode);
        !s.ok()) {
      return s;
    }
    // Only the send-lock holder writes tail. Head is read (acquire, pairing
    // with the consumer's store of head: the slot we are about to reuse has
    // been fully read) only when the cached copy says the ring is full.
    const uint64_t tail = h.tail.index.load(std::memory_order_relaxed);
    uint64_t head = h.send.cached_other_index;
    if (tail - head >= capacity_) {
      head = h.head.index.load(std::memory_order_acquire);
      h.send.cached_other_index = head;
    }
    const uint64_t depth = tail - head;
    if (depth < capacity_) {
      RINGBUF_CRASH_POINT(kSendLocked);
      h.send.copying_index = tail;
      h.send.progress = internal::kCopying;
      char* slot = Slot(tail);
      SlotHeader* sh = reinterpret_cast<SlotHeader*>(slot);
      sh->length = static_cast<uint32_t>(message.size());
      char* payload = slot + internal::kSlotHeaderSize;
      const size_t half = message.size() / 2;
      std::memcpy(payload, message.data(), half);
      RINGBUF_CRASH_POINT(kSendMidCopy);
      std::memcpy(payload + half, message.data() + half, message.size() - half);
      // Commit: this store takes the "full" token's place (full = tail -
      // head). Release publishes the slot to consumers that acquire tail;
      // seq_cst orders it before Post's load of the waiter count.
      h.tail.index.store(tail + 1, std::memory_order_seq_cst);
      RINGBUF_CRASH_POINT(kSendPublished);
      h.send.progress = internal::kIdle;
      h.send.mutex.Unlock();
      RINGBUF_CRASH_POINT(kSendUnlocked);
      SlotSemaphore(&h.tail).Post();
      return absl::OkStatus();
    }
    h.send.mutex.Unlock();
    if (depth > capacity_) return Corrupt(head, tail);
    if (mode == Mode::kTry) {
      return absl::UnavailableError(QueueMessage(name_, "queue is full"));
    }
    // Sleep until head moves far enough to leave a free slot (or the
    // indexes turn out corrupt, which the locked check then reports).
    SlotSemaphore empty_slots(&h.head);
    if (!empty_slots.Wait(
            [&](uint64_t head_now) {
              return h.tail.index.load(std::memory_order_relaxed) - head_now !=
                     capacity_;
            },
            deadline)) {
      return absl::DeadlineExceededError(
          QueueMessage(name_, "timed out waiting for a free slot"));
    }
  }
}

absl::Status Queue::ReceiveImpl(std::string* message, const Deadline& deadline,
                                Mode mode) {
  if (header_ == nullptr) return MovedFrom();
  Header& h = *header_;
  for (;;) {
    RINGBUF_CRASH_POINT(kReceiveBeforeLock);
    if (absl::Status s = LockSide(h.recv, internal::RepairReceiveSide,
                                  deadline, mode);
        !s.ok()) {
      return s;
    }
    // Only the receive-lock holder writes head. Tail is read (acquire,
    // pairing with the producer's store of tail: the slot's bytes are
    // visible) only when the cached copy says the ring is empty.
    const uint64_t head = h.head.index.load(std::memory_order_relaxed);
    uint64_t tail = h.recv.cached_other_index;
    if (tail - head - 1 >= capacity_) {  // empty (0) or out of range
      tail = h.tail.index.load(std::memory_order_acquire);
      h.recv.cached_other_index = tail;
    }
    const uint64_t depth = tail - head;
    if (depth > 0 && depth <= capacity_) {
      RINGBUF_CRASH_POINT(kReceiveLocked);
      h.recv.copying_index = head;
      h.recv.progress = internal::kCopying;
      const char* slot = Slot(head);
      // Read the length once: a peer could change it under us.
      const uint32_t length =
          static_cast<const volatile SlotHeader*>(
              reinterpret_cast<const SlotHeader*>(slot))
              ->length;
      absl::Status result;
      if (length <= slot_size_) {
        const char* payload = slot + internal::kSlotHeaderSize;
        message->resize(length);
        const size_t half = length / 2;
        std::memcpy(&(*message)[0], payload, half);
        RINGBUF_CRASH_POINT(kReceiveMidCopy);
        std::memcpy(&(*message)[0] + half, payload + half, length - half);
      } else {
        // Drop the message rather than wedge the queue on it forever.
        message->clear();
        result = absl::DataLossError(QueueMessage(
            name_, absl::StrCat("message ", head, " (slot ", head % capacity_,
                                ") has length ", length,
                                ", larger than slot_size ", slot_size_,
                                "; it was dropped")));
      }
      // Take: this store returns the "empty" token (empty = capacity -
      // (tail - head)). Release hands the slot back to producers only after
      // we finished reading it; seq_cst orders it before Post's load.
      h.head.index.store(head + 1, std::memory_order_seq_cst);
      RINGBUF_CRASH_POINT(kReceiveTaken);
      h.recv.progress = internal::kIdle;
      h.recv.mutex.Unlock();
      RINGBUF_CRASH_POINT(kReceiveUnlocked);
      SlotSemaphore(&h.head).Post();
      return result;
    }
    h.recv.mutex.Unlock();
    if (depth > capacity_) return Corrupt(head, tail);
    if (mode == Mode::kTry) {
      return absl::UnavailableError(QueueMessage(name_, "queue is empty"));
    }
    SlotSemaphore full_slots(&h.tail);
    if (!full_slots.Wait(
            [&](uint64_t tail_now) {
              return tail_now != h.head.index.load(std::memory_order_relaxed);
            },
            deadline)) {
      return absl::DeadlineExceededError(
          QueueMessage(name_, "timed out waiting for a message"));
    }
  }
}

Stats Queue::GetStats() const {
  Stats stats;
  if (header_ == nullptr) return stats;
  const Header& h = *header_;
  stats.capacity = capacity_;
  stats.slot_size = slot_size_;
  stats.head = h.head.index.load(std::memory_order_acquire);
  stats.tail = h.tail.index.load(std::memory_order_acquire);
  stats.depth = stats.tail >= stats.head ? stats.tail - stats.head : 0;
  stats.total_sent = stats.tail;
  stats.total_received = stats.head;
  stats.send_lock_owner_deaths =
      h.send.owner_deaths.load(std::memory_order_relaxed);
  stats.receive_lock_owner_deaths =
      h.recv.owner_deaths.load(std::memory_order_relaxed);
  stats.discarded_partial_sends =
      h.send.lost_in_flight.load(std::memory_order_relaxed);
  stats.receives_lost_to_dead_consumers =
      h.recv.lost_in_flight.load(std::memory_order_relaxed);
  return stats;
}

}  // namespace ringbuf
