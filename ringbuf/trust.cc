#include "ringbuf/trust.h"

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "ringbuf/internal/owner_trust.h"

namespace ringbuf {

Trust Trust::Any() {
  Trust trust;
  trust.any_ = true;
  return trust;
}

Trust Trust::Uid(uid_t uid) {
  Trust trust;
  trust.extra_ = uid;
  return trust;
}

absl::StatusOr<Trust> Trust::Owner(absl::string_view owner) {
  auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("owner '", owner, "' ", why,
                     " (expected 'any', a user name or a decimal uid)"));
  };
  if (owner.empty()) return invalid("is empty");
  if (owner == "any") return Any();
  if (std::all_of(owner.begin(), owner.end(), absl::ascii_isdigit)) {
    uint32_t uid = 0;
    // (uid_t)-1 means "no uid" to the kernel; no object is owned by it.
    if (!absl::SimpleAtoi(owner, &uid) || uid == static_cast<uid_t>(-1)) {
      return invalid("is not a valid uid");
    }
    return Uid(static_cast<uid_t>(uid));
  }
  std::optional<uid_t> uid = internal::UidOfUser(std::string(owner));
  if (!uid.has_value()) return invalid("is not a known user");
  return Uid(*uid);
}

bool Trust::Trusts(uid_t uid) const {
  return any_ || uid == 0 || uid == geteuid() ||
         (extra_.has_value() && uid == *extra_);
}

std::string Trust::ToString() const {
  if (any_) return "any owner";
  std::string out;
  auto add = [&](uid_t uid) {
    absl::StrAppend(&out, out.empty() ? "" : ", ",
                    internal::DescribeUser(uid));
  };
  const uid_t self = geteuid();
  if (extra_.has_value() && *extra_ != self && *extra_ != 0) add(*extra_);
  if (self != 0) add(self);
  add(0);
  return out;
}

}  // namespace ringbuf
