#include "bridge/stats.h"

#include "absl/strings/str_format.h"

namespace ringbuf {
namespace bridge {

std::string StatsJson(const Stats& s, const std::string& direction,
                      const std::string& queue) {
  auto get = [](const std::atomic<uint64_t>& v) {
    return v.load(std::memory_order_relaxed);
  };
  return absl::StrFormat(
      "{\"direction\":\"%s\",\"queue\":\"%s\",\"forwarded\":%d,\"acked\":%d,"
      "\"duplicates\":%d,\"redelivered\":%d,\"rewinds\":%d,\"retries\":%d,"
      "\"disconnects\":%d,\"reconnects\":%d}",
      direction, queue, get(s.forwarded), get(s.acked), get(s.duplicates),
      get(s.redelivered), get(s.rewinds), get(s.retries), get(s.disconnects),
      get(s.reconnects));
}

}  // namespace bridge
}  // namespace ringbuf
