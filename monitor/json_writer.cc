#include "monitor/json_writer.h"

#include <absl/strings/str_cat.h>

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "monitor/internal/mod_utf8.h"
#include "qapi/qdict_order.h"
#include "util/check.h"

namespace migemu::monitor {
namespace {

// Objects with up to this many members are checked for repeated names pairwise; bigger ones
// through a hash map (a client can make many names collide in one bucket).
constexpr size_t kPairwiseNameCheck = 16;

void AppendHex4(uint32_t v, std::string* out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  out->append("\\u");
  for (int shift = 12; shift >= 0; shift -= 4) {
    out->push_back(kHex[(v >> shift) & 0xF]);
  }
}

void AppendValue(const rapidjson::Value& v, std::string* out);

// AppendObject: the members in QDict iteration order: bucket ascending, later-inserted first.
void AppendObject(const rapidjson::Value& obj, std::string* out) {
  struct Member {
    absl::string_view name;
    const rapidjson::Value* value;
    uint32_t bucket;
    size_t index;  // position in insertion order
  };
  std::vector<Member> members;
  members.reserve(obj.MemberCount());
  for (const auto& m : obj.GetObject()) {
    const absl::string_view name(m.name.GetString(), m.name.GetStringLength());
    members.push_back({name, &m.value, qapi::QdictBucket(name), members.size()});
  }
  const size_t n = members.size();

  // For a repeated name: print at the first occurrence's place, the last occurrence's value.
  // first[i] / last[i] are the first and last index of members[i]'s name; filled only when some
  // name repeats (`unique` false).
  std::vector<size_t> first;
  std::vector<size_t> last;
  bool unique = true;
  if (n > 1) {
    first.resize(n);
    last.resize(n);
    if (n <= kPairwiseNameCheck) {
      for (size_t i = 0; i < n; ++i) {
        first[i] = last[i] = i;
        for (size_t j = 0; j < n; ++j) {
          if (j != i && members[j].name == members[i].name) {
            unique = false;
            first[i] = std::min(first[i], j);
            last[i] = std::max(last[i], j);
          }
        }
      }
    } else {
      // std::hash knows std::string_view; absl::string_view is a distinct type in this Abseil.
      auto key = [&](size_t i) {
        return std::string_view(members[i].name.data(), members[i].name.size());
      };
      std::unordered_map<std::string_view, std::pair<size_t, size_t>> seen;
      seen.reserve(n);
      for (size_t i = 0; i < n; ++i) {
        auto [it, inserted] = seen.try_emplace(key(i), i, i);
        if (!inserted) {
          unique = false;
          it->second.second = i;
        }
      }
      if (!unique) {
        for (size_t i = 0; i < n; ++i) {
          std::tie(first[i], last[i]) = seen.at(key(i));
        }
      }
    }
  }

  std::sort(members.begin(), members.end(), [](const Member& a, const Member& b) {
    return a.bucket != b.bucket ? a.bucket < b.bucket : a.index > b.index;
  });
  out->push_back('{');
  bool need_comma = false;
  for (const Member& m : members) {
    const rapidjson::Value* value = m.value;
    if (!unique) {
      if (first[m.index] != m.index) {
        continue;
      }
      // Sorting moved entries, but the last occurrence's value is found through the object.
      value = &obj.MemberBegin()[static_cast<std::ptrdiff_t>(last[m.index])].value;
    }
    if (need_comma) {
      out->append(", ");
    }
    need_comma = true;
    AppendQmpJsonString(m.name, out);
    out->append(": ");
    AppendValue(*value, out);
  }
  out->push_back('}');
}

void AppendValue(const rapidjson::Value& v, std::string* out) {
  switch (v.GetType()) {
    case rapidjson::kNullType:
      out->append("null");
      return;
    case rapidjson::kFalseType:
      out->append("false");
      return;
    case rapidjson::kTrueType:
      out->append("true");
      return;
    case rapidjson::kStringType:
      AppendQmpJsonString(absl::string_view(v.GetString(), v.GetStringLength()), out);
      return;
    case rapidjson::kNumberType:
      if (v.IsDouble()) {
        out->append(FormatQmpDouble(v.GetDouble()));
      } else if (v.IsInt64()) {
        absl::StrAppend(out, v.GetInt64());
      } else {
        absl::StrAppend(out, v.GetUint64());
      }
      return;
    case rapidjson::kArrayType: {
      out->push_back('[');
      bool need_comma = false;
      for (const rapidjson::Value& e : v.GetArray()) {
        if (need_comma) {
          out->append(", ");
        }
        need_comma = true;
        AppendValue(e, out);
      }
      out->push_back(']');
      return;
    }
    case rapidjson::kObjectType:
      AppendObject(v, out);
      return;
  }
}

}  // namespace

void AppendQmpJsonString(absl::string_view s, std::string* out) {
  out->push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    const internal::DecodedCodepoint d = internal::ModUtf8Decode(s.substr(i, 6));
    i += d.length;
    int32_t cp = d.cp;
    switch (cp) {
      case '"':
        out->append("\\\"");
        continue;
      case '\\':
        out->append("\\\\");
        continue;
      case '\b':
        out->append("\\b");
        continue;
      case '\f':
        out->append("\\f");
        continue;
      case '\n':
        out->append("\\n");
        continue;
      case '\r':
        out->append("\\r");
        continue;
      case '\t':
        out->append("\\t");
        continue;
      default:
        break;
    }
    if (cp < 0) {
      cp = 0xFFFD;  // replacement character for each invalid sequence
    }
    if (cp > 0xFFFF) {
      const auto u = static_cast<uint32_t>(cp) - 0x10000;
      AppendHex4(0xD800 + (u >> 10), out);
      AppendHex4(0xDC00 + (u & 0x3FF), out);
    } else if (cp < 0x20 || cp >= 0x7F) {
      AppendHex4(static_cast<uint32_t>(cp), out);
    } else {
      out->push_back(static_cast<char>(cp));
    }
  }
  out->push_back('"');
}

std::string FormatQmpDouble(double d) {
  // std::to_chars with a precision is specified as printf's %.*g in the C locale, and unlike
  // snprintf it does not depend on the process's LC_NUMERIC.
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::general, 17);
  MIG_CHECK(ec == std::errc(), "64 bytes hold any %.17g");
  return std::string(buf, end);
}

std::string FormatQmpJson(const rapidjson::Value& value) {
  std::string out;
  AppendValue(value, &out);
  return out;
}

}  // namespace migemu::monitor
