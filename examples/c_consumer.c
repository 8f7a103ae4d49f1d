/* The C API in one screen: attach to an existing queue, receive COUNT
 * messages and print each on its own line.
 *
 *   c_consumer QUEUE COUNT [TIMEOUT_MS]
 *
 * Waits at most TIMEOUT_MS (default 5000) for each message. Exits 0 once
 * COUNT messages were printed; 1 if the queue cannot be opened or a receive
 * fails (the error, with its code, goes to stderr); 2 on bad usage. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "ringbuf/c_api.h"

static int parse_count(const char* text, long long* out) {
  char* end = NULL;
  *out = strtoll(text, &end, 10);
  return end != text && *end == '\0' && *out >= 0;
}

int main(int argc, char** argv) {
  long long count = 0;
  long long timeout_ms = 5000;
  if (argc < 3 || argc > 4 || !parse_count(argv[2], &count) ||
      (argc == 4 && !parse_count(argv[3], &timeout_ms))) {
    fprintf(stderr, "usage: %s QUEUE COUNT [TIMEOUT_MS]\n", argv[0]);
    return 2;
  }

  ringbuf_queue* q = NULL;
  int rc = ringbuf_open(argv[1], &q);
  if (rc != RINGBUF_OK) {
    fprintf(stderr, "c_consumer: %s: %s\n", ringbuf_status_name(rc),
            ringbuf_last_error());
    return 1;
  }

  /* A buffer of slot_size bytes holds any message of this queue. */
  size_t cap = ringbuf_slot_size(q);
  char* buf = malloc(cap > 0 ? cap : 1);
  if (buf == NULL) {
    ringbuf_close(q);
    fprintf(stderr, "c_consumer: out of memory\n");
    return 1;
  }

  /* Far beyond any real wait; also keeps the product in range. */
  const int64_t timeout_ns = timeout_ms > INT64_MAX / 1000000
                                 ? RINGBUF_WAIT_FOREVER
                                 : (int64_t)timeout_ms * 1000000;
  int status = 0;
  for (long long i = 0; i < count; ++i) {
    size_t len = 0;
    rc = ringbuf_receive(q, buf, cap, &len, timeout_ns);
    if (rc != RINGBUF_OK) {
      fprintf(stderr, "c_consumer: message %lld: %s: %s\n", i,
              ringbuf_status_name(rc), ringbuf_last_error());
      status = 1;
      break;
    }
    /* Messages are bytes, NULs included: write them, don't printf them. */
    fwrite(buf, 1, len, stdout);
    fputc('\n', stdout);
    fflush(stdout);
  }

  free(buf);
  ringbuf_close(q); /* unmaps; the queue and its other messages remain */
  return status;
}
