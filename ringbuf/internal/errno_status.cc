#include "ringbuf/internal/errno_status.h"

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"

namespace ringbuf {
namespace internal {
namespace {

absl::StatusCode CodeForErrno(int err) {
  switch (err) {
    case ENOENT:
      return absl::StatusCode::kNotFound;
    case EEXIST:
      return absl::StatusCode::kAlreadyExists;
    case EACCES:
    case EPERM:
      return absl::StatusCode::kPermissionDenied;
    case EINVAL:
    case ENAMETOOLONG:
      return absl::StatusCode::kInvalidArgument;
    case ENOMEM:
    case ENOSPC:
    case EMFILE:
    case ENFILE:
    case EFBIG:
      return absl::StatusCode::kResourceExhausted;
    case ETIMEDOUT:
      return absl::StatusCode::kDeadlineExceeded;
    case EINTR:
    case EAGAIN:
      return absl::StatusCode::kUnavailable;
    default:
      return absl::StatusCode::kInternal;
  }
}

}  // namespace

std::string QueueMessage(absl::string_view queue, absl::string_view what) {
  return absl::StrCat("queue '", queue, "': ", what);
}

absl::Status ErrnoStatus(int err, absl::string_view call,
                         absl::string_view queue) {
  return absl::Status(
      CodeForErrno(err),
      QueueMessage(queue, absl::StrCat(call, ": ", std::strerror(err))));
}

}  // namespace internal
}  // namespace ringbuf
