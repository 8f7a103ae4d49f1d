// errno -> absl::Status, naming the system call and the queue, in one place.
#ifndef RINGBUF_INTERNAL_ERRNO_STATUS_H_
#define RINGBUF_INTERNAL_ERRNO_STATUS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace ringbuf {
namespace internal {

// Returns a status whose code follows `err` (ENOENT -> NotFound, EEXIST ->
// AlreadyExists, EACCES/EPERM -> PermissionDenied, ...) and whose message
// reads "queue '/name': call: strerror(err)".
absl::Status ErrnoStatus(int err, absl::string_view call,
                         absl::string_view queue);

// Prefixes messages of our own statuses the same way: "queue '/name': ...".
std::string QueueMessage(absl::string_view queue, absl::string_view what);

}  // namespace internal
}  // namespace ringbuf

#endif  // RINGBUF_INTERNAL_ERRNO_STATUS_H_
