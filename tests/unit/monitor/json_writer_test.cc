#include "monitor/json_writer.h"

#include <absl/strings/str_cat.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "monitor/json_parser.h"
#include "qapi/qdict_order.h"
#include "tests/unit/monitor/qemu_recording.h"

namespace migemu::monitor {
namespace {

using Alloc = rapidjson::Document::AllocatorType;

rapidjson::Value Str(absl::string_view s, Alloc& a) {
  return rapidjson::Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
}

std::string Quoted(absl::string_view s) {
  std::string out;
  AppendQmpJsonString(s, &out);
  return out;
}

TEST(JsonWriterTest, Scalars) {
  EXPECT_EQ(FormatQmpJson(rapidjson::Value()), "null");
  EXPECT_EQ(FormatQmpJson(rapidjson::Value(true)), "true");
  EXPECT_EQ(FormatQmpJson(rapidjson::Value(false)), "false");
  EXPECT_EQ(FormatQmpJson(rapidjson::Value(int64_t{0})), "0");
  EXPECT_EQ(FormatQmpJson(rapidjson::Value(std::numeric_limits<int64_t>::min())),
            "-9223372036854775808");
  EXPECT_EQ(FormatQmpJson(rapidjson::Value(std::numeric_limits<int64_t>::max())),
            "9223372036854775807");
  EXPECT_EQ(FormatQmpJson(rapidjson::Value(std::numeric_limits<uint64_t>::max())),
            "18446744073709551615");
  EXPECT_EQ(FormatQmpJson(rapidjson::Value(uint64_t{5})), "5");
  EXPECT_EQ(FormatQmpJson(rapidjson::Value(-7)), "-7");
  EXPECT_EQ(FormatQmpJson(rapidjson::Value(1.0)), "1");
  EXPECT_EQ(FormatQmpJson(rapidjson::Value(0.1)), "0.10000000000000001");
  EXPECT_EQ(FormatQmpJson(rapidjson::Value(-0.0)), "-0");
  EXPECT_EQ(FormatQmpJson(rapidjson::Value(1e300)), "1.0000000000000001e+300");
}

TEST(JsonWriterTest, ContainersUseQemuSeparators) {
  rapidjson::Document d;
  d.SetArray();
  auto& a = d.GetAllocator();
  d.PushBack(1, a);
  d.PushBack(rapidjson::Value(rapidjson::kArrayType), a);
  d.PushBack(rapidjson::Value(rapidjson::kObjectType), a);
  rapidjson::Value o(rapidjson::kObjectType);
  o.AddMember("k", Str("v", a), a);
  d.PushBack(o, a);
  EXPECT_EQ(FormatQmpJson(d), R"([1, [], {}, {"k": "v"}])");
}

TEST(JsonWriterTest, StringEscapesAsQuotedStr) {
  struct Case {
    std::string in;
    std::string out;
  };
  const Case cases[] = {
      {"plain", R"("plain")"},
      {"\"\\/", R"("\"\\/")"},
      {"\b\f\n\r\t", R"("\b\f\n\r\t")"},
      {"\x01\x1f\x7f", R"("\u0001\u001F\u007F")"},
      {"'", R"("'")"},
      {"\xc3\xa9\xe2\x82\xac", R"("\u00E9\u20AC")"},
      {"\xf0\x9f\x98\x80", R"("\uD83D\uDE00")"},
      {"\xf4\x8f\xbf\xbd", R"("\uDBFF\uDFFD")"},
      {"\xc0\x80", R"("\u0000")"},                // modified UTF-8 NUL
      {std::string("a\0b", 3), R"("a\u0000b")"},  // a real NUL byte is U+0000 too
      {"\xff", R"("\uFFFD")"},                    // one replacement per invalid sequence
      {"\x80\x80", R"("\uFFFD\uFFFD")"},
      {"\xc3(", R"("\uFFFD(")"},    // truncated: the next byte is kept
      {"\xe2\x82", R"("\uFFFD")"},  // lead + continuation: one sequence
      {"\xe2\x82x", R"("\uFFFDx")"},
      {"\xed\xa0\x80", R"("\uFFFD")"},          // surrogate
      {"\xef\xbf\xbf", R"("\uFFFD")"},          // noncharacter
      {"\xc1\x81", R"("\uFFFD")"},              // overlong
      {"\xf8\x88\x80\x80\x80", R"("\uFFFD")"},  // 5-byte form, one sequence
      {"\xf4\x90\x80\x80", R"("\uFFFD")"},      // beyond U+10FFFF
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Quoted(c.in), c.out) << testing::PrintToString(c.in);
  }
}

TEST(JsonWriterTest, DoublesMatchPrintfG17) {
  std::vector<double> values = {0.0,
                                -0.0,
                                1.0,
                                0.1,
                                1.0 / 3,
                                1e21,
                                1e22,
                                123456789.123456789,
                                5e-7,
                                4.9406564584124654e-324,
                                2.2250738585072014e-308,
                                1.7976931348623157e308,
                                std::numeric_limits<double>::infinity(),
                                -std::numeric_limits<double>::infinity(),
                                std::nan(""),
                                -std::nan("")};
  std::mt19937_64 rng(7);
  for (int i = 0; i < 100000; ++i) {
    uint64_t bits = rng();
    double d;
    std::memcpy(&d, &bits, sizeof(d));
    values.push_back(d);
  }
  for (double d : values) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%.17g", d);
    ASSERT_EQ(FormatQmpDouble(d), buf);
  }
}

TEST(JsonWriterTest, ObjectMembersInQdictOrder) {
  // QdictBucket: "major" 481, "minor" and "micro" 225: inserted major, minor, micro.
  rapidjson::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  d.AddMember("major", 7, a);
  d.AddMember("minor", 2, a);
  d.AddMember("micro", 22, a);
  EXPECT_EQ(FormatQmpJson(d), R"({"micro": 22, "minor": 2, "major": 7})");

  // Large object: buckets ascending, and within a bucket the later key first.
  rapidjson::Document big(rapidjson::kObjectType);
  for (int i = 0; i < 3000; ++i) {
    big.AddMember(Str(absl::StrCat("k", i), big.GetAllocator()), rapidjson::Value(i),
                  big.GetAllocator());
  }
  absl::StatusOr<rapidjson::Document> back = ParseQmpJson(FormatQmpJson(big));
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->MemberCount(), 3000u);
  uint32_t last_bucket = 0;
  int64_t last_index = -1;
  for (const auto& m : back->GetObject()) {
    const uint32_t b = qapi::QdictBucket(m.name.GetString());
    const int64_t index = m.value.GetInt64();  // the insertion index
    ASSERT_GE(b, last_bucket);
    if (b == last_bucket && last_index >= 0) {
      ASSERT_LT(index, last_index) << m.name.GetString();
    }
    last_bucket = b;
    last_index = index;
  }
}

TEST(JsonWriterTest, RepeatedNameActsAsQdictReplace) {
  // qdict_put_obj() on an existing key keeps its place and takes the new value.
  for (int filler : {0, 40}) {  // small objects and the hashed path
    rapidjson::Document d(rapidjson::kObjectType);
    auto& a = d.GetAllocator();
    d.AddMember("a", 1, a);
    d.AddMember("rb", 2, a);  // same bucket as "a" and "rr"
    for (int i = 0; i < filler; ++i) {
      d.AddMember(Str(absl::StrCat("f", i), a), rapidjson::Value(i), a);
    }
    d.AddMember("a", 3, a);
    d.AddMember("rr", 4, a);
    d.AddMember("a", 5, a);
    const std::string text = FormatQmpJson(d);
    EXPECT_THAT(text, testing::HasSubstr(R"("rr": 4, "rb": 2, "a": 5)"));
    EXPECT_EQ(text.find("\"a\": 1"), std::string::npos);
    EXPECT_EQ(text.find("\"a\": 3"), std::string::npos);
  }
}

// The responses QEMU 7.2 printed in command mode (testdata, "writer" section), rebuilt with
// members inserted in the order QEMU inserts them (the QAPI schema's member order, the order of
// the code that builds the dict, or the request's order for an echoed id), must print the same.
void Reorder(rapidjson::Value& v, const std::vector<std::vector<std::string>>& orders, Alloc& a) {
  if (v.IsArray()) {
    for (rapidjson::Value& e : v.GetArray()) {
      Reorder(e, orders, a);
    }
    return;
  }
  if (!v.IsObject() || v.MemberCount() == 0) {
    return;
  }
  for (auto& m : v.GetObject()) {
    Reorder(m.value, orders, a);
  }
  for (const std::vector<std::string>& order : orders) {
    bool all = true;
    for (const auto& m : v.GetObject()) {
      all = all && std::find(order.begin(), order.end(), m.name.GetString()) != order.end();
    }
    if (!all) {
      continue;
    }
    // Find every member's place first: AddMember moves names out of `v`.
    std::vector<rapidjson::Value::MemberIterator> members;
    for (const std::string& name : order) {
      auto it = v.FindMember(name.c_str());
      if (it != v.MemberEnd()) {
        members.push_back(it);
      }
    }
    rapidjson::Value sorted(rapidjson::kObjectType);
    for (const auto& it : members) {
      sorted.AddMember(it->name, it->value, a);
    }
    v = sorted;
    return;
  }
  ADD_FAILURE() << "no insertion order for an object in the test table";
}

TEST(JsonWriterTest, ByteIdenticalToQemuResponses) {
  const std::vector<std::vector<std::string>> orders = {
      {"QMP"},
      {"version", "capabilities"},
      {"qemu", "package"},
      {"major", "minor", "micro"},
      {"return", "id"},
      {"error", "id"},
      {"class", "desc"},
      {"running", "singlestep", "status"},
      {"capability", "state"},
      {"event", "timestamp", "data"},
      {"seconds", "microseconds"},
      {"b", "a"},  // the id {"b": [1, "x"], "a": 2.5} as the request sent it
      // MigrationParameters, qapi/migration.json.
      {"announce-initial",
       "announce-max",
       "announce-rounds",
       "announce-step",
       "compress-level",
       "compress-threads",
       "compress-wait-thread",
       "decompress-threads",
       "throttle-trigger-threshold",
       "cpu-throttle-initial",
       "cpu-throttle-increment",
       "cpu-throttle-tailslow",
       "tls-creds",
       "tls-hostname",
       "tls-authz",
       "max-bandwidth",
       "downtime-limit",
       "x-checkpoint-delay",
       "block-incremental",
       "multifd-channels",
       "xbzrle-cache-size",
       "max-postcopy-bandwidth",
       "max-cpu-throttle",
       "multifd-compression",
       "multifd-zlib-level",
       "multifd-zstd-level",
       "block-bitmap-mapping"},
  };
  const rapidjson::Document recording = testing_internal::LoadRecording();
  int lines = 0;
  for (const rapidjson::Value& w : recording["writer"].GetArray()) {
    SCOPED_TRACE(w["name"].GetString());
    for (const std::string& line : testing_internal::CaseResponses(w["responses"])) {
      absl::StatusOr<rapidjson::Document> v = ParseQmpJson(line);
      ASSERT_TRUE(v.ok()) << v.status();
      Reorder(*v, orders, v->GetAllocator());
      EXPECT_EQ(FormatQmpJson(*v), line);
      ++lines;
    }
  }
  EXPECT_GE(lines, 14);
}

}  // namespace
}  // namespace migemu::monitor
