#include "migration/section_handler.h"

#include <absl/strings/cord.h>
#include <absl/strings/numbers.h>
#include <errno.h>

#include <optional>
#include <string>

#include "util/errno_status.h"

namespace migemu::migration {

namespace {
constexpr char kErrnoPayload[] = "migemu.migration/load-errno";
}  // namespace

absl::Status LoadFailure(int negative_errno) { return LoadFailure(negative_errno, ""); }

absl::Status LoadFailure(int negative_errno, absl::string_view message) {
  int err = negative_errno < 0 ? -negative_errno : negative_errno;
  if (err == 0) {
    err = EINVAL;
  }
  absl::StatusCode code = util::ErrnoToCode(err);
  if (code == absl::StatusCode::kOk || code == absl::StatusCode::kUnknown) {
    code = err == EIO ? absl::StatusCode::kDataLoss : absl::StatusCode::kInvalidArgument;
  }
  absl::Status s(code, message.empty() ? util::StrError(err) : std::string(message));
  s.SetPayload(kErrnoPayload, absl::Cord(std::to_string(-err)));
  return s;
}

int LoadErrno(const absl::Status& status) {
  if (status.ok()) {
    return 0;
  }
  auto payload = status.GetPayload(kErrnoPayload);  // absl::optional in this Abseil
  int value = 0;
  if (payload.has_value() && absl::SimpleAtoi(std::string(*payload), &value) && value < 0) {
    return value;
  }
  switch (status.code()) {
    case absl::StatusCode::kDataLoss:
    case absl::StatusCode::kUnavailable:
      return -EIO;
    case absl::StatusCode::kNotFound:
      return -ENOENT;
    case absl::StatusCode::kPermissionDenied:
      return -EPERM;
    default:
      return -EINVAL;
  }
}

std::string CString(absl::string_view s) {
  size_t nul = s.find('\0');
  return std::string(nul == absl::string_view::npos ? s : s.substr(0, nul));
}

}  // namespace migemu::migration
