// Helpers for the QAPI unit tests: parse JSON text, print a value, compare DOMs.
#ifndef MIGEMU_TESTS_UNIT_QAPI_JSON_TEST_UTIL_H_
#define MIGEMU_TESTS_UNIT_QAPI_JSON_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string>

namespace migemu::qapi::testing {

// ParseJson parses `text`, failing the current test on malformed input.
inline rapidjson::Document ParseJson(const std::string& text) {
  rapidjson::Document doc;
  doc.Parse(text.c_str(), text.size());
  EXPECT_FALSE(doc.HasParseError()) << "bad test JSON: " << text;
  return doc;
}

// JsonText prints `v` compactly (member order as stored).
inline std::string JsonText(const rapidjson::Value& v) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  v.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

// JsonEq compares two JSON texts as DOMs (object member order does not matter).
inline ::testing::AssertionResult JsonEq(const rapidjson::Value& actual,
                                         const std::string& expected) {
  rapidjson::Document want = ParseJson(expected);
  if (actual == want) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "got " << JsonText(actual) << ", want " << expected;
}

}  // namespace migemu::qapi::testing

#endif  // MIGEMU_TESTS_UNIT_QAPI_JSON_TEST_UTIL_H_
