// The owner check of ringbuf/trust.h, applied to a stat of the object about
// to be used, and the descriptions of owners that its errors (and
// AlreadyExists from a create) carry.
#ifndef RINGBUF_INTERNAL_OWNER_TRUST_H_
#define RINGBUF_INTERNAL_OWNER_TRUST_H_

#include <sys/stat.h>
#include <sys/types.h>

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "ringbuf/trust.h"

namespace ringbuf {
namespace internal {

// The user name of `uid`, if the user database has one.
std::optional<std::string> UserName(uid_t uid);

// The uid of the user called `name`, if the user database has one.
std::optional<uid_t> UidOfUser(const std::string& name);

// "nobody (uid 65534)", or "uid 4242" for a uid without a name.
std::string DescribeUser(uid_t uid);

// "0666": the permission bits of `mode`, as chmod takes them.
std::string OctalMode(mode_t mode);

// "owned by nobody (uid 65534) with mode 0666": who made an object, for
// messages about a name that is taken.
std::string DescribeOwnerAndMode(const struct stat& st);

// OK if `trust` accepts the owner of `st`. Otherwise PermissionDenied naming
// the queue, the owner (name and uid), who is trusted, and how to trust that
// owner explicitly; a mode that lets any user write the object is called out,
// since then anyone may have made or changed it. `action` is what was
// refused ("open", "remove").
absl::Status CheckOwner(absl::string_view queue, const struct stat& st,
                        const Trust& trust, absl::string_view action);

}  // namespace internal
}  // namespace ringbuf

#endif  // RINGBUF_INTERNAL_OWNER_TRUST_H_
