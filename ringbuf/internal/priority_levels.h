// The per-priority rings of a queue created with Options::priorities > 1.
//
// A 1-level queue is exactly the layout of layout.h: its header's tail and
// head are the ring's indexes, and nothing here is used. A queue of P > 1
// levels adds, between the header and the slots:
//
//   level tails   P x u64, padded to cache lines   written by the send-lock holder
//   level heads   P x u64, padded to cache lines   written by the recv-lock holder
//
// and P rings of `capacity` slots each (level L's ring follows level L-1's).
// Level L's ring holds the messages of priority L, in FIFO order between its
// own level tail and head, exactly as the single ring does.
//
// The capacity is shared: the header's tail and head stay the counts of the
// two counting semaphores (full = tail - head, one sleep word each), and
// they are sums of the levels' indexes:
//
//   tail == sum of level tails,  head == sum of level heads    (at rest)
//
// so a consumer sleeps once for "a message at any level" and a producer for
// "a free slot", and no level's ring can overflow (a level holds at most the
// whole queue). The level indexes are authoritative, the header's are
// derived from them, stored in this order:
//   send:    tail += n, then level_tail[L] += n (the commit: consumers look
//            only at the level indexes), then wake consumers;
//   receive: level_head[L] += n (the take), then head += n, then wake
//            producers.
// Hence at every instant head <= sum(level heads) <= sum(level tails) <= tail:
// the global count never shows fewer messages, nor more free slots, than the
// levels hold. A process that dies between its two stores holds its side's
// lock; the repairer (recovery.cc) recomputes the header's index as the sum,
// which is idempotent. The crash sites kSendCounted and kReceiveLevelTaken
// mark the two windows.
//
// Waiting: a consumer's "is there a message" reads the level tails (seq_cst,
// pairing with the producer's seq_cst store of the level tail before its
// wake-up), and a producer's "is there a free slot" is tail - sum of level
// heads, so a message or a slot whose owner died before fixing the header's
// index is still seen at the waiter's next re-check.
#ifndef RINGBUF_INTERNAL_PRIORITY_LEVELS_H_
#define RINGBUF_INTERNAL_PRIORITY_LEVELS_H_

#include <atomic>
#include <cstdint>

#include "ringbuf/internal/layout.h"

namespace ringbuf {
namespace internal {

// Bytes the level indexes take between the header and the slots: 0 for a
// 1-level queue.
uint64_t LevelIndexBytes(uint32_t priorities);

// A handle's view of the level indexes in its mapping. Empty (count 1, null
// arrays) for a 1-level queue. `count` is the handle's validated private copy.
struct Levels {
  uint32_t count = 1;
  std::atomic<uint64_t>* tail = nullptr;  // [count]
  std::atomic<uint64_t>* head = nullptr;  // [count]

  bool multi() const { return count > 1; }

  // The level indexes of a mapping whose header says `priorities` levels.
  static Levels At(void* mapping, uint32_t priorities);

  // The sums that the header's tail and head equal at rest. `order` is the
  // memory order of each load.
  uint64_t SumTails(std::memory_order order) const;
  uint64_t SumHeads(std::memory_order order) const;

  // Whether any level holds a message, reading each level tail seq_cst (the
  // consumers' wait condition, see the file comment).
  bool AnyMessage() const;

  // The two stores of a send (send lock held): n more messages counted in
  // `tail`, then published at `level`, whose tail was `level_tail`; crash
  // site kSendCounted between.
  void PublishSend(IndexLine& tail, uint32_t level, uint64_t level_tail,
                   uint64_t n) const;
  // The two stores of a receive (receive lock held): n messages taken at
  // `level`, whose head was `level_head`, then counted in `head`; crash
  // site kReceiveLevelTaken between.
  void PublishReceive(IndexLine& head, uint32_t level, uint64_t level_head,
                      uint64_t n) const;
};

}  // namespace internal
}  // namespace ringbuf

#endif  // RINGBUF_INTERNAL_PRIORITY_LEVELS_H_
