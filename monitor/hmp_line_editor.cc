#include "monitor/hmp_line_editor.h"

#include <absl/strings/str_cat.h>

#include <algorithm>
#include <utility>

#include "monitor/hmp_parser.h"

namespace migemu::monitor {

namespace {

constexpr absl::string_view kLeft = "\033[D";
constexpr absl::string_view kRight = "\033[C";
constexpr absl::string_view kClearToEnd = "\033[K";
constexpr absl::string_view kClearScreen = "\033[2J\033[1;1H";

}  // namespace

HmpLineEditor::HmpLineEditor(Callbacks callbacks, std::string prompt)
    : callbacks_(std::move(callbacks)), prompt_(std::move(prompt)) {}

void HmpLineEditor::ShowPrompt() {
  callbacks_.output(prompt_);
  shown_.clear();
  shown_cursor_ = 0;
  esc_ = Esc::kNorm;
}

void HmpLineEditor::Restart() {
  line_.clear();
  cursor_ = 0;
}

// readline_update(): redraw the whole line when it changed, then move the cursor.
void HmpLineEditor::Update() {
  std::string out;
  if (line_ != shown_) {
    for (size_t i = 0; i < shown_cursor_; ++i) {
      absl::StrAppend(&out, kLeft);
    }
    absl::StrAppend(&out, line_, kClearToEnd);
    shown_ = line_;
    shown_cursor_ = line_.size();
  }
  if (cursor_ != shown_cursor_) {
    const bool right = cursor_ > shown_cursor_;
    const size_t delta = right ? cursor_ - shown_cursor_ : shown_cursor_ - cursor_;
    for (size_t i = 0; i < delta; ++i) {
      absl::StrAppend(&out, right ? kRight : kLeft);
    }
    shown_cursor_ = cursor_;
  }
  if (!out.empty()) {
    callbacks_.output(out);
  }
}

void HmpLineEditor::InsertChar(char c) {
  // QEMU checks the cursor against the buffer size; the length is what must stay bounded.
  if (line_.size() < kMaxLine) {
    line_.insert(line_.begin() + static_cast<std::ptrdiff_t>(cursor_), c);
    ++cursor_;
  }
}

void HmpLineEditor::DeleteChar() {
  if (cursor_ < line_.size()) {
    line_.erase(cursor_, 1);
  }
}

void HmpLineEditor::Backspace() {
  if (cursor_ > 0) {
    --cursor_;
    DeleteChar();
  }
}

// readline_backword(): ^W deletes back to the start of the previous word.
void HmpLineEditor::BackwardWord() {
  if (cursor_ == 0 || cursor_ > line_.size()) {
    return;
  }
  size_t start = cursor_ - 1;
  while (start > 0 && IsHmpSpace(line_[start])) {
    --start;
  }
  while (start > 0) {
    if (IsHmpSpace(line_[start])) {
      ++start;
      break;
    }
    --start;
  }
  if (start < cursor_) {
    line_.erase(start, cursor_ - start);
    cursor_ = start;
  }
}

void HmpLineEditor::HistoryUp() {
  if (hist_entry_ == 0) {
    return;
  }
  if (hist_entry_ == -1) {
    hist_entry_ = static_cast<int>(history_.size());
  }
  --hist_entry_;
  if (hist_entry_ >= 0) {
    line_ = history_[static_cast<size_t>(hist_entry_)];
    cursor_ = line_.size();
  }
}

void HmpLineEditor::HistoryDown() {
  if (hist_entry_ == -1) {
    return;
  }
  if (hist_entry_ < static_cast<int>(kMaxHistory) - 1 &&
      static_cast<size_t>(++hist_entry_) < history_.size()) {
    line_ = history_[static_cast<size_t>(hist_entry_)];
  } else {
    line_.clear();
    hist_entry_ = -1;
  }
  cursor_ = line_.size();
}

// readline_hist_add(): a line already in the history moves to the end (unless it sits in the
// very last slot of a full history, where QEMU leaves everything as it is).
void HmpLineEditor::HistoryAdd(const std::string& line) {
  if (line.empty()) {
    return;
  }
  auto it = std::find(history_.begin(), history_.end(), line);
  if (hist_entry_ != -1 && static_cast<size_t>(hist_entry_) < history_.size() &&
      history_[static_cast<size_t>(hist_entry_)] == line) {
    it = history_.begin() + hist_entry_;
  }
  if (it != history_.end()) {
    if (static_cast<size_t>(it - history_.begin()) == kMaxHistory - 1) {
      return;
    }
    history_.erase(it);
  } else if (history_.size() == kMaxHistory) {
    history_.erase(history_.begin());
  }
  history_.push_back(line);
  hist_entry_ = -1;
}

// readline_completion().
void HmpLineEditor::Complete() {
  if (!callbacks_.complete) {
    return;
  }
  HmpCompletion c = callbacks_.complete(absl::string_view(line_).substr(0, cursor_));
  if (c.candidates.empty()) {
    return;
  }
  if (c.candidates.size() == 1) {
    const std::string& word = c.candidates[0];
    for (size_t i = c.index; i < word.size(); ++i) {
      InsertChar(word[i]);
    }
    if (!word.empty() && word.back() != '/') {
      InsertChar(' ');
    }
    return;
  }
  std::vector<std::string> words = std::move(c.candidates);
  std::sort(words.begin(), words.end());
  size_t max_width = 0;
  size_t max_prefix = words[0].size();
  for (const std::string& w : words) {
    max_width = std::max(max_width, w.size());
    max_prefix = std::min(max_prefix, w.size());
    for (size_t j = 0; j < max_prefix; ++j) {
      if (w[j] != words[0][j]) {
        max_prefix = j;
      }
    }
  }
  std::string out = "\n";
  for (size_t i = c.index; i < max_prefix; ++i) {
    InsertChar(words[0][i]);
  }
  max_width = std::clamp<size_t>(max_width + 2, 10, 80);
  const size_t columns = 80 / max_width;
  size_t column = 0;
  for (size_t i = 0; i < words.size(); ++i) {
    absl::StrAppend(&out, words[i],
                    std::string(max_width - std::min(max_width, words[i].size()), ' '));
    if (++column == columns || i + 1 == words.size()) {
      absl::StrAppend(&out, "\n");
      column = 0;
    }
  }
  callbacks_.output(out);
  ShowPrompt();
}

void HmpLineEditor::HandleByte(unsigned char ch) {
  switch (esc_) {
    case Esc::kNorm:
      switch (ch) {
        case 1:  // ^A
          cursor_ = 0;
          break;
        case 4:  // ^D: delete under the cursor (never EOF here)
          DeleteChar();
          break;
        case 5:  // ^E
          cursor_ = line_.size();
          break;
        case 9:
          Complete();
          break;
        case 12:  // ^L
          callbacks_.output(kClearScreen);
          ShowPrompt();
          break;
        case 10:
        case 13: {
          std::string line = line_;
          HistoryAdd(line);
          callbacks_.output("\n");
          line_.clear();
          cursor_ = 0;
          shown_.clear();
          shown_cursor_ = 0;
          callbacks_.on_line(line);
          break;
        }
        case 23:  // ^W
          BackwardWord();
          break;
        case 27:
          esc_ = Esc::kEsc;
          break;
        case 127:
        case 8:
          Backspace();
          break;
        case 155:  // 8-bit CSI; QEMU keeps the previous parameter
          esc_ = Esc::kCsi;
          break;
        default:
          if (ch >= 32) {
            InsertChar(static_cast<char>(ch));
          }
          break;
      }
      break;
    case Esc::kEsc:
      if (ch == '[') {
        esc_ = Esc::kCsi;
        esc_param_ = 0;
      } else if (ch == 'O') {
        esc_ = Esc::kSs3;
        esc_param_ = 0;
      } else {
        esc_ = Esc::kNorm;
      }
      break;
    case Esc::kCsi:
      if (ch >= '0' && ch <= '9') {
        esc_param_ = esc_param_ * 10 + (ch - '0');
        break;
      }
      switch (ch) {
        case 'A':
        case 'F':
          HistoryUp();
          break;
        case 'B':
        case 'E':
          HistoryDown();
          break;
        case 'D':
          if (cursor_ > 0) {
            --cursor_;
          }
          break;
        case 'C':
          if (cursor_ < line_.size()) {
            ++cursor_;
          }
          break;
        case '~':
          if (esc_param_ == 1) {
            cursor_ = 0;
          } else if (esc_param_ == 3) {
            DeleteChar();
          } else if (esc_param_ == 4) {
            cursor_ = line_.size();
          }
          break;
        default:
          break;
      }
      esc_ = Esc::kNorm;
      break;
    case Esc::kSs3:
      if (ch == 'F') {
        cursor_ = line_.size();
      } else if (ch == 'H') {
        cursor_ = 0;
      }
      esc_ = Esc::kNorm;
      break;
  }
  Update();
}

}  // namespace migemu::monitor
