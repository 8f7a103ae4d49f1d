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
// queue's futex, using no CPU while idle). It writes the eventfd at most once
// between two Clear() calls: after a write it sleeps until Clear() re-arms
// it, whatever the traffic, so a busy queue costs one write (and one wake-up
// of the loop) per Clear(), not one per message. Read the fd only through
// Clear(): reading it yourself does not re-arm it. Producers pay nothing
// extra unless the helper is asleep on the queue, in which case the first
// commit wakes it (one FUTEX_WAKE, as for a blocked receiver). POSIX mq
// offers this for free in the kernel; shared-memory queues have no kernel
// object to poll, hence the thread.
//
// The Queue must outlive its notifiers. Destroying a notifier stops its
// thread and closes the fd; it does not wait for the traffic to pause (the
// helper checks for it on every wake-up, so it returns within about 100 ms).
#ifndef RINGBUF_NOTIFIER_H_
#define RINGBUF_NOTIFIER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>

#include "absl/status/statusor.h"
#include "ringbuf/queue.h"

namespace ringbuf {
namespace internal {
struct IndexLine;
}  // namespace internal

class QueueNotifier {
 public:
  enum class Event {
    kMessages,  // readable when messages were committed (for consumers)
    kSpace,     // readable when slots were freed (for producers)
  };

  // Starts watching `queue`. Errors: from eventfd (ResourceExhausted...);
  // ResourceExhausted if the helper thread cannot start (nothing leaks);
  // FailedPrecondition for a moved-from queue.
  static absl::StatusOr<std::unique_ptr<QueueNotifier>> Create(Queue& queue,
                                                               Event event);

  ~QueueNotifier();
  QueueNotifier(const QueueNotifier&) = delete;
  QueueNotifier& operator=(const QueueNotifier&) = delete;

  // The fd to poll for reading. Owned by the notifier; do not close it.
  int fd() const { return fd_; }

  // Resets the fd to not readable and re-arms it: the next event after this
  // call makes it readable again. Non-blocking; safe if not readable.
  void Clear();

 private:
  // armed_ values: the helper may write the fd; it wrote and waits for
  // Clear(); it wrote and sleeps on armed_ until Clear() (a futex word).
  static constexpr uint32_t kArmed = 1, kFired = 0, kFiredAsleep = 2;

  QueueNotifier(Queue& queue, Event event, int fd);
  void Run();
  // Writes the fd if armed, and disarms it.
  void Signal();
  // Sleeps until Clear() re-arms the fd or the notifier stops.
  void AwaitRearm();
  // The index the event moves (the sum of the level tails for messages in
  // a queue of several priorities).
  uint64_t Watched() const;
  internal::IndexLine* Line() const;

  Queue& queue_;
  const Event event_;
  const int fd_;
  std::atomic<bool> stop_{false};
  std::atomic<uint32_t> armed_{kArmed};
  // The watched index as Clear() last saw it: the helper signals a change
  // from there once re-armed (an earlier one was before Clear() returned).
  std::atomic<uint64_t> rearmed_at_{0};
  std::thread thread_;
};

}  // namespace ringbuf

#endif  // RINGBUF_NOTIFIER_H_
