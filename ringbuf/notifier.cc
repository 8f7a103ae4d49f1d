#include "ringbuf/notifier.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "ringbuf/internal/counting_semaphore.h"
#include "ringbuf/internal/deadline.h"
#include "ringbuf/internal/errno_status.h"
#include "ringbuf/internal/futex.h"
#include "ringbuf/internal/priority_levels.h"

namespace ringbuf {

using internal::Deadline;
using internal::IndexLine;
using internal::SlotSemaphore;

absl::StatusOr<std::unique_ptr<QueueNotifier>> QueueNotifier::Create(
    Queue& queue, Event event) {
  if (queue.header_ == nullptr) {
    return absl::FailedPreconditionError("QueueNotifier on a moved-from Queue");
  }
  int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) return internal::ErrnoStatus(errno, "eventfd", queue.name());
  std::unique_ptr<QueueNotifier> notifier;
  try {
    notifier.reset(new QueueNotifier(queue, event, fd));
  } catch (...) {
    close(fd);
    return absl::ResourceExhaustedError(internal::QueueMessage(
        queue.name(), "out of memory creating a QueueNotifier"));
  }
  // Started here, not in the constructor, so that a thread that cannot
  // start is a status (the destructor closes the fd; no thread to join).
  try {
    QueueNotifier* n = notifier.get();
    notifier->thread_ = std::thread([n] { n->Run(); });
  } catch (const std::system_error& e) {
    return absl::ResourceExhaustedError(internal::QueueMessage(
        queue.name(),
        absl::StrCat("cannot start the notifier's thread: ", e.what())));
  }
  return notifier;
}

QueueNotifier::QueueNotifier(Queue& queue, Event event, int fd)
    : queue_(queue), event_(event), fd_(fd) {}

// With several priorities a message is published by its level tail, after
// tail moved (internal/priority_levels.h): the messages event watches their
// sum instead of tail.
uint64_t QueueNotifier::Watched() const {
  const internal::Levels levels = queue_.levels();
  if (levels.multi() && event_ == Event::kMessages) {
    return levels.SumTails(std::memory_order_seq_cst);
  }
  return Line()->index.load(std::memory_order_seq_cst);
}

IndexLine* QueueNotifier::Line() const {
  internal::Header& h = *queue_.header_;
  // Messages: the event is tail moving; space: head moving.
  return event_ == Event::kMessages ? &h.tail : &h.head;
}

QueueNotifier::~QueueNotifier() {
  if (thread_.joinable()) {
    stop_.store(true, std::memory_order_seq_cst);
    // Wake the helper wherever it sleeps: on armed_, or on the queue (where
    // sleepers of other handles wake too, see nothing new, and sleep again).
    armed_.store(kArmed, std::memory_order_seq_cst);
    internal::FutexWake(reinterpret_cast<uint32_t*>(&armed_), 1);
    SlotSemaphore(Line()).Interrupt();
    thread_.join();
  }
  close(fd_);
}

void QueueNotifier::Clear() {
  uint64_t value;
  while (read(fd_, &value, sizeof(value)) < 0 && errno == EINTR) {
  }
  // Re-arm after the read: an event between the read and here happened
  // before Clear() returned, so the caller's drain sees its message.
  rearmed_at_.store(Watched(),
                    std::memory_order_relaxed);
  if (armed_.exchange(kArmed, std::memory_order_seq_cst) == kFiredAsleep) {
    internal::FutexWake(reinterpret_cast<uint32_t*>(&armed_), 1);
  }
}

void QueueNotifier::Signal() {
  // Only this thread disarms, so a plain load suffices.
  if (armed_.load(std::memory_order_acquire) != kArmed) return;
  armed_.store(kFired, std::memory_order_seq_cst);
  // Clear() may have re-armed it between the load and the store; its read
  // already happened, so this write is for an event after it: keep it, the
  // next Clear() re-arms again.
  const uint64_t one = 1;
  // EAGAIN only if the counter is about to overflow: it is readable anyway.
  while (write(fd_, &one, sizeof(one)) < 0 && errno == EINTR) {
  }
}

void QueueNotifier::AwaitRearm() {
  uint32_t fired = kFired;
  if (!armed_.compare_exchange_strong(fired, kFiredAsleep,
                                      std::memory_order_seq_cst)) {
    return;  // re-armed (or stopping) already
  }
  while (armed_.load(std::memory_order_seq_cst) == kFiredAsleep &&
         !stop_.load(std::memory_order_seq_cst)) {
    internal::FutexWaitUntil(reinterpret_cast<uint32_t*>(&armed_),
                             kFiredAsleep, nullptr);
  }
}

void QueueNotifier::Run() {
  internal::Header& h = *queue_.header_;
  const uint64_t capacity = queue_.capacity_;
  IndexLine* line = Line();
  uint64_t seen = Watched();
  const uint64_t tail = h.tail.index.load(std::memory_order_seq_cst);
  const uint64_t head = h.head.index.load(std::memory_order_seq_cst);
  const bool ready_now =
      event_ == Event::kMessages ? tail != head : tail - head < capacity;
  if (ready_now) Signal();
  SlotSemaphore semaphore(line);
  // stop_ is checked on every round: under sustained traffic the wait below
  // returns at once, every time.
  while (!stop_.load(std::memory_order_acquire)) {
    if (armed_.load(std::memory_order_acquire) != kArmed) {
      // The fd is readable and unread: nothing to add until Clear().
      AwaitRearm();
      seen = rearmed_at_.load(std::memory_order_relaxed);
      continue;
    }
    // A watcher: producers woken one per slot must not lose their wake-up
    // to us, nor we ours to them (internal/sleepers.h).
    SlotSemaphore::Result r = semaphore.Wait(
        [&](uint64_t) { return Watched() != seen; }, Deadline::Infinite(),
        stop_, /*watcher=*/true);
    if (r != SlotSemaphore::Result::kAvailable) return;  // stopped
    seen = Watched();
    Signal();
  }
}

}  // namespace ringbuf
