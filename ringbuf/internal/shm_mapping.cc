#include "ringbuf/internal/shm_mapping.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include "ringbuf/internal/errno_status.h"
#include "ringbuf/internal/owner_trust.h"

namespace ringbuf {
namespace internal {
namespace {

// glibc's shm_open() names objects in this directory; creation links into
// it directly so that publishing a finished object is one atomic link.
constexpr absl::string_view kShmDir = "/dev/shm";

// DataLoss unless an object of `size` bytes may be a queue.
absl::Status CheckSize(const std::string& name, uint64_t size,
                       uint64_t min_size, uint64_t max_size) {
  if (size >= min_size && size <= max_size) return absl::OkStatus();
  return absl::DataLossError(QueueMessage(
      name, absl::StrCat("not a usable ringbuf queue: the object is ", size,
                         " bytes, expected between ", min_size, " and ",
                         max_size)));
}

// Closes a descriptor on every path out of a scope.
class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() { close(fd_); }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;

 private:
  int fd_;
};

// AlreadyExists for a name that is taken, naming who took it: when that is
// another user, the name may be squatted, and the creator should know by
// whom. (Looked up after the fact, by name: only for the message.)
absl::Status NameTaken(const std::string& name, const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) {
    return absl::AlreadyExistsError(QueueMessage(name, "already exists"));
  }
  std::string what = absl::StrCat("already exists, ", DescribeOwnerAndMode(st));
  if (st.st_uid != geteuid()) {
    absl::StrAppend(&what, " (another user: if that is not expected, the "
                    "name may be squatted)");
  }
  return absl::AlreadyExistsError(QueueMessage(name, what));
}

}  // namespace

absl::StatusOr<std::string> NormalizeName(absl::string_view name) {
  absl::string_view bare = name;
  if (!bare.empty() && bare.front() == '/') bare.remove_prefix(1);
  auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid queue name '", name, "': ", why));
  };
  if (bare.empty()) return invalid("it is empty");
  if (bare.size() > kMaxNameLength) {
    return invalid(absl::StrCat("it is ", bare.size(),
                                " bytes long, the limit is ", kMaxNameLength));
  }
  if (bare.find('/') != absl::string_view::npos) {
    return invalid("only a leading '/' is allowed");
  }
  if (bare.find('\0') != absl::string_view::npos) {
    return invalid("it contains a NUL byte");
  }
  if (bare == "." || bare == "..") return invalid("'.' and '..' are reserved");
  return absl::StrCat("/", bare);
}

MappedRegion::~MappedRegion() { munmap(data_, size_); }

ShmMapping::ShmMapping(void* data, uint64_t size) : data_(data), size_(size) {
  // Without memory for the shared record, this mapping unmaps itself and
  // region() is null (whoever needs it reports ResourceExhausted).
  try {
    region_ = std::make_shared<MappedRegion>(data, size);
  } catch (...) {
  }
}

ShmMapping::ShmMapping(ShmMapping&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      owner_(other.owner_),
      mode_(other.mode_),
      region_(std::move(other.region_)) {}

ShmMapping& ShmMapping::operator=(ShmMapping&& other) noexcept {
  if (this != &other) {
    Close();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    owner_ = other.owner_;
    mode_ = other.mode_;
    region_ = std::move(other.region_);
  }
  return *this;
}

ShmMapping::~ShmMapping() { Close(); }

void ShmMapping::Close() {
  if (data_ == nullptr) return;
  if (region_ == nullptr) {
    munmap(data_, size_);
    return;
  }
  region_->closed_.store(true, std::memory_order_release);
  region_.reset();  // unmaps unless a thread's lease still points into it
}

absl::StatusOr<ShmMapping> ShmMapping::CreateExclusive(
    const std::string& name, uint64_t size, mode_t mode,
    absl::FunctionRef<absl::Status(void*)> init) {
  // An unnamed file in /dev/shm: a creator killed before publishing leaves
  // nothing behind, and creators in different pid namespaces cannot collide
  // on a temporary name.
  int fd = open(std::string(kShmDir).c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC,
                mode);
  if (fd < 0) return ErrnoStatus(errno, "open(O_TMPFILE) in /dev/shm", name);
  FdCloser closer(fd);
  // open applied the umask; the caller's mode is meant exactly.
  if (fchmod(fd, mode) != 0) return ErrnoStatus(errno, "fchmod", name);
  // Reserve the pages now: a tmpfs short of space then fails here rather
  // than raising SIGBUS in whichever process first touches a slot.
  if (int rc = posix_fallocate(fd, 0, static_cast<off_t>(size)); rc != 0) {
    struct statvfs vfs;
    if (rc == ENOSPC && fstatvfs(fd, &vfs) == 0) {
      return absl::ResourceExhaustedError(QueueMessage(
          name, absl::StrCat("out of space in ", kShmDir, ": the queue needs ",
                             size, " bytes (all reserved at create time), ",
                             kShmDir, " has ",
                             uint64_t{vfs.f_bavail} * vfs.f_frsize,
                             " bytes free of ",
                             uint64_t{vfs.f_blocks} * vfs.f_frsize)));
    }
    return ErrnoStatus(rc, "posix_fallocate", name);
  }
  void* data = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (data == MAP_FAILED) return ErrnoStatus(errno, "mmap", name);
  ShmMapping mapping(data, size);
  if (absl::Status s = init(data); !s.ok()) return s;
  // Publish: linking the finished file under its name fails with EEXIST if
  // the name is taken, which makes this the exclusive create, and nobody can
  // open the name before it. (The /proc/self/fd route is how open(2) says to
  // link an O_TMPFILE file without CAP_DAC_READ_SEARCH.)
  std::string from = absl::StrCat("/proc/self/fd/", fd);
  std::string to = absl::StrCat(kShmDir, name);
  if (linkat(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(),
             AT_SYMLINK_FOLLOW) != 0) {
    if (errno == EEXIST) return NameTaken(name, to);
    return ErrnoStatus(errno, "linkat into /dev/shm", name);
  }
  return mapping;
}

absl::StatusOr<ShmMapping> ShmMapping::OpenExisting(const std::string& name,
                                                    uint64_t min_size,
                                                    uint64_t max_size,
                                                    const Trust& trust) {
  int fd = shm_open(name.c_str(), O_RDWR | O_CLOEXEC, 0);
  if (fd < 0 && errno == ENOENT) {
    return absl::NotFoundError(QueueMessage(name, "no such queue"));
  }
  if (fd < 0) return ErrnoStatus(errno, "shm_open", name);
  FdCloser closer(fd);
  struct stat st;
  if (fstat(fd, &st) != 0) return ErrnoStatus(errno, "fstat", name);
  if (absl::Status s = CheckOwner(name, st, trust, "open"); !s.ok()) return s;
  uint64_t size = static_cast<uint64_t>(st.st_size);
  if (absl::Status s = CheckSize(name, size, min_size, max_size); !s.ok()) {
    return s;
  }
  void* data = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (data == MAP_FAILED) return ErrnoStatus(errno, "mmap", name);
  return ShmMapping(data, size);
}

absl::Status ShmMapping::Unlink(const std::string& name, const Trust& trust) {
  struct stat st;
  if (lstat(absl::StrCat(kShmDir, name).c_str(), &st) == 0) {
    if (absl::Status s = CheckOwner(name, st, trust, "remove"); !s.ok()) {
      return s;
    }
  }
  if (shm_unlink(name.c_str()) != 0) {
    if (errno == ENOENT) {
      return absl::NotFoundError(QueueMessage(name, "no such queue"));
    }
    return ErrnoStatus(errno, "shm_unlink", name);
  }
  return absl::OkStatus();
}

absl::StatusOr<ShmMapping> ShmMapping::OpenReadOnly(const std::string& name,
                                                    uint64_t min_size,
                                                    uint64_t max_size) {
  const std::string path = absl::StrCat(kShmDir, name);
  int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    return absl::NotFoundError(QueueMessage(name, "no such queue"));
  }
  if (fd < 0) return ErrnoStatus(errno, "open", name);
  FdCloser closer(fd);
  struct stat st;
  if (fstat(fd, &st) != 0) return ErrnoStatus(errno, "fstat", name);
  if (!S_ISREG(st.st_mode)) {
    return absl::DataLossError(
        QueueMessage(name, "not a ringbuf queue: not a regular file"));
  }
  uint64_t size = static_cast<uint64_t>(st.st_size);
  if (absl::Status s = CheckSize(name, size, min_size, max_size); !s.ok()) {
    return s;
  }
  void* data = mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  if (data == MAP_FAILED) return ErrnoStatus(errno, "mmap", name);
  ShmMapping mapping(data, size);
  mapping.owner_ = st.st_uid;
  mapping.mode_ = st.st_mode & 07777;
  return mapping;
}

}  // namespace internal
}  // namespace ringbuf
