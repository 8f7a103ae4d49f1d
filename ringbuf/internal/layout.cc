#include "ringbuf/internal/layout.h"

#include <sys/random.h>

#include <cerrno>
#include <new>

#include "absl/strings/str_cat.h"
#include "ringbuf/internal/errno_status.h"
#include "ringbuf/internal/priority_levels.h"

namespace ringbuf {
namespace internal {

uint64_t SlotStride(uint32_t slot_size) {
  uint64_t bytes = kSlotHeaderSize + uint64_t{slot_size};
  return (bytes + kCacheLine - 1) / kCacheLine * kCacheLine;
}

absl::StatusOr<uint64_t> MappingSize(absl::string_view queue, uint64_t capacity,
                                     uint32_t slot_size, uint32_t priorities) {
  if (capacity == 0 || capacity > kMaxCapacity) {
    return absl::InvalidArgumentError(QueueMessage(
        queue, absl::StrCat("capacity ", capacity, " is out of range [1, ",
                            kMaxCapacity, "]")));
  }
  if (slot_size == 0 || slot_size > kMaxSlotSize) {
    return absl::InvalidArgumentError(QueueMessage(
        queue, absl::StrCat("slot_size ", slot_size, " is out of range [1, ",
                            kMaxSlotSize, "]")));
  }
  if (priorities == 0 || priorities > kMaxPriorities) {
    return absl::InvalidArgumentError(QueueMessage(
        queue, absl::StrCat("priorities ", priorities, " is out of range [1, ",
                            kMaxPriorities, "]")));
  }
  // The factors are bounded above (2^5 * 2^24 * 2^26), so the product fits.
  uint64_t size = LeaseTableOffset(capacity, slot_size, priorities) +
                  kLeaseTableBytes;
  if (size > kMaxMappingSize) {
    return absl::InvalidArgumentError(QueueMessage(
        queue, absl::StrCat("capacity ", capacity, " x slot_size ", slot_size,
                            priorities > 1
                                ? absl::StrCat(" x priorities ", priorities)
                                : "",
                            " needs ", size, " bytes, more than the limit of ",
                            kMaxMappingSize)));
  }
  return size;
}

uint64_t LeaseTableOffset(uint64_t capacity, uint32_t slot_size,
                          uint32_t priorities) {
  return kHeaderSize + LevelIndexBytes(priorities) +
         uint64_t{priorities} * capacity * SlotStride(slot_size);
}

absl::Status InitHeader(absl::string_view queue, void* mapping, uint64_t size,
                        uint64_t capacity, uint32_t slot_size,
                        uint32_t priorities) {
  // The object is fresh from ftruncate, so every byte is zero: indexes,
  // counters, waiters and progress words all start at their initial values.
  Header* h = new (mapping) Header;
  h->version = kLayoutVersion;
  h->header_size = kHeaderSize;
  h->slot_size = slot_size;
  h->capacity = capacity;
  h->slot_stride = SlotStride(slot_size);
  h->mapping_size = size;
  if (getrandom(&h->incarnation, sizeof(h->incarnation), 0) !=
      static_cast<ssize_t>(sizeof(h->incarnation))) {
    return ErrnoStatus(errno, "getrandom (the incarnation)", queue);
  }
  h->priorities = priorities;
  // The side locks start free (0); each lease is a robust mutex to set up.
  LeaseTable* leases = new (static_cast<char*>(mapping) +
                            LeaseTableOffset(capacity, slot_size, priorities))
      LeaseTable;
  if (absl::Status s = leases->Init(queue); !s.ok()) return s;
  // Published last; release pairs with the acquire load in ValidateHeader.
  h->magic.store(kMagicReady, std::memory_order_release);
  return absl::OkStatus();
}

namespace {

absl::Status Mismatch(absl::string_view queue, absl::string_view field,
                      uint64_t found, absl::string_view expected) {
  return absl::DataLossError(QueueMessage(
      queue, absl::StrCat("not a usable ringbuf queue: header field '", field,
                          "' is ", found, ", expected ", expected)));
}

}  // namespace

absl::StatusOr<Geometry> ValidateHeader(absl::string_view queue,
                                        const Header& header,
                                        uint64_t object_size) {
  uint32_t magic = header.magic.load(std::memory_order_acquire);
  if (magic != kMagicReady) {
    return absl::DataLossError(QueueMessage(
        queue, absl::StrCat("not a ringbuf queue: magic is 0x",
                            absl::Hex(magic), ", expected 0x",
                            absl::Hex(kMagicReady))));
  }
  // One volatile read per field: a peer may be rewriting the header while we
  // look, and what we check must be what we then use.
  struct Snapshot {
    uint32_t version, header_size, slot_size, priorities;
    uint64_t capacity, slot_stride, mapping_size;
  } h;
  const volatile Header& v = header;
  h.version = v.version;
  h.header_size = v.header_size;
  h.slot_size = v.slot_size;
  h.capacity = v.capacity;
  h.slot_stride = v.slot_stride;
  h.mapping_size = v.mapping_size;
  h.priorities = v.priorities;
  if (h.version != kLayoutVersion) {
    return absl::FailedPreconditionError(QueueMessage(
        queue, absl::StrCat("layout version is ", h.version,
                            ", this library reads version ", kLayoutVersion)));
  }
  if (h.header_size != kHeaderSize) {
    return Mismatch(queue, "header_size", h.header_size,
                    absl::StrCat(kHeaderSize));
  }
  absl::StatusOr<uint64_t> size =
      MappingSize(queue, h.capacity, h.slot_size, h.priorities);
  if (!size.ok()) {
    return absl::DataLossError(absl::StrCat(
        "not a usable ringbuf queue: header geometry is invalid: ",
        size.status().message()));
  }
  if (h.slot_stride != SlotStride(h.slot_size)) {
    return Mismatch(queue, "slot_stride", h.slot_stride,
                    absl::StrCat(SlotStride(h.slot_size)));
  }
  if (h.mapping_size != *size) {
    return Mismatch(queue, "mapping_size", h.mapping_size, absl::StrCat(*size));
  }
  if (object_size != *size) {
    return absl::DataLossError(QueueMessage(
        queue, absl::StrCat("not a usable ringbuf queue: the object is ",
                            object_size, " bytes but its header (capacity ",
                            h.capacity, ", slot_size ", h.slot_size,
                            ", priorities ", h.priorities, ") needs ", *size)));
  }
  return Geometry{h.capacity, h.slot_size, h.slot_stride, h.priorities};
}

Stats ReadStats(const Header& h, const Geometry& geometry) {
  Stats stats;
  stats.capacity = geometry.capacity;
  stats.slot_size = geometry.slot_size;
  stats.head = h.head.index.load(std::memory_order_acquire);
  stats.tail = h.tail.index.load(std::memory_order_acquire);
  stats.depth = stats.tail >= stats.head ? stats.tail - stats.head : 0;
  stats.total_sent = stats.tail;
  stats.total_received = stats.head;
  stats.priorities = geometry.priorities;
  if (geometry.priorities == 1) {
    stats.depth_by_priority[0] = stats.depth;
  } else {
    // The level indexes are authoritative (the header's may lag behind a
    // process that died between the two stores, until the repair).
    const Levels levels =
        Levels::At(const_cast<Header*>(&h), geometry.priorities);
    stats.depth = 0;
    for (uint32_t level = 0; level < geometry.priorities; ++level) {
      const uint64_t head = levels.head[level].load(std::memory_order_acquire);
      const uint64_t tail = levels.tail[level].load(std::memory_order_acquire);
      stats.depth_by_priority[level] = tail >= head ? tail - head : 0;
      stats.depth += stats.depth_by_priority[level];
    }
  }
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

}  // namespace internal
}  // namespace ringbuf
