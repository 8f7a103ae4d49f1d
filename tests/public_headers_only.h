// Round trips written against the installed API only: public_headers_only.cc
// and public_headers_only_c.c are compiled seeing //ringbuf:public_headers and
// Abseil, and no other header (see tests/BUILD.bazel). Declared here, outside
// the headers under test, so public_headers_test.cc can call them.
#ifndef RINGBUF_TESTS_PUBLIC_HEADERS_ONLY_H_
#define RINGBUF_TESTS_PUBLIC_HEADERS_ONLY_H_

#ifdef __cplusplus
#include <string>

// Creates `name`, sends "hello" and receives it back through ringbuf::Queue,
// with a QueueNotifier watching; returns what was received, or the error.
std::string CppRoundTripThroughPublicHeaders(const std::string& name);
extern "C" {
#endif

// The same through the C API; returns 0 if "hello" came back.
int CRoundTripThroughPublicHeaders(const char* name);

#ifdef __cplusplus
}
#endif

#endif  // RINGBUF_TESTS_PUBLIC_HEADERS_ONLY_H_
