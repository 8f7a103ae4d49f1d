#include "bridge/in.h"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bridge/crash_point.h"
#include "bridge/nats_link.h"
#include "bridge/position_file.h"
#include "bridge/sequence_prefix.h"

namespace ringbuf {
namespace bridge {

namespace {

constexpr int64_t kFetchWaitMs = 500;
constexpr absl::Duration kSendSlice = absl::Seconds(1);

// The consumer's settings, as the bridge creates it.
struct ConsumerSettings {
  int64_t ack_wait_ns;
  int64_t max_ack_pending;
};

// Creates durable `name` on the subject, acking "all", delivering from
// stream sequence `start` (0: from the beginning of the stream).
absl::Status AddConsumer(jsCtx* js, const InConfig& config,
                         const std::string& name, uint64_t start,
                         const ConsumerSettings& settings,
                         uint64_t* next_delivery) {
  jsConsumerConfig cc;
  jsConsumerConfig_Init(&cc);
  cc.Durable = name.c_str();
  cc.FilterSubject = config.subject.c_str();
  cc.AckPolicy = js_AckAll;
  cc.AckWait = settings.ack_wait_ns;
  cc.MaxAckPending = settings.max_ack_pending;
  cc.DeliverPolicy = start == 0 ? js_DeliverAll : js_DeliverByStartSequence;
  cc.OptStartSeq = start;
  jsConsumerInfo* info = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_AddConsumer(&info, js, config.stream.c_str(), &cc, nullptr, &jerr);
  if (s != NATS_OK) {
    return NatsError(absl::StrCat("creating consumer '", name, "' on stream '",
                                  config.stream, "' at stream sequence ",
                                  std::max<uint64_t>(start, 1)),
                     s, jerr);
  }
  if (next_delivery != nullptr) *next_delivery = info->Delivered.Consumer + 1;
  jsConsumerInfo_Destroy(info);
  return absl::OkStatus();
}

// Deletes consumer `name`; OK if it does not exist.
absl::Status DeleteConsumer(jsCtx* js, const InConfig& config,
                            const std::string& name) {
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s =
      js_DeleteConsumer(js, config.stream.c_str(), name.c_str(), nullptr, &jerr);
  if (s == NATS_OK || s == NATS_NOT_FOUND || jerr == JSConsumerNotFoundErr) {
    return absl::OkStatus();
  }
  return NatsError(absl::StrCat("deleting consumer '", name, "'"), s, jerr);
}

// Consumer `name`'s info, or null if it does not exist.
absl::StatusOr<jsConsumerInfo*> GetConsumer(jsCtx* js, const InConfig& config,
                                            const std::string& name) {
  jsConsumerInfo* info = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_GetConsumerInfo(&info, js, config.stream.c_str(),
                                    name.c_str(), nullptr, &jerr);
  if (s == NATS_OK) return info;
  if (s == NATS_NOT_FOUND || jerr == JSConsumerNotFoundErr) return nullptr;
  return NatsError(absl::StrCat("looking up consumer '", name, "' of stream '",
                                config.stream, "'"), s, jerr);
}

// A rewind re-creates the durable consumer just after its ack floor, so that
// every delivered but unacknowledged message is delivered again, in order,
// before anything newer. JetStream cannot move a consumer's start, so it is
// deleted and created again; to survive a crash between the two, the start
// is first written down as a marker consumer "<durable>-rewind" (never
// fetched from), and removed last. A run that finds the marker finishes the
// rewind it records; every step can be repeated.
std::string MarkerName(const InConfig& config) {
  return config.durable + "-rewind";
}

absl::Status FinishRewind(jsCtx* js, const InConfig& config, uint64_t start,
                          const ConsumerSettings& settings,
                          uint64_t* next_delivery) {
  if (absl::Status s = DeleteConsumer(js, config, config.durable); !s.ok()) return s;
  if (absl::Status s =
          AddConsumer(js, config, config.durable, start, settings, next_delivery);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = DeleteConsumer(js, config, MarkerName(config)); !s.ok()) {
    return s;
  }
  std::fprintf(stderr,
               "ringbuf-bridge in: rewound consumer '%s' to stream sequence %llu\n",
               config.durable.c_str(), static_cast<unsigned long long>(start));
  return absl::OkStatus();
}

// Re-creates the consumer to deliver from stream sequence `start` on,
// through the marker (see MarkerName).
absl::Status RewindTo(jsCtx* js, const InConfig& config, uint64_t start,
                      const ConsumerSettings& settings, Stats& stats,
                      uint64_t* next_delivery) {
  if (absl::Status s =
          AddConsumer(js, config, MarkerName(config), start, settings, nullptr);
      !s.ok()) {
    return s;
  }
  stats.rewinds.fetch_add(1, std::memory_order_relaxed);
  return FinishRewind(js, config, start, settings, next_delivery);
}

// Makes sure the durable consumer exists and delivers what the queue lacks
// next; sets *next_delivery to the consumer sequence the next delivery will
// carry. `put` is the highest stream sequence known to be in the queue (the
// position file), if known: then the consumer is re-created just after it
// whenever `reposition`. Without it, the consumer is rewound to its ack
// floor if it holds unacknowledged messages. An interrupted rewind is
// finished first.
absl::Status PrepareConsumer(jsCtx* js, const InConfig& config, Stats& stats,
                             std::optional<uint64_t> put, bool reposition,
                             uint64_t* next_delivery) {
  const ConsumerSettings defaults{
      absl::ToInt64Nanoseconds(config.ack_wait),
      std::max<int64_t>(1000, 2 * int64_t{config.batch})};
  absl::StatusOr<jsConsumerInfo*> marker = GetConsumer(js, config, MarkerName(config));
  if (!marker.ok()) return marker.status();
  if (*marker != nullptr) {
    const uint64_t start =
        put.has_value() ? *put + 1 : (*marker)->Config->OptStartSeq;
    const ConsumerSettings settings{(*marker)->Config->AckWait,
                                    (*marker)->Config->MaxAckPending};
    jsConsumerInfo_Destroy(*marker);
    stats.rewinds.fetch_add(1, std::memory_order_relaxed);
    return FinishRewind(js, config, start, settings, next_delivery);
  }
  absl::StatusOr<jsConsumerInfo*> found = GetConsumer(js, config, config.durable);
  if (!found.ok()) return found.status();
  jsConsumerInfo* info = *found;
  if (info == nullptr && !put.has_value()) {
    std::fprintf(stderr,
                 "ringbuf-bridge in: creating consumer '%s' at the start of "
                 "stream '%s'\n",
                 config.durable.c_str(), config.stream.c_str());
    return AddConsumer(js, config, config.durable, 0, defaults, next_delivery);
  }
  ConsumerSettings settings = defaults;
  uint64_t start = put.has_value() ? *put + 1 : 0;
  // With a position, re-create the consumer only if it is not exactly there
  // (all delivered messages in the queue, none unacknowledged): a consumer
  // state that is stale or wrong shows up as a gap in the delivery sequence
  // later, which repositions it then.
  bool rewind = put.has_value() && reposition &&
                (info == nullptr || info->NumAckPending != 0 ||
                 info->Delivered.Stream != *put);
  if (info != nullptr) {
    std::fprintf(stderr,
                 "ringbuf-bridge in: consumer '%s': delivered up to stream "
                 "sequence %llu, acknowledged up to %llu, %lld unacknowledged; "
                 "the queue has up to %s\n",
                 config.durable.c_str(),
                 static_cast<unsigned long long>(info->Delivered.Stream),
                 static_cast<unsigned long long>(info->AckFloor.Stream),
                 static_cast<long long>(info->NumAckPending),
                 put.has_value() ? absl::StrCat(*put).c_str() : "(unknown)");
    settings = ConsumerSettings{info->Config->AckWait, info->Config->MaxAckPending};
    if (!put.has_value()) {
      // A consumer that was itself created at a start sequence and has acked
      // nothing since reports an ack floor of 0: its floor is just before it.
      uint64_t floor = info->AckFloor.Stream;
      if (info->Config->DeliverPolicy == js_DeliverByStartSequence &&
          info->Config->OptStartSeq > 0) {
        floor = std::max(floor, info->Config->OptStartSeq - 1);
      }
      start = floor + 1;
      rewind = reposition || info->NumAckPending > 0;
      if (rewind) {
        stats.redelivered.fetch_add(static_cast<uint64_t>(info->NumAckPending),
                                    std::memory_order_relaxed);
      }
    }
    if (!rewind) *next_delivery = info->Delivered.Consumer + 1;
    jsConsumerInfo_Destroy(info);
    if (!rewind) return absl::OkStatus();
  }
  return RewindTo(js, config, start, settings, stats, next_delivery);
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

  std::fprintf(stderr,
               "ringbuf-bridge in: forwarding subject '%s' of stream '%s' "
               "(durable consumer '%s') to queue '%s'\n",
               config.subject.c_str(), config.stream.c_str(),
               config.durable.c_str(), queue.name().c_str());
  absl::StatusOr<PositionFile> position = PositionFile::Open(
      config.position_file.empty()
          ? PositionFile::DefaultPath(queue.name(), config.durable)
          : config.position_file,
      queue.incarnation());
  if (!position.ok()) return position.status();
  Backoff backoff;
  bool reposition = true;  // at start, and after a missing delivery
  std::vector<int> index;  // views[j] is message index[j] of the batch
  std::vector<uint64_t> sequences;
  std::vector<std::string> payloads;
  std::vector<absl::string_view> views;
  while (!stop.HasBeenNotified()) {
    uint64_t next_delivery = 0;
    if (absl::Status s = PrepareConsumer(js, config, stats, position->last(),
                                         reposition, &next_delivery);
        !s.ok()) {
      if (absl::IsNotFound(s)) return s;
      std::fprintf(stderr, "ringbuf-bridge in: %s; retrying\n",
                   std::string(s.message()).c_str());
      if (StopWithin(stop, backoff.Next())) break;
      continue;
    }
    reposition = false;
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
      int n = fetched.list.Count;
      payloads.resize(n);
      sequences.resize(n);
      views.clear();
      index.clear();
      for (int i = 0; i < n; ++i) {
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
        if (position->last().has_value() && sequence <= *position->last()) {
          // Already in the queue (delivered again by a consumer that lagged
          // behind, e.g. on a server that just restarted): not sent twice,
          // acknowledged with the batch.
          stats.redelivered.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        std::string& p = payloads[i];
        p.clear();
        if (config.with_sequence) AppendSequencePrefix(sequence, &p);
        p.append(natsMsg_GetData(m), natsMsg_GetDataLength(m));
        if (p.size() > queue.slot_size()) {
          // Forward what came before it, then stop.
          fatal = absl::FailedPreconditionError(absl::StrCat(
              "queue '", queue.name(), "': stream '", config.stream,
              "' message ", sequence, " is ", p.size(),
              " bytes in the queue, larger than its slot_size ",
              queue.slot_size(), "; it is not acknowledged and stays in the "
              "stream"));
          n = i;
          break;
        }
        views.push_back(p);
        index.push_back(i);
        sequences[i] = sequence;
      }
      if (outcome != Outcome::kContinue) break;
      if (!fatal.ok()) outcome = Outcome::kStop;

      // Into the queue, in slices so the batch's ack deadline can be pushed
      // back while the queue is full.
      size_t done = 0;
      while (done < views.size()) {
        size_t sent = 0;
        absl::Status s = queue.SendBatch(
            absl::MakeConstSpan(views).subspan(done), kSendSlice, &sent);
        done += sent;
        if (s.ok()) break;
        // Full (DeadlineExceeded) or the send lock busy (Unavailable): try
        // again, telling the server the rest is still being worked on.
        if (absl::IsDeadlineExceeded(s) || absl::IsUnavailable(s)) {
          for (size_t j = done; j < views.size(); ++j) {
            natsMsg_InProgress(fetched.list.Msgs[index[j]], nullptr);
          }
          continue;
        }
        if (!absl::IsCancelled(s)) fatal = s;
        outcome = Outcome::kStop;
        break;
      }
      stats.forwarded.fetch_add(done, std::memory_order_relaxed);
      if (done > 0) {
        RINGBUF_BRIDGE_CRASH_POINT("in-sent");
        const absl::Status s = position->Record(sequences[index[done - 1]]);
        if (!s.ok()) return s;
        RINGBUF_BRIDGE_CRASH_POINT("in-recorded");
      }
      // Acks "all": the last message handled (sent, or skipped as already
      // there) acknowledges everything up to it.
      const int last_handled = done == views.size() ? n - 1
                               : static_cast<int>(index[done]) - 1;
      if (last_handled >= 0) {
        ns = natsMsg_AckSync(fetched.list.Msgs[last_handled], nullptr, &jerr);
        if (ns == NATS_OK) {
          stats.acked.fetch_add(done, std::memory_order_relaxed);
          backoff.Reset();
        } else {
          absl::Status s = NatsError("acknowledging", ns, jerr);
          std::fprintf(stderr,
                       "ringbuf-bridge in: %s; re-subscribing after the "
                       "queue's position\n",
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
      reposition = true;
      if (StopWithin(stop, backoff.Next())) break;
    }
  }
  return absl::OkStatus();
}

}  // namespace bridge
}  // namespace ringbuf
