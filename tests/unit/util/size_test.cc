#include "util/size.h"

#include <gtest/gtest.h>

namespace migemu::util {
namespace {

struct Case {
  const char* text;
  uint64_t unit;
  uint64_t expect;
};

TEST(ParseSizeTest, AcceptsQemuSyntax) {
  const Case cases[] = {
      {"0", 1, 0},
      {"4096", 1, 4096},
      {"64M", 1, 64ull << 20},
      {"64m", 1, 64ull << 20},
      {"1G", 1, 1ull << 30},
      {"1.5G", 1, 3ull << 29},
      {"1.k", 1, 1024},
      {"0.5K", 1, 512},
      {"2b", 1, 2},
      {"64", 1ull << 20, 64ull << 20},
      {"100", 1ull << 20, 100ull << 20},
      {"100k", 1ull << 20, 102400},
      {"0x1000", 1, 4096},
      {" 12", 1, 12},
      {"+12", 1, 12},
      {"18446744073709551615", 1, UINT64_MAX},
      {"15E", 1, 15ull << 60},
  };
  for (const Case& c : cases) {
    auto r = ParseSize(c.text, c.unit);
    ASSERT_TRUE(r.ok()) << c.text << ": " << r.status();
    EXPECT_EQ(*r, c.expect) << c.text;
  }
}

TEST(ParseSizeTest, RejectsWhatQemuRejects) {
  for (const char* bad :
       {"", "abc", "-1", "1e3", "1.5e3", "1.5", "1.5B", "0x1.8", "12Q", "1MB", "M", " ", "1 M"}) {
    auto r = ParseSize(bad);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << "'" << bad << "'";
  }
}

TEST(ParseSizeTest, OverflowIsOutOfRange) {
  EXPECT_EQ(ParseSize("16E").status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(ParseSize("18446744073709551616").status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(ParseSize("17592186044416", 1ull << 20).status().code(), absl::StatusCode::kOutOfRange);
}

}  // namespace
}  // namespace migemu::util
