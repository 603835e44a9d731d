// Runs the libFuzzer entry point on a fixed corpus: every recorded QEMU case (small ones),
// random mutations of them, and random JSON-flavoured byte strings. The properties it checks are
// listed in monitor/json_fuzz.h.
#include "monitor/json_fuzz.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "tests/unit/monitor/qemu_recording.h"

namespace migemu::monitor {
namespace {

absl::Status Fuzz(const std::string& input) {
  return FuzzJsonInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

std::vector<std::string> Seeds() {
  std::vector<std::string> seeds = {
      "",
      R"({"execute": "query-status", "id": {"a": [1, 2.5, -0.0, 1e999, "\u0000"]}})",
      R"(['single', "dq", {"k": null}, true, false, 18446744073709551615])",
      "\"\xc3\xa9\xf0\x9f\x98\x80\xc0\x80\" [\"\\ud83d\\ude00\"]",
  };
  const rapidjson::Document recording = testing_internal::LoadRecording();
  for (const rapidjson::Value& c : recording["cases"].GetArray()) {
    std::string input = testing_internal::CaseInput(c["input"]);
    if (input.size() <= 4096) {
      seeds.push_back(std::move(input));
    }
  }
  return seeds;
}

TEST(JsonFuzzTest, RecordedInputs) {
  for (const std::string& s : Seeds()) {
    ASSERT_TRUE(Fuzz(s).ok()) << Fuzz(s) << "\ninput: " << testing::PrintToString(s);
  }
}

TEST(JsonFuzzTest, MutatedInputs) {
  const std::vector<std::string> seeds = Seeds();
  std::mt19937 rng(12345);
  static constexpr char kInteresting[] =
      "{}[]:,\"'\\-+.0123456789eEtrufalsn \t\r\n\x00\x01\x7f\x80\xbf"
      "\xc0\xc3\xe2\xed\xef\xf0\xf4\xf8\xfe\xff%u";
  const std::string interesting(kInteresting, sizeof(kInteresting) - 1);  // keeps the NUL
  for (int round = 0; round < 20000; ++round) {
    std::string s = seeds[rng() % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const size_t pos = s.empty() ? 0 : rng() % (s.size() + 1);
      const char c = interesting[rng() % interesting.size()];
      switch (rng() % 3) {
        case 0:
          s.insert(pos, 1, c);
          break;
        case 1:
          if (pos < s.size()) {
            s[pos] = c;
          }
          break;
        default:
          if (pos < s.size()) {
            s.erase(pos, 1);
          }
      }
    }
    ASSERT_TRUE(Fuzz(s).ok()) << Fuzz(s) << "\ninput: " << testing::PrintToString(s);
  }
}

TEST(JsonFuzzTest, RandomBytes) {
  std::mt19937 rng(777);
  for (int round = 0; round < 20000; ++round) {
    std::string s(rng() % 64, '\0');
    for (char& c : s) {
      c = static_cast<char>(rng());
    }
    ASSERT_TRUE(Fuzz(s).ok()) << Fuzz(s) << "\ninput: " << testing::PrintToString(s);
  }
}

}  // namespace
}  // namespace migemu::monitor
