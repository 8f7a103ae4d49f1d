#include "ringbuf/internal/lease_table.h"

namespace ringbuf {
namespace internal {

absl::Status LeaseTable::Init(absl::string_view queue) {
  for (Lease& l : lease) {
    if (absl::Status s = l.mutex.Init(queue); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace internal
}  // namespace ringbuf
