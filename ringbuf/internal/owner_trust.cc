#include "ringbuf/internal/owner_trust.h"

#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ringbuf/internal/errno_status.h"

namespace ringbuf {
namespace internal {

namespace {

// Runs a getpw*_r call `lookup(entry, buffer, size, result)` with a buffer
// that grows until the entry fits; the entry, if the user database has one.
template <typename Lookup>
std::optional<struct passwd> LookUpUser(Lookup lookup,
                                        std::vector<char>& buffer) {
  buffer.resize(1024);
  for (;;) {
    struct passwd entry;
    struct passwd* found = nullptr;
    int rc = lookup(&entry, buffer.data(), buffer.size(), &found);
    if (rc == ERANGE && buffer.size() < (size_t{1} << 20)) {
      buffer.resize(buffer.size() * 2);
      continue;
    }
    if (rc != 0 || found == nullptr) return std::nullopt;
    return entry;  // its strings point into `buffer`
  }
}

}  // namespace

std::optional<std::string> UserName(uid_t uid) {
  std::vector<char> buffer;
  std::optional<struct passwd> entry = LookUpUser(
      [&](struct passwd* e, char* b, size_t n, struct passwd** r) {
        return getpwuid_r(uid, e, b, n, r);
      },
      buffer);
  if (!entry.has_value()) return std::nullopt;
  return std::string(entry->pw_name);
}

std::optional<uid_t> UidOfUser(const std::string& name) {
  std::vector<char> buffer;
  std::optional<struct passwd> entry = LookUpUser(
      [&](struct passwd* e, char* b, size_t n, struct passwd** r) {
        return getpwnam_r(name.c_str(), e, b, n, r);
      },
      buffer);
  if (!entry.has_value()) return std::nullopt;
  return entry->pw_uid;
}

std::string DescribeUser(uid_t uid) {
  std::optional<std::string> name = UserName(uid);
  if (!name.has_value()) return absl::StrCat("uid ", uid);
  return absl::StrCat(*name, " (uid ", uid, ")");
}

std::string OctalMode(mode_t mode) {
  return absl::StrFormat("%04o", mode & 07777);
}

std::string DescribeOwnerAndMode(const struct stat& st) {
  return absl::StrCat("owned by ", DescribeUser(st.st_uid), " with mode ",
                      OctalMode(st.st_mode));
}

absl::Status CheckOwner(absl::string_view queue, const struct stat& st,
                        const Trust& trust, absl::string_view action) {
  if (trust.Trusts(st.st_uid)) return absl::OkStatus();
  // Spelled as the user would: the name if there is one, else the uid.
  const std::string owner =
      UserName(st.st_uid).value_or(absl::StrCat(st.st_uid));
  std::string why = absl::StrCat(
      "refusing to ", action, " it: it is owned by ", DescribeUser(st.st_uid),
      ", who is not trusted (trusted: ", trust.ToString(), ")");
  if ((st.st_mode & S_IWOTH) != 0) {
    absl::StrAppend(&why, "; its mode ", OctalMode(st.st_mode),
                    " lets any user write it, so anyone may have planted or "
                    "changed it");
  }
  absl::StrAppend(&why, ". If that owner is the peer you expect, trust it: "
                  "ringbufctl --owner=", owner, ", C++ Trust::Owner(\"", owner,
                  "\")");
  if (action == "open") {
    absl::StrAppend(&why, ", C ringbuf_open_trusting(name, \"", owner,
                    "\", ...)");
  } else if (action == "remove") {
    absl::StrAppend(&why, ", C ringbuf_remove_trusting(name, \"", owner,
                    "\")");
  }
  absl::StrAppend(&why, ", Python owner=\"", owner, "\"");
  return absl::PermissionDeniedError(QueueMessage(queue, why));
}

}  // namespace internal
}  // namespace ringbuf
