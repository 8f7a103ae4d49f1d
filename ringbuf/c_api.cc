// The C API: each function converts its arguments, calls ringbuf::Queue,
// and turns the absl::Status into an int code plus a thread-local message.
// Every body runs inside Guard(), so no exception crosses into C.
#include "ringbuf/c_api.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <exception>
#include <new>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "ringbuf/options.h"
#include "ringbuf/queue.h"
#include "ringbuf/trust.h"

struct ringbuf_queue {
  explicit ringbuf_queue(ringbuf::Queue q) : queue(std::move(q)) {}
  ringbuf::Queue queue;
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

// Hands a new handle to *out, or reports why there is none.
int Attach(absl::StatusOr<ringbuf::Queue> queue, ringbuf_queue** out) {
  if (!queue.ok()) return FromStatus(queue.status());
  *out = new ringbuf_queue(*std::move(queue));
  return RINGBUF_OK;
}

ringbuf::Options MakeOptions(uint64_t capacity, uint32_t slot_size,
                             uint32_t mode) {
  ringbuf::Options options;
  options.capacity = capacity;
  options.slot_size = slot_size;
  options.mode = static_cast<mode_t>(mode);
  return options;
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
  return Guard("ringbuf_send", [&]() -> int {
    if (q == nullptr) return NullArgument("ringbuf_send: queue is NULL");
    if (data == nullptr && len > 0) {
      return NullArgument("ringbuf_send: data is NULL but len is not 0");
    }
    const absl::string_view message(
        len == 0 ? "" : static_cast<const char*>(data), len);
    if (timeout_ns == 0) return FromStatus(q->queue.TrySend(message));
    if (timeout_ns < 0) return FromStatus(q->queue.Send(message));
    return FromStatus(q->queue.SendFor(message, Timeout(timeout_ns)));
  });
}

int ringbuf_receive(ringbuf_queue* q, void* buf, size_t cap, size_t* len,
                    int64_t timeout_ns) noexcept {
  if (len != nullptr) *len = 0;
  return Guard("ringbuf_receive", [&]() -> int {
    if (q == nullptr) return NullArgument("ringbuf_receive: queue is NULL");
    if (len == nullptr) return NullArgument("ringbuf_receive: len is NULL");
    if (buf == nullptr && cap > 0) {
      return NullArgument("ringbuf_receive: buf is NULL but cap is not 0");
    }
    // ReceiveInto leaves a message that does not fit in the queue, and says
    // how long it is.
    const absl::Span<char> buffer(static_cast<char*>(buf), cap);
    absl::StatusOr<size_t> n = timeout_ns == 0
                                   ? q->queue.TryReceiveInto(buffer)
                                   : q->queue.ReceiveInto(buffer, Timeout(timeout_ns));
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

void ringbuf_shutdown(ringbuf_queue* q) noexcept {
  if (q != nullptr) q->queue.Shutdown();
}

int ringbuf_stats(const ringbuf_queue* q,
                  struct ringbuf_stats* stats) noexcept {
  if (q == nullptr) return NullArgument("ringbuf_stats: queue is NULL");
  if (stats == nullptr) return NullArgument("ringbuf_stats: stats is NULL");
  const ringbuf::Stats s = q->queue.GetStats();
  *stats = {};
  stats->capacity = s.capacity;
  stats->slot_size = s.slot_size;
  stats->depth = s.depth;
  stats->head = s.head;
  stats->tail = s.tail;
  stats->total_sent = s.total_sent;
  stats->total_received = s.total_received;
  stats->send_lock_owner_deaths = s.send_lock_owner_deaths;
  stats->receive_lock_owner_deaths = s.receive_lock_owner_deaths;
  stats->discarded_partial_sends = s.discarded_partial_sends;
  stats->receives_lost_to_dead_consumers = s.receives_lost_to_dead_consumers;
  return RINGBUF_OK;
}

uint32_t ringbuf_slot_size(const ringbuf_queue* q) noexcept {
  return q == nullptr ? 0 : q->queue.slot_size();
}

uint64_t ringbuf_capacity(const ringbuf_queue* q) noexcept {
  return q == nullptr ? 0 : q->queue.capacity();
}

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
  return Guard("ringbuf_open_or_create_trusting", [&]() -> int {
    if (name == nullptr) {
      return NullArgument("ringbuf_open_or_create_trusting: name is NULL");
    }
    if (out == nullptr) {
      return NullArgument("ringbuf_open_or_create_trusting: out is NULL");
    }
    absl::StatusOr<ringbuf::Trust> trust = OwnerTrust(name, owner);
    if (!trust.ok()) return FromStatus(trust.status());
    return Attach(ringbuf::Queue::OpenOrCreate(
                      name, MakeOptions(capacity, slot_size, mode), *trust),
                  out);
  });
}

}  // extern "C"
