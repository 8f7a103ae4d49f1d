// A C++ peer for the Python interop tests (python/tests/test_interop.py):
//
//   cpp_peer produce QUEUE COUNT   sends Message(0..COUNT) with ringbuf::Queue
//   cpp_peer consume QUEUE COUNT   receives COUNT messages and writes each to
//                                  stdout as a 4-byte little-endian length and
//                                  the bytes (binary-safe)
//
// Message(i) is "m<i>", a NUL, 0xff, then i % 7 bytes of 'x' (the Python test
// builds the same). Each wait is bounded by 20 s; exit 0 on success, 1 with
// the status on stderr otherwise, 2 on bad usage.
#include <cstdint>
#include <cstdio>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "ringbuf/queue.h"

namespace {

constexpr absl::Duration kWait = absl::Seconds(20);

std::string Message(int i) {
  return absl::StrCat("m", i, std::string("\0\xff", 2), std::string(i % 7, 'x'));
}

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "cpp_peer: %s\n", status.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  int count = 0;
  const std::string mode = argc == 4 ? argv[1] : "";
  if ((mode != "produce" && mode != "consume") ||
      !absl::SimpleAtoi(argv[3], &count)) {
    std::fprintf(stderr, "usage: %s produce|consume QUEUE COUNT\n", argv[0]);
    return 2;
  }
  absl::StatusOr<ringbuf::Queue> q = ringbuf::Queue::Open(argv[2]);
  if (!q.ok()) return Fail(q.status());
  std::string message;
  for (int i = 0; i < count; ++i) {
    if (mode == "produce") {
      if (absl::Status s = q->SendFor(Message(i), kWait); !s.ok()) return Fail(s);
      continue;
    }
    if (absl::Status s = q->ReceiveFor(&message, kWait); !s.ok()) return Fail(s);
    const uint32_t n = static_cast<uint32_t>(message.size());
    const unsigned char length[4] = {
        static_cast<unsigned char>(n), static_cast<unsigned char>(n >> 8),
        static_cast<unsigned char>(n >> 16), static_cast<unsigned char>(n >> 24)};
    std::fwrite(length, 1, 4, stdout);
    std::fwrite(message.data(), 1, message.size(), stdout);
  }
  return std::fflush(stdout) == 0 ? 0 : 1;
}
