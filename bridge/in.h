// `ringbuf-bridge in`: a durable pull consumer on a JetStream stream fills a
// ringbuf queue.
//
// The protocol (docs/design.md, "The NATS bridge", has the crash analysis):
//   1. Fetch up to --batch messages from the durable consumer (created with
//      AckPolicy "all" on the subject if it does not exist).
//   2. SendBatch them into the queue, in stream order (with --with_sequence,
//      each prefixed with its stream sequence: bridge/sequence_prefix.h).
//   3. Ack the last one synchronously (acking "all": the batch).
// A bridge killed between 2 and 3 leaves the batch unacknowledged: it is
// delivered again, so a message can reach the queue twice (at least once).
// The bridge keeps first deliveries in stream order even then: when it
// starts and finds unacknowledged messages (its predecessor died holding
// them), or sees a gap in the consumer's delivery sequence (a fetch lost in
// a reconnect), it re-creates the consumer at its ack floor ("rewind"), so
// the stream delivers them again before anything newer. A consumer of the
// queue that drops every sequence at or below the highest it has seen thus
// gets every message exactly once, in stream order.
#ifndef RINGBUF_BRIDGE_IN_H_
#define RINGBUF_BRIDGE_IN_H_

#include <string>

#include "absl/status/status.h"
#include "bridge/stop_flag.h"
#include "absl/time/time.h"
#include "bridge/stats.h"
#include "ringbuf/queue.h"

namespace ringbuf {
namespace bridge {

struct InConfig {
  std::string urls;
  std::string subject;
  std::string stream;
  std::string durable;
  int batch = 256;
  bool with_sequence = false;
  // The consumer's ack wait, when the bridge creates it. A batch blocked on
  // a full queue is kept alive with "in progress" acks meanwhile.
  absl::Duration ack_wait = absl::Seconds(30);
  absl::Duration connect_timeout = absl::InfiniteDuration();
};

// Runs until `stop` is notified (then acks what it put into the queue; OK)
// or a fatal error: the stream is missing (NotFound), or a message does not
// fit the queue's slot_size (FailedPrecondition; it is not acked and stays
// in the stream).
absl::Status RunIn(const InConfig& config, Queue& queue, Stats& stats,
                   const StopFlag& stop);

}  // namespace bridge
}  // namespace ringbuf

#endif  // RINGBUF_BRIDGE_IN_H_
