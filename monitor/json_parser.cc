#include "monitor/json_parser.h"

#include <absl/status/status.h>

#include <deque>
#include <string>
#include <utility>

#include "monitor/errors.h"
#include "monitor/internal/json_builder.h"
#include "monitor/internal/json_lexer.h"

namespace migemu::monitor {

static_assert(kJsonMaxTokenSize == internal::kJsonMaxTokenSize);

// Impl is json-streamer.c: it receives the lexer's tokens, applies the per-value limits, counts
// brackets to find where a value ends, and hands the tokens to the builder meanwhile.
class JsonStreamParser::Impl final : public internal::JsonTokenSink {
 public:
  Impl() : lexer_(*this) {}

  void Feed(absl::string_view bytes) {
    if (pos_ == input_.size()) {
      input_.clear();
      pos_ = 0;
    } else if (pos_ > input_.size() / 2) {
      input_.erase(0, pos_);  // keeps the buffer from growing while being consumed
      pos_ = 0;
    }
    input_.append(bytes.data(), bytes.size());
  }

  void Flush() { flush_at_.push_back(input_.size() - pos_ + consumed_); }

  bool Next(Result* result) {
    while (ready_.empty()) {
      // Parse up to the next flush mark (or the end), pausing as soon as a result exists.
      size_t end = input_.size();
      if (!flush_at_.empty()) {
        end = pos_ + (flush_at_.front() - consumed_);
      }
      if (pos_ < end) {
        const size_t used = lexer_.Feed(absl::string_view(input_).substr(pos_, end - pos_));
        pos_ += used;
        consumed_ += used;
        continue;
      }
      if (flush_at_.empty()) {
        return false;
      }
      flush_at_.pop_front();
      lexer_.Flush();
    }
    *result = std::move(ready_.front());
    ready_.pop_front();
    return true;
  }

  void Reset() {
    lexer_.Reset();
    DropValue();
    input_.clear();
    pos_ = 0;
    consumed_ = 0;
    flush_at_.clear();
    ready_.clear();
  }

  void OnToken(internal::JsonTokenType type, absl::string_view text) override {
    using internal::JsonTokenType;
    switch (type) {
      case JsonTokenType::kLCurly:
        ++brace_count_;
        break;
      case JsonTokenType::kRCurly:
        --brace_count_;
        break;
      case JsonTokenType::kLSquare:
        ++bracket_count_;
        break;
      case JsonTokenType::kRSquare:
        --bracket_count_;
        break;
      default:
        break;
    }
    // The order of the checks, and the "+ 1", are json_message_process_token()'s.
    if (token_size_ + text.size() + 1 > kJsonMaxTokenSize) {
      Emit(absl::InvalidArgumentError(kJsonTokenSizeLimitExceeded));
      return;
    }
    if (token_count_ + 1 > kJsonMaxTokenCount) {
      Emit(absl::InvalidArgumentError(kJsonTokenCountLimitExceeded));
      return;
    }
    if (brace_count_ + bracket_count_ > kJsonMaxNesting) {
      Emit(absl::InvalidArgumentError(kJsonNestingLimitExceeded));
      return;
    }
    token_size_ += text.size();
    ++token_count_;
    builder_.Push(type, text);
    if ((brace_count_ > 0 || bracket_count_ > 0) && brace_count_ >= 0 && bracket_count_ >= 0) {
      return;  // the value goes on
    }
    Emit(builder_.Finish());
  }

  void OnLexicalError(absl::string_view text) override {
    Emit(absl::InvalidArgumentError(JsonStrayError(text)));
  }

  void OnOversizeToken() override {
    // QEMU passes the cut token to the streamer, whose size check always fails for it.
    Emit(absl::InvalidArgumentError(kJsonTokenSizeLimitExceeded));
  }

  void OnEndOfInput() override {
    if (token_count_ > 0) {
      Emit(builder_.Finish());
    }
  }

  bool ShouldPause() const override { return !ready_.empty(); }

 private:
  // Emit: records a result and starts a new value, whatever was pending (json-streamer.c's
  // out_emit).
  void Emit(Result result) {
    ready_.push_back(std::move(result));
    DropValue();
  }

  void DropValue() {
    brace_count_ = 0;
    bracket_count_ = 0;
    token_count_ = 0;
    token_size_ = 0;
    builder_.Reset();
  }

  internal::JsonLexer lexer_;
  internal::JsonValueBuilder builder_;
  // The pending value: bracket balance, and how many tokens and token bytes it has so far.
  int64_t brace_count_ = 0;
  int64_t bracket_count_ = 0;
  size_t token_count_ = 0;
  size_t token_size_ = 0;
  // Input fed but not parsed yet is input_[pos_..]; consumed_ counts every byte ever parsed, and
  // flush_at_ holds, in that count, where each Flush() was requested.
  std::string input_;
  size_t pos_ = 0;
  size_t consumed_ = 0;
  std::deque<size_t> flush_at_;
  // Results not yet taken: at most the two one byte can complete (a number ended by a closing
  // bracket that also ends a value, say), as the lexer pauses after that byte.
  std::deque<Result> ready_;
};

JsonStreamParser::JsonStreamParser() : impl_(std::make_unique<Impl>()) {}
JsonStreamParser::~JsonStreamParser() = default;

void JsonStreamParser::Feed(absl::string_view bytes) { impl_->Feed(bytes); }
void JsonStreamParser::Flush() { impl_->Flush(); }
bool JsonStreamParser::Next(Result* result) { return impl_->Next(result); }
void JsonStreamParser::Reset() { impl_->Reset(); }

absl::StatusOr<rapidjson::Document> ParseQmpJson(absl::string_view text) {
  JsonStreamParser parser;
  parser.Feed(text);
  parser.Flush();
  JsonStreamParser::Result first;
  if (!parser.Next(&first)) {
    return absl::InvalidArgumentError(kJsonExpectingAValue);
  }
  // consume_json() in qobject/qjson.c: after an error everything else is ignored; after a value,
  // anything more (value or error) replaces it with this error.
  JsonStreamParser::Result more;
  if (first.ok() && parser.Next(&more)) {
    return absl::InvalidArgumentError(kJsonExpectingAtMostOneValue);
  }
  return first;
}

}  // namespace migemu::monitor
