// Uses every installed C++ header the way a program built against an install
// does. Compiled seeing only //ringbuf:public_headers and Abseil: an #include
// of ringbuf/internal/ anywhere in them fails this file's compilation.
#include "tests/public_headers_only.h"

#include <poll.h>

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "ringbuf/notifier.h"
#include "ringbuf/options.h"
#include "ringbuf/queue.h"
#include "ringbuf/version.h"

std::string CppRoundTripThroughPublicHeaders(const std::string& name) {
  ringbuf::Options options;
  options.capacity = 4;
  options.slot_size = 64;
  absl::StatusOr<ringbuf::Queue> queue = ringbuf::Queue::Create(name, options);
  if (!queue.ok()) return queue.status().ToString();
  absl::StatusOr<std::unique_ptr<ringbuf::QueueNotifier>> notifier =
      ringbuf::QueueNotifier::Create(*queue,
                                     ringbuf::QueueNotifier::Event::kMessages);
  if (!notifier.ok()) return notifier.status().ToString();
  if (absl::Status s = queue->Send("hello"); !s.ok()) return s.ToString();
  pollfd readable{(*notifier)->fd(), POLLIN, 0};
  if (poll(&readable, 1, /*timeout_ms=*/10000) != 1) return "not notified";
  std::string received;
  if (absl::Status s = queue->ReceiveFor(&received, absl::Seconds(10));
      !s.ok()) {
    return s.ToString();
  }
  if (std::string(ringbuf::Version()) != RINGBUF_VERSION_STRING) {
    return "version mismatch";
  }
  return received;
}
