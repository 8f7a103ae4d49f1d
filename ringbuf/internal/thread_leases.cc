#include "ringbuf/internal/thread_leases.h"

#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ringbuf/internal/errno_status.h"

namespace ringbuf {
namespace internal {
namespace {

struct Entry {
  const void* key;  // the mapping's address: unique while `region` lives
  uint32_t id;
  RobustMutex* lease;
  std::shared_ptr<MappedRegion> region;
};

// The fast path's cache (thread_leases.h): `key`'s lease is the latest.
void NoteRecent(const void* key, uint32_t id) {
  RecentLeases& recent = t_recent_leases;
  if (recent.latest.key != key) recent.before = recent.latest;
  recent.latest = LastLease{key, id};
}

// ... and forget `key`'s, given back (nullptr: forget both).
void ForgetRecent(const void* key) {
  RecentLeases& recent = t_recent_leases;
  if (key == nullptr || recent.before.key == key) recent.before = {nullptr, 0};
  if (key == nullptr || recent.latest.key == key) {
    recent.latest = recent.before;
    recent.before = {nullptr, 0};
  }
}

// This thread's leases, the one used last first.
struct Held {
  ~Held() {
    ForgetRecent(nullptr);
    for (Entry& e : entries) e.lease->Unlock();
  }
  std::vector<Entry> entries;
};

// A plain pointer, so it may be read at any point of the thread's life;
// Reaper's destructor, registered when the first lease is taken, gives the
// leases back at thread exit and leaves it null.
thread_local Held* t_held = nullptr;
struct Reaper {
  ~Reaper() {
    delete t_held;
    t_held = nullptr;
  }
  bool armed = false;
};
thread_local Reaper t_reaper;

// In a child of fork(), only the forking thread lives on, with a copy of
// its entries: the leases are its parent's. Forget them without unlocking.
void ForgetInheritedLeases() {
  ForgetRecent(nullptr);
  if (t_held != nullptr) t_held->entries.clear();
}

// Where a thread starts looking for a free lease: spread across the table
// per process and per thread, so that threads starting together do not all
// try the same ones first. The process id is read each time (this is not
// a hot path): children forked from one parent inherit its counter.
uint32_t FirstCandidate() {
  static std::atomic<uint32_t> next{0};
  return (static_cast<uint32_t>(getpid()) * 2654435761u +
          next.fetch_add(1, std::memory_order_relaxed)) %
         kLeases;
}

// Gives back entry i's lease.
void Unlink(std::vector<Entry>& entries, size_t i) {
  ForgetRecent(entries[i].key);
  entries[i].lease->Unlock();
  entries.erase(entries.begin() + i);
}

__attribute__((noinline)) absl::StatusOr<uint32_t> TakeLease(
    const ShmMapping& mapping, LeaseTable& table, absl::string_view queue,
    absl::FunctionRef<void(uint32_t)> adopt) {
  static const bool registered =
      pthread_atfork(nullptr, nullptr, ForgetInheritedLeases) == 0;
  static_cast<void>(registered);
  const std::shared_ptr<MappedRegion>& region = mapping.region();
  if (region == nullptr) {
    return absl::ResourceExhaustedError(
        QueueMessage(queue, "out of memory for this thread's lease"));
  }
  try {
    if (t_held == nullptr) {
      t_held = new Held;
      t_reaper.armed = true;  // registers its destructor for this thread
    }
    std::vector<Entry>& entries = t_held->entries;
    // Handles closed on other threads since we last looked.
    for (size_t i = entries.size(); i-- > 0;) {
      if (entries[i].region->closed()) Unlink(entries, i);
    }
    entries.reserve(entries.size() + 1);  // nothing below may throw
    absl::Status corrupt;
    const uint32_t first = FirstCandidate();
    for (uint32_t i = 0; i < kLeases; ++i) {
      const uint32_t id = (first + i) % kLeases + 1;
      RobustMutex& lease = table.of(id);
      absl::StatusOr<RobustMutex::Acquired> got = lease.TryLock(queue);
      if (!got.ok()) {
        corrupt = got.status();
        continue;
      }
      if (*got == RobustMutex::Acquired::kBusy) continue;
      // Ours. Whoever held it last may have left side locks naming it.
      adopt(id);
      if (*got == RobustMutex::Acquired::kOwnerDied) lease.MarkConsistent();
      entries.push_back(Entry{mapping.data(), id, &lease, region});
      std::swap(entries.front(), entries.back());
      NoteRecent(mapping.data(), id);
      return id;
    }
    if (!corrupt.ok()) return corrupt;
    return absl::ResourceExhaustedError(QueueMessage(
        queue, absl::StrCat("all ", kLeases,
                            " leases are held: more threads than that use "
                            "this queue at once (each handle a thread uses "
                            "counts once)")));
  } catch (...) {
    return absl::ResourceExhaustedError(
        QueueMessage(queue, "out of memory for this thread's lease"));
  }
}

}  // namespace

absl::StatusOr<uint32_t> LeaseOfThisThread(
    const ShmMapping& mapping, LeaseTable& table, absl::string_view queue,
    absl::FunctionRef<void(uint32_t)> adopt) {
  if (Held* held = t_held; held != nullptr) {
    std::vector<Entry>& entries = held->entries;
    const void* key = mapping.data();
    for (size_t i = 0; i < entries.size(); ++i) {
      if (entries[i].key == key) {
        if (i != 0) std::swap(entries[0], entries[i]);
        NoteRecent(key, entries[0].id);
        return entries[0].id;
      }
    }
  }
  return TakeLease(mapping, table, queue, adopt);
}

void DropLeaseOfThisThread(const ShmMapping& mapping) {
  if (t_held == nullptr) return;
  std::vector<Entry>& entries = t_held->entries;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].key == mapping.data()) {
      Unlink(entries, i);
      return;
    }
  }
}

}  // namespace internal
}  // namespace ringbuf
