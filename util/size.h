// File: util/size.h
//
// QEMU's size syntax (qemu_strtosz and friends), used by -m, memory backends, -workload and the
// monitors: "64M", "1.5G", "4096", "0x1000". Interface facts: which inputs are accepted and how
// they scale.
#ifndef MIGEMU_UTIL_SIZE_H_
#define MIGEMU_UTIL_SIZE_H_

#include <absl/status/statusor.h>
#include <absl/strings/string_view.h>

#include <cstdint>

namespace migemu::util {

// ParseSize: a decimal (or 0x-hex) number with an optional suffix B, K, M, G, T, P, E
// (case-insensitive; powers of 1024; B means bytes). Without a suffix `default_unit` applies (1
// for bytes, 1 << 20 for -m and HMP's max-bandwidth). A fraction ("1.5G") needs a scale larger
// than bytes and is rounded to the nearest byte. Leading blanks are skipped; negative numbers,
// exponents, trailing garbage and fractional hex are rejected (InvalidArgument); results above
// 2^64-1 are OutOfRange.
absl::StatusOr<uint64_t> ParseSize(absl::string_view text, uint64_t default_unit = 1);

// The texts QEMU prints for a bad size (QERR_INVALID_PARAMETER_VALUE + hint).
inline constexpr absl::string_view kSizeExpectsText = "a non-negative number below 2^64";
inline constexpr absl::string_view kSizeSuffixHint =
    "Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-\n"
    "and exabytes, respectively.\n";

}  // namespace migemu::util

#endif  // MIGEMU_UTIL_SIZE_H_
