// Writes the seed corpus of //fuzz:mapping_fuzzer (fuzz/corpus/) from the
// real layout, so the seeds follow layout.h when it changes:
//
//   bazel run //fuzz:make_corpus -- "$PWD/fuzz/corpus"
//
// The input format is described in mapping_fuzzer.cc. Each seed is a small,
// meaningful starting point: a clean round trip, each kind of damage the
// existing tests pin, side locks naming leases out of range, free, held by
// "us" or owner-dead, and valid raw objects.
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ringbuf/internal/layout.h"
#include "ringbuf/queue.h"

namespace {

using ringbuf::internal::Header;
using ringbuf::internal::SideLock;
using Bytes = std::vector<uint8_t>;

// Record builders; tags and layouts as in mapping_fuzzer.cc.
enum Op : uint8_t {
  kStats,
  kTrySend,
  kTryReceive,
  kSendFor,
  kReceiveFor,
  kOpenAnother
};

void Overwrite(Bytes* b, uint16_t offset, const Bytes& bytes) {
  b->insert(b->end(),
            {0, static_cast<uint8_t>(offset), static_cast<uint8_t>(offset >> 8),
             static_cast<uint8_t>(bytes.size())});
  b->insert(b->end(), bytes.begin(), bytes.end());
}
void CreatorOp(Bytes* b, Op op, uint8_t a = 0, uint8_t c = 0) {
  b->insert(b->end(), {2, op});
  if (op == kTrySend || op == kReceiveFor) b->push_back(a);
  if (op == kSendFor) b->insert(b->end(), {a, c});
}
void OpenedOp(Bytes* b, Op op, uint8_t a = 0, uint8_t c = 0) {
  b->insert(b->end(), {3, op});
  if (op == kTrySend || op == kReceiveFor) b->push_back(a);
  if (op == kSendFor) b->insert(b->end(), {a, c});
}
void Reopen(Bytes* b) { b->push_back(4); }
void OwnTid(Bytes* b, uint16_t offset, uint8_t high_bits) {
  b->insert(b->end(), {5, static_cast<uint8_t>(offset),
                       static_cast<uint8_t>(offset >> 8), high_bits});
}
Bytes U32(uint32_t v) {
  Bytes b(4);
  for (int i = 0; i < 4; ++i) b[i] = static_cast<uint8_t>(v >> (8 * i));
  return b;
}
Bytes U64(uint64_t v) {
  Bytes b(8);
  for (int i = 0; i < 8; ++i) b[i] = static_cast<uint8_t>(v >> (8 * i));
  return b;
}

// Where lease `id` (1..kLeases) of a live queue of this geometry starts:
// the lease table is the object's last kLeaseTableBytes.
uint16_t LeaseAt(uint64_t capacity, uint32_t slot_size, uint32_t id,
                 uint32_t priorities = 1) {
  const uint64_t size =
      *ringbuf::internal::MappingSize("corpus", capacity, slot_size, priorities);
  return static_cast<uint16_t>(size - ringbuf::internal::kLeaseTableBytes +
                               (id - 1) * sizeof(ringbuf::internal::Lease));
}

// flags: log2(priorities) << 4 | policy << 2; capacity-1, slot_size-1,
// prefill.
Bytes Live(uint8_t policy, uint8_t capacity, uint8_t slot_size,
           uint8_t prefill, uint8_t log2_priorities = 0) {
  return {static_cast<uint8_t>(log2_priorities << 4 | policy << 2),
          static_cast<uint8_t>(capacity - 1),
          static_cast<uint8_t>(slot_size - 1), prefill};
}

void EveryOp(Bytes* b) {
  CreatorOp(b, kStats);
  CreatorOp(b, kTryReceive);
  CreatorOp(b, kTrySend, 5);
  CreatorOp(b, kSendFor, 9, 1);
  CreatorOp(b, kReceiveFor, 2);
  OpenedOp(b, kTryReceive);
  OpenedOp(b, kTrySend, 3);
  OpenedOp(b, kOpenAnother);
}

// The bytes of a real queue object, as a raw-variant input.
Bytes RawQueue(uint64_t capacity, uint32_t slot_size, int sends,
               uint32_t priorities = 1) {
  const std::string name = absl::StrCat("/ringbuf-make-corpus-", getpid());
  shm_unlink(name.c_str());
  ringbuf::Options o;
  o.capacity = capacity;
  o.slot_size = slot_size;
  o.priorities = priorities;
  absl::StatusOr<ringbuf::Queue> q = ringbuf::Queue::Create(name, o);
  if (!q.ok()) return {};
  for (int i = 0; i < sends; ++i) (void)q->TrySend("seed", i % priorities);
  int fd = shm_open(name.c_str(), O_RDONLY, 0);
  struct stat st;
  fstat(fd, &st);
  Bytes object(static_cast<size_t>(st.st_size));
  (void)pread(fd, object.data(), object.size(), 0);
  close(fd);
  shm_unlink(name.c_str());
  Bytes b = {2, static_cast<uint8_t>(object.size()),
             static_cast<uint8_t>(object.size() >> 8)};
  b.insert(b.end(), object.begin(), object.end());
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_corpus OUTPUT_DIR\n");
    return 2;
  }
  const size_t send_lock = offsetof(Header, send) + offsetof(SideLock, lock);
  const size_t recv_lock = offsetof(Header, recv) + offsetof(SideLock, lock);
  const uint32_t high_bit = 1u << 31;  // as good as any: out of range
  const size_t kind = offsetof(pthread_mutex_t, __data.__kind);
  const size_t owner = offsetof(pthread_mutex_t, __data.__owner);
  // The lease the seeds' side locks name: nobody's (a thread's first lease
  // is drawn at random, so it is ours 1 time in kLeases).
  const uint32_t named = 7;
  std::vector<std::pair<std::string, Bytes>> seeds;

  Bytes clean = Live(0, 4, 32, 2);
  EveryOp(&clean);
  seeds.push_back({"live-clean-round-trip", clean});

  Bytes tail = Live(0, 4, 32, 2);
  Overwrite(&tail, offsetof(Header, tail), U64(1000));
  EveryOp(&tail);
  seeds.push_back({"live-tail-far-ahead", tail});

  Bytes head = Live(0, 3, 16, 3);
  Overwrite(&head, offsetof(Header, head), U64(~uint64_t{0}));
  EveryOp(&head);
  seeds.push_back({"live-head-wrapped", head});

  Bytes length = Live(0, 4, 32, 2);
  Overwrite(&length, ringbuf::internal::kHeaderSize, {0xff, 0xff, 0xff, 0xff});
  EveryOp(&length);
  seeds.push_back({"live-slot-length-huge", length});

  Bytes geometry = Live(0, 4, 32, 1);
  Overwrite(&geometry, offsetof(Header, capacity), U64(2));
  Overwrite(&geometry, offsetof(Header, slot_stride), U64(128));
  Reopen(&geometry);
  EveryOp(&geometry);
  seeds.push_back({"live-geometry-rewritten", geometry});

  Bytes progress = Live(0, 2, 8, 1);
  Overwrite(&progress, offsetof(Header, send) + offsetof(SideLock, progress),
            {1, 0, 0, 0});
  Overwrite(&progress, offsetof(Header, recv) + offsetof(SideLock, progress),
            {1, 0, 0, 0});
  EveryOp(&progress);
  seeds.push_back({"live-progress-words", progress});

  // The side lock words (internal/leased_lock.h): a lease out of range is
  // DataLoss; a lease nobody holds is released by the next caller.
  Bytes out_of_range = Live(1, 4, 32, 2);
  Overwrite(&out_of_range, send_lock, U32(0x7fffffff));
  Overwrite(&out_of_range, recv_lock, U32(high_bit | 257));
  EveryOp(&out_of_range);
  seeds.push_back({"sidelock-names-lease-out-of-range", out_of_range});

  Bytes nobodys = Live(1, 4, 32, 2);
  Overwrite(&nobodys, send_lock, U32(named));
  Overwrite(&nobodys, recv_lock, U32(named));
  EveryOp(&nobodys);
  seeds.push_back({"sidelock-names-free-lease", nobodys});

  // The lease a side lock names, as glibc sees it (lease_table.h).
  const uint16_t lease = LeaseAt(4, 32, named);
  Bytes held = Live(1, 4, 32, 2);
  Overwrite(&held, send_lock, U32(named));
  OwnTid(&held, lease, 0);
  EveryOp(&held);
  seeds.push_back({"lease-send-held-by-us", held});

  Bytes dead = Live(1, 4, 32, 2);
  Overwrite(&dead, recv_lock, U32(named));
  OwnTid(&dead, lease, 1);  // FUTEX_OWNER_DIED with our id
  EveryOp(&dead);
  seeds.push_back({"lease-recv-owner-died", dead});

  // A side lock biased toward a lease (leased_lock.h): toward nobody's, so
  // the next caller revokes it; marked inside by that nobody, so the
  // revoker probes the lease and repairs; and being revoked by nobody, so
  // the next caller probes the revoker and hands the bias back.
  const uint16_t inside =
      lease + offsetof(ringbuf::internal::Lease, inside);
  Bytes biased = Live(1, 4, 32, 2);
  Overwrite(&biased, send_lock, U32(ringbuf::internal::BiasedTo(named)));
  Overwrite(&biased, recv_lock, U32(ringbuf::internal::BiasedTo(named)));
  Overwrite(&biased, inside + 4, U32(1));  // inside the receive side
  EveryOp(&biased);
  seeds.push_back({"sidelock-biased-toward-free-lease", biased});

  Bytes revoking = Live(1, 4, 32, 2);
  Overwrite(&revoking, send_lock, U32(ringbuf::internal::Revoking(named + 1, named)));
  Overwrite(&revoking, recv_lock, U32(ringbuf::internal::Revoking(named, named)));
  Overwrite(&revoking, inside, U32(1));  // inside the send side
  EveryOp(&revoking);
  seeds.push_back({"sidelock-being-revoked-by-free-lease", revoking});

  Bytes unrecoverable = Live(1, 4, 32, 2);
  Overwrite(&unrecoverable, send_lock, U32(named));
  Overwrite(&unrecoverable, lease + owner, {0xfe, 0xff, 0xff, 0x7f});
  EveryOp(&unrecoverable);
  seeds.push_back({"lease-send-notrecoverable", unrecoverable});

  Bytes kind_bytes = Live(2, 4, 32, 2);
  Overwrite(&kind_bytes, send_lock, U32(named));
  Overwrite(&kind_bytes, lease + kind, {0x91, 0, 0, 0});  // recursive
  OwnTid(&kind_bytes, lease, 0);
  OwnTid(&kind_bytes, lease + owner, 0);
  EveryOp(&kind_bytes);
  seeds.push_back({"lease-send-kind-recursive", kind_bytes});

  // Regression seeds: each __kind that made glibc crash the caller before
  // RobustMutex checked the word (fuzz/README.md), on the lease the send
  // lock of an empty queue names, then one send. Now each is DataLoss.
  auto kind_seed = [&](uint32_t kind_word, std::optional<uint32_t> lock_word,
                       bool owned_by_us, Op op) {
    Bytes b = Live(2, 4, 32, 0);
    Overwrite(&b, send_lock, U32(named));
    if (lock_word) Overwrite(&b, lease, U32(*lock_word));
    Overwrite(&b, lease + kind, U32(kind_word));
    if (owned_by_us) {
      OwnTid(&b, lease, 0);
      OwnTid(&b, lease + owner, 0);
    }
    CreatorOp(&b, op, 3, 2);
    return b;
  };
  seeds.push_back({"lease-kind-elision-sigill",  // xbegin without TSX
                   kind_seed(0x180, std::nullopt, false, kTrySend)});
  seeds.push_back({"lease-kind-robust-pi-esrch-assert",  // dead owner
                   kind_seed(0xb0, 0x3ffffff0, false, kSendFor)});
  seeds.push_back({"lease-kind-prio-protect-assert",  // ceiling 0x7ff
                   kind_seed(0xc0, 0x7ffu << 19, false, kTrySend)});
  seeds.push_back({"lease-kind-robust-recursive-segv",  // unlinks nothing
                   kind_seed(0x91, std::nullopt, true, kTrySend)});

  seeds.push_back({"raw-queue-1x8-empty", RawQueue(1, 8, 0)});
  seeds.push_back({"raw-queue-2x24-one-message", RawQueue(2, 24, 1)});
  seeds.push_back({"raw-too-small", {2, 100, 0, 'R', 'B', 'U', 'F'}});

  // Several priorities (ringbuf/internal/priority_levels.h): the level
  // indexes follow the header, tails then heads (one line each for 4).
  const size_t level_tails = ringbuf::internal::kHeaderSize;
  const size_t level_heads = level_tails + 64;
  auto leveled_ops = [](Bytes* b) {
    EveryOp(b);
    CreatorOp(b, kTrySend, 0x35);     // size 0x35, priority 3
    CreatorOp(b, kSendFor, 0x21, 1);  // priority 2
    CreatorOp(b, kTrySend, 0xf3);     // priority out of range
    CreatorOp(b, kReceiveFor, 2);
    OpenedOp(b, kTryReceive);
  };
  Bytes levels = Live(0, 4, 32, 3, 2);
  leveled_ops(&levels);
  seeds.push_back({"levels-clean-round-trip", levels});

  Bytes level_tail = Live(0, 4, 32, 3, 2);
  Overwrite(&level_tail, level_tails + 2 * 8, U64(1000));
  leveled_ops(&level_tail);
  seeds.push_back({"levels-tail-far-ahead", level_tail});

  Bytes level_head = Live(0, 4, 32, 3, 2);
  Overwrite(&level_head, level_heads + 1 * 8, U64(5));
  leveled_ops(&level_head);
  seeds.push_back({"levels-head-past-tail", level_head});

  Bytes count = Live(0, 4, 32, 2, 2);
  Overwrite(&count, offsetof(Header, priorities), U32(8));
  Reopen(&count);
  leveled_ops(&count);
  seeds.push_back({"levels-priorities-rewritten", count});

  // A dead owner whose copying_level is out of range: the repairer must not
  // follow it.
  Bytes copying = Live(1, 4, 32, 2, 3);
  for (size_t side : {offsetof(Header, send), offsetof(Header, recv)}) {
    Overwrite(&copying, side + offsetof(SideLock, progress), U32(1));
    Overwrite(&copying, side + offsetof(SideLock, copying_level),
              U32(0xffffffff));
  }
  Overwrite(&copying, send_lock, U32(named));
  Overwrite(&copying, recv_lock, U32(named));
  OwnTid(&copying, LeaseAt(4, 32, named, 8), 1);  // FUTEX_OWNER_DIED, our id
  leveled_ops(&copying);
  seeds.push_back({"levels-copying-level-out-of-range", copying});

  seeds.push_back({"raw-queue-4x24-4-levels", RawQueue(4, 24, 3, 4)});

  for (const auto& [name, bytes] : seeds) {
    if (bytes.empty()) {
      std::fprintf(stderr, "make_corpus: could not build %s\n", name.c_str());
      return 1;
    }
    std::ofstream out(std::string(argv[1]) + "/" + name, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    if (!out) return 1;
  }
  std::printf("make_corpus: wrote %zu seeds to %s\n", seeds.size(), argv[1]);
  return 0;
}
