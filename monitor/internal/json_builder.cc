#include "monitor/internal/json_builder.h"

#include <absl/status/status.h>
#include <locale.h>
#include <stdlib.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <utility>

#include "monitor/errors.h"
#include "monitor/internal/mod_utf8.h"
#include "util/check.h"

namespace migemu::monitor::internal {
namespace {

// Objects up to this many members are searched linearly for duplicates; bigger ones get a set.
constexpr size_t kLinearNameSearch = 16;

// HexValue: cvt4hex() for one digit, -1 for anything but [0-9a-fA-F].
int HexValue(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

// Hex4: cvt4hex() on the 4 bytes at `pos`: the value, or -1 if one of them is not a hex digit
// (the end of the token counts as QEMU's terminating NUL).
int32_t Hex4(absl::string_view s, size_t pos) {
  int32_t v = 0;
  for (size_t k = 0; k < 4; ++k) {
    const int d = pos + k < s.size() ? HexValue(s[pos + k]) : -1;
    if (d < 0) {
      return -1;
    }
    v = (v << 4) | d;
  }
  return v;
}

// CLocale: a "C" locale for strtod_l, so the conversion never depends on the process locale.
// Created once and never freed (it lives as long as the process).
locale_t CLocale() {
  static const locale_t c_locale = newlocale(LC_ALL_MASK, "C", static_cast<locale_t>(nullptr));
  return c_locale;
}

// ParseNumber: parse_literal() for JSON_INTEGER / JSON_FLOAT tokens.
rapidjson::Value ParseNumber(JsonTokenType type, absl::string_view text) {
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  if (type == JsonTokenType::kInteger) {
    int64_t i = 0;
    auto [p, ec] = std::from_chars(begin, end, i);
    if (ec == std::errc() && p == end) {
      return rapidjson::Value(i);
    }
    if (text[0] != '-') {
      uint64_t u = 0;
      auto [pu, ecu] = std::from_chars(begin, end, u);
      if (ecu == std::errc() && pu == end) {
        return rapidjson::Value(u);
      }
    }
  }
  // Too big for a 64-bit integer, or a float: strtod() as QEMU does, which gives +-inf on
  // overflow and a denormal or zero on underflow. The token is only digits, sign, '.', 'e'.
  const std::string nul_terminated(text);
  return rapidjson::Value(strtod_l(nul_terminated.c_str(), nullptr, CLocale()));
}

}  // namespace

absl::StatusOr<std::string> DecodeJsonString(absl::string_view token) {
  MIG_CHECK(token.size() >= 2 && (token[0] == '"' || token[0] == '\''),
            "DecodeJsonString needs a string token");
  const char quote = token[0];
  std::string out;
  out.reserve(token.size() - 2);
  size_t i = 1;
  // The lexer guarantees the token ends with the only unescaped `quote`, and that a backslash is
  // always followed by one more byte before that quote.
  while (i < token.size() && token[i] != quote) {
    const char c = token[i];
    if (c == '\\') {
      const size_t begin = i;
      const char e = i + 1 < token.size() ? token[i + 1] : '\0';
      i += 2;
      switch (e) {
        case '"':
        case '\'':
        case '\\':
        case '/':
          out.push_back(e);
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'u': {
          int32_t cp = Hex4(token, i);
          i += 4;  // even when the digits were bad: the error text shows these 4 bytes
          if (cp >= 0xD800 && cp <= 0xDBFF && i + 1 < token.size() && token[i] == '\\' &&
              token[i + 1] == 'u') {
            // A leading surrogate followed by \u: the pair or nothing.
            const int32_t trailing = Hex4(token, i + 2);
            if (trailing >= 0xDC00 && trailing <= 0xDFFF) {
              cp = 0x10000 + ((cp & 0x3FF) << 10) + (trailing & 0x3FF);
              i += 6;
            } else {
              cp = -1;
            }
          }
          if (!AppendModUtf8(cp, &out)) {
            // QEMU prints "%.*s" of the escape from the backslash to where it stopped reading;
            // the C string ends at the token's end.
            const size_t len = std::min(i, token.size()) - begin;
            return absl::InvalidArgumentError(JsonInvalidUnicodeError(token.substr(begin, len)));
          }
          break;
        }
        default:
          return absl::InvalidArgumentError(kJsonInvalidEscape);
      }
      continue;
    }
    // Any other byte starts a (modified) UTF-8 sequence; valid ones are copied as they are,
    // which is what decoding and re-encoding them would give.
    const DecodedCodepoint d = ModUtf8Decode(token.substr(i, 6));
    if (d.cp < 0) {
      return absl::InvalidArgumentError(kJsonInvalidUtf8);
    }
    out.append(token.data() + i, d.length);
    i += d.length;
  }
  return out;
}

void JsonValueBuilder::Push(JsonTokenType type, absl::string_view text) {
  if (error_.has_value()) {
    return;
  }
  if (!doc_.has_value()) {
    doc_.emplace();
  }
  switch (expect_) {
    case Expect::kValue: {
      Slot slot = Slot::kTop;
      if (!stack_.empty()) {
        slot = stack_.back().is_object ? Slot::kMemberValue : Slot::kElement;
      }
      StartValue(type, text, slot);
      return;
    }
    case Expect::kKeyOrEnd:
      if (type == JsonTokenType::kRCurly) {
        Close();
        return;
      }
      StartValue(type, text, Slot::kKey);
      return;
    case Expect::kKey:
      StartValue(type, text, Slot::kKey);
      return;
    case Expect::kValueOrEnd:
      if (type == JsonTokenType::kRSquare) {
        Close();
        return;
      }
      StartValue(type, text, Slot::kElement);
      return;
    case Expect::kColon:
      if (type != JsonTokenType::kColon) {
        Fail(kJsonMissingColon);
        return;
      }
      expect_ = Expect::kValue;
      return;
    case Expect::kDictSeparator:
      if (type == JsonTokenType::kComma) {
        expect_ = Expect::kKey;
      } else if (type == JsonTokenType::kRCurly) {
        Close();
      } else {
        Fail(kJsonExpectedSeparatorInDict);
      }
      return;
    case Expect::kListSeparator:
      if (type == JsonTokenType::kComma) {
        expect_ = Expect::kValue;
      } else if (type == JsonTokenType::kRSquare) {
        Close();
      } else {
        Fail(kJsonExpectedSeparatorInList);
      }
      return;
    case Expect::kDone:
      // The streamer finishes a value as soon as its brackets balance, and a complete value
      // always ends on a balancing token (or is a lone scalar), so nothing can follow it.
      MIG_CHECK(false, "JSON token after a complete value");
  }
}

void JsonValueBuilder::StartValue(JsonTokenType type, absl::string_view text, Slot slot) {
  auto& alloc = doc_->GetAllocator();
  switch (type) {
    case JsonTokenType::kLCurly:
      stack_.emplace_back(/*object=*/true, slot);
      expect_ = Expect::kKeyOrEnd;
      return;
    case JsonTokenType::kLSquare:
      stack_.emplace_back(/*object=*/false, slot);
      expect_ = Expect::kValueOrEnd;
      return;
    case JsonTokenType::kInteger:
    case JsonTokenType::kFloat:
      Deliver(ParseNumber(type, text), slot);
      return;
    case JsonTokenType::kString: {
      absl::StatusOr<std::string> s = DecodeJsonString(text);
      if (!s.ok()) {
        Fail(s.status().message());
        return;
      }
      Deliver(rapidjson::Value(s->data(), static_cast<rapidjson::SizeType>(s->size()), alloc),
              slot);
      return;
    }
    case JsonTokenType::kKeyword:
      if (text == "true" || text == "false") {
        Deliver(rapidjson::Value(text == "true"), slot);
      } else if (text == "null") {
        Deliver(rapidjson::Value(), slot);
      } else {
        Fail(JsonInvalidKeywordError(text));
      }
      return;
    case JsonTokenType::kRCurly:
    case JsonTokenType::kRSquare:
    case JsonTokenType::kColon:
    case JsonTokenType::kComma:
      Fail(kJsonExpectingValue);
      return;
  }
}

void JsonValueBuilder::Close() {
  rapidjson::Value container(std::move(stack_.back().container));
  const Slot slot = stack_.back().slot;
  stack_.pop_back();
  Deliver(std::move(container), slot);
}

void JsonValueBuilder::Deliver(rapidjson::Value&& value, Slot slot) {
  auto& alloc = doc_->GetAllocator();
  switch (slot) {
    case Slot::kTop:
      result_ = std::move(value);
      expect_ = Expect::kDone;
      return;
    case Slot::kElement:
      stack_.back().container.PushBack(value, alloc);
      expect_ = Expect::kListSeparator;
      return;
    case Slot::kKey:
      // QEMU parses the key as any value (even a nested object), then insists on a string.
      if (!value.IsString()) {
        Fail(kJsonKeyNotString);
        return;
      }
      stack_.back().key = std::move(value);
      expect_ = Expect::kColon;
      return;
    case Slot::kMemberValue: {
      Frame& frame = stack_.back();
      // The duplicate check comes after the value is parsed, as in parse_pair(), so an error
      // inside the value wins over "duplicate key".
      if (!AddName(frame, absl::string_view(frame.key.GetString(), frame.key.GetStringLength()))) {
        Fail(kJsonDuplicateKey);
        return;
      }
      frame.container.AddMember(frame.key, value, alloc);
      expect_ = Expect::kDictSeparator;
      return;
    }
  }
}

bool JsonValueBuilder::AddName(Frame& frame, absl::string_view name) {
  const rapidjson::Value& obj = frame.container;
  if (frame.names.empty() && obj.MemberCount() < kLinearNameSearch) {
    for (auto m = obj.MemberBegin(); m != obj.MemberEnd(); ++m) {
      if (absl::string_view(m->name.GetString(), m->name.GetStringLength()) == name) {
        return false;
      }
    }
    return true;
  }
  if (frame.names.empty()) {
    for (auto m = obj.MemberBegin(); m != obj.MemberEnd(); ++m) {
      frame.names.emplace(m->name.GetString(), m->name.GetStringLength());
    }
  }
  return frame.names.emplace(name).second;
}

void JsonValueBuilder::Fail(absl::string_view message) {
  error_ = std::string(message);
  // Nothing of the value is needed any more; free it now rather than when its tokens end.
  stack_.clear();
  result_.SetNull();
  doc_.reset();
}

absl::StatusOr<rapidjson::Document> JsonValueBuilder::Finish() {
  absl::StatusOr<rapidjson::Document> out;
  if (error_.has_value()) {
    out = absl::InvalidArgumentError(*error_);
  } else if (expect_ == Expect::kDone) {
    rapidjson::Document doc(std::move(*doc_));
    static_cast<rapidjson::Value&>(doc).Swap(result_);
    out = std::move(doc);
  } else {
    out = absl::InvalidArgumentError(kJsonPrematureEoi);
  }
  Reset();
  return out;
}

void JsonValueBuilder::Reset() {
  stack_.clear();
  result_.SetNull();
  doc_.reset();
  error_.reset();
  expect_ = Expect::kValue;
}

}  // namespace migemu::monitor::internal
