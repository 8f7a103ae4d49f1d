// The bridge's counters, printed as one JSON object on stderr (at exit, on
// SIGUSR1, and every --stats_interval).
#ifndef RINGBUF_BRIDGE_STATS_H_
#define RINGBUF_BRIDGE_STATS_H_

#include <atomic>
#include <cstdint>
#include <string>

namespace ringbuf {
namespace bridge {

// Relaxed atomics: written by the bridge's loop and cnats' callback threads,
// read by the stats printer; they are reports, not synchronisation.
struct Stats {
  // out: messages published to the stream. in: messages sent into the queue.
  std::atomic<uint64_t> forwarded{0};
  // out: messages the stream acknowledged (and so taken from the queue).
  // in: messages acknowledged to the stream (after they were in the queue).
  std::atomic<uint64_t> acked{0};
  // out: acks the stream marked duplicate (a re-send after a restart or a
  // failed window: the stream already had it and did not store it again).
  std::atomic<uint64_t> duplicates{0};
  // in: messages the stream delivered more than once (NumDelivered > 1), and
  // messages fetched again after a rewind to the consumer's ack floor.
  std::atomic<uint64_t> redelivered{0};
  std::atomic<uint64_t> rewinds{0};  // in: consumer re-created at its ack floor
  std::atomic<uint64_t> disconnects{0};
  std::atomic<uint64_t> reconnects{0};
  // out: publishes that were not acknowledged (timeout, error, out of order
  // after a gap); they are re-sent with the same ids.
  std::atomic<uint64_t> retries{0};
};

// {"direction":"out","queue":"/q",...} on one line.
std::string StatsJson(const Stats& stats, const std::string& direction,
                      const std::string& queue);

}  // namespace bridge
}  // namespace ringbuf

#endif  // RINGBUF_BRIDGE_STATS_H_
