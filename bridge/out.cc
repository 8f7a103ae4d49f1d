#include "bridge/out.h"

#include <cstdio>
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

// The acks of one batch, filled in by cnats' callback thread.
class Window {
 public:
  enum class Result { kPending, kStored, kFailed };

  void Start(uint64_t first_index, size_t n) {
    std::lock_guard<std::mutex> lock(mu_);
    first_index_ = first_index;
    results_.assign(n, Result::kPending);
    first_error_.clear();
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
    std::lock_guard<std::mutex> lock(mu_);
    // A late ack of an earlier window: the stream's verdict on that message
    // still holds, but it is not in this window any more.
    if (index < first_index_ || index - first_index_ >= results_.size()) return;
    Result& r = results_[index - first_index_];
    if (pa != nullptr) {
      r = Result::kStored;
      if (pa->Duplicate) stats->duplicates.fetch_add(1, std::memory_order_relaxed);
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
  }

  // How many messages from the first were stored, and the first error.
  size_t StoredPrefix(std::string* first_error) {
    std::lock_guard<std::mutex> lock(mu_);
    size_t k = 0;
    while (k < results_.size() && results_[k] == Result::kStored) ++k;
    *first_error = first_error_;
    return k;
  }

 private:
  std::mutex mu_;
  uint64_t first_index_ = 0;
  std::vector<Result> results_;
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
  // Whether the message before the next batch's first was stored by this
  // run: only then is its id the one to expect as the stream's last.
  bool predecessor_stored = false;
  Backoff backoff;
  absl::Status fatal;
  while (!stop.HasBeenNotified() && fatal.ok()) {
    absl::StatusOr<Queue::PeekedBatch> batch =
        queue.PeekBatch(config.max_inflight, absl::Milliseconds(200));
    if (absl::IsDeadlineExceeded(batch.status())) continue;
    if (absl::IsCancelled(batch.status())) break;
    if (!batch.ok()) return batch.status();
    const uint64_t first = batch->first_index();
    const size_t n = batch->size();
    window.Start(first, n);
    const int64_t max_payload = natsConnection_GetMaxPayload((*link)->connection());
    size_t published = 0;
    std::string publish_error;
    std::string id, previous_id = absl::StrCat(prefix, first - 1);
    for (size_t i = 0; i < n; ++i) {
      absl::string_view data = batch->data(i);
      if (max_payload > 0 && static_cast<int64_t>(data.size()) > max_payload) {
        fatal = absl::FailedPreconditionError(absl::StrCat(
            "queue '", queue.name(), "': message ", first + i, " is ",
            data.size(), " bytes, larger than the NATS server's max_payload of ",
            max_payload, "; it stays at the head of the queue and nothing "
            "after it is forwarded (raise max_payload, or take it off with a "
            "receive)"));
        break;
      }
      id = absl::StrCat(prefix, first + i);
      jsPubOptions po;
      jsPubOptions_Init(&po);
      po.MsgId = id.c_str();
      if (config.ordered && (i > 0 || predecessor_stored)) {
        po.ExpectLastMsgId = previous_id.c_str();
      }
      natsStatus s = js_PublishAsync(js, config.subject.c_str(), data.data(),
                                     static_cast<int>(data.size()), &po);
      if (s != NATS_OK) {
        publish_error = std::string(NatsError("publishing", s).message());
        break;
      }
      ++published;
      previous_id.swap(id);
    }
    stats.forwarded.fetch_add(published, std::memory_order_relaxed);
    if (published > 0) RINGBUF_BRIDGE_CRASH_POINT("out-published");
    if (published > 0) {
      jsPubOptions wait;
      jsPubOptions_Init(&wait);
      wait.MaxWait = absl::ToInt64Milliseconds(config.ack_timeout);
      if (js_PublishAsyncComplete(js, &wait) != NATS_OK) {
        // Acks still missing: forget those publishes (a late ack is
        // ignored); they are re-sent below under the same ids.
        natsMsgList pending;
        if (js_PublishAsyncGetPendingList(&pending, js) == NATS_OK) {
          natsMsgList_Destroy(&pending);
        }
        if (publish_error.empty()) {
          publish_error = absl::StrCat("no ack within ", 
                                       absl::FormatDuration(config.ack_timeout));
        }
      }
    }
    std::string ack_error;
    const size_t stored = window.StoredPrefix(&ack_error);
    if (stored > 0) RINGBUF_BRIDGE_CRASH_POINT("out-acked");
    if (absl::Status s = batch->Release(stored); !s.ok()) return s;
    stats.acked.fetch_add(stored, std::memory_order_relaxed);
    if (stored > 0) predecessor_stored = true;
    if (stored == n) {
      backoff.Reset();
      continue;
    }
    if (!fatal.ok() && stored == published) break;  // the big one is next
    fatal = absl::OkStatus();  // acks of earlier messages failed: retry first
    stats.retries.fetch_add(n - stored, std::memory_order_relaxed);
    const absl::Duration wait = backoff.Next();
    std::fprintf(stderr,
                 "ringbuf-bridge out: %zu of %zu messages from index %llu not "
                 "acknowledged (%s); re-sending in %s\n",
                 n - stored, n, static_cast<unsigned long long>(first + stored),
                 !ack_error.empty() ? ack_error.c_str() : publish_error.c_str(),
                 absl::FormatDuration(wait).c_str());
    if (StopWithin(stop, wait)) break;
  }
  // Every publish of the last batch was awaited above; nothing is in flight.
  return fatal;
}

}  // namespace bridge
}  // namespace ringbuf
