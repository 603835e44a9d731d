#include "util/size.h"

#include <absl/status/status.h>

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <string>

namespace migemu::util {

namespace {

__extension__ typedef unsigned __int128 Uint128;  // NOLINT(modernize-use-using)

// Multiplier for a suffix character, or 0 when `c` is not a suffix.
uint64_t SuffixMultiplier(char c) {
  switch (std::toupper(static_cast<unsigned char>(c))) {
    case 'B':
      return 1;
    case 'K':
      return uint64_t{1} << 10;
    case 'M':
      return uint64_t{1} << 20;
    case 'G':
      return uint64_t{1} << 30;
    case 'T':
      return uint64_t{1} << 40;
    case 'P':
      return uint64_t{1} << 50;
    case 'E':
      return uint64_t{1} << 60;
    default:
      return 0;
  }
}

}  // namespace

absl::StatusOr<uint64_t> ParseSize(absl::string_view text, uint64_t default_unit) {
  const absl::Status invalid = absl::InvalidArgumentError("invalid size");
  size_t i = 0;
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) {
    ++i;
  }
  if (i < text.size() && text[i] == '+') {
    ++i;
  }
  const size_t digits_start = i;
  uint64_t value = 0;
  bool hex = false;
  if (text.size() - i >= 2 && text[i] == '0' && (text[i + 1] == 'x' || text[i + 1] == 'X')) {
    hex = true;
    i += 2;
    const size_t hex_start = i;
    while (i < text.size() && std::isxdigit(static_cast<unsigned char>(text[i]))) {
      int d = std::isdigit(static_cast<unsigned char>(text[i]))
                  ? text[i] - '0'
                  : std::tolower(static_cast<unsigned char>(text[i])) - 'a' + 10;
      if (value > (UINT64_MAX >> 4)) {
        return absl::OutOfRangeError("size out of range");
      }
      value = (value << 4) | static_cast<uint64_t>(d);
      ++i;
    }
    if (i == hex_start) {
      // "0x" alone: strtoull reads the "0" and stops at 'x'.
      i = hex_start - 1;
      hex = false;
    }
  } else {
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      uint64_t d = static_cast<uint64_t>(text[i] - '0');
      if (value > (UINT64_MAX - d) / 10) {
        return absl::OutOfRangeError("size out of range");
      }
      value = value * 10 + d;
      ++i;
    }
  }
  if (i == digits_start) {
    return invalid;
  }
  double fraction = 0;
  if (i < text.size() && text[i] == '.') {
    if (hex) {
      return invalid;
    }
    size_t f_end = i + 1;
    while (f_end < text.size() && std::isdigit(static_cast<unsigned char>(text[f_end]))) {
      ++f_end;
    }
    if (f_end < text.size() && (text[f_end] == 'e' || text[f_end] == 'E') &&
        f_end + 1 < text.size() &&
        (std::isdigit(static_cast<unsigned char>(text[f_end + 1])) || text[f_end + 1] == '+' ||
         text[f_end + 1] == '-')) {
      return invalid;  // exponents are not part of the size syntax
    }
    fraction = std::strtod(std::string(text.substr(i, f_end - i)).c_str(), nullptr);
    i = f_end;
  }
  uint64_t mul = default_unit;
  if (i < text.size()) {
    uint64_t m = SuffixMultiplier(text[i]);
    if (m == 0) {
      return invalid;
    }
    mul = m;
    ++i;
  }
  if (i != text.size()) {
    return invalid;
  }
  if (mul == 1 && fraction != 0) {
    return invalid;  // a fraction needs a scale larger than bytes
  }
  // Exact 128-bit product; the fraction is rounded to the nearest byte (0.5 up).
  Uint128 total = static_cast<Uint128>(value) * mul;
  if (fraction != 0) {
    long double frac_bytes = static_cast<long double>(fraction) * static_cast<long double>(mul);
    total += static_cast<Uint128>(std::floor(frac_bytes + 0.5L));
  }
  if (total > UINT64_MAX) {
    return absl::OutOfRangeError("size out of range");
  }
  return static_cast<uint64_t>(total);
}

}  // namespace migemu::util
