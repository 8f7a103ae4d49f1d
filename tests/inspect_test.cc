// Queue::Inspect: a read-only look for operators' tools. It needs only read
// permission, writes nothing, takes no lock, reports the object's owner and
// mode, and tells a ringbuf queue from anything else in /dev/shm.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "gtest/gtest.h"
#include "ringbuf/queue.h"
#include "tests/test_util.h"

namespace ringbuf {
namespace {

using testing::ScopedQueueName;

constexpr uid_t kNobody = 65534;

TEST(InspectTest, ReportsStatsOwnerModeAndSize) {
  ScopedQueueName name;
  Options o;
  o.capacity = 8;
  o.slot_size = 100;
  o.mode = 0640;
  absl::StatusOr<Queue> q = Queue::Create(name.get(), o);
  ASSERT_TRUE(q.ok()) << q.status();
  ASSERT_TRUE(q->Send("a").ok());
  ASSERT_TRUE(q->Send("b").ok());
  absl::StatusOr<QueueInfo> info = Queue::Inspect(name.get());
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->stats.capacity, 8u);
  EXPECT_EQ(info->stats.slot_size, 100u);
  EXPECT_EQ(info->stats.depth, 2u);
  EXPECT_EQ(info->stats.tail, 2u);
  EXPECT_EQ(info->owner, geteuid());
  EXPECT_EQ(info->mode, 0640u);
  struct stat st;
  ASSERT_EQ(stat(("/dev/shm" + name.get()).c_str(), &st), 0);
  EXPECT_EQ(info->bytes, static_cast<uint64_t>(st.st_size));
}

// A user who may only read the object can inspect it, not open it.
TEST(InspectTest, ReadPermissionSufficesWhereOpenIsRefused) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to become another user";
  ScopedQueueName name;
  Options o;
  o.capacity = 4;
  o.slot_size = 16;
  o.mode = 0644;
  absl::StatusOr<Queue> q = Queue::Create(name.get(), o);
  ASSERT_TRUE(q.ok()) << q.status();
  ASSERT_TRUE(q->Send("x").ok());
  pid_t pid = testing::ForkChild([&] {
    if (setresgid(kNobody, kNobody, kNobody) != 0 ||
        setresuid(kNobody, kNobody, kNobody) != 0) {
      return 20;
    }
    if (!absl::IsPermissionDenied(Queue::Open(name.get()).status())) return 1;
    absl::StatusOr<QueueInfo> info = Queue::Inspect(name.get());
    if (!info.ok()) return 2;
    if (info->stats.depth != 1 || info->owner != 0 || info->mode != 0644) {
      return 3;
    }
    return 0;
  });
  const int status = testing::WaitChild(pid, absl::Seconds(20));
  if (WIFEXITED(status) && WEXITSTATUS(status) == 20) {
    GTEST_SKIP() << "cannot become another user here (e.g. Bazel's sandbox "
                    "maps only uid 0); run the binary directly as root";
  }
  EXPECT_TRUE(testing::ExitedCleanly(status))
      << "child exit " << (WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

TEST(InspectTest, AnythingButAQueueIsDataLossAndAMissingNameNotFound) {
  ScopedQueueName name;
  EXPECT_TRUE(absl::IsNotFound(Queue::Inspect(name.get()).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(Queue::Inspect("a/b").status()));
  int fd = shm_open(name.get().c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  ASSERT_GE(fd, 0) << strerror(errno);
  ASSERT_EQ(ftruncate(fd, 4096), 0);
  close(fd);
  absl::Status s = Queue::Inspect(name.get()).status();
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;
  ASSERT_EQ(shm_unlink(name.get().c_str()), 0);
  // A FIFO is neither opened for writing nor waited on.
  ASSERT_EQ(mkfifo(("/dev/shm" + name.get()).c_str(), 0600), 0);
  s = Queue::Inspect(name.get()).status();
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;
}

}  // namespace
}  // namespace ringbuf
