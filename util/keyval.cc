#include "util/keyval.h"

#include <absl/status/status.h>
#include <absl/strings/str_cat.h>

namespace migemu::util {

namespace {

// Reads a value up to an unescaped ',' (",," is a literal comma); returns the position after
// the terminating ',' (or the end).
size_t ReadValue(absl::string_view text, size_t pos, std::string* out) {
  while (pos < text.size()) {
    if (text[pos] == ',') {
      if (pos + 1 < text.size() && text[pos + 1] == ',') {
        out->push_back(',');
        pos += 2;
        continue;
      }
      return pos + 1;
    }
    out->push_back(text[pos++]);
  }
  return pos;
}

}  // namespace

KeyvalList ParseKeyval(absl::string_view text, absl::string_view implied_key) {
  KeyvalList list;
  size_t pos = 0;
  bool first = true;
  while (pos < text.size()) {
    size_t len = text.substr(pos).find_first_of("=,");
    if (len == absl::string_view::npos) {
      len = text.size() - pos;
    }
    std::string key;
    std::string value;
    if (pos + len >= text.size() || text[pos + len] != '=') {
      if (first && !implied_key.empty()) {
        key = std::string(implied_key);
        pos = ReadValue(text, pos, &value);
      } else {
        key = std::string(text.substr(pos, len));
        pos += len;
        if (pos < text.size()) {
          ++pos;  // the ','
        }
        if (key.size() >= 2 && key.compare(0, 2, "no") == 0) {
          key.erase(0, 2);
          value = "off";
        } else {
          value = "on";
        }
      }
    } else {
      key = std::string(text.substr(pos, len));
      pos = ReadValue(text, pos + len + 1, &value);
    }
    first = false;
    list.items.emplace_back(std::move(key), std::move(value));
  }
  return list;
}

std::optional<std::string> KeyvalList::Get(absl::string_view key) const {
  std::optional<std::string> out;
  for (const auto& [k, v] : items) {
    if (k == key) {
      out = v;
    }
  }
  return out;
}

std::optional<std::string> KeyvalList::FirstUnknown(
    const std::vector<absl::string_view>& allowed) const {
  for (const auto& [k, v] : items) {
    bool ok = false;
    for (absl::string_view a : allowed) {
      if (k == a) {
        ok = true;
        break;
      }
    }
    if (!ok) {
      return k;
    }
  }
  return std::nullopt;
}

std::optional<bool> ParseBool(absl::string_view value) {
  if (value == "on" || value == "yes" || value == "true" || value == "y") {
    return true;
  }
  if (value == "off" || value == "no" || value == "false" || value == "n") {
    return false;
  }
  return std::nullopt;
}

absl::StatusOr<std::optional<bool>> KeyvalList::GetBool(absl::string_view key) const {
  std::optional<std::string> v = Get(key);
  if (!v.has_value()) {
    return std::optional<bool>();
  }
  std::optional<bool> b = ParseBool(*v);
  if (!b.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat("Parameter '", key, "' expects 'on' or 'off'"));
  }
  return b;
}

}  // namespace migemu::util
