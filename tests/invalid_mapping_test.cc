// Mappings that are not valid queues are refused with a status naming the
// queue and the field; corrupt ring state yields DataLoss, never a crash.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "gtest/gtest.h"
#include "ringbuf/internal/layout.h"
#include "ringbuf/internal/priority_levels.h"
#include "ringbuf/queue.h"
#include "tests/test_util.h"

namespace ringbuf {
namespace {

using internal::Header;
using testing::RawView;
using testing::ScopedQueueName;

// Creates a raw shared-memory object of `size` bytes holding `bytes`.
void MakeRawObject(const std::string& name, const std::string& bytes,
                   size_t size) {
  int fd = shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(ftruncate(fd, size), 0);
  ASSERT_EQ(pwrite(fd, bytes.data(), bytes.size(), 0),
            static_cast<ssize_t>(bytes.size()));
  close(fd);
}

Options Small() {
  Options o;
  o.capacity = 4;
  o.slot_size = 32;
  return o;
}

void ExpectRefused(const std::string& name, absl::StatusCode code,
                   const std::string& mentions) {
  absl::StatusOr<Queue> q = Queue::Open(name);
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.status().code(), code) << q.status();
  EXPECT_NE(q.status().message().find(name), std::string::npos) << q.status();
  EXPECT_NE(q.status().message().find(mentions), std::string::npos)
      << q.status();
}

TEST(InvalidMappingTest, EmptyObjectIsRefused) {
  ScopedQueueName name;
  MakeRawObject(name, "", 0);
  ExpectRefused(name, absl::StatusCode::kDataLoss, "0 bytes");
}

TEST(InvalidMappingTest, ObjectSmallerThanAHeaderIsRefused) {
  ScopedQueueName name;
  MakeRawObject(name, "RBUF", 100);
  ExpectRefused(name, absl::StatusCode::kDataLoss, "100 bytes");
}

TEST(InvalidMappingTest, ForeignMagicIsRefused) {
  ScopedQueueName name;
  MakeRawObject(name, std::string(8192, 'Z'), 8192);
  ExpectRefused(name, absl::StatusCode::kDataLoss, "magic");
}

TEST(InvalidMappingTest, OtherLayoutVersionIsRefused) {
  ScopedQueueName name;
  ASSERT_TRUE(Queue::Create(name, Small()).ok());
  RawView(name).header()->version = internal::kLayoutVersion + 1;
  ExpectRefused(name, absl::StatusCode::kFailedPrecondition, "version");
}

TEST(InvalidMappingTest, GeometryInconsistentWithSizeIsRefused) {
  ScopedQueueName name;
  ASSERT_TRUE(Queue::Create(name, Small()).ok());
  RawView(name).header()->capacity = 1000;
  ExpectRefused(name, absl::StatusCode::kDataLoss, "mapping_size");
}

TEST(InvalidMappingTest, TruncatedObjectIsRefused) {
  ScopedQueueName name;
  ASSERT_TRUE(Queue::Create(name, Small()).ok());
  int fd = shm_open(name.get().c_str(), O_RDWR, 0);
  ASSERT_GE(fd, 0);
  off_t size = lseek(fd, 0, SEEK_END);
  ASSERT_EQ(ftruncate(fd, size - 64), 0);
  close(fd);
  ExpectRefused(name, absl::StatusCode::kDataLoss, "bytes");
}

TEST(InvalidMappingTest, ZeroCapacityInHeaderIsRefused) {
  ScopedQueueName name;
  ASSERT_TRUE(Queue::Create(name, Small()).ok());
  RawView(name).header()->capacity = 0;
  ExpectRefused(name, absl::StatusCode::kDataLoss, "capacity");
}

TEST(InvalidMappingTest, CorruptIndexesYieldDataLossNotACrash) {
  ScopedQueueName name;
  absl::StatusOr<Queue> q = Queue::Create(name, Small());
  ASSERT_TRUE(q.ok());
  RawView(name).header()->tail.index.store(1000);  // 1000 > capacity ahead
  std::string out;
  EXPECT_EQ(q->TryReceive(&out).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(q->TrySend("x").code(), absl::StatusCode::kDataLoss);
  // A blocking call with a timeout does not hang on it either.
  EXPECT_EQ(q->SendFor("x", absl::Seconds(5)).code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(q->ReceiveFor(&out, absl::Seconds(5)).code(),
            absl::StatusCode::kDataLoss);
}

TEST(InvalidMappingTest, CorruptSlotLengthDropsThatMessageOnly) {
  ScopedQueueName name;
  absl::StatusOr<Queue> q = Queue::Create(name, Small());
  ASSERT_TRUE(q.ok());
  ASSERT_TRUE(q->Send("first").ok());
  ASSERT_TRUE(q->Send("second").ok());
  {
    RawView view(name);
    auto* slot0 = reinterpret_cast<internal::SlotHeader*>(
        view.bytes() + internal::kHeaderSize);
    slot0->length = 0xFFFFFFFF;
  }
  std::string out;
  absl::Status s = q->TryReceive(&out);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_NE(s.message().find("length"), std::string::npos);
  ASSERT_TRUE(q->TryReceive(&out).ok());
  EXPECT_EQ(out, "second");
}

}  // namespace
}  // namespace ringbuf

namespace ringbuf {
namespace {

// Regression (found by fuzz/): glibc dispatches on a mutex's __kind word and
// some kinds abort or fault the caller; a scribbled kind must be DataLoss.
// The mutexes glibc acts on are the leases (internal/lease_table.h), which a
// sender probes when the send lock names one: here it names a lease whose
// kind a peer rewrote.
TEST(InvalidMappingTest, ScribbledLeaseKindIsDataLossNotACrash) {
  testing::ScopedQueueName name;
  Queue q = testing::CreateQueue(name, 4, 32);
  RawView view(name);
  constexpr uint32_t kNamed = 7;  // a lease nobody holds
  const int good_kind = view.lease(kNamed).__data.__kind;
  RawView::lock_word(view.header()->send).store(kNamed);
  for (int kind : {0x180, 0xb0, 0xc0, 0x91, 0}) {
    view.lease(kNamed).__data.__kind = kind;
    absl::Status s = q.SendFor("x", absl::Milliseconds(10));
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
    EXPECT_NE(s.message().find(name.get()), std::string::npos) << s;
    EXPECT_NE(s.message().find("kind"), std::string::npos) << s;
  }
  // The kind alone was wrong: put back, the lease is found free and the
  // lock it names released.
  view.lease(kNamed).__data.__kind = good_kind;
  EXPECT_TRUE(q.SendFor("x", absl::Milliseconds(10)).ok());
  EXPECT_EQ(RawView::lock_word(view.header()->send).load(), 0u);
}

Queue MakeLeveledQueue(const std::string& name, uint32_t priorities) {
  const Options o = Small();
  return testing::CreateQueue(name, o.capacity, o.slot_size, priorities);
}

// The priority count is validated like the rest of the header.
TEST(InvalidMappingTest, CorruptPriorityCountIsDataLoss) {
  ScopedQueueName name;
  Queue q = MakeLeveledQueue(name, 4);
  for (uint32_t bad : {0u, 3u, 5u, kMaxPriorities + 1, ~0u}) {
    RawView(name).header()->priorities = bad;
    absl::StatusOr<Queue> opened = Queue::Open(name);
    ASSERT_EQ(opened.status().code(), absl::StatusCode::kDataLoss)
        << bad << ": " << opened.status();
    EXPECT_NE(opened.status().message().find(name.get()), std::string::npos);
  }
  RawView(name).header()->priorities = 4;
  EXPECT_TRUE(Queue::Open(name).ok());
}

// A corrupt level index is DataLoss naming the priority, never a crash nor
// an access outside the mapping; the other levels are unaffected.
TEST(InvalidMappingTest, CorruptLevelIndexIsDataLoss) {
  ScopedQueueName name;
  Queue q = MakeLeveledQueue(name, 4);
  ASSERT_TRUE(q.Send("kept", 1).ok());
  {
    RawView view(name);
    view.levels().tail[2].store(1000);  // 1000 messages in a ring of 4
  }
  std::string out;
  absl::Status s = q.TryReceive(&out);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_NE(s.message().find("priority 2"), std::string::npos) << s;
  {
    RawView view(name);
    view.levels().tail[2].store(0);
    view.levels().head[3].store(5);  // head past tail
  }
  s = q.TryReceive(&out);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  RawView(name).levels().head[3].store(0);
  uint32_t priority;
  ASSERT_TRUE(q.TryReceive(&out, &priority).ok());
  EXPECT_EQ(out, "kept");
  EXPECT_EQ(priority, 1u);
}

}  // namespace
}  // namespace ringbuf
