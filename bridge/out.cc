#include "bridge/out.h"

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include <mutex>
#include "bridge/crash_point.h"
#include "bridge/nats_link.h"

namespace ringbuf {
namespace bridge {

namespace {

std::string IdPrefix(const Queue& queue) {
  return absl::StrFormat("%s:%016x:", queue.name(), queue.incarnation());
}

// The publishes in flight, by ring index: [released, published). Filled in
// by cnats' callback thread, read by the bridge's loop, which it wakes only
// when what the loop waits for has happened (not once per ack).
class Window {
 public:
  enum class Result { kPending, kStored, kFailed };

  // Forgets everything before `released` (taken from the queue).
  void Advance(uint64_t released) {
    std::lock_guard<std::mutex> lock(mu_);
    while (first_ < released && !results_.empty()) {
      results_.pop_front();
      ++first_;
      if (prefix_ > 0) --prefix_;
    }
    if (results_.empty()) first_ = released;
  }
  // Marks `index` (the next after the last added) as published.
  void Add(uint64_t index) {
    std::lock_guard<std::mutex> lock(mu_);
    if (results_.empty()) first_ = index;
    results_.push_back(Result::kPending);
  }
  // Everything from `index` on is to be published again.
  void Truncate(uint64_t index) {
    std::lock_guard<std::mutex> lock(mu_);
    while (!results_.empty() && first_ + results_.size() > index) results_.pop_back();
    prefix_ = std::min(prefix_, results_.size());
  }

  // Called for every ack; `id` is the message id the ack is for.
  void Record(absl::string_view id, jsPubAck* pa, jsPubAckErr* pae,
              Stats* stats) {
    uint64_t index = 0;
    const size_t colon = id.rfind(':');
    if (colon == absl::string_view::npos ||
        !absl::SimpleAtoi(id.substr(colon + 1), &index)) {
      return;
    }
    bool wake = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      // An ack of a message no longer in flight (released, or given up on
      // and published again) changes nothing: the stream's verdict on a
      // stored message still holds, and a failure is seen again.
      if (index < first_ || index - first_ >= results_.size()) return;
      const size_t at = index - first_;
      Result& r = results_[at];
      if (pa != nullptr) {
        r = Result::kStored;
        if (pa->Duplicate) stats->duplicates.fetch_add(1, std::memory_order_relaxed);
        while (prefix_ < results_.size() && results_[prefix_] == Result::kStored) {
          ++prefix_;
        }
      } else {
        r = Result::kFailed;
        if (first_error_.empty() && pae != nullptr) {
          first_error_ = absl::StrCat(
              "message ", index, ": ",
              pae->ErrText != nullptr ? pae->ErrText : natsStatus_GetText(pae->Err),
              pae->ErrCode != 0 ? absl::StrCat(" (JetStream error ", pae->ErrCode, ")")
                                : "");
        }
      }
      wake = waiting_ && Ready();
    }
    if (wake) cv_.notify_one();
  }

  // Waits until `want` messages from the oldest are stored, the oldest not
  // stored failed, or `deadline`; returns how many from the oldest are
  // stored, and whether the one after them failed (*failed, with *error;
  // still pending at the deadline with none stored counts as failed).
  size_t AwaitStored(size_t want, absl::Time deadline, bool* failed,
                     std::string* error) {
    std::unique_lock<std::mutex> lock(mu_);
    want_ = std::max<size_t>(1, std::min(want, results_.size()));
    waiting_ = true;
    cv_.wait_until(lock, absl::ToChronoTime(deadline), [this] { return Ready(); });
    waiting_ = false;
    const size_t k = prefix_;
    *failed = k < results_.size() &&
              (results_[k] == Result::kFailed ||
               (k == 0 && absl::Now() >= deadline));
    *error = first_error_;
    if (*failed) first_error_.clear();
    return k;
  }

  size_t in_flight() {
    std::lock_guard<std::mutex> lock(mu_);
    return results_.size();
  }

 private:
  // Under mu_: what AwaitStored waits for.
  bool Ready() const {
    return results_.empty() || prefix_ >= want_ ||
           (prefix_ < results_.size() && results_[prefix_] == Result::kFailed);
  }

  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t first_ = 0;
  std::deque<Result> results_;
  size_t prefix_ = 0;  // leading kStored results
  size_t want_ = 1;
  bool waiting_ = false;
  std::string first_error_;
};

struct AckContext {
  Window* window;
  Stats* stats;
};

void OnAck(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae,
           void* closure) {
  auto* ctx = static_cast<AckContext*>(closure);
  const char* id = nullptr;
  if (natsMsgHeader_Get(msg, "Nats-Msg-Id", &id) == NATS_OK && id != nullptr) {
    ctx->window->Record(id, pa, pae, ctx->stats);
  }
  natsMsg_Destroy(msg);
}

}  // namespace

std::string MessageId(const Queue& queue, uint64_t index) {
  return absl::StrCat(IdPrefix(queue), index);
}

absl::Status RunOut(const OutConfig& config, Queue& queue, Stats& stats,
                    const StopFlag& stop) {
  Window window;
  AckContext ack_context{&window, &stats};
  LinkOptions lo;
  lo.urls = config.urls;
  lo.name = absl::StrCat("ringbuf-bridge out ", queue.name());
  lo.connect_timeout = config.connect_timeout;
  lo.max_pending_acks = static_cast<int64_t>(config.max_inflight);
  lo.ack_handler = OnAck;
  lo.ack_closure = &ack_context;
  absl::StatusOr<std::unique_ptr<NatsLink>> link =
      NatsLink::Connect(lo, &stats, stop);
  if (!link.ok()) {
    return absl::IsCancelled(link.status()) ? absl::OkStatus() : link.status();
  }
  jsCtx* js = (*link)->js();
  StreamOptions so;
  so.create = config.create_stream;
  so.replicas = config.replicas;
  so.duplicate_window = config.duplicate_window;
  if (absl::Status s = AwaitStream(js, config.stream, config.subject, so, stop);
      !s.ok()) {
    return absl::IsCancelled(s) ? absl::OkStatus() : s;
  }

  const std::string prefix = IdPrefix(queue);
  std::fprintf(stderr,
               "ringbuf-bridge out: forwarding queue '%s' (incarnation %016llx) "
               "to subject '%s' of stream '%s'\n",
               queue.name().c_str(),
               static_cast<unsigned long long>(queue.incarnation()),
               config.subject.c_str(), config.stream.c_str());

  // A sliding window over the queue's oldest messages, by ring index:
  //   [released, published)  published, awaiting the stream's ack
  // Each round peeks the oldest messages again (the ones in flight keep
  // their index and bytes: nobody else takes them), publishes those not yet
  // published, waits for the oldest ack and releases the stored prefix.
  uint64_t released = 0, published = 0, run_start = 0;
  bool started = false;
  // Whether message `published - 1` is known stored by this run: only then
  // is its id the one to expect as the stream's last.
  bool predecessor_known = false;
  absl::Time last_progress = absl::Now();
  Backoff backoff;
  absl::Status fatal;
  std::string id, previous_id;
  for (;;) {
    const bool stopping = stop.HasBeenNotified() || !fatal.ok();
    if (stopping && window.in_flight() == 0) break;
    absl::StatusOr<Queue::PeekedBatch> batch =
        queue.PeekBatch(config.max_inflight, absl::Milliseconds(200));
    // Nothing yet, or the receive lock busy (Unavailable: someone else holds
    // it, which the bridge as the only consumer should not see for long).
    if (absl::IsDeadlineExceeded(batch.status()) ||
        absl::IsUnavailable(batch.status())) {
      continue;
    }
    // (The signal handler does not shut this handle down: `stop` ends the
    // publishing, and the acks in flight are still awaited and released.)
    if (absl::IsCancelled(batch.status())) break;
    if (!batch.ok()) return batch.status();
    const uint64_t first = batch->first_index();
    if (!started || first != released) {
      // First round, or someone else took messages: start afresh there.
      if (!started) run_start = first;
      started = true;
      released = first;
      published = std::max(published, first);
      window.Advance(first);
    }
    const uint64_t end = first + batch->size();
    const int64_t max_payload =
        natsConnection_GetMaxPayload((*link)->connection());
    std::string publish_error;
    const uint64_t published_before = published;
    // The ack clock starts when the window fills from empty.
    if (published == released) last_progress = absl::Now();
    while (!stopping && published < end) {
      absl::string_view data = batch->data(published - first);
      if (max_payload > 0 && static_cast<int64_t>(data.size()) > max_payload) {
        fatal = absl::FailedPreconditionError(absl::StrCat(
            "queue '", queue.name(), "': message ", published, " is ",
            data.size(), " bytes, larger than the NATS server's max_payload of ",
            max_payload, "; it stays at the head of the queue and nothing "
            "after it is forwarded (raise max_payload, or take it off with a "
            "receive)"));
        break;
      }
      id = absl::StrCat(prefix, published);
      jsPubOptions po;
      jsPubOptions_Init(&po);
      po.MsgId = id.c_str();
      if (config.ordered && predecessor_known) {
        previous_id = absl::StrCat(prefix, published - 1);
        po.ExpectLastMsgId = previous_id.c_str();
      }
      window.Add(published);
      natsStatus s = js_PublishAsync(js, config.subject.c_str(), data.data(),
                                     static_cast<int>(data.size()), &po);
      if (s != NATS_OK) {
        window.Truncate(published);
        publish_error = std::string(NatsError("publishing", s).message());
        break;
      }
      ++published;
      predecessor_known = true;
    }
    stats.forwarded.fetch_add(published - published_before,
                              std::memory_order_relaxed);
    if (published > published_before) RINGBUF_BRIDGE_CRASH_POINT("out-published");

    bool failed = false;
    std::string ack_error;
    const size_t stored = published == released
                              ? 0
                              : window.AwaitStored(
                                    // Half the window: the other half keeps
                                    // the server busy meanwhile.
                                    (published - released + 1) / 2,
                                    last_progress + config.ack_timeout,
                                    &failed, &ack_error);
    if (stored > 0) RINGBUF_BRIDGE_CRASH_POINT("out-acked");
    if (absl::Status s = batch->Release(stored); !s.ok()) return s;
    if (stored > 0) {
      released += stored;
      window.Advance(released);
      stats.acked.fetch_add(stored, std::memory_order_relaxed);
      last_progress = absl::Now();
      backoff.Reset();
    }
    if (!failed && publish_error.empty()) continue;
    if (!fatal.ok() && window.in_flight() == 0) break;  // the big one is next
    // Give up on everything in flight and publish it again, same ids, in
    // order, after a pause. Late acks of the old publishes are ignored.
    natsMsgList pending;
    if (js_PublishAsyncGetPendingList(&pending, js) == NATS_OK) {
      natsMsgList_Destroy(&pending);
    }
    stats.retries.fetch_add(published - released, std::memory_order_relaxed);
    window.Truncate(released);
    published = released;
    // Messages before `released` are stored; the first of this run's may
    // follow anything.
    predecessor_known = released > run_start;
    fatal = absl::OkStatus();  // the retry reaches the big one again
    const absl::Duration wait = backoff.Next();
    std::fprintf(stderr,
                 "ringbuf-bridge out: messages from index %llu not acknowledged "
                 "(%s); re-sending in %s\n",
                 static_cast<unsigned long long>(released),
                 !ack_error.empty()       ? ack_error.c_str()
                 : !publish_error.empty() ? publish_error.c_str()
                                          : "no ack in time",
                 absl::FormatDuration(wait).c_str());
    if (StopWithin(stop, wait)) break;
    last_progress = absl::Now();
  }
  return fatal;
}

}  // namespace bridge
}  // namespace ringbuf
