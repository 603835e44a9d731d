// File: monitor/hmp_line_editor.h
//
// HmpLineEditor: the line editor QEMU 7.2 runs on a socket monitor (util/readline.c), byte for
// byte: it echoes what the client types by redrawing the line with VT100 sequences (ESC[D back,
// ESC[K clear to the end, ESC[C forward), edits with ^A ^E ^D ^W, backspace, the arrow and
// Home/End/Delete keys, keeps a 64-entry history (a repeated line moves to the end), completes
// with TAB (listing several matches in 80-column rows), clears the screen with ^L, and hands
// a finished line (CR or LF) to its owner. Scripts driving QEMU's socket monitor see exactly
// the same bytes from migemu.
//
//   HmpLineEditor editor({.output = write, .on_line = run, .complete = complete});
//   editor.ShowPrompt();
//   for (unsigned char b : bytes) editor.HandleByte(b);
//
// Thread-safety: main loop thread only. Callbacks may not destroy the editor.
#ifndef MIGEMU_MONITOR_HMP_LINE_EDITOR_H_
#define MIGEMU_MONITOR_HMP_LINE_EDITOR_H_

#include <absl/strings/string_view.h>

#include <functional>
#include <string>
#include <vector>

#include "monitor/hmp_commands.h"

namespace migemu::monitor {

class HmpLineEditor final {
 public:
  struct Callbacks {
    // Text for the client, with '\n' line ends (the monitor turns them into "\r\n").
    std::function<void(absl::string_view)> output;
    // A finished line (history already updated; the editor is reset for the next one).
    std::function<void(const std::string&)> on_line;
    // Completion for the text left of the cursor.
    std::function<HmpCompletion(absl::string_view)> complete;
  };

  static constexpr size_t kMaxLine = 4095;   // READLINE_CMD_BUF_SIZE
  static constexpr size_t kMaxHistory = 64;  // READLINE_MAX_CMDS

  explicit HmpLineEditor(Callbacks callbacks, std::string prompt = "(qemu) ");
  HmpLineEditor(const HmpLineEditor&) = delete;
  HmpLineEditor& operator=(const HmpLineEditor&) = delete;

  // HandleByte: readline_handle_byte().
  void HandleByte(unsigned char ch);
  // ShowPrompt: readline_show_prompt(): prints the prompt; the line is redrawn on the next key.
  void ShowPrompt();
  // Restart: readline_restart(): forgets the line being typed.
  void Restart();
  // History: oldest first.
  const std::vector<std::string>& History() const { return history_; }
  // The line being edited and the cursor (for tests).
  const std::string& line() const { return line_; }
  size_t cursor() const { return cursor_; }

 private:
  enum class Esc { kNorm, kEsc, kCsi, kSs3 };

  void Update();
  void InsertChar(char c);
  void DeleteChar();
  void Backspace();
  void BackwardWord();
  void HistoryUp();
  void HistoryDown();
  void HistoryAdd(const std::string& line);
  void Complete();

  Callbacks callbacks_;
  std::string prompt_;
  std::string line_;
  size_t cursor_ = 0;
  std::string shown_;        // what the client shows after the prompt (last_cmd_buf)
  size_t shown_cursor_ = 0;  // where its cursor is (last_cmd_buf_index)
  Esc esc_ = Esc::kNorm;
  int esc_param_ = 0;
  std::vector<std::string> history_;
  int hist_entry_ = -1;  // the history entry being edited, -1 for a new line
};

}  // namespace migemu::monitor

#endif  // MIGEMU_MONITOR_HMP_LINE_EDITOR_H_
