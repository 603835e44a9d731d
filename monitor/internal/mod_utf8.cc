#include "monitor/internal/mod_utf8.h"

namespace migemu::monitor::internal {

bool IsValidCodepoint(int32_t cp) {
  if (cp < 0 || cp > 0x10FFFF) {
    return false;
  }
  if ((cp >= 0xFDD0 && cp <= 0xFDEF) || (cp & 0xFFFE) == 0xFFFE) {
    return false;  // noncharacter
  }
  return cp < 0xD800 || cp > 0xDFFF;  // surrogates are not characters
}

DecodedCodepoint ModUtf8Decode(absl::string_view s) {
  if (s.empty()) {
    return {-1, 0};
  }
  const auto lead = static_cast<uint8_t>(s[0]);
  if (lead < 0x80) {
    return {lead, 1};
  }
  if (lead >= 0xFE || (lead & 0x40) == 0) {
    return {-1, 1};  // impossible byte, or a continuation byte without a lead
  }
  // The number of leading 1 bits is the sequence length (2..6).
  size_t len = 0;
  uint32_t mask = 0x80;
  while ((lead & mask) != 0) {
    ++len;
    mask >>= 1;
  }
  uint32_t cp = lead & (mask - 1);
  size_t i = 1;
  for (; i < len; ++i) {
    if (i >= s.size() || (static_cast<uint8_t>(s[i]) & 0xC0) != 0x80) {
      return {-1, i};
    }
    cp = (cp << 6) | (static_cast<uint8_t>(s[i]) & 0x3F);
  }
  // 6-byte sequences carry 31 bits, which still fits; anything above U+10FFFF is rejected by
  // IsValidCodepoint.
  static constexpr uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000, 0x200000, 0x4000000};
  if (cp > 0x7FFFFFFF || !IsValidCodepoint(static_cast<int32_t>(cp))) {
    return {-1, len};
  }
  if (cp < kMinForLength[len] && !(cp == 0 && len == 2)) {
    return {-1, len};  // overlong, except the C0 80 spelling of U+0000
  }
  return {static_cast<int32_t>(cp), len};
}

bool AppendModUtf8(int32_t cp, std::string* out) {
  if (!IsValidCodepoint(cp)) {
    return false;
  }
  const auto u = static_cast<uint32_t>(cp);
  if (u > 0 && u <= 0x7F) {
    out->push_back(static_cast<char>(u));
  } else if (u <= 0x7FF) {  // includes U+0000 -> C0 80
    out->push_back(static_cast<char>(0xC0 | (u >> 6)));
    out->push_back(static_cast<char>(0x80 | (u & 0x3F)));
  } else if (u <= 0xFFFF) {
    out->push_back(static_cast<char>(0xE0 | (u >> 12)));
    out->push_back(static_cast<char>(0x80 | ((u >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (u & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (u >> 18)));
    out->push_back(static_cast<char>(0x80 | ((u >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((u >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (u & 0x3F)));
  }
  return true;
}

}  // namespace migemu::monitor::internal
