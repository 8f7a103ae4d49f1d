// The installed headers stand alone: the round trips in public_headers_only*
// were compiled without ringbuf/internal/ (and without anything of //ringbuf
// but its public headers), and they work.
#include "tests/public_headers_only.h"

#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace ringbuf {
namespace {

TEST(PublicHeadersTest, CppApiWorksWithoutInternalHeaders) {
  testing::ScopedQueueName name;
  EXPECT_EQ(CppRoundTripThroughPublicHeaders(name), "hello");
}

TEST(PublicHeadersTest, CApiWorksWithoutInternalHeaders) {
  testing::ScopedQueueName name;
  EXPECT_EQ(CRoundTripThroughPublicHeaders(name.get().c_str()), 0);
}

}  // namespace
}  // namespace ringbuf
