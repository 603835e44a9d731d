// The parser and the writer against a real QEMU 7.2: testdata/qemu72_json_cases.json holds, for
// each input, the lines "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)"
// answered on a fresh QMP connection still in capabilities negotiation (recorded by
// record_qemu_json.py). For each case the input goes through JsonStreamParser, each result is
// answered the way QEMU's dispatcher answers it in that mode, printed with FormatQmpJson, and the
// lines must equal QEMU's byte for byte.
#include <absl/strings/str_cat.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "monitor/json_parser.h"
#include "monitor/json_writer.h"
#include "tests/unit/monitor/qemu_recording.h"

namespace migemu::monitor {
namespace {

using testing_internal::CaseInput;
using testing_internal::CaseResponses;
using testing_internal::LoadRecording;

rapidjson::Value Str(absl::string_view s, rapidjson::Document::AllocatorType& a) {
  return rapidjson::Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
}

// ErrorResponse: qmp_error_response(): {"error": {"class": C, "desc": D}}, members inserted in
// that order.
rapidjson::Document ErrorResponse(absl::string_view error_class, absl::string_view desc) {
  rapidjson::Document rsp(rapidjson::kObjectType);
  auto& a = rsp.GetAllocator();
  rapidjson::Value error(rapidjson::kObjectType);
  error.AddMember("class", Str(error_class, a), a);
  error.AddMember("desc", Str(desc, a), a);
  rsp.AddMember("error", error, a);
  return rsp;
}

// Answer: what QEMU 7.2 sends for one parser result while negotiating capabilities. Only the
// request shapes the recorded cases use are modelled: a parse error, a non-object, and
// {"execute": <string>, "id": <any>} naming a command other than qmp_capabilities. Anything
// else is reported as a failure of the test itself.
std::string Answer(JsonStreamParser::Result& r) {
  if (!r.ok()) {
    return FormatQmpJson(ErrorResponse("GenericError", r.status().message()));
  }
  if (!r->IsObject()) {
    return FormatQmpJson(ErrorResponse("GenericError", "QMP input must be a JSON object"));
  }
  for (const auto& m : r->GetObject()) {
    const absl::string_view name(m.name.GetString(), m.name.GetStringLength());
    if (!(name == "id" || (name == "execute" && m.value.IsString() &&
                           absl::string_view(m.value.GetString()) != "qmp_capabilities"))) {
      ADD_FAILURE() << "request outside the modelled shapes: " << FormatQmpJson(*r);
    }
  }
  // monitor_qmp_dispatch() replaces the desc of CommandNotFound while negotiating; qmp_dispatch()
  // puts "id" last.
  rapidjson::Document rsp = ErrorResponse(
      "CommandNotFound", "Expecting capabilities negotiation with 'qmp_capabilities'");
  auto id = r->FindMember("id");
  if (id != r->MemberEnd()) {
    rsp.AddMember("id", id->value, rsp.GetAllocator());  // moves: `r` is not used again
  }
  return FormatQmpJson(rsp);
}

// Replay: the lines migemu would send for `input` fed in chunks of `chunk` bytes.
std::vector<std::string> Replay(const std::string& input, size_t chunk) {
  JsonStreamParser parser;
  std::vector<std::string> lines;
  JsonStreamParser::Result r;
  for (size_t pos = 0; pos < input.size(); pos += chunk) {
    parser.Feed(absl::string_view(input).substr(pos, chunk));
    while (parser.Next(&r)) {
      lines.push_back(Answer(r));
    }
  }
  return lines;
}

// ExpectSameLines: like EXPECT_EQ on the vectors, but reports only the first difference (some
// cases have a thousand lines).
void ExpectSameLines(const std::vector<std::string>& got, const std::vector<std::string>& want) {
  for (size_t i = 0; i < std::min(got.size(), want.size()); ++i) {
    if (got[i] != want[i]) {
      ADD_FAILURE() << "line " << i << "\n  migemu: " << got[i] << "\n  QEMU:   " << want[i];
      return;
    }
  }
  EXPECT_EQ(got.size(), want.size()) << "line counts differ";
}

const rapidjson::Document& Recording() {
  static const rapidjson::Document recording = LoadRecording();
  return recording;
}

const rapidjson::Value& Cases() { return Recording()["cases"]; }

TEST(QemuJsonTest, RecordingIsFromQemu72) {
  ASSERT_TRUE(Recording().IsObject());
  EXPECT_THAT(std::string(Recording()["qemu"].GetString()),
              testing::StartsWith("QEMU emulator version 7.2."));
  EXPECT_GE(Cases().Size(), 150u);
}

TEST(QemuJsonTest, EveryCaseWholeInput) {
  for (const rapidjson::Value& c : Cases().GetArray()) {
    SCOPED_TRACE(c["name"].GetString());
    const std::string input = CaseInput(c["input"]);
    ExpectSameLines(Replay(input, input.size() + 1), CaseResponses(c["responses"]));
  }
}

TEST(QemuJsonTest, EveryCaseInOddChunks) {
  for (const rapidjson::Value& c : Cases().GetArray()) {
    SCOPED_TRACE(c["name"].GetString());
    const std::string input = CaseInput(c["input"]);
    // QEMU reads one byte at a time; small cases are fed like that, big ones in odd sizes.
    const size_t chunk = input.size() < 100000 ? 1 : 65521;
    ExpectSameLines(Replay(input, chunk), CaseResponses(c["responses"]));
  }
}

TEST(QemuJsonTest, SmallCasesSplitAtEveryPosition) {
  for (const rapidjson::Value& c : Cases().GetArray()) {
    const std::string input = CaseInput(c["input"]);
    if (input.size() > 200) {
      continue;
    }
    SCOPED_TRACE(c["name"].GetString());
    const std::vector<std::string> want = CaseResponses(c["responses"]);
    for (size_t cut = 0; cut <= input.size(); ++cut) {
      JsonStreamParser parser;
      std::vector<std::string> got;
      JsonStreamParser::Result r;
      parser.Feed(absl::string_view(input).substr(0, cut));
      while (parser.Next(&r)) {
        got.push_back(Answer(r));
      }
      parser.Feed(absl::string_view(input).substr(cut));
      while (parser.Next(&r)) {
        got.push_back(Answer(r));
      }
      ASSERT_EQ(got, want) << "cut at " << cut;
    }
  }
}

TEST(QemuJsonTest, TheBigCasesAreRecorded) {
  // The limits are only covered if the big recordings are there.
  std::vector<std::string> names;
  for (const rapidjson::Value& c : Cases().GetArray()) {
    names.emplace_back(c["name"].GetString());
  }
  for (const char* big :
       {"count-limit-ok", "count-limit-exceeded", "count-limit-exceeded-early", "size-string-ok",
        "size-string-exceeded", "size-string-at-lexer-limit", "size-string-lexer-cut-exact",
        "size-string-lexer-cut", "size-sum-ok", "size-sum-exceeded", "size-sum-exceeded-mid",
        "size-number-lexer-cut", "nesting-1025"}) {
    EXPECT_THAT(names, testing::Contains(big));
  }
}

}  // namespace
}  // namespace migemu::monitor
