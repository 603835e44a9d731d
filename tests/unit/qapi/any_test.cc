#include "qapi/any.h"

#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <string>
#include <utility>

#include "tests/unit/qapi/json_test_util.h"

namespace migemu::qapi {
namespace {

using testing::JsonEq;
using testing::ParseJson;

TEST(AnyTest, DefaultIsNull) {
  Any any;
  EXPECT_TRUE(any.value().IsNull());
  EXPECT_EQ(any.ToJsonText(), "null");
}

TEST(AnyTest, ParseAndPrint) {
  absl::StatusOr<Any> any = Any::Parse(R"({"a": [1, 2.5, "x", null, true]})");
  ASSERT_TRUE(any.ok()) << any.status();
  EXPECT_EQ(any->ToJsonText(), R"({"a":[1,2.5,"x",null,true]})");
}

TEST(AnyTest, ParseRejectsMalformedText) {
  absl::StatusOr<Any> any = Any::Parse("{\"a\": ");
  ASSERT_FALSE(any.ok());
  EXPECT_EQ(any.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(any.status().message()), ::testing::HasSubstr("invalid JSON"));
}

TEST(AnyTest, CopiesAreDeepAndCompareByValue) {
  rapidjson::Document doc = ParseJson(R"({"x": {"y": 1}, "z": [1]})");
  Any a(doc);
  doc["x"]["y"].SetInt(2);  // the Any holds its own copy
  EXPECT_TRUE(JsonEq(a.value(), R"({"x": {"y": 1}, "z": [1]})"));
  Any b = a;
  EXPECT_EQ(a, b);
  absl::StatusOr<Any> reordered = Any::Parse(R"({"z": [1], "x": {"y": 1}})");
  ASSERT_TRUE(reordered.ok());
  EXPECT_EQ(a, *reordered);
  absl::StatusOr<Any> other = Any::Parse(R"({"z": [2], "x": {"y": 1}})");
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(a == *other);
  Any moved = std::move(b);
  EXPECT_EQ(moved, a);
  Any assigned;
  assigned = moved;
  EXPECT_EQ(assigned, a);
}

TEST(AnyTest, CopyToAnotherDocument) {
  absl::StatusOr<Any> any = Any::Parse(R"(["a", {"b": 3}])");
  ASSERT_TRUE(any.ok());
  rapidjson::Document out;
  any->CopyTo(&out, out.GetAllocator());
  EXPECT_TRUE(JsonEq(out, R"(["a", {"b": 3}])"));
}

}  // namespace
}  // namespace migemu::qapi
