/* RINGBUF_PYTHON_CANNOT_LOAD_LIB: 1 if this build is instrumented by a
 * sanitizer, so that a plain (uninstrumented) python3 cannot dlopen what it
 * builds: the instrumented library needs its sanitizer runtime loaded first.
 * Tests that run Python against this build's libraries skip those parts when
 * it is 1. Plain C, for C and C++ tests alike. */
#ifndef RINGBUF_TESTS_SANITIZER_BUILD_H_
#define RINGBUF_TESTS_SANITIZER_BUILD_H_

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define RINGBUF_PYTHON_CANNOT_LOAD_LIB 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer) ||                                     \
    __has_feature(undefined_behavior_sanitizer)
#define RINGBUF_PYTHON_CANNOT_LOAD_LIB 1
#endif
#endif
#ifndef RINGBUF_PYTHON_CANNOT_LOAD_LIB
#define RINGBUF_PYTHON_CANNOT_LOAD_LIB 0
#endif

#endif /* RINGBUF_TESTS_SANITIZER_BUILD_H_ */
