// Plain structs shared by every floor of ringbuf: what a creator asks for
// (Options) and what a queue reports about itself (Stats).
#ifndef RINGBUF_OPTIONS_H_
#define RINGBUF_OPTIONS_H_

#include <sys/types.h>

#include <cstdint>

namespace ringbuf {

// Geometry and permissions of a queue, fixed when it is created.
struct Options {
  // Number of slots: how many messages the queue holds before Send blocks.
  // 1 <= capacity <= kMaxCapacity.
  uint64_t capacity = 1024;
  // Largest message, in bytes, one slot holds. 1 <= slot_size <= kMaxSlotSize.
  uint32_t slot_size = 256;
  // Permission bits of the shared-memory object, applied exactly (the
  // process umask is not consulted). Owner-only by default.
  mode_t mode = 0600;
  // Number of message priorities, 0 (lowest) .. priorities-1 (highest).
  // 1 <= priorities <= kMaxPriorities. 1 (the default) is a plain FIFO queue,
  // with the plain queue's layout and steps. With more, every receive takes the
  // oldest message of the highest non-empty priority. The capacity is shared
  // by all priorities (as in POSIX mq and Boost.Interprocess): the queue holds
  // `capacity` messages in all, and a full queue blocks senders of every
  // priority alike. The cost: each priority has its own ring of `capacity`
  // slots (any one priority may hold all the messages), so the mapping is
  // `priorities` times as large.
  uint32_t priorities = 1;
};

// Upper bounds on the geometry; Create refuses larger values and Open refuses
// a mapping that claims them. Chosen so the mapping size cannot overflow and a
// typo cannot ask for terabytes.
inline constexpr uint64_t kMaxCapacity = uint64_t{1} << 24;   // 16 Mi slots
inline constexpr uint32_t kMaxSlotSize = uint32_t{1} << 26;   // 64 MiB
inline constexpr uint64_t kMaxMappingSize = uint64_t{1} << 36;  // 64 GiB
inline constexpr uint32_t kMaxPriorities = 32;

// A snapshot of a queue, read without taking its locks: every field is exact
// at some instant, but the fields are not read at the same instant, so depth
// may disagree with tail - head by the operations in flight while it ran.
struct Stats {
  uint64_t capacity = 0;
  uint32_t slot_size = 0;
  uint32_t priorities = 0;
  // Messages committed and not yet taken (approximate under concurrency).
  // With several priorities, the sum of depth_by_priority.
  uint64_t depth = 0;
  // Monotonic ring indexes: head counts messages ever taken, tail messages
  // ever committed; slot = index % capacity.
  uint64_t head = 0;
  uint64_t tail = 0;
  uint64_t total_sent = 0;      // == tail
  uint64_t total_received = 0;  // == head
  // Messages committed and not yet taken at each priority (the first
  // `priorities` entries; approximate under concurrency, as depth).
  uint64_t depth_by_priority[kMaxPriorities] = {};

  // Crash recovery, counted since the queue was created.
  // Times a thread died (or exited) holding the send (receive) lock and the
  // next process to wait for that lock, or to take the dead thread's lease,
  // repaired the side before carrying on.
  uint64_t send_lock_owner_deaths = 0;
  uint64_t receive_lock_owner_deaths = 0;
  // Sends that died mid-copy: their half-written slot was never published.
  uint64_t discarded_partial_sends = 0;
  // Messages a consumer took (advanced head) and died before returning; each
  // is lost to that dead consumer only.
  uint64_t receives_lost_to_dead_consumers = 0;
};

// What Queue::Inspect reports: a queue's Stats and who may use its object.
struct QueueInfo {
  Stats stats;
  uid_t owner = 0;      // the object's owner (its uid)
  mode_t mode = 0;      // its permission bits (07777)
  uint64_t bytes = 0;   // its size: all of it is reserved at create time
};

}  // namespace ringbuf

#endif  // RINGBUF_OPTIONS_H_
