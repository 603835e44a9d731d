// File: monitor/json_parser.h
//
// JsonStreamParser: QMP's JSON input, byte for byte as QEMU 7.2 reads it (qobject/json-lexer.c,
// json-streamer.c, json-parser.c; QMP uses no '%' interpolation). Feed it whatever the socket
// returned, then take the results: one per top-level value, in input order, each either the
// value as a rapidjson::Document or an InvalidArgument status whose message is QEMU's exact
// error text (the QMP "desc"). Values may be split across Feed() calls or several may arrive in
// one.
//
//   monitor::JsonStreamParser parser;
//   parser.Feed(absl::string_view(buf, n));
//   monitor::JsonStreamParser::Result r;
//   while (parser.Next(&r)) {
//     if (!r.ok()) { Reply(GenericError(r.status().message())); continue; }
//     Dispatch(*r);
//   }
//
// Next() parses lazily, up to the end of the next value, like QEMU's monitor, which reads one
// byte at a time and stops reading while a command is in flight. So only one value's DOM exists
// at a time however many values a chunk holds (every rapidjson::Document costs a 64 KiB pool).
//
// When a value ends, and what an error discards (the full rules are in docs/qmp.md):
//  * A value ends when its brackets balance: with the token that closes the outermost { or [,
//    with a top-level string, or, for a top-level number or keyword, when the byte after it
//    arrives. A closing bracket that makes a count negative ends the value too (as an error).
//  * A lexical error ("JSON parse error, stray '<text>'") is reported at once and drops the
//    pending value; input is then skipped up to { } [ ] : , a control character other than TAB
//    (e.g. '\n'), or a 0xFE/0xFF byte.
//  * Limits per value (QEMU's): the tokens' bytes plus one must stay within 64 MiB
//    ("JSON token size limit exceeded"), at most 2 Mi tokens ("JSON token count limit
//    exceeded"), at most 1024 open brackets ("JSON nesting depth limit exceeded"). Breaking one
//    reports the error at once and drops the pending value; the rest of the input is read as new
//    values (so the closing brackets of a too-deep value each give an error).
//  * A syntax error is reported only when the value's brackets balance, with the text of the
//    first error in token order.
//
// Memory: the bytes fed and not yet parsed, the token being lexed (at most 64 MiB + 1 bytes) and
// the DOM of the pending value; work is linear in the input.
//
// Thread-compatible: one thread at a time.
#ifndef MIGEMU_MONITOR_JSON_PARSER_H_
#define MIGEMU_MONITOR_JSON_PARSER_H_

#include <absl/status/statusor.h>
#include <absl/strings/string_view.h>
#include <rapidjson/document.h>

#include <cstddef>
#include <cstdint>
#include <memory>

namespace migemu::monitor {

// QEMU's limits on one top-level value (qobject/json-streamer.c).
inline constexpr size_t kJsonMaxTokenSize = size_t{64} << 20;  // bytes, summed over tokens
inline constexpr size_t kJsonMaxTokenCount = size_t{2} << 20;
inline constexpr int kJsonMaxNesting = 1024;

class JsonStreamParser final {
 public:
  using Result = absl::StatusOr<rapidjson::Document>;

  JsonStreamParser();
  ~JsonStreamParser();
  JsonStreamParser(const JsonStreamParser&) = delete;
  JsonStreamParser& operator=(const JsonStreamParser&) = delete;

  // Feed: appends `bytes` to the input (copied; parsed by Next()).
  void Feed(absl::string_view bytes);

  // Flush: marks the end of the input fed so far (json_message_parser_flush()): once Next() has
  // parsed it, a pending number or keyword ends, a partial string or number is a "stray" error,
  // and the tokens of an unfinished value give "JSON parse error, premature EOI". Input fed
  // later starts afresh. QEMU's QMP monitor never flushes (a closed connection just drops what
  // was pending); this is for one-shot parsing and tests.
  void Flush();

  // Next: parses input until the next value or error is complete and moves it to `*result`;
  // false (and `*result` untouched) when the input ran out first.
  [[nodiscard]] bool Next(Result* result);

  // Reset: forgets all input, pending or unparsed (QEMU re-initialises its parser when a client
  // disconnects).
  void Reset();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// ParseQmpJson: one-shot parsing of `text`, which must hold exactly one JSON value (whitespace
// around it is fine), with the same rules; mirrors QEMU's qobject_from_json(). The first error
// wins; a second value is "Expecting at most one JSON value"; no value at all is "Expecting a
// JSON value". Unlike QEMU's C string, `text` may contain NUL bytes (they are stray errors).
absl::StatusOr<rapidjson::Document> ParseQmpJson(absl::string_view text);

}  // namespace migemu::monitor

#endif  // MIGEMU_MONITOR_JSON_PARSER_H_
