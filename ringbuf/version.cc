#include "ringbuf/version.h"

namespace ringbuf {

const char* Version() { return RINGBUF_VERSION_STRING; }

}  // namespace ringbuf
