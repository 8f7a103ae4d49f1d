// The C API (ringbuf/c_api.h), function by function: every code each one
// documents, the message left in ringbuf_last_error() (naming the queue, kept
// per thread, untouched by successful calls), the timeout_ns convention
// (negative waits, zero tries and reports UNAVAILABLE, positive reports
// DEADLINE_EXCEEDED and never early), a receive buffer too small for the
// message (RESOURCE_EXHAUSTED with the needed length, the message still
// queued) and ringbuf_shutdown waking a blocked call. Messages cross between
// the C API and ringbuf::Queue on the same queue in both directions.
// Timing checks only that a call did not return early.
#include "ringbuf/c_api.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <future>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "ringbuf/options.h"
#include "ringbuf/queue.h"
#include "tests/test_util.h"

namespace ringbuf {
namespace {

using testing::AwaitSleeper;
using testing::ScopedQueueName;
using testing::Side;

constexpr uint64_t kCapacity = 4;
constexpr uint32_t kSlotSize = 32;
constexpr int64_t kMs = 1000 * 1000;  // nanoseconds
// Generous bound for calls that must return "promptly": catches hangs only.
constexpr std::chrono::seconds kPrompt(30);

using Clock = std::chrono::steady_clock;

std::string LastError() { return ringbuf_last_error(); }

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Owns a handle; closes it at scope exit.
class Handle {
 public:
  Handle() = default;
  ~Handle() { ringbuf_close(q_); }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ringbuf_queue** out() { return &q_; }
  ringbuf_queue* get() const { return q_; }

 private:
  ringbuf_queue* q_ = nullptr;
};

// Creates `name` through the C API (or fails the test).
void Create(const std::string& name, Handle* h,
            uint64_t capacity = kCapacity) {
  ASSERT_EQ(ringbuf_create(name.c_str(), capacity, kSlotSize, 0600, h->out()),
            RINGBUF_OK)
      << LastError();
  ASSERT_NE(h->get(), nullptr);
}

int Send(const Handle& h, const std::string& m, int64_t timeout_ns = 0) {
  return ringbuf_send(h.get(), m.data(), m.size(), timeout_ns);
}

// Receives into a slot_size buffer; the message in *out on OK.
int Receive(const Handle& h, std::string* out, int64_t timeout_ns = 0) {
  char buf[kSlotSize];
  size_t len = 12345;
  int rc = ringbuf_receive(h.get(), buf, sizeof buf, &len, timeout_ns);
  if (rc == RINGBUF_OK) {
    out->assign(buf, len);
  } else {
    EXPECT_EQ(len, 0u) << "*len must be 0 after a failure";
  }
  return rc;
}

uint64_t Depth(const Handle& h) {
  struct ringbuf_stats s = RINGBUF_STATS_INIT;
  EXPECT_EQ(ringbuf_stats(h.get(), &s), RINGBUF_OK);
  return s.depth;
}

// ---------------------------------------------------------------------------
// Opening and removing.

TEST(CApiLifecycleTest, CreateThenOpenReachTheSameQueue) {
  ScopedQueueName name;
  Handle creator, opener;
  Create(name, &creator);
  ASSERT_EQ(ringbuf_open(name.get().c_str(), opener.out()), RINGBUF_OK)
      << LastError();
  EXPECT_EQ(ringbuf_capacity(opener.get()), kCapacity);
  EXPECT_EQ(ringbuf_slot_size(opener.get()), kSlotSize);
  ASSERT_EQ(Send(creator, "hello"), RINGBUF_OK) << LastError();
  std::string got;
  ASSERT_EQ(Receive(opener, &got), RINGBUF_OK) << LastError();
  EXPECT_EQ(got, "hello");
}

TEST(CApiLifecycleTest, NameWithoutSlashIsTheSameQueue) {
  ScopedQueueName name;
  Handle a, b;
  Create(name, &a);
  ASSERT_EQ(name.get()[0], '/');
  EXPECT_EQ(ringbuf_open(name.get().c_str() + 1, b.out()), RINGBUF_OK)
      << LastError();
}

TEST(CApiLifecycleTest, CreateOfAnExistingNameIsAlreadyExists) {
  ScopedQueueName name;
  Handle first;
  Create(name, &first);
  ringbuf_queue* const untouched = first.get();
  ringbuf_queue* out = untouched;
  EXPECT_EQ(ringbuf_create(name.get().c_str(), 8, 8, 0600, &out),
            RINGBUF_ALREADY_EXISTS);
  EXPECT_EQ(out, untouched) << "*out is set on OK only";
  EXPECT_TRUE(Contains(LastError(), name.get())) << LastError();
  EXPECT_EQ(ringbuf_capacity(first.get()), kCapacity);  // nothing changed
}

TEST(CApiLifecycleTest, OpenOfAMissingNameIsNotFoundNamingTheQueue) {
  ScopedQueueName name;
  ringbuf_queue* out = nullptr;
  EXPECT_EQ(ringbuf_open(name.get().c_str(), &out), RINGBUF_NOT_FOUND);
  EXPECT_EQ(out, nullptr);
  EXPECT_TRUE(Contains(LastError(), name.get())) << LastError();
}

TEST(CApiLifecycleTest, OpenOrCreateCreatesThenOpens) {
  ScopedQueueName name;
  Handle first, second;
  ASSERT_EQ(ringbuf_open_or_create(name.get().c_str(), kCapacity, kSlotSize,
                                   0600, first.out()),
            RINGBUF_OK)
      << LastError();
  ASSERT_EQ(Send(first, "x"), RINGBUF_OK);
  ASSERT_EQ(ringbuf_open_or_create(name.get().c_str(), kCapacity, kSlotSize,
                                   0600, second.out()),
            RINGBUF_OK)
      << LastError();
  EXPECT_EQ(Depth(second), 1u) << "opened the existing queue";
}

TEST(CApiLifecycleTest, OpenOrCreateWithOtherGeometryIsFailedPrecondition) {
  ScopedQueueName name;
  Handle first;
  Create(name, &first);
  ringbuf_queue* out = nullptr;
  EXPECT_EQ(ringbuf_open_or_create(name.get().c_str(), kCapacity + 1,
                                   kSlotSize, 0600, &out),
            RINGBUF_FAILED_PRECONDITION);
  EXPECT_EQ(out, nullptr);
  EXPECT_TRUE(Contains(LastError(), "capacity")) << LastError();
}

TEST(CApiLifecycleTest, RemoveUnlinksTheNameButHandlesKeepWorking) {
  ScopedQueueName name;
  Handle h;
  Create(name, &h);
  ASSERT_EQ(ringbuf_remove(name.get().c_str()), RINGBUF_OK) << LastError();
  ringbuf_queue* out = nullptr;
  EXPECT_EQ(ringbuf_open(name.get().c_str(), &out), RINGBUF_NOT_FOUND);
  EXPECT_EQ(ringbuf_remove(name.get().c_str()), RINGBUF_NOT_FOUND);
  EXPECT_TRUE(Contains(LastError(), name.get())) << LastError();
  ASSERT_EQ(Send(h, "still here"), RINGBUF_OK) << LastError();
  std::string got;
  ASSERT_EQ(Receive(h, &got), RINGBUF_OK) << LastError();
  EXPECT_EQ(got, "still here");
}

TEST(CApiLifecycleTest, CloseUnmapsButTheQueueAndItsMessagesRemain) {
  ScopedQueueName name;
  {
    Handle h;
    Create(name, &h);
    ASSERT_EQ(Send(h, "kept"), RINGBUF_OK);
  }  // ringbuf_close
  Handle again;
  ASSERT_EQ(ringbuf_open(name.get().c_str(), again.out()), RINGBUF_OK)
      << LastError();
  std::string got;
  ASSERT_EQ(Receive(again, &got), RINGBUF_OK) << LastError();
  EXPECT_EQ(got, "kept");
  ringbuf_close(nullptr);  // a no-op
}

TEST(CApiLifecycleTest, BadArgumentsAreInvalidArgument) {
  ScopedQueueName name;
  const char* n = name.get().c_str();
  ringbuf_queue* out = nullptr;
  EXPECT_EQ(ringbuf_create(n, 0, kSlotSize, 0600, &out),
            RINGBUF_INVALID_ARGUMENT);
  EXPECT_TRUE(Contains(LastError(), "capacity")) << LastError();
  EXPECT_EQ(ringbuf_create(n, kCapacity, 0, 0600, &out),
            RINGBUF_INVALID_ARGUMENT);
  EXPECT_TRUE(Contains(LastError(), "slot_size")) << LastError();
  EXPECT_EQ(ringbuf_create(n, kCapacity, kSlotSize, 01600, &out),
            RINGBUF_INVALID_ARGUMENT);
  EXPECT_TRUE(Contains(LastError(), "mode")) << LastError();
  EXPECT_EQ(ringbuf_create("a/b", kCapacity, kSlotSize, 0600, &out),
            RINGBUF_INVALID_ARGUMENT);
  EXPECT_EQ(ringbuf_create("", kCapacity, kSlotSize, 0600, &out),
            RINGBUF_INVALID_ARGUMENT);
  EXPECT_EQ(ringbuf_open("a/b", &out), RINGBUF_INVALID_ARGUMENT);
  EXPECT_EQ(ringbuf_remove("a/b"), RINGBUF_INVALID_ARGUMENT);
  EXPECT_EQ(out, nullptr);

  EXPECT_EQ(ringbuf_create(nullptr, kCapacity, kSlotSize, 0600, &out),
            RINGBUF_INVALID_ARGUMENT);
  EXPECT_EQ(LastError(), "ringbuf_create: name is NULL");
  EXPECT_EQ(ringbuf_create(n, kCapacity, kSlotSize, 0600, nullptr),
            RINGBUF_INVALID_ARGUMENT);
  EXPECT_EQ(ringbuf_open(nullptr, &out), RINGBUF_INVALID_ARGUMENT);
  EXPECT_EQ(ringbuf_open(n, nullptr), RINGBUF_INVALID_ARGUMENT);
  EXPECT_EQ(ringbuf_open_or_create(nullptr, 1, 1, 0600, &out),
            RINGBUF_INVALID_ARGUMENT);
  EXPECT_EQ(ringbuf_open_or_create(n, 1, 1, 0600, nullptr),
            RINGBUF_INVALID_ARGUMENT);
  EXPECT_EQ(ringbuf_remove(nullptr), RINGBUF_INVALID_ARGUMENT);
  // None of the NULL cases created anything.
  EXPECT_EQ(ringbuf_open(n, &out), RINGBUF_NOT_FOUND);
}

TEST(CApiLifecycleTest, ModeIsAppliedExactly) {
  ScopedQueueName name;
  Handle h;
  ASSERT_EQ(ringbuf_create(name.get().c_str(), 1, 1, 0640, h.out()),
            RINGBUF_OK)
      << LastError();
  struct stat st;
  ASSERT_EQ(stat(absl::StrCat("/dev/shm", name.get()).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
}

// ---------------------------------------------------------------------------
// Sending and receiving.

TEST(CApiSendReceiveTest, BinaryMessagesArriveInFifoOrder) {
  ScopedQueueName name;
  Handle h;
  Create(name, &h);
  const std::string messages[] = {std::string("a\0b\nc", 5), "",
                                  std::string(kSlotSize, 'z'), "last"};
  for (const std::string& m : messages) {
    ASSERT_EQ(Send(h, m, -1), RINGBUF_OK) << LastError();
  }
  for (const std::string& m : messages) {
    std::string got = "junk";
    ASSERT_EQ(Receive(h, &got, -1), RINGBUF_OK) << LastError();
    EXPECT_EQ(got, m);
  }
}

TEST(CApiSendReceiveTest, EmptyMessagesNeedNoPointers) {
  ScopedQueueName name;
  Handle h;
  Create(name, &h);
  ASSERT_EQ(ringbuf_send(h.get(), nullptr, 0, 0), RINGBUF_OK) << LastError();
  size_t len = 99;
  ASSERT_EQ(ringbuf_receive(h.get(), nullptr, 0, &len, 0), RINGBUF_OK)
      << LastError();
  EXPECT_EQ(len, 0u);
}

TEST(CApiSendReceiveTest, OversizedSendIsInvalidArgumentAndEnqueuesNothing) {
  ScopedQueueName name;
  Handle h;
  Create(name, &h);
  for (int64_t timeout : {int64_t{-1}, int64_t{0}, 100 * kMs}) {
    EXPECT_EQ(Send(h, std::string(kSlotSize + 1, 'x'), timeout),
              RINGBUF_INVALID_ARGUMENT);
    EXPECT_TRUE(Contains(LastError(), name.get())) << LastError();
    EXPECT_TRUE(Contains(LastError(), "slot_size")) << LastError();
  }
  EXPECT_EQ(Depth(h), 0u);
}

TEST(CApiSendReceiveTest, NullArgumentsAreInvalidArgument) {
  ScopedQueueName name;
  Handle h;
  Create(name, &h);
  char buf[kSlotSize];
  size_t len = 7;
  EXPECT_EQ(ringbuf_send(nullptr, "x", 1, 0), RINGBUF_INVALID_ARGUMENT);
  EXPECT_EQ(LastError(), "ringbuf_send: queue is NULL");
  EXPECT_EQ(ringbuf_send(h.get(), nullptr, 1, 0), RINGBUF_INVALID_ARGUMENT);
  EXPECT_EQ(ringbuf_receive(nullptr, buf, sizeof buf, &len, 0),
            RINGBUF_INVALID_ARGUMENT);
  EXPECT_EQ(len, 0u);
  EXPECT_EQ(ringbuf_receive(h.get(), buf, sizeof buf, nullptr, 0),
            RINGBUF_INVALID_ARGUMENT);
  EXPECT_EQ(ringbuf_receive(h.get(), nullptr, 1, &len, 0),
            RINGBUF_INVALID_ARGUMENT);
  EXPECT_EQ(Depth(h), 0u);
}

TEST(CApiSendReceiveTest, ZeroTimeoutOnFullSendIsUnavailable) {
  ScopedQueueName name;
  Handle h;
  Create(name, &h, /*capacity=*/2);
  ASSERT_EQ(Send(h, "a", 0), RINGBUF_OK);
  ASSERT_EQ(Send(h, "b", 0), RINGBUF_OK);
  EXPECT_EQ(Send(h, "c", 0), RINGBUF_UNAVAILABLE);
  EXPECT_TRUE(Contains(LastError(), "full")) << LastError();
  EXPECT_TRUE(Contains(LastError(), name.get())) << LastError();
  EXPECT_EQ(Depth(h), 2u);
}

TEST(CApiSendReceiveTest, ZeroTimeoutOnEmptyReceiveIsUnavailable) {
  ScopedQueueName name;
  Handle h;
  Create(name, &h);
  std::string got;
  EXPECT_EQ(Receive(h, &got, 0), RINGBUF_UNAVAILABLE);
  EXPECT_TRUE(Contains(LastError(), "empty")) << LastError();
  EXPECT_TRUE(Contains(LastError(), name.get())) << LastError();
  ASSERT_EQ(Send(h, "now"), RINGBUF_OK);
  ASSERT_EQ(Receive(h, &got, 0), RINGBUF_OK) << LastError();
  EXPECT_EQ(got, "now");
}

TEST(CApiSendReceiveTest, TimedReceiveOnEmptyIsDeadlineExceededAndNotEarly) {
  ScopedQueueName name;
  Handle h;
  Create(name, &h);
  std::string got;
  const Clock::time_point start = Clock::now();
  EXPECT_EQ(Receive(h, &got, 300 * kMs), RINGBUF_DEADLINE_EXCEEDED);
  const Clock::duration took = Clock::now() - start;
  EXPECT_GE(took, std::chrono::milliseconds(300));
  EXPECT_LT(took, kPrompt);
  EXPECT_TRUE(Contains(LastError(), name.get())) << LastError();
}

TEST(CApiSendReceiveTest, TimedSendOnFullIsDeadlineExceededAndNotEarly) {
  ScopedQueueName name;
  Handle h;
  Create(name, &h, /*capacity=*/1);
  ASSERT_EQ(Send(h, "a"), RINGBUF_OK);
  const Clock::time_point start = Clock::now();
  EXPECT_EQ(Send(h, "b", 300 * kMs), RINGBUF_DEADLINE_EXCEEDED);
  const Clock::duration took = Clock::now() - start;
  EXPECT_GE(took, std::chrono::milliseconds(300));
  EXPECT_LT(took, kPrompt);
  EXPECT_EQ(Depth(h), 1u) << "nothing enqueued";
}

// A lock held by another handle (a peek, a reservation) is not an empty or
// full queue (c_api.h, "Busy locks"): a timed call says UNAVAILABLE, never
// DEADLINE_EXCEEDED, and waits its timeout first; a try waits the 10 ms
// floor. Nothing is sent or taken.
TEST(CApiSendReceiveTest, BusyLocksAreUnavailableNeverDeadlineExceeded) {
  ScopedQueueName name;
  Handle h;
  Create(name, &h);
  ASSERT_EQ(Send(h, "a"), RINGBUF_OK);
  std::promise<void> held, release;
  std::thread holder([&] {
    Handle other;
    ringbuf_peeked* peeked = nullptr;
    ringbuf_reservation* reservation = nullptr;
    const void* data = nullptr;
    void* buf = nullptr;
    size_t len = 0, cap = 0;
    if (ringbuf_open(name.get().c_str(), other.out()) != RINGBUF_OK ||
        ringbuf_peek(other.get(), 0, &peeked, &data, &len) != RINGBUF_OK ||
        ringbuf_reserve(other.get(), 0, &reservation, &buf, &cap) !=
            RINGBUF_OK) {
      ADD_FAILURE() << LastError();
    }
    held.set_value();
    release.get_future().wait_for(kPrompt);
    ringbuf_peeked_drop(peeked);
    ringbuf_reservation_drop(reservation);
  });
  held.get_future().wait();
  std::string got;
  for (int64_t timeout_ns : {int64_t{0}, 50 * kMs}) {
    SCOPED_TRACE(timeout_ns);
    const auto at_least = std::chrono::nanoseconds(
        std::max<int64_t>(timeout_ns, 10 * kMs));
    Clock::time_point start = Clock::now();
    EXPECT_EQ(Receive(h, &got, timeout_ns), RINGBUF_UNAVAILABLE);
    EXPECT_GE(Clock::now() - start, at_least);
    EXPECT_TRUE(Contains(LastError(), "busy")) << LastError();
    start = Clock::now();
    EXPECT_EQ(Send(h, "b", timeout_ns), RINGBUF_UNAVAILABLE);
    EXPECT_GE(Clock::now() - start, at_least);
    EXPECT_TRUE(Contains(LastError(), "busy")) << LastError();
  }
  release.set_value();
  holder.join();
  EXPECT_EQ(Depth(h), 1u) << "nothing sent, nothing taken";
}

// A receive with a negative timeout sleeps until a message comes; proven by
// waiting until the receiver announced it sleeps before sending.
TEST(CApiSendReceiveTest, NegativeTimeoutWaitsForTheMessage) {
  ScopedQueueName name;
  Handle h;
  Create(name, &h);
  int rc = -1;
  std::string got;
  std::thread receiver([&] { rc = Receive(h, &got, RINGBUF_WAIT_FOREVER); });
  EXPECT_TRUE(AwaitSleeper(name, Side::kReceivers, absl::Seconds(30)));
  EXPECT_EQ(Send(h, "wake"), RINGBUF_OK);
  receiver.join();
  EXPECT_EQ(rc, RINGBUF_OK);
  EXPECT_EQ(got, "wake");
}

TEST(CApiSendReceiveTest, NegativeTimeoutSendWaitsForASlot) {
  ScopedQueueName name;
  Handle h;
  Create(name, &h, /*capacity=*/1);
  ASSERT_EQ(Send(h, "first"), RINGBUF_OK);
  int rc = -1;
  std::thread sender([&] { rc = Send(h, "second", RINGBUF_WAIT_FOREVER); });
  EXPECT_TRUE(AwaitSleeper(name, Side::kSenders, absl::Seconds(30)));
  std::string got;
  EXPECT_EQ(Receive(h, &got), RINGBUF_OK);
  sender.join();
  EXPECT_EQ(rc, RINGBUF_OK);
  ASSERT_EQ(Receive(h, &got, 30000 * kMs), RINGBUF_OK);
  EXPECT_EQ(got, "second");
}

// A buffer smaller than the oldest message: RESOURCE_EXHAUSTED, *len is the
// message's exact length (parsed from the C++ API's message: this test pins
// that parse), and the message is still first in line.
TEST(CApiSendReceiveTest, SmallBufferIsResourceExhaustedAndLeavesTheMessage) {
  ScopedQueueName name;
  Handle h;
  Create(name, &h);
  const std::string message = "twenty-one bytes long";
  ASSERT_EQ(message.size(), 21u);
  ASSERT_EQ(Send(h, message), RINGBUF_OK);
  ASSERT_EQ(Send(h, "next"), RINGBUF_OK);
  for (int64_t timeout : {int64_t{0}, 100 * kMs, int64_t{-1}}) {
    char small[8];
    size_t len = 0;
    EXPECT_EQ(ringbuf_receive(h.get(), small, sizeof small, &len, timeout),
              RINGBUF_RESOURCE_EXHAUSTED);
    EXPECT_EQ(len, message.size());
    EXPECT_TRUE(Contains(LastError(), name.get())) << LastError();
    EXPECT_EQ(ringbuf_receive(h.get(), nullptr, 0, &len, timeout),
              RINGBUF_RESOURCE_EXHAUSTED);
    EXPECT_EQ(len, message.size());
  }
  EXPECT_EQ(Depth(h), 2u);
  std::string buf(message.size(), '\0');  // exactly *len bytes suffice
  size_t len = 0;
  ASSERT_EQ(ringbuf_receive(h.get(), &buf[0], buf.size(), &len, 0),
            RINGBUF_OK)
      << LastError();
  EXPECT_EQ(buf.substr(0, len), message);
  std::string got;
  ASSERT_EQ(Receive(h, &got), RINGBUF_OK);
  EXPECT_EQ(got, "next");
}

// The C API and ringbuf::Queue speak to each other on one queue.
TEST(CApiSendReceiveTest, MessagesCrossBetweenTheCAndCppApis) {
  ScopedQueueName name;
  Handle c;
  Create(name, &c);
  absl::StatusOr<Queue> cpp = Queue::Open(name.get());
  ASSERT_TRUE(cpp.ok()) << cpp.status();
  ASSERT_TRUE(cpp->Send(std::string("from C++\0!", 10)).ok());
  std::string got;
  ASSERT_EQ(Receive(c, &got), RINGBUF_OK) << LastError();
  EXPECT_EQ(got, std::string("from C++\0!", 10));
  ASSERT_EQ(Send(c, "from C"), RINGBUF_OK);
  ASSERT_TRUE(cpp->TryReceive(&got).ok());
  EXPECT_EQ(got, "from C");
}

// ---------------------------------------------------------------------------
// Shutdown.

TEST(CApiShutdownTest, WakesABlockedReceiveWithCancelled) {
  ScopedQueueName name;
  Handle h;
  Create(name, &h);
  int rc = -1;
  std::string got;
  std::thread receiver([&] { rc = Receive(h, &got, RINGBUF_WAIT_FOREVER); });
  EXPECT_TRUE(AwaitSleeper(name, Side::kReceivers, absl::Seconds(30)));
  ringbuf_shutdown(h.get());
  receiver.join();
  EXPECT_EQ(rc, RINGBUF_CANCELLED);
}

// The batch and zero-copy calls wait like the plain ones, so shutdown must
// end their waits too (an empty queue stays empty: only shutdown ends them).
TEST(CApiShutdownTest, WakesBlockedReceiveBatchAndPeek) {
  ScopedQueueName name;
  Handle h;
  Create(name, &h);
  int batch_rc = -1, peek_rc = -1;
  std::thread batch([&] {
    char buf[kSlotSize];
    size_t lens[1], count = 99;
    batch_rc = ringbuf_receive_batch(h.get(), buf, sizeof buf, lens, 1, &count,
                                     RINGBUF_WAIT_FOREVER);
  });
  std::thread peek([&] {
    ringbuf_peeked* p = nullptr;
    const void* data = nullptr;
    size_t len = 0;
    peek_rc = ringbuf_peek(h.get(), RINGBUF_WAIT_FOREVER, &p, &data, &len);
  });
  EXPECT_TRUE(AwaitSleeper(name, Side::kReceivers, absl::Seconds(30)));
  ringbuf_shutdown(h.get());
  batch.join();
  peek.join();
  EXPECT_EQ(batch_rc, RINGBUF_CANCELLED);
  EXPECT_EQ(peek_rc, RINGBUF_CANCELLED);
}

TEST(CApiShutdownTest, WakesBlockedReserveAndSendBatch) {
  ScopedQueueName name;
  Handle h;
  Create(name, &h, /*capacity=*/1);
  ASSERT_EQ(Send(h, "fills it"), RINGBUF_OK);
  int reserve_rc = -1, batch_rc = -1;
  size_t sent = 99;
  std::thread reserve([&] {
    ringbuf_reservation* r = nullptr;
    void* slot = nullptr;
    size_t cap = 0;
    reserve_rc = ringbuf_reserve(h.get(), RINGBUF_WAIT_FOREVER, &r, &slot, &cap);
  });
  std::thread batch([&] {
    const ringbuf_message m = {"x", 1};
    batch_rc = ringbuf_send_batch(h.get(), &m, 1, &sent, RINGBUF_WAIT_FOREVER);
  });
  EXPECT_TRUE(AwaitSleeper(name, Side::kSenders, absl::Seconds(30)));
  ringbuf_shutdown(h.get());
  reserve.join();
  batch.join();
  EXPECT_EQ(reserve_rc, RINGBUF_CANCELLED);
  EXPECT_EQ(batch_rc, RINGBUF_CANCELLED);
  EXPECT_EQ(sent, 0u);
}

TEST(CApiShutdownTest, LaterCallsAreCancelledOtherHandlesUnaffected) {
  ScopedQueueName name;
  Handle h, other;
  Create(name, &h);
  ASSERT_EQ(ringbuf_open(name.get().c_str(), other.out()), RINGBUF_OK);
  ASSERT_EQ(Send(h, "queued"), RINGBUF_OK);
  ringbuf_shutdown(h.get());
  ringbuf_shutdown(h.get());  // more than once is fine
  ringbuf_shutdown(nullptr);  // a no-op
  std::string got;
  for (int64_t timeout : {int64_t{-1}, int64_t{0}, 100 * kMs}) {
    EXPECT_EQ(Send(h, "x", timeout), RINGBUF_CANCELLED);
    EXPECT_TRUE(Contains(LastError(), name.get())) << LastError();
    EXPECT_EQ(Receive(h, &got, timeout), RINGBUF_CANCELLED);
  }
  struct ringbuf_stats s = RINGBUF_STATS_INIT;
  ASSERT_EQ(ringbuf_stats(h.get(), &s), RINGBUF_OK);  // stats still work
  EXPECT_EQ(s.depth, 1u);
  ASSERT_EQ(Receive(other, &got), RINGBUF_OK) << LastError();
  EXPECT_EQ(got, "queued");
}

// ---------------------------------------------------------------------------
// Inspecting.

TEST(CApiStatsTest, StatsMirrorTheQueue) {
  ScopedQueueName name;
  Handle h;
  Create(name, &h);
  for (const char* m : {"1", "2", "3"}) ASSERT_EQ(Send(h, m), RINGBUF_OK);
  std::string got;
  ASSERT_EQ(Receive(h, &got), RINGBUF_OK);
  struct ringbuf_stats s;
  std::memset(&s, 0xff, sizeof s);
  s.size = sizeof s;
  ASSERT_EQ(ringbuf_stats(h.get(), &s), RINGBUF_OK);
  EXPECT_EQ(s.capacity, kCapacity);
  EXPECT_EQ(s.slot_size, kSlotSize);
  EXPECT_EQ(s.depth, 2u);
  EXPECT_EQ(s.head, 1u);
  EXPECT_EQ(s.tail, 3u);
  EXPECT_EQ(s.total_sent, 3u);
  EXPECT_EQ(s.total_received, 1u);
  EXPECT_EQ(s.send_lock_owner_deaths, 0u);
  EXPECT_EQ(s.receive_lock_owner_deaths, 0u);
  EXPECT_EQ(s.discarded_partial_sends, 0u);
  EXPECT_EQ(s.receives_lost_to_dead_consumers, 0u);
}

TEST(CApiStatsTest, NullArguments) {
  ScopedQueueName name;
  Handle h;
  Create(name, &h);
  struct ringbuf_stats s = RINGBUF_STATS_INIT;
  EXPECT_EQ(ringbuf_stats(nullptr, &s), RINGBUF_INVALID_ARGUMENT);
  EXPECT_EQ(ringbuf_stats(h.get(), nullptr), RINGBUF_INVALID_ARGUMENT);
  EXPECT_EQ(ringbuf_capacity(nullptr), 0u);
  EXPECT_EQ(ringbuf_slot_size(nullptr), 0u);
}

// ---------------------------------------------------------------------------
// Errors.

TEST(CApiErrorTest, LastErrorIsPerThreadAndKeptAcrossSuccesses) {
  ScopedQueueName name;
  std::string in_fresh_thread = "unset";
  std::thread([&] { in_fresh_thread = LastError(); }).join();
  EXPECT_EQ(in_fresh_thread, "") << "no call has failed in that thread";

  ringbuf_queue* out = nullptr;
  ASSERT_EQ(ringbuf_open(name.get().c_str(), &out), RINGBUF_NOT_FOUND);
  const std::string mine = LastError();
  EXPECT_TRUE(Contains(mine, name.get())) << mine;

  std::thread([] {
    EXPECT_EQ(ringbuf_remove("a/b"), RINGBUF_INVALID_ARGUMENT);
  }).join();
  EXPECT_EQ(LastError(), mine) << "another thread's failure";

  Handle h;
  Create(name, &h);
  ASSERT_EQ(Send(h, "ok"), RINGBUF_OK);
  EXPECT_EQ(LastError(), mine) << "successful calls leave it unchanged";
}

TEST(CApiErrorTest, StatusNamesAndValuesFollowAbsl) {
  EXPECT_STREQ(ringbuf_status_name(RINGBUF_OK), "OK");
  EXPECT_STREQ(ringbuf_status_name(RINGBUF_NOT_FOUND), "NOT_FOUND");
  EXPECT_STREQ(ringbuf_status_name(RINGBUF_DEADLINE_EXCEEDED),
               "DEADLINE_EXCEEDED");
  EXPECT_STREQ(ringbuf_status_name(12345), "UNKNOWN");
  EXPECT_STREQ(ringbuf_status_name(-1), "UNKNOWN");
  for (int code = RINGBUF_OK; code <= RINGBUF_UNAUTHENTICATED; ++code) {
    // absl's own names ("NOT_FOUND") for every code.
    EXPECT_EQ(ringbuf_status_name(code),
              absl::StatusCodeToString(static_cast<absl::StatusCode>(code)))
        << code;
  }
}

// ---------------------------------------------------------------------------
// Trusting a queue's owner: ringbuf_open_trusting,
// ringbuf_open_or_create_trusting and ringbuf_remove_trusting. The cases with a second user (`nobody`,
// a forked child that setuids) run unsandboxed in c_api_owner_test (see
// tests/BUILD.bazel); the rest need one user only.

TEST(CApiTrustTest, EverySpellingOfOwnerOpensOwnQueues) {
  ScopedQueueName name;
  Handle created;
  Create(name, &created);
  ASSERT_EQ(Send(created, "m"), RINGBUF_OK);
  const std::string self = std::to_string(geteuid());
  for (const char* owner : {static_cast<const char*>(nullptr), "any", "root",
                            "0", self.c_str()}) {
    Handle h;
    EXPECT_EQ(ringbuf_open_trusting(name.get().c_str(), owner, h.out()),
              RINGBUF_OK)
        << (owner == nullptr ? "NULL" : owner) << ": " << LastError();
    EXPECT_EQ(ringbuf_capacity(h.get()), kCapacity);
  }
  Handle h;
  ASSERT_EQ(ringbuf_open_or_create_trusting(name.get().c_str(), kCapacity,
                                            kSlotSize, 0600, "any", h.out()),
            RINGBUF_OK)
      << LastError();
  std::string got;
  ASSERT_EQ(Receive(h, &got), RINGBUF_OK);
  EXPECT_EQ(got, "m") << "the same queue";
}

TEST(CApiTrustTest, OpenOrCreateTrustingCreatesWhenMissing) {
  ScopedQueueName name;
  Handle h;
  ASSERT_EQ(ringbuf_open_or_create_trusting(name.get().c_str(), kCapacity,
                                            kSlotSize, 0640, nullptr, h.out()),
            RINGBUF_OK)
      << LastError();
  struct stat st;
  ASSERT_EQ(stat(("/dev/shm" + name.get()).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  Handle other;
  EXPECT_EQ(ringbuf_open_or_create_trusting(name.get().c_str(), kCapacity + 1,
                                            kSlotSize, 0640, nullptr,
                                            other.out()),
            RINGBUF_FAILED_PRECONDITION);
}

TEST(CApiTrustTest, RemoveTrustingTakesEverySpellingOfOwner) {
  const std::string self = std::to_string(geteuid());
  for (const char* owner : {static_cast<const char*>(nullptr), "any", "root",
                            "0", self.c_str()}) {
    const std::string spelled = owner == nullptr ? "NULL" : owner;
    ScopedQueueName name;
    {
      Handle created;
      Create(name, &created);
    }
    EXPECT_EQ(ringbuf_remove_trusting(name.get().c_str(), owner), RINGBUF_OK)
        << spelled << ": " << LastError();
    Handle h;
    EXPECT_EQ(ringbuf_open(name.get().c_str(), h.out()), RINGBUF_NOT_FOUND)
        << spelled << ": removed";
    EXPECT_EQ(ringbuf_remove_trusting(name.get().c_str(), owner),
              RINGBUF_NOT_FOUND)
        << spelled;
    EXPECT_TRUE(Contains(LastError(), name.get())) << LastError();
  }
}

TEST(CApiTrustTest, BadOwnersAndNullsAreInvalidArgumentNamingThem) {
  ScopedQueueName name;
  Handle created;
  Create(name, &created);
  for (const char* owner : {"", "no-such-user-rbt", "4294967295"}) {
    Handle h;
    EXPECT_EQ(ringbuf_open_trusting(name.get().c_str(), owner, h.out()),
              RINGBUF_INVALID_ARGUMENT)
        << owner;
    EXPECT_TRUE(Contains(LastError(), name.get())) << LastError();
    EXPECT_TRUE(Contains(LastError(), std::string("owner '") + owner + "'"))
        << LastError();
    EXPECT_EQ(h.get(), nullptr);
    EXPECT_EQ(ringbuf_open_or_create_trusting(name.get().c_str(), kCapacity,
                                              kSlotSize, 0600, owner,
                                              h.out()),
              RINGBUF_INVALID_ARGUMENT)
        << owner;
    EXPECT_EQ(ringbuf_remove_trusting(name.get().c_str(), owner),
              RINGBUF_INVALID_ARGUMENT)
        << owner;
    EXPECT_TRUE(Contains(LastError(), std::string("owner '") + owner + "'"))
        << LastError();
  }
  {
    Handle still;
    EXPECT_EQ(ringbuf_open(name.get().c_str(), still.out()), RINGBUF_OK)
        << "a bad owner removed nothing: " << LastError();
  }
  Handle h;
  EXPECT_EQ(ringbuf_open_trusting(nullptr, "any", h.out()),
            RINGBUF_INVALID_ARGUMENT);
  EXPECT_EQ(ringbuf_open_trusting(name.get().c_str(), "any", nullptr),
            RINGBUF_INVALID_ARGUMENT);
  EXPECT_EQ(ringbuf_open_or_create_trusting(nullptr, kCapacity, kSlotSize,
                                            0600, "any", h.out()),
            RINGBUF_INVALID_ARGUMENT);
  EXPECT_EQ(ringbuf_open_or_create_trusting(name.get().c_str(), kCapacity,
                                            kSlotSize, 0600, "any", nullptr),
            RINGBUF_INVALID_ARGUMENT);
  EXPECT_EQ(ringbuf_remove_trusting(nullptr, "any"), RINGBUF_INVALID_ARGUMENT);
}

class CApiOwnerTest : public testing::TwoUserTest {
 protected:
  void SetUp() override {
    TwoUserTest::SetUp();
    if (!IsSkipped()) Squat(name_);
  }

  ScopedQueueName name_;
};

TEST_F(CApiOwnerTest, ASquattedQueueIsPermissionDeniedByDefault) {
  const std::string owner = Owner();
  Handle a, b, c, d;
  EXPECT_EQ(ringbuf_open(name_.get().c_str(), a.out()),
            RINGBUF_PERMISSION_DENIED);
  EXPECT_EQ(ringbuf_open_trusting(name_.get().c_str(), nullptr, b.out()),
            RINGBUF_PERMISSION_DENIED);
  EXPECT_TRUE(Contains(LastError(), owner)) << LastError();
  EXPECT_TRUE(Contains(LastError(), name_.get())) << LastError();
  EXPECT_EQ(ringbuf_open_or_create(name_.get().c_str(), kCapacity, kSlotSize,
                                   0600, c.out()),
            RINGBUF_PERMISSION_DENIED);
  EXPECT_EQ(ringbuf_open_or_create_trusting(name_.get().c_str(), kCapacity,
                                            kSlotSize, 0600, nullptr, d.out()),
            RINGBUF_PERMISSION_DENIED);
  EXPECT_TRUE(Contains(LastError(), owner)) << LastError();
  EXPECT_EQ(ringbuf_remove(name_.get().c_str()), RINGBUF_PERMISSION_DENIED);
  EXPECT_EQ(ringbuf_remove_trusting(name_.get().c_str(), nullptr),
            RINGBUF_PERMISSION_DENIED);
  EXPECT_TRUE(Contains(LastError(), owner)) << LastError();
  EXPECT_TRUE(Contains(LastError(), name_.get())) << LastError();
  EXPECT_EQ(ringbuf_create(name_.get().c_str(), kCapacity, kSlotSize, 0600,
                           a.out()),
            RINGBUF_ALREADY_EXISTS);
  EXPECT_TRUE(Contains(LastError(), "owned by " + owner)) << LastError();
}

TEST_F(CApiOwnerTest, NamingTheOwnerAcceptsTheQueue) {
  for (const std::string& owner :
       {nobody_.name, std::to_string(nobody_.uid), std::string("any")}) {
    Handle h;
    EXPECT_EQ(ringbuf_open_trusting(name_.get().c_str(), owner.c_str(),
                                    h.out()),
              RINGBUF_OK)
        << owner << ": " << LastError();
    Handle p;
    EXPECT_EQ(ringbuf_open_or_create_trusting(name_.get().c_str(), kCapacity,
                                              kSlotSize, 0600, owner.c_str(),
                                              p.out()),
              RINGBUF_OK)
        << owner << ": " << LastError();
  }
  Handle h;
  ASSERT_EQ(ringbuf_open_trusting(name_.get().c_str(), nobody_.name.c_str(),
                                  h.out()),
            RINGBUF_OK);
  std::string got;
  ASSERT_EQ(Receive(h, &got), RINGBUF_OK);
  EXPECT_EQ(got, "planted");
}

TEST_F(CApiOwnerTest, NamingTheOwnerRemovesTheQueue) {
  // Root (the default set) is not enough to remove nobody's queue; naming
  // nobody is.
  EXPECT_EQ(ringbuf_remove_trusting(name_.get().c_str(), "root"),
            RINGBUF_PERMISSION_DENIED);
  Handle still;
  ASSERT_EQ(ringbuf_open_trusting(name_.get().c_str(), "any", still.out()),
            RINGBUF_OK)
      << "the refused remove left the name: " << LastError();
  ASSERT_EQ(ringbuf_remove_trusting(name_.get().c_str(), nobody_.name.c_str()),
            RINGBUF_OK)
      << LastError();
  Handle h;
  EXPECT_EQ(ringbuf_open_trusting(name_.get().c_str(), "any", h.out()),
            RINGBUF_NOT_FOUND);
  std::string got;
  ASSERT_EQ(Receive(still, &got), RINGBUF_OK) << "handles keep working";
  EXPECT_EQ(got, "planted");
}

// Priorities through the C API: create with levels, send at a priority,
// receive the highest first with its priority reported, reserve and peek
// at a priority, depth per level in the stats; a priority out of range is
// INVALID_ARGUMENT naming the queue; a C++ handle sees the same.
TEST(CApiTest, PrioritiesRoundTrip) {
  ScopedQueueName name;
  Handle h;
  ASSERT_EQ(ringbuf_create_prioritized(name.get().c_str(), kCapacity, kSlotSize,
                                       4, 0600, h.out()),
            RINGBUF_OK)
      << LastError();
  EXPECT_EQ(ringbuf_priorities(h.get()), 4u);
  EXPECT_EQ(ringbuf_priorities(nullptr), 0u);
  ASSERT_EQ(ringbuf_send_priority(h.get(), "low", 3, 0, 0), RINGBUF_OK);
  ASSERT_EQ(ringbuf_send_priority(h.get(), "high", 4, 3, -1), RINGBUF_OK);
  ASSERT_EQ(ringbuf_send_priority(h.get(), "mid", 3, 2, 100 * kMs),
            RINGBUF_OK);
  EXPECT_EQ(ringbuf_send_priority(h.get(), "bad", 3, 4, 0),
            RINGBUF_INVALID_ARGUMENT);
  EXPECT_TRUE(Contains(LastError(), name.get())) << LastError();
  EXPECT_TRUE(Contains(LastError(), "priority 4")) << LastError();

  struct ringbuf_stats st = RINGBUF_STATS_INIT;
  ASSERT_EQ(ringbuf_stats(h.get(), &st), RINGBUF_OK);
  EXPECT_EQ(st.priorities, 4u);
  EXPECT_EQ(st.depth, 3u);
  EXPECT_EQ(st.depth_by_priority[0], 1u);
  EXPECT_EQ(st.depth_by_priority[1], 0u);
  EXPECT_EQ(st.depth_by_priority[2], 1u);
  EXPECT_EQ(st.depth_by_priority[3], 1u);

  ringbuf_peeked* p = nullptr;
  const void* data = nullptr;
  size_t len = 0;
  ASSERT_EQ(ringbuf_peek(h.get(), 0, &p, &data, &len), RINGBUF_OK);
  EXPECT_EQ(std::string(static_cast<const char*>(data), len), "high");
  EXPECT_EQ(ringbuf_peeked_priority(p), 3u);
  ASSERT_EQ(ringbuf_peeked_release(p), RINGBUF_OK);

  char buf[kSlotSize];
  uint32_t priority = 99;
  ASSERT_EQ(ringbuf_receive_priority(h.get(), buf, sizeof buf, &len, &priority,
                                     0),
            RINGBUF_OK);
  EXPECT_EQ(std::string(buf, len), "mid");
  EXPECT_EQ(priority, 2u);

  ringbuf_reservation* r = nullptr;
  void* slot = nullptr;
  size_t cap = 0;
  EXPECT_EQ(ringbuf_reserve_priority(h.get(), 9, 0, &r, &slot, &cap),
            RINGBUF_INVALID_ARGUMENT);
  ASSERT_EQ(ringbuf_reserve_priority(h.get(), 1, 0, &r, &slot, &cap),
            RINGBUF_OK);
  std::memcpy(slot, "reserved", 8);
  ASSERT_EQ(ringbuf_reservation_commit(r, 8), RINGBUF_OK);

  // A C++ handle on the same queue: the same levels and order.
  absl::StatusOr<Queue> cpp = Queue::Open(name.get());
  ASSERT_TRUE(cpp.ok()) << cpp.status();
  EXPECT_EQ(cpp->priorities(), 4u);
  std::string out;
  ASSERT_TRUE(cpp->TryReceive(&out, &priority).ok());
  EXPECT_EQ(out, "reserved");
  EXPECT_EQ(priority, 1u);
  ASSERT_EQ(ringbuf_receive_priority(h.get(), buf, sizeof buf, &len, nullptr,
                                     0),
            RINGBUF_OK);
  EXPECT_EQ(std::string(buf, len), "low");
  EXPECT_EQ(ringbuf_receive_priority(h.get(), buf, sizeof buf, &len, &priority,
                                     0),
            RINGBUF_UNAVAILABLE);

  // The plain calls are priority 0 of the same queue.
  ASSERT_EQ(Send(h, "plain"), RINGBUF_OK);
  ASSERT_TRUE(cpp->TryReceive(&out, &priority).ok());
  EXPECT_EQ(priority, 0u);

  // Batches: sent at one priority, received from the highest non-empty one.
  const ringbuf_message low[] = {{"l0", 2}, {"l1", 2}};
  const ringbuf_message high[] = {{"h0", 2}, {"h1", 2}};
  size_t sent = 99;
  EXPECT_EQ(ringbuf_send_batch_priority(h.get(), low, 2, 7, &sent, 0),
            RINGBUF_INVALID_ARGUMENT);
  EXPECT_EQ(sent, 0u);
  ASSERT_EQ(ringbuf_send_batch_priority(h.get(), low, 2, 0, &sent, 0),
            RINGBUF_OK);
  ASSERT_EQ(ringbuf_send_batch_priority(h.get(), high, 2, 2, &sent, 0),
            RINGBUF_OK);
  char batch[4 * kSlotSize];
  size_t lens[4];
  size_t count = 0;
  ASSERT_EQ(ringbuf_receive_batch_priority(h.get(), batch, sizeof batch, lens,
                                           4, &count, &priority, 0),
            RINGBUF_OK);
  EXPECT_EQ(count, 2u);
  EXPECT_EQ(std::string(batch, lens[0] + lens[1]), "h0h1");
  EXPECT_EQ(priority, 2u);
  ASSERT_EQ(ringbuf_receive_batch_priority(h.get(), batch, sizeof batch, lens,
                                           4, &count, &priority, 0),
            RINGBUF_OK);
  EXPECT_EQ(std::string(batch, lens[0] + lens[1]), "l0l1");
  EXPECT_EQ(priority, 0u);

  Handle bad;
  EXPECT_EQ(ringbuf_create_prioritized(name.get().c_str(), kCapacity,
                                       kSlotSize, 33, 0600, bad.out()),
            RINGBUF_INVALID_ARGUMENT);
  EXPECT_TRUE(Contains(LastError(), "priorities")) << LastError();
}

// ringbuf_open_or_create_prioritized creates with its levels, opens a queue
// of the same levels, and refuses (FAILED_PRECONDITION naming priorities)
// one of other levels -- the case plain ringbuf_open_or_create cannot open.
TEST(CApiTest, OpenOrCreatePrioritizedCreatesThenOpensTheSameLevels) {
  ScopedQueueName name;
  Handle first, second;
  ASSERT_EQ(ringbuf_open_or_create_prioritized(name.get().c_str(), kCapacity,
                                               kSlotSize, 4, 0600, nullptr,
                                               first.out()),
            RINGBUF_OK)
      << LastError();
  EXPECT_EQ(ringbuf_priorities(first.get()), 4u);
  ASSERT_EQ(ringbuf_send_priority(first.get(), "x", 1, 3, 0), RINGBUF_OK);
  ASSERT_EQ(ringbuf_open_or_create_prioritized(name.get().c_str(), kCapacity,
                                               kSlotSize, 4, 0600, "any",
                                               second.out()),
            RINGBUF_OK)
      << LastError();
  EXPECT_EQ(Depth(second), 1u) << "opened the existing queue";

  ringbuf_queue* out = nullptr;
  EXPECT_EQ(ringbuf_open_or_create_prioritized(name.get().c_str(), kCapacity,
                                               kSlotSize, 1, 0600, nullptr,
                                               &out),
            RINGBUF_FAILED_PRECONDITION);
  EXPECT_EQ(out, nullptr);
  EXPECT_TRUE(Contains(LastError(), name.get())) << LastError();
  EXPECT_TRUE(Contains(LastError(), "priorities")) << LastError();
  EXPECT_EQ(ringbuf_open_or_create(name.get().c_str(), kCapacity, kSlotSize,
                                   0600, &out),
            RINGBUF_FAILED_PRECONDITION)
      << "the gap this call fills";

  ScopedQueueName other;
  for (uint32_t bad : {0u, 33u}) {
    EXPECT_EQ(ringbuf_open_or_create_prioritized(other.get().c_str(),
                                                 kCapacity, kSlotSize, bad,
                                                 0600, nullptr, &out),
              RINGBUF_INVALID_ARGUMENT)
        << bad;
    EXPECT_TRUE(Contains(LastError(), "priorities")) << LastError();
  }
  EXPECT_EQ(ringbuf_open_or_create_prioritized(nullptr, kCapacity, kSlotSize,
                                               4, 0600, nullptr, &out),
            RINGBUF_INVALID_ARGUMENT);
  EXPECT_TRUE(Contains(LastError(), "ringbuf_open_or_create_prioritized"))
      << LastError();
  EXPECT_EQ(out, nullptr);
}

}  // namespace
}  // namespace ringbuf
