#include "monitor/json_fuzz.h"

#include <absl/status/status.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/string_view.h>

#include <cmath>
#include <string>
#include <vector>

#include "monitor/json_parser.h"
#include "monitor/json_writer.h"

namespace migemu::monitor {
namespace {

// Outcome: a result reduced to comparable text: the error message, or the formatted value.
struct Outcome {
  bool ok;
  std::string text;
  bool operator==(const Outcome&) const = default;
};

void Collect(JsonStreamParser& parser, std::vector<Outcome>* out,
             std::vector<rapidjson::Document>* values) {
  JsonStreamParser::Result r;
  while (parser.Next(&r)) {
    if (r.ok()) {
      out->push_back({true, FormatQmpJson(*r)});
      if (values != nullptr) {
        values->push_back(std::move(*r));
      }
    } else {
      out->push_back({false, std::string(r.status().message())});
    }
  }
}

// Run: the results of feeding `chunks` in order, then of Flush().
std::vector<Outcome> Run(const std::vector<absl::string_view>& chunks,
                         std::vector<rapidjson::Document>* values) {
  JsonStreamParser parser;
  std::vector<Outcome> out;
  for (absl::string_view c : chunks) {
    parser.Feed(c);
    Collect(parser, &out, values);
  }
  out.push_back({true, "<flush>"});
  parser.Flush();
  Collect(parser, &out, values);
  return out;
}

bool HasInfinity(const rapidjson::Value& v) {
  if (v.IsDouble()) {
    return !std::isfinite(v.GetDouble());
  }
  if (v.IsArray()) {
    for (const rapidjson::Value& e : v.GetArray()) {
      if (HasInfinity(e)) {
        return true;
      }
    }
  }
  if (v.IsObject()) {
    for (const auto& m : v.GetObject()) {
      if (HasInfinity(m.value)) {
        return true;
      }
    }
  }
  return false;
}

// SameValue: equal as JSON values. A double printed with %.17g may come back as an integer
// (1.0 -> "1" -> 1), so numbers compare by value when either side is a double.
bool SameValue(const rapidjson::Value& a, const rapidjson::Value& b) {
  if (a.IsNumber() && b.IsNumber()) {
    if (a.IsDouble() || b.IsDouble()) {
      return a.GetDouble() == b.GetDouble();
    }
    if (a.IsInt64() != b.IsInt64()) {
      return false;
    }
    return a.IsInt64() ? a.GetInt64() == b.GetInt64() : a.GetUint64() == b.GetUint64();
  }
  if (a.GetType() != b.GetType()) {
    return false;
  }
  switch (a.GetType()) {
    case rapidjson::kStringType:
      return absl::string_view(a.GetString(), a.GetStringLength()) ==
             absl::string_view(b.GetString(), b.GetStringLength());
    case rapidjson::kArrayType:
      if (a.Size() != b.Size()) {
        return false;
      }
      for (rapidjson::SizeType i = 0; i < a.Size(); ++i) {
        if (!SameValue(a[i], b[i])) {
          return false;
        }
      }
      return true;
    case rapidjson::kObjectType:
      if (a.MemberCount() != b.MemberCount()) {
        return false;
      }
      for (const auto& m : a.GetObject()) {
        auto it = b.FindMember(m.name);
        if (it == b.MemberEnd() || !SameValue(m.value, it->value)) {
          return false;
        }
      }
      return true;
    default:
      return true;  // null, true, false: equal types are equal values
  }
}

}  // namespace

absl::Status FuzzJsonInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);

  std::vector<rapidjson::Document> values;
  const std::vector<Outcome> whole = Run({input}, &values);

  std::vector<absl::string_view> bytes;
  bytes.reserve(size);
  for (size_t i = 0; i < size; ++i) {
    bytes.push_back(input.substr(i, 1));
  }
  if (Run(bytes, nullptr) != whole) {
    return absl::InternalError("byte-by-byte feeding differs from feeding at once");
  }
  const size_t cut = size == 0 ? 0 : data[0] % (size + 1);
  if (Run({input.substr(0, cut), input.substr(cut)}, nullptr) != whole) {
    return absl::InternalError(absl::StrCat("feeding in two parts split at ", cut, " differs"));
  }

  for (const Outcome& o : whole) {
    for (char c : o.text) {
      if (o.ok && (c < 0x20 || c > 0x7E)) {
        return absl::InternalError(absl::StrCat("non-printable byte in output: ", o.text));
      }
    }
  }

  for (const rapidjson::Document& v : values) {
    if (HasInfinity(v)) {
      continue;
    }
    const std::string text = FormatQmpJson(v);
    absl::StatusOr<rapidjson::Document> again = ParseQmpJson(text);
    if (!again.ok()) {
      return absl::InternalError(
          absl::StrCat("writer output does not parse: ", text, ": ", again.status().message()));
    }
    if (!SameValue(v, *again)) {
      return absl::InternalError(absl::StrCat("value changed through the writer: ", text));
    }
  }
  return absl::OkStatus();
}

}  // namespace migemu::monitor
