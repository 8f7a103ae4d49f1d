// The shared-memory layout of a ringbuf queue: one POSIX shared-memory object
// holding a header and a ring of fixed-size slots. Every process maps it at
// its own address, so the layout holds indexes and offsets, never pointers.
//
// The mapping, in address order (the object starts page-aligned):
//
//   offset 0            Header, kHeaderSize bytes, in 64-byte cache lines:
//     line 0              identity, geometry,       set once by the creator
//                         incarnation, priorities
//     lines 1..           send side: send lock      guarded by itself
//     next line           tail + its sleepers       tail written under send lock
//     next lines          receive side: recv lock   guarded by itself
//     next line           head + its sleepers       head written under recv lock
//   offset kHeaderSize  (priorities > 1 only) the level indexes,
//                         priority_levels.h
//   then                slot[0], slot[1], ... slot[capacity-1]
//                         (priorities > 1: one such ring per level)
//                         each slot_stride bytes (a multiple of 64):
//                         uint32 length | uint32 reserved | payload[slot_size]
//   then                the lease table, kLeaseTableBytes (lease_table.h)
//
// Synchronisation, in the words of the classic design:
//   * The two counting semaphores are "empty slots" and "full slots". Their
//     counts are not stored apart from the ring: full = tail - head and
//     empty = capacity - full. Taking a token and claiming its slot is then a
//     single store (tail++ by a producer, head++ by a consumer), made under
//     that side's lock. A process can die between any two instructions and
//     no token is ever held by nobody: there is nothing to reconcile.
//     See counting_semaphore.h for how a waiter sleeps on them.
//   * The mutex is split in two process-shared locks, one per side (a
//     two-lock bounded buffer): producers serialise on the send lock,
//     consumers on the receive lock, and a producer never waits for a
//     consumer's lock. Each side's lock guards that side's index, the slot
//     it is copying, and its recovery counters. A lock is a futex word
//     naming its holder's lease, a robust mutex the holder's thread keeps
//     while it uses the queue (leased_lock.h, lease_table.h).
//
// Crash recovery (the protocol, one story; recovery.cc implements it):
//   A thread that dies holding a side lock leaves the lock naming its lease,
//   which the kernel marks owner-dead. Whoever takes that lease next (a
//   waiter for the lock probing its holder, or a thread looking for a lease
//   of its own) releases the lock, first reading the side's `progress` and
//   `copying_index` words, which the dead owner kept up to date:
//     kIdle                  nothing was in flight.
//     kCopying, index unmoved (index == copying_index)
//                            a producer died mid-copy: tail was not advanced,
//                            so the torn slot was never visible; the next
//                            send overwrites it. A consumer died mid-copy:
//                            head was not advanced, so the message stays for
//                            the next consumer.
//     kCopying, index moved (index == copying_index + n, n the batch size)
//                            a producer died after publishing (tail++): the
//                            message is committed and delivered normally. A
//                            consumer died after taking (head++): that one
//                            message is lost to it, nobody else's.
//   Either way the repairer wakes the other side's sleepers (the dead owner
//   may have died before its wake-up call), counts the recovery and resets
//   progress to kIdle. The cached index needs no repair: any value the dead
//   owner left is a lower bound of the other index, which is all it
//   claims. If the repairer itself dies before unlocking the side lock, the
//   lease it took is owner-dead again, the lock still names it, and the
//   next taker repeats the repair, which is idempotent but for the counters.
#ifndef RINGBUF_INTERNAL_LAYOUT_H_
#define RINGBUF_INTERNAL_LAYOUT_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ringbuf/internal/lease_table.h"
#include "ringbuf/internal/leased_lock.h"
#include "ringbuf/internal/shm_mapping.h"
#include "ringbuf/options.h"

namespace ringbuf {
namespace internal {

inline constexpr size_t kCacheLine = 64;

// The first word of a ready queue. Written last by the creator, so a mapping
// whose first word is anything else is half-built or foreign.
inline constexpr uint32_t kMagicReady = 0x52425546;  // "RBUF"
// Bumped on any change to this file's structs or their meaning that a
// process of the previous version could not live with.
//   2: line 0 gained `incarnation` (a queue's identity across re-creation).
//   3: line 0 gained `priorities` and SideLock `copying_level` (message
//      priorities, priority_levels.h).
//   4: the side locks became futex words naming a lease, and the mapping
//      ends with the lease table (leased_lock.h, lease_table.h).
//   5: a side lock may be biased toward one lease: its word gained the
//      BiasedTo and Revoking forms, the lock a streak, and each lease an
//      inside mark per side lock (leased_lock.h, lease_table.h).
// (The spin hints holder_cpu and poster_cpu live in words version 1 left
// zeroed: 0 means "unknown", which old processes leave and new ones accept,
// so they needed no bump of their own.)
inline constexpr uint32_t kLayoutVersion = 5;

// What a side's lock holder was doing; read only by the repairer after the
// holder died. See the recovery protocol above.
enum SideProgress : uint32_t {
  kIdle = 0,
  kCopying = 1,  // between claiming slot[copying_index] and unlocking
};

// One side's lock and what it guards besides the index. Written only by the
// holder of `lock`; the counters are atomics so Stats may read them
// without the lock (relaxed: they are reports, not synchronisation).
struct alignas(kCacheLine) SideLock {
  LeasedLock lock;
  uint32_t progress;        // SideProgress; guarded by lock
  // CurrentCpuTag() (spin.h) of the latest holder when it took the lock,
  // 0 never. A hint for waiters deciding whether to spin, never trusted:
  // written by each holder after locking, read unlocked by waiters.
  std::atomic<uint32_t> holder_cpu;
  uint64_t copying_index;   // index being copied while kCopying; guarded by lock
  // The other side's index as last read by this side, a lower bound of it
  // (indexes only grow): the send side caches head, the receive side tail.
  // Re-read only when it says "full" (or "empty"), so the hot path does not
  // pull the other side's cache line every message. Guarded by lock.
  uint64_t cached_other_index;
  std::atomic<uint64_t> owner_deaths;  // written under lock
  // Send side: partial sends discarded. Receive side: messages lost to a
  // consumer that died after taking them.
  std::atomic<uint64_t> lost_in_flight;  // written under lock
  // The priority level being copied while kCopying (0 in a 1-level queue);
  // guarded by lock. copying_index is an index of that level's ring.
  uint32_t copying_level;
};

// A ring index and the word its sleepers sleep on.
//   tail: written (seq_cst) by the send-lock holder; read by everyone.
//         Its sleepers are consumers waiting for tail to move (data).
//   head: written (seq_cst) by the recv-lock holder; read by everyone.
//         Its sleepers are producers waiting for head to move (space).
// `sleepers` is epoch << 1 | someone-may-sleep: set by a sleeper before it
// sleeps, cleared (epoch bumped) by the side that moves the index, which
// makes the wake-up system call only then (counting_semaphore.h).
// `poster_cpu` is CurrentCpuTag() (spin.h) of whoever last moved the index,
// 0 never: a hint for waiters deciding whether to spin, never trusted.
struct alignas(kCacheLine) IndexLine {
  std::atomic<uint64_t> index;
  std::atomic<uint32_t> sleepers;
  std::atomic<uint32_t> poster_cpu;
};

struct Header {
  // --- Line 0: identity. Set once by the creator, before `magic` is written
  // and before the name is linked into /dev/shm; read-only afterwards.
  std::atomic<uint32_t> magic;  // kMagicReady once initialised
  uint32_t version;             // kLayoutVersion
  uint32_t header_size;         // sizeof(Header)
  uint32_t slot_size;           // max payload bytes per slot
  uint64_t capacity;            // number of slots
  uint64_t slot_stride;         // bytes from one slot to the next
  uint64_t mapping_size;        // bytes of the whole object
  // A random number drawn by the creator: a queue removed and created again
  // under the same name gets another one. It names the queue's messages
  // (with their ring indexes) for forwarders such as ringbuf-bridge.
  uint64_t incarnation;
  uint32_t priorities;          // levels, 1..kMaxPriorities (priority_levels.h)

  // --- Producers.
  SideLock send;
  IndexLine tail;

  // --- Consumers.
  SideLock recv;
  IndexLine head;
};

// The fixed part of a slot; the payload follows it.
struct SlotHeader {
  uint32_t length;  // payload bytes; written by the producer under send lock
  uint32_t reserved;
};

inline constexpr size_t kHeaderSize = sizeof(Header);
inline constexpr size_t kSlotHeaderSize = sizeof(SlotHeader);

static_assert(offsetof(Header, magic) == 0,
              "the magic word must come first: openers read it first");
static_assert(kHeaderSize % kCacheLine == 0,
              "slots start on a cache line so no slot shares one with the header");
static_assert(offsetof(Header, send) % kCacheLine == 0 &&
                  offsetof(Header, tail) % kCacheLine == 0 &&
                  offsetof(Header, recv) % kCacheLine == 0 &&
                  offsetof(Header, head) % kCacheLine == 0,
              "each side's hot words get their own cache lines (no false sharing)");
static_assert(sizeof(IndexLine) == kCacheLine, "one line per index");
static_assert(offsetof(Header, incarnation) == 40 &&
                  offsetof(Header, incarnation) + sizeof(uint64_t) <= kCacheLine,
              "the incarnation lives in line 0, with the rest of the identity");
static_assert(offsetof(Header, priorities) + sizeof(uint32_t) <= kCacheLine,
              "the priority count lives in line 0, with the rest of the "
              "identity");
static_assert(sizeof(SideLock) == kCacheLine, "one line per side lock");
static_assert(offsetof(Header, send) == 64 && offsetof(Header, tail) == 128 &&
                  offsetof(Header, recv) == 192 &&
                  offsetof(Header, head) == 256 && kHeaderSize == 320,
              "docs/design.md draws these offsets: change it with them, and "
              "bump kLayoutVersion");
static_assert(std::atomic<uint64_t>::is_always_lock_free &&
                  std::atomic<uint32_t>::is_always_lock_free,
              "atomics in shared memory must be lock-free to work across processes");
static_assert(kSlotHeaderSize == 8, "payload starts 8-byte aligned");

// Bytes from one slot to the next: the slot header plus slot_size, rounded up
// to a cache line.
uint64_t SlotStride(uint32_t slot_size);

// The size of the whole object for this geometry: the one function both the
// creator and the opener use. InvalidArgument (naming `queue` and the field)
// if the geometry is out of bounds.
absl::StatusOr<uint64_t> MappingSize(absl::string_view queue, uint64_t capacity,
                                     uint32_t slot_size, uint32_t priorities);

// Where the lease table starts: after the slots of every level.
uint64_t LeaseTableOffset(uint64_t capacity, uint32_t slot_size,
                          uint32_t priorities);

// The lease table of a validated mapping: its last kLeaseTableBytes.
inline LeaseTable& LeaseTableOf(const ShmMapping& mapping) {
  return *reinterpret_cast<LeaseTable*>(static_cast<char*>(mapping.data()) +
                                        mapping.size() - kLeaseTableBytes);
}

// Initialises a zero-filled mapping of `size` bytes (size from MappingSize)
// and writes the magic word last.
absl::Status InitHeader(absl::string_view queue, void* mapping, uint64_t size,
                        uint64_t capacity, uint32_t slot_size,
                        uint32_t priorities);

// The geometry a handle keeps in private memory once it has validated it, so
// that a peer scribbling on the header later cannot steer it outside the
// mapping.
struct Geometry {
  uint64_t capacity;
  uint32_t slot_size;
  uint64_t slot_stride;
  uint32_t priorities;
};

// Checks that a mapping someone else wrote is a ready queue of this layout
// version whose geometry agrees with the object's size, reading each field
// exactly once. DataLoss or FailedPrecondition naming the field, what was
// found and what was expected.
absl::StatusOr<Geometry> ValidateHeader(absl::string_view queue,
                                        const Header& header,
                                        uint64_t object_size);

// A snapshot of a validated queue's counters, read without any lock and
// without writing (the mapping may be read-only). See Stats.
Stats ReadStats(const Header& header, const Geometry& geometry);

}  // namespace internal
}  // namespace ringbuf

#endif  // RINGBUF_INTERNAL_LAYOUT_H_
