#include "util/status_macros.h"

#include <gtest/gtest.h>

#include <memory>

namespace migemu::util {
namespace {

absl::Status FailIf(bool fail) {
  return fail ? absl::InvalidArgumentError("boom") : absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<int>> MakeIf(bool fail) {
  if (fail) {
    return absl::NotFoundError("none");
  }
  return std::make_unique<int>(7);
}

absl::Status Chain(bool fail_first, bool fail_second, int* out) {
  MIG_RETURN_IF_ERROR(FailIf(fail_first));
  MIG_ASSIGN_OR_RETURN(std::unique_ptr<int> v, MakeIf(fail_second));
  *out = *v;
  return absl::OkStatus();
}

TEST(StatusMacrosTest, PropagatesFirstError) {
  int out = 0;
  EXPECT_EQ(Chain(true, false, &out).message(), "boom");
  EXPECT_EQ(Chain(false, true, &out).message(), "none");
  EXPECT_EQ(out, 0);
}

TEST(StatusMacrosTest, AssignsMoveOnlyValue) {
  int out = 0;
  EXPECT_TRUE(Chain(false, false, &out).ok());
  EXPECT_EQ(out, 7);
}

}  // namespace
}  // namespace migemu::util
