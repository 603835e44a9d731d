// query-qmp-schema of the test schema: the shape QEMU 7.2 gives it.
#include <absl/strings/string_view.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <map>
#include <string>

#include "tests/unit/qapi/json_test_util.h"
#include "tests/unit/qapi/qapi-introspect.h"

namespace migemu::qapi {
namespace {

using testing::JsonEq;

class GeneratedIntrospectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::string_view text = QmpSchemaJson();
    doc_.Parse(text.data(), text.size());
    ASSERT_FALSE(doc_.HasParseError());
    ASSERT_TRUE(doc_.IsArray());
    for (const rapidjson::Value& info : doc_.GetArray()) {
      ASSERT_TRUE(info.IsObject());
      ASSERT_TRUE(info.HasMember("name") && info["name"].IsString());
      ASSERT_TRUE(info.HasMember("meta-type") && info["meta-type"].IsString());
      std::string name = info["name"].GetString();
      EXPECT_EQ(by_name_.count(name), 0u) << "duplicate SchemaInfo " << name;
      by_name_[name] = &info;
    }
  }

  const rapidjson::Value& Get(const std::string& name) {
    auto it = by_name_.find(name);
    EXPECT_NE(it, by_name_.end()) << name;
    static const rapidjson::Value kNull;
    return it == by_name_.end() ? kNull : *it->second;
  }

  rapidjson::Document doc_;
  std::map<std::string, const rapidjson::Value*> by_name_;
};

TEST_F(GeneratedIntrospectTest, CommandsComeFirstWithMaskedTypes) {
  // The main module's commands and events, then the included module's.
  EXPECT_STREQ(doc_[0]["name"].GetString(), "test-no-args");
  const rapidjson::Value& no_args = Get("test-no-args");
  EXPECT_STREQ(no_args["meta-type"].GetString(), "command");
  // No arguments and no result: the empty object type, first used here.
  EXPECT_TRUE(JsonEq(Get(no_args["arg-type"].GetString()),
                     R"({"name": "0", "meta-type": "object", "members": []})"));
  EXPECT_STREQ(no_args["ret-type"].GetString(), no_args["arg-type"].GetString());
  EXPECT_FALSE(no_args.HasMember("allow-oob"));
  EXPECT_TRUE(Get("test_underscore")["allow-oob"].GetBool());
  EXPECT_EQ(by_name_.count("test-disabled"), 0u);
  EXPECT_TRUE(JsonEq(Get("test-flags")["features"], R"(["deprecated"])"));
  // 'gen': false only means the marshaller is hand-written: it is still in the schema.
  EXPECT_EQ(by_name_.count("test-hand-written"), 1u);
}

TEST_F(GeneratedIntrospectTest, ObjectMembersDefaultsAndIntegerTypes) {
  const rapidjson::Value& args = Get(Get("test-args")["arg-type"].GetString());
  ASSERT_TRUE(args.IsObject());
  const rapidjson::Value& members = args["members"];
  ASSERT_EQ(members.Size(), 3u);
  EXPECT_TRUE(JsonEq(members[0], R"({"name": "a", "type": "int"})"));
  EXPECT_TRUE(JsonEq(members[1], R"({"name": "b", "type": "str", "default": null})"));
  std::string colors_type = members[2]["type"].GetString();
  ASSERT_EQ(colors_type.front(), '[');
  const rapidjson::Value& array = Get(colors_type);
  EXPECT_STREQ(array["meta-type"].GetString(), "array");
  const rapidjson::Value& color = Get(array["element-type"].GetString());
  EXPECT_TRUE(JsonEq(color["values"], R"(["red", "green", "dark-blue", "x-ultra"])"));
  EXPECT_TRUE(JsonEq(color["members"][3], R"({"name": "x-ultra", "features": ["unstable"]})"));
  // Every integer type is "int"; builtins are named, not masked.
  const rapidjson::Value& inner = Get(Get("test-args")["ret-type"].GetString());
  EXPECT_TRUE(JsonEq(inner["members"],
                     R"([{"name": "x", "type": "int"}, {"name": "y", "type": "int",
                         "default": null}])"));
  EXPECT_TRUE(JsonEq(Get("int"), R"({"name": "int", "meta-type": "builtin",
                                     "json-type": "int"})"));
  EXPECT_EQ(by_name_.count("uint8"), 0u);
}

TEST_F(GeneratedIntrospectTest, UnionsAlternatesAndEvents) {
  const rapidjson::Value& shape = Get(Get("test-boxed-union")["arg-type"].GetString());
  EXPECT_STREQ(shape["tag"].GetString(), "kind");
  ASSERT_EQ(shape["variants"].Size(), 3u);  // point has an implicit empty branch
  EXPECT_STREQ(shape["variants"][2]["case"].GetString(), "point");
  EXPECT_STREQ(shape["variants"][2]["type"].GetString(),
               Get("test-no-args")["arg-type"].GetString());
  EXPECT_TRUE(JsonEq(shape["members"][1], R"({"name": "name", "type": "str", "default": null})"));

  const rapidjson::Value& sub = Get(Get("test-sub-cmd")["arg-type"].GetString());
  const rapidjson::Value& str_or_null = Get(sub["members"][0]["type"].GetString());
  EXPECT_STREQ(str_or_null["meta-type"].GetString(), "alternate");
  EXPECT_TRUE(JsonEq(str_or_null["members"], R"([{"type": "str"}, {"type": "null"}])"));

  const rapidjson::Value& event = Get("TEST_EVENT");
  EXPECT_STREQ(event["meta-type"].GetString(), "event");
  EXPECT_STREQ(event["arg-type"].GetString(), Get("test-no-args")["arg-type"].GetString());
  EXPECT_EQ(by_name_.count("TEST_EVENT_NEVER"), 0u);
}

}  // namespace
}  // namespace migemu::qapi
