#include "monitor/errors.h"

#include <absl/strings/str_cat.h>

namespace migemu::monitor {

std::string JsonStrayError(absl::string_view token) {
  return absl::StrCat("JSON parse error, stray '", token.substr(0, token.find('\0')), "'");
}

std::string JsonInvalidKeywordError(absl::string_view keyword) {
  return absl::StrCat("JSON parse error, invalid keyword '", keyword, "'");
}

std::string JsonInvalidUnicodeError(absl::string_view escape) {
  return absl::StrCat("JSON parse error, ", escape, " is not a valid Unicode character");
}

std::string HmpBanner(absl::string_view qemu_version) {
  return absl::StrCat("QEMU ", qemu_version, " monitor - type 'help' for more information");
}

}  // namespace migemu::monitor
