// File: monitor/hmp_shell.h
//
// HmpShell: `-monitor stdio`, the interactive human monitor on the terminal, built on GNU
// readline's callback interface so that it runs inside the main loop: QMP clients, events and
// migrations carry on while a person types. It shows QEMU's banner and `(qemu) ` prompt,
// keeps the line history in memory (a repeated line moves to the end, as in QEMU) and, when
// $HOME is writable, in $HOME/.migemu_history across runs; TAB completes command names,
// `info` sub-commands, migration parameter and capability names and on/off (listing all
// candidates at once, as QEMU does). While a command holds the monitor (a synchronous
// `migrate`, `quit`) there is no prompt and typed keys wait, unechoed, until it ends.
//
// Differences from QEMU's own line editor on stdio: readline's key bindings apply (emacs by
// default, ~/.inputrc is honoured), and EOF (Ctrl-D on an empty line, or the end of piped
// input) runs `quit`, whereas QEMU ignores it.
//
//   MIG_ASSIGN_OR_RETURN(auto shell, HmpShell::Create(loop, commands, "7.2.0"));
//   ...
//   shell.reset();  // restores the terminal
//
// readline is process-global: at most one HmpShell exists at a time.
// Ownership: `loop` and `commands` must outlive it. Thread-safety: main loop thread only.
#ifndef MIGEMU_MONITOR_HMP_SHELL_H_
#define MIGEMU_MONITOR_HMP_SHELL_H_

#include <absl/status/statusor.h>
#include <absl/strings/string_view.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "monitor/hmp_commands.h"
#include "monitor/hmp_terminal.h"
#include "util/event_loop.h"

namespace migemu::monitor {

class HmpShell final : public HmpTerminal {
 public:
  // Create: takes over stdin/stdout. Fails if another HmpShell exists.
  static absl::StatusOr<std::unique_ptr<HmpShell>> Create(util::EventLoop& loop,
                                                          HmpCommands& commands,
                                                          std::string qemu_version);
  ~HmpShell() override;
  HmpShell(const HmpShell&) = delete;
  HmpShell& operator=(const HmpShell&) = delete;

  // HmpTerminal
  void Print(absl::string_view text) override;
  bool Suspend() override;
  void Resume() override;
  std::vector<std::string> History() const override;

  // The history file in use, if any.
  const std::optional<std::string>& history_file() const { return history_file_; }

 private:
  HmpShell(util::EventLoop& loop, HmpCommands& commands);
  void Start(const std::string& qemu_version);
  void Install();
  void Uninstall();
  void OnReadable();
  void ScheduleRead();
  bool WantInput() const;
  void UpdateWatch();
  void Pump();
  void OnLine(char* line);
  void AddHistory(const std::string& line);

  // readline's C callbacks reach the one shell through this pointer.
  static HmpShell* instance_;
  static int GetC(FILE* stream);
  static int InputAvailable();
  static void LineTrampoline(char* line);
  static char** CompleteTrampoline(const char* text, int start, int end);
  static char* CompletionGenerator(const char* text, int state);

  util::EventLoop& loop_;
  HmpCommands& commands_;
  std::unique_ptr<util::FdWatch> watch_;
  std::string input_;     // read from stdin, not yet given to readline
  size_t input_pos_ = 0;  // next byte for readline
  bool eof_ = false;
  bool read_by_posting_ = false;  // stdin is a file or /dev/null: epoll cannot watch it
  bool read_posted_ = false;
  int eof_deliveries_ = 0;
  bool installed_ = false;   // the readline handler (and so the prompt) is active
  bool in_handler_ = false;  // inside OnLine
  bool pumping_ = false;
  bool quitting_ = false;
  int suspend_count_ = 0;
  std::optional<std::string> history_file_;
  std::vector<std::string> completions_;                        // for CompletionGenerator
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // shared: posted closures
};

}  // namespace migemu::monitor

#endif  // MIGEMU_MONITOR_HMP_SHELL_H_
