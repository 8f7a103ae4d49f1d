// A connection to NATS with a JetStream context, as the bridge needs it:
// reconnection forever with backoff when the server goes away (counted in
// Stats), connection at start retried with backoff and a one-line message
// per attempt, and errors turned into absl::Status.
#ifndef RINGBUF_BRIDGE_NATS_LINK_H_
#define RINGBUF_BRIDGE_NATS_LINK_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bridge/stop_flag.h"
#include "absl/time/time.h"
#include "bridge/stats.h"
#include "nats/nats.h"

namespace ringbuf {
namespace bridge {

struct LinkOptions {
  std::string urls;  // "nats://127.0.0.1:4222[,nats://...]"
  std::string name;  // the connection's name, seen in the server's monitoring
  // Give up connecting at start after this long (each failure is reported).
  absl::Duration connect_timeout = absl::InfiniteDuration();
  // JetStream: asynchronous publishes outstanding at once, and the callback
  // that receives each one's ack (out direction; null for in).
  int64_t max_pending_acks = 0;
  jsPubAckHandler ack_handler = nullptr;
  void* ack_closure = nullptr;
};

class NatsLink {
 public:
  // Connects, retrying with backoff (100 ms doubling to 2 s) until it
  // succeeds, `stop` is notified (Cancelled) or connect_timeout passes
  // (Unavailable naming the URLs and the last error).
  static absl::StatusOr<std::unique_ptr<NatsLink>> Connect(
      const LinkOptions& options, Stats* stats,
      const StopFlag& stop);
  ~NatsLink();
  NatsLink(const NatsLink&) = delete;
  NatsLink& operator=(const NatsLink&) = delete;

  natsConnection* connection() const { return nc_; }
  jsCtx* js() const { return js_; }

 private:
  NatsLink() = default;
  natsOptions* opts_ = nullptr;
  natsConnection* nc_ = nullptr;
  jsCtx* js_ = nullptr;
};

// "what: <cnats status text>[: <last error>][ (JetStream error N)]".
absl::Status NatsError(absl::string_view what, natsStatus s,
                       jsErrCode js_code = static_cast<jsErrCode>(0));

struct StreamOptions {
  bool create = false;  // create the stream on `subject` if it is missing
  int replicas = 1;
  absl::Duration duplicate_window = absl::Minutes(2);
};

// Makes sure `stream` exists and captures `subject`: NotFound ("stream 'S'
// does not exist", with a hint) unless options.create, which then creates it
// with `subject`, options.replicas and options.duplicate_window.
absl::Status EnsureStream(jsCtx* js, const std::string& stream,
                          const std::string& subject,
                          const StreamOptions& options);

// EnsureStream, retried with backoff while the answer is neither yes nor
// no (a cluster electing its leaders times out, for instance). Cancelled if
// `stop` is notified meanwhile.
absl::Status AwaitStream(jsCtx* js, const std::string& stream,
                         const std::string& subject,
                         const StreamOptions& options, const StopFlag& stop);

// Waits `d` unless `stop` is notified first; true if it was.
inline bool StopWithin(const StopFlag& stop, absl::Duration d) {
  return stop.WaitFor(d);
}

// Backoff between retries: 100 ms doubling to 2 s, reset after a success.
class Backoff {
 public:
  absl::Duration Next() {
    absl::Duration d = next_;
    next_ = std::min(next_ * 2, absl::Seconds(2));
    return d;
  }
  void Reset() { next_ = absl::Milliseconds(100); }

 private:
  absl::Duration next_ = absl::Milliseconds(100);
};

}  // namespace bridge
}  // namespace ringbuf

#endif  // RINGBUF_BRIDGE_NATS_LINK_H_
