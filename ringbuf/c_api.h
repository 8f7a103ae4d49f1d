/* ringbuf C API: the queue of ringbuf/queue.h for C programs and for other
 * languages' foreign-function interfaces (Python ctypes, Rust, Go cgo).
 *
 * This is a pure C header (C99 or later, and C++). Every function is a thin,
 * non-throwing wrapper over ringbuf::Queue, so the queue is the same one: a
 * bounded, multi-producer, multi-consumer message queue in one named POSIX
 * shared-memory object, for processes on one host. C, C++, Python, ...
 * processes may send and receive on the same queue at once.
 *
 * A queue is a ring of `capacity` fixed-size slots. A message is any byte
 * string of 0..slot_size bytes (binary-safe: NULs and newlines included);
 * its boundaries are preserved.
 *
 * Open modes. ringbuf_create makes a new queue and fails if the name exists;
 * ringbuf_open attaches to an existing one and fails if it is missing;
 * ringbuf_open_or_create does whichever applies, safely when many processes
 * race on the same name. Names are "orders" or "/orders" (the same queue):
 * 1..240 bytes after the optional leading '/', with no other '/'.
 *
 * Concurrency. Any number of processes and threads may send and receive on
 * one queue at once; one ringbuf_queue handle may be shared by several
 * threads, except that ringbuf_close must be the last call on it. As in
 * ringbuf/queue.h: at most 256 threads (each handle a thread uses counting
 * once) can use one queue at a time, one more gets
 * RINGBUF_RESOURCE_EXHAUSTED; a thread holding a peek or a reservation that
 * calls on the same side through the same handle gets
 * RINGBUF_FAILED_PRECONDITION.
 *
 * Guarantees (as ringbuf/queue.h states them):
 *   - FIFO: messages are received in the order their sends committed (a send
 *     commits just before it returns RINGBUF_OK).
 *   - Every byte a producer passed to a successful send is visible to the
 *     consumer that receives the message, once its receive returns.
 *   - Exactly once: each committed message is received by exactly one
 *     receive call, unless the process in that call dies before it returns.
 *   - Full queue: a send waits for a free slot as its timeout allows; empty
 *     queue: a receive waits for a message as its timeout allows.
 *   - Crashes: a process killed at any instruction never wedges the queue,
 *     never loses or duplicates a committed message and never leaks a slot.
 *   - Waiting costs no CPU: a blocked call sleeps in the kernel.
 *
 * Timeouts. The send and receive calls take `timeout_ns`, in nanoseconds on
 * CLOCK_MONOTONIC, bounding the whole call (the wait for the queue's lock
 * included, but see Busy locks):
 *   timeout_ns < 0   waits as long as it takes (RINGBUF_WAIT_FOREVER);
 *   timeout_ns == 0  tries once: "full (empty) right now" is
 *                    RINGBUF_UNAVAILABLE;
 *   timeout_ns > 0   waits at most that long: the queue staying full (empty)
 *                    is RINGBUF_DEADLINE_EXCEEDED, and never happens early.
 * ringbuf_shutdown ends every wait on its handle early, with
 * RINGBUF_CANCELLED.
 *
 * Busy locks (ringbuf/queue.h). Each side of a queue has one lock, held by a
 * call for one copy, or by a reservation (send) or a peek (receive) until it
 * ends. Every call waits for it at least 10 ms, whatever its timeout (0
 * included). If it is still busy then, or at the deadline if that is later,
 * and the call has not looked at the queue yet, the call returns
 * RINGBUF_UNAVAILABLE ("lock stayed busy"), having changed nothing. So
 * RINGBUF_DEADLINE_EXCEEDED always means the queue was seen full (empty) and
 * stayed so; from a timed call RINGBUF_UNAVAILABLE means it was not looked
 * at (it may have room, or messages); from a try (timeout_ns == 0) it means
 * either. A timed call in a loop treats both as "try again".
 *
 * Errors. Every fallible call returns an int: RINGBUF_OK (0) or one of the
 * ringbuf_status codes below, whose values are absl::StatusCode's. Each
 * function lists the codes it returns; any call may also return
 * RINGBUF_INTERNAL if memory runs out in the wrapper itself. A failed call
 * leaves a message in ringbuf_last_error(). No function throws, aborts or
 * prints.
 *
 * Lifetime. ringbuf_close only unmaps: the queue and its messages live on in
 * /dev/shm until ringbuf_remove(name) unlinks the name. Processes that still
 * have it open keep working on the unlinked queue; new opens of the name fail
 * (or, after a new create, reach a different queue).
 *
 * Permissions. The object is created with exactly `mode` (0600: the creating
 * user only; the process umask is not consulted); anyone who can open it can
 * send, receive and corrupt it, so grant access only to trusted peers.
 * Opening and removing accept only a queue owned by this process's effective
 * uid or root, since any user may create a name first (squatting); the
 * *_trusting calls at the end of this header name another owner to accept.
 *
 * Linking: C and C++ programs built with Bazel depend on //ringbuf:c_api;
 * FFIs load the shared library //ringbuf:libringbuf_c.so, which exports the
 * ringbuf_* functions and nothing else. examples/c_consumer.c and
 * examples/py_consumer.py show both; the Python package (python/) is a
 * CPython extension over this API.
 *
 * Versions: RINGBUF_VERSION_* (ringbuf/version.h, included below) are the
 * version compiled against, ringbuf_version() the one running. Structs that
 * may grow carry their size (struct ringbuf_stats).
 */
#ifndef RINGBUF_C_API_H_
#define RINGBUF_C_API_H_

#include <stddef.h>
#include <stdint.h>

#include "ringbuf/version.h" /* RINGBUF_VERSION_*, also for C */

#ifdef __cplusplus
#define RINGBUF_C_NOEXCEPT noexcept
extern "C" {
#else
#define RINGBUF_C_NOEXCEPT
#endif

/* An attached queue (ringbuf::Queue). Opaque; from ringbuf_create,
 * ringbuf_open or ringbuf_open_or_create, released by ringbuf_close. */
typedef struct ringbuf_queue ringbuf_queue;

/* Return codes: the values of absl::StatusCode. The calls return the subset
 * each function's comment lists. */
typedef enum ringbuf_status {
  RINGBUF_OK = 0,
  RINGBUF_CANCELLED = 1,
  RINGBUF_UNKNOWN = 2,
  RINGBUF_INVALID_ARGUMENT = 3,
  RINGBUF_DEADLINE_EXCEEDED = 4,
  RINGBUF_NOT_FOUND = 5,
  RINGBUF_ALREADY_EXISTS = 6,
  RINGBUF_PERMISSION_DENIED = 7,
  RINGBUF_RESOURCE_EXHAUSTED = 8,
  RINGBUF_FAILED_PRECONDITION = 9,
  RINGBUF_ABORTED = 10,
  RINGBUF_OUT_OF_RANGE = 11,
  RINGBUF_UNIMPLEMENTED = 12,
  RINGBUF_INTERNAL = 13,
  RINGBUF_UNAVAILABLE = 14,
  RINGBUF_DATA_LOSS = 15,
  RINGBUF_UNAUTHENTICATED = 16
} ringbuf_status;

/* timeout_ns values (any negative value waits forever). */
#define RINGBUF_WAIT_FOREVER ((int64_t)-1)
#define RINGBUF_NO_WAIT ((int64_t)0)

/* A snapshot of a queue (ringbuf::Stats), read without taking its locks:
 * every field is exact at some instant, but the fields are not read at the
 * same instant, so depth may disagree with tail - head by the operations in
 * flight while it ran. Like `struct stat` and stat(), the struct and the
 * function ringbuf_stats share a name: write `struct ringbuf_stats`.
 *
 * Versioned by its size, so that it can grow: the caller sets `size` to
 * sizeof(struct ringbuf_stats) as its header declares it (RINGBUF_STATS_INIT
 * does), and the library fills only the fields that fit in that many bytes,
 * then sets `size` to the bytes it filled. A program built against an older,
 * shorter struct keeps working with a newer library; a newer program on an
 * older library sees `size` come back smaller and leaves the fields beyond it
 * alone. New fields are only ever appended. */
struct ringbuf_stats {
  uint32_t size; /* in: sizeof the caller's struct; out: bytes filled */
  uint32_t slot_size;
  uint64_t capacity;
  /* Messages committed and not yet taken (approximate under concurrency). */
  uint64_t depth;
  /* Monotonic ring indexes: head counts messages ever taken, tail messages
   * ever committed; slot = index % capacity. */
  uint64_t head;
  uint64_t tail;
  uint64_t total_sent;     /* == tail */
  uint64_t total_received; /* == head */
  /* Crash recovery, counted since the queue was created. Times a thread
   * died (or exited) holding the send (receive) lock and the next process to
   * wait for it, or to take the dead thread's lease, repaired it. */
  uint64_t send_lock_owner_deaths;
  uint64_t receive_lock_owner_deaths;
  /* Sends that died mid-copy: their half-written slot was never published. */
  uint64_t discarded_partial_sends;
  /* Messages a consumer took and died before returning; each is lost to that
   * dead consumer only. */
  uint64_t receives_lost_to_dead_consumers;
  /* Appended with priorities (see Priorities below): the queue's number of
   * priorities, and the messages waiting at each (the first `priorities`
   * entries). */
  uint32_t priorities;
  uint32_t reserved;
  uint64_t depth_by_priority[32];
};

/* Initializer for a struct ringbuf_stats about to be passed to
 * ringbuf_stats: `struct ringbuf_stats s = RINGBUF_STATS_INIT;` */
#define RINGBUF_STATS_INIT                                              \
  {                                                                     \
    sizeof(struct ringbuf_stats), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, \
        { 0 }                                                           \
  }

/* One message to send: `len` bytes at `data` (NULL allowed when len is 0). */
typedef struct ringbuf_message {
  const void* data;
  size_t len;
} ringbuf_message;

/* A slot reserved for writing in place (ringbuf_reserve). Opaque; ended by
 * ringbuf_reservation_commit or ringbuf_reservation_drop. */
typedef struct ringbuf_reservation ringbuf_reservation;

/* The oldest message, seen in its slot (ringbuf_peek). Opaque; ended by
 * ringbuf_peeked_release or ringbuf_peeked_drop. */
typedef struct ringbuf_peeked ringbuf_peeked;

/* A file descriptor for poll/epoll that becomes readable on queue activity
 * (ringbuf/notifier.h). Opaque; from ringbuf_notifier_create. */
typedef struct ringbuf_notifier ringbuf_notifier;

/* What a notifier watches. */
typedef enum ringbuf_event {
  RINGBUF_EVENT_MESSAGES = 0, /* messages were committed (for consumers) */
  RINGBUF_EVENT_SPACE = 1     /* slots were freed (for producers) */
} ringbuf_event;

/* ---- Opening and removing --------------------------------------------- */

/* Creates a queue named `name` holding `capacity` messages of up to
 * `slot_size` bytes each, with permission bits `mode` (e.g. 0600), and
 * attaches to it: *out is set on OK only.
 *   RINGBUF_OK: the queue exists, is empty, and *out is attached to it.
 *   RINGBUF_ALREADY_EXISTS: the name exists (nothing is changed); the
 *     message names its owner and mode.
 *   RINGBUF_INVALID_ARGUMENT: bad name; capacity not in 1..2^24; slot_size
 *     not in 1..2^26; mode bits outside 0777; name or out NULL.
 *   RINGBUF_PERMISSION_DENIED, RINGBUF_RESOURCE_EXHAUSTED (/dev/shm full):
 *     from the system. */
int ringbuf_create(const char* name, uint64_t capacity, uint32_t slot_size,
                   uint32_t mode, ringbuf_queue** out) RINGBUF_C_NOEXCEPT;

/* Attaches to the existing queue `name`: *out is set on OK only.
 *   RINGBUF_NOT_FOUND: no such name.
 *   RINGBUF_INVALID_ARGUMENT: bad name; name or out NULL.
 *   RINGBUF_DATA_LOSS: the object is not a ringbuf queue (foreign magic, too
 *     small, geometry that disagrees with its size);
 *   RINGBUF_FAILED_PRECONDITION: a queue of another layout version. The
 *     message names the field.
 *   RINGBUF_PERMISSION_DENIED: the queue is owned by neither this effective
 *     uid nor root (the message names the owner and how to trust it; see
 *     ringbuf_open_trusting), or the mode does not let this user open it. */
int ringbuf_open(const char* name, ringbuf_queue** out) RINGBUF_C_NOEXCEPT;

/* Opens `name` if it exists, else creates it as ringbuf_create would. Safe
 * when many processes race: exactly one creates, all end on the same queue.
 *   RINGBUF_FAILED_PRECONDITION: the existing queue's capacity or slot_size
 *     differ from the arguments.
 *   RINGBUF_ABORTED: the name kept being created and removed under us.
 *   Otherwise the codes of ringbuf_create and ringbuf_open. */
int ringbuf_open_or_create(const char* name, uint64_t capacity,
                           uint32_t slot_size, uint32_t mode,
                           ringbuf_queue** out) RINGBUF_C_NOEXCEPT;

/* Unlinks `name`. Attached handles keep working (see Lifetime above).
 *   RINGBUF_NOT_FOUND: no such name.
 *   RINGBUF_INVALID_ARGUMENT: bad name, or NULL.
 *   RINGBUF_PERMISSION_DENIED: the queue is owned by neither this effective
 *     uid nor root (a guard against removing another user's queue by
 *     mistake), or the system refused. */
int ringbuf_remove(const char* name) RINGBUF_C_NOEXCEPT;

/* Unmaps the queue and frees the handle; the queue itself lives on. NULL is
 * a no-op. No other call may be running or made on `q` afterwards. */
void ringbuf_close(ringbuf_queue* q) RINGBUF_C_NOEXCEPT;

/* ---- Sending and receiving ------------------------------------------- */

/* Sends the `len` bytes at `data` as one message, waiting for a free slot as
 * `timeout_ns` allows (see Timeouts). `data` may be NULL when len is 0.
 *   RINGBUF_OK: committed; it will be received exactly once, after every
 *     message committed before it.
 *   RINGBUF_INVALID_ARGUMENT: len > ringbuf_slot_size(q); q NULL; data NULL
 *     with len > 0. Nothing is enqueued.
 *   RINGBUF_UNAVAILABLE: timeout_ns == 0: the queue is full right now, or
 *     the send lock stayed busy for the 10 ms floor; timeout_ns > 0: the
 *     send lock stayed busy (see Busy locks). Nothing is enqueued.
 *   RINGBUF_DEADLINE_EXCEEDED (timeout_ns > 0): the queue was full and no
 *     slot freed in time; nothing is enqueued.
 *   RINGBUF_CANCELLED: ringbuf_shutdown(q) was called.
 *   RINGBUF_DATA_LOSS: the queue's shared state is corrupt. */
int ringbuf_send(ringbuf_queue* q, const void* data, size_t len,
                 int64_t timeout_ns) RINGBUF_C_NOEXCEPT;

/* Receives the oldest message into `buf` (`cap` bytes; NULL when cap is 0),
 * waiting for one as `timeout_ns` allows (see Timeouts), and sets *len to its
 * length. A buffer of ringbuf_slot_size(q) bytes always suffices.
 *   RINGBUF_OK: buf[0..*len) holds the message, which no other receiver will
 *     get.
 *   RINGBUF_RESOURCE_EXHAUSTED: the oldest message is longer than `cap`; it
 *     stays in the queue, and *len is set to its length: retry with a buffer
 *     that large.
 *   RINGBUF_INVALID_ARGUMENT: q or len NULL; buf NULL with cap > 0.
 *   RINGBUF_UNAVAILABLE: timeout_ns == 0: the queue is empty right now, or
 *     the receive lock stayed busy for the 10 ms floor; timeout_ns > 0:
 *     the receive lock stayed busy (see Busy locks): the queue was not seen
 *     empty and may hold messages.
 *   RINGBUF_DEADLINE_EXCEEDED (timeout_ns > 0): the queue was empty and no
 *     message arrived in time.
 *   RINGBUF_CANCELLED: ringbuf_shutdown(q) was called.
 *   RINGBUF_DATA_LOSS: the queue's shared state is corrupt. If only the
 *     slot's length word is, that message is dropped so the queue is not
 *     wedged, and the message names the slot.
 * *len is 0 after any other failure. */
int ringbuf_receive(ringbuf_queue* q, void* buf, size_t cap, size_t* len,
                    int64_t timeout_ns) RINGBUF_C_NOEXCEPT;

/* Wakes every thread blocked in a call on this handle and makes them, and
 * every later send or receive on it, return RINGBUF_CANCELLED. Other handles
 * and processes are unaffected (the queue stays as it is). Safe to call from
 * any thread, more than once, and from a signal handler: for a service's
 * SIGTERM path. NULL is a no-op. Call ringbuf_close only once the woken
 * threads have returned. */
void ringbuf_shutdown(ringbuf_queue* q) RINGBUF_C_NOEXCEPT;

/* ---- Batches --------------------------------------------------------- */

/* Sends messages[0..count) in order, taking the send lock and waking
 * consumers once per group of messages that fit at a time (once in all, if
 * they all fit). Each message commits as in ringbuf_send; they are not atomic
 * as a group: another producer's messages may fall between groups. *sent
 * (required) is how many were committed, on every return.
 *   RINGBUF_OK: all were committed (*sent == count; count may be 0).
 *   RINGBUF_UNAVAILABLE (timeout_ns == 0), RINGBUF_DEADLINE_EXCEEDED
 *     (timeout_ns > 0): the queue stayed full; the first *sent were
 *     committed, the rest were not. RINGBUF_UNAVAILABLE (timeout_ns > 0):
 *     the send lock stayed busy, as ringbuf_send.
 *   RINGBUF_INVALID_ARGUMENT: some message is longer than
 *     ringbuf_slot_size(q) (the message gives its length) or has NULL data
 *     with len > 0; q or sent NULL; messages NULL with count > 0. Nothing was
 *     sent.
 *   RINGBUF_CANCELLED, RINGBUF_DATA_LOSS: as ringbuf_send; the first *sent
 *     went before. */
int ringbuf_send_batch(ringbuf_queue* q, const ringbuf_message* messages,
                       size_t count, size_t* sent,
                       int64_t timeout_ns) RINGBUF_C_NOEXCEPT;

/* Waits as `timeout_ns` allows for at least one message, then takes up to
 * `max_messages` of those waiting with one lock acquisition and one wake-up
 * of producers. They are stored back to back in `buf` (`cap` bytes): message
 * i is lens[i] bytes long and starts at buf + lens[0] + ... + lens[i-1].
 * Never more than cap / ringbuf_slot_size(q) messages are taken, so each
 * always fits; `lens` has room for max_messages entries. *count is how many
 * were taken, on every return.
 *   RINGBUF_OK: *count >= 1 messages, in FIFO order, no other receiver will
 *     get.
 *   RINGBUF_UNAVAILABLE (timeout_ns == 0), RINGBUF_DEADLINE_EXCEEDED
 *     (timeout_ns > 0): none arrived; *count is 0. RINGBUF_UNAVAILABLE
 *     (timeout_ns > 0): the receive lock stayed busy, as ringbuf_receive;
 *     *count is 0.
 *   RINGBUF_INVALID_ARGUMENT: cap < ringbuf_slot_size(q); max_messages 0;
 *     q, buf, lens or count NULL.
 *   RINGBUF_CANCELLED, RINGBUF_DATA_LOSS: as ringbuf_receive; messages
 *     already taken are in buf and counted in *count. */
int ringbuf_receive_batch(ringbuf_queue* q, void* buf, size_t cap,
                          size_t* lens, size_t max_messages, size_t* count,
                          int64_t timeout_ns) RINGBUF_C_NOEXCEPT;

/* ---- Zero copy ------------------------------------------------------- */

/* Waits as `timeout_ns` allows for a free slot and reserves it for this
 * thread to write the message in place: *buf points at the slot, *cap is
 * ringbuf_slot_size(q). The send lock is held until the reservation ends, so
 * write promptly, and end it on the thread that reserved it, before closing
 * q. A process that dies holding a reservation has it reclaimed by crash
 * recovery; nothing of it is ever delivered. Outputs are set on OK only.
 *   Codes: as ringbuf_send (no INVALID_ARGUMENT for length); also
 *   RINGBUF_INVALID_ARGUMENT if q, out, buf or cap is NULL. */
int ringbuf_reserve(ringbuf_queue* q, int64_t timeout_ns,
                    ringbuf_reservation** out, void** buf,
                    size_t* cap) RINGBUF_C_NOEXCEPT;

/* Publishes the first `len` bytes of the reserved slot as one message and
 * ends the reservation: `r` is freed whatever the result.
 *   RINGBUF_OK: committed, exactly as ringbuf_send.
 *   RINGBUF_INVALID_ARGUMENT: len > the slot size, or r NULL; nothing is
 *     sent and the slot is released. */
int ringbuf_reservation_commit(ringbuf_reservation* r,
                               size_t len) RINGBUF_C_NOEXCEPT;

/* Ends the reservation with nothing sent and frees `r`. NULL is a no-op. */
void ringbuf_reservation_drop(ringbuf_reservation* r) RINGBUF_C_NOEXCEPT;

/* Waits as `timeout_ns` allows for a message and shows the oldest one in
 * place: *data points at its *len bytes in the shared mapping. The receive
 * lock is held until the peek ends, so read promptly, and end it on the
 * thread that peeked, before closing q. A process that dies holding one
 * leaves the message in the queue. Outputs are set on OK only.
 *   Codes: as ringbuf_receive (no RESOURCE_EXHAUSTED); also
 *   RINGBUF_INVALID_ARGUMENT if q, out, data or len is NULL. */
int ringbuf_peek(ringbuf_queue* q, int64_t timeout_ns, ringbuf_peeked** out,
                 const void** data, size_t* len) RINGBUF_C_NOEXCEPT;

/* Takes the peeked message (no other receiver will get it), ends the peek
 * and frees `p`; its data pointer is invalid from here on.
 *   RINGBUF_OK: taken.
 *   RINGBUF_INVALID_ARGUMENT: p NULL. */
int ringbuf_peeked_release(ringbuf_peeked* p) RINGBUF_C_NOEXCEPT;

/* Ends the peek leaving the message at the head of the queue, and frees
 * `p`. NULL is a no-op. */
void ringbuf_peeked_drop(ringbuf_peeked* p) RINGBUF_C_NOEXCEPT;

/* ---- Inspecting ------------------------------------------------------ */

/* Fills *stats with a snapshot of the queue: the fields that fit in
 * stats->size bytes, then sets stats->size to the bytes filled (see struct
 * ringbuf_stats). Never blocks; works even while a dead process holds a
 * lock, and after ringbuf_shutdown.
 *   RINGBUF_OK: *stats is filled.
 *   RINGBUF_INVALID_ARGUMENT: q or stats NULL; stats->size smaller than
 *     the first two fields (8 bytes; typically: not set). */
int ringbuf_stats(const ringbuf_queue* q,
                  struct ringbuf_stats* stats) RINGBUF_C_NOEXCEPT;

/* The largest message the queue holds, in bytes; 0 for NULL. */
uint32_t ringbuf_slot_size(const ringbuf_queue* q) RINGBUF_C_NOEXCEPT;

/* How many messages the queue holds; 0 for NULL. */
uint64_t ringbuf_capacity(const ringbuf_queue* q) RINGBUF_C_NOEXCEPT;

/* ---- Event loops, version, errors ---------------------------------- */

/* Starts a notifier on `q` for `event` (a ringbuf_event): one helper thread
 * and one eventfd, see ringbuf/notifier.h. q must outlive it. *out is set on
 * OK only.
 *   RINGBUF_INVALID_ARGUMENT: q or out NULL; event not a ringbuf_event.
 *   RINGBUF_RESOURCE_EXHAUSTED (out of fds...): from the system. */
int ringbuf_notifier_create(ringbuf_queue* q, int event,
                            ringbuf_notifier** out) RINGBUF_C_NOEXCEPT;

/* The fd to poll for reading, owned by the notifier (do not close it); -1
 * for NULL. Readable once the event happened after the last
 * ringbuf_notifier_clear: clear it first, then drain until
 * RINGBUF_UNAVAILABLE, so no message is missed (ringbuf/notifier.h). A
 * no-wait receive also says RINGBUF_UNAVAILABLE when the receive lock stayed
 * busy for 10 ms (another handle's peek), and the cleared fd turns readable
 * only on the next commit: when others may peek, confirm with
 * ringbuf_stats' depth == 0 before polling again, and retry shortly if it
 * is not. */
int ringbuf_notifier_fd(const ringbuf_notifier* n) RINGBUF_C_NOEXCEPT;

/* Resets the fd to not readable. Never blocks. NULL is a no-op. */
void ringbuf_notifier_clear(ringbuf_notifier* n) RINGBUF_C_NOEXCEPT;

/* Stops the notifier's thread, closes its fd and frees `n`. NULL is a
 * no-op. */
void ringbuf_notifier_destroy(ringbuf_notifier* n) RINGBUF_C_NOEXCEPT;

/* The version of the library this program runs with ("1.2.0"), which may be
 * newer than the RINGBUF_VERSION_* macros (ringbuf/version.h, included
 * above) it was compiled against. Static storage; never NULL. */
const char* ringbuf_version(void) RINGBUF_C_NOEXCEPT;

/* The message of the last call that failed in this thread, e.g.
 * "queue '/orders': shm_open: No such file or directory"; "" if none has.
 * Successful calls leave it unchanged. Never NULL. The string belongs to the
 * library and stays valid, unchanged, until the next failing ringbuf_* call
 * in this thread or the thread's exit; copy it to keep it longer. Long
 * messages are truncated to 1023 bytes. */
const char* ringbuf_last_error(void) RINGBUF_C_NOEXCEPT;

/* The name of a ringbuf_status code ("NOT_FOUND"), for messages; "UNKNOWN"
 * for a value that is not one. Static storage; never NULL. */
const char* ringbuf_status_name(int code) RINGBUF_C_NOEXCEPT;

/* ---- Trusting a queue's owner ---------------------------------------- */

/* /dev/shm is one namespace every user may create names in, so a queue may
 * have been created first by someone else (squatted) to read what is sent
 * to it or to feed its readers. ringbuf_open and ringbuf_open_or_create
 * therefore accept only a queue owned by this process's effective uid or by
 * root, checked on the very object they map, and ringbuf_remove unlinks only
 * such a queue. These three calls are the same but take `owner`, whom to
 * accept besides:
 *   NULL           nobody more: the default, as ringbuf_open;
 *   "any"          every owner (for inspection and tests);
 *   "svc-a"        a user name, looked up when called;
 *   "1001"         a decimal uid (a string of digits is always a uid).
 * To share a queue across users safely, the creator makes it with
 * ringbuf_create (never ringbuf_open_or_create: a name someone took first
 * then fails with RINGBUF_ALREADY_EXISTS naming its owner) and a group mode
 * such as 0660; the others open it naming the creator as `owner`. */

/* As ringbuf_open, accepting `owner`'s queues too.
 *   RINGBUF_INVALID_ARGUMENT: also an `owner` that is empty, not a known
 *     user name, or not a valid uid.
 *   RINGBUF_PERMISSION_DENIED: the queue's owner is none of the accepted
 *     ones (the message names it and its uid, and calls out a mode that lets
 *     any user write the object), or the mode does not let this user open
 *     it.
 *   Otherwise the codes of ringbuf_open. */
int ringbuf_open_trusting(const char* name, const char* owner,
                          ringbuf_queue** out) RINGBUF_C_NOEXCEPT;

/* As ringbuf_open_or_create, accepting `owner`'s queues too when the queue
 * exists. Codes as ringbuf_open_or_create and ringbuf_open_trusting. */
int ringbuf_open_or_create_trusting(const char* name, uint64_t capacity,
                                    uint32_t slot_size, uint32_t mode,
                                    const char* owner,
                                    ringbuf_queue** out) RINGBUF_C_NOEXCEPT;

/* As ringbuf_remove, unlinking `owner`'s queues too.
 *   RINGBUF_INVALID_ARGUMENT: also an `owner` as ringbuf_open_trusting.
 *   RINGBUF_PERMISSION_DENIED: the queue's owner is none of the accepted
 *     ones (checked by name just before unlinking: a guard against removing
 *     another user's queue by mistake), or the system refused.
 *   Otherwise the codes of ringbuf_remove. */
int ringbuf_remove_trusting(const char* name,
                            const char* owner) RINGBUF_C_NOEXCEPT;

/* ---- Priorities ------------------------------------------------------ */

/* A queue may have several message priorities (ringbuf/options.h,
 * Options::priorities): 0 (lowest) .. priorities - 1. Every receive call
 * takes the oldest message of the highest non-empty priority; the calls
 * without a priority send at 0. The capacity is shared by all priorities (a
 * full queue blocks senders of every priority alike); each priority costs a
 * ring of `capacity` slots in the shared memory. */

/* As ringbuf_create, with `priorities` levels (1..32; 1 is a plain queue).
 *   RINGBUF_INVALID_ARGUMENT: also priorities not in 1..32. */
int ringbuf_create_prioritized(const char* name, uint64_t capacity,
                               uint32_t slot_size, uint32_t priorities,
                               uint32_t mode,
                               ringbuf_queue** out) RINGBUF_C_NOEXCEPT;

/* As ringbuf_open_or_create_trusting (`owner` NULL: the default trust), with
 * `priorities` levels when it creates. Codes as
 * ringbuf_open_or_create_trusting, and:
 *   RINGBUF_FAILED_PRECONDITION: the existing queue's capacity, slot_size
 *     or priorities differ from the arguments. The message names the field.
 *   RINGBUF_INVALID_ARGUMENT: also priorities not in 1..32. */
int ringbuf_open_or_create_prioritized(const char* name, uint64_t capacity,
                                       uint32_t slot_size, uint32_t priorities,
                                       uint32_t mode, const char* owner,
                                       ringbuf_queue** out) RINGBUF_C_NOEXCEPT;

/* The queue's number of priorities; 0 for NULL. */
uint32_t ringbuf_priorities(const ringbuf_queue* q) RINGBUF_C_NOEXCEPT;

/* As ringbuf_send, at `priority`.
 *   RINGBUF_INVALID_ARGUMENT: also priority >= ringbuf_priorities(q);
 *     nothing is enqueued. */
int ringbuf_send_priority(ringbuf_queue* q, const void* data, size_t len,
                          uint32_t priority,
                          int64_t timeout_ns) RINGBUF_C_NOEXCEPT;

/* As ringbuf_receive, also setting *priority (if not NULL) to the message's
 * priority on RINGBUF_OK. */
int ringbuf_receive_priority(ringbuf_queue* q, void* buf, size_t cap,
                             size_t* len, uint32_t* priority,
                             int64_t timeout_ns) RINGBUF_C_NOEXCEPT;

/* As ringbuf_send_batch, every message at `priority`
 * (RINGBUF_INVALID_ARGUMENT, nothing sent, if priority >=
 * ringbuf_priorities(q)). */
int ringbuf_send_batch_priority(ringbuf_queue* q,
                                const ringbuf_message* messages, size_t count,
                                uint32_t priority, size_t* sent,
                                int64_t timeout_ns) RINGBUF_C_NOEXCEPT;

/* As ringbuf_receive_batch. The messages taken are all of one priority, the
 * highest non-empty one, stored in *priority (if not NULL) on RINGBUF_OK. */
int ringbuf_receive_batch_priority(ringbuf_queue* q, void* buf, size_t cap,
                                   size_t* lens, size_t max_messages,
                                   size_t* count, uint32_t* priority,
                                   int64_t timeout_ns) RINGBUF_C_NOEXCEPT;

/* As ringbuf_reserve, for a message at `priority` (RINGBUF_INVALID_ARGUMENT
 * if priority >= ringbuf_priorities(q)). */
int ringbuf_reserve_priority(ringbuf_queue* q, uint32_t priority,
                             int64_t timeout_ns, ringbuf_reservation** out,
                             void** buf, size_t* cap) RINGBUF_C_NOEXCEPT;

/* The priority of a peeked message; 0 for NULL. */
uint32_t ringbuf_peeked_priority(const ringbuf_peeked* p) RINGBUF_C_NOEXCEPT;

#ifdef __cplusplus
} /* extern "C" */
#endif

#undef RINGBUF_C_NOEXCEPT

#endif /* RINGBUF_C_API_H_ */
