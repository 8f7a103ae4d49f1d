// `ringbuf-bridge out`: drains a ringbuf queue into a JetStream subject.
//
// The protocol (docs/design.md, "The NATS bridge", has the crash analysis),
// a sliding window over the queue's oldest messages:
//   1. PeekBatch(max_inflight): views of the oldest messages, with their ring
//      indexes; the queue's receive lock is held, nothing is taken yet.
//   2. Publish, asynchronously, those not yet in flight, each with the
//      message id "<queue name>:<incarnation, 16 hex>:<ring index>", which is
//      the same for the same message in every run of the bridge. With
//      --ordered (the default) each also carries "expected last message id"
//      = its predecessor's id, so the stream refuses a message whose
//      predecessor it does not have: a gap (a publish lost in a reconnect)
//      can never let later messages overtake it in the stream.
//   3. Wait for the oldest ack (up to --ack_timeout).
//   4. Release(k): take from the queue exactly the prefix the stream acked
//      (a "duplicate" ack counts: the stream had it), and go round again;
//      the messages still in flight are peeked again under the same indexes.
//   A failed or missing ack: everything in flight is published again, with
//   the same ids, in order, after a backoff.
// A restarted bridge re-sends what its predecessor published but did not
// release; the stream's duplicate window (2 min by default) recognises the
// ids and stores nothing twice. The bridge holds the receive lock for most
// of its life: it must be the queue's only consumer.
#ifndef RINGBUF_BRIDGE_OUT_H_
#define RINGBUF_BRIDGE_OUT_H_

#include <string>

#include "absl/status/status.h"
#include "bridge/stop_flag.h"
#include "absl/time/time.h"
#include "bridge/stats.h"
#include "ringbuf/queue.h"

namespace ringbuf {
namespace bridge {

struct OutConfig {
  std::string urls;
  std::string subject;
  std::string stream;
  size_t max_inflight = 1024;
  absl::Duration ack_timeout = absl::Seconds(5);
  bool ordered = true;
  bool create_stream = false;
  int replicas = 1;
  absl::Duration duplicate_window = absl::Minutes(2);
  absl::Duration connect_timeout = absl::InfiniteDuration();
};

// Runs until `stop` is notified (then publishes nothing more, awaits the
// acks in flight and releases what was acked; OK) or a fatal error: the stream is
// missing, or the message at the head is larger than the server's
// max_payload (FailedPrecondition; the message stays at the head of the
// queue, nothing after it is forwarded).
absl::Status RunOut(const OutConfig& config, Queue& queue, Stats& stats,
                    const StopFlag& stop);

// The message id of ring index `index` of `queue` (exposed for the tests).
std::string MessageId(const Queue& queue, uint64_t index);

}  // namespace bridge
}  // namespace ringbuf

#endif  // RINGBUF_BRIDGE_OUT_H_
