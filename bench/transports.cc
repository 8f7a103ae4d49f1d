// The four transports behind transport.h. Each adapter only maps Create /
// Attach / Send / Receive onto its facility and states the facility's limits;
// the workloads (queue_benchmark.cc) are shared.
#include <fcntl.h>
#include <limits.h>
#include <mqueue.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "bench/transport.h"
#include "ringbuf/options.h"
#include "ringbuf/queue.h"

// Defined by @boost//:boost when Debian's libboost-dev is installed
// (bench/run_benchmarks.sh installs it); without it there is no boost_mq row.
#ifdef RINGBUF_HAVE_BOOST_INTERPROCESS
#include <boost/interprocess/ipc/message_queue.hpp>
#endif

namespace ringbuf_bench {
namespace {

// A name no other run, process or sandbox uses: Bazel's sandboxes share
// /dev/shm but not pid namespaces, so the pid alone is not enough.
std::string UniqueName(absl::string_view transport) {
  static const uint32_t salt = std::random_device{}();
  static std::atomic<int> counter{0};
  return absl::StrCat("rbb-", transport, "-", getpid(), "-", absl::Hex(salt),
                      "-", counter++);
}

// A /proc/sys value, or `fallback` when it cannot be read.
long ReadProcLong(const char* path, long fallback) {
  FILE* f = std::fopen(path, "r");
  if (f == nullptr) return fallback;
  long value = fallback;
  if (std::fscanf(f, "%ld", &value) != 1) value = fallback;
  std::fclose(f);
  return value;
}

absl::Status Errno(absl::string_view what) {
  return absl::ErrnoToStatus(errno, what);
}

// ---- ringbuf ----------------------------------------------------------------

class RingbufEndpoint : public Endpoint {
 public:
  explicit RingbufEndpoint(ringbuf::Queue queue) : queue_(std::move(queue)) {}
  absl::Status Send(absl::string_view message) override {
    return queue_.Send(message);
  }
  absl::Status SendAt(absl::string_view message, uint32_t priority) override {
    return queue_.Send(message, priority);
  }
  absl::Status Receive(std::string* message) override {
    return queue_.Receive(message);
  }

 private:
  ringbuf::Queue queue_;
};

class RingbufChannel : public Channel {
 public:
  static absl::StatusOr<std::unique_ptr<Channel>> Create(const Geometry& g) {
    std::string name = UniqueName("ringbuf");
    (void)ringbuf::Queue::Remove(name);
    ringbuf::Options options;
    options.capacity = g.capacity;
    options.slot_size = g.message_size;
    options.priorities = g.priorities;
    absl::StatusOr<ringbuf::Queue> queue =
        ringbuf::Queue::Create(name, options);
    if (!queue.ok()) return queue.status();
    return std::unique_ptr<Channel>(
        new RingbufChannel(std::move(name), queue->capacity()));
  }
  ~RingbufChannel() override { (void)ringbuf::Queue::Remove(name_); }

  uint64_t capacity_got() const override { return capacity_; }
  absl::StatusOr<std::unique_ptr<Endpoint>> Attach() override {
    absl::StatusOr<ringbuf::Queue> queue = ringbuf::Queue::Open(name_);
    if (!queue.ok()) return queue.status();
    return std::make_unique<RingbufEndpoint>(std::move(*queue));
  }

 private:
  RingbufChannel(std::string name, uint64_t capacity)
      : name_(std::move(name)), capacity_(capacity) {}
  std::string name_;
  uint64_t capacity_;
};

// ---- POSIX message queue ----------------------------------------------------
//
// Limits: mq_maxmsg <= /proc/sys/fs/mqueue/msg_max (10 by default),
// mq_msgsize <= msgsize_max (8192), and all of a user's queues together
// within RLIMIT_MSGQUEUE bytes (819200), each queue charged about
// mq_maxmsg * (mq_msgsize + kMqChargePerMessage). Root (CAP_SYS_RESOURCE)
// may exceed the two sysctls, but we honour them so the rows show what any
// user's queue gets; run_benchmarks.sh raises them when it can.

constexpr const char* kMqMsgMax = "/proc/sys/fs/mqueue/msg_max";
constexpr const char* kMqMsgsizeMax = "/proc/sys/fs/mqueue/msgsize_max";
// The kernel's per-message bookkeeping charged to RLIMIT_MSGQUEUE
// (sizeof(struct msg_msg) + sizeof(struct posix_msg_tree_node) on x86-64).
constexpr uint64_t kMqChargePerMessage = 96;

class MqEndpoint : public Endpoint {
 public:
  MqEndpoint(mqd_t mq, size_t message_size)
      : mq_(mq), message_size_(message_size) {}
  ~MqEndpoint() override { mq_close(mq_); }

  absl::Status Send(absl::string_view message) override {
    return MqEndpoint::SendAt(message, 0);
  }
  absl::Status SendAt(absl::string_view message, uint32_t priority) override {
    while (mq_send(mq_, message.data(), message.size(), priority) != 0) {
      if (errno != EINTR) return Errno("mq_send");
    }
    return absl::OkStatus();
  }
  absl::Status Receive(std::string* message) override {
    message->resize(message_size_);  // mq_receive wants room for mq_msgsize
    ssize_t n;
    while ((n = mq_receive(mq_, &(*message)[0], message_size_, nullptr)) < 0) {
      if (errno != EINTR) return Errno("mq_receive");
    }
    message->resize(static_cast<size_t>(n));
    return absl::OkStatus();
  }

 private:
  mqd_t mq_;
  size_t message_size_;
};

class MqChannel : public Channel {
 public:
  static absl::StatusOr<std::unique_ptr<Channel>> Create(const Geometry& g) {
    const long msgsize_max = ReadProcLong(kMqMsgsizeMax, 8192);
    if (g.message_size > static_cast<uint64_t>(msgsize_max)) {
      return absl::UnavailableError(absl::StrCat(
          "POSIX mq: ", g.message_size, "-byte messages exceed ", kMqMsgsizeMax,
          " = ", msgsize_max,
          " (bench/run_benchmarks.sh raises it when run as root)"));
    }
    uint64_t want = std::min<uint64_t>(
        g.capacity, static_cast<uint64_t>(ReadProcLong(kMqMsgMax, 10)));
    rlimit rl{};
    if (getrlimit(RLIMIT_MSGQUEUE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
      want = std::min<uint64_t>(
          want, rl.rlim_cur / (g.message_size + kMqChargePerMessage));
    }
    if (want == 0) {
      return absl::UnavailableError(absl::StrCat(
          "POSIX mq: RLIMIT_MSGQUEUE (", rl.rlim_cur,
          " bytes) does not fit one ", g.message_size, "-byte message"));
    }
    const std::string name = "/" + UniqueName("mq");
    mq_unlink(name.c_str());
    // The user's other queues share RLIMIT_MSGQUEUE: halve until one fits.
    for (;; want /= 2) {
      mq_attr attr{};
      attr.mq_maxmsg = static_cast<long>(want);
      attr.mq_msgsize = g.message_size;
      mqd_t mq = mq_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600, &attr);
      if (mq != static_cast<mqd_t>(-1)) {
        mq_getattr(mq, &attr);
        return std::unique_ptr<Channel>(new MqChannel(
            name, mq, static_cast<uint64_t>(attr.mq_maxmsg), g.message_size));
      }
      if ((errno == EMFILE || errno == ENOMEM) && want > 1) continue;
      if (errno == ENOSYS || errno == EACCES || errno == EPERM ||
          errno == ENOENT) {  // no mqueue support, or it is walled off
        return absl::UnavailableError(
            absl::StrCat("POSIX mq not usable here: ",
                         Errno(absl::StrCat("mq_open ", name)).message()));
      }
      return Errno(absl::StrCat("mq_open ", name, " maxmsg=", want,
                                " msgsize=", g.message_size));
    }
  }
  ~MqChannel() override {
    mq_close(mq_);
    mq_unlink(name_.c_str());
  }

  uint64_t capacity_got() const override { return capacity_; }
  absl::StatusOr<std::unique_ptr<Endpoint>> Attach() override {
    mqd_t mq = mq_open(name_.c_str(), O_RDWR);
    if (mq == static_cast<mqd_t>(-1)) return Errno("mq_open " + name_);
    return std::make_unique<MqEndpoint>(mq, message_size_);
  }

 private:
  MqChannel(std::string name, mqd_t mq, uint64_t capacity, size_t message_size)
      : name_(std::move(name)),
        mq_(mq),
        capacity_(capacity),
        message_size_(message_size) {}
  std::string name_;
  mqd_t mq_;
  uint64_t capacity_;
  size_t message_size_;
};

// ---- Boost.Interprocess message_queue ---------------------------------------
#ifdef RINGBUF_HAVE_BOOST_INTERPROCESS
//
// No limits beyond /dev/shm's size. Its calls throw; the adapter turns
// exceptions into statuses.

namespace bip = boost::interprocess;

class BoostEndpoint : public Endpoint {
 public:
  explicit BoostEndpoint(std::unique_ptr<bip::message_queue> mq)
      : mq_(std::move(mq)), message_size_(mq_->get_max_msg_size()) {}

  absl::Status Send(absl::string_view message) override {
    return BoostEndpoint::SendAt(message, 0);
  }
  absl::Status SendAt(absl::string_view message, uint32_t priority) override {
    try {
      mq_->send(message.data(), message.size(), priority);
    } catch (const bip::interprocess_exception& e) {
      return absl::InternalError(
          absl::StrCat("message_queue::send: ", e.what()));
    }
    return absl::OkStatus();
  }
  absl::Status Receive(std::string* message) override {
    message->resize(message_size_);  // receive wants room for max_msg_size
    bip::message_queue::size_type received = 0;
    unsigned int priority = 0;
    try {
      mq_->receive(&(*message)[0], message_size_, received, priority);
    } catch (const bip::interprocess_exception& e) {
      return absl::InternalError(
          absl::StrCat("message_queue::receive: ", e.what()));
    }
    message->resize(received);
    return absl::OkStatus();
  }

 private:
  std::unique_ptr<bip::message_queue> mq_;
  size_t message_size_;
};

class BoostChannel : public Channel {
 public:
  static absl::StatusOr<std::unique_ptr<Channel>> Create(const Geometry& g) {
    std::string name = UniqueName("boost");
    bip::message_queue::remove(name.c_str());
    try {
      bip::message_queue mq(bip::create_only, name.c_str(), g.capacity,
                            g.message_size);
      return std::unique_ptr<Channel>(
          new BoostChannel(std::move(name), mq.get_max_msg()));
    } catch (const bip::interprocess_exception& e) {
      return absl::InternalError(
          absl::StrCat("message_queue(create_only, ", name, "): ", e.what()));
    }
  }
  ~BoostChannel() override { bip::message_queue::remove(name_.c_str()); }

  uint64_t capacity_got() const override { return capacity_; }
  absl::StatusOr<std::unique_ptr<Endpoint>> Attach() override {
    try {
      return std::make_unique<BoostEndpoint>(
          std::make_unique<bip::message_queue>(bip::open_only, name_.c_str()));
    } catch (const bip::interprocess_exception& e) {
      return absl::InternalError(
          absl::StrCat("message_queue(open_only, ", name_, "): ", e.what()));
    }
  }

 private:
  BoostChannel(std::string name, uint64_t capacity)
      : name_(std::move(name)), capacity_(capacity) {}
  std::string name_;
  uint64_t capacity_;
};
#endif  // RINGBUF_HAVE_BOOST_INTERPROCESS

// ---- pipe -------------------------------------------------------------------
//
// Limits: a pipe holds at most /proc/sys/fs/pipe-max-size bytes (F_SETPIPE_SZ;
// root may exceed it, we do not), rounded up by the kernel to a power of two
// pages. Only writes of at most PIPE_BUF bytes are atomic, so several
// producers (or consumers) are valid only for messages that small; larger
// ones run 1 -> 1 only.

constexpr const char* kPipeMaxSize = "/proc/sys/fs/pipe-max-size";

absl::Status WriteFull(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("write(pipe)");
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status ReadFull(int fd, char* data, size_t size) {
  while (size > 0) {
    ssize_t n = read(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("read(pipe)");
    }
    if (n == 0) return absl::DataLossError("read(pipe): end of file");
    data += n;
    size -= static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

class PipeEndpoint : public Endpoint {
 public:
  PipeEndpoint(int read_fd, int write_fd, size_t message_size)
      : read_fd_(read_fd), write_fd_(write_fd), message_size_(message_size) {}

  // Each message is one write() (atomic up to PIPE_BUF) and the reader takes
  // exactly message_size bytes, so boundaries need no framing.
  absl::Status Send(absl::string_view message) override {
    return WriteFull(write_fd_, message.data(), message.size());
  }
  absl::Status Receive(std::string* message) override {
    message->resize(message_size_);
    return ReadFull(read_fd_, &(*message)[0], message_size_);
  }

 private:
  int read_fd_;  // both inherited across fork(), owned by the PipeChannel
  int write_fd_;
  size_t message_size_;
};

class PipeChannel : public Channel {
 public:
  static absl::StatusOr<std::unique_ptr<Channel>> Create(const Geometry& g) {
    if (g.priorities > 1) {
      return absl::UnavailableError("pipe: no message priorities");
    }
    if (g.message_size > PIPE_BUF && (g.producers > 1 || g.consumers > 1)) {
      return absl::UnavailableError(absl::StrCat(
          "pipe: writes over PIPE_BUF (", PIPE_BUF, " B) are not atomic, so ",
          g.producers, " -> ", g.consumers,
          " would interleave messages; at this size the pipe runs 1 -> 1 "
          "only"));
    }
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return Errno("pipe2");
    auto channel = std::unique_ptr<PipeChannel>(
        new PipeChannel(fds[0], fds[1], g.message_size));
    const uint64_t max_bytes =
        static_cast<uint64_t>(ReadProcLong(kPipeMaxSize, 1 << 20));
    const uint64_t bytes = std::min(g.capacity * g.message_size, max_bytes);
    if (fcntl(fds[1], F_SETPIPE_SZ, static_cast<int>(bytes)) < 0) {
      return Errno(absl::StrCat("fcntl(F_SETPIPE_SZ, ", bytes, ")"));
    }
    const int got = fcntl(fds[1], F_GETPIPE_SZ);
    if (got < 0) return Errno("fcntl(F_GETPIPE_SZ)");
    channel->capacity_ = static_cast<uint64_t>(got) / g.message_size;
    return std::unique_ptr<Channel>(std::move(channel));
  }
  ~PipeChannel() override {
    close(read_fd_);
    close(write_fd_);
  }

  uint64_t capacity_got() const override { return capacity_; }
  absl::StatusOr<std::unique_ptr<Endpoint>> Attach() override {
    return std::make_unique<PipeEndpoint>(read_fd_, write_fd_, message_size_);
  }

 private:
  PipeChannel(int read_fd, int write_fd, size_t message_size)
      : read_fd_(read_fd), write_fd_(write_fd), message_size_(message_size) {}
  int read_fd_;
  int write_fd_;
  size_t message_size_;
  uint64_t capacity_ = 0;
};

// ---- Busy-poll SPSC ring: the limit ------------------------------------------
//
// What two processes on two CPUs can do at best with a ring in shared memory:
// lock-free, one producer and one consumer, each spinning (never sleeping)
// while the ring is full or empty, each keeping a private copy of the other's
// index so that it touches the other's cache line only when its copy says
// full (empty) -- the shape of rigtorp/SPSCQueue and folly's
// ProducerConsumerQueue. No crash safety, no blocking, no multi-producer: it
// is the row that shows what the locks, the wake-ups and the recovery
// bookkeeping of the others cost, not a peer one could deploy. It is
// unavailable for more than one producer or consumer, and unless producer
// and consumer are pinned to different CPUs: sharing one, a spinner lets its
// peer run only when its time slice ends, and unpinned that happens whenever
// the scheduler puts them together.
//
// The ring lives in an anonymous MAP_SHARED mapping made by the parent before
// fork(), so it needs no name. Slots are a 4-byte length and the payload,
// padded to a cache line.

struct alignas(64) SpscIndex {
  std::atomic<uint64_t> value{0};
};

struct SpscShared {
  SpscIndex head;  // written by the consumer only: messages taken
  SpscIndex tail;  // written by the producer only: messages published
};

class SpscEndpoint : public Endpoint {
 public:
  SpscEndpoint(SpscShared* shared, char* slots, uint64_t capacity,
               uint64_t stride)
      : shared_(shared), slots_(slots), capacity_(capacity), stride_(stride) {}

  absl::Status Send(absl::string_view message) override {
    const uint64_t tail = shared_->tail.value.load(std::memory_order_relaxed);
    // Acquire pairs with the consumer's release of head: the slot we reuse
    // has been read.
    while (tail - cached_head_ == capacity_) {
      cached_head_ = shared_->head.value.load(std::memory_order_acquire);
      if (tail - cached_head_ == capacity_) Pause();
    }
    char* slot = slots_ + (tail % capacity_) * stride_;
    const uint32_t length = static_cast<uint32_t>(message.size());
    std::memcpy(slot, &length, sizeof(length));
    std::memcpy(slot + sizeof(length), message.data(), message.size());
    // Release publishes the slot's bytes to the consumer's acquire of tail.
    shared_->tail.value.store(tail + 1, std::memory_order_release);
    return absl::OkStatus();
  }

  absl::Status Receive(std::string* message) override {
    const uint64_t head = shared_->head.value.load(std::memory_order_relaxed);
    while (cached_tail_ == head) {
      cached_tail_ = shared_->tail.value.load(std::memory_order_acquire);
      if (cached_tail_ == head) Pause();
    }
    const char* slot = slots_ + (head % capacity_) * stride_;
    uint32_t length;
    std::memcpy(&length, slot, sizeof(length));
    if (length > stride_ - sizeof(length)) {
      return absl::DataLossError(absl::StrCat("spsc: slot length ", length));
    }
    message->assign(slot + sizeof(length), length);
    shared_->head.value.store(head + 1, std::memory_order_release);
    return absl::OkStatus();
  }

 private:
  static void Pause() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }

  SpscShared* shared_;
  char* slots_;
  uint64_t capacity_;
  uint64_t stride_;
  uint64_t cached_head_ = 0;  // the producer's copy of head
  uint64_t cached_tail_ = 0;  // the consumer's copy of tail
};

class SpscChannel : public Channel {
 public:
  static absl::StatusOr<std::unique_ptr<Channel>> Create(const Geometry& g) {
    if (g.priorities > 1) {
      return absl::UnavailableError(
          "busy-poll SPSC ring: no message priorities");
    }
    if (g.producers != 1 || g.consumers != 1) {
      return absl::UnavailableError(
          "busy-poll SPSC ring: one producer and one consumer only");
    }
    if (!g.cpus_apart) {
      return absl::UnavailableError(
          "busy-poll SPSC ring: needs producer and consumer pinned to "
          "different CPUs (sharing one, a spinner lets its peer run only when "
          "its time slice ends)");
    }
    const uint64_t stride = (sizeof(uint32_t) + g.message_size + 63) / 64 * 64;
    const size_t bytes = sizeof(SpscShared) + g.capacity * stride;
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return Errno("mmap(spsc ring)");
    new (p) SpscShared();
    return std::unique_ptr<Channel>(
        new SpscChannel(p, bytes, g.capacity, stride));
  }
  ~SpscChannel() override { munmap(mapping_, bytes_); }

  uint64_t capacity_got() const override { return capacity_; }
  absl::StatusOr<std::unique_ptr<Endpoint>> Attach() override {
    return std::make_unique<SpscEndpoint>(
        static_cast<SpscShared*>(mapping_),
        static_cast<char*>(mapping_) + sizeof(SpscShared), capacity_, stride_);
  }

 private:
  SpscChannel(void* mapping, size_t bytes, uint64_t capacity, uint64_t stride)
      : mapping_(mapping), bytes_(bytes), capacity_(capacity), stride_(stride) {}
  void* mapping_;
  size_t bytes_;
  uint64_t capacity_;
  uint64_t stride_;
};

}  // namespace

const std::vector<Transport>& AllTransports() {
  static const auto* transports = new std::vector<Transport>{
      {"ringbuf", RingbufChannel::Create},
      {"posix_mq", MqChannel::Create},
#ifdef RINGBUF_HAVE_BOOST_INTERPROCESS
      {"boost_mq", BoostChannel::Create},
#endif
      {"pipe", PipeChannel::Create},
      {"spsc_busy", SpscChannel::Create},
  };
  return *transports;
}

std::vector<std::pair<std::string, std::string>> PreparePeerLimits() {
  // Lift RLIMIT_MSGQUEUE as far as allowed: to infinity with CAP_SYS_RESOURCE,
  // else the soft limit to the hard one.
  rlimit rl{RLIM_INFINITY, RLIM_INFINITY};
  const bool unlimited = setrlimit(RLIMIT_MSGQUEUE, &rl) == 0;
  if (!unlimited && getrlimit(RLIMIT_MSGQUEUE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_MSGQUEUE, &rl);
  }
  getrlimit(RLIMIT_MSGQUEUE, &rl);
  std::string rlimit_text = rl.rlim_cur == RLIM_INFINITY
                                ? std::string("unlimited")
                                : std::to_string(rl.rlim_cur);
  if (!unlimited) {
    rlimit_text += " (the hard limit: raising it needs CAP_SYS_RESOURCE)";
  }
  auto proc = [](const char* path) {
    long v = ReadProcLong(path, -1);
    return v < 0 ? std::string("unreadable") : std::to_string(v);
  };
  return {
      {"posix_mq_msg_max", proc(kMqMsgMax)},
      {"posix_mq_msgsize_max", proc(kMqMsgsizeMax)},
      {"rlimit_msgqueue", rlimit_text},
      {"pipe_max_size", proc(kPipeMaxSize)},
      {"pipe_buf", std::to_string(PIPE_BUF)},
  };
}

}  // namespace ringbuf_bench
