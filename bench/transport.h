// The seam between the benchmarks and what they measure. Every workload in
// queue_benchmark.cc is written once against Channel and Endpoint; each
// transport (ringbuf and its peers: a POSIX message queue, a Boost.Interprocess
// message_queue, a pipe, and the busy-poll SPSC ring that marks the limit)
// is one small adapter in transports.cc.
//
// Life of a channel in one benchmark run: the parent process creates it (and
// with it a fresh, unique name), forks the workload's children, each child
// attaches its own endpoint, and when the children are done the parent
// destroys the Channel, which removes the name. Children never remove
// anything: they leave through _exit without running destructors.
#ifndef BENCH_TRANSPORT_H_
#define BENCH_TRANSPORT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ringbuf_bench {

// What a workload asks of a channel.
struct Geometry {
  uint32_t message_size = 64;  // every message of a run has exactly this size
  uint64_t capacity = 1024;    // messages the channel should hold
  int producers = 1;           // processes that will send on it
  int consumers = 1;           // processes that will receive from it
  // Producers pinned to one CPU and consumers to another (so a process that
  // spins never holds up its peer).
  bool cpus_apart = false;
  // Message priorities the channel must offer (SendAt 0..priorities-1,
  // received highest first, FIFO within one); 1: a plain FIFO channel.
  uint32_t priorities = 1;
};

// One process's handle on a channel: used by one thread of one child.
class Endpoint {
 public:
  virtual ~Endpoint() = default;

  // Sends `message` (geometry.message_size bytes) as one message, blocking
  // while the channel is full.
  virtual absl::Status Send(absl::string_view message) = 0;

  // Sends at `priority` on a channel created with geometry.priorities > 1.
  // Transports without priorities refuse such a geometry at create and keep
  // this default.
  virtual absl::Status SendAt(absl::string_view message, uint32_t priority) {
    (void)message;
    (void)priority;
    return absl::UnimplementedError("no message priorities");
  }

  // Receives the next message into `*message` (replacing its contents),
  // blocking while the channel is empty.
  virtual absl::Status Receive(std::string* message) = 0;
};

class Channel {
 public:
  // Removes the channel's name (parent only; see the file comment).
  virtual ~Channel() = default;

  // How many messages the channel really holds. Peers' limits may give less
  // than asked (POSIX mq), or their granularity more (a pipe's pages).
  virtual uint64_t capacity_got() const = 0;

  // In a child after fork(): this process's own endpoint.
  virtual absl::StatusOr<std::unique_ptr<Endpoint>> Attach() = 0;
};

struct Transport {
  std::string name;  // the benchmark name part: "ringbuf", "posix_mq", ...

  // Creates a channel with a fresh name. Unavailable, with the reason, only
  // when this transport cannot provide the geometry here at all (a peer's
  // limit, or the facility missing); any other error is a failure.
  std::function<absl::StatusOr<std::unique_ptr<Channel>>(const Geometry&)>
      create;
};

// ringbuf first, then its peers; the order of the report's rows.
const std::vector<Transport>& AllTransports();

// Raises what the peers' limits allow this process to raise (RLIMIT_MSGQUEUE)
// and returns every limit that shapes a peer's rows, as (key, value) pairs
// for the benchmark's context. Call once, before any benchmark runs.
std::vector<std::pair<std::string, std::string>> PreparePeerLimits();

}  // namespace ringbuf_bench

#endif  // BENCH_TRANSPORT_H_
