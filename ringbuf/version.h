// The version of ringbuf, in one place. The VERSION file at the repository
// root holds the same string (tests/version_test.cc keeps the two in sync);
// the install step and the pkg-config/CMake files take it from there.
//
// Semantic versioning: the major number changes when a release breaks the
// API or ABI of the installed libraries (their SONAMEs carry it); the minor
// number when it adds to them; the patch number for fixes only. The shared
// memory layout has its own version (a queue made by another layout version
// is refused with FailedPrecondition), independent of this one.
//
// The macros are plain C too: ringbuf/c_api.h includes this header.
#ifndef RINGBUF_VERSION_H_
#define RINGBUF_VERSION_H_

#define RINGBUF_VERSION_MAJOR 1
#define RINGBUF_VERSION_MINOR 2
#define RINGBUF_VERSION_PATCH 0
#define RINGBUF_VERSION_STRING "1.2.0"

#ifdef __cplusplus
namespace ringbuf {

// The version of the library this program runs with ("1.2.0"), which may be
// newer than the RINGBUF_VERSION_* it was compiled against.
const char* Version();

}  // namespace ringbuf
#endif  // __cplusplus (C programs: ringbuf_version() in ringbuf/c_api.h)

#endif  // RINGBUF_VERSION_H_
