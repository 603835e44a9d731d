// File: util/check.h
//
// MIG_CHECK(cond, message): an invariant that holds in every build. When it does not, the
// process prints the location and message to stderr and aborts. Never use it for anything
// that input or the environment can cause; those are absl::Status errors.
#ifndef MIGEMU_UTIL_CHECK_H_
#define MIGEMU_UTIL_CHECK_H_

namespace migemu::util {

// CheckFailed: prints "file:line: check failed: cond: message" and aborts.
[[noreturn]] void CheckFailed(const char* file, int line, const char* cond, const char* message);

}  // namespace migemu::util

#define MIG_CHECK(cond, message)                                         \
  do {                                                                   \
    if (!(cond)) [[unlikely]] {                                          \
      ::migemu::util::CheckFailed(__FILE__, __LINE__, #cond, (message)); \
    }                                                                    \
  } while (false)

#endif  // MIGEMU_UTIL_CHECK_H_
