/* LD_PRELOAD shim for cli_contract_test: CLOCK_REALTIME (the wall clock)
 * jumps one hour forward at every read, as after a series of clock steps;
 * CLOCK_MONOTONIC is untouched. A deadline measured on the wall clock then
 * expires at once; one on the monotonic clock is not affected. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <sys/time.h>
#include <time.h>

static atomic_long jumps;

static void Jump(struct timespec* ts) {
  ts->tv_sec += 3600 * atomic_fetch_add(&jumps, 1);
}

int clock_gettime(clockid_t clock, struct timespec* ts) {
  static int (*real)(clockid_t, struct timespec*);
  if (real == NULL) {
    real = (int (*)(clockid_t, struct timespec*))dlsym(RTLD_NEXT,
                                                       "clock_gettime");
  }
  int rc = real(clock, ts);
  if (rc == 0 && (clock == CLOCK_REALTIME || clock == CLOCK_REALTIME_COARSE)) {
    Jump(ts);
  }
  return rc;
}

int gettimeofday(struct timeval* tv, void* tz) {
  struct timespec ts;
  (void)tz;
  if (clock_gettime(CLOCK_REALTIME, &ts) != 0) return -1;
  tv->tv_sec = ts.tv_sec;
  tv->tv_usec = ts.tv_nsec / 1000;
  return 0;
}
