/* The C API (ringbuf/c_api.h) from a C program, compiled as strict C99
 * (-std=c99 -Wall -Werror -pedantic, see tests/BUILD.bazel): the header is
 * valid C, its types, macros and enums mean what they say in C, and every
 * function it declares links and behaves as documented from C. Each function
 * is called at least once; the CHECKs test the documented results, so a
 * wrapper that lost a field, a code or a message fails here. Single-process;
 * tests/c_api_test.cc covers the concurrency and timing of each call.
 *
 * Exits 0 if every check passed, 1 otherwise (each failure is printed). */
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ringbuf/c_api.h"

static int failures = 0;

#define CHECK(cond)                                                       \
  do {                                                                    \
    if (!(cond)) {                                                        \
      fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s)\n",       \
              __FILE__, __LINE__, #cond, ringbuf_last_error());           \
      ++failures;                                                         \
    }                                                                     \
  } while (0)

#define CHECK_RC(call, expected)                                          \
  do {                                                                    \
    int rc_ = (call);                                                     \
    if (rc_ != (expected)) {                                              \
      fprintf(stderr, "%s:%d: %s returned %s, expected %s (%s)\n",        \
              __FILE__, __LINE__, #call, ringbuf_status_name(rc_),        \
              ringbuf_status_name(expected), ringbuf_last_error());       \
      ++failures;                                                         \
    }                                                                     \
  } while (0)

enum { kCapacity = 4, kSlotSize = 16 };

/* Whether `fd` is readable within `timeout_ms` (0: right now). */
static int readable_within(int fd, int timeout_ms) {
  struct pollfd p;
  p.fd = fd;
  p.events = POLLIN;
  p.revents = 0;
  return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

/* Bounds waits that must end: 30 s catches hangs only. */
enum { kPromptMs = 30000 };

static uint64_t depth(const ringbuf_queue* q) {
  struct ringbuf_stats s = RINGBUF_STATS_INIT;
  CHECK_RC(ringbuf_stats(q, &s), RINGBUF_OK);
  return s.depth;
}

static void test_version(void) {
  char compiled[32];
  sprintf(compiled, "%d.%d.%d", RINGBUF_VERSION_MAJOR, RINGBUF_VERSION_MINOR,
          RINGBUF_VERSION_PATCH);
  CHECK(strcmp(compiled, RINGBUF_VERSION_STRING) == 0);
  CHECK(strcmp(ringbuf_version(), RINGBUF_VERSION_STRING) == 0);
}

static void test_status_names(void) {
  static const struct {
    int code;
    const char* name;
  } codes[] = {
      {RINGBUF_OK, "OK"},
      {RINGBUF_CANCELLED, "CANCELLED"},
      {RINGBUF_UNKNOWN, "UNKNOWN"},
      {RINGBUF_INVALID_ARGUMENT, "INVALID_ARGUMENT"},
      {RINGBUF_DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED"},
      {RINGBUF_NOT_FOUND, "NOT_FOUND"},
      {RINGBUF_ALREADY_EXISTS, "ALREADY_EXISTS"},
      {RINGBUF_PERMISSION_DENIED, "PERMISSION_DENIED"},
      {RINGBUF_RESOURCE_EXHAUSTED, "RESOURCE_EXHAUSTED"},
      {RINGBUF_FAILED_PRECONDITION, "FAILED_PRECONDITION"},
      {RINGBUF_ABORTED, "ABORTED"},
      {RINGBUF_OUT_OF_RANGE, "OUT_OF_RANGE"},
      {RINGBUF_UNIMPLEMENTED, "UNIMPLEMENTED"},
      {RINGBUF_INTERNAL, "INTERNAL"},
      {RINGBUF_UNAVAILABLE, "UNAVAILABLE"},
      {RINGBUF_DATA_LOSS, "DATA_LOSS"},
      {RINGBUF_UNAUTHENTICATED, "UNAUTHENTICATED"},
  };
  size_t i;
  for (i = 0; i < sizeof codes / sizeof codes[0]; ++i) {
    CHECK(codes[i].code == (int)i); /* absl::StatusCode's values, in order */
    CHECK(strcmp(ringbuf_status_name(codes[i].code), codes[i].name) == 0);
  }
  CHECK(strcmp(ringbuf_status_name(-1), "UNKNOWN") == 0);
  CHECK(strcmp(ringbuf_status_name(17), "UNKNOWN") == 0);
}

static void test_open_modes(const char* name) {
  ringbuf_queue* a = NULL;
  ringbuf_queue* b = NULL;
  ringbuf_queue* c = NULL;
  CHECK_RC(ringbuf_open(name, &a), RINGBUF_NOT_FOUND);
  CHECK(strstr(ringbuf_last_error(), name) != NULL);
  CHECK(a == NULL);
  CHECK_RC(ringbuf_create(name, kCapacity, kSlotSize, 0600, &a), RINGBUF_OK);
  CHECK_RC(ringbuf_create(name, kCapacity, kSlotSize, 0600, &b),
           RINGBUF_ALREADY_EXISTS);
  CHECK_RC(ringbuf_open(name, &b), RINGBUF_OK);
  CHECK_RC(ringbuf_open_or_create(name, kCapacity, kSlotSize, 0600, &c),
           RINGBUF_OK);
  CHECK_RC(ringbuf_send(a, "x", 1, RINGBUF_NO_WAIT), RINGBUF_OK);
  CHECK(depth(b) == 1 && depth(c) == 1); /* one queue, three handles */
  CHECK(ringbuf_capacity(c) == kCapacity);
  CHECK(ringbuf_slot_size(c) == kSlotSize);
  ringbuf_close(a);
  ringbuf_close(b);
  ringbuf_close(c);
  ringbuf_close(NULL);
  CHECK_RC(ringbuf_remove(name), RINGBUF_OK);
  CHECK_RC(ringbuf_remove(name), RINGBUF_NOT_FOUND);
}

/* The *_trusting calls: `owner` NULL (the default), "any", a bad owner. The
 * squatted-queue cases take a second user: tests/c_api_test.cc. */
static void test_trusting(const char* name) {
  ringbuf_queue* a = NULL;
  ringbuf_queue* b = NULL;
  ringbuf_queue* c = NULL;
  CHECK_RC(ringbuf_open_trusting(name, NULL, &a), RINGBUF_NOT_FOUND);
  CHECK(a == NULL);
  CHECK_RC(ringbuf_open_or_create_trusting(name, kCapacity, kSlotSize, 0600,
                                           NULL, &a),
           RINGBUF_OK);
  CHECK_RC(ringbuf_open_trusting(name, "any", &b), RINGBUF_OK);
  CHECK_RC(ringbuf_open_trusting(name, "", &c), RINGBUF_INVALID_ARGUMENT);
  CHECK(strstr(ringbuf_last_error(), "owner ''") != NULL);
  CHECK(c == NULL);
  CHECK_RC(ringbuf_open_or_create_trusting(name, kCapacity, kSlotSize, 0600,
                                           "0", &c),
           RINGBUF_OK);
  CHECK_RC(ringbuf_send(a, "x", 1, RINGBUF_NO_WAIT), RINGBUF_OK);
  CHECK(depth(b) == 1 && depth(c) == 1); /* one queue, three handles */
  ringbuf_close(a);
  ringbuf_close(b);
  ringbuf_close(c);
  CHECK_RC(ringbuf_remove_trusting(name, "no-such-user-rbt"),
           RINGBUF_INVALID_ARGUMENT);
  CHECK(strstr(ringbuf_last_error(), "no-such-user-rbt") != NULL);
  CHECK_RC(ringbuf_remove_trusting(name, "any"), RINGBUF_OK);
  CHECK_RC(ringbuf_remove_trusting(name, NULL), RINGBUF_NOT_FOUND);
  CHECK(strstr(ringbuf_last_error(), name) != NULL);
}

/* Open-or-create with priorities: the second call opens the same queue; one
 * of other levels is refused. */
static void test_open_or_create_prioritized(const char* name) {
  ringbuf_queue* a = NULL;
  ringbuf_queue* b = NULL;
  CHECK_RC(ringbuf_open_or_create_prioritized(name, kCapacity, kSlotSize, 4,
                                              0600, NULL, &a),
           RINGBUF_OK);
  CHECK(ringbuf_priorities(a) == 4);
  CHECK_RC(ringbuf_open_or_create_prioritized(name, kCapacity, kSlotSize, 1,
                                              0600, "any", &b),
           RINGBUF_FAILED_PRECONDITION);
  CHECK(strstr(ringbuf_last_error(), "priorities") != NULL);
  CHECK(b == NULL);
  CHECK_RC(ringbuf_open_or_create_prioritized(name, kCapacity, kSlotSize, 4,
                                              0600, "any", &b),
           RINGBUF_OK);
  CHECK_RC(ringbuf_send(a, "x", 1, RINGBUF_NO_WAIT), RINGBUF_OK);
  CHECK(depth(b) == 1); /* one queue, two handles */
  ringbuf_close(a);
  ringbuf_close(b);
  CHECK_RC(ringbuf_remove(name), RINGBUF_OK);
}

static void test_send_receive(ringbuf_queue* q) {
  static const char binary[] = {'a', '\0', 'b', '\n', (char)0xff};
  char buf[kSlotSize];
  char oversized[kSlotSize + 1];
  size_t len = 99;
  memset(oversized, 'o', sizeof oversized);
  CHECK_RC(ringbuf_send(q, binary, sizeof binary, RINGBUF_WAIT_FOREVER),
           RINGBUF_OK);
  CHECK_RC(ringbuf_send(q, NULL, 0, RINGBUF_NO_WAIT), RINGBUF_OK);
  CHECK_RC(ringbuf_send(q, oversized, sizeof oversized, RINGBUF_NO_WAIT),
           RINGBUF_INVALID_ARGUMENT);
  /* Too small a buffer: the needed length, the message stays. */
  CHECK_RC(ringbuf_receive(q, buf, 2, &len, RINGBUF_NO_WAIT),
           RINGBUF_RESOURCE_EXHAUSTED);
  CHECK(len == sizeof binary);
  CHECK_RC(ringbuf_receive(q, buf, sizeof buf, &len, 1000000), RINGBUF_OK);
  CHECK(len == sizeof binary && memcmp(buf, binary, len) == 0);
  CHECK_RC(ringbuf_receive(q, buf, sizeof buf, &len, RINGBUF_NO_WAIT),
           RINGBUF_OK);
  CHECK(len == 0);
  CHECK_RC(ringbuf_receive(q, buf, sizeof buf, &len, RINGBUF_NO_WAIT),
           RINGBUF_UNAVAILABLE);
  CHECK_RC(ringbuf_receive(q, buf, sizeof buf, &len, 1000000),
           RINGBUF_DEADLINE_EXCEEDED);
}

static void test_batches(ringbuf_queue* q) {
  ringbuf_message messages[kCapacity + 1];
  ringbuf_reservation* r = NULL;
  void* slot = NULL;
  size_t cap = 0;
  char buf[3 * kSlotSize];
  size_t lens[kCapacity];
  size_t n = 99;
  char oversized[kSlotSize + 1];
  int i;
  memset(oversized, 'o', sizeof oversized);
  for (i = 0; i < kCapacity + 1; ++i) {
    messages[i].data = &"0123456789"[i];
    messages[i].len = (size_t)(10 - i);
  }
  /* One more than fits: the first kCapacity commit, then "full now". */
  CHECK_RC(ringbuf_send_batch(q, messages, kCapacity + 1, &n, RINGBUF_NO_WAIT),
           RINGBUF_UNAVAILABLE);
  CHECK(n == kCapacity);
  CHECK(depth(q) == kCapacity);
  /* At most cap / slot_size (3) are taken, packed back to back. */
  CHECK_RC(ringbuf_receive_batch(q, buf, sizeof buf, lens, kCapacity, &n,
                                 RINGBUF_WAIT_FOREVER),
           RINGBUF_OK);
  CHECK(n == 3);
  CHECK(lens[0] == 10 && lens[1] == 9 && lens[2] == 8);
  CHECK(memcmp(buf, "012345678912345678923456789", 27) == 0);
  CHECK_RC(ringbuf_receive_batch(q, buf, sizeof buf, lens, kCapacity, &n,
                                 RINGBUF_NO_WAIT),
           RINGBUF_OK);
  CHECK(n == 1 && lens[0] == 7 && memcmp(buf, "3456789", 7) == 0);
  CHECK_RC(ringbuf_receive_batch(q, buf, sizeof buf, lens, kCapacity, &n,
                                 RINGBUF_NO_WAIT),
           RINGBUF_UNAVAILABLE);
  CHECK(n == 0);
  CHECK_RC(ringbuf_receive_batch(q, buf, kSlotSize - 1, lens, kCapacity, &n,
                                 RINGBUF_NO_WAIT),
           RINGBUF_INVALID_ARGUMENT);
  /* A bad message anywhere: nothing is sent. */
  messages[1].data = oversized;
  messages[1].len = sizeof oversized;
  CHECK_RC(ringbuf_send_batch(q, messages, 2, &n, RINGBUF_NO_WAIT),
           RINGBUF_INVALID_ARGUMENT);
  CHECK(n == 0 && depth(q) == 0);
  CHECK_RC(ringbuf_send_batch(q, NULL, 0, &n, RINGBUF_NO_WAIT), RINGBUF_OK);
  CHECK_RC(ringbuf_receive_batch(q, buf, sizeof buf, lens, 0, &n,
                                 RINGBUF_NO_WAIT),
           RINGBUF_INVALID_ARGUMENT);
  /* With a positive timeout: the same partial send, as DEADLINE_EXCEEDED. */
  messages[1].data = "1";
  messages[1].len = 1;
  CHECK_RC(ringbuf_send_batch(q, messages, kCapacity + 1, &n, 1000000),
           RINGBUF_DEADLINE_EXCEEDED);
  CHECK(n == kCapacity);
  /* A full queue: reserving is refused like a send. */
  CHECK_RC(ringbuf_reserve(q, RINGBUF_NO_WAIT, &r, &slot, &cap),
           RINGBUF_UNAVAILABLE);
  CHECK_RC(ringbuf_reserve(q, 1000000, &r, &slot, &cap),
           RINGBUF_DEADLINE_EXCEEDED);
  while (ringbuf_receive_batch(q, buf, sizeof buf, lens, kCapacity, &n,
                               RINGBUF_NO_WAIT) == RINGBUF_OK) {
  }
  CHECK_RC(ringbuf_receive_batch(q, buf, sizeof buf, lens, kCapacity, &n,
                                 1000000),
           RINGBUF_DEADLINE_EXCEEDED);
  CHECK(n == 0 && depth(q) == 0);
}

static void test_zero_copy(ringbuf_queue* q) {
  ringbuf_reservation* r = NULL;
  ringbuf_peeked* p = NULL;
  void* slot = NULL;
  const void* data = NULL;
  size_t cap = 0;
  size_t len = 0;
  CHECK_RC(ringbuf_reserve(q, RINGBUF_WAIT_FOREVER, &r, &slot, &cap),
           RINGBUF_OK);
  CHECK(cap == kSlotSize);
  memcpy(slot, "in place", 8);
  CHECK_RC(ringbuf_reservation_commit(r, 8), RINGBUF_OK);
  CHECK_RC(ringbuf_reserve(q, RINGBUF_NO_WAIT, &r, &slot, &cap), RINGBUF_OK);
  memcpy(slot, "dropped", 7);
  ringbuf_reservation_drop(r); /* nothing sent */
  ringbuf_reservation_drop(NULL);
  CHECK_RC(ringbuf_reserve(q, RINGBUF_NO_WAIT, &r, &slot, &cap), RINGBUF_OK);
  CHECK_RC(ringbuf_reservation_commit(r, kSlotSize + 1),
           RINGBUF_INVALID_ARGUMENT); /* and r is gone, nothing sent */
  CHECK(depth(q) == 1);

  CHECK_RC(ringbuf_peek(q, RINGBUF_NO_WAIT, &p, &data, &len), RINGBUF_OK);
  CHECK(len == 8 && memcmp(data, "in place", 8) == 0);
  ringbuf_peeked_drop(p); /* the message stays */
  ringbuf_peeked_drop(NULL);
  CHECK(depth(q) == 1);
  CHECK_RC(ringbuf_peek(q, 1000000, &p, &data, &len), RINGBUF_OK);
  CHECK_RC(ringbuf_peeked_release(p), RINGBUF_OK);
  CHECK(depth(q) == 0);
  CHECK_RC(ringbuf_peek(q, RINGBUF_NO_WAIT, &p, &data, &len),
           RINGBUF_UNAVAILABLE);
  CHECK_RC(ringbuf_peek(q, 1000000, &p, &data, &len),
           RINGBUF_DEADLINE_EXCEEDED);
  CHECK_RC(ringbuf_peeked_release(NULL), RINGBUF_INVALID_ARGUMENT);
  CHECK_RC(ringbuf_reservation_commit(NULL, 0), RINGBUF_INVALID_ARGUMENT);
}

static void test_notifier(ringbuf_queue* q) {
  ringbuf_notifier* n = NULL;
  ringbuf_notifier* bad = NULL;
  char buf[kSlotSize];
  size_t len = 0;
  int fd;
  CHECK_RC(ringbuf_notifier_create(q, 7, &bad), RINGBUF_INVALID_ARGUMENT);
  CHECK(bad == NULL);
  CHECK(ringbuf_notifier_fd(NULL) == -1);
  ringbuf_notifier_clear(NULL);
  ringbuf_notifier_destroy(NULL);
  CHECK_RC(ringbuf_notifier_create(q, RINGBUF_EVENT_MESSAGES, &n), RINGBUF_OK);
  fd = ringbuf_notifier_fd(n);
  CHECK(fd >= 0);
  ringbuf_notifier_clear(n);
  CHECK(!readable_within(fd, 0)); /* the queue is empty */
  CHECK_RC(ringbuf_send(q, "ping", 4, RINGBUF_NO_WAIT), RINGBUF_OK);
  CHECK(readable_within(fd, kPromptMs));
  ringbuf_notifier_clear(n);
  CHECK(!readable_within(fd, 0));
  CHECK_RC(ringbuf_receive(q, buf, sizeof buf, &len, RINGBUF_NO_WAIT),
           RINGBUF_OK);
  ringbuf_notifier_destroy(n);
  /* A queue with free slots makes a space notifier readable at once. */
  CHECK_RC(ringbuf_notifier_create(q, RINGBUF_EVENT_SPACE, &n), RINGBUF_OK);
  CHECK(readable_within(ringbuf_notifier_fd(n), kPromptMs));
  ringbuf_notifier_destroy(n);
}

static void test_stats(ringbuf_queue* q) {
  struct ringbuf_stats s = RINGBUF_STATS_INIT;
  /* A caller built against a shorter struct: only its prefix is written. */
  struct ringbuf_stats old;
  memset(&old, 0xab, sizeof old);
  old.size = (uint32_t)offsetof(struct ringbuf_stats, head);
  CHECK_RC(ringbuf_send(q, "s", 1, RINGBUF_NO_WAIT), RINGBUF_OK);
  CHECK_RC(ringbuf_stats(q, &old), RINGBUF_OK);
  CHECK(old.size == offsetof(struct ringbuf_stats, head));
  CHECK(old.capacity == kCapacity && old.slot_size == kSlotSize);
  CHECK(old.depth == 1);
  CHECK(old.head == UINT64_C(0xabababababababab)); /* untouched */

  CHECK_RC(ringbuf_stats(q, &s), RINGBUF_OK);
  CHECK(s.size == sizeof s);
  CHECK(s.capacity == kCapacity && s.slot_size == kSlotSize);
  CHECK(s.depth == 1 && s.tail - s.head == 1);
  CHECK(s.total_sent == s.tail && s.total_received == s.head);
  CHECK(s.send_lock_owner_deaths == 0 && s.receive_lock_owner_deaths == 0);
  CHECK(s.discarded_partial_sends == 0);
  CHECK(s.receives_lost_to_dead_consumers == 0);
  s.size = 0;
  CHECK_RC(ringbuf_stats(q, &s), RINGBUF_INVALID_ARGUMENT);
  CHECK(strstr(ringbuf_last_error(), "size") != NULL);
  CHECK_RC(ringbuf_stats(NULL, &s), RINGBUF_INVALID_ARGUMENT);
}

static void test_shutdown(ringbuf_queue* q) {
  char buf[kSlotSize];
  size_t len = 0;
  size_t lens[1];
  size_t n = 99;
  ringbuf_message one;
  ringbuf_reservation* r = NULL;
  ringbuf_peeked* p = NULL;
  void* slot = NULL;
  const void* data = NULL;
  size_t cap = 0;
  one.data = "x";
  one.len = 1;
  ringbuf_shutdown(q);
  ringbuf_shutdown(q); /* more than once */
  ringbuf_shutdown(NULL);
  CHECK_RC(ringbuf_send(q, "x", 1, RINGBUF_WAIT_FOREVER), RINGBUF_CANCELLED);
  CHECK_RC(ringbuf_receive(q, buf, sizeof buf, &len, RINGBUF_WAIT_FOREVER),
           RINGBUF_CANCELLED);
  CHECK_RC(ringbuf_send_batch(q, &one, 1, &n, RINGBUF_WAIT_FOREVER),
           RINGBUF_CANCELLED);
  CHECK(n == 0);
  CHECK_RC(ringbuf_receive_batch(q, buf, sizeof buf, lens, 1, &n,
                                 RINGBUF_WAIT_FOREVER),
           RINGBUF_CANCELLED);
  CHECK_RC(ringbuf_reserve(q, RINGBUF_WAIT_FOREVER, &r, &slot, &cap),
           RINGBUF_CANCELLED);
  CHECK_RC(ringbuf_peek(q, RINGBUF_WAIT_FOREVER, &p, &data, &len),
           RINGBUF_CANCELLED);
  CHECK(depth(q) == 1); /* stats still work; the message is still there */
}

int main(void) {
  char name[64];
  ringbuf_queue* q = NULL;
  sprintf(name, "/rbt-%ld-c_abi_test", (long)getpid());
  ringbuf_remove(name);

  test_version();
  test_status_names();
  test_open_modes(name);
  test_trusting(name);
  test_open_or_create_prioritized(name);

  CHECK_RC(ringbuf_create(name, kCapacity, kSlotSize, 0600, &q), RINGBUF_OK);
  if (q != NULL) {
    test_send_receive(q);
    test_batches(q);
    test_zero_copy(q);
    test_notifier(q);
    test_stats(q);
    test_shutdown(q);
    ringbuf_close(q);
  }
  ringbuf_remove(name);
  if (failures != 0) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("all checks passed\n");
  return 0;
}
