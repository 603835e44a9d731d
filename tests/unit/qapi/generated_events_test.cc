// The generated event emitters of the test schema.
#include <absl/strings/string_view.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "qapi/event_sink.h"
#include "qapi/runtime.h"
#include "tests/unit/qapi/json_test_util.h"
#include "tests/unit/qapi/qapi-events.h"

namespace migemu::qapi {
namespace {

using testing::JsonEq;

struct Emitted {
  std::string name;
  std::unique_ptr<rapidjson::Document> data;
};

class FakeEventSink final : public EventSink {
 public:
  void EmitEvent(absl::string_view name, std::unique_ptr<rapidjson::Document> data) override {
    events.push_back(Emitted{std::string(name), std::move(data)});
  }
  std::vector<Emitted> events;
};

TEST(GeneratedEventsTest, EventWithoutDataHasNullData) {
  FakeEventSink sink;
  EmitTestEvent(sink);
  ASSERT_EQ(sink.events.size(), 1u);
  EXPECT_EQ(sink.events[0].name, "TEST_EVENT");
  EXPECT_EQ(sink.events[0].data, nullptr);
}

TEST(GeneratedEventsTest, MembersAndOptionals) {
  FakeEventSink sink;
  EmitTestEventData(sink, Color::kGreen, 3, std::nullopt, true);
  EmitTestEventData(sink, Color::kRed, std::nullopt, std::string("n"), false);
  ASSERT_EQ(sink.events.size(), 2u);
  EXPECT_EQ(sink.events[0].name, "TEST_EVENT_DATA");
  ASSERT_NE(sink.events[0].data, nullptr);
  EXPECT_TRUE(JsonEq(*sink.events[0].data, R"({"color": "green", "count": 3, "sink": true})"));
  EXPECT_TRUE(JsonEq(*sink.events[1].data, R"({"color": "red", "name": "n", "sink": false})"));
}

TEST(GeneratedEventsTest, BoxedAndIncludedModuleEvents) {
  FakeEventSink sink;
  EmitTestEventBoxed(sink, Inner{5, 6});
  SubThing thing;
  thing.value.type = QType::kQstring;
  thing.value.s = "v";
  EmitTestSubEvent(sink, thing);
  ASSERT_EQ(sink.events.size(), 2u);
  EXPECT_EQ(sink.events[0].name, "TEST_EVENT_BOXED");
  EXPECT_TRUE(JsonEq(*sink.events[0].data, R"({"x": 5, "y": 6})"));
  EXPECT_EQ(sink.events[1].name, "TEST_SUB_EVENT");
  EXPECT_TRUE(JsonEq(*sink.events[1].data, R"({"thing": {"value": "v"}})"));
}

TEST(GeneratedEventsTest, QapiEventListsEnabledEvents) {
  EXPECT_EQ(EnumCount<QapiEvent>(), 4u);  // TEST_EVENT_NEVER is disabled
  EXPECT_EQ(EnumToString(QapiEvent::kTestSubEvent), "TEST_SUB_EVENT");
  EXPECT_EQ(EnumToString(QapiEvent::kTestEventData), "TEST_EVENT_DATA");
  EXPECT_EQ(EnumFromString<QapiEvent>("TEST_EVENT"), QapiEvent::kTestEvent);
  EXPECT_FALSE(EnumFromString<QapiEvent>("TEST_EVENT_NEVER").has_value());
}

}  // namespace
}  // namespace migemu::qapi
