// QueueNotifier: a file descriptor for poll/epoll (and so for asio, libuv,
// libevent loops) that becomes readable when a queue has messages to
// receive, or, for producers, free slots to send into.
//
//   auto n = ringbuf::QueueNotifier::Create(queue, Event::kMessages);
//   // register (*n)->fd() for reading in the loop; when it is readable:
//   (*n)->Clear();                                  // reset it first,
//   while (queue.TryReceive(&msg).ok()) Handle(msg); // then drain.
//
// Edge semantics: the fd is readable if the event happened after the last
// Clear(): for kMessages, a message was committed (or the queue was non-empty
// when the notifier was created); for kSpace, a slot was freed (or one was
// free at creation). Clear, then drain until Unavailable: a message committed
// after Clear() makes the fd readable again, so none is missed provided the
// drain ends only on an empty queue: TryReceive's Unavailable also covers
// "another consumer held the lock over 10 ms", so when other consumers may
// hold it long (Peek), confirm with GetStats().depth == 0. The fd may
// also be readable when there is nothing left (another consumer got there
// first); treat readiness as a hint, as with any shared queue.
//
// Cost: each notifier owns one helper thread and one eventfd. The thread
// waits exactly like a blocked Receive (spins ~10 us, then sleeps on the
// queue's futex, using no CPU while idle) and writes the eventfd once per
// burst of commits it observes. Producers pay nothing extra unless the
// helper is asleep, in which case the first commit wakes it (one FUTEX_WAKE,
// as for a blocked receiver). POSIX mq offers this for free in the kernel;
// shared-memory queues have no kernel object to poll, hence the thread.
//
// The Queue must outlive its notifiers. Destroying a notifier stops its
// thread and closes the fd.
#ifndef RINGBUF_NOTIFIER_H_
#define RINGBUF_NOTIFIER_H_

#include <atomic>
#include <memory>
#include <thread>

#include "absl/status/statusor.h"
#include "ringbuf/queue.h"

namespace ringbuf {

class QueueNotifier {
 public:
  enum class Event {
    kMessages,  // readable when messages were committed (for consumers)
    kSpace,     // readable when slots were freed (for producers)
  };

  // Starts watching `queue`. Errors: from eventfd (ResourceExhausted...),
  // FailedPrecondition for a moved-from queue.
  static absl::StatusOr<std::unique_ptr<QueueNotifier>> Create(Queue& queue,
                                                               Event event);

  ~QueueNotifier();
  QueueNotifier(const QueueNotifier&) = delete;
  QueueNotifier& operator=(const QueueNotifier&) = delete;

  // The fd to poll for reading. Owned by the notifier; do not close it.
  int fd() const { return fd_; }

  // Resets the fd to not readable. Non-blocking; safe if not readable.
  void Clear();

 private:
  QueueNotifier(Queue& queue, Event event, int fd);
  void Run();
  void Signal();

  Queue& queue_;
  const Event event_;
  const int fd_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace ringbuf

#endif  // RINGBUF_NOTIFIER_H_
