// Test-only crash injection for the bridge, like ringbuf/internal/
// crash_point.h for the library. In //bridge:ringbuf-bridge these macros
// expand to nothing. In //bridge:ringbuf-bridge-crash-points (built with
// RINGBUF_BRIDGE_CRASH_POINTS) the process SIGKILLs itself at the site named
// by $RINGBUF_BRIDGE_CRASH_AT, once $RINGBUF_BRIDGE_CRASH_SKIP (default 0)
// earlier passes through it have gone by.
//
// The sites, in protocol order (docs/design.md, "The NATS bridge"):
//   out-published  a batch published, its acks not yet awaited
//   out-acked      a batch acknowledged by the stream, not yet Released
//   in-sent        a batch in the queue, its position not yet recorded
//   in-recorded    its position recorded, the batch not yet acknowledged
#ifndef RINGBUF_BRIDGE_CRASH_POINT_H_
#define RINGBUF_BRIDGE_CRASH_POINT_H_

namespace ringbuf {
namespace bridge {

#ifdef RINGBUF_BRIDGE_CRASH_POINTS
void HitCrashPoint(const char* site);
#define RINGBUF_BRIDGE_CRASH_POINT(site) ::ringbuf::bridge::HitCrashPoint(site)
#else
#define RINGBUF_BRIDGE_CRASH_POINT(site) static_cast<void>(0)
#endif

}  // namespace bridge
}  // namespace ringbuf

#endif  // RINGBUF_BRIDGE_CRASH_POINT_H_
