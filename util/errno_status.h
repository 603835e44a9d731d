// File: util/errno_status.h
//
// Turns an errno value into an absl::Status whose message mirrors QEMU's error_setg_errno():
// "<context>: <strerror text>". The status code is chosen from the errno (EINVAL ->
// InvalidArgument, ECONNREFUSED/EPIPE/ECONNRESET -> Unavailable, ...); callers and tests look at
// the message, which is the interface fact.
#ifndef MIGEMU_UTIL_ERRNO_STATUS_H_
#define MIGEMU_UTIL_ERRNO_STATUS_H_

#include <absl/status/status.h>
#include <absl/strings/string_view.h>

#include <string>

namespace migemu::util {

// StrError: thread-safe strerror (uses strerror_r).
std::string StrError(int err);

// ErrnoStatus: "<context>: <strerror(err)>", or just the strerror text when context is empty.
absl::Status ErrnoStatus(int err, absl::string_view context);

// ErrnoToCode: the absl::StatusCode that best describes `err`.
absl::StatusCode ErrnoToCode(int err);

}  // namespace migemu::util

#endif  // MIGEMU_UTIL_ERRNO_STATUS_H_
