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
// Each thread that sends or receives through a handle holds one of the
// queue's 256 leases (a robust mutex in the mapping by which others learn
// that it died) from its first call until the handle is destroyed or the
// thread exits; so at most 256 threads (counting each handle a thread uses
// once) can use one queue at a time, and a call from one more returns
// ResourceExhausted. A thread that already holds a side's lock through a
// handle (an unfinished Peek, PeekBatch or Reserve) and calls again on that
// side through the same handle gets FailedPrecondition at once.
//
// Priorities (Options::priorities, 1 by default). Every send may name a
// priority, 0 (lowest, the default) .. priorities()-1; every receive takes the
// oldest message of the highest priority that has one, and the overloads
// with a `priority` out parameter report which (Peeked::priority() for Peek).
// The capacity is shared by all priorities: the queue holds capacity()
// messages in all, whatever their priorities, and a full queue blocks
// senders of every priority alike (as POSIX mq and Boost.Interprocess).
// Waiting is as cheap as with one level: a consumer sleeps once for a message
// at any priority, a producer once for any free slot. The cost: each
// priority has its own ring of capacity() slots, so the mapping grows with
// the number of priorities, and a receive reads every level's index (one
// cache line per 8 levels). A 1-level queue keeps the plain queue's layout
// and steps; the priority support costs it a few branches (measured: about
// 5% more instructions per uncontended send and receive).
//
// Guarantees.
//   * FIFO: messages of one priority are received in the order their sends
//     committed (a send commits just before it returns OK); a message of a
//     higher priority is received before every message of a lower one that
//     is in the queue when the receive takes it.
//   * Every byte a producer passed to a successful send is visible to the
//     consumer that receives the message, once its receive returns.
//   * Exactly once: each committed message is received by exactly one
//     Receive call, unless the process in that call dies before it returns.
//   * Full queue (capacity() messages, all priorities counted): Send blocks
//     until a slot frees, SendFor until its timeout,
//     TrySend returns Unavailable without waiting for space (it may still
//     wait up to 10 ms for a busy lock, see Busy locks). Empty queue: the
//     same for the receive calls.
//   * Crashes: a process killed at any instruction (SIGKILL, OOM, segfault)
//     never wedges the queue, never loses or duplicates a committed message
//     and never leaks a slot. A send killed before it returned OK may or may
//     not have committed; a receive killed before it returned loses at most
//     the one message (a ReceiveBatch: the batch) it was taking. The next
//     process to wait for the killed process's lock, or to take its lease,
//     repairs it within 50 ms (Stats counts the repairs).
//   * Waiting costs no CPU: a blocked call spins for at most a few
//     microseconds (not at all when the process it waits for last ran on
//     its CPU), yields a few times, then sleeps in the kernel (waking once a
//     second to re-check, see internal/spin.h and counting_semaphore.h).
//
// Timeouts are measured on CLOCK_MONOTONIC, computed once per call (when it
// first has to wait: a call that never waits never reads the clock), and bound
// the whole call including the wait for the queue's lock, except that a busy
// lock is always given at least 10 ms (Busy locks, below): a wall-clock jump
// neither shortens nor stretches them. A zero or negative timeout makes one
// attempt; absl::InfiniteDuration() waits forever.
//
// Busy locks. Each side (send, receive) has one lock, held by a call for one
// copy, or by a Reservation or a Peeked until it is committed or released.
// Every call waits for it at least 10 ms whatever its timeout (a zero timeout
// included; longer if the timeout is longer). If it is still busy then and
// the call has not yet looked at the queue, the call returns Unavailable
// ("lock stayed busy"), having changed nothing. So DeadlineExceeded always
// means the call saw the queue full (sends) or empty (receives) and nothing
// freed (arrived) for it by the deadline, never that it could not look: a
// drain that stops on DeadlineExceeded really emptied the queue at some
// instant. A timed call in a loop treats both as "try again".
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
//
// Owners (ringbuf/trust.h). Any user may create a name in /dev/shm first
// (squatting). Open, OpenOrCreate (when it opens) and Remove therefore
// accept only an object whose owner the given Trust accepts: by default
// this process's effective uid and root. The owner is read from the
// descriptor that is then mapped, never looked up again by name. To share a
// queue across users, the creator uses Create, never OpenOrCreate, with a
// group mode such as 0660: Create guarantees a new object with exactly that
// mode, and a name someone else took first fails loudly with AlreadyExists
// naming its owner. The other users open it trusting the creator
// (Trust::Owner("svc-a")).

#ifndef RINGBUF_QUEUE_H_
#define RINGBUF_QUEUE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "ringbuf/options.h"
#include "ringbuf/trust.h"

namespace ringbuf {

// Defined in ringbuf/internal/, which is not installed: this header names
// them only through pointers and references, so the installed API exposes no
// internals and they may change without breaking a caller's build.
namespace internal {
class Deadline;
struct Geometry;
struct Header;
struct InsideMarks;
struct Levels;
class ShmMapping;
struct SideLock;
}  // namespace internal

class Queue {
 public:
  // Creates a queue named `name` with the given geometry and mode.
  //   OK: the queue exists, is empty, and this handle is attached to it.
  //   AlreadyExists: the name exists (nothing is changed); the message names
  //     its owner and mode, so a name squatted by another user is seen.
  //   InvalidArgument: bad name, capacity or slot_size.
  //   PermissionDenied, ResourceExhausted (/dev/shm full): from the system.
  static absl::StatusOr<Queue> Create(absl::string_view name,
                                      const Options& options);

  // Attaches to the existing queue `name`, if `trust` accepts its owner.
  //   NotFound: no such name.
  //   InvalidArgument: bad name.
  //   PermissionDenied: the owner is not trusted (the message names the
  //     owner and its uid, calls out a mode that lets any user write the
  //     object, and says how to trust that owner); or the mode does not let
  //     this user open it.
  //   DataLoss: the object is not a ringbuf queue (foreign magic, too small,
  //     geometry that disagrees with its size); FailedPrecondition: a queue
  //     of another layout version. The message names the field.
  static absl::StatusOr<Queue> Open(absl::string_view name,
                                    const Trust& trust = Trust());

  // Opens `name` if it exists (and `trust` accepts its owner, as Open),
  // else creates it with `options`. Safe when many processes race: exactly
  // one creates, all end on the same queue.
  //   FailedPrecondition: the existing queue's capacity, slot_size or
  //     priorities differ from `options`.
  //   Otherwise the codes of Create and Open.
  static absl::StatusOr<Queue> OpenOrCreate(absl::string_view name,
                                            const Options& options,
                                            const Trust& trust = Trust());

  // Unlinks `name`, if `trust` accepts the owner of the object it names.
  // Attached handles keep working (see Lifetime above).
  //   NotFound: no such name.
  //   InvalidArgument: bad name.
  //   PermissionDenied: the owner is not trusted (as Open; checked by name
  //     just before unlinking: a guard against removing another user's queue
  //     by mistake), or the system refused.
  static absl::Status Remove(absl::string_view name,
                             const Trust& trust = Trust());

  Queue(Queue&& other) noexcept;
  Queue& operator=(Queue&& other) noexcept;
  Queue(const Queue&) = delete;
  Queue& operator=(const Queue&) = delete;
  ~Queue();

  // Sends one message, blocking while the queue is full.
  //   OK: committed; it will be received exactly once, after every message
  //     committed before it.
  //   InvalidArgument: message.size() > slot_size(); nothing is enqueued.
  //   Cancelled: Shutdown() was called on this handle.
  //   DataLoss: the queue's shared state is corrupt.
  absl::Status Send(absl::string_view message);

  // As Send, but never waits for a free slot.
  //   Unavailable: the queue is full right now, or the send lock stayed busy
  //     (see Busy locks above).
  absl::Status TrySend(absl::string_view message);

  // As Send, but gives up after `timeout`.
  //   DeadlineExceeded: the queue was full until `timeout` passed; nothing
  //     is enqueued.
  //   Unavailable: the send lock stayed busy (see Busy locks above); nothing
  //     is enqueued.
  absl::Status SendFor(absl::string_view message, absl::Duration timeout);

  // Sends `messages` in order, taking the send lock and waking consumers once
  // per group of messages that fit at a time (once in all, if they all fit).
  // Each message commits as in Send; they are not atomic as a group: another
  // producer's messages may fall between groups. `*sent` (required) is how
  // many were committed, also on error.
  //   OK: all were committed.
  //   DeadlineExceeded, Unavailable: as SendFor (the queue stayed full, the
  //     lock stayed busy); the first *sent were committed, the rest were not.
  //   InvalidArgument: some message is longer than slot_size(); none was sent.
  //   Cancelled, DataLoss: as Send; *sent says how many went before.
  absl::Status SendBatch(absl::Span<const absl::string_view> messages,
                         absl::Duration timeout, size_t* sent);

  // The calls above, at `priority` (the calls above send at 0).
  //   InvalidArgument: priority >= priorities(); nothing is enqueued.
  //   Otherwise as the call without `priority`.
  absl::Status Send(absl::string_view message, uint32_t priority);
  absl::Status TrySend(absl::string_view message, uint32_t priority);
  absl::Status SendFor(absl::string_view message, uint32_t priority,
                       absl::Duration timeout);
  absl::Status SendBatch(absl::Span<const absl::string_view> messages,
                         uint32_t priority, absl::Duration timeout,
                         size_t* sent);

  // Receives the oldest message of the highest non-empty priority into
  // `*message` (replacing its contents, reusing its buffer), blocking while
  // the queue is empty.
  //   OK: `*message` holds the message, which no other receiver will get.
  //   ResourceExhausted: no memory to grow `*message`; the message stays in
  //     the queue.
  //   Cancelled: Shutdown() was called on this handle.
  //   DataLoss: the queue's shared state is corrupt. If only the slot's length
  //     word is, that message is dropped (counted as received) so the queue
  //     is not wedged, and the error names the slot.
  absl::Status Receive(std::string* message);

  // As Receive, but never waits for a message.
  //   Unavailable: the queue is empty right now, or the receive lock stayed
  //     busy (see Busy locks above).
  absl::Status TryReceive(std::string* message);

  // As Receive, but gives up after `timeout`.
  //   DeadlineExceeded: the queue was empty until `timeout` passed.
  //   Unavailable: the receive lock stayed busy (see Busy locks above): the
  //     queue was not seen empty and may hold messages.
  absl::Status ReceiveFor(std::string* message, absl::Duration timeout);

  // The calls above, also storing the message's priority in `*priority` on
  // OK (if priority is not null). Codes as the calls above.
  absl::Status Receive(std::string* message, uint32_t* priority);
  absl::Status TryReceive(std::string* message, uint32_t* priority);
  absl::Status ReceiveFor(std::string* message, absl::Duration timeout,
                          uint32_t* priority);

  // Receives into a caller's buffer: the message's length on OK.
  //   ResourceExhausted: the oldest message is longer than buffer.size(); it
  //     stays in the queue. The status carries its length as the payload
  //     kMessageSizePayload (decimal), see MessageSizeOf().
  //   Otherwise as ReceiveFor.
  absl::StatusOr<size_t> ReceiveInto(absl::Span<char> buffer,
                                     absl::Duration timeout);
  // As ReceiveInto, but never waits for a message (Unavailable, as
  // TryReceive).
  absl::StatusOr<size_t> TryReceiveInto(absl::Span<char> buffer);
  // The same, also storing the message's priority on OK (if not null).
  absl::StatusOr<size_t> ReceiveInto(absl::Span<char> buffer,
                                     absl::Duration timeout,
                                     uint32_t* priority);
  absl::StatusOr<size_t> TryReceiveInto(absl::Span<char> buffer,
                                        uint32_t* priority);
  static constexpr absl::string_view kMessageSizePayload =
      "ringbuf/message_size";
  // The message length a ResourceExhausted status from ReceiveInto carries,
  // or 0 if `status` has none.
  static size_t MessageSizeOf(const absl::Status& status);

  // Waits up to `timeout` for at least one message, then takes up to
  // `max_messages` of those waiting with one lock acquisition and one wake-up
  // of producers, appending them to `*out` in order. All are of one
  // priority, the highest non-empty one (stored in `*priority` if that is
  // not null); the next call takes the next.
  //   OK: at least one message was appended.
  //   DeadlineExceeded: the queue was empty until `timeout` passed; `*out`
  //     is unchanged.
  //   Unavailable: the receive lock stayed busy (as ReceiveFor).
  //   ResourceExhausted: out of memory; the messages appended so far were
  //     taken, the rest stay in the queue.
  //   Cancelled, DataLoss: as Receive; messages already taken are in *out.
  absl::Status ReceiveBatch(size_t max_messages, absl::Duration timeout,
                            std::vector<std::string>* out);
  absl::Status ReceiveBatch(size_t max_messages, absl::Duration timeout,
                            std::vector<std::string>* out, uint32_t* priority);

  // Zero-copy send: a slot reserved for this thread to write in place.
  class Reservation;
  // Waits up to `timeout` for a free slot and reserves it; the send lock is
  // held until the reservation is committed or dropped, so write promptly,
  // and commit or drop it on the thread that reserved it. A process that dies
  // holding a reservation has it reclaimed by crash recovery; nothing of it
  // is ever delivered. Codes as SendFor.
  absl::StatusOr<Reservation> Reserve(absl::Duration timeout);
  // The same at `priority` (InvalidArgument if priority >= priorities()).
  absl::StatusOr<Reservation> Reserve(uint32_t priority, absl::Duration timeout);

  // Zero-copy receive: the next message (as Receive), seen in its slot.
  class Peeked;
  // Waits up to `timeout` for a message and returns a view of it in place;
  // the receive lock is held until it is released or dropped (same thread).
  // Release() takes the message; dropping the Peeked without Release()
  // leaves it at the head of the queue. A process that dies holding one
  // leaves the message in the queue. Codes as ReceiveFor.
  absl::StatusOr<Peeked> Peek(absl::Duration timeout);

  // Wakes every thread blocked in a call on this handle (waiting for space,
  // messages or a side lock) and makes them, and every later call on this
  // handle, return Cancelled; a blocked call that finds its slot or message
  // at that very moment may still complete with OK. Reservations and Peeked
  // messages already handed out stay valid until committed or dropped.
  // Other handles and processes are unaffected (the queue stays as it is). Safe to call from
  // any thread, more than once, and from a signal handler (it stores an
  // atomic and makes futex system calls only). For a service's SIGTERM path.
  void Shutdown();

  // A snapshot read without taking any lock, so it works even while a dead
  // process holds one. See Stats for how exact each field is.
  Stats GetStats() const;

  // Looks at the queue `name` without attaching to it, for operators' tools:
  // the object is opened and mapped read-only (read permission suffices),
  // no lock is taken and nothing is written, so it works on a queue whose
  // lock a dead process holds, and whoever owns the object. The stats are
  // as GetStats(); owner and mode are the object's (fstat).
  //   NotFound, InvalidArgument, DataLoss (not a ringbuf queue, or not a
  //   regular file), FailedPrecondition (another layout version),
  //   PermissionDenied: as Open.
  static absl::StatusOr<QueueInfo> Inspect(absl::string_view name);

  // The normalized name ("/orders").
  const std::string& name() const { return name_; }
  uint64_t capacity() const { return capacity_; }
  uint32_t slot_size() const { return slot_size_; }
  // Options::priorities of the queue: valid priorities are 0..priorities()-1.
  uint32_t priorities() const { return priorities_; }

  // ---------------------------------------------------------------------------
  // Forwarding: a batch peek with ring indexes and the queue's incarnation,
  // for a consumer that hands messages on to another system and takes them
  // only once that system has them (ringbuf-bridge).

  // A random 64-bit number drawn by the creator of this queue: a queue that is
  // removed and created again under the same name has another one (equal
  // with probability 2^-64). With a message's ring index (below) it names
  // that message for its whole life, in any process, across restarts.
  uint64_t incarnation() const;

  // Waits up to `timeout` for at least one message, then shows up to
  // `max_messages` of the oldest in place, each with its ring index (the
  // number of messages committed to this queue before it; consecutive). The
  // receive lock is held until the batch is released or dropped (on the same
  // thread), so every other consumer of this queue waits that long: this is
  // for a queue's single forwarding consumer. PeekedBatch::Release(k) takes
  // the first k; dropping the batch takes none. A process that dies holding
  // a batch takes none either: every message of it stays in the queue and
  // the next consumer repairs the lock.
  //   InvalidArgument: max_messages is 0.
  //   FailedPrecondition: the queue has several priorities (each numbers
  //     its own messages, so a ring index would not name one).
  //   DataLoss: as Receive, the oldest message's length word is corrupt and
  //     it was dropped. A corrupt message later on ends the batch before it
  //     (the next PeekBatch reports it).
  //   ResourceExhausted: no memory for the batch's views; nothing taken.
  //   Otherwise the codes of ReceiveFor.
  class PeekedBatch;
  absl::StatusOr<PeekedBatch> PeekBatch(size_t max_messages,
                                        absl::Duration timeout);
  // --- end of the forwarding block.

 private:
  friend class QueueNotifier;
  enum class Mode { kBlock, kTry };

  Queue(std::string name, internal::ShmMapping mapping,
        const internal::Geometry& geometry);

  // Takes the send lock with at least one free slot, waiting as `mode` and
  // `deadline` allow; on OK the lock is held, slot[*tail] onwards is free
  // for *free messages, and the side's progress says kCopying.
  // *tail is an index of `level`'s ring (the ring, with one level).
  //
  // This and the calls below that have a template twin over kLeveled
  // (priorities_ > 1) pick it by priorities_: the 1-level instantiation is
  // the queue's code from before priorities (level 0, no level arithmetic,
  // no branch on the level count; issue 14 keeps the 1-level speed), and the
  // hot paths (SendGroups, ReceiveOne) pick once per call.
  absl::Status AcquireSpace(const internal::Deadline& deadline, Mode mode,
                            uint64_t want, uint32_t level, uint64_t* tail,
                            uint64_t* free);
  template <bool kLeveled>
  absl::Status AcquireSpace(const internal::Deadline& deadline, Mode mode,
                            uint64_t want, uint32_t level, uint64_t* tail,
                            uint64_t* free);
  // Commits n slots of `level` from `tail` on, releases the lock and wakes
  // consumers.
  void PublishTail(uint32_t level, uint64_t tail, uint64_t n);
  template <bool kLeveled>
  void PublishTail(uint32_t level, uint64_t tail, uint64_t n);
  // Releases the send lock without committing anything.
  void AbandonSend();
  // The mirror images for the receive side; *level is the highest level
  // with messages, *head an index of its ring.
  absl::Status AcquireMessages(const internal::Deadline& deadline, Mode mode,
                               uint32_t* level, uint64_t* head,
                               uint64_t* available);
  template <bool kLeveled>
  absl::Status AcquireMessages(const internal::Deadline& deadline, Mode mode,
                               uint32_t* level, uint64_t* head,
                               uint64_t* available);
  // The multi-level part of AcquireMessages (receive lock held): picks the
  // highest level with messages; *available 0 if none. DataLoss naming the
  // level if its indexes are corrupt.
  absl::Status PickLevel(uint32_t* level, uint64_t* head,
                         uint64_t* available) const;
  // Takes n messages of `level` from `head` on, releases the lock and wakes
  // producers.
  void PublishHead(uint32_t level, uint64_t head, uint64_t n);
  template <bool kLeveled>
  void PublishHead(uint32_t level, uint64_t head, uint64_t n);
  void AbandonReceive();

  // Checks the arguments, then sends with SendGroups.
  absl::Status SendImpl(absl::Span<const absl::string_view> messages,
                        uint32_t priority, const internal::Deadline& deadline,
                        Mode mode, size_t* sent);
  // Sends checked `messages` at `level`, a group of those that fit at a time.
  template <bool kLeveled>
  absl::Status SendGroups(absl::Span<const absl::string_view> messages,
                          uint32_t level, const internal::Deadline& deadline,
                          Mode mode, size_t* sent);
  // Receives one message with ReceiveOne.
  absl::Status ReceiveImpl(std::string* message,
                           const internal::Deadline& deadline, Mode mode,
                           uint32_t* priority);
  template <bool kLeveled>
  absl::Status ReceiveOne(std::string* message,
                          const internal::Deadline& deadline, Mode mode,
                          uint32_t* priority);
  absl::StatusOr<size_t> ReceiveIntoImpl(absl::Span<char> buffer,
                                         const internal::Deadline& deadline,
                                         Mode mode, uint32_t* priority);
  // Takes `side`'s lock for this thread's lease, releasing it first from
  // a holder found gone (internal/recovery.h).
  absl::Status LockSide(internal::SideLock& side,
                        const internal::Deadline& deadline, Mode mode);
  absl::Status LockSideSlowly(internal::SideLock& side,
                              const internal::Deadline& deadline, Mode mode);
  // Where this thread's lease marks itself inside `side`'s lock through a
  // bias (internal/leased_lock.h).
  internal::InsideMarks Marks(const internal::SideLock& side) const;
  // Gives back this thread's lease in the mapping (the handle is going).
  void DropThisThreadsLease();
  // The payload of `level`'s message at `head` (receive lock held), or
  // false with the out-of-range length word in *bad_length. Allocates
  // nothing, so no out-of-memory exception can leave the lock held.
  bool Payload(uint32_t level, uint64_t head, absl::string_view* payload,
               uint32_t* bad_length) const;
  // DataLoss naming a message dropped for its length word; called once the
  // lock is released, and never throws (out of memory: the code alone).
  absl::Status DroppedMessage(uint32_t level, uint64_t head,
                              uint32_t length) const;
  absl::Status CheckUsable() const;
  // InvalidArgument for a priority >= priorities_.
  absl::Status PriorityOutOfRange(uint32_t priority) const;
  // What a side lock that stayed busy means once the call has looked at the
  // queue and waited: its timeout (DeadlineExceeded for `waited_for`).
  absl::Status BusyAfterLooking(const absl::Status& status,
                                absl::string_view waited_for) const;
  absl::Status Corrupt(uint64_t head, uint64_t tail) const;
  char* Slot(uint32_t level, uint64_t index) const;
  internal::Levels levels() const;

  std::string name_;
  // Owns the mapping (unmapped when the Queue goes); the hot path reaches the
  // memory through header_ and slots_ only.
  std::unique_ptr<internal::ShmMapping> mapping_;
  internal::Header* header_ = nullptr;
  // Geometry copied out of the header once it was validated, so that a peer
  // scribbling on the header later cannot steer us outside the mapping.
  uint64_t capacity_ = 0;
  uint32_t slot_size_ = 0;
  uint64_t slot_stride_ = 0;
  uint32_t priorities_ = 1;
  char* slots_ = nullptr;
  // The level indexes of a queue of several priorities (null with one).
  std::atomic<uint64_t>* level_tails_ = nullptr;
  std::atomic<uint64_t>* level_heads_ = nullptr;
  // Set by Shutdown(); on the heap so that its address is stable for
  // threads blocked in this handle.
  std::unique_ptr<std::atomic<bool>> shut_down_;
};

// A reserved slot (Queue::Reserve). Move-only; dropping it uncommitted
// releases the slot with nothing sent. It refers to its Queue, which must not
// be moved or destroyed while it exists (nor while a Peeked or a
// QueueNotifier does).
class Queue::Reservation {
 public:
  Reservation(Reservation&& other) noexcept;
  Reservation& operator=(Reservation&& other) noexcept;
  ~Reservation();

  // Where to write: slot_size() bytes, in the shared mapping.
  absl::Span<char> buffer() const { return buffer_; }

  // Publishes the first `length` bytes of buffer() as one message.
  //   OK: committed, exactly as Send.
  //   InvalidArgument: length > buffer().size(); still reserved.
  //   FailedPrecondition: already committed or dropped.
  absl::Status Commit(size_t length);

 private:
  friend class Queue;
  Reservation(Queue* queue, uint32_t level, uint64_t tail,
              absl::Span<char> buffer)
      : queue_(queue), level_(level), tail_(tail), buffer_(buffer) {}
  Queue* queue_;
  uint32_t level_;
  uint64_t tail_;
  absl::Span<char> buffer_;
};

// A message seen in place (Queue::Peek). Move-only; dropping it without
// Release() leaves the message at the head of the queue.
class Queue::Peeked {
 public:
  Peeked(Peeked&& other) noexcept;
  Peeked& operator=(Peeked&& other) noexcept;
  ~Peeked();

  // The message bytes, in the shared mapping; valid until Release() or drop.
  absl::string_view data() const { return data_; }
  // The message's priority.
  uint32_t priority() const { return level_; }

  // Takes the message: no other receiver will get it.
  //   FailedPrecondition: already released or dropped.
  absl::Status Release();

 private:
  friend class Queue;
  Peeked(Queue* queue, uint32_t level, uint64_t head, absl::string_view data)
      : queue_(queue), level_(level), head_(head), data_(data) {}
  Queue* queue_;
  uint32_t level_;
  uint64_t head_;
  absl::string_view data_;
};

// Messages seen in place (Queue::PeekBatch), oldest first. Move-only;
// dropping it without Release() leaves every message in the queue.
class Queue::PeekedBatch {
 public:
  PeekedBatch(PeekedBatch&& other) noexcept;
  PeekedBatch& operator=(PeekedBatch&& other) noexcept;
  ~PeekedBatch();

  size_t size() const { return data_.size(); }
  // The ring index of message i: first_index() + i.
  uint64_t first_index() const { return first_index_; }
  // Message i's bytes, in the shared mapping; valid until Release() or drop.
  absl::string_view data(size_t i) const { return data_[i]; }

  // Takes the first `count` messages (0..size()) and drops the batch: the
  // rest stay at the head of the queue, in order.
  //   InvalidArgument: count > size(); nothing is taken, the batch is held.
  //   FailedPrecondition: already released or dropped.
  absl::Status Release(size_t count);

 private:
  friend class Queue;
  PeekedBatch(Queue* queue, uint64_t first_index,
              std::vector<absl::string_view> data)
      : queue_(queue), first_index_(first_index), data_(std::move(data)) {}
  Queue* queue_;
  uint64_t first_index_;
  std::vector<absl::string_view> data_;
};

}  // namespace ringbuf

#endif  // RINGBUF_QUEUE_H_
