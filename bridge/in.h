// `ringbuf-bridge in`: a durable pull consumer on a JetStream stream fills a
// ringbuf queue.
//
// The protocol (docs/design.md, "The NATS bridge", has the crash analysis):
//   1. Fetch up to --batch messages from the durable consumer (created with
//      AckPolicy "all" on the subject if it does not exist).
//   2. SendBatch them into the queue, in stream order (with --with_sequence,
//      each prefixed with its stream sequence: bridge/sequence_prefix.h).
//   3. Record the last one's stream sequence as the queue's position
//      (position_file.h).
//   4. Ack the last one synchronously (acking "all": the batch).
// A bridge killed between 2 and 3 leaves the batch unacknowledged and
// unrecorded: it is delivered again, so a message can reach the queue twice
// (at least once). Everything else keeps first deliveries in stream order
// and sends nothing twice: on start, and whenever the consumer's delivery
// sequence shows a gap (a fetch lost in a reconnect, or messages sent to a
// pull request of a dead predecessor), the bridge re-creates the consumer
// just after the recorded position (a "rewind"), and it skips a redelivered
// message at or below it. A consumer of the queue that drops every sequence
// at or below the highest it has seen (--with_sequence) thus gets every
// message exactly once, in stream order.
//
// One `in` bridge per durable consumer: a second would rewind the first's.
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
  // Where the bridge records its position (position_file.h); empty: the
  // default beside the queue in /dev/shm.
  std::string position_file;
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
