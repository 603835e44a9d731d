// File: monitor/internal/json_builder.h
//
// JsonValueBuilder turns the tokens of one top-level JSON value into a rapidjson::Document,
// token by token, with the grammar, the conversions and the error texts of QEMU 7.2's
// qobject/json-parser.c. QEMU queues a value's tokens and parses them once its brackets
// balance; this builder consumes each token as it comes and remembers the first error, which is
// the error QEMU's recursive-descent parser reports for the same tokens (it stops at the first
// one too). The streamer (JsonStreamParser) decides when a value ends and calls Finish().
//
// Conversions:
//  * integer token: int64 if it fits, else uint64 if it fits and is not negative, else double;
//    float token: double. Doubles come from strtod in the C locale, so 1e999 is +inf.
//  * string token: escapes decoded, raw bytes validated as modified UTF-8; the result is stored
//    as modified UTF-8 (\u0000 and a raw C0 80 both become the bytes C0 80, as in QEMU's
//    QString), so a decoded string never contains a NUL byte.
//  * object members keep input order; a repeated key is an error.
//
// Thread-compatible.
#ifndef MIGEMU_MONITOR_INTERNAL_JSON_BUILDER_H_
#define MIGEMU_MONITOR_INTERNAL_JSON_BUILDER_H_

#include <absl/status/statusor.h>
#include <absl/strings/string_view.h>
#include <rapidjson/document.h>

#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "monitor/internal/json_lexer.h"

namespace migemu::monitor::internal {

// DecodeJsonString: parse_string(): the contents of a string token (quotes included in
// `token`, as the lexer delivers it), or InvalidArgument with QEMU's text.
absl::StatusOr<std::string> DecodeJsonString(absl::string_view token);

class JsonValueBuilder final {
 public:
  JsonValueBuilder() = default;
  JsonValueBuilder(const JsonValueBuilder&) = delete;
  JsonValueBuilder& operator=(const JsonValueBuilder&) = delete;

  // Push: the next token of the value. Tokens after the first error are ignored.
  void Push(JsonTokenType type, absl::string_view text);

  // Finish: the value, or InvalidArgument with the first error ("premature EOI" when the tokens
  // ended before the value did). The builder is empty afterwards.
  absl::StatusOr<rapidjson::Document> Finish();

  // Reset: drops everything pushed so far.
  void Reset();

 private:
  // What the next token must be (the position in QEMU's recursive descent).
  enum class Expect {
    kValue,       // parse_value()
    kKey,         // parse_pair() after ','
    kKeyOrEnd,    // parse_object() after '{'
    kValueOrEnd,  // parse_array() after '['
    kColon,
    kDictSeparator,
    kListSeparator,
    kDone,  // the top-level value is complete
  };
  // Where a finished value goes.
  enum class Slot { kTop, kElement, kKey, kMemberValue };

  struct Frame {
    Frame(bool object, Slot s)
        : is_object(object),
          slot(s),
          container(object ? rapidjson::kObjectType : rapidjson::kArrayType) {}
    bool is_object;
    Slot slot;  // where this container goes once closed
    rapidjson::Value container;
    rapidjson::Value key;  // the member name waiting for its value
    // Names of a large object, for the duplicate check; small objects are scanned instead.
    std::unordered_set<std::string> names;
  };

  void StartValue(JsonTokenType type, absl::string_view text, Slot slot);
  void Close();
  void Deliver(rapidjson::Value&& value, Slot slot);
  // AddName: false if the top object already has `name`; otherwise records it.
  bool AddName(Frame& frame, absl::string_view name);
  void Fail(absl::string_view message);

  std::optional<rapidjson::Document> doc_;  // owns the allocator of everything below
  std::vector<Frame> stack_;
  rapidjson::Value result_;
  Expect expect_ = Expect::kValue;
  std::optional<std::string> error_;
};

}  // namespace migemu::monitor::internal

#endif  // MIGEMU_MONITOR_INTERNAL_JSON_BUILDER_H_
