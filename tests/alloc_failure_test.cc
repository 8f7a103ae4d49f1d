// Out of memory while a side lock is held must not wedge that side: nothing
// under a side lock allocates in a way that can escape with the lock held.
// This binary replaces operator new so a test can make every allocation on
// its thread fail for the length of one call.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "ringbuf/internal/layout.h"
#include "ringbuf/queue.h"
#include "tests/test_util.h"

// ThreadSanitizer's runtime defines operator new itself (a duplicate
// definition at link time): there, the tests skip.
#if defined(__SANITIZE_THREAD__)
#define RINGBUF_RUNTIME_OWNS_NEW 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RINGBUF_RUNTIME_OWNS_NEW 1
#endif
#endif

namespace {
thread_local bool t_fail_allocations = false;
}  // namespace

#ifndef RINGBUF_RUNTIME_OWNS_NEW
void* operator new(std::size_t size) {
  if (t_fail_allocations) throw std::bad_alloc();
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return ::operator new(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
#endif

namespace ringbuf {
namespace {

using testing::ScopedQueueName;

// Every allocation on this thread throws std::bad_alloc while one exists.
class FailAllocations {
 public:
#ifdef RINGBUF_RUNTIME_OWNS_NEW
  static constexpr bool kPossible = false;
#else
  static constexpr bool kPossible = true;
#endif
  FailAllocations() { t_fail_allocations = true; }
  ~FailAllocations() { t_fail_allocations = false; }
};

// Writes `length` into the length word of the slot holding message `index`.
void ScribbleLength(const std::string& name, uint64_t index, uint32_t length) {
  int fd = shm_open(name.c_str(), O_RDWR, 0);
  ASSERT_GE(fd, 0);
  void* m = mmap(nullptr, internal::kHeaderSize + 4096, PROT_READ | PROT_WRITE,
                 MAP_SHARED, fd, 0);
  close(fd);
  ASSERT_NE(m, MAP_FAILED);
  auto* h = static_cast<internal::Header*>(m);
  char* slot = static_cast<char*>(m) + internal::kHeaderSize +
               (index % h->capacity) * h->slot_stride;
  reinterpret_cast<internal::SlotHeader*>(slot)->length = length;
  munmap(m, internal::kHeaderSize + 4096);
}

// Another thread can still take the receive lock: a message sent now is
// received within the bound.
bool ReceiveSideWorks(const std::string& name) {
  bool ok = false;
  std::thread other([&] {
    absl::StatusOr<Queue> q = Queue::Open(name);
    if (!q.ok() || !q->Send("after").ok()) return;
    std::string m;
    ok = q->ReceiveFor(&m, absl::Seconds(10)).ok() && m == "after";
  });
  other.join();
  return ok;
}

Queue MakeQueue(const std::string& name) {
  return testing::CreateQueue(name, /*capacity=*/4, /*slot_size=*/32);
}

// Before: the DataLoss message for a dropped message was built under the
// receive lock, and its bad_alloc escaped with the lock held.
TEST(AllocFailureTest, DroppingACorruptMessageOutOfMemoryReleasesTheLock) {
  if (!FailAllocations::kPossible) {
    GTEST_SKIP() << "this runtime (TSan) owns operator new";
  }
  ScopedQueueName name;
  Queue q = MakeQueue(name);
  ASSERT_TRUE(q.Send("victim").ok());
  ScribbleLength(name, 0, 1000);
  std::string m;
  absl::Status s;
  bool threw = false;
  {
    FailAllocations oom;
    try {
      s = q.ReceiveFor(&m, absl::Seconds(1));
    } catch (...) {
      threw = true;
    }
  }
  EXPECT_FALSE(threw) << "an exception escaped the library";
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;
  EXPECT_TRUE(ReceiveSideWorks(name));
}

TEST(AllocFailureTest, EveryReceiveCallDropsOutOfMemoryWithoutWedging) {
  if (!FailAllocations::kPossible) {
    GTEST_SKIP() << "this runtime (TSan) owns operator new";
  }
  ScopedQueueName name;
  Queue q = MakeQueue(name);
  std::string m;
  char buf[64];
  const std::function<absl::Status()> calls[] = {
      [&] { return q.TryReceive(&m); },
      [&] {
        return q.ReceiveInto(absl::MakeSpan(buf), absl::Seconds(1)).status();
      },
      [&] { return q.Peek(absl::Seconds(1)).status(); },
  };
  int call = 0;
  for (const std::function<absl::Status()>& fn : calls) {
    const uint64_t index = q.GetStats().tail;
    ASSERT_TRUE(q.Send("victim").ok());
    ScribbleLength(name, index, 1000);
    absl::Status s;
    bool threw = false;
    {
      FailAllocations oom;
      try {
        s = fn();
      } catch (...) {
        threw = true;
      }
    }
    EXPECT_FALSE(threw) << "call " << call;
    EXPECT_TRUE(absl::IsDataLoss(s)) << "call " << call << ": " << s;
    EXPECT_TRUE(ReceiveSideWorks(name)) << "call " << call;
    ++call;
  }
}

// No memory for the message itself: ResourceExhausted, not an exception,
// and the message stays for a later receive (a batch: what was appended was
// taken, the rest stays).
TEST(AllocFailureTest, NoMemoryForTheMessageIsResourceExhaustedAndKeepsIt) {
  if (!FailAllocations::kPossible) {
    GTEST_SKIP() << "this runtime (TSan) owns operator new";
  }
  ScopedQueueName name;
  Queue q = MakeQueue(name);
  const std::string big(32, 'x');  // beyond any small-string buffer
  ASSERT_TRUE(q.Send(big).ok());
  ASSERT_TRUE(q.Send(big).ok());
  std::string m;
  absl::Status s;
  std::vector<std::string> batch;
  batch.reserve(1);  // room for one message: the second append allocates
  bool threw = false;
  {
    FailAllocations oom;
    try {
      s = q.ReceiveFor(&m, absl::Seconds(1));
    } catch (...) {
      threw = true;
    }
  }
  EXPECT_FALSE(threw) << "an exception escaped the library";
  EXPECT_TRUE(absl::IsResourceExhausted(s)) << s;
  EXPECT_EQ(q.GetStats().depth, 2u);
  {
    FailAllocations oom;
    try {
      s = q.ReceiveBatch(2, absl::Seconds(1), &batch);
    } catch (...) {
      threw = true;
    }
  }
  EXPECT_FALSE(threw) << "an exception escaped the library";
  EXPECT_TRUE(absl::IsResourceExhausted(s)) << s;
  EXPECT_EQ(q.GetStats().depth, 2u - batch.size());
  // Each message left is received whole once memory is back.
  for (size_t left = 2 - batch.size(); left > 0; --left) {
    ASSERT_TRUE(q.ReceiveFor(&m, absl::Seconds(1)).ok());
    EXPECT_EQ(m, big);
  }
  EXPECT_TRUE(ReceiveSideWorks(name));
}

}  // namespace
}  // namespace ringbuf
