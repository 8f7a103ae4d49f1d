// The version lives in VERSION (read by the install step) and in
// ringbuf/version.h (compiled into the library): they must say the same.
#include "ringbuf/version.h"

#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace ringbuf {
namespace {

TEST(VersionTest, VersionFileMatchesHeaderAndLibrary) {
  std::ifstream in(testing::RunfilePath("VERSION"));
  ASSERT_TRUE(in) << "cannot read VERSION from the runfiles";
  std::stringstream text;
  text << in.rdbuf();
  const std::string file(absl::StripAsciiWhitespace(text.str()));
  EXPECT_EQ(file, RINGBUF_VERSION_STRING);
  EXPECT_EQ(file, Version());
  EXPECT_EQ(file, absl::StrCat(RINGBUF_VERSION_MAJOR, ".", RINGBUF_VERSION_MINOR,
                               ".", RINGBUF_VERSION_PATCH));
}

}  // namespace
}  // namespace ringbuf
