#include "qapi/error.h"

#include <absl/status/status.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace migemu::qapi {
namespace {

TEST(ErrorTest, NoHintByDefault) {
  EXPECT_FALSE(Hint(absl::InvalidArgumentError("boom")).has_value());
  EXPECT_FALSE(Hint(absl::OkStatus()).has_value());
}

TEST(ErrorTest, HintsAppendAndKeepTheMessage) {
  absl::Status status = WithHint(absl::InvalidArgumentError("Invalid value"), "Try 1-255.\n");
  status = WithHint(status, "See the manual.\n");
  EXPECT_EQ(status.message(), "Invalid value");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Hint(status), std::optional<std::string>("Try 1-255.\nSee the manual.\n"));
}

TEST(ErrorTest, OkStatusGetsNoHint) {
  absl::Status status = WithHint(absl::OkStatus(), "unused");
  EXPECT_TRUE(status.ok());
  EXPECT_FALSE(Hint(status).has_value());
}

}  // namespace
}  // namespace migemu::qapi
