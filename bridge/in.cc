#include "bridge/in.h"

#include <algorithm>
#include <cstdio>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bridge/nats_link.h"
#include "bridge/sequence_prefix.h"

namespace ringbuf {
namespace bridge {

namespace {

constexpr int64_t kFetchWaitMs = 500;
constexpr absl::Duration kSendSlice = absl::Seconds(1);

// Deletes the consumer and creates it again starting just after its ack
// floor, so that every unacknowledged message is delivered again, in order,
// before anything newer. Returns the number of messages that will be
// delivered again.
absl::StatusOr<int64_t> Rewind(jsCtx* js, const InConfig& config,
                               const jsConsumerInfo& info) {
  const uint64_t floor = info.AckFloor.Stream;
  const int64_t again = info.NumAckPending;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_DeleteConsumer(js, config.stream.c_str(),
                                   config.durable.c_str(), nullptr, &jerr);
  if (s != NATS_OK && jerr != JSConsumerNotFoundErr) {
    return NatsError(absl::StrCat("deleting consumer '", config.durable,
                                  "' to rewind it"), s, jerr);
  }
  // A crash right here leaves no consumer; the next run creates it from the
  // start of the stream: duplicates only, still in order (docs/design.md).
  jsConsumerConfig cc;
  jsConsumerConfig_Init(&cc);
  cc.Durable = config.durable.c_str();
  cc.FilterSubject = config.subject.c_str();
  cc.AckPolicy = js_AckAll;
  cc.AckWait = info.Config->AckWait;
  cc.MaxAckPending = info.Config->MaxAckPending;
  cc.DeliverPolicy = js_DeliverByStartSequence;
  cc.OptStartSeq = floor + 1;
  jsConsumerInfo* created = nullptr;
  s = js_AddConsumer(&created, js, config.stream.c_str(), &cc, nullptr, &jerr);
  if (s != NATS_OK) {
    return NatsError(absl::StrCat("re-creating consumer '", config.durable,
                                  "' at stream sequence ", floor + 1), s, jerr);
  }
  jsConsumerInfo_Destroy(created);
  return again;
}

// Makes sure the durable consumer exists, rewinding it if it holds
// unacknowledged messages; sets *next_delivery to the consumer sequence the
// next delivery will carry.
absl::Status PrepareConsumer(jsCtx* js, const InConfig& config, Stats& stats,
                             bool force_rewind, uint64_t* next_delivery) {
  jsConsumerInfo* info = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_GetConsumerInfo(&info, js, config.stream.c_str(),
                                    config.durable.c_str(), nullptr, &jerr);
  if (s == NATS_OK) {
    if (force_rewind || info->NumAckPending > 0 ||
        info->Delivered.Stream != info->AckFloor.Stream) {
      absl::StatusOr<int64_t> again = Rewind(js, config, *info);
      jsConsumerInfo_Destroy(info);
      if (!again.ok()) return again.status();
      stats.rewinds.fetch_add(1, std::memory_order_relaxed);
      stats.redelivered.fetch_add(static_cast<uint64_t>(*again),
                                  std::memory_order_relaxed);
      *next_delivery = 1;
      return absl::OkStatus();
    }
    *next_delivery = info->Delivered.Consumer + 1;
    jsConsumerInfo_Destroy(info);
    return absl::OkStatus();
  }
  if (s != NATS_NOT_FOUND && jerr != JSConsumerNotFoundErr) {
    return NatsError(absl::StrCat("looking up consumer '", config.durable,
                                  "' of stream '", config.stream, "'"), s, jerr);
  }
  jsConsumerConfig cc;
  jsConsumerConfig_Init(&cc);
  cc.Durable = config.durable.c_str();
  cc.FilterSubject = config.subject.c_str();
  cc.AckPolicy = js_AckAll;
  cc.AckWait = absl::ToInt64Nanoseconds(config.ack_wait);
  cc.MaxAckPending = std::max<int64_t>(1000, 2 * int64_t{config.batch});
  cc.DeliverPolicy = js_DeliverAll;
  s = js_AddConsumer(&info, js, config.stream.c_str(), &cc, nullptr, &jerr);
  if (s != NATS_OK) {
    return NatsError(absl::StrCat("creating consumer '", config.durable,
                                  "' on stream '", config.stream, "'"), s, jerr);
  }
  *next_delivery = info->Delivered.Consumer + 1;
  jsConsumerInfo_Destroy(info);
  return absl::OkStatus();
}

// Frees a fetched list on every path.
struct MsgList {
  natsMsgList list{nullptr, 0};
  ~MsgList() { natsMsgList_Destroy(&list); }
};

enum class Outcome { kContinue, kRewind, kStop };

}  // namespace

absl::Status RunIn(const InConfig& config, Queue& queue, Stats& stats,
                   const StopFlag& stop) {
  LinkOptions lo;
  lo.urls = config.urls;
  lo.name = absl::StrCat("ringbuf-bridge in ", queue.name());
  lo.connect_timeout = config.connect_timeout;
  absl::StatusOr<std::unique_ptr<NatsLink>> link =
      NatsLink::Connect(lo, &stats, stop);
  if (!link.ok()) {
    return absl::IsCancelled(link.status()) ? absl::OkStatus() : link.status();
  }
  jsCtx* js = (*link)->js();
  if (absl::Status s = AwaitStream(js, config.stream, config.subject,
                                   StreamOptions{}, stop);
      !s.ok()) {
    return absl::IsCancelled(s) ? absl::OkStatus() : s;
  }

  Backoff backoff;
  bool force_rewind = false;
  std::vector<std::string> payloads;
  std::vector<absl::string_view> views;
  while (!stop.HasBeenNotified()) {
    uint64_t next_delivery = 0;
    if (absl::Status s =
            PrepareConsumer(js, config, stats, force_rewind, &next_delivery);
        !s.ok()) {
      if (absl::IsNotFound(s)) return s;
      std::fprintf(stderr, "ringbuf-bridge in: %s; retrying\n",
                   std::string(s.message()).c_str());
      if (StopWithin(stop, backoff.Next())) break;
      continue;
    }
    force_rewind = false;
    natsSubscription* sub = nullptr;
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = config.stream.c_str();
    so.Consumer = config.durable.c_str();
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus ns = js_PullSubscribe(&sub, js, config.subject.c_str(),
                                     config.durable.c_str(), nullptr, &so, &jerr);
    if (ns != NATS_OK) {
      absl::Status s = NatsError("subscribing", ns, jerr);
      std::fprintf(stderr, "ringbuf-bridge in: %s; retrying\n",
                   std::string(s.message()).c_str());
      if (StopWithin(stop, backoff.Next())) break;
      continue;
    }

    Outcome outcome = Outcome::kContinue;
    absl::Status fatal;
    while (outcome == Outcome::kContinue && !stop.HasBeenNotified()) {
      MsgList fetched;
      ns = natsSubscription_Fetch(&fetched.list, sub, config.batch,
                                  kFetchWaitMs, &jerr);
      if (ns == NATS_TIMEOUT) continue;
      if (ns != NATS_OK) {
        absl::Status s = NatsError("fetching", ns, jerr);
        std::fprintf(stderr, "ringbuf-bridge in: %s; re-subscribing\n",
                     std::string(s.message()).c_str());
        outcome = Outcome::kRewind;
        break;
      }
      const int n = fetched.list.Count;
      payloads.resize(n);
      views.resize(n);
      for (int i = 0; i < n && outcome == Outcome::kContinue; ++i) {
        natsMsg* m = fetched.list.Msgs[i];
        jsMsgMetaData* meta = nullptr;
        if (natsMsg_GetMetaData(&meta, m) != NATS_OK) {
          outcome = Outcome::kRewind;  // not a stream message: start over
          break;
        }
        const uint64_t delivery = meta->Sequence.Consumer;
        const uint64_t sequence = meta->Sequence.Stream;
        if (meta->NumDelivered > 1) {
          stats.redelivered.fetch_add(1, std::memory_order_relaxed);
        }
        jsMsgMetaData_Destroy(meta);
        if (delivery != next_delivery) {
          // A delivery went missing (lost in a reconnect, or sent to a
          // request of a dead predecessor): take nothing after it.
          std::fprintf(stderr,
                       "ringbuf-bridge in: expected delivery %llu, got %llu "
                       "(stream sequence %llu); rewinding the consumer\n",
                       static_cast<unsigned long long>(next_delivery),
                       static_cast<unsigned long long>(delivery),
                       static_cast<unsigned long long>(sequence));
          outcome = Outcome::kRewind;
          break;
        }
        ++next_delivery;
        std::string& p = payloads[i];
        p.clear();
        if (config.with_sequence) AppendSequencePrefix(sequence, &p);
        p.append(natsMsg_GetData(m), natsMsg_GetDataLength(m));
        if (p.size() > queue.slot_size()) {
          fatal = absl::FailedPreconditionError(absl::StrCat(
              "queue '", queue.name(), "': stream '", config.stream,
              "' message ", sequence, " is ", p.size(),
              " bytes in the queue, larger than its slot_size ",
              queue.slot_size(), "; it is not acknowledged and stays in the "
              "stream"));
          outcome = Outcome::kStop;
          break;
        }
        views[i] = p;
      }
      if (outcome != Outcome::kContinue) break;

      // Into the queue, in slices so the batch's ack deadline can be pushed
      // back while the queue is full.
      size_t done = 0;
      while (done < static_cast<size_t>(n)) {
        size_t sent = 0;
        absl::Status s = queue.SendBatch(
            absl::MakeConstSpan(views).subspan(done, n - done), kSendSlice,
            &sent);
        done += sent;
        if (s.ok()) break;
        if (absl::IsDeadlineExceeded(s)) {
          for (size_t i = done; i < static_cast<size_t>(n); ++i) {
            natsMsg_InProgress(fetched.list.Msgs[i], nullptr);
          }
          continue;
        }
        if (!absl::IsCancelled(s)) fatal = s;
        outcome = Outcome::kStop;
        break;
      }
      stats.forwarded.fetch_add(done, std::memory_order_relaxed);
      if (done > 0) {
        // Acks "all": this one acknowledges the batch up to it.
        ns = natsMsg_AckSync(fetched.list.Msgs[done - 1], nullptr, &jerr);
        if (ns == NATS_OK) {
          stats.acked.fetch_add(done, std::memory_order_relaxed);
          backoff.Reset();
        } else {
          absl::Status s = NatsError("acknowledging", ns, jerr);
          std::fprintf(stderr,
                       "ringbuf-bridge in: %s; the batch will be delivered "
                       "again\n",
                       std::string(s.message()).c_str());
          outcome = Outcome::kRewind;
        }
      }
    }
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
    if (!fatal.ok()) return fatal;
    if (outcome == Outcome::kStop) break;
    if (outcome == Outcome::kRewind) {
      force_rewind = true;
      if (StopWithin(stop, backoff.Next())) break;
    }
  }
  return absl::OkStatus();
}

}  // namespace bridge
}  // namespace ringbuf
