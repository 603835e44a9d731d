// File: monitor/hmp_commands.h
//
// HmpCommands: QEMU 7.2's human monitor command set as far as migemu implements it — the
// command tables (names, args_type, params, help; sorted as QEMU sorts them), command-line
// dispatch with QEMU's messages (monitor/hmp.c handle_hmp_command), the handlers, `help`, and
// completion (monitor_find_completion). Every handler calls the same QMP implementation QMP
// uses (one implementation, two front ends) and formats `info` output from the structs the
// query-* commands return, line for line as QEMU's hmp-cmds.c does.
//
//   HmpCommands hmp(backends, loop);
//   hmp.Execute(terminal, "info status");        // prints "VM status: running\n"
//   std::string out = hmp.Capture("info name");  // human-monitor-command: "\r\n" line ends
//   HmpCompletion c = hmp.Complete("migrate_set_cap");
//
// A synchronous `migrate` (no -d) suspends the terminal and polls query-migrate every second,
// like hmp_migrate_status_cb(); the terminal must call Detach() before it goes away.
//
// Ownership: `backends` and `loop` must outlive this object. Thread-safety: main loop only.
#ifndef MIGEMU_MONITOR_HMP_COMMANDS_H_
#define MIGEMU_MONITOR_HMP_COMMANDS_H_

#include <absl/strings/string_view.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "monitor/hmp_parser.h"
#include "monitor/hmp_terminal.h"
#include "qapi/qapi-commands-control.h"
#include "qapi/qapi-commands-migration.h"
#include "qapi/qapi-commands-misc.h"
#include "qapi/qapi-commands-run-state.h"
#include "util/event_loop.h"

namespace migemu::monitor {

// The QMP implementations HMP calls.
struct HmpBackends {
  qapi::ControlCommands& control;      // query-version, quit
  qapi::RunStateCommands& run_state;   // query-status
  qapi::MiscCommands& misc;            // stop, cont, query-name, query-uuid
  qapi::MigrationCommands& migration;  // migrate*, query-migrate*, calc-dirty-rate
  // Where QEMU's printf()s (process stdout) and error_report()s outside a command (stderr, with
  // the program name) go; default: the process's stdout and stderr.
  std::function<void(absl::string_view)> process_stdout;
  std::function<void(absl::string_view)> process_stderr;
};

// Candidates for completing the word under the cursor (readline's completion state).
struct HmpCompletion {
  // How many characters of the word are already typed (readline_set_completion_index).
  size_t index = 0;
  // Whole words, without duplicates, in the order found (at most 256, like QEMU).
  std::vector<std::string> candidates;
};

class HmpCommands final {
 public:
  HmpCommands(HmpBackends backends, util::EventLoop& loop);
  ~HmpCommands();
  HmpCommands(const HmpCommands&) = delete;
  HmpCommands& operator=(const HmpCommands&) = delete;

  // Execute: handle_hmp_command(): runs one command line on `terminal`. The line is cut at its
  // first NUL (QEMU sees a C string).
  void Execute(HmpTerminal& terminal, absl::string_view command_line);

  // Capture: human-monitor-command: runs `command_line` on a terminal that cannot be
  // suspended and returns everything it printed ("\r\n" line ends).
  std::string Capture(absl::string_view command_line);

  // Complete: monitor_find_completion() for the text left of the cursor.
  HmpCompletion Complete(absl::string_view line_before_cursor) const;

  // Detach: `terminal` is going away: forget its pending synchronous migrate (no resume).
  void Detach(HmpTerminal& terminal);

  // Shutdown: stops every pending wait (process exit).
  void Shutdown();

  // The names HMP uses for the `info` table and the top level, in help order (for tests).
  std::vector<std::string> CommandNames() const;

 private:
  struct Command;
  using Table = std::vector<Command>;
  using Handler = void (HmpCommands::*)(HmpTerminal&, const HmpArgs&);
  using Completer = void (HmpCommands::*)(size_t nb_args, absl::string_view word,
                                          HmpCompletion* out) const;
  struct Command {
    const char* name;
    const char* args_type;
    const char* params;
    const char* help;
    Handler handler;
    const Table* sub_table;
    Completer completer;
  };
  struct MigrateWait;

  const Command* ParseCommand(HmpTerminal& terminal, absl::string_view line, size_t* pos,
                              const Table& table);
  void Flush(HmpTerminal& terminal, const HmpText& text);
  void PrintError(HmpTerminal& terminal, const absl::Status& status);
  void HelpCmd(HmpTerminal& terminal, const std::optional<std::string>& name);
  void HelpDump(HmpTerminal& terminal, const Table& table, const std::vector<std::string>& args,
                size_t index);
  void CompleteByTable(const Table& table, const std::vector<std::string>& args,
                       HmpCompletion* out) const;
  void OnMigrateWaitTick(MigrateWait* wait);

  // Handlers (hmp-cmds.c names).
  void DoHelp(HmpTerminal& t, const HmpArgs& a);
  void InfoHelp(HmpTerminal& t, const HmpArgs& a);
  void Quit(HmpTerminal& t, const HmpArgs& a);
  void Stop(HmpTerminal& t, const HmpArgs& a);
  void Cont(HmpTerminal& t, const HmpArgs& a);
  void Migrate(HmpTerminal& t, const HmpArgs& a);
  void MigrateCancel(HmpTerminal& t, const HmpArgs& a);
  void MigrateContinue(HmpTerminal& t, const HmpArgs& a);
  void MigrateIncoming(HmpTerminal& t, const HmpArgs& a);
  void MigrateRecover(HmpTerminal& t, const HmpArgs& a);
  void MigratePause(HmpTerminal& t, const HmpArgs& a);
  void MigrateSetCapability(HmpTerminal& t, const HmpArgs& a);
  void MigrateSetParameter(HmpTerminal& t, const HmpArgs& a);
  void MigrateStartPostcopy(HmpTerminal& t, const HmpArgs& a);
  void CalcDirtyRate(HmpTerminal& t, const HmpArgs& a);
  void InfoVersion(HmpTerminal& t, const HmpArgs& a);
  void InfoHistory(HmpTerminal& t, const HmpArgs& a);
  void InfoStatus(HmpTerminal& t, const HmpArgs& a);
  void InfoName(HmpTerminal& t, const HmpArgs& a);
  void InfoUuid(HmpTerminal& t, const HmpArgs& a);
  void InfoMigrate(HmpTerminal& t, const HmpArgs& a);
  void InfoMigrateCapabilities(HmpTerminal& t, const HmpArgs& a);
  void InfoMigrateParameters(HmpTerminal& t, const HmpArgs& a);
  void InfoDirtyRate(HmpTerminal& t, const HmpArgs& a);

  // Completers (misc.c *_completion).
  void CompleteCapability(size_t nb_args, absl::string_view word, HmpCompletion* out) const;
  void CompleteParameter(size_t nb_args, absl::string_view word, HmpCompletion* out) const;

  HmpBackends backends_;
  util::EventLoop& loop_;
  Table info_table_;
  Table table_;
  std::vector<std::unique_ptr<MigrateWait>> waits_;
};

}  // namespace migemu::monitor

#endif  // MIGEMU_MONITOR_HMP_COMMANDS_H_
