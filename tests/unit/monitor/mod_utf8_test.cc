#include "monitor/internal/mod_utf8.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace migemu::monitor::internal {
namespace {

struct DecodeCase {
  std::string bytes;
  int32_t cp;
  size_t length;
};

// Expected values follow util/unicode.c's mod_utf8_codepoint() contract.
TEST(ModUtf8Test, DecodeTable) {
  const DecodeCase cases[] = {
      {"A", 'A', 1},
      {std::string("\0", 1), 0, 1},
      {"\x7f", 0x7F, 1},
      {"\xc3\xa9", 0xE9, 2},
      {"\xc0\x80", 0, 2},           // modified UTF-8's U+0000
      {"\xc1\x81", -1, 2},          // overlong
      {"\xe0\x80\x80", -1, 3},      // overlong
      {"\xf0\x80\x80\x80", -1, 4},  // overlong
      {"\xe2\x82\xac", 0x20AC, 3},
      {"\xf0\x9f\x98\x80", 0x1F600, 4},
      {"\xf4\x8f\xbf\xbd", 0x10FFFD, 4},
      {"\xf4\x90\x80\x80", -1, 4},  // beyond U+10FFFF
      {"\xed\xa0\x80", -1, 3},      // surrogate
      {"\xef\xbf\xbf", -1, 3},      // U+FFFF noncharacter
      {"\xef\xbf\xbe", -1, 3},      // U+FFFE
      {"\xef\xb7\x90", -1, 3},      // U+FDD0
      {"\xef\xb7\xaf", -1, 3},      // U+FDEF
      {"\xef\xb7\xb0", 0xFDF0, 3},
      {"\xf0\x9f\xbf\xbe", -1, 4},      // U+1FFFE
      {"\xf8\x88\x80\x80\x80", -1, 5},  // 5-byte form
      {"\xfc\x84\x80\x80\x80\x80", -1, 6},
      {"\x80", -1, 1},  // lone continuation
      {"\xbf\x80", -1, 1},
      {"\xfe", -1, 1},
      {"\xff\x80", -1, 1},
      {"\xc3", -1, 1},  // truncated
      {"\xc3(", -1, 1},
      {"\xe2\x82", -1, 2},
      {"\xe2\x82x", -1, 2},
      {"\xf0\x9f\x98", -1, 3},
      {"", -1, 0},
  };
  for (const DecodeCase& c : cases) {
    SCOPED_TRACE(testing::PrintToString(c.bytes));
    DecodedCodepoint d = ModUtf8Decode(c.bytes);
    EXPECT_EQ(d.cp, c.cp);
    EXPECT_EQ(d.length, c.length);
  }
}

TEST(ModUtf8Test, EncodeMirrorsModUtf8Encode) {
  std::string s;
  ASSERT_TRUE(AppendModUtf8(0, &s));
  ASSERT_TRUE(AppendModUtf8('a', &s));
  ASSERT_TRUE(AppendModUtf8(0xE9, &s));
  ASSERT_TRUE(AppendModUtf8(0x20AC, &s));
  ASSERT_TRUE(AppendModUtf8(0x1F600, &s));
  EXPECT_EQ(s,
            "\xc0\x80"
            "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
  for (int32_t bad : {-1, 0xD800, 0xDFFF, 0xFDD0, 0xFFFE, 0xFFFF, 0x10FFFF, 0x110000}) {
    std::string out = "x";
    EXPECT_FALSE(AppendModUtf8(bad, &out)) << bad;
    EXPECT_EQ(out, "x");
  }
}

TEST(ModUtf8Test, EveryValidCodepointRoundTrips) {
  for (int32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    std::string s;
    if (!AppendModUtf8(cp, &s)) {
      EXPECT_FALSE(IsValidCodepoint(cp)) << cp;
      continue;
    }
    DecodedCodepoint d = ModUtf8Decode(s);
    ASSERT_EQ(d.cp, cp);
    ASSERT_EQ(d.length, s.size());
  }
}

}  // namespace
}  // namespace migemu::monitor::internal
