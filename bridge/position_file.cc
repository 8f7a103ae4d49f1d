#include "bridge/position_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace ringbuf {
namespace bridge {

namespace {

// incarnation, sequence, and a check word so that a file of anything else
// (or never written) reads as "no position".
struct PositionRecord {
  uint64_t incarnation;
  uint64_t sequence;
  uint64_t check;
};
constexpr uint64_t kCheckKey = 0x52425042'52494447;  // "RBPBRIDG"

uint64_t Check(uint64_t incarnation, uint64_t sequence) {
  return (incarnation * 0x9e3779b97f4a7c15ull) ^ sequence ^ kCheckKey;
}

absl::Status Errno(const std::string& what, const std::string& path) {
  return absl::InternalError(
      absl::StrCat("position file '", path, "': ", what, ": ", std::strerror(errno)));
}

}  // namespace

std::string PositionFile::DefaultPath(const std::string& queue,
                                      const std::string& durable) {
  return absl::StrCat("/dev/shm/ringbuf-bridge-in.",
                      absl::StrReplaceAll(queue, {{"/", ""}}), ".", durable);
}

absl::StatusOr<PositionFile> PositionFile::Open(const std::string& path,
                                                uint64_t incarnation) {
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("open", path);
  PositionRecord r{};
  std::optional<uint64_t> last;
  if (pread(fd, &r, sizeof(r), 0) == static_cast<ssize_t>(sizeof(r)) &&
      r.incarnation == incarnation && r.check == Check(r.incarnation, r.sequence)) {
    last = r.sequence;
  }
  return PositionFile(fd, path, incarnation, last);
}

PositionFile::PositionFile(PositionFile&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      path_(std::move(other.path_)),
      incarnation_(other.incarnation_),
      last_(other.last_) {}

PositionFile& PositionFile::operator=(PositionFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
    incarnation_ = other.incarnation_;
    last_ = other.last_;
  }
  return *this;
}

PositionFile::~PositionFile() {
  if (fd_ >= 0) close(fd_);
}

absl::Status PositionFile::Record(uint64_t sequence) {
  const PositionRecord r{incarnation_, sequence,
                                    Check(incarnation_, sequence)};
  if (pwrite(fd_, &r, sizeof(r), 0) != static_cast<ssize_t>(sizeof(r))) {
    return Errno("pwrite", path_);
  }
  last_ = sequence;
  return absl::OkStatus();
}

}  // namespace bridge
}  // namespace ringbuf
