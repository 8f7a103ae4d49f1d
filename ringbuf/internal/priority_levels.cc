#include "ringbuf/internal/priority_levels.h"

#include "ringbuf/internal/crash_point.h"

namespace ringbuf {
namespace internal {
namespace {

uint64_t ArrayBytes(uint32_t priorities) {
  const uint64_t bytes = uint64_t{priorities} * sizeof(uint64_t);
  return (bytes + kCacheLine - 1) / kCacheLine * kCacheLine;
}

}  // namespace

uint64_t LevelIndexBytes(uint32_t priorities) {
  // Tails and heads on separate lines: producers and consumers do not share
  // a line they write.
  return priorities > 1 ? 2 * ArrayBytes(priorities) : 0;
}

Levels Levels::At(void* mapping, uint32_t priorities) {
  Levels levels;
  levels.count = priorities;
  if (priorities > 1) {
    char* base = static_cast<char*>(mapping) + kHeaderSize;
    levels.tail = reinterpret_cast<std::atomic<uint64_t>*>(base);
    levels.head = reinterpret_cast<std::atomic<uint64_t>*>(
        base + ArrayBytes(priorities));
  }
  return levels;
}

uint64_t Levels::SumTails(std::memory_order order) const {
  uint64_t sum = 0;
  for (uint32_t l = 0; l < count; ++l) sum += tail[l].load(order);
  return sum;
}

uint64_t Levels::SumHeads(std::memory_order order) const {
  uint64_t sum = 0;
  for (uint32_t l = 0; l < count; ++l) sum += head[l].load(order);
  return sum;
}

bool Levels::AnyMessage() const {
  for (uint32_t l = count; l-- > 0;) {
    if (tail[l].load(std::memory_order_seq_cst) !=
        head[l].load(std::memory_order_relaxed)) {
      return true;
    }
  }
  return false;
}

void Levels::PublishSend(IndexLine& tail_line, uint32_t level,
                         uint64_t level_tail, uint64_t n) const {
  // Count, then commit: the level tail is what consumers acquire (seq_cst:
  // also before the wake-up's load of the sleepers word).
  tail_line.index.store(tail_line.index.load(std::memory_order_relaxed) + n,
                        std::memory_order_seq_cst);
  RINGBUF_CRASH_POINT(kSendCounted);
  tail[level].store(level_tail + n, std::memory_order_seq_cst);
}

void Levels::PublishReceive(IndexLine& head_line, uint32_t level,
                            uint64_t level_head, uint64_t n) const {
  // Take from the level, then count.
  head[level].store(level_head + n, std::memory_order_seq_cst);
  RINGBUF_CRASH_POINT(kReceiveLevelTaken);
  head_line.index.store(head_line.index.load(std::memory_order_relaxed) + n,
                        std::memory_order_seq_cst);
}

}  // namespace internal
}  // namespace ringbuf
