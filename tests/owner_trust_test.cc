// Who owns the queue you talk to (ringbuf/trust.h): run as two users, root
// (the test) and `nobody` (forked children that setuid), it proves that a
// queue someone else created first (squatted) is refused by Open and
// OpenOrCreate by default, with an error naming the queue, its owner and
// uid, a world-writable mode, and how to opt in; that naming the owner (by
// uid, by user name, or "any") accepts it and the two users then talk both
// ways; that Create of a squatted name fails with AlreadyExists naming the
// squatter; that Remove refuses another user's queue unless trusted; and
// that the default is "this effective uid and root", not "root": nobody
// trusts its own and root's queues but refuses a third user's; and that the
// README's recipe for sharing a queue with a group works. Skipped, with
// the reason, when not run as root (CI runs it as root).
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "ringbuf/queue.h"
#include "ringbuf/trust.h"
#include "tests/test_util.h"

namespace ringbuf {
namespace {

using testing::CreateAs;
using testing::ExitedCleanly;
using testing::ForkChildAs;
using testing::OtherUser;
using testing::ScopedQueueName;
using testing::WaitChild;

constexpr absl::Duration kChildBound = absl::Seconds(30);

Options Small(mode_t mode = 0600) {
  Options o;
  o.capacity = 4;
  o.slot_size = 32;
  o.mode = mode;
  return o;
}

::testing::AssertionResult Mentions(const absl::Status& status,
                                    absl::string_view text) {
  if (absl::StrContains(status.message(), text)) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "'" << text << "' is not in: " << status;
}

// Messages in the queue, read without taking it (and trusting any owner).
uint64_t Depth(const std::string& name) {
  absl::StatusOr<Queue> q = Queue::Open(name, Trust::Any());
  return q.ok() ? q->GetStats().depth : ~uint64_t{0};
}

class OwnerTrustTest : public testing::TwoUserTest {
 protected:
  // nobody creates name_ first, with `mode`, and plants a message.
  void Squat(mode_t mode = 0666) { TwoUserTest::Squat(name_, mode); }

  ScopedQueueName name_;
};

TEST_F(OwnerTrustTest, OpenRefusesASquattedQueueByDefault) {
  ASSERT_NO_FATAL_FAILURE(Squat());
  absl::StatusOr<Queue> q = Queue::Open(name_);
  ASSERT_EQ(q.status().code(), absl::StatusCode::kPermissionDenied)
      << q.status();
  EXPECT_TRUE(Mentions(q.status(), name_.get()));
  EXPECT_TRUE(Mentions(q.status(), Owner()));
  EXPECT_TRUE(Mentions(q.status(), "root (uid 0)")) << "who is trusted";
  EXPECT_TRUE(Mentions(q.status(), "mode 0666 lets any user write it"));
  EXPECT_TRUE(Mentions(q.status(), absl::StrCat("--owner=", nobody_.name)));
  EXPECT_TRUE(Mentions(q.status(), absl::StrCat("Trust::Owner(\"",
                                                nobody_.name, "\")")));
  EXPECT_TRUE(Mentions(q.status(), absl::StrCat("ringbuf_open_trusting(name, \"",
                                                nobody_.name, "\"")));
  EXPECT_EQ(Depth(name_), 1u) << "the planted message is untouched";
}

TEST_F(OwnerTrustTest, OpenOrCreateRefusesASquattedQueueAndSendsNothing) {
  ASSERT_NO_FATAL_FAILURE(Squat());
  absl::StatusOr<Queue> q = Queue::OpenOrCreate(name_, Small());
  ASSERT_EQ(q.status().code(), absl::StatusCode::kPermissionDenied)
      << q.status();
  EXPECT_TRUE(Mentions(q.status(), Owner()));
  EXPECT_EQ(Depth(name_), 1u) << "only the planted message";
}

TEST_F(OwnerTrustTest, AModeOthersCannotWriteIsNotCalledOut) {
  // Root opens a 0600 object anyway (CAP_DAC_OVERRIDE): the owner decides.
  ASSERT_NO_FATAL_FAILURE(Squat(0600));
  absl::StatusOr<Queue> q = Queue::Open(name_);
  ASSERT_EQ(q.status().code(), absl::StatusCode::kPermissionDenied)
      << q.status();
  EXPECT_TRUE(Mentions(q.status(), Owner()));
  EXPECT_FALSE(absl::StrContains(q.status().message(), "any user write"))
      << q.status();
}

TEST_F(OwnerTrustTest, NamingTheOwnerAcceptsItAndBothUsersTalk) {
  ASSERT_NO_FATAL_FAILURE(Squat());
  std::vector<Trust> trusts = {Trust::Uid(nobody_.uid), Trust::Any()};
  for (const std::string& spelling :
       {nobody_.name, absl::StrCat(nobody_.uid), std::string("any")}) {
    absl::StatusOr<Trust> t = Trust::Owner(spelling);
    ASSERT_TRUE(t.ok()) << spelling << ": " << t.status();
    trusts.push_back(*t);
  }
  for (const Trust& trust : trusts) {
    absl::StatusOr<Queue> q = Queue::Open(name_, trust);
    EXPECT_TRUE(q.ok()) << trust.ToString() << ": " << q.status();
    absl::StatusOr<Queue> p = Queue::OpenOrCreate(name_, Small(), trust);
    EXPECT_TRUE(p.ok()) << trust.ToString() << ": " << p.status();
  }
  absl::StatusOr<Queue> q = Queue::Open(name_, Trust::Uid(nobody_.uid));
  ASSERT_TRUE(q.ok()) << q.status();
  std::string got;
  ASSERT_TRUE(q->TryReceive(&got).ok());
  EXPECT_EQ(got, "planted");
  ASSERT_TRUE(q->TrySend("reply").ok());
  // nobody opens its own queue with the default trust and gets the reply.
  pid_t child = ForkChildAs(nobody_, [&] {
    absl::StatusOr<Queue> mine = Queue::Open(name_);
    if (!mine.ok()) return 1;
    std::string reply;
    if (!mine->TryReceive(&reply).ok()) return 2;
    return reply == "reply" ? 0 : 3;
  });
  EXPECT_TRUE(ExitedCleanly(WaitChild(child, kChildBound)));
}

TEST_F(OwnerTrustTest, CreateOfASquattedNameFailsWithAlreadyExistsNamingTheSquatter) {
  ASSERT_NO_FATAL_FAILURE(Squat());
  absl::StatusOr<Queue> q = Queue::Create(name_, Small());
  ASSERT_EQ(q.status().code(), absl::StatusCode::kAlreadyExists) << q.status();
  EXPECT_TRUE(Mentions(q.status(), name_.get()));
  EXPECT_TRUE(Mentions(q.status(), absl::StrCat("owned by ", Owner())));
  EXPECT_TRUE(Mentions(q.status(), "mode 0666"));
  EXPECT_TRUE(Mentions(q.status(), "squatted"));
  EXPECT_EQ(Depth(name_), 1u);
}

TEST_F(OwnerTrustTest, RemoveRefusesAnUntrustedOwnersQueueUnlessTrusted) {
  ASSERT_NO_FATAL_FAILURE(Squat());
  absl::Status s = Queue::Remove(name_);
  ASSERT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << s;
  EXPECT_TRUE(Mentions(s, "refusing to remove it"));
  EXPECT_FALSE(absl::StrContains(s.message(), "ringbuf_open_trusting"))
      << "the C API has no trusting remove: " << s;
  EXPECT_TRUE(Mentions(s, Owner()));
  EXPECT_EQ(Depth(name_), 1u) << "still there";
  ASSERT_TRUE(Queue::Remove(name_, Trust::Uid(nobody_.uid)).ok());
  EXPECT_EQ(Queue::Open(name_, Trust::Any()).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(OwnerTrustTest, TheDefaultIsThisUserAndRootNotRootAlone) {
  ScopedQueueName roots("root"), nobodys("nobody"), thirds("third");
  ASSERT_TRUE(Queue::Create(roots, Small(0666)).ok());
  const OtherUser third{nobody_.uid - 1, nobody_.gid, "a third user"};
  absl::Status made = CreateAs(third, thirds, Small(0666), {});
  ASSERT_TRUE(made.ok()) << made;
  pid_t child = ForkChildAs(nobody_, [&] {
    if (!Queue::Open(roots).ok()) return 1;
    if (!Queue::Create(nobodys, Small()).ok()) return 2;
    if (!Queue::Open(nobodys).ok()) return 3;
    absl::Status third_open = Queue::Open(thirds).status();
    if (!absl::IsPermissionDenied(third_open)) return 4;
    if (!absl::StrContains(third_open.message(), "uid " + std::to_string(
                                                      nobody_.uid - 1))) {
      return 5;
    }
    return Queue::Open(thirds, Trust::Uid(nobody_.uid - 1)).ok() ? 0 : 6;
  });
  const int status = WaitChild(child, kChildBound);
  EXPECT_TRUE(ExitedCleanly(status))
      << "child exit " << (WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

// The README's recipe for sharing a queue across users: the creator makes it
// with Create and mode 0660 while its effective gid is the shared group; a
// member of that group opens it naming the creator (and only so); a user
// outside the group cannot open it at all.
TEST_F(OwnerTrustTest, AGroupQueueNamingTheCreatorIsSharedWithTheGroupOnly) {
  constexpr gid_t kGroup = 4242;
  const OtherUser creator{nobody_.uid - 1, kGroup, "creator"};
  const OtherUser member{nobody_.uid, kGroup, nobody_.name};
  const OtherUser outsider{nobody_.uid - 2, nobody_.gid, "outsider"};
  absl::Status made = CreateAs(creator, name_, Small(0660), {"for the group"});
  ASSERT_TRUE(made.ok()) << made;
  pid_t child = ForkChildAs(member, [&] {
    if (!absl::IsPermissionDenied(Queue::Open(name_).status())) return 1;
    absl::StatusOr<Queue> q = Queue::Open(name_, Trust::Uid(creator.uid));
    if (!q.ok()) return 2;
    std::string got;
    if (!q->TryReceive(&got).ok() || got != "for the group") return 3;
    return 0;
  });
  int status = WaitChild(child, kChildBound);
  EXPECT_TRUE(ExitedCleanly(status))
      << "member: exit " << (WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  child = ForkChildAs(outsider, [&] {
    absl::Status s = Queue::Open(name_, Trust::Any()).status();
    return absl::IsPermissionDenied(s) ? 0 : 1;
  });
  status = WaitChild(child, kChildBound);
  EXPECT_TRUE(ExitedCleanly(status)) << "the outsider got in";
}

// No second user needed: the spellings Trust::Owner takes.
TEST(TrustTest, OwnerParsesAnyAUidOrAUserName) {
  absl::StatusOr<Trust> any = Trust::Owner("any");
  ASSERT_TRUE(any.ok());
  EXPECT_TRUE(any->Trusts(4242));
  EXPECT_EQ(any->ToString(), "any owner");

  absl::StatusOr<Trust> uid = Trust::Owner("4242");
  ASSERT_TRUE(uid.ok());
  EXPECT_TRUE(uid->Trusts(4242));
  EXPECT_FALSE(uid->Trusts(4243));

  absl::StatusOr<Trust> root = Trust::Owner("root");
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_TRUE(root->Trusts(0));

  for (const char* bad : {"", "no-such-user-rbt", "4294967295",
                          "99999999999"}) {
    absl::StatusOr<Trust> t = Trust::Owner(bad);
    EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument)
        << "'" << bad << "': " << t.status();
    EXPECT_TRUE(Mentions(t.status(), absl::StrCat("owner '", bad, "'")));
  }
}

TEST(TrustTest, TheDefaultTrustsThisEffectiveUidAndRootOnly) {
  const Trust trust;
  EXPECT_TRUE(trust.Trusts(geteuid()));
  EXPECT_TRUE(trust.Trusts(0));
  EXPECT_FALSE(trust.Trusts(geteuid() + 4242));
  EXPECT_TRUE(absl::StrContains(trust.ToString(), "(uid 0)"))
      << trust.ToString();
  // Naming an owner adds it to the default set.
  const Trust named = Trust::Uid(geteuid() + 4242);
  EXPECT_TRUE(named.Trusts(geteuid() + 4242));
  EXPECT_TRUE(named.Trusts(geteuid()));
  EXPECT_TRUE(named.Trusts(0));
  EXPECT_TRUE(absl::StrContains(named.ToString(),
                                absl::StrCat("uid ", geteuid() + 4242)))
      << named.ToString();
}

}  // namespace
}  // namespace ringbuf
