// File: tests/unit/monitor/qemu_recording.h
//
// Reads testdata/qemu72_json_cases.json, the answers of a real QEMU 7.2 recorded by
// record_qemu_json.py. The file is plain JSON read with RapidJSON's own (standard) parser, not
// with the parser under test.
#ifndef MIGEMU_TESTS_UNIT_MONITOR_QEMU_RECORDING_H_
#define MIGEMU_TESTS_UNIT_MONITOR_QEMU_RECORDING_H_

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace migemu::monitor::testing_internal {

inline constexpr const char* kRecordingPath = MIGEMU_MONITOR_TESTDATA "/qemu72_json_cases.json";

// LoadRecording: the whole file; fails the calling test if it cannot be read.
inline rapidjson::Document LoadRecording() {
  std::ifstream in(kRecordingPath, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << kRecordingPath;
  std::stringstream text;
  text << in.rdbuf();
  rapidjson::Document doc;
  doc.Parse(text.str().c_str());
  EXPECT_FALSE(doc.HasParseError()) << rapidjson::GetParseError_En(doc.GetParseError());
  return doc;
}

// Latin1Bytes: the recorder writes each input byte as the code point of the same value; RapidJSON
// hands them back UTF-8 encoded.
inline std::string Latin1Bytes(const rapidjson::Value& s) {
  std::string out;
  const std::string utf8(s.GetString(), s.GetStringLength());
  for (size_t i = 0; i < utf8.size(); ++i) {
    const auto c = static_cast<unsigned char>(utf8[i]);
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else {
      // Code points 0x80..0xFF are two bytes: 110000xx 10xxxxxx.
      out.push_back(static_cast<char>(((c & 0x03) << 6) | (utf8[++i] & 0x3F)));
    }
  }
  return out;
}

// CaseInput: the bytes of a case's "input" pieces.
inline std::string CaseInput(const rapidjson::Value& pieces) {
  std::string out;
  for (const rapidjson::Value& p : pieces.GetArray()) {
    if (p.IsString()) {
      out += Latin1Bytes(p);
      continue;
    }
    const std::string unit = Latin1Bytes(p["repeat"]);
    const auto count = static_cast<size_t>(p["count"].GetInt64());
    if (unit.size() == 1) {
      out.append(count, unit[0]);
      continue;
    }
    out.reserve(out.size() + unit.size() * count);
    for (size_t i = 0; i < count; ++i) {
      out += unit;
    }
  }
  return out;
}

// CaseResponses: the recorded lines, run-length entries expanded.
inline std::vector<std::string> CaseResponses(const rapidjson::Value& responses) {
  std::vector<std::string> out;
  for (const rapidjson::Value& r : responses.GetArray()) {
    if (r.IsString()) {
      out.emplace_back(r.GetString(), r.GetStringLength());
      continue;
    }
    out.insert(out.end(), r["count"].GetInt64(),
               std::string(r["line"].GetString(), r["line"].GetStringLength()));
  }
  return out;
}

}  // namespace migemu::monitor::testing_internal

#endif  // MIGEMU_TESTS_UNIT_MONITOR_QEMU_RECORDING_H_
