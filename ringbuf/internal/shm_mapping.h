// RAII over one POSIX shared-memory object mapped into this process:
// shm_open + fallocate + mmap on the way in, munmap on the way out, and
// unlink as a separate, explicit call. Nothing about queues lives here.
#ifndef RINGBUF_INTERNAL_SHM_MAPPING_H_
#define RINGBUF_INTERNAL_SHM_MAPPING_H_

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ringbuf/trust.h"

namespace ringbuf {
namespace internal {

// "orders" or "/orders" -> "/orders". InvalidArgument unless the name, less
// its optional leading '/', is 1..kMaxNameLength bytes with no '/' or NUL
// and is not "." or "..".
inline constexpr size_t kMaxNameLength = 240;
absl::StatusOr<std::string> NormalizeName(absl::string_view name);

// The memory of one mapping, unmapped when its last holder lets go: the
// ShmMapping that made it and any thread's lease that points into it
// (thread_leases.h: a robust mutex must stay mapped until it is unlocked).
class MappedRegion {
 public:
  MappedRegion(void* data, uint64_t size) : data_(data), size_(size) {}
  MappedRegion(const MappedRegion&) = delete;
  MappedRegion& operator=(const MappedRegion&) = delete;
  ~MappedRegion();  // unmaps

  // Whether the ShmMapping that made it is gone, leaving only leases.
  bool closed() const { return closed_.load(std::memory_order_acquire); }

 private:
  friend class ShmMapping;
  void* data_;
  uint64_t size_;
  std::atomic<bool> closed_{false};
};

class ShmMapping {
 public:
  ShmMapping() = default;
  ShmMapping(ShmMapping&& other) noexcept;
  ShmMapping& operator=(ShmMapping&& other) noexcept;
  ShmMapping(const ShmMapping&) = delete;
  ShmMapping& operator=(const ShmMapping&) = delete;
  // Unmaps, unless a thread's lease still keeps the memory (region());
  // never unlinks.
  ~ShmMapping();

  // Maps the whole existing object read-only (the memory must not be
  // written), without following a symlink or blocking on a FIFO, and
  // without any owner check: for looking, not for using. NotFound if
  // missing; DataLoss for anything but a regular file, or a size outside
  // [min_size, max_size]. Records owner() and mode().
  static absl::StatusOr<ShmMapping> OpenReadOnly(const std::string& name,
                                                 uint64_t min_size,
                                                 uint64_t max_size);

  // Creates an object of `size` bytes, lets `init` fill it, and only then
  // makes it visible under `name` (normalized), atomically and exclusively:
  // the object is built as an unnamed file (O_TMPFILE) and linked into place,
  // so no opener can ever see it half-built, and a creator killed midway
  // leaves nothing behind. AlreadyExists if the
  // name exists, naming the existing object's owner and mode (a name taken
  // by another user may be squatted); ResourceExhausted if /dev/shm lacks the space (reserved up
  // front, so a full /dev/shm is an error here, never a SIGBUS later).
  static absl::StatusOr<ShmMapping> CreateExclusive(
      const std::string& name, uint64_t size, mode_t mode,
      absl::FunctionRef<absl::Status(void*)> init);

  // Maps the whole existing object. NotFound if missing; PermissionDenied
  // if `trust` does not accept its owner (checked on the descriptor that is
  // mapped, so a name swapped meanwhile cannot slip another object in);
  // DataLoss if it is smaller than `min_size` or larger than `max_size`.
  static absl::StatusOr<ShmMapping> OpenExisting(const std::string& name,
                                                 uint64_t min_size,
                                                 uint64_t max_size,
                                                 const Trust& trust);

  // Removes the name; processes that have it mapped keep their mapping.
  // PermissionDenied if `trust` does not accept the owner of the object the
  // name holds when this looks (a guard against removing another user's
  // queue by mistake: unlinking works on names, so the object is checked by
  // name just before).
  static absl::Status Unlink(const std::string& name, const Trust& trust);

  void* data() const { return data_; }
  uint64_t size() const { return size_; }
  // The object's owner and permission bits when it was opened read-only.
  uid_t owner() const { return owner_; }
  mode_t mode() const { return mode_; }
  // The shared record of the memory, to keep it mapped after this goes;
  // null if there was no memory for it.
  const std::shared_ptr<MappedRegion>& region() const { return region_; }

 private:
  ShmMapping(void* data, uint64_t size);
  void Close();

  void* data_ = nullptr;
  uint64_t size_ = 0;
  uid_t owner_ = 0;
  mode_t mode_ = 0;
  std::shared_ptr<MappedRegion> region_;
};

}  // namespace internal
}  // namespace ringbuf

#endif  // RINGBUF_INTERNAL_SHM_MAPPING_H_
