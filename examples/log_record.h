// The log service's record: what examples/log_worker sends through the queue
// and examples/log_collector turns into one line of its log file. Shared with
// tests/log_collector_test.cc, which reads the file back.
//
// On the queue a record is one message: a 32-byte header in host byte order
// (worker and collector share a host and its ABI, so nothing is swapped),
// then the text, which fills the rest of the message and may hold any bytes.
//
//   offset size  field
//   0      2     format      kRecordFormat; a message without it is rejected
//   2      1     level       Level
//   3      1     (zero)
//   4      4     pid         the sending process
//   8      4     worker      the sender's --id
//   12     4     (zero)
//   16     8     seq         the sender's sequence number: 0, 1, 2, ...
//   24     8     unix_nanos  CLOCK_REALTIME when the record was made
//   32     ...   text
//
// In the file a record is one line, so the text is C-escaped (a newline in
// it becomes "\n"):
//
//   2024-05-01T12:00:00.123456Z INFO pid=4242 worker=1 seq=17 text...
#ifndef RINGBUF_EXAMPLES_LOG_RECORD_H_
#define RINGBUF_EXAMPLES_LOG_RECORD_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace logsvc {

enum class Level : uint8_t { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

inline const char* LevelName(Level level) {
  switch (level) {
    case Level::kDebug: return "DEBUG";
    case Level::kInfo: return "INFO";
    case Level::kWarning: return "WARN";
    case Level::kError: return "ERROR";
  }
  return "?";
}

struct Record {
  int64_t unix_nanos = 0;
  Level level = Level::kInfo;
  uint32_t pid = 0;
  uint32_t worker = 0;
  uint64_t seq = 0;
  absl::string_view text;  // borrowed: from the caller, or the decoded message
};

namespace internal {
inline constexpr uint16_t kRecordFormat = 0x4c31;  // "L1"

struct WireHeader {
  uint16_t format;
  uint8_t level;
  uint8_t zero1;
  uint32_t pid;
  uint32_t worker;
  uint32_t zero2;
  uint64_t seq;
  int64_t unix_nanos;
};
static_assert(sizeof(WireHeader) == 32, "the header layout above is the format");
static_assert(offsetof(WireHeader, seq) == 16 && offsetof(WireHeader, unix_nanos) == 24,
              "the header layout above is the format");
}  // namespace internal

// Bytes of a record before its text: a slot must be at least this big.
inline constexpr size_t kRecordHeaderSize = sizeof(internal::WireHeader);

// Replaces `*out` with the message for `record`.
inline void EncodeRecord(const Record& record, std::string* out) {
  internal::WireHeader h{};
  h.format = internal::kRecordFormat;
  h.level = static_cast<uint8_t>(record.level);
  h.pid = record.pid;
  h.worker = record.worker;
  h.seq = record.seq;
  h.unix_nanos = record.unix_nanos;
  out->assign(reinterpret_cast<const char*>(&h), sizeof(h));
  out->append(record.text.data(), record.text.size());
}

// Parses `message`; record->text points into it. False if it is not a record
// (too short, another format, an unknown level).
inline bool DecodeRecord(absl::string_view message, Record* record) {
  internal::WireHeader h;
  if (message.size() < sizeof(h)) return false;
  std::memcpy(&h, message.data(), sizeof(h));
  if (h.format != internal::kRecordFormat ||
      h.level > static_cast<uint8_t>(Level::kError)) {
    return false;
  }
  record->unix_nanos = h.unix_nanos;
  record->level = static_cast<Level>(h.level);
  record->pid = h.pid;
  record->worker = h.worker;
  record->seq = h.seq;
  record->text = message.substr(sizeof(h));
  return true;
}

// Appends the record's line, newline included, to `*out`.
inline void AppendLine(const Record& record, std::string* out) {
  absl::StrAppend(
      out,
      absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::FromUnixNanos(record.unix_nanos),
                       absl::UTCTimeZone()),
      " ", LevelName(record.level), " pid=", record.pid, " worker=", record.worker,
      " seq=", record.seq, " ", absl::CEscape(record.text), "\n");
}

}  // namespace logsvc

#endif  // RINGBUF_EXAMPLES_LOG_RECORD_H_
