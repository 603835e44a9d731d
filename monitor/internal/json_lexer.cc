#include "monitor/internal/json_lexer.h"

namespace migemu::monitor::internal {
namespace {

bool IsDigit(uint8_t c) { return c >= '0' && c <= '9'; }

// Bytes a string may hold unescaped, and bytes an escape may take (json-lexer.c: 0x20..0xFD).
bool IsStringByte(uint8_t c) { return c >= 0x20 && c <= 0xFD; }

// Where error recovery stops: a structural character, an ASCII control character other than
// TAB (so a newline resynchronises), or one of the bytes that never occur in UTF-8.
bool EndsRecovery(uint8_t c) {
  switch (c) {
    case '{':
    case '}':
    case '[':
    case ']':
    case ':':
    case ',':
      return true;
    case '\t':
      return false;
    default:
      return c < 0x20 || c >= 0xFE;
  }
}

}  // namespace

size_t JsonLexer::Feed(absl::string_view bytes) {
  size_t i = 0;
  while (i < bytes.size()) {
    if (state_ == State::kDqString || state_ == State::kSqString) {
      // A run of plain string bytes produces no output, so it needs no pause check.
      const size_t run = FeedStringRun(bytes.substr(i));
      if (run > 0) {
        i += run;
        CheckTokenSize();
        if (sink_.ShouldPause()) {
          break;
        }
        continue;
      }
    }
    const auto c = static_cast<uint8_t>(bytes[i++]);
    while (!Step(c)) {
    }
    CheckTokenSize();
    if (sink_.ShouldPause()) {
      break;
    }
  }
  return i;
}

size_t JsonLexer::FeedStringRun(absl::string_view bytes) {
  const char quote = state_ == State::kDqString ? '"' : '\'';
  // token_.size() <= kJsonMaxTokenSize here (CheckTokenSize ran after the last byte), so the
  // run may take the token to kJsonMaxTokenSize + 1 bytes at most, where the check fires.
  const size_t limit = kJsonMaxTokenSize + 1 - token_.size();
  size_t n = 0;
  while (n < bytes.size() && n < limit) {
    const auto c = static_cast<uint8_t>(bytes[n]);
    if (!IsStringByte(c) || c == '\\' || c == static_cast<uint8_t>(quote)) {
      break;
    }
    ++n;
  }
  token_.append(bytes.data(), n);
  return n;
}

bool JsonLexer::Step(uint8_t c) {
  switch (state_) {
    case State::kStart:
      switch (c) {
        case ' ':
        case '\t':
        case '\r':
        case '\n':
          return true;
        case '{':
        case '}':
        case '[':
        case ']':
        case ':':
        case ',': {
          static constexpr JsonTokenType kTypes[] = {
              JsonTokenType::kLCurly,  JsonTokenType::kRCurly, JsonTokenType::kLSquare,
              JsonTokenType::kRSquare, JsonTokenType::kColon,  JsonTokenType::kComma};
          static constexpr absl::string_view kChars = "{}[]:,";
          token_.push_back(static_cast<char>(c));
          Finish(kTypes[kChars.find(static_cast<char>(c))]);
          return true;
        }
        case '"':
          state_ = State::kDqString;
          break;
        case '\'':
          state_ = State::kSqString;
          break;
        case '-':
          state_ = State::kSign;
          break;
        case '0':
          state_ = State::kZero;
          break;
        default:
          if (c >= '1' && c <= '9') {
            state_ = State::kDigits;
          } else if (c >= 'a' && c <= 'z') {
            state_ = State::kKeyword;
          } else {
            Error(c);
            return true;
          }
      }
      token_.push_back(static_cast<char>(c));
      return true;

    case State::kRecovery:
      if (EndsRecovery(c)) {
        state_ = State::kStart;
        return false;
      }
      return true;

    case State::kDqString:
    case State::kSqString: {
      if (!IsStringByte(c)) {
        Error(c);
        return true;
      }
      const bool dq = state_ == State::kDqString;
      token_.push_back(static_cast<char>(c));
      if (c == '\\') {
        state_ = dq ? State::kDqEscape : State::kSqEscape;
      } else if (c == static_cast<uint8_t>(dq ? '"' : '\'')) {
        Finish(JsonTokenType::kString);
      }
      return true;
    }

    case State::kDqEscape:
    case State::kSqEscape:
      if (!IsStringByte(c)) {
        Error(c);
        return true;
      }
      token_.push_back(static_cast<char>(c));
      state_ = state_ == State::kDqEscape ? State::kDqString : State::kSqString;
      return true;

    case State::kSign:
      if (c == '0') {
        state_ = State::kZero;
      } else if (c >= '1' && c <= '9') {
        state_ = State::kDigits;
      } else {
        Error(c);
        return true;
      }
      token_.push_back(static_cast<char>(c));
      return true;

    case State::kZero:
      if (IsDigit(c)) {
        Error(c);  // no leading zeros
        return true;
      }
      if (c == '.') {
        state_ = State::kMantissa;
        token_.push_back(static_cast<char>(c));
        return true;
      }
      Finish(JsonTokenType::kInteger);
      return false;

    case State::kDigits:
      if (IsDigit(c)) {
        token_.push_back(static_cast<char>(c));
        return true;
      }
      if (c == '.' || c == 'e' || c == 'E') {
        state_ = c == '.' ? State::kMantissa : State::kExpE;
        token_.push_back(static_cast<char>(c));
        return true;
      }
      Finish(JsonTokenType::kInteger);
      return false;

    case State::kMantissa:
      if (!IsDigit(c)) {
        Error(c);
        return true;
      }
      state_ = State::kMantissaDigits;
      token_.push_back(static_cast<char>(c));
      return true;

    case State::kMantissaDigits:
      if (IsDigit(c)) {
        token_.push_back(static_cast<char>(c));
        return true;
      }
      if (c == 'e' || c == 'E') {
        state_ = State::kExpE;
        token_.push_back(static_cast<char>(c));
        return true;
      }
      Finish(JsonTokenType::kFloat);
      return false;

    case State::kExpE:
      if (c == '+' || c == '-') {
        state_ = State::kExpSign;
      } else if (IsDigit(c)) {
        state_ = State::kExpDigits;
      } else {
        Error(c);
        return true;
      }
      token_.push_back(static_cast<char>(c));
      return true;

    case State::kExpSign:
      if (!IsDigit(c)) {
        Error(c);
        return true;
      }
      state_ = State::kExpDigits;
      token_.push_back(static_cast<char>(c));
      return true;

    case State::kExpDigits:
      if (IsDigit(c)) {
        token_.push_back(static_cast<char>(c));
        return true;
      }
      Finish(JsonTokenType::kFloat);
      return false;

    case State::kKeyword:
      if (c >= 'a' && c <= 'z') {
        token_.push_back(static_cast<char>(c));
        return true;
      }
      Finish(JsonTokenType::kKeyword);
      return false;
  }
  return true;  // not reached: every state is handled above
}

void JsonLexer::Flush() {
  // json_lexer_flush() runs the automaton on a virtual NUL byte that is never consumed: states
  // where a token may end finish it, every other partial token is a lexical error without the
  // NUL, and recovery ends.
  switch (state_) {
    case State::kStart:
    case State::kRecovery:
      break;
    case State::kZero:
    case State::kDigits:
      Finish(JsonTokenType::kInteger);
      break;
    case State::kMantissaDigits:
    case State::kExpDigits:
      Finish(JsonTokenType::kFloat);
      break;
    case State::kKeyword:
      Finish(JsonTokenType::kKeyword);
      break;
    case State::kDqString:
    case State::kDqEscape:
    case State::kSqString:
    case State::kSqEscape:
    case State::kSign:
    case State::kMantissa:
    case State::kExpE:
    case State::kExpSign:
      sink_.OnLexicalError(token_);
      break;
  }
  token_.clear();
  state_ = State::kStart;
  sink_.OnEndOfInput();
}

void JsonLexer::Reset() {
  token_.clear();
  state_ = State::kStart;
}

void JsonLexer::Finish(JsonTokenType type) {
  sink_.OnToken(type, token_);
  token_.clear();
  state_ = State::kStart;
}

void JsonLexer::Error(uint8_t c) {
  token_.push_back(static_cast<char>(c));
  sink_.OnLexicalError(token_);
  token_.clear();
  state_ = State::kRecovery;
}

void JsonLexer::CheckTokenSize() {
  // Mirrors the check at the end of json_lexer_feed_char(): one byte beyond the limit cuts the
  // token and lexing starts afresh.
  if (token_.size() > kJsonMaxTokenSize) {
    token_.clear();
    state_ = State::kStart;
    sink_.OnOversizeToken();
  }
}

}  // namespace migemu::monitor::internal
