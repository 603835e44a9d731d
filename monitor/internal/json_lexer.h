// File: monitor/internal/json_lexer.h
//
// JsonLexer splits a byte stream into JSON tokens with exactly the automaton of QEMU 7.2's
// qobject/json-lexer.c (QMP flavour: no '%' interpolation). It is fed arbitrary chunks and keeps
// only the token being recognised; every finished token, lexical error and over-long token is
// reported to a JsonTokenSink as soon as it is known.
//
//   class Sink : public JsonTokenSink { ... };
//   Sink sink;
//   JsonLexer lexer(sink);
//   size_t used = lexer.Feed(bytes);   // any chunking gives the same calls on `sink`
//
// Rules (all QEMU's):
//  * Tokens: { } [ ] : ,  strings in "double" or 'single' quotes (any byte 0x20..0xFD inside;
//    a backslash takes the next byte 0x20..0xFD whatever it is, the parser judges escapes),
//    numbers -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, keywords [a-z]+ (the parser
//    rejects all but true/false/null). Whitespace: space, \t, \r, \n.
//  * A number or keyword ends only when the next byte arrives (one byte of look-ahead), so a
//    top-level 42 is reported when the byte after it is fed.
//  * Any other byte where a token may start, or inside a token, is a lexical error: the sink gets
//    the token text so far including the offending byte. The lexer then skips input until a
//    byte that is one of { } [ ] : , an ASCII control character other than \t, or 0xFE/0xFF,
//    and restarts there (that byte is lexed again from the start state).
//  * A token longer than 64 MiB is cut when its 64 MiB + 1st byte arrives: the sink gets
//    OnOversizeToken() and lexing restarts in the start state with the next byte.
//
// Thread-compatible: one thread at a time.
#ifndef MIGEMU_MONITOR_INTERNAL_JSON_LEXER_H_
#define MIGEMU_MONITOR_INTERNAL_JSON_LEXER_H_

#include <absl/strings/string_view.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace migemu::monitor::internal {

// QEMU's MAX_TOKEN_SIZE (json-lexer.c and json-streamer.c): 64 MiB.
inline constexpr size_t kJsonMaxTokenSize = size_t{64} << 20;

enum class JsonTokenType {
  kLCurly,
  kRCurly,
  kLSquare,
  kRSquare,
  kColon,
  kComma,
  kInteger,  // -?(0|[1-9][0-9]*)
  kFloat,    // an integer with a fraction and/or an exponent
  kKeyword,  // [a-z]+
  kString,   // the raw text including its quotes and escapes
};

// JsonTokenSink receives the lexer's output, in input order.
class JsonTokenSink {
 public:
  virtual ~JsonTokenSink() = default;
  // OnToken: a complete token; `text` is valid only during the call.
  virtual void OnToken(JsonTokenType type, absl::string_view text) = 0;
  // OnLexicalError: the text of the rejected token, ending with the offending byte (it may
  // contain any byte, NUL included).
  virtual void OnLexicalError(absl::string_view text) = 0;
  // OnOversizeToken: the current token grew beyond kJsonMaxTokenSize and was dropped.
  virtual void OnOversizeToken() = 0;
  // OnEndOfInput: Flush() was called (json_lexer_flush()'s JSON_END_OF_INPUT).
  virtual void OnEndOfInput() = 0;
  // ShouldPause: asked after each byte; true makes Feed() return early (the sink has output
  // waiting to be taken).
  virtual bool ShouldPause() const = 0;
};

class JsonLexer final {
 public:
  // `sink` must outlive the lexer.
  explicit JsonLexer(JsonTokenSink& sink) : sink_(sink) {}
  JsonLexer(const JsonLexer&) = delete;
  JsonLexer& operator=(const JsonLexer&) = delete;

  // Feed: lexes the bytes of `bytes` in order until they run out or the sink asks to pause
  // after one of them; returns how many bytes were consumed.
  size_t Feed(absl::string_view bytes);

  // Flush: end of input (json_lexer_flush()): a pending number or keyword is finished, a pending
  // string or incomplete number is a lexical error, then the sink gets OnEndOfInput().
  void Flush();

  // Reset: back to the start state; the partial token is dropped.
  void Reset();

 private:
  enum class State : uint8_t {
    kStart,
    kRecovery,
    kDqString,
    kDqEscape,
    kSqString,
    kSqEscape,
    kSign,            // after '-'
    kZero,            // -?0
    kDigits,          // -?[1-9][0-9]*
    kMantissa,        // after '.', a digit must follow
    kMantissaDigits,  // .[0-9]+
    kExpE,            // after 'e'/'E'
    kExpSign,         // after the exponent's sign, a digit must follow
    kExpDigits,
    kKeyword,
  };

  // Step: runs the automaton on one byte; returns false when the byte was not consumed (it ended
  // the previous token or recovery) and must be looked at again from the new state.
  bool Step(uint8_t c);
  // FeedString: the fast path inside a string: appends the run of plain bytes at the start of
  // `bytes` (bounded so the over-long check fires at the same byte as byte-wise lexing) and
  // returns its length.
  size_t FeedStringRun(absl::string_view bytes);
  void Finish(JsonTokenType type);
  void Error(uint8_t c);
  void CheckTokenSize();

  JsonTokenSink& sink_;
  State state_ = State::kStart;
  std::string token_;
};

}  // namespace migemu::monitor::internal

#endif  // MIGEMU_MONITOR_INTERNAL_JSON_LEXER_H_
