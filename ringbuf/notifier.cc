#include "ringbuf/notifier.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "ringbuf/internal/counting_semaphore.h"
#include "ringbuf/internal/deadline.h"
#include "ringbuf/internal/errno_status.h"
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
  return std::unique_ptr<QueueNotifier>(new QueueNotifier(queue, event, fd));
}

QueueNotifier::QueueNotifier(Queue& queue, Event event, int fd)
    : queue_(queue), event_(event), fd_(fd), thread_([this] { Run(); }) {}

QueueNotifier::~QueueNotifier() {
  stop_.store(true, std::memory_order_seq_cst);
  // Wake the helper wherever it sleeps; sleepers of other handles wake too,
  // see nothing new for them, and sleep again.
  internal::Header& h = *queue_.header_;
  SlotSemaphore(event_ == Event::kMessages ? &h.tail : &h.head).Interrupt();
  thread_.join();
  close(fd_);
}

void QueueNotifier::Clear() {
  uint64_t value;
  while (read(fd_, &value, sizeof(value)) < 0 && errno == EINTR) {
  }
}

void QueueNotifier::Signal() {
  const uint64_t one = 1;
  // EAGAIN only if the counter is about to overflow: it is readable anyway.
  while (write(fd_, &one, sizeof(one)) < 0 && errno == EINTR) {
  }
}

void QueueNotifier::Run() {
  internal::Header& h = *queue_.header_;
  const uint64_t capacity = queue_.capacity_;
  // Messages: the event is tail moving; space: head moving.
  IndexLine* line = event_ == Event::kMessages ? &h.tail : &h.head;
  // With several priorities a message is published by its level tail, after
  // tail moved (internal/priority_levels.h): watch their sum instead.
  const internal::Levels levels = queue_.levels();
  auto watched = [&] {
    return levels.multi() && event_ == Event::kMessages
               ? levels.SumTails(std::memory_order_seq_cst)
               : line->index.load(std::memory_order_seq_cst);
  };
  uint64_t seen = watched();
  const uint64_t tail = h.tail.index.load(std::memory_order_seq_cst);
  const uint64_t head = h.head.index.load(std::memory_order_seq_cst);
  const bool ready_now =
      event_ == Event::kMessages ? tail != head : tail - head < capacity;
  if (ready_now) Signal();
  SlotSemaphore semaphore(line);
  for (;;) {
    SlotSemaphore::Result r = semaphore.Wait(
        [&](uint64_t) { return watched() != seen; }, Deadline::Infinite(),
        stop_);
    if (r != SlotSemaphore::Result::kAvailable) return;  // stopped
    seen = watched();
    Signal();
  }
}

}  // namespace ringbuf
