// ringbuf::Trust: whose queues a process is willing to open.
//
// /dev/shm is one flat namespace that every user may create names in. Any
// user can create "orders" before the real service does (squatting), with a
// mode that lets them read what others send to it or feed them what they
// like. So Queue::Open, Queue::OpenOrCreate (when it opens an existing
// queue) and Queue::Remove accept an object only if its owner is trusted.
// The owner is read with fstat from the very descriptor that is then mapped,
// so the object checked is the object used, whatever happens to the name in
// between.
//
// The default set is this process's effective uid (at the time of each call)
// and root: a queue made by yourself, or by root, who could rewrite any
// queue anyway. For the legitimate cross-user case (service A creates the
// queue for a group with mode 0660, service B opens it), B names A's owner:
//   Queue::Open("orders", Trust::Uid(a_uid))
//   Queue::Open("orders", *Trust::Owner("svc-a"))    // a user name
// Naming an owner adds it to the default set; Trust::Any() accepts every
// owner and should be kept to read-only inspection or tests.
#ifndef RINGBUF_TRUST_H_
#define RINGBUF_TRUST_H_

#include <sys/types.h>

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ringbuf {

class Trust {
 public:
  // The default: this process's effective uid and root.
  Trust() = default;

  // Every owner: no check at all.
  static Trust Any();

  // `uid`, besides the default set.
  static Trust Uid(uid_t uid);

  // Parses the spelling the CLI (--owner) and the C API take: "any", a
  // decimal uid, or a user name (looked up once, now). A string of digits
  // is always a uid.
  //   InvalidArgument: empty, or no user has that name.
  static absl::StatusOr<Trust> Owner(absl::string_view owner);

  // True if a queue owned by `uid` may be opened.
  bool Trusts(uid_t uid) const;

  // For messages: "any owner", or the trusted owners with their uids,
  // e.g. "alice (uid 1000), root (uid 0)".
  std::string ToString() const;

 private:
  bool any_ = false;
  std::optional<uid_t> extra_;
};

}  // namespace ringbuf

#endif  // RINGBUF_TRUST_H_
