// The HMP args_type parser. Expected texts are QEMU 7.2's (monitor/hmp.c); the functional
// tests compare the same situations with the real binary through human-monitor-command.
#include "monitor/hmp_parser.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace migemu::monitor {
namespace {

using ::testing::ElementsAre;

constexpr char kMigrateArgs[] = "detach:-d,blk:-b,inc:-i,resume:-r,uri:s";

struct Parsed {
  std::optional<HmpArgs> args;
  HmpText text;
};

Parsed Parse(absl::string_view line, absl::string_view args_type, absl::string_view name = "cmd") {
  Parsed p;
  p.args = ParseHmpArguments(line, 0, name, args_type, &p.text);
  return p;
}

TEST(HmpGetStrTest, BareWordsAndQuotedStringsWithEscapes) {
  HmpText out;
  size_t pos = 0;
  const absl::string_view line = R"(  word "a b\n\r\\\'\"c" tail)";
  EXPECT_EQ(HmpGetStr(line, &pos, &out), "word");
  EXPECT_EQ(HmpGetStr(line, &pos, &out), "a b\n\r\\'\"c");
  EXPECT_EQ(HmpGetStr(line, &pos, &out), "tail");
  EXPECT_EQ(HmpGetStr(line, &pos, &out), std::nullopt);
  EXPECT_EQ(out.process_stdout, "");
  EXPECT_EQ(out.monitor, "");
}

TEST(HmpGetStrTest, BadEscapeAndUnterminatedStringGoToStdout) {
  HmpText out;
  size_t pos = 0;
  EXPECT_EQ(HmpGetStr(R"("a\qb")", &pos, &out), std::nullopt);
  EXPECT_EQ(out.process_stdout, "unsupported escape code: '\\q'\n");
  out = {};
  pos = 0;
  EXPECT_EQ(HmpGetStr(R"("open)", &pos, &out), std::nullopt);
  EXPECT_EQ(out.process_stdout, "unterminated string\n");
  EXPECT_EQ(out.monitor, "");
}

TEST(HmpGetCommandNameTest, StopsAtBlankOrSlash) {
  size_t pos = 0;
  EXPECT_EQ(HmpGetCommandName("  info/x", &pos), "info");
  EXPECT_EQ(pos, 6u);
  pos = 0;
  EXPECT_EQ(HmpGetCommandName(" \t ", &pos), std::nullopt);
}

TEST(HmpSplitArgsTest, QuotesAndTheSixteenWordLimit) {
  HmpText out;
  EXPECT_THAT(*HmpSplitArgs(R"(help "info" status)", &out), ElementsAre("help", "info", "status"));
  std::string seventeen;
  for (int i = 0; i < 17; ++i) {
    seventeen += "w ";
  }
  EXPECT_EQ(HmpSplitArgs(seventeen, &out), std::nullopt);
  EXPECT_EQ(HmpSplitArgs(R"(help "x)", &out), std::nullopt);
}

TEST(HmpCompareCmdTest, MatchesEveryAliasExactly) {
  EXPECT_TRUE(HmpCompareCmd("stop", "stop|s"));
  EXPECT_TRUE(HmpCompareCmd("s", "stop|s"));
  EXPECT_FALSE(HmpCompareCmd("st", "stop|s"));
  EXPECT_FALSE(HmpCompareCmd("", "stop|s"));
  EXPECT_TRUE(HmpCompareCmd("info", "info"));
}

TEST(HmpArgumentsTest, StringsOptionalStringsAndRestOfLine) {
  Parsed p = Parse("  tcp:0:4444 ", "uri:s");
  ASSERT_TRUE(p.args);
  EXPECT_EQ(p.args->Str("uri"), "tcp:0:4444");

  p = Parse("", "item:s?");
  ASSERT_TRUE(p.args);
  EXPECT_FALSE(p.args->Has("item"));

  p = Parse(" info  migrate ", "name:S?");
  ASSERT_TRUE(p.args);
  EXPECT_EQ(p.args->Str("name"), "info  migrate ");

  p = Parse("", "uri:s", "migrate");
  EXPECT_FALSE(p.args);
  EXPECT_EQ(p.text.monitor, "migrate: string expected\n");
}

TEST(HmpArgumentsTest, BooleansAreExactlyOnOrOff) {
  Parsed p = Parse("multifd on", "capability:s,state:b");
  ASSERT_TRUE(p.args);
  EXPECT_TRUE(p.args->Bool("state", false));
  p = Parse("multifd off", "capability:s,state:b");
  ASSERT_TRUE(p.args);
  EXPECT_FALSE(p.args->Bool("state", true));
  for (const char* bad : {"multifd yes", "multifd", "multifd ON", "multifd on,"}) {
    p = Parse(bad, "capability:s,state:b");
    EXPECT_FALSE(p.args) << bad;
    EXPECT_EQ(p.text.monitor, "Expected 'on' or 'off'\n") << bad;
  }
}

TEST(HmpArgumentsTest, FlagsInTableOrder) {
  Parsed p = Parse("-d -b uri", kMigrateArgs, "migrate");
  ASSERT_TRUE(p.args);
  EXPECT_TRUE(p.args->Bool("detach", false));
  EXPECT_TRUE(p.args->Bool("blk", false));
  EXPECT_FALSE(p.args->Bool("inc", false));
  EXPECT_EQ(p.args->Str("uri"), "uri");

  // QEMU matches options in table order: -d after -b is not recognised any more.
  p = Parse("-b -d uri", kMigrateArgs, "migrate");
  EXPECT_FALSE(p.args);
  EXPECT_EQ(p.text.monitor, "migrate: unsupported option -d\n");

  p = Parse("-x uri", kMigrateArgs, "migrate");
  EXPECT_EQ(p.text.monitor, "migrate: unsupported option -x\n");

  // A lone '-': the message carries a NUL where the option letter would be, so it ends there.
  p = Parse("-", kMigrateArgs, "migrate");
  EXPECT_FALSE(p.args);
  EXPECT_EQ(p.text.monitor, "migrate: unsupported option -");

  // The letter is taken and the rest of the word becomes the next argument.
  p = Parse("-dfoo", kMigrateArgs, "migrate");
  ASSERT_TRUE(p.args);
  EXPECT_TRUE(p.args->Bool("detach", false));
  EXPECT_EQ(p.args->Str("uri"), "foo");
}

TEST(HmpArgumentsTest, ExtraneousCharacters) {
  Parsed p = Parse("now", "", "stop|s");
  EXPECT_FALSE(p.args);
  EXPECT_EQ(p.text.monitor, "stop|s: extraneous characters at the end of line\n");
  p = Parse("  \t ", "", "stop|s");
  EXPECT_TRUE(p.args);
}

TEST(HmpArgumentsTest, IntegerExpressions) {
  constexpr char kCalc[] = "dirty_ring:-r,dirty_bitmap:-b,second:l,sample_pages_per_GB:l?";
  Parsed p = Parse("1+2*3 (0x10-6)/2", kCalc);
  ASSERT_TRUE(p.args);
  EXPECT_EQ(p.args->Int("second", 0), 7);
  EXPECT_EQ(p.args->Int("sample_pages_per_GB", 0), 5);

  p = Parse("-r 'a' ", kCalc);
  ASSERT_TRUE(p.args);
  EXPECT_TRUE(p.args->Bool("dirty_ring", false));
  EXPECT_EQ(p.args->Int("second", 0), 'a');
  EXPECT_FALSE(p.args->Has("sample_pages_per_GB"));

  p = Parse("~0 & 6 | 1 ^ 3 % 2", kCalc);
  ASSERT_TRUE(p.args);
  EXPECT_EQ(p.args->Int("second", 0), ((~0 & 6) | 1) ^ (3 % 2));

  struct Case {
    const char* line;
    const char* message;
  };
  for (const Case& c : std::vector<Case>{
           {"", "unexpected end of expression\n"},
           {"(1", "')' expected\n"},
           {"'", "character constant expected\n"},
           {"'ab'", "missing terminating ' character\n"},
           {"5/0", "division by zero\n"},
           {"5%0", "division by zero\n"},
           {"$eax", "unknown register\n"},
           {"foo", "invalid char 'f' in expression\n"},
           {"99999999999999999999999", "number too large\n"},
       }) {
    p = Parse(c.line, kCalc, "calc_dirty_rate");
    EXPECT_FALSE(p.args) << c.line;
    EXPECT_EQ(p.text.monitor, c.message) << c.line;
  }
}

TEST(HmpArgumentsTest, ExpressionsWrapInsteadOfTrapping) {
  Parsed p = Parse("(-9223372036854775807-1)/-1", "n:l");
  ASSERT_TRUE(p.args);
  EXPECT_EQ(p.args->Int("n", 0), INT64_MIN);
  p = Parse("(-9223372036854775807-1)%-1", "n:l");
  ASSERT_TRUE(p.args);
  EXPECT_EQ(p.args->Int("n", 1), 0);
  p = Parse("0xffffffffffffffff+2", "n:l");
  ASSERT_TRUE(p.args);
  EXPECT_EQ(p.args->Int("n", 0), 1);
}

TEST(HmpArgumentsTest, ThirtyTwoBitIntegers) {
  Parsed p = Parse("0x100000000", "n:i", "cmd");
  EXPECT_FALSE(p.args);
  EXPECT_EQ(p.text.monitor, "'cmd' has failed: integer is for 32-bit values\n");
  p = Parse("0xffffffff", "n:i", "cmd");
  ASSERT_TRUE(p.args);
  EXPECT_EQ(p.args->Int("n", 0), 0xffffffff);
}

TEST(HmpArgumentsTest, UnknownTypeIsReported) {
  Parsed p = Parse("x", "a:z", "cmd");
  EXPECT_FALSE(p.args);
  EXPECT_EQ(p.text.monitor, "cmd: unknown type 'z'\n");
}

}  // namespace
}  // namespace migemu::monitor
