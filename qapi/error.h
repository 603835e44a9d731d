// File: qapi/error.h
//
// Hints on error statuses, the counterpart of QEMU's error_append_hint(): extra advice a
// human interface (HMP) prints after the error, while QMP shows only the message.
//
//   return WithHint(absl::InvalidArgumentError("Invalid parameter 'x'"),
//                   "Valid values are ...\n");
//   ...
//   if (std::optional<std::string> hint = Hint(status)) { Print(*hint); }
#ifndef MIGEMU_QAPI_ERROR_H_
#define MIGEMU_QAPI_ERROR_H_

#include <absl/status/status.h>
#include <absl/strings/string_view.h>

#include <optional>
#include <string>

namespace migemu::qapi {

// WithHint returns `status` with `hint` appended to its hint (a status payload). An OK
// status is returned unchanged: there is no error to explain.
[[nodiscard]] absl::Status WithHint(absl::Status status, absl::string_view hint);

// Hint returns the hint text attached by WithHint, or nullopt when there is none.
[[nodiscard]] std::optional<std::string> Hint(const absl::Status& status);

// WithErrorClass: marks an error with a QapiErrorClass other than GenericError (QEMU's
// error_set() with a class), e.g. "CommandNotFound" for a repeated qmp_capabilities.
[[nodiscard]] absl::Status WithErrorClass(absl::Status status, absl::string_view error_class);
// ErrorClass: the class of an error: the marked one, else "GenericError".
std::string ErrorClass(const absl::Status& status);

}  // namespace migemu::qapi

#endif  // MIGEMU_QAPI_ERROR_H_
