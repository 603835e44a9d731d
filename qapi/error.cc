#include "qapi/error.h"

#include <absl/status/status.h>
#include <absl/strings/cord.h>
#include <absl/strings/string_view.h>

#include <optional>
#include <string>
#include <utility>

namespace migemu::qapi {
namespace {

constexpr char kHintPayload[] = "migemu.qapi/hint";
constexpr char kClassPayload[] = "migemu.qapi/error-class";

}  // namespace

absl::Status WithHint(absl::Status status, absl::string_view hint) {
  if (status.ok()) {
    return status;
  }
  absl::Cord text;
  if (auto old = status.GetPayload(kHintPayload)) {  // absl::optional in this Abseil
    text = *std::move(old);
  }
  text.Append(hint);
  status.SetPayload(kHintPayload, std::move(text));
  return status;
}

std::optional<std::string> Hint(const absl::Status& status) {
  auto payload = status.GetPayload(kHintPayload);  // absl::optional<absl::Cord>
  if (!payload) {
    return std::nullopt;
  }
  return std::string(*payload);
}

absl::Status WithErrorClass(absl::Status status, absl::string_view error_class) {
  if (!status.ok()) {
    status.SetPayload(kClassPayload, absl::Cord(error_class));
  }
  return status;
}

std::string ErrorClass(const absl::Status& status) {
  auto payload = status.GetPayload(kClassPayload);
  if (!payload) {
    return "GenericError";
  }
  return std::string(*payload);
}

}  // namespace migemu::qapi
