// The C API: each function converts its arguments, calls ringbuf::Queue,
// and turns the absl::Status into an int code plus a thread-local message.
// Every body runs inside Guard(), so no exception crosses into C.
#include "ringbuf/c_api.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "ringbuf/notifier.h"
#include "ringbuf/options.h"
#include "ringbuf/queue.h"
#include "ringbuf/trust.h"
#include "ringbuf/version.h"

struct ringbuf_queue {
  explicit ringbuf_queue(ringbuf::Queue q) : queue(std::move(q)) {}
  ringbuf::Queue queue;
};

struct ringbuf_reservation {
  explicit ringbuf_reservation(ringbuf::Queue::Reservation r)
      : reservation(std::move(r)) {}
  ringbuf::Queue::Reservation reservation;
};

struct ringbuf_peeked {
  explicit ringbuf_peeked(ringbuf::Queue::Peeked p) : peeked(std::move(p)) {}
  ringbuf::Queue::Peeked peeked;
};

struct ringbuf_notifier {
  std::unique_ptr<ringbuf::QueueNotifier> notifier;
};

namespace {

// The codes are absl's, so a status converts with a cast.
#define RINGBUF_SAME_CODE(c_code, absl_code)                             \
  static_assert(c_code == static_cast<int>(absl::StatusCode::absl_code), \
                #c_code " must equal absl::StatusCode::" #absl_code)
RINGBUF_SAME_CODE(RINGBUF_OK, kOk);
RINGBUF_SAME_CODE(RINGBUF_CANCELLED, kCancelled);
RINGBUF_SAME_CODE(RINGBUF_UNKNOWN, kUnknown);
RINGBUF_SAME_CODE(RINGBUF_INVALID_ARGUMENT, kInvalidArgument);
RINGBUF_SAME_CODE(RINGBUF_DEADLINE_EXCEEDED, kDeadlineExceeded);
RINGBUF_SAME_CODE(RINGBUF_NOT_FOUND, kNotFound);
RINGBUF_SAME_CODE(RINGBUF_ALREADY_EXISTS, kAlreadyExists);
RINGBUF_SAME_CODE(RINGBUF_PERMISSION_DENIED, kPermissionDenied);
RINGBUF_SAME_CODE(RINGBUF_RESOURCE_EXHAUSTED, kResourceExhausted);
RINGBUF_SAME_CODE(RINGBUF_FAILED_PRECONDITION, kFailedPrecondition);
RINGBUF_SAME_CODE(RINGBUF_ABORTED, kAborted);
RINGBUF_SAME_CODE(RINGBUF_OUT_OF_RANGE, kOutOfRange);
RINGBUF_SAME_CODE(RINGBUF_UNIMPLEMENTED, kUnimplemented);
RINGBUF_SAME_CODE(RINGBUF_INTERNAL, kInternal);
RINGBUF_SAME_CODE(RINGBUF_UNAVAILABLE, kUnavailable);
RINGBUF_SAME_CODE(RINGBUF_DATA_LOSS, kDataLoss);
RINGBUF_SAME_CODE(RINGBUF_UNAUTHENTICATED, kUnauthenticated);
#undef RINGBUF_SAME_CODE

// The last failure's message in this thread. A fixed array, not a
// std::string: storing never allocates (so never throws, even on the
// out-of-memory path) and the thread_local needs no destructor, which keeps
// the shared library safe to dlclose.
constexpr size_t kLastErrorCapacity = 1024;
thread_local char last_error[kLastErrorCapacity] = "";

// Stores `first` + `second` (truncated) as the message; returns `code`.
int Fail(int code, absl::string_view first,
         absl::string_view second = "") noexcept {
  size_t n = 0;
  for (absl::string_view part : {first, second}) {
    const size_t k = std::min(part.size(), kLastErrorCapacity - 1 - n);
    std::memcpy(last_error + n, part.data(), k);
    n += k;
  }
  last_error[n] = '\0';
  return code;
}

int FromStatus(const absl::Status& status) noexcept {
  if (status.ok()) return RINGBUF_OK;
  return Fail(static_cast<int>(status.code()), status.message());
}

// Runs `body` (returning an int code), turning any exception into
// RINGBUF_INTERNAL. The library reports errors by status; only allocation
// in this wrapper or in absl can throw.
template <typename Body>
int Guard(const char* function, Body&& body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return Fail(RINGBUF_INTERNAL, function, ": out of memory");
  } catch (...) {
    return Fail(RINGBUF_INTERNAL, function, ": unexpected C++ exception");
  }
}

int NullArgument(const char* what) noexcept {
  return Fail(RINGBUF_INVALID_ARGUMENT, what);
}

// The timeout_ns convention of c_api.h for the calls that take a duration
// (callers map 0 to the try-calls before they get here).
absl::Duration Timeout(int64_t timeout_ns) {
  return timeout_ns < 0 ? absl::InfiniteDuration()
                        : absl::Nanoseconds(timeout_ns);
}

// The calls that take a Duration make one attempt for a zero timeout and
// report DeadlineExceeded; c_api.h promises "right now" as UNAVAILABLE.
int FromTimed(const absl::Status& status, int64_t timeout_ns) noexcept {
  if (timeout_ns == 0 && absl::IsDeadlineExceeded(status)) {
    return Fail(RINGBUF_UNAVAILABLE, status.message());
  }
  return FromStatus(status);
}

// Hands a new handle to *out, or reports why there is none.
int Attach(absl::StatusOr<ringbuf::Queue> queue, ringbuf_queue** out) {
  if (!queue.ok()) return FromStatus(queue.status());
  *out = new ringbuf_queue(*std::move(queue));
  return RINGBUF_OK;
}

ringbuf::Options MakeOptions(uint64_t capacity, uint32_t slot_size,
                             uint32_t mode, uint32_t priorities = 1) {
  ringbuf::Options options;
  options.capacity = capacity;
  options.slot_size = slot_size;
  options.mode = static_cast<mode_t>(mode);
  options.priorities = priorities;
  return options;
}

// ringbuf_send and ringbuf_send_priority.
int SendAt(const char* function, ringbuf_queue* q, const void* data,
           size_t len, uint32_t priority, int64_t timeout_ns) noexcept {
  return Guard(function, [&]() -> int {
    if (q == nullptr) return NullArgument("ringbuf_send: queue is NULL");
    if (data == nullptr && len > 0) {
      return NullArgument("ringbuf_send: data is NULL but len is not 0");
    }
    const absl::string_view message(
        len == 0 ? "" : static_cast<const char*>(data), len);
    if (timeout_ns == 0) return FromStatus(q->queue.TrySend(message, priority));
    if (timeout_ns < 0) return FromStatus(q->queue.Send(message, priority));
    return FromStatus(
        q->queue.SendFor(message, priority, Timeout(timeout_ns)));
  });
}

// ringbuf_receive and ringbuf_receive_priority.
int ReceiveAt(const char* function, ringbuf_queue* q, void* buf, size_t cap,
              size_t* len, uint32_t* priority, int64_t timeout_ns) noexcept {
  if (len != nullptr) *len = 0;
  return Guard(function, [&]() -> int {
    if (q == nullptr) return NullArgument("ringbuf_receive: queue is NULL");
    if (len == nullptr) return NullArgument("ringbuf_receive: len is NULL");
    if (buf == nullptr && cap > 0) {
      return NullArgument("ringbuf_receive: buf is NULL but cap is not 0");
    }
    // ReceiveInto leaves a message that does not fit in the queue, and says
    // how long it is.
    const absl::Span<char> buffer(static_cast<char*>(buf), cap);
    absl::StatusOr<size_t> n = timeout_ns == 0
                                   ? q->queue.TryReceiveInto(buffer, priority)
                                   : q->queue.ReceiveInto(
                                         buffer, Timeout(timeout_ns), priority);
    if (n.ok()) {
      *len = *n;
      return RINGBUF_OK;
    }
    if (absl::IsResourceExhausted(n.status())) {
      *len = ringbuf::Queue::MessageSizeOf(n.status());
    }
    return FromStatus(n.status());
  });
}

// ringbuf_send_batch and ringbuf_send_batch_priority.
int SendBatchAt(const char* function, ringbuf_queue* q,
                const ringbuf_message* messages, size_t count,
                uint32_t priority, size_t* sent, int64_t timeout_ns) noexcept {
  if (sent != nullptr) *sent = 0;
  return Guard(function, [&]() -> int {
    if (q == nullptr) return NullArgument("ringbuf_send_batch: queue is NULL");
    if (sent == nullptr) return NullArgument("ringbuf_send_batch: sent is NULL");
    if (messages == nullptr && count > 0) {
      return NullArgument(
          "ringbuf_send_batch: messages is NULL but count is not 0");
    }
    std::vector<absl::string_view> views;
    views.reserve(count);
    for (size_t i = 0; i < count; ++i) {
      const ringbuf_message& m = messages[i];
      if (m.data == nullptr && m.len > 0) {
        return Fail(RINGBUF_INVALID_ARGUMENT,
                    absl::StrCat("ringbuf_send_batch: messages[", i,
                                 "].data is NULL but its len is not 0"));
      }
      views.emplace_back(m.len == 0 ? "" : static_cast<const char*>(m.data),
                         m.len);
    }
    return FromTimed(
        q->queue.SendBatch(views, priority, Timeout(timeout_ns), sent),
        timeout_ns);
  });
}

// ringbuf_receive_batch and ringbuf_receive_batch_priority.
int ReceiveBatchAt(const char* function, ringbuf_queue* q, void* buf,
                   size_t cap, size_t* lens, size_t max_messages,
                   size_t* count, uint32_t* priority,
                   int64_t timeout_ns) noexcept {
  if (count != nullptr) *count = 0;
  return Guard(function, [&]() -> int {
    if (q == nullptr) {
      return NullArgument("ringbuf_receive_batch: queue is NULL");
    }
    if (buf == nullptr || lens == nullptr || count == nullptr) {
      return NullArgument("ringbuf_receive_batch: buf, lens or count is NULL");
    }
    if (max_messages == 0) {
      return Fail(RINGBUF_INVALID_ARGUMENT,
                  "ringbuf_receive_batch: max_messages is 0");
    }
    const size_t slot_size = q->queue.slot_size();
    if (cap < slot_size) {
      return Fail(RINGBUF_INVALID_ARGUMENT,
                  absl::StrCat("ringbuf_receive_batch: queue '",
                               q->queue.name(), "': cap ", cap,
                               " is below the slot size ", slot_size));
    }
    std::vector<std::string> taken;
    const absl::Status status = q->queue.ReceiveBatch(
        std::min(max_messages, cap / slot_size), Timeout(timeout_ns), &taken,
        priority);
    // Each message is at most slot_size bytes and at most cap / slot_size
    // were asked for, so they all fit.
    char* at = static_cast<char*>(buf);
    for (const std::string& m : taken) {
      std::memcpy(at, m.data(), m.size());
      at += m.size();
      lens[(*count)++] = m.size();
    }
    return FromTimed(status, timeout_ns);
  });
}

}  // namespace

extern "C" {

int ringbuf_create(const char* name, uint64_t capacity, uint32_t slot_size,
                   uint32_t mode, ringbuf_queue** out) noexcept {
  return Guard("ringbuf_create", [&]() -> int {
    if (name == nullptr) return NullArgument("ringbuf_create: name is NULL");
    if (out == nullptr) return NullArgument("ringbuf_create: out is NULL");
    return Attach(ringbuf::Queue::Create(
                      name, MakeOptions(capacity, slot_size, mode)),
                  out);
  });
}

int ringbuf_create_prioritized(const char* name, uint64_t capacity,
                               uint32_t slot_size, uint32_t priorities,
                               uint32_t mode, ringbuf_queue** out) noexcept {
  return Guard("ringbuf_create_prioritized", [&]() -> int {
    if (name == nullptr) {
      return NullArgument("ringbuf_create_prioritized: name is NULL");
    }
    if (out == nullptr) {
      return NullArgument("ringbuf_create_prioritized: out is NULL");
    }
    return Attach(ringbuf::Queue::Create(
                      name, MakeOptions(capacity, slot_size, mode, priorities)),
                  out);
  });
}

int ringbuf_open(const char* name, ringbuf_queue** out) noexcept {
  return Guard("ringbuf_open", [&]() -> int {
    if (name == nullptr) return NullArgument("ringbuf_open: name is NULL");
    if (out == nullptr) return NullArgument("ringbuf_open: out is NULL");
    return Attach(ringbuf::Queue::Open(name), out);
  });
}

int ringbuf_open_or_create(const char* name, uint64_t capacity,
                           uint32_t slot_size, uint32_t mode,
                           ringbuf_queue** out) noexcept {
  return Guard("ringbuf_open_or_create", [&]() -> int {
    if (name == nullptr) {
      return NullArgument("ringbuf_open_or_create: name is NULL");
    }
    if (out == nullptr) {
      return NullArgument("ringbuf_open_or_create: out is NULL");
    }
    return Attach(ringbuf::Queue::OpenOrCreate(
                      name, MakeOptions(capacity, slot_size, mode)),
                  out);
  });
}

int ringbuf_remove(const char* name) noexcept {
  return Guard("ringbuf_remove", [&]() -> int {
    if (name == nullptr) return NullArgument("ringbuf_remove: name is NULL");
    return FromStatus(ringbuf::Queue::Remove(name));
  });
}

void ringbuf_close(ringbuf_queue* q) noexcept { delete q; }

int ringbuf_send(ringbuf_queue* q, const void* data, size_t len,
                 int64_t timeout_ns) noexcept {
  return SendAt("ringbuf_send", q, data, len, 0, timeout_ns);
}

int ringbuf_send_priority(ringbuf_queue* q, const void* data, size_t len,
                          uint32_t priority, int64_t timeout_ns) noexcept {
  return SendAt("ringbuf_send_priority", q, data, len, priority, timeout_ns);
}

int ringbuf_receive(ringbuf_queue* q, void* buf, size_t cap, size_t* len,
                    int64_t timeout_ns) noexcept {
  return ReceiveAt("ringbuf_receive", q, buf, cap, len, nullptr, timeout_ns);
}

int ringbuf_receive_priority(ringbuf_queue* q, void* buf, size_t cap,
                             size_t* len, uint32_t* priority,
                             int64_t timeout_ns) noexcept {
  return ReceiveAt("ringbuf_receive_priority", q, buf, cap, len, priority,
                   timeout_ns);
}

void ringbuf_shutdown(ringbuf_queue* q) noexcept {
  if (q != nullptr) q->queue.Shutdown();
}

int ringbuf_send_batch(ringbuf_queue* q, const ringbuf_message* messages,
                       size_t count, size_t* sent,
                       int64_t timeout_ns) noexcept {
  return SendBatchAt("ringbuf_send_batch", q, messages, count, 0, sent,
                     timeout_ns);
}

int ringbuf_send_batch_priority(ringbuf_queue* q,
                                const ringbuf_message* messages, size_t count,
                                uint32_t priority, size_t* sent,
                                int64_t timeout_ns) noexcept {
  return SendBatchAt("ringbuf_send_batch_priority", q, messages, count,
                     priority, sent, timeout_ns);
}

int ringbuf_receive_batch(ringbuf_queue* q, void* buf, size_t cap,
                          size_t* lens, size_t max_messages, size_t* count,
                          int64_t timeout_ns) noexcept {
  return ReceiveBatchAt("ringbuf_receive_batch", q, buf, cap, lens,
                        max_messages, count, nullptr, timeout_ns);
}

int ringbuf_receive_batch_priority(ringbuf_queue* q, void* buf, size_t cap,
                                   size_t* lens, size_t max_messages,
                                   size_t* count, uint32_t* priority,
                                   int64_t timeout_ns) noexcept {
  return ReceiveBatchAt("ringbuf_receive_batch_priority", q, buf, cap, lens,
                        max_messages, count, priority, timeout_ns);
}

int ringbuf_reserve(ringbuf_queue* q, int64_t timeout_ns,
                    ringbuf_reservation** out, void** buf,
                    size_t* cap) noexcept {
  return ringbuf_reserve_priority(q, 0, timeout_ns, out, buf, cap);
}

int ringbuf_reserve_priority(ringbuf_queue* q, uint32_t priority,
                             int64_t timeout_ns, ringbuf_reservation** out,
                             void** buf, size_t* cap) noexcept {
  return Guard("ringbuf_reserve", [&]() -> int {
    if (q == nullptr || out == nullptr || buf == nullptr || cap == nullptr) {
      return NullArgument("ringbuf_reserve: q, out, buf or cap is NULL");
    }
    absl::StatusOr<ringbuf::Queue::Reservation> r =
        q->queue.Reserve(priority, Timeout(timeout_ns));
    if (!r.ok()) return FromTimed(r.status(), timeout_ns);
    const absl::Span<char> slot = r->buffer();
    *out = new ringbuf_reservation(*std::move(r));
    *buf = slot.data();
    *cap = slot.size();
    return RINGBUF_OK;
  });
}

int ringbuf_reservation_commit(ringbuf_reservation* r, size_t len) noexcept {
  // Owned from here on: freed (and, uncommitted, dropped) on every path.
  std::unique_ptr<ringbuf_reservation> owned(r);
  return Guard("ringbuf_reservation_commit", [&]() -> int {
    if (r == nullptr) {
      return NullArgument("ringbuf_reservation_commit: reservation is NULL");
    }
    return FromStatus(r->reservation.Commit(len));
  });
}

void ringbuf_reservation_drop(ringbuf_reservation* r) noexcept { delete r; }

int ringbuf_peek(ringbuf_queue* q, int64_t timeout_ns, ringbuf_peeked** out,
                 const void** data, size_t* len) noexcept {
  return Guard("ringbuf_peek", [&]() -> int {
    if (q == nullptr || out == nullptr || data == nullptr || len == nullptr) {
      return NullArgument("ringbuf_peek: q, out, data or len is NULL");
    }
    absl::StatusOr<ringbuf::Queue::Peeked> p =
        q->queue.Peek(Timeout(timeout_ns));
    if (!p.ok()) return FromTimed(p.status(), timeout_ns);
    const absl::string_view message = p->data();
    *out = new ringbuf_peeked(*std::move(p));
    *data = message.data();
    *len = message.size();
    return RINGBUF_OK;
  });
}

int ringbuf_peeked_release(ringbuf_peeked* p) noexcept {
  std::unique_ptr<ringbuf_peeked> owned(p);
  return Guard("ringbuf_peeked_release", [&]() -> int {
    if (p == nullptr) return NullArgument("ringbuf_peeked_release: NULL");
    return FromStatus(p->peeked.Release());
  });
}

void ringbuf_peeked_drop(ringbuf_peeked* p) noexcept { delete p; }

uint32_t ringbuf_peeked_priority(const ringbuf_peeked* p) noexcept {
  return p == nullptr ? 0 : p->peeked.priority();
}

int ringbuf_stats(const ringbuf_queue* q,
                  struct ringbuf_stats* stats) noexcept {
  if (q == nullptr) return NullArgument("ringbuf_stats: queue is NULL");
  if (stats == nullptr) return NullArgument("ringbuf_stats: stats is NULL");
  constexpr size_t kMinimum = offsetof(struct ringbuf_stats, capacity);
  if (stats->size < kMinimum) {
    return Fail(RINGBUF_INVALID_ARGUMENT,
                absl::StrCat("ringbuf_stats: stats->size is ", stats->size,
                             ", below ", kMinimum,
                             ": set it to sizeof(struct ringbuf_stats)"));
  }
  const ringbuf::Stats s = q->queue.GetStats();
  struct ringbuf_stats full = {};
  full.slot_size = s.slot_size;
  full.capacity = s.capacity;
  full.depth = s.depth;
  full.head = s.head;
  full.tail = s.tail;
  full.total_sent = s.total_sent;
  full.total_received = s.total_received;
  full.send_lock_owner_deaths = s.send_lock_owner_deaths;
  full.receive_lock_owner_deaths = s.receive_lock_owner_deaths;
  full.discarded_partial_sends = s.discarded_partial_sends;
  full.receives_lost_to_dead_consumers = s.receives_lost_to_dead_consumers;
  full.priorities = s.priorities;
  static_assert(sizeof(full.depth_by_priority) == sizeof(s.depth_by_priority),
                "one depth per priority");
  std::memcpy(full.depth_by_priority, s.depth_by_priority,
              sizeof(full.depth_by_priority));
  // An older caller's struct is a prefix of ours: fill what it has room for.
  const uint32_t filled = static_cast<uint32_t>(
      std::min<size_t>(stats->size, sizeof(struct ringbuf_stats)));
  full.size = filled;
  std::memcpy(stats, &full, filled);
  return RINGBUF_OK;
}

uint32_t ringbuf_slot_size(const ringbuf_queue* q) noexcept {
  return q == nullptr ? 0 : q->queue.slot_size();
}

uint32_t ringbuf_priorities(const ringbuf_queue* q) noexcept {
  return q == nullptr ? 0 : q->queue.priorities();
}

uint64_t ringbuf_capacity(const ringbuf_queue* q) noexcept {
  return q == nullptr ? 0 : q->queue.capacity();
}

int ringbuf_notifier_create(ringbuf_queue* q, int event,
                            ringbuf_notifier** out) noexcept {
  return Guard("ringbuf_notifier_create", [&]() -> int {
    if (q == nullptr || out == nullptr) {
      return NullArgument("ringbuf_notifier_create: q or out is NULL");
    }
    if (event != RINGBUF_EVENT_MESSAGES && event != RINGBUF_EVENT_SPACE) {
      return Fail(RINGBUF_INVALID_ARGUMENT,
                  absl::StrCat("ringbuf_notifier_create: queue '",
                               q->queue.name(), "': event ", event,
                               " is not a ringbuf_event"));
    }
    auto n = ringbuf::QueueNotifier::Create(
        q->queue, event == RINGBUF_EVENT_MESSAGES
                      ? ringbuf::QueueNotifier::Event::kMessages
                      : ringbuf::QueueNotifier::Event::kSpace);
    if (!n.ok()) return FromStatus(n.status());
    *out = new ringbuf_notifier{*std::move(n)};
    return RINGBUF_OK;
  });
}

int ringbuf_notifier_fd(const ringbuf_notifier* n) noexcept {
  return n == nullptr ? -1 : n->notifier->fd();
}

void ringbuf_notifier_clear(ringbuf_notifier* n) noexcept {
  if (n != nullptr) n->notifier->Clear();
}

void ringbuf_notifier_destroy(ringbuf_notifier* n) noexcept { delete n; }

const char* ringbuf_version(void) noexcept { return ringbuf::Version(); }

const char* ringbuf_last_error(void) noexcept { return last_error; }

const char* ringbuf_status_name(int code) noexcept {
  switch (code) {
    case RINGBUF_OK: return "OK";
    case RINGBUF_CANCELLED: return "CANCELLED";
    case RINGBUF_UNKNOWN: return "UNKNOWN";
    case RINGBUF_INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case RINGBUF_DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case RINGBUF_NOT_FOUND: return "NOT_FOUND";
    case RINGBUF_ALREADY_EXISTS: return "ALREADY_EXISTS";
    case RINGBUF_PERMISSION_DENIED: return "PERMISSION_DENIED";
    case RINGBUF_RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case RINGBUF_FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case RINGBUF_ABORTED: return "ABORTED";
    case RINGBUF_OUT_OF_RANGE: return "OUT_OF_RANGE";
    case RINGBUF_UNIMPLEMENTED: return "UNIMPLEMENTED";
    case RINGBUF_INTERNAL: return "INTERNAL";
    case RINGBUF_UNAVAILABLE: return "UNAVAILABLE";
    case RINGBUF_DATA_LOSS: return "DATA_LOSS";
    case RINGBUF_UNAUTHENTICATED: return "UNAUTHENTICATED";
  }
  return "UNKNOWN";
}

}  // extern "C"

// ---------------------------------------------------------------------------
// Trusting a queue's owner (the *_trusting calls).

namespace {

// The `owner` of the *_trusting calls: NULL is the library's default.
absl::StatusOr<ringbuf::Trust> OwnerTrust(const char* name,
                                          const char* owner) {
  if (owner == nullptr) return ringbuf::Trust();
  absl::StatusOr<ringbuf::Trust> trust = ringbuf::Trust::Owner(owner);
  if (!trust.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("queue '", name, "': ", trust.status().message()));
  }
  return trust;
}

// ringbuf_open_or_create_trusting and ringbuf_open_or_create_prioritized.
int OpenOrCreateTrusting(const char* function, const char* name,
                         const ringbuf::Options& options, const char* owner,
                         ringbuf_queue** out) noexcept {
  return Guard(function, [&]() -> int {
    if (name == nullptr) {
      return Fail(RINGBUF_INVALID_ARGUMENT, function, ": name is NULL");
    }
    if (out == nullptr) {
      return Fail(RINGBUF_INVALID_ARGUMENT, function, ": out is NULL");
    }
    absl::StatusOr<ringbuf::Trust> trust = OwnerTrust(name, owner);
    if (!trust.ok()) return FromStatus(trust.status());
    return Attach(ringbuf::Queue::OpenOrCreate(name, options, *trust), out);
  });
}

}  // namespace

extern "C" {

int ringbuf_open_trusting(const char* name, const char* owner,
                          ringbuf_queue** out) noexcept {
  return Guard("ringbuf_open_trusting", [&]() -> int {
    if (name == nullptr) {
      return NullArgument("ringbuf_open_trusting: name is NULL");
    }
    if (out == nullptr) {
      return NullArgument("ringbuf_open_trusting: out is NULL");
    }
    absl::StatusOr<ringbuf::Trust> trust = OwnerTrust(name, owner);
    if (!trust.ok()) return FromStatus(trust.status());
    return Attach(ringbuf::Queue::Open(name, *trust), out);
  });
}

int ringbuf_open_or_create_trusting(const char* name, uint64_t capacity,
                                    uint32_t slot_size, uint32_t mode,
                                    const char* owner,
                                    ringbuf_queue** out) noexcept {
  return OpenOrCreateTrusting("ringbuf_open_or_create_trusting", name,
                              MakeOptions(capacity, slot_size, mode), owner,
                              out);
}

int ringbuf_open_or_create_prioritized(const char* name, uint64_t capacity,
                                       uint32_t slot_size, uint32_t priorities,
                                       uint32_t mode, const char* owner,
                                       ringbuf_queue** out) noexcept {
  return OpenOrCreateTrusting(
      "ringbuf_open_or_create_prioritized", name,
      MakeOptions(capacity, slot_size, mode, priorities), owner, out);
}

int ringbuf_remove_trusting(const char* name, const char* owner) noexcept {
  return Guard("ringbuf_remove_trusting", [&]() -> int {
    if (name == nullptr) {
      return NullArgument("ringbuf_remove_trusting: name is NULL");
    }
    absl::StatusOr<ringbuf::Trust> trust = OwnerTrust(name, owner);
    if (!trust.ok()) return FromStatus(trust.status());
    return FromStatus(ringbuf::Queue::Remove(name, *trust));
  });
}

}  // extern "C"
