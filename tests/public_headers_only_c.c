/* The C API as a C99 program built against an install sees it: compiled with
 * only //ringbuf:public_headers on the include path (see tests/BUILD.bazel). */
#include <string.h>

#include "ringbuf/c_api.h"
#include "tests/public_headers_only.h"

int CRoundTripThroughPublicHeaders(const char* name) {
  ringbuf_queue* q = NULL;
  char buf[64];
  size_t len = 0;
  int rc = ringbuf_create(name, 4, sizeof buf, 0600, &q);
  if (rc != RINGBUF_OK) return rc;
  rc = ringbuf_send(q, "hello", 5, RINGBUF_WAIT_FOREVER);
  if (rc == RINGBUF_OK) {
    rc = ringbuf_receive(q, buf, sizeof buf, &len, 10 * 1000000000LL);
  }
  if (rc == RINGBUF_OK && (len != 5 || memcmp(buf, "hello", 5) != 0)) rc = -1;
  ringbuf_close(q);
  return rc;
}
