// Lifecycle and open modes: Create / Open / OpenOrCreate / Remove, handle
// destruction versus unlinking, names, permissions, and the create race.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "ringbuf/queue.h"
#include "tests/test_util.h"

namespace ringbuf {
namespace {

using testing::ForkChild;
using testing::ScopedQueueName;
using testing::WaitChild;

Options Small() {
  Options o;
  o.capacity = 4;
  o.slot_size = 32;
  return o;
}

mode_t ObjectMode(const std::string& name) {
  int fd = shm_open(name.c_str(), O_RDONLY, 0);
  if (fd < 0) return 0;
  struct stat st;
  fstat(fd, &st);
  close(fd);
  return st.st_mode & 0777;
}

TEST(LifecycleTest, CreateThenOpenSeesTheSameQueue) {
  ScopedQueueName name;
  absl::StatusOr<Queue> a = Queue::Create(name, Small());
  ASSERT_TRUE(a.ok()) << a.status();
  absl::StatusOr<Queue> b = Queue::Open(name);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->capacity(), 4u);
  EXPECT_EQ(b->slot_size(), 32u);
  ASSERT_TRUE(a->Send("hello").ok());
  std::string out;
  ASSERT_TRUE(b->TryReceive(&out).ok());
  EXPECT_EQ(out, "hello");
}

TEST(LifecycleTest, CreateFailsWithAlreadyExistsAndLeavesTheQueueAlone) {
  ScopedQueueName name;
  absl::StatusOr<Queue> a = Queue::Create(name, Small());
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(a->Send("kept").ok());
  absl::StatusOr<Queue> again = Queue::Create(name, Small());
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists)
      << again.status();
  EXPECT_NE(again.status().message().find(name.get()), std::string::npos);
  std::string out;
  ASSERT_TRUE(a->TryReceive(&out).ok());
  EXPECT_EQ(out, "kept");
}

TEST(LifecycleTest, OpenMissingIsNotFound) {
  ScopedQueueName name;
  absl::StatusOr<Queue> q = Queue::Open(name);
  EXPECT_EQ(q.status().code(), absl::StatusCode::kNotFound) << q.status();
  EXPECT_NE(q.status().message().find(name.get()), std::string::npos);
}

TEST(LifecycleTest, RemoveMissingIsNotFound) {
  ScopedQueueName name;
  EXPECT_EQ(Queue::Remove(name).code(), absl::StatusCode::kNotFound);
}

TEST(LifecycleTest, NameWithAndWithoutSlashIsTheSameQueue) {
  ScopedQueueName name;
  std::string bare = name.get().substr(1);
  absl::StatusOr<Queue> a = Queue::Create(bare, Small());
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->name(), name.get());
  EXPECT_TRUE(Queue::Open(name).ok());
  EXPECT_TRUE(Queue::Remove(bare).ok());
  EXPECT_EQ(Queue::Open(name).status().code(), absl::StatusCode::kNotFound);
}

TEST(LifecycleTest, InvalidNamesAreRefused) {
  for (std::string bad : {std::string(""), std::string("/"),
                          std::string("a/b"), std::string("/a/b"),
                          std::string("."), std::string(".."),
                          std::string(300, 'x'), std::string("a\0b", 3)}) {
    absl::StatusOr<Queue> q = Queue::Create(bad, Small());
    EXPECT_EQ(q.status().code(), absl::StatusCode::kInvalidArgument)
        << "name '" << bad << "': " << q.status();
    EXPECT_EQ(Queue::Open(bad).status().code(),
              absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(Queue::Remove(bad).code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(LifecycleTest, InvalidGeometryIsRefusedNamingTheField) {
  ScopedQueueName name;
  Options o = Small();
  o.capacity = 0;
  absl::StatusOr<Queue> q = Queue::Create(name, o);
  EXPECT_EQ(q.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(q.status().message().find("capacity"), std::string::npos);
  o = Small();
  o.slot_size = 0;
  q = Queue::Create(name, o);
  EXPECT_EQ(q.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(q.status().message().find("slot_size"), std::string::npos);
  o = Small();
  o.capacity = kMaxCapacity;
  o.slot_size = kMaxSlotSize;  // would need 2^50 bytes
  q = Queue::Create(name, o);
  EXPECT_EQ(q.status().code(), absl::StatusCode::kInvalidArgument);
  o = Small();
  o.mode = 01777;
  q = Queue::Create(name, o);
  EXPECT_EQ(q.status().code(), absl::StatusCode::kInvalidArgument);
  // Nothing was left behind by the refusals.
  EXPECT_EQ(Queue::Open(name).status().code(), absl::StatusCode::kNotFound);
}

TEST(LifecycleTest, CreatedOwnerOnlyByDefaultWhateverTheUmask) {
  ScopedQueueName name;
  mode_t old = umask(0);
  absl::StatusOr<Queue> q = Queue::Create(name, Small());
  umask(old);
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(ObjectMode(name), 0600u);
}

TEST(LifecycleTest, ExplicitModeIsAppliedExactly) {
  ScopedQueueName name;
  Options o = Small();
  o.mode = 0664;
  mode_t old = umask(077);  // would strip group/other bits from shm_open
  absl::StatusOr<Queue> q = Queue::Create(name, o);
  umask(old);
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(ObjectMode(name), 0664u);
}

TEST(LifecycleTest, DestroyingTheHandleKeepsQueueAndMessages) {
  ScopedQueueName name;
  {
    absl::StatusOr<Queue> q = Queue::Create(name, Small());
    ASSERT_TRUE(q.ok()) << q.status();
    ASSERT_TRUE(q->Send("survives").ok());
  }
  absl::StatusOr<Queue> q = Queue::Open(name);
  ASSERT_TRUE(q.ok()) << q.status();
  std::string out;
  ASSERT_TRUE(q->TryReceive(&out).ok());
  EXPECT_EQ(out, "survives");
}

TEST(LifecycleTest, AttachedHandlesKeepWorkingAfterRemove) {
  ScopedQueueName name;
  absl::StatusOr<Queue> q = Queue::Create(name, Small());
  ASSERT_TRUE(q.ok()) << q.status();
  ASSERT_TRUE(Queue::Remove(name).ok());
  EXPECT_EQ(Queue::Open(name).status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(q->Send("still here").ok());
  std::string out;
  ASSERT_TRUE(q->TryReceive(&out).ok());
  EXPECT_EQ(out, "still here");
  // The name is free for a new, different queue.
  absl::StatusOr<Queue> fresh = Queue::Create(name, Small());
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_EQ(fresh->GetStats().total_sent, 0u);
}

TEST(LifecycleTest, MovedHandleKeepsWorkingAndMovedFromIsRefused) {
  ScopedQueueName name;
  absl::StatusOr<Queue> q = Queue::Create(name, Small());
  ASSERT_TRUE(q.ok()) << q.status();
  Queue moved = *std::move(q);
  ASSERT_TRUE(moved.Send("x").ok());
  Queue& from = *q;
  EXPECT_EQ(from.Send("y").code(), absl::StatusCode::kFailedPrecondition);
  std::string out;
  EXPECT_EQ(from.TryReceive(&out).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(moved.GetStats().depth, 1u);
}

TEST(LifecycleTest, OpenOrCreateCreatesThenOpens) {
  ScopedQueueName name;
  absl::StatusOr<Queue> a = Queue::OpenOrCreate(name, Small());
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(a->Send("one").ok());
  absl::StatusOr<Queue> b = Queue::OpenOrCreate(name, Small());
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->GetStats().depth, 1u);
}

TEST(LifecycleTest, OpenOrCreateRefusesOtherGeometry) {
  ScopedQueueName name;
  ASSERT_TRUE(Queue::Create(name, Small()).ok());
  Options other = Small();
  other.capacity = 8;
  absl::StatusOr<Queue> q = Queue::OpenOrCreate(name, other);
  EXPECT_EQ(q.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(q.status().message().find("capacity"), std::string::npos);
  other = Small();
  other.slot_size = 64;
  EXPECT_EQ(Queue::OpenOrCreate(name, other).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

// Property: when many processes race OpenOrCreate on one name, all succeed
// and all reach the same queue. Proof: each child sends its id; the parent
// then finds exactly one message per child in the one queue under the name
// (a child that had created a second queue, or seen a half-built one, would
// fail or send elsewhere).
TEST(LifecycleTest, OpenOrCreateRaceEndsOnOneQueue) {
  ScopedQueueName name;
  constexpr int kChildren = 8;
  Options o;
  o.capacity = 64;
  o.slot_size = 16;
  std::vector<pid_t> pids;
  for (int i = 0; i < kChildren; ++i) {
    pids.push_back(ForkChild([&, i] {
      absl::StatusOr<Queue> q = Queue::OpenOrCreate(name, o);
      if (!q.ok()) return 1;
      return q->SendFor(absl::StrCat(i), absl::Seconds(10)).ok() ? 0 : 2;
    }));
  }
  for (pid_t pid : pids) {
    EXPECT_TRUE(testing::ExitedCleanly(WaitChild(pid, absl::Seconds(30))));
  }
  absl::StatusOr<Queue> q = Queue::Open(name);
  ASSERT_TRUE(q.ok()) << q.status();
  std::vector<bool> seen(kChildren, false);
  std::string msg;
  while (q->TryReceive(&msg).ok()) {
    int id = std::stoi(msg);
    ASSERT_FALSE(seen[id]) << "duplicate " << id;
    seen[id] = true;
  }
  for (int i = 0; i < kChildren; ++i) EXPECT_TRUE(seen[i]) << "missing " << i;
}

// Property: an opener never sees a half-built queue, even while creates and
// removes race with it: every Open returns OK or NotFound, never DataLoss.
TEST(LifecycleTest, OpenNeverSeesAHalfBuiltQueue) {
  ScopedQueueName name;
  pid_t creator = ForkChild([&] {
    for (int i = 0; i < 300; ++i) {
      Options o;
      o.capacity = 1024;
      o.slot_size = 1024;
      if (!Queue::Create(name, o).ok()) return 1;
      if (!Queue::Remove(name).ok()) return 2;
    }
    return 0;
  });
  int opened = 0;
  for (int i = 0; i < 3000; ++i) {
    absl::StatusOr<Queue> q = Queue::Open(name);
    if (q.ok()) {
      ++opened;
      EXPECT_EQ(q->capacity(), 1024u);
    } else {
      ASSERT_EQ(q.status().code(), absl::StatusCode::kNotFound) << q.status();
    }
  }
  EXPECT_TRUE(testing::ExitedCleanly(WaitChild(creator, absl::Seconds(60))));
}

}  // namespace
}  // namespace ringbuf
