#include "util/errno_status.h"

#include <errno.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace migemu::util {
namespace {

TEST(ErrnoStatusTest, AppendsStrerrorLikeErrorSetgErrno) {
  absl::Status s = ErrnoStatus(EPIPE, "Unable to write to socket");
  EXPECT_EQ(s.message(), "Unable to write to socket: Broken pipe");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
}

TEST(ErrnoStatusTest, EmptyContextIsJustTheText) {
  EXPECT_EQ(ErrnoStatus(ECONNREFUSED, "").message(), "Connection refused");
}

TEST(ErrnoStatusTest, CodesFollowAbseilGuidance) {
  EXPECT_EQ(ErrnoToCode(EINVAL), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrnoToCode(ENOENT), absl::StatusCode::kNotFound);
  EXPECT_EQ(ErrnoToCode(EADDRINUSE), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(ErrnoToCode(ENOBUFS), absl::StatusCode::kResourceExhausted);
  // An errno of 0 must never turn into an OK status.
  EXPECT_FALSE(ErrnoStatus(0, "x").ok());
}

TEST(ErrnoStatusTest, UnknownErrnoStillHasText) {
  EXPECT_THAT(StrError(99999), ::testing::HasSubstr("99999"));
}

}  // namespace
}  // namespace migemu::util
