// ringbuf::Queue: a bounded, multi-producer, multi-consumer message queue in
// one named POSIX shared-memory object, for processes on one host.
//
// A queue is a ring of `capacity` fixed-size slots. A message is any byte
// string of 0..slot_size bytes (binary-safe: NULs and newlines included);
// its boundaries are preserved. There is no daemon and no background thread:
// the mapping is the whole queue.
//
// Open modes. Queue::Create makes a new queue and fails if the name exists;
// Queue::Open attaches to an existing one and fails if it is missing;
// Queue::OpenOrCreate does whichever applies, safely when many processes race
// on the same name. Names are "orders" or "/orders" (the same queue).
//
// Concurrency. Any number of processes and threads may Send and Receive on
// one queue at once; one Queue handle may be shared by several threads.
//
// Guarantees.
//   * FIFO: messages are received in the order their sends committed (a send
//     commits just before it returns OK).
//   * Every byte a producer passed to a successful send is visible to the
//     consumer that receives the message, once its receive returns.
//   * Exactly once: each committed message is received by exactly one
//     Receive call, unless the process in that call dies before it returns.
//   * Full queue: Send blocks until a slot frees, SendFor until its timeout,
//     TrySend returns Unavailable at once. Empty queue: the same for the
//     receive calls.
//   * Crashes: a process killed at any instruction (SIGKILL, OOM, segfault)
//     never wedges the queue, never loses or duplicates a committed message
//     and never leaks a slot. A send killed before it returned OK may or may
//     not have committed; a receive killed before it returned loses at most
//     the one message it was taking. The next process to touch the killed
//     process's lock repairs it (Stats counts the repairs).
//   * Waiting costs no CPU: a blocked call spins for a few microseconds, then
//     sleeps in the kernel (waking every 200 ms to re-check, see
//     internal/counting_semaphore.h).
//
// Timeouts are measured on CLOCK_MONOTONIC, computed once per call, and bound
// the whole call including the wait for the queue's lock: a wall-clock jump
// neither shortens nor stretches them. A zero or negative timeout makes one
// attempt; absl::InfiniteDuration() waits forever.
//
// Lifetime. Destroying (or moving from) a Queue only unmaps it; the queue and
// its messages live on in /dev/shm until Queue::Remove(name) unlinks the name.
// Processes that still have it open keep working on the unlinked queue; new
// Opens of the name fail (or, after a new Create, reach a different queue).
// A moved-from Queue may only be destroyed or assigned to.
//
// Permissions. The object is created with exactly Options::mode (0600 by
// default: the creating user only); anyone who can open it can send, receive
// and corrupt it, so grant access only to trusted peers.

#ifndef RINGBUF_QUEUE_H_
#define RINGBUF_QUEUE_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "ringbuf/internal/deadline.h"
#include "ringbuf/internal/layout.h"
#include "ringbuf/internal/shm_mapping.h"
#include "ringbuf/options.h"

namespace ringbuf {

class Queue {
 public:
  // Creates a queue named `name` with the given geometry and mode.
  //   OK: the queue exists, is empty, and this handle is attached to it.
  //   AlreadyExists: the name exists (nothing is changed).
  //   InvalidArgument: bad name, capacity or slot_size.
  //   PermissionDenied, ResourceExhausted (/dev/shm full): from the system.
  static absl::StatusOr<Queue> Create(absl::string_view name,
                                      const Options& options);

  // Attaches to the existing queue `name`.
  //   NotFound: no such name.
  //   InvalidArgument: bad name.
  //   DataLoss: the object is not a ringbuf queue (foreign magic, too small,
  //     geometry that disagrees with its size); FailedPrecondition: a queue
  //     of another layout version. The message names the field.
  //   PermissionDenied: the mode does not let this user open it.
  static absl::StatusOr<Queue> Open(absl::string_view name);

  // Opens `name` if it exists, else creates it with `options`. Safe when
  // many processes race: exactly one creates, all end on the same queue.
  //   FailedPrecondition: the existing queue's capacity or slot_size differ
  //     from `options`.
  //   Otherwise the codes of Create and Open.
  static absl::StatusOr<Queue> OpenOrCreate(absl::string_view name,
                                            const Options& options);

  // Unlinks `name`. NotFound if it does not exist; InvalidArgument for a bad
  // name. Attached handles keep working (see Lifetime above).
  static absl::Status Remove(absl::string_view name);

  Queue(Queue&& other) noexcept;
  Queue& operator=(Queue&& other) noexcept;
  Queue(const Queue&) = delete;
  Queue& operator=(const Queue&) = delete;
  ~Queue() = default;

  // Sends one message, blocking while the queue is full.
  //   OK: committed; it will be received exactly once, after every message
  //     committed before it.
  //   InvalidArgument: message.size() > slot_size(); nothing is enqueued.
  //   DataLoss: the queue's shared state is corrupt.
  absl::Status Send(absl::string_view message);

  // As Send, but never waits for a free slot.
  //   Unavailable: the queue is full right now (or another producer held the
  //     send lock for longer than 10 ms).
  absl::Status TrySend(absl::string_view message);

  // As Send, but gives up after `timeout`.
  //   DeadlineExceeded: no slot freed (or the lock was not had) in time;
  //     nothing is enqueued.
  absl::Status SendFor(absl::string_view message, absl::Duration timeout);

  // Receives the oldest message into `*message` (replacing its contents,
  // reusing its buffer), blocking while the queue is empty.
  //   OK: `*message` holds the message, which no other receiver will get.
  //   DataLoss: the queue's shared state is corrupt. If only the slot's length
  //     word is, that message is dropped (counted as received) so the queue
  //     is not wedged, and the error names the slot.
  absl::Status Receive(std::string* message);

  // As Receive, but never waits for a message.
  //   Unavailable: the queue is empty right now (or another consumer held the
  //     receive lock for longer than 10 ms).
  absl::Status TryReceive(std::string* message);

  // As Receive, but gives up after `timeout`.
  //   DeadlineExceeded: no message arrived in time.
  absl::Status ReceiveFor(std::string* message, absl::Duration timeout);

  // A snapshot read without taking any lock, so it works even while a dead
  // process holds one. See Stats for how exact each field is.
  Stats GetStats() const;

  // The normalized name ("/orders").
  const std::string& name() const { return name_; }
  uint64_t capacity() const { return capacity_; }
  uint32_t slot_size() const { return slot_size_; }

 private:
  enum class Mode { kBlock, kTry };

  Queue(std::string name, internal::ShmMapping mapping,
        const internal::Geometry& geometry);

  absl::Status SendImpl(absl::string_view message,
                        const internal::Deadline& deadline, Mode mode);
  absl::Status ReceiveImpl(std::string* message,
                           const internal::Deadline& deadline, Mode mode);
  // Takes `side`'s lock, running `repair` first if its last owner died.
  absl::Status LockSide(internal::SideLock& side,
                        void (*repair)(internal::Header&),
                        const internal::Deadline& deadline, Mode mode);
  absl::Status Corrupt(uint64_t head, uint64_t tail) const;
  char* Slot(uint64_t index) const;

  std::string name_;
  internal::ShmMapping mapping_;
  internal::Header* header_ = nullptr;
  // Geometry copied out of the header once it was validated, so that a peer
  // scribbling on the header later cannot steer us outside the mapping.
  uint64_t capacity_ = 0;
  uint32_t slot_size_ = 0;
  uint64_t slot_stride_ = 0;
  char* slots_ = nullptr;
};

}  // namespace ringbuf

#endif  // RINGBUF_QUEUE_H_
