#include "bridge/nats_link.h"

#include <cstdio>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace ringbuf {
namespace bridge {

namespace {

void OnDisconnected(natsConnection* nc, void* closure) {
  if (natsConnection_IsClosed(nc)) return;  // our own close, at exit
  static_cast<Stats*>(closure)->disconnects.fetch_add(1, std::memory_order_relaxed);
  std::fprintf(stderr, "ringbuf-bridge: disconnected from NATS; reconnecting\n");
}

void OnReconnected(natsConnection* nc, void* closure) {
  static_cast<Stats*>(closure)->reconnects.fetch_add(1, std::memory_order_relaxed);
  char url[256] = "";
  natsConnection_GetConnectedUrl(nc, url, sizeof(url));
  std::fprintf(stderr, "ringbuf-bridge: reconnected to %s\n", url);
}

}  // namespace

absl::Status NatsError(absl::string_view what, natsStatus s,
                       jsErrCode js_code) {
  std::string text = absl::StrCat(what, ": ", natsStatus_GetText(s));
  natsStatus last = NATS_OK;
  const char* detail = nats_GetLastError(&last);
  if (detail != nullptr && *detail != '\0' && last == s) {
    absl::StrAppend(&text, ": ", detail);
  }
  if (js_code != 0) absl::StrAppend(&text, " (JetStream error ", js_code, ")");
  switch (s) {
    case NATS_TIMEOUT:
      return absl::DeadlineExceededError(text);
    case NATS_NOT_FOUND:
      return absl::NotFoundError(text);
    case NATS_NO_SERVER:
    case NATS_CONNECTION_CLOSED:
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_NO_RESPONDERS:
      return absl::UnavailableError(text);
    default:
      return absl::InternalError(text);
  }
}

absl::StatusOr<std::unique_ptr<NatsLink>> NatsLink::Connect(
    const LinkOptions& options, Stats* stats, const StopFlag& stop) {
  std::unique_ptr<NatsLink> link(new NatsLink);
  std::vector<std::string> urls = absl::StrSplit(options.urls, ',');
  std::vector<const char*> url_ptrs;
  for (const std::string& u : urls) url_ptrs.push_back(u.c_str());
  natsStatus s = natsOptions_Create(&link->opts_);
  if (s == NATS_OK) {
    s = natsOptions_SetServers(link->opts_, url_ptrs.data(),
                               static_cast<int>(url_ptrs.size()));
  }
  if (s == NATS_OK) s = natsOptions_SetName(link->opts_, options.name.c_str());
  if (s == NATS_OK) s = natsOptions_SetTimeout(link->opts_, 2000);
  // Once connected, never give up: reconnect every 250 ms (plus jitter),
  // buffering publishes meanwhile; the bridge's own retries cover the rest.
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(link->opts_, -1);
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(link->opts_, 250);
  if (s == NATS_OK) s = natsOptions_SetReconnectJitter(link->opts_, 100, 1000);
  if (s == NATS_OK) {
    s = natsOptions_SetDisconnectedCB(link->opts_, OnDisconnected, stats);
  }
  if (s == NATS_OK) {
    s = natsOptions_SetReconnectedCB(link->opts_, OnReconnected, stats);
  }
  if (s != NATS_OK) return NatsError("setting up the NATS options", s);

  const absl::Time give_up = absl::Now() + options.connect_timeout;
  Backoff backoff;
  for (int attempt = 1;; ++attempt) {
    s = natsConnection_Connect(&link->nc_, link->opts_);
    if (s == NATS_OK) break;
    absl::Status error =
        NatsError(absl::StrCat("cannot connect to NATS at ", options.urls), s);
    const absl::Duration wait = backoff.Next();
    if (absl::Now() + wait > give_up) {
      return absl::UnavailableError(absl::StrCat(
          error.message(), "; gave up after ", attempt, " attempts"));
    }
    std::fprintf(stderr, "ringbuf-bridge: %s; retrying in %s (attempt %d)\n",
                 std::string(error.message()).c_str(),
                 absl::FormatDuration(wait).c_str(), attempt);
    if (StopWithin(stop, wait)) {
      return absl::CancelledError("stopped while connecting to NATS");
    }
  }

  jsOptions jo;
  jsOptions_Init(&jo);
  if (options.ack_handler != nullptr) {
    jo.PublishAsync.MaxPending = options.max_pending_acks;
    jo.PublishAsync.AckHandler = options.ack_handler;
    jo.PublishAsync.AckHandlerClosure = options.ack_closure;
  }
  s = natsConnection_JetStream(&link->js_, link->nc_, &jo);
  if (s != NATS_OK) return NatsError("creating the JetStream context", s);
  return link;
}

NatsLink::~NatsLink() {
  if (js_ != nullptr) jsCtx_Destroy(js_);
  if (nc_ != nullptr) natsConnection_Destroy(nc_);
  if (opts_ != nullptr) natsOptions_Destroy(opts_);
}

absl::Status EnsureStream(jsCtx* js, const std::string& stream,
                          const std::string& subject,
                          const StreamOptions& options) {
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&si, js, stream.c_str(), nullptr, &jerr);
  if (s == NATS_OK) {
    bool captures = false;
    for (int i = 0; i < si->Config->SubjectsLen; ++i) {
      // Exact match only; a stream on a wildcard is accepted too, checked by
      // the server when the first message is published.
      const std::string s = si->Config->Subjects[i];
      captures = captures || s == subject || s.find_first_of("*>") != std::string::npos;
    }
    jsStreamInfo_Destroy(si);
    if (!captures) {
      return absl::FailedPreconditionError(absl::StrCat(
          "stream '", stream, "' does not capture subject '", subject, "'"));
    }
    return absl::OkStatus();
  }
  if (s != NATS_NOT_FOUND && jerr != JSStreamNotFoundErr) {
    return NatsError(absl::StrCat("looking up stream '", stream, "'"), s, jerr);
  }
  if (!options.create) {
    return absl::NotFoundError(absl::StrCat(
        "stream '", stream, "' does not exist (create it, or pass "
        "--create_stream to `ringbuf-bridge out`)"));
  }
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  const char* subjects[] = {subject.c_str()};
  cfg.Name = stream.c_str();
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  cfg.Replicas = options.replicas;
  cfg.Duplicates = absl::ToInt64Nanoseconds(options.duplicate_window);
  cfg.Storage = js_FileStorage;
  s = js_AddStream(&si, js, &cfg, nullptr, &jerr);
  if (s != NATS_OK) {
    return NatsError(absl::StrCat("creating stream '", stream, "' on '",
                                  subject, "' with ", options.replicas,
                                  " replicas"),
                     s, jerr);
  }
  jsStreamInfo_Destroy(si);
  std::fprintf(stderr, "ringbuf-bridge: created stream '%s' on '%s' (%d replicas)\n",
               stream.c_str(), subject.c_str(), options.replicas);
  return absl::OkStatus();
}

absl::Status AwaitStream(jsCtx* js, const std::string& stream,
                         const std::string& subject,
                         const StreamOptions& options, const StopFlag& stop) {
  Backoff backoff;
  for (;;) {
    absl::Status s = EnsureStream(js, stream, subject, options);
    if (s.ok() || absl::IsNotFound(s) || absl::IsFailedPrecondition(s)) return s;
    const absl::Duration wait = backoff.Next();
    std::fprintf(stderr, "ringbuf-bridge: %s; retrying in %s\n",
                 std::string(s.message()).c_str(),
                 absl::FormatDuration(wait).c_str());
    if (StopWithin(stop, wait)) return absl::CancelledError("stopped");
  }
}

}  // namespace bridge
}  // namespace ringbuf
