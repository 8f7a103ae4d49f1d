// The --with_sequence format of `ringbuf-bridge in`: each message in the
// queue is its stream sequence as 8 bytes, big-endian, followed by the
// payload unchanged. A consumer that keeps the highest sequence it has seen
// drops any message at or below it: that is a redelivery (the bridge puts
// first deliveries into the queue in stream order).
#ifndef RINGBUF_BRIDGE_SEQUENCE_PREFIX_H_
#define RINGBUF_BRIDGE_SEQUENCE_PREFIX_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace ringbuf {
namespace bridge {

inline constexpr size_t kSequencePrefixSize = 8;

inline void AppendSequencePrefix(uint64_t sequence, std::string* out) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((sequence >> shift) & 0xff));
  }
}

// Splits `message` into its sequence and payload; false if it is shorter
// than the prefix.
inline bool SplitSequencePrefix(absl::string_view message, uint64_t* sequence,
                                absl::string_view* payload) {
  if (message.size() < kSequencePrefixSize) return false;
  uint64_t s = 0;
  for (size_t i = 0; i < kSequencePrefixSize; ++i) {
    s = s << 8 | static_cast<unsigned char>(message[i]);
  }
  *sequence = s;
  *payload = message.substr(kSequencePrefixSize);
  return true;
}

}  // namespace bridge
}  // namespace ringbuf

#endif  // RINGBUF_BRIDGE_SEQUENCE_PREFIX_H_
