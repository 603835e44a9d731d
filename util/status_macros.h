// File: util/status_macros.h
//
// Early-return helpers for absl::Status / absl::StatusOr. The installed Abseil (20220623)
// predates ABSL_RETURN_IF_ERROR, so the project carries these two.
//
//   absl::Status Load(Reader& r) {
//     MIG_RETURN_IF_ERROR(r.Expect(0x7e));
//     MIG_ASSIGN_OR_RETURN(uint32_t id, r.ReadBe32());
//     ...
//   }
#ifndef MIGEMU_UTIL_STATUS_MACROS_H_
#define MIGEMU_UTIL_STATUS_MACROS_H_

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include <utility>

#define MIG_STATUS_CONCAT_INNER_(a, b) a##b
#define MIG_STATUS_CONCAT_(a, b) MIG_STATUS_CONCAT_INNER_(a, b)

// MIG_RETURN_IF_ERROR(expr): evaluates `expr` (an absl::Status) once and returns it from the
// enclosing function when it is not OK.
#define MIG_RETURN_IF_ERROR(expr)        \
  do {                                   \
    ::absl::Status mig_status_ = (expr); \
    if (!mig_status_.ok()) {             \
      return mig_status_;                \
    }                                    \
  } while (false)

// MIG_ASSIGN_OR_RETURN(lhs, expr): evaluates `expr` (an absl::StatusOr<T>); on error returns
// its status, otherwise move-assigns the value to `lhs` (which may be a declaration).
#define MIG_ASSIGN_OR_RETURN(lhs, expr) \
  MIG_ASSIGN_OR_RETURN_IMPL_(MIG_STATUS_CONCAT_(mig_statusor_, __LINE__), lhs, expr)

#define MIG_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                               \
  if (!statusor.ok()) {                                 \
    return std::move(statusor).status();                \
  }                                                     \
  lhs = *std::move(statusor)

#endif  // MIGEMU_UTIL_STATUS_MACROS_H_
