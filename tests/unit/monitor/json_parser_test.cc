// Hand-written cases for JsonStreamParser. Expected texts are QEMU 7.2's; the same situations
// are also checked against answers recorded from the real binary in qemu_json_test.cc.
#include "monitor/json_parser.h"

#include <absl/strings/str_cat.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "monitor/errors.h"
#include "monitor/json_writer.h"

namespace migemu::monitor {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

// Take: every available result as "V <value as QEMU prints it>" or "E <error text>".
std::vector<std::string> Take(JsonStreamParser& parser) {
  std::vector<std::string> out;
  JsonStreamParser::Result r;
  while (parser.Next(&r)) {
    out.push_back(r.ok() ? "V " + FormatQmpJson(*r) : "E " + std::string(r.status().message()));
  }
  return out;
}

std::vector<std::string> ParseAll(absl::string_view input) {
  JsonStreamParser parser;
  parser.Feed(input);
  return Take(parser);
}

// FeedAndTake: Feed then Take.
std::vector<std::string> FeedAndTake(JsonStreamParser& parser, absl::string_view input) {
  parser.Feed(input);
  return Take(parser);
}

std::string E(absl::string_view text) { return absl::StrCat("E ", text); }
std::string V(absl::string_view text) { return absl::StrCat("V ", text); }

struct Case {
  const char* name;
  std::string input;
  std::vector<std::string> expected;
};

std::string Bytes(const char* s, size_t n) { return std::string(s, n); }

const std::vector<Case>& Cases() {
  static const auto* cases = new std::vector<Case>{
      // Values and framing.
      {"object", R"({"execute": "x", "id": 1})", {V(R"({"execute": "x", "id": 1})")}},
      {"two values in one chunk", "{}[]", {V("{}"), V("[]")}},
      {"whitespace between", " \t\r\n{} \n [1] ", {V("{}"), V("[1]")}},
      {"top-level string ends at its quote", R"("s")", {V(R"("s")")}},
      {"top-level number waits for the next byte", "42", {}},
      {"top-level number ended by a space", "42 ", {V("42")}},
      {"top-level number ended by a value", "42{}", {V("42"), V("{}")}},
      {"top-level keyword waits", "true", {}},
      {"keywords", "true false null ", {V("true"), V("false"), V("null")}},
      {"pending object", R"({"a": 1)", {}},
      {"nested", R"({"a": [1, {"b": []}], "c": {}})", {V(R"({"a": [1, {"b": []}], "c": {}})")}},
      {"single-quoted strings", R"(['a"b', 'it\'s', "it's"])", {V(R"(["a\"b", "it's", "it's"])")}},
      {"escapes", R"("\"\\\/\b\f\n\r\t\'")", {V(R"("\"\\/\b\f\n\r\t'")")}},
      {"unicode escapes",
       R"("\u0041\u00e9\u20AC\ud83d\ude00")",
       {V(R"("A\u00E9\u20AC\uD83D\uDE00")")}},
      {"u0000 is kept", R"("a\u0000b")", {V(R"("a\u0000b")")}},
      {"percent is a plain character in strings", R"("100%")", {V(R"("100%")")}},
      // Numbers.
      {"integers",
       "[0, -0, 9223372036854775807, -9223372036854775808]",
       {V("[0, 0, 9223372036854775807, -9223372036854775808]")}},
      {"uint64 range",
       "[9223372036854775808, 18446744073709551615]",
       {V("[9223372036854775808, 18446744073709551615]")}},
      {"beyond 64 bits is a double",
       "[18446744073709551616, -9223372036854775809]",
       {V("[1.8446744073709552e+19, -9.2233720368547758e+18]")}},
      {"floats",
       "[1.5, 0.1, 1.0, -0.0, 1e3, 1E+3, 1e-3]",
       {V("[1.5, 0.10000000000000001, 1, -0, 1000, 1000, 0.001]")}},
      {"overflow is infinite", "[1e999, -1e999, 1e-999]", {V("[inf, -inf, 0]")}},
      // Lexical errors and recovery.
      {"stray", "@{}", {E("JSON parse error, stray '@'"), V("{}")}},
      {"stray percent: no interpolation on QMP",
       "%d{}",
       {E("JSON parse error, stray '%'"), V("{}")}},
      {"stray text includes the token so far",
       "-x 1.x 1e+x 01 ",
       {E("JSON parse error, stray '-x'")}},
      {"recovery skips to a structural character",
       "-x 1.x 1e+x 01 []",
       {E("JSON parse error, stray '-x'"), V("[]")}},
      {"recovery stops at a newline",
       "@abc\n1.x\n[]",
       {E("JSON parse error, stray '@'"), E("JSON parse error, stray '1.x'"), V("[]")}},
      {"recovery does not stop at a tab", "@a\tb{}", {E("JSON parse error, stray '@'"), V("{}")}},
      {"recovery ignores quotes", "@\"{\" ", {E("JSON parse error, stray '@'")}},
      {"recovery stops at a colon",
       "@a:{}",
       {E("JSON parse error, stray '@'"), E(kJsonExpectingValue), V("{}")}},
      {"a stray drops the pending value",
       R"({"a": [1, @]} {})",
       {E("JSON parse error, stray '@'"), E(kJsonExpectingValue), E(kJsonExpectingValue), V("{}")}},
      {"control character in a string",
       "\"ab\x01\" {}",
       {E("JSON parse error, stray '\"ab\x01'"), V("{}")}},
      {"newline in a string",
       "[\"a\nb\"] {}",
       {E("JSON parse error, stray '\"a\n'"), E(kJsonExpectingValue), V("{}")}},
      {"NUL cuts the stray text",
       Bytes("\"ab\0cd\"\n{}", 10),
       {E("JSON parse error, stray '\"ab'"), V("{}")}},
      {"lone NUL", Bytes("\0{}", 3), {E("JSON parse error, stray ''"), V("{}")}},
      {"0xFF outside a string", "\xff{}", {E("JSON parse error, stray '\xff'"), V("{}")}},
      {"0xFF ends recovery and is stray again",
       "@a\xff{}",
       {E("JSON parse error, stray '@'"), E("JSON parse error, stray '\xff'"), V("{}")}},
      {"0xFD does not end recovery", "@a\xfd{}", {E("JSON parse error, stray '@'"), V("{}")}},
      {"UTF-8 outside a string", "\xc3\xa9{}", {E("JSON parse error, stray '\xc3'"), V("{}")}},
      // Syntax errors: reported when the brackets balance.
      {"missing colon", R"({"a" 1})", {E(kJsonMissingColon)}},
      {"separator in dict", R"({"a": 1 "b": 2})", {E(kJsonExpectedSeparatorInDict)}},
      {"separator in list", "[1 2]", {E(kJsonExpectedSeparatorInList)}},
      {"trailing comma", "[1,]", {E(kJsonExpectingValue)}},
      {"key not a string", "{1: 2}", {E(kJsonKeyNotString)}},
      {"key is an object", R"({{"a": 1}: 2})", {E(kJsonKeyNotString)}},
      {"error inside a key object wins", R"({{"a" 1}: 2})", {E(kJsonMissingColon)}},
      {"duplicate key", R"({"a": 1, 'a': 2})", {E(kJsonDuplicateKey)}},
      {"duplicate key found after the value",
       R"({"a": 1, "a": [1 2]})",
       {E(kJsonExpectedSeparatorInList)}},
      {"invalid keyword", "[nul]", {E("JSON parse error, invalid keyword 'nul'")}},
      {"first error wins", R"([nope, {"a" 1}])", {E("JSON parse error, invalid keyword 'nope'")}},
      {"error waits for balance", "[1 2", {}},
      {"closing bracket alone", "]", {E(kJsonExpectingValue)}},
      {"mismatched brackets end the value", "[}", {E(kJsonExpectingValue)}},
      {"mismatch inside waits for balance", R"({"a": [})", {}},
      {"extra closer is its own error", "[1]]", {V("[1]"), E(kJsonExpectingValue)}},
      {"invalid escape", R"("\x")", {E(kJsonInvalidEscape)}},
      {"short unicode escape",
       R"("\u12")",
       {E("JSON parse error, \\u12\" is not a valid Unicode character")}},
      {"lone surrogate",
       R"("\uD800x")",
       {E("JSON parse error, \\uD800 is not a valid Unicode character")}},
      {"noncharacter pair",
       R"("\uDBFF\uDFFF")",
       {E("JSON parse error, \\uDBFF\\uDFFF is not a valid Unicode character")}},
      {"invalid UTF-8", "\"\xc3(\"", {E(kJsonInvalidUtf8)}},
      {"overlong UTF-8", "\"\xc1\x81\"", {E(kJsonInvalidUtf8)}},
      {"UTF-8 surrogate", "\"\xed\xa0\x80\"", {E(kJsonInvalidUtf8)}},
      {"modified UTF-8 NUL is accepted", "\"a\xc0\x80z\"", {V(R"("a\u0000z")")}},
  };
  return *cases;
}

TEST(JsonParserTest, Table) {
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.name);
    EXPECT_THAT(ParseAll(c.input), ElementsAreArray(c.expected));
  }
}

TEST(JsonParserTest, SplitAtEveryPosition) {
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.name);
    for (size_t cut = 0; cut <= c.input.size(); ++cut) {
      JsonStreamParser parser;
      std::vector<std::string> got =
          FeedAndTake(parser, (absl::string_view(c.input).substr(0, cut)));
      std::vector<std::string> rest = FeedAndTake(parser, (absl::string_view(c.input).substr(cut)));
      got.insert(got.end(), rest.begin(), rest.end());
      ASSERT_THAT(got, ElementsAreArray(c.expected)) << "cut at " << cut;
    }
  }
}

TEST(JsonParserTest, ByteByByte) {
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.name);
    JsonStreamParser parser;
    std::vector<std::string> got;
    for (char ch : c.input) {
      std::vector<std::string> more = FeedAndTake(parser, (absl::string_view(&ch, 1)));
      got.insert(got.end(), more.begin(), more.end());
    }
    EXPECT_THAT(got, ElementsAreArray(c.expected));
  }
}

TEST(JsonParserTest, AllCasesInOneChunk) {
  // Every case that leaves the parser clean (a newline and "[]" after it give just "[]") is
  // joined with newlines into one input; the results must be the cases' results in order.
  std::string input;
  std::vector<std::string> expected;
  for (const Case& c : Cases()) {
    std::vector<std::string> probe = c.expected;
    probe.push_back(V("[]"));
    if (ParseAll(c.input + "\n[]") != probe) {
      continue;  // ends inside a value or a string
    }
    input += c.input + "\n";
    expected.insert(expected.end(), c.expected.begin(), c.expected.end());
  }
  ASSERT_GT(expected.size(), 50u);
  EXPECT_THAT(ParseAll(input), ElementsAreArray(expected));
}

TEST(JsonParserTest, NumberModel) {
  absl::StatusOr<rapidjson::Document> r = ParseQmpJson(
      "[1, -1, 9223372036854775807, 9223372036854775808, 18446744073709551615,"
      " 18446744073709551616, -9223372036854775809, 1.0, 2e0]");
  ASSERT_TRUE(r.ok()) << r.status();
  const rapidjson::Value& a = *r;
  ASSERT_TRUE(a.IsArray());
  ASSERT_EQ(a.Size(), 9u);
  EXPECT_TRUE(a[0].IsInt64() && !a[0].IsDouble());
  EXPECT_EQ(a[1].GetInt64(), -1);
  EXPECT_TRUE(a[2].IsInt64());
  EXPECT_EQ(a[2].GetInt64(), INT64_MAX);
  EXPECT_TRUE(!a[3].IsInt64() && a[3].IsUint64());
  EXPECT_EQ(a[3].GetUint64(), uint64_t{1} << 63);
  EXPECT_EQ(a[4].GetUint64(), UINT64_MAX);
  // A double never satisfies an integer member.
  for (rapidjson::SizeType i : {5u, 6u, 7u, 8u}) {
    EXPECT_TRUE(a[i].IsDouble()) << i;
    EXPECT_FALSE(a[i].IsInt64() || a[i].IsUint64()) << i;
  }
  EXPECT_EQ(a[7].GetDouble(), 1.0);
}

TEST(JsonParserTest, StringsAreModifiedUtf8) {
  absl::StatusOr<rapidjson::Document> r =
      ParseQmpJson(R"(["a\u0000b", "\u00e9", "\ud83d\ude00", 'x'])");
  ASSERT_TRUE(r.ok()) << r.status();
  const rapidjson::Value& a = *r;
  auto str = [&](rapidjson::SizeType i) {
    return std::string(a[i].GetString(), a[i].GetStringLength());
  };
  EXPECT_EQ(str(0),
            "a\xc0\x80"
            "b");
  EXPECT_EQ(str(1), "\xc3\xa9");
  EXPECT_EQ(str(2), "\xf0\x9f\x98\x80");
  EXPECT_EQ(str(3), "x");
}

TEST(JsonParserTest, ObjectsKeepInputOrder) {
  absl::StatusOr<rapidjson::Document> r = ParseQmpJson(R"({"z": 1, "a": 2, "m": 3})");
  ASSERT_TRUE(r.ok()) << r.status();
  std::vector<std::string> names;
  for (const auto& m : r->GetObject()) {
    names.emplace_back(m.name.GetString());
  }
  EXPECT_THAT(names, ElementsAre("z", "a", "m"));
}

TEST(JsonParserTest, DuplicateKeyInLargeObject) {
  std::string big = "{";
  for (int i = 0; i < 1000; ++i) {
    absl::StrAppend(&big, "\"k", i, "\": ", i, ", ");
  }
  EXPECT_THAT(ParseAll(big + "\"k999\": 0}"), ElementsAre(E(kJsonDuplicateKey)));
  EXPECT_THAT(ParseAll(big + "\"k1000\": 0}"), ElementsAre(testing::StartsWith("V {")));
}

TEST(JsonParserTest, NestingLimit) {
  const std::string ok = std::string(1024, '[') + std::string(1024, ']');
  EXPECT_THAT(ParseAll(ok), ElementsAre(testing::StartsWith("V [[[[")));

  // The 1025th opener is the error; what follows is read afresh, so each of the 1025 closers
  // is a value of its own ("expecting value"), then the next value is fine.
  const std::string deep = std::string(1025, '[') + std::string(1025, ']') + "{}";
  std::vector<std::string> expected = {E(kJsonNestingLimitExceeded)};
  expected.insert(expected.end(), 1025, E(kJsonExpectingValue));
  expected.push_back(V("{}"));
  EXPECT_THAT(ParseAll(deep), ElementsAreArray(expected));

  // Braces and brackets count together.
  std::string mixed;
  for (int i = 0; i < 512; ++i) {
    mixed += "{\"a\":[";
  }
  EXPECT_THAT(ParseAll(mixed + "{"), ElementsAre(E(kJsonNestingLimitExceeded)));
}

TEST(JsonParserTest, TokenCountLimit) {
  // [0,0,...,0] with n zeros is 2n + 1 tokens; 2 Mi tokens are allowed.
  auto array = [](size_t zeros) {
    std::string s = "[";
    for (size_t i = 1; i < zeros; ++i) {
      s += "0,";
    }
    return s + "0]";
  };
  const size_t max_zeros = (kJsonMaxTokenCount - 1) / 2;
  std::vector<std::string> got = ParseAll(array(max_zeros) + "{}");
  ASSERT_EQ(got.size(), 2u);
  EXPECT_THAT(got[0], testing::StartsWith("V [0, 0, "));
  EXPECT_EQ(got[1], V("{}"));
  // One zero more: the closing bracket is token 2 Mi + 1. The error ends the value.
  EXPECT_THAT(ParseAll(array(max_zeros + 1) + "{}"),
              ElementsAre(E(kJsonTokenCountLimitExceeded), V("{}")));
  // Far more: the error comes at token 2 Mi + 1, and the rest ("0,0,...]") is read afresh.
  std::vector<std::string> early = ParseAll(array(max_zeros + 3) + "{}");
  ASSERT_GE(early.size(), 3u);
  EXPECT_EQ(early.front(), E(kJsonTokenCountLimitExceeded));
  EXPECT_EQ(early.back(), V("{}"));
}

TEST(JsonParserTest, TokenSizeLimitOneString) {
  // A string token of L bytes plus its two quotes: the streamer wants L + 2 + 1 <= 64 MiB.
  auto str = [](size_t len) { return "\"" + std::string(len, 'a') + "\""; };
  std::vector<std::string> ok = ParseAll(str(kJsonMaxTokenSize - 3) + " {}");
  ASSERT_EQ(ok.size(), 2u);
  EXPECT_EQ(ok[0].size(), 2 + kJsonMaxTokenSize - 1);
  EXPECT_EQ(ok[1], V("{}"));
  EXPECT_THAT(ParseAll(str(kJsonMaxTokenSize - 2) + " {}"),
              ElementsAre(E(kJsonTokenSizeLimitExceeded), V("{}")));
  // The closing quote makes the token 64 MiB + 1 bytes: the streamer rejects it before the
  // lexer's own check.
  EXPECT_THAT(ParseAll(str(kJsonMaxTokenSize - 1) + " {}"),
              ElementsAre(E(kJsonTokenSizeLimitExceeded), V("{}")));
  // Still open at 64 MiB + 1 bytes: the lexer cuts the token; the closing quote then starts a
  // new string that swallows " {}".
  EXPECT_THAT(ParseAll(str(kJsonMaxTokenSize) + " {}"),
              ElementsAre(E(kJsonTokenSizeLimitExceeded)));
  // Longer: cut after 64 MiB + 1 bytes; the remaining "aaa" is a keyword.
  EXPECT_THAT(
      ParseAll(str(kJsonMaxTokenSize + 3) + " {}"),
      ElementsAre(E(kJsonTokenSizeLimitExceeded), E("JSON parse error, invalid keyword 'aaa'")));
}

TEST(JsonParserTest, TokenSizeLimitSum) {
  // ["A", "B"] with |A| + |B| = S: tokens are 1 + (|A|+2) + 1 + (|B|+2) + 1 bytes and the last
  // check is (S + 6) + 1 + 1 <= 64 MiB.
  auto two = [](size_t a, size_t b) {
    return "[\"" + std::string(a, 'a') + "\", \"" + std::string(b, 'b') + "\"]{}";
  };
  const size_t half = kJsonMaxTokenSize / 2;
  std::vector<std::string> ok = ParseAll(two(half, half - 8));
  ASSERT_EQ(ok.size(), 2u);
  EXPECT_EQ(ok[0].substr(0, 4), "V [\"");
  EXPECT_THAT(ParseAll(two(half, half - 7)), ElementsAre(E(kJsonTokenSizeLimitExceeded), V("{}")));
}

TEST(JsonParserTest, FlushEndsPendingInput) {
  struct FlushCase {
    std::string input;
    std::vector<std::string> expected;
    std::vector<std::string> before_flush = {};
  };
  const FlushCase cases[] = {
      {"42", {V("42")}},
      {"1.5e3", {V("1500")}},
      {"true", {V("true")}},
      {"nul", {E("JSON parse error, invalid keyword 'nul'")}},
      {R"({"a": 1)", {E(kJsonPrematureEoi)}},
      {"[1,", {E(kJsonPrematureEoi)}},
      {R"("abc)", {E("JSON parse error, stray '\"abc'")}},
      {"-", {E("JSON parse error, stray '-'")}},
      {"1.", {E("JSON parse error, stray '1.'")}},
      {"1e+", {E("JSON parse error, stray '1e+'")}},
      {"[1, \"ab", {E("JSON parse error, stray '\"ab'")}},
      {"@abc", {}, {E("JSON parse error, stray '@'")}},
      {"", {}},
  };
  for (const FlushCase& c : cases) {
    SCOPED_TRACE(c.input);
    JsonStreamParser parser;
    EXPECT_THAT(FeedAndTake(parser, c.input), ElementsAreArray(c.before_flush));
    parser.Flush();
    EXPECT_THAT(Take(parser), ElementsAreArray(c.expected));
    // The parser is usable afterwards.
    EXPECT_THAT(FeedAndTake(parser, ("{}")), ElementsAre(V("{}")));
  }
}

TEST(JsonParserTest, ResetDropsPendingInputAndResults) {
  JsonStreamParser parser;
  EXPECT_THAT(FeedAndTake(parser, (R"({} {"a": [1, )")), ElementsAre(V("{}")));
  parser.Reset();
  EXPECT_THAT(FeedAndTake(parser, ("[2]")), ElementsAre(V("[2]")));
  EXPECT_THAT(FeedAndTake(parser, ("@")), ElementsAre(E("JSON parse error, stray '@'")));
  parser.Reset();
  // In recovery "s" would be skipped; after Reset it is a value.
  EXPECT_THAT(FeedAndTake(parser, (R"("s")")), ElementsAre(V(R"("s")")));
}

TEST(JsonParserTest, ParseQmpJson) {
  absl::StatusOr<rapidjson::Document> d = ParseQmpJson(" {'a': [1, 2.5]} \n");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(FormatQmpJson(*d), R"({"a": [1, 2.5]})");
  EXPECT_EQ(FormatQmpJson(*ParseQmpJson("7")), "7");
  EXPECT_EQ(ParseQmpJson("").status().message(), kJsonExpectingAValue);
  EXPECT_EQ(ParseQmpJson("  ").status().message(), kJsonExpectingAValue);
  EXPECT_EQ(ParseQmpJson("1 2").status().message(), kJsonExpectingAtMostOneValue);
  EXPECT_EQ(ParseQmpJson("{} @").status().message(), kJsonExpectingAtMostOneValue);
  EXPECT_EQ(ParseQmpJson("@ {}").status().message(), "JSON parse error, stray '@'");
  EXPECT_EQ(ParseQmpJson("[1").status().message(), kJsonPrematureEoi);
  EXPECT_EQ(ParseQmpJson("[1").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(JsonParserTest, LargeInputIsLinear) {
  // 64 MiB of small values in one Feed: finishes (no quadratic buffering) and yields them all.
  std::string input;
  const std::string unit = R"({"execute": "query-status", "id": [1, 2.5, "s"]} )";
  while (input.size() + unit.size() <= (size_t{64} << 20)) {
    input += unit;
  }
  JsonStreamParser parser;
  parser.Feed(input);
  size_t n = 0;
  JsonStreamParser::Result r;
  while (parser.Next(&r)) {
    ASSERT_TRUE(r.ok()) << r.status();
    ++n;
  }
  EXPECT_EQ(n, input.size() / unit.size());
}

}  // namespace
}  // namespace migemu::monitor
