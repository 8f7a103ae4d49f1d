/* A two-process round trip through ringbuf's C API, as a C99 program that
 * knows only `pkg-config ringbuf-c`: the parent sends "ping N" on one queue,
 * a forked child (opening the queues by name) answers "pong N" on another.
 * Exits 0 once every answer came back, in order. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ringbuf/c_api.h"

#define ROUNDS 100
#define TIMEOUT_NS (10 * (int64_t)1000000000)

static int fail(const char* what, int rc) {
  fprintf(stderr, "round_trip_c: %s: %s: %s\n", what, ringbuf_status_name(rc),
          ringbuf_last_error());
  return 1;
}

/* The child: answers each "ping N" with "pong N". */
static int answer(const char* ping_name, const char* pong_name) {
  ringbuf_queue* ping = NULL;
  ringbuf_queue* pong = NULL;
  char buf[64];
  size_t len = 0;
  int i, rc = ringbuf_open(ping_name, &ping);
  if (rc != RINGBUF_OK) return fail("open ping", rc);
  rc = ringbuf_open(pong_name, &pong);
  if (rc != RINGBUF_OK) return fail("open pong", rc);
  for (i = 0; i < ROUNDS && rc == RINGBUF_OK; ++i) {
    rc = ringbuf_receive(ping, buf, sizeof buf, &len, TIMEOUT_NS);
    if (rc == RINGBUF_OK) {
      memcpy(buf, "pong", 4); /* "ping N" -> "pong N" */
      rc = ringbuf_send(pong, buf, len, TIMEOUT_NS);
    }
  }
  ringbuf_close(ping);
  ringbuf_close(pong);
  return rc == RINGBUF_OK ? 0 : fail("answer", rc);
}

int main(void) {
  char ping_name[64], pong_name[64], msg[64], buf[64];
  ringbuf_queue* ping = NULL;
  ringbuf_queue* pong = NULL;
  size_t len = 0;
  int i, rc, status = 0, failed = 0;
  pid_t child;

  snprintf(ping_name, sizeof ping_name, "ringbuf-round-trip-c-%ld-ping",
           (long)getpid());
  snprintf(pong_name, sizeof pong_name, "ringbuf-round-trip-c-%ld-pong",
           (long)getpid());
  rc = ringbuf_create(ping_name, 8, 64, 0600, &ping);
  if (rc != RINGBUF_OK) return fail("create ping", rc);
  rc = ringbuf_create(pong_name, 8, 64, 0600, &pong);
  if (rc != RINGBUF_OK) return fail("create pong", rc);

  child = fork();
  if (child == 0) _exit(answer(ping_name, pong_name));
  failed = child < 0;
  for (i = 0; i < ROUNDS && !failed; ++i) {
    int n = snprintf(msg, sizeof msg, "ping %d", i);
    rc = ringbuf_send(ping, msg, (size_t)n, TIMEOUT_NS);
    if (rc == RINGBUF_OK) rc = ringbuf_receive(pong, buf, sizeof buf, &len, TIMEOUT_NS);
    if (rc != RINGBUF_OK) {
      failed = fail("round trip", rc);
    } else if (len != (size_t)n || memcmp(buf, "pong", 4) != 0 ||
               memcmp(buf + 4, msg + 4, len - 4) != 0) {
      fprintf(stderr, "round_trip_c: round %d: wrong answer\n", i);
      failed = 1;
    }
  }
  if (child > 0 && (waitpid(child, &status, 0) != child ||
                    !WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
    failed = 1;
  }
  ringbuf_close(ping);
  ringbuf_close(pong);
  ringbuf_remove(ping_name);
  ringbuf_remove(pong_name);
  if (failed) return 1;
  printf("round_trip_c: %d round trips between two processes\n", ROUNDS);
  return 0;
}
