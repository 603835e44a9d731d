// The generated command interfaces and registration of the test schema, driven through
// CommandRegistry as the monitor will.
#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "qapi/command_registry.h"
#include "tests/unit/qapi/json_test_util.h"
#include "tests/unit/qapi/qapi-commands.h"

namespace migemu::qapi {
namespace {

using ::testing::ElementsAre;
using testing::JsonEq;
using testing::ParseJson;

// Records what the handlers received and returns canned results.
class FakeTestSchemaCommands final : public TestSchemaCommands {
 public:
  absl::Status TestNoArgs() override {
    ++no_args_calls;
    return absl::OkStatus();
  }
  absl::StatusOr<Inner> TestArgs(const TestArgsArg& arg) override {
    last_args = arg;
    if (arg.a < 0) {
      return absl::FailedPreconditionError("a must not be negative");
    }
    Inner ret;
    ret.x = arg.a * 2;
    ret.y = 7;
    return ret;
  }
  absl::Status TestBoxed(const Derived& arg) override {
    last_derived = arg;
    return absl::OkStatus();
  }
  absl::StatusOr<Shape> TestBoxedUnion(const Shape& arg) override { return arg; }
  absl::Status TestNamedData(const Inner& arg) override {
    last_inner = arg;
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<Inner>> TestReturnsList() override {
    return std::vector<Inner>{Inner{1, std::nullopt}, Inner{2, 3}};
  }
  absl::StatusOr<std::string> TestReturnsStr() override { return std::string("hello"); }
  absl::Status TestUnderscore() override { return absl::OkStatus(); }
  absl::Status TestFlags() override { return absl::OkStatus(); }

  int no_args_calls = 0;
  std::optional<TestArgsArg> last_args;
  std::optional<Derived> last_derived;
  std::optional<Inner> last_inner;
};

class FakeTestSubCommands final : public TestSubCommands {
 public:
  absl::StatusOr<SubThing> TestSubCmd(const TestSubCmdArg& arg) override {
    SubThing thing;
    thing.value = arg.value;
    thing.list = std::vector<std::string>{"from", "sub"};
    return thing;
  }
};

class GeneratedCommandsTest : public ::testing::Test {
 protected:
  GeneratedCommandsTest() {
    RegisterTestSubCommands(registry_, sub_);
    RegisterTestSchemaCommands(registry_, impl_);
  }

  absl::StatusOr<rapidjson::Value> Call(const std::string& name, const char* args_json) {
    const CommandEntry* entry = registry_.Find(name);
    EXPECT_NE(entry, nullptr) << name;
    if (entry == nullptr) {
      return absl::NotFoundError(name);
    }
    if (args_json == nullptr) {
      return registry_.Call(*entry, nullptr, doc_.GetAllocator());
    }
    args_ = ParseJson(args_json);
    return registry_.Call(*entry, &args_, doc_.GetAllocator());
  }

  FakeTestSchemaCommands impl_;
  FakeTestSubCommands sub_;
  CommandRegistry registry_;
  rapidjson::Document doc_;
  rapidjson::Document args_;
};

TEST_F(GeneratedCommandsTest, RegistersEnabledGeneratedCommandsInOrder) {
  EXPECT_THAT(registry_.Names(),
              ElementsAre("test-sub-cmd", "test-no-args", "test-args", "test-boxed",
                          "test-boxed-union", "test-named-data", "test-returns-list",
                          "test-returns-str", "test_underscore", "test-flags"));
  EXPECT_EQ(registry_.Find("test-disabled"), nullptr);      // 'if' is false
  EXPECT_EQ(registry_.Find("test-hand-written"), nullptr);  // 'gen': false
  EXPECT_EQ(registry_.Find("nope"), nullptr);
}

TEST_F(GeneratedCommandsTest, FlagsAreKeptAsData) {
  const CommandEntry* plain = registry_.Find("test-no-args");
  ASSERT_NE(plain, nullptr);
  EXPECT_FALSE(plain->allow_oob);
  EXPECT_FALSE(plain->allow_preconfig);
  EXPECT_FALSE(plain->coroutine);
  EXPECT_TRUE(plain->success_response);
  EXPECT_TRUE(plain->features.empty());
  const CommandEntry* oob = registry_.Find("test_underscore");
  ASSERT_NE(oob, nullptr);
  EXPECT_TRUE(oob->allow_oob);
  EXPECT_TRUE(oob->allow_preconfig);
  const CommandEntry* flags = registry_.Find("test-flags");
  ASSERT_NE(flags, nullptr);
  EXPECT_FALSE(flags->success_response);
  EXPECT_TRUE(flags->coroutine);
  EXPECT_THAT(flags->features, ElementsAre("deprecated"));  // "hidden" is disabled
  const CommandEntry* boxed = registry_.Find("test-boxed");
  ASSERT_NE(boxed, nullptr);
  EXPECT_TRUE(boxed->boxed);
}

TEST_F(GeneratedCommandsTest, NoArgumentsAndNoResult) {
  absl::StatusOr<rapidjson::Value> ret = Call("test-no-args", nullptr);
  ASSERT_TRUE(ret.ok()) << ret.status();
  EXPECT_TRUE(JsonEq(*ret, "{}"));
  ret = Call("test-no-args", "{}");
  ASSERT_TRUE(ret.ok()) << ret.status();
  EXPECT_EQ(impl_.no_args_calls, 2);
  ret = Call("test-no-args", R"({"a": 1})");
  ASSERT_FALSE(ret.ok());
  EXPECT_EQ(ret.status().message(), "Parameter 'a' is unexpected");
  EXPECT_EQ(impl_.no_args_calls, 2);
}

TEST_F(GeneratedCommandsTest, InlineArgumentsAndResult) {
  absl::StatusOr<rapidjson::Value> ret = Call("test-args", R"({"a": 21, "colors": ["red"]})");
  ASSERT_TRUE(ret.ok()) << ret.status();
  EXPECT_TRUE(JsonEq(*ret, R"({"x": 42, "y": 7})"));
  ASSERT_TRUE(impl_.last_args.has_value());
  EXPECT_EQ(impl_.last_args->a, 21);
  EXPECT_FALSE(impl_.last_args->b.has_value());
  EXPECT_EQ(impl_.last_args->colors, std::vector<Color>{Color::kRed});
}

TEST_F(GeneratedCommandsTest, RejectsUnknownAndBadArguments) {
  absl::StatusOr<rapidjson::Value> ret = Call("test-args", R"({"a": 1, "bogus": true})");
  ASSERT_FALSE(ret.ok());
  EXPECT_EQ(ret.status().message(), "Parameter 'bogus' is unexpected");
  ret = Call("test-args", nullptr);
  ASSERT_FALSE(ret.ok());
  EXPECT_EQ(ret.status().message(), "Parameter 'a' is missing");
  ret = Call("test-args", R"({"a": 1, "colors": ["red", "mauve"]})");
  ASSERT_FALSE(ret.ok());
  EXPECT_EQ(ret.status().message(), "Parameter 'null' does not accept value 'mauve'");
  EXPECT_FALSE(impl_.last_args.has_value());  // the handler never ran
}

TEST_F(GeneratedCommandsTest, HandlerErrorsPassThroughUnchanged) {
  absl::StatusOr<rapidjson::Value> ret = Call("test-args", R"({"a": -1})");
  ASSERT_FALSE(ret.ok());
  EXPECT_EQ(ret.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ret.status().message(), "a must not be negative");
}

TEST_F(GeneratedCommandsTest, BoxedArguments) {
  absl::StatusOr<rapidjson::Value> ret =
      Call("test-boxed", R"({"id": "x", "color": "green", "unix": false, "linux-only": 3})");
  ASSERT_TRUE(ret.ok()) << ret.status();
  ASSERT_TRUE(impl_.last_derived.has_value());
  EXPECT_EQ(impl_.last_derived->id, "x");
  EXPECT_EQ(impl_.last_derived->linux_only, 3);
  ret = Call("test-boxed-union", R"({"kind": "circle", "radius": 0.5})");
  ASSERT_TRUE(ret.ok()) << ret.status();
  EXPECT_TRUE(JsonEq(*ret, R"({"kind": "circle", "radius": 0.5})"));
  ret = Call("test-named-data", R"({"x": 4})");
  ASSERT_TRUE(ret.ok()) << ret.status();
  EXPECT_EQ(impl_.last_inner, (Inner{4, std::nullopt}));
}

TEST_F(GeneratedCommandsTest, ListAndScalarResults) {
  absl::StatusOr<rapidjson::Value> ret = Call("test-returns-list", nullptr);
  ASSERT_TRUE(ret.ok()) << ret.status();
  EXPECT_TRUE(JsonEq(*ret, R"([{"x": 1}, {"x": 2, "y": 3}])"));
  ret = Call("test-returns-str", nullptr);
  ASSERT_TRUE(ret.ok()) << ret.status();
  EXPECT_TRUE(JsonEq(*ret, R"("hello")"));
}

TEST_F(GeneratedCommandsTest, CommandsOfAnIncludedModule) {
  absl::StatusOr<rapidjson::Value> ret = Call("test-sub-cmd", R"({"value": null})");
  ASSERT_TRUE(ret.ok()) << ret.status();
  EXPECT_TRUE(JsonEq(*ret, R"({"value": null, "list": ["from", "sub"]})"));
  ret = Call("test-sub-cmd", R"({"value": 5})");
  ASSERT_FALSE(ret.ok());
  EXPECT_EQ(ret.status().message(), "Invalid parameter type for 'value', expected: StrOrNull");
}

TEST(CommandRegistryTest, HandWrittenEntries) {
  CommandRegistry registry;
  CommandEntry entry;
  entry.name = "hand-made";
  entry.allow_oob = true;
  entry.marshal =
      [](const rapidjson::Value* args,
         rapidjson::Document::AllocatorType& alloc) -> absl::StatusOr<rapidjson::Value> {
    rapidjson::Value out(rapidjson::kObjectType);
    out.AddMember("had-args", args != nullptr, alloc);
    return out;
  };
  registry.Register(std::move(entry));
  EXPECT_EQ(registry.size(), 1u);
  const CommandEntry* found = registry.Find("hand-made");
  ASSERT_NE(found, nullptr);
  EXPECT_TRUE(found->allow_oob);
  rapidjson::Document doc;
  absl::StatusOr<rapidjson::Value> ret = registry.Call(*found, nullptr, doc.GetAllocator());
  ASSERT_TRUE(ret.ok());
  EXPECT_TRUE(JsonEq(*ret, R"({"had-args": false})"));
}

TEST(CommandRegistryTest, ReplaceMarshalForTestWrapsACommand) {
  CommandRegistry registry;
  CommandEntry entry;
  entry.name = "wrapped";
  entry.marshal = [](const rapidjson::Value*,
                     rapidjson::Document::AllocatorType&) -> absl::StatusOr<rapidjson::Value> {
    return rapidjson::Value(1);
  };
  registry.Register(std::move(entry));
  EXPECT_EQ(registry.ReplaceMarshalForTest("missing", nullptr), nullptr);
  auto inner = std::make_shared<CommandMarshal>();
  *inner = registry.ReplaceMarshalForTest(
      "wrapped",
      [inner](const rapidjson::Value* args,
              rapidjson::Document::AllocatorType& alloc) -> absl::StatusOr<rapidjson::Value> {
        if (args == nullptr) {
          return absl::InvalidArgumentError("refused");
        }
        return (*inner)(args, alloc);
      });
  ASSERT_NE(*inner, nullptr);
  rapidjson::Document doc;
  const CommandEntry* found = registry.Find("wrapped");
  EXPECT_EQ(registry.Call(*found, nullptr, doc.GetAllocator()).status().message(), "refused");
  rapidjson::Value args(rapidjson::kObjectType);
  absl::StatusOr<rapidjson::Value> ret = registry.Call(*found, &args, doc.GetAllocator());
  ASSERT_TRUE(ret.ok());
  EXPECT_EQ(ret->GetInt(), 1) << "the previous marshaller still runs";
}

TEST(CommandRegistryDeathTest, DuplicateNamesAbort) {
  CommandRegistry registry;
  auto make = [] {
    CommandEntry entry;
    entry.name = "twice";
    entry.marshal = [](const rapidjson::Value*,
                       rapidjson::Document::AllocatorType&) -> absl::StatusOr<rapidjson::Value> {
      return rapidjson::Value();
    };
    return entry;
  };
  registry.Register(make());
  EXPECT_DEATH(registry.Register(make()), "registered twice");
}

}  // namespace
}  // namespace migemu::qapi
