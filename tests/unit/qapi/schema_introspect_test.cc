// query-qmp-schema of the real schema: it parses with the generated SchemaInfo visitor
// and round-trips, and has the shape QEMU 7.2 gives it.
#include <absl/status/status.h>
#include <absl/strings/string_view.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <map>
#include <string>
#include <vector>

#include "qapi/qapi-introspect.h"
#include "qapi/qapi-types-introspect.h"
#include "qapi/qapi-visit-introspect.h"
#include "qapi/runtime.h"
#include "tests/unit/qapi/json_test_util.h"

namespace migemu::qapi {
namespace {

using testing::JsonEq;

rapidjson::Document SchemaDocument() {
  absl::string_view text = QmpSchemaJson();
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  EXPECT_FALSE(doc.HasParseError());
  return doc;
}

TEST(SchemaIntrospectTest, ParsesAsSchemaInfoListAndRoundTrips) {
  rapidjson::Document doc = SchemaDocument();
  InputPath path;
  std::vector<SchemaInfo> infos;
  absl::Status status = FromJson(doc, path, &infos);
  ASSERT_TRUE(status.ok()) << status;
  ASSERT_EQ(infos.size(), doc.Size());
  rapidjson::Document out = ToDocument(infos);
  EXPECT_TRUE(out == doc);
}

TEST(SchemaIntrospectTest, ShapeOfMigrationEntries) {
  rapidjson::Document doc = SchemaDocument();
  std::map<std::string, const rapidjson::Value*> by_name;
  for (const rapidjson::Value& info : doc.GetArray()) {
    by_name[info["name"].GetString()] = &info;
  }
  auto get = [&](const std::string& name) -> const rapidjson::Value& {
    EXPECT_EQ(by_name.count(name), 1u) << name;
    return *by_name[name];
  };
  const rapidjson::Value& set_params = get("migrate-set-parameters");
  EXPECT_STREQ(set_params["meta-type"].GetString(), "command");
  const rapidjson::Value& params = get(set_params["arg-type"].GetString());
  EXPECT_STREQ(params["meta-type"].GetString(), "object");
  bool found_channels = false;
  for (const rapidjson::Value& member : params["members"].GetArray()) {
    if (std::string(member["name"].GetString()) == "multifd-channels") {
      found_channels = true;
      EXPECT_TRUE(JsonEq(member, R"({"name": "multifd-channels", "type": "int",
                                     "default": null})"));
    }
    if (std::string(member["name"].GetString()) == "tls-creds") {
      const rapidjson::Value& alt = get(member["type"].GetString());
      EXPECT_STREQ(alt["meta-type"].GetString(), "alternate");
      EXPECT_TRUE(JsonEq(alt["members"], R"([{"type": "str"}, {"type": "null"}])"));
    }
  }
  EXPECT_TRUE(found_channels);
  const rapidjson::Value& migration = get("MIGRATION");
  EXPECT_STREQ(migration["meta-type"].GetString(), "event");
  const rapidjson::Value& arg = get(migration["arg-type"].GetString());
  const rapidjson::Value& status = get(arg["members"][0]["type"].GetString());
  EXPECT_STREQ(status["meta-type"].GetString(), "enum");
  EXPECT_STREQ(status["values"][0].GetString(), "none");
  // Commands without arguments or results refer to the empty object type.
  const rapidjson::Value& cancel = get("migrate_cancel");
  EXPECT_TRUE(JsonEq(get(cancel["arg-type"].GetString())["members"], "[]"));
  EXPECT_STREQ(cancel["ret-type"].GetString(), cancel["arg-type"].GetString());
  EXPECT_TRUE(JsonEq(get("str"), R"({"name": "str", "meta-type": "builtin",
                                     "json-type": "string"})"));
}

}  // namespace
}  // namespace migemu::qapi
