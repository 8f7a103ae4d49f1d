// Where `ringbuf-bridge in` stands: the highest stream sequence it has
// committed into its queue, recorded after every batch (before the batch is
// acknowledged) in a small file, by default in /dev/shm beside the queue,
// so it lives and dies with it. The record carries the queue's incarnation:
// a queue removed and created again starts without a position.
//
// On start, and whenever a delivery went missing, the bridge re-creates its
// consumer just after this position, so what the stream delivers next is
// exactly what the queue lacks, whatever a server that just restarted says
// about the consumer; a redelivered message at or below it is not sent
// again. Only a crash between SendBatch and Record can put a message into
// the queue twice (the consumer's --with_sequence check drops it).
#ifndef RINGBUF_BRIDGE_POSITION_FILE_H_
#define RINGBUF_BRIDGE_POSITION_FILE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ringbuf {
namespace bridge {

class PositionFile {
 public:
  // "/dev/shm/ringbuf-bridge-in.<queue without '/'>.<durable>".
  static std::string DefaultPath(const std::string& queue,
                                 const std::string& durable);
  // Opens (creating, mode 0600) the file at `path` for the queue of
  // `incarnation`.
  static absl::StatusOr<PositionFile> Open(const std::string& path,
                                           uint64_t incarnation);
  PositionFile(PositionFile&& other) noexcept;
  PositionFile& operator=(PositionFile&& other) noexcept;
  ~PositionFile();

  // The recorded position, if any was recorded for this incarnation.
  std::optional<uint64_t> last() const { return last_; }
  // Records `sequence` (one pwrite of 24 bytes).
  absl::Status Record(uint64_t sequence);

 private:
  PositionFile(int fd, std::string path, uint64_t incarnation,
               std::optional<uint64_t> last)
      : fd_(fd), path_(std::move(path)), incarnation_(incarnation), last_(last) {}
  int fd_ = -1;
  std::string path_;
  uint64_t incarnation_ = 0;
  std::optional<uint64_t> last_;
};

}  // namespace bridge
}  // namespace ringbuf

#endif  // RINGBUF_BRIDGE_POSITION_FILE_H_
