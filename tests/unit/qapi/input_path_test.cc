#include "qapi/input_path.h"

#include <absl/status/status.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <cstdint>
#include <string>
#include <vector>

#include "qapi/runtime.h"
#include "tests/unit/qapi/json_test_util.h"

namespace migemu::qapi {
namespace {

using testing::ParseJson;

TEST(InputPathTest, RootHasNoName) {
  InputPath path;
  EXPECT_EQ(path.FullName(), "<anonymous>");
  EXPECT_EQ(path.LocalName(), "null");
  EXPECT_EQ(path.TypeError("object").message(),
            "Invalid parameter type for '<anonymous>', expected: object");
}

TEST(InputPathTest, NestedNamesFollowQemu) {
  rapidjson::Document doc = ParseJson(R"({"caps": [{"state": 1}, {"state": 2}]})");
  InputPath path;
  ASSERT_TRUE(path.StartObject(doc).ok());
  const rapidjson::Value* caps = path.Member(doc, "caps");
  ASSERT_NE(caps, nullptr);
  EXPECT_EQ(path.FullName(), "caps");
  ASSERT_TRUE(path.StartList(*caps).ok());
  path.NextElement();
  path.NextElement();
  EXPECT_EQ(path.FullName(), "caps[1]");
  EXPECT_EQ(path.LocalName(), "null");
  const rapidjson::Value& element = (*caps)[1];
  ASSERT_TRUE(path.StartObject(element).ok());
  EXPECT_NE(path.Member(element, "state"), nullptr);
  EXPECT_EQ(path.FullName(), "caps[1].state");
  EXPECT_EQ(path.LocalName(), "state");
  EXPECT_EQ(path.Member(element, "absent"), nullptr);
  EXPECT_EQ(path.MissingError().message(), "Parameter 'caps[1].absent' is missing");
  EXPECT_EQ(path.RangeError("uint8_t").message(), "Parameter 'absent' expects uint8_t");
  EXPECT_TRUE(path.CheckObject().ok());
  path.EndObject();
  EXPECT_EQ(path.FullName(), "caps[1]");
  path.EndList();
  EXPECT_EQ(path.FullName(), "caps");
  path.EndObject();
  EXPECT_EQ(path.depth(), 0u);
}

TEST(InputPathTest, UnconsumedMemberIsUnexpected) {
  rapidjson::Document doc = ParseJson(R"({"a": {"b": 1, "c": 2}})");
  InputPath path;
  ASSERT_TRUE(path.StartObject(doc).ok());
  const rapidjson::Value* a = path.Member(doc, "a");
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(path.StartObject(*a).ok());
  ASSERT_NE(path.Member(*a, "b"), nullptr);
  EXPECT_EQ(path.CheckObject().message(), "Parameter 'a.c' is unexpected");
  path.EndObject();
  EXPECT_TRUE(path.CheckObject().ok());
  path.EndObject();
}

TEST(InputPathTest, WrongContainerTypes) {
  rapidjson::Document doc = ParseJson(R"([1])");
  InputPath path;
  EXPECT_EQ(path.StartObject(doc).message(),
            "Invalid parameter type for '<anonymous>', expected: object");
  EXPECT_EQ(path.depth(), 0u);
  rapidjson::Document obj = ParseJson(R"({})");
  EXPECT_EQ(path.StartList(obj).message(),
            "Invalid parameter type for '<anonymous>', expected: array");
}

TEST(InputPathTest, CheckNoArguments) {
  EXPECT_TRUE(CheckNoArguments(nullptr).ok());
  rapidjson::Document empty = ParseJson("{}");
  EXPECT_TRUE(CheckNoArguments(&empty).ok());
  rapidjson::Document extra = ParseJson(R"({"a": 1})");
  EXPECT_EQ(CheckNoArguments(&extra).message(), "Parameter 'a' is unexpected");
}

TEST(InputPathTest, ListOfScalarsNamesElementsNull) {
  rapidjson::Document doc = ParseJson(R"([1, 300])");
  InputPath path;
  std::vector<uint8_t> out;
  EXPECT_EQ(FromJson(doc, path, &out).message(), "Parameter 'null' expects uint8_t");
  rapidjson::Document strings = ParseJson(R"(["a", 2])");
  std::vector<std::string> names;
  EXPECT_EQ(FromJson(strings, path, &names).message(),
            "Invalid parameter type for '[1]', expected: string");
  EXPECT_EQ(path.depth(), 0u);
}

}  // namespace
}  // namespace migemu::qapi
