#include "monitor/hmp_commands.h"

#include <absl/strings/match.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <utility>

#include "monitor/errors.h"
#include "qapi/error.h"
#include "qapi/runtime.h"
#include "util/size.h"

namespace migemu::monitor {

namespace {

constexpr size_t kMaxCompletions = 256;  // READLINE_MAX_COMPLETIONS
constexpr size_t kMaxArgs = 16;          // MAX_ARGS

// The terminal of human-monitor-command: output is collected, it cannot be suspended and has
// no history (qmp_human_monitor_command() runs on a MonitorHMP without readline).
class CaptureTerminal final : public HmpTerminal {
 public:
  void Print(absl::string_view text) override { out_ += ToMonitorText(text); }
  bool Suspend() override { return false; }
  void Resume() override {}
  std::vector<std::string> History() const override { return {}; }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

void AddCompletion(HmpCompletion* out, absl::string_view word) {
  if (out->candidates.size() >= kMaxCompletions) {
    return;
  }
  for (const std::string& c : out->candidates) {
    if (c == word) {
      return;
    }
  }
  out->candidates.emplace_back(word);
}

// qemu_strtou64(s, NULL, 0, &v): strtoull semantics (blanks, a sign, 0x / 0 prefixes), the
// whole string consumed, ERANGE an error.
std::optional<uint64_t> StrToU64(const std::string& s) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s.c_str(), &end, 0);  // NOLINT(runtime/int)
  if (errno != 0 || end == s.c_str() || *end != '\0') {
    return std::nullopt;
  }
  return v;
}

// qemu_strtosz() as QEMU classifies failures: -ERANGE ("out of range") only when the number
// (or the number times its suffix) overflows and nothing follows it; everything else is
// -EINVAL. util::ParseSize reports a too-long integer part as out of range whatever follows,
// and rejects a leading '-' before looking at the digits, so both cases are settled here.
absl::StatusOr<uint64_t> QemuStrtosz(const std::string& text, uint64_t default_unit) {
  absl::StatusOr<uint64_t> r = util::ParseSize(text, default_unit);
  size_t i = 0;
  while (i < text.size() && IsHmpSpace(text[i])) {
    ++i;
  }
  const bool negative = i < text.size() && text[i] == '-';
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
    ++i;
  }
  const bool hex =
      text.size() - i > 2 && text[i] == '0' && (text[i + 1] == 'x' || text[i + 1] == 'X');
  size_t digits_end = hex ? i + 2 : i;
  while (digits_end < text.size() &&
         (hex ? isxdigit(static_cast<unsigned char>(text[digits_end])) != 0
              : isdigit(static_cast<unsigned char>(text[digits_end])) != 0)) {
    ++digits_end;
  }
  const std::string number = text.substr(0, digits_end);
  char* end = nullptr;
  errno = 0;
  (void)std::strtoull(number.c_str(), &end, hex ? 16 : 10);
  const bool integer_overflow = errno == ERANGE;
  if (integer_overflow) {
    if (digits_end == text.size()) {
      return absl::OutOfRangeError("size out of range");
    }
    return absl::InvalidArgumentError("invalid size");
  }
  if (negative) {
    return absl::InvalidArgumentError("invalid size");
  }
  return r;
}

std::string OnOff(bool v) { return v ? "on" : "off"; }

// The string output visitor's list form (qapi/string-output-visitor.c, not human): the values
// as a sorted set of ranges, adjacent and overlapping ones merged, "a-b" or "a", comma-separated.
std::string FormatIntList(const std::vector<uint32_t>& values) {
  std::vector<std::pair<int64_t, int64_t>> ranges;
  std::vector<uint32_t> sorted = values;
  std::sort(sorted.begin(), sorted.end());
  for (uint32_t v : sorted) {
    if (!ranges.empty() && static_cast<int64_t>(v) <= ranges.back().second + 1) {
      ranges.back().second = std::max<int64_t>(ranges.back().second, v);
    } else {
      ranges.emplace_back(v, v);
    }
  }
  std::string out;
  for (const auto& [lo, hi] : ranges) {
    absl::StrAppend(&out, out.empty() ? "" : ",", lo);
    if (hi != lo) {
      absl::StrAppend(&out, "-", hi);
    }
  }
  return out;
}

}  // namespace

std::string ToMonitorText(absl::string_view text) {
  std::string out;
  out.reserve(text.size() + 8);
  for (char c : text) {
    if (c == '\n') {
      out.push_back('\r');
    }
    out.push_back(c);
  }
  return out;
}

struct HmpCommands::MigrateWait {
  HmpTerminal* terminal;
  bool block_migration;
  std::unique_ptr<util::Timer> timer;
};

HmpCommands::HmpCommands(HmpBackends backends, util::EventLoop& loop)
    : backends_(std::move(backends)), loop_(loop) {
  if (!backends_.process_stdout) {
    backends_.process_stdout = [](absl::string_view s) {
      fwrite(s.data(), 1, s.size(), stdout);
      fflush(stdout);
    };
  }
  if (!backends_.process_stderr) {
    backends_.process_stderr = [](absl::string_view s) { fwrite(s.data(), 1, s.size(), stderr); };
  }
  // hmp-commands-info.hx and hmp-commands.hx (texts are interface facts).
  info_table_ = {
      {"dirty_rate", "", "", "show dirty rate information", &HmpCommands::InfoDirtyRate, nullptr,
       nullptr},
      {"history", "", "", "show the command line history", &HmpCommands::InfoHistory, nullptr,
       nullptr},
      {"migrate", "", "", "show migration status", &HmpCommands::InfoMigrate, nullptr, nullptr},
      {"migrate_capabilities", "", "", "show current migration capabilities",
       &HmpCommands::InfoMigrateCapabilities, nullptr, nullptr},
      {"migrate_parameters", "", "", "show current migration parameters",
       &HmpCommands::InfoMigrateParameters, nullptr, nullptr},
      {"name", "", "", "show the current VM name", &HmpCommands::InfoName, nullptr, nullptr},
      {"status", "", "", "show the current VM status (running|paused)", &HmpCommands::InfoStatus,
       nullptr, nullptr},
      {"uuid", "", "", "show the current VM UUID", &HmpCommands::InfoUuid, nullptr, nullptr},
      {"version", "", "", "show the version of QEMU", &HmpCommands::InfoVersion, nullptr, nullptr},
  };
  table_ = {
      {"calc_dirty_rate", "dirty_ring:-r,dirty_bitmap:-b,second:l,sample_pages_per_GB:l?",
       "[-r] [-b] second [sample_pages_per_GB]",
       "start a round of guest dirty rate measurement (using -r to"
       "\n\t\t\t specify dirty ring as the method of calculation and"
       "\n\t\t\t -b to specify dirty bitmap as method of calculation)",
       &HmpCommands::CalcDirtyRate, nullptr, nullptr},
      {"cont|c", "", "", "resume emulation", &HmpCommands::Cont, nullptr, nullptr},
      {"help|?", "name:S?", "[cmd]", "show the help", &HmpCommands::DoHelp, nullptr, nullptr},
      {"info", "item:s?", "[subcommand]", "show various information about the system state",
       &HmpCommands::InfoHelp, &info_table_, nullptr},
      {"migrate", "detach:-d,blk:-b,inc:-i,resume:-r,uri:s", "[-d] [-b] [-i] [-r] uri",
       "migrate to URI (using -d to not wait for completion)"
       "\n\t\t\t -b for migration without shared storage with"
       " full copy of disk\n\t\t\t -i for migration without "
       "shared storage with incremental copy of disk "
       "(base image shared between src and destination)"
       "\n\t\t\t -r to resume a paused migration",
       &HmpCommands::Migrate, nullptr, nullptr},
      {"migrate_cancel", "", "", "cancel the current VM migration", &HmpCommands::MigrateCancel,
       nullptr, nullptr},
      {"migrate_continue", "state:s", "state", "Continue migration from the given paused state",
       &HmpCommands::MigrateContinue, nullptr, nullptr},
      {"migrate_incoming", "uri:s", "uri", "Continue an incoming migration from an -incoming defer",
       &HmpCommands::MigrateIncoming, nullptr, nullptr},
      {"migrate_pause", "", "", "Pause an ongoing migration (postcopy-only)",
       &HmpCommands::MigratePause, nullptr, nullptr},
      {"migrate_recover", "uri:s", "uri", "Continue a paused incoming postcopy migration",
       &HmpCommands::MigrateRecover, nullptr, nullptr},
      {"migrate_set_capability", "capability:s,state:b", "capability state",
       "Enable/Disable the usage of a capability for migration", &HmpCommands::MigrateSetCapability,
       nullptr, &HmpCommands::CompleteCapability},
      {"migrate_set_parameter", "parameter:s,value:s", "parameter value",
       "Set the parameter for migration", &HmpCommands::MigrateSetParameter, nullptr,
       &HmpCommands::CompleteParameter},
      {"migrate_start_postcopy", "", "",
       "Followup to a migration command to switch the migration"
       " to postcopy mode. The postcopy-ram capability must "
       "be set on both source and destination before the "
       "original migration command .",
       &HmpCommands::MigrateStartPostcopy, nullptr, nullptr},
      {"quit|q", "", "", "quit the emulator", &HmpCommands::Quit, nullptr, nullptr},
      {"stop|s", "", "", "stop emulation", &HmpCommands::Stop, nullptr, nullptr},
  };
  // sortcmdlist(): QEMU sorts both tables by name (strcmp) at start-up.
  auto by_name = [](const Command& a, const Command& b) { return strcmp(a.name, b.name) < 0; };
  std::sort(info_table_.begin(), info_table_.end(), by_name);
  std::sort(table_.begin(), table_.end(), by_name);
}

HmpCommands::~HmpCommands() { Shutdown(); }

void HmpCommands::Shutdown() { waits_.clear(); }

std::vector<std::string> HmpCommands::CommandNames() const {
  std::vector<std::string> names;
  for (const Command& c : table_) {
    names.emplace_back(c.name);
  }
  for (const Command& c : info_table_) {
    names.push_back(absl::StrCat("info ", c.name));
  }
  return names;
}

void HmpCommands::Flush(HmpTerminal& terminal, const HmpText& text) {
  if (!text.process_stdout.empty()) {
    backends_.process_stdout(text.process_stdout);
  }
  if (!text.monitor.empty()) {
    terminal.Print(text.monitor);
  }
}

// hmp_handle_error(): "Error: <desc>" then the hint, if any.
void HmpCommands::PrintError(HmpTerminal& terminal, const absl::Status& status) {
  std::string text = absl::StrCat("Error: ", status.message(), "\n");
  if (std::optional<std::string> hint = qapi::Hint(status)) {
    absl::StrAppend(&text, *hint);
  }
  terminal.Print(text);
}

// monitor_parse_command(): the command (or `info` sub-command) named at `*pos`.
const HmpCommands::Command* HmpCommands::ParseCommand(HmpTerminal& terminal, absl::string_view line,
                                                      size_t* pos, const Table& table) {
  std::optional<std::string> name = HmpGetCommandName(line, pos);
  if (!name) {
    return nullptr;
  }
  const Command* cmd = nullptr;
  for (const Command& c : table) {
    if (HmpCompareCmd(*name, c.name)) {
      cmd = &c;
      break;
    }
  }
  if (cmd == nullptr) {
    // "unknown command: '%.*s'": the line from its start to the end of the bad name.
    terminal.Print(absl::StrCat("unknown command: '", line.substr(0, *pos), "'\n"));
    return nullptr;
  }
  while (*pos < line.size() && IsHmpSpace(line[*pos])) {
    ++*pos;
  }
  if (cmd->sub_table != nullptr && *pos < line.size()) {
    return ParseCommand(terminal, line, pos, *cmd->sub_table);
  }
  return cmd;
}

void HmpCommands::Execute(HmpTerminal& terminal, absl::string_view command_line) {
  const absl::string_view line = command_line.substr(0, command_line.find('\0'));
  size_t pos = 0;
  const Command* cmd = ParseCommand(terminal, line, &pos, table_);
  if (cmd == nullptr) {
    return;
  }
  HmpText text;
  std::optional<HmpArgs> args = ParseHmpArguments(line, pos, cmd->name, cmd->args_type, &text);
  Flush(terminal, text);
  if (!args) {
    size_t end = pos;
    while (end > 0 && IsHmpSpace(line[end - 1])) {
      --end;
    }
    terminal.Print(absl::StrCat("Try \"help ", line.substr(0, end), "\" for more information\n"));
    return;
  }
  (this->*(cmd->handler))(terminal, *args);
}

std::string HmpCommands::Capture(absl::string_view command_line) {
  CaptureTerminal terminal;
  Execute(terminal, command_line);
  return terminal.Take();
}

void HmpCommands::Detach(HmpTerminal& terminal) {
  waits_.erase(std::remove_if(
                   waits_.begin(), waits_.end(),
                   [&](const std::unique_ptr<MigrateWait>& w) { return w->terminal == &terminal; }),
               waits_.end());
}

// ---- help --------------------------------------------------------------------------------

void HmpCommands::HelpCmd(HmpTerminal& terminal, const std::optional<std::string>& name) {
  std::vector<std::string> args;
  if (name.has_value()) {
    HmpText text;
    std::optional<std::vector<std::string>> words = HmpSplitArgs(*name, &text);
    Flush(terminal, text);
    if (!words) {
      return;
    }
    args = std::move(*words);
  }
  HelpDump(terminal, table_, args, 0);
}

// help_cmd_dump(): everything in `table`, or the entry args[index] names (descending into
// sub-tables), each line prefixed with the words before it.
void HmpCommands::HelpDump(HmpTerminal& terminal, const Table& table,
                           const std::vector<std::string>& args, size_t index) {
  std::string prefix;
  for (size_t i = 0; i < index && i < args.size(); ++i) {
    absl::StrAppend(&prefix, args[i], " ");
  }
  auto dump_one = [&](const Command& c) {
    terminal.Print(absl::StrCat(prefix, c.name, " ", c.params, " -- ", c.help, "\n"));
  };
  if (index >= args.size()) {
    for (const Command& c : table) {
      dump_one(c);
    }
    return;
  }
  for (const Command& c : table) {
    if (HmpCompareCmd(args[index], c.name)) {
      if (c.sub_table != nullptr) {
        HelpDump(terminal, *c.sub_table, args, index + 1);
      } else {
        dump_one(c);
      }
      return;
    }
  }
  std::string words;
  for (size_t i = 0; i <= index; ++i) {
    absl::StrAppend(&words, i == 0 ? "" : " ", args[i]);
  }
  terminal.Print(absl::StrCat("unknown command: '", words, "'\n"));
}

void HmpCommands::DoHelp(HmpTerminal& t, const HmpArgs& a) { HelpCmd(t, a.Str("name")); }

void HmpCommands::InfoHelp(HmpTerminal& t, const HmpArgs&) { HelpCmd(t, std::string("info")); }

// ---- completion --------------------------------------------------------------------------

HmpCompletion HmpCommands::Complete(absl::string_view line_before_cursor) const {
  HmpCompletion out;
  // parse_cmdline(); QEMU also printf()s a bad quote to stdout while completing, which only
  // garbles the screen: migemu stays quiet.
  HmpText ignored;
  std::optional<std::vector<std::string>> args = HmpSplitArgs(line_before_cursor, &ignored);
  if (!args) {
    return out;
  }
  // A line ending in a blank completes the next (empty) word.
  if (!line_before_cursor.empty() && IsHmpSpace(line_before_cursor.back())) {
    if (args->size() >= kMaxArgs) {
      return out;
    }
    args->emplace_back();
  }
  CompleteByTable(table_, *args, &out);
  return out;
}

// monitor_find_completion_by_table().
void HmpCommands::CompleteByTable(const Table& table, const std::vector<std::string>& args,
                                  HmpCompletion* out) const {
  if (args.size() <= 1) {
    const std::string word = args.empty() ? std::string() : args[0];
    out->index = word.size();
    for (const Command& c : table) {
      // cmd_completion(): every alias of the name on its own.
      absl::string_view names = c.name;
      size_t start = 0;
      for (;;) {
        const size_t bar = names.find('|', start);
        absl::string_view alt =
            names.substr(start, bar == absl::string_view::npos ? bar : bar - start);
        if (word.empty() || absl::StartsWith(alt, word)) {
          AddCompletion(out, alt);
        }
        if (bar == absl::string_view::npos) {
          break;
        }
        start = bar + 1;
      }
    }
    return;
  }
  const Command* cmd = nullptr;
  for (const Command& c : table) {
    if (HmpCompareCmd(args[0], c.name)) {
      cmd = &c;
      break;
    }
  }
  if (cmd == nullptr) {
    return;
  }
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (cmd->sub_table != nullptr) {
    CompleteByTable(*cmd->sub_table, rest, out);
    return;
  }
  if (cmd->completer != nullptr) {
    (this->*(cmd->completer))(args.size(), args.back(), out);
    return;
  }
  // Which argument type the word under the cursor has; only help's 's'/'S' completes (command
  // names again); file and block device completion have nothing to offer in migemu.
  auto next_arg_type = [](absl::string_view t) {
    const size_t colon = t.find(':');
    return colon == absl::string_view::npos ? t : t.substr(colon + 1);
  };
  absl::string_view ptype = next_arg_type(cmd->args_type);
  for (size_t i = 0; i + 2 < args.size(); ++i) {
    if (!ptype.empty()) {
      ptype = next_arg_type(ptype);
      while (!ptype.empty() && ptype[0] == '?') {
        ptype = next_arg_type(ptype);
      }
    }
  }
  absl::string_view old;
  bool first = true;
  while (!ptype.empty() && ptype[0] == '-' && (first || old.data() != ptype.data())) {
    first = false;
    old = ptype;
    ptype = next_arg_type(ptype);
  }
  if (!ptype.empty() && (ptype[0] == 's' || ptype[0] == 'S') && strcmp(cmd->name, "help|?") == 0) {
    CompleteByTable(table, rest, out);
  }
}

void HmpCommands::CompleteCapability(size_t nb_args, absl::string_view word,
                                     HmpCompletion* out) const {
  out->index = word.size();
  if (nb_args == 2) {
    for (size_t i = 0; i < qapi::EnumCount<qapi::MigrationCapability>(); ++i) {
      absl::string_view name = qapi::EnumToString(static_cast<qapi::MigrationCapability>(i));
      if (absl::StartsWith(name, word)) {
        AddCompletion(out, name);
      }
    }
  } else if (nb_args == 3) {
    for (absl::string_view option : {"on", "off"}) {
      if (absl::StartsWith(option, word)) {
        AddCompletion(out, option);
      }
    }
  }
}

void HmpCommands::CompleteParameter(size_t nb_args, absl::string_view word,
                                    HmpCompletion* out) const {
  out->index = word.size();
  if (nb_args == 2) {
    for (size_t i = 0; i < qapi::EnumCount<qapi::MigrationParameter>(); ++i) {
      absl::string_view name = qapi::EnumToString(static_cast<qapi::MigrationParameter>(i));
      if (absl::StartsWith(name, word)) {
        AddCompletion(out, name);
      }
    }
  }
}

// ---- run state ---------------------------------------------------------------------------

void HmpCommands::Quit(HmpTerminal& t, const HmpArgs&) {
  // hmp_quit(): no prompt any more; the process is going away.
  (void)t.Suspend();
  absl::Status s = backends_.control.Quit();
  if (!s.ok()) {
    PrintError(t, s);
  }
}

void HmpCommands::Stop(HmpTerminal& t, const HmpArgs&) {
  // hmp_stop() ignores errors (qmp_stop(NULL)).
  (void)t;
  backends_.misc.Stop().IgnoreError();
}

void HmpCommands::Cont(HmpTerminal& t, const HmpArgs&) {
  absl::Status s = backends_.misc.Cont();
  if (!s.ok()) {
    PrintError(t, s);
  }
}

void HmpCommands::InfoStatus(HmpTerminal& t, const HmpArgs&) {
  absl::StatusOr<qapi::StatusInfo> info = backends_.run_state.QueryStatus();
  if (!info.ok()) {
    PrintError(t, info.status());
    return;
  }
  std::string text = absl::StrCat("VM status: ", info->running ? "running" : "paused",
                                  info->singlestep ? " (single step mode)" : "");
  if (!info->running && info->status != qapi::RunState::kPaused) {
    absl::StrAppend(&text, " (", qapi::EnumToString(info->status), ")");
  }
  t.Print(absl::StrCat(text, "\n"));
}

void HmpCommands::InfoName(HmpTerminal& t, const HmpArgs&) {
  absl::StatusOr<qapi::NameInfo> info = backends_.misc.QueryName();
  if (!info.ok()) {
    PrintError(t, info.status());
    return;
  }
  if (info->name.has_value()) {
    t.Print(absl::StrCat(*info->name, "\n"));
  }
}

void HmpCommands::InfoUuid(HmpTerminal& t, const HmpArgs&) {
  absl::StatusOr<qapi::UuidInfo> info = backends_.misc.QueryUuid();
  if (!info.ok()) {
    PrintError(t, info.status());
    return;
  }
  t.Print(absl::StrCat(info->UUID, "\n"));
}

void HmpCommands::InfoVersion(HmpTerminal& t, const HmpArgs&) {
  absl::StatusOr<qapi::VersionInfo> info = backends_.control.QueryVersion();
  if (!info.ok()) {
    PrintError(t, info.status());
    return;
  }
  t.Print(absl::StrCat(info->qemu.major, ".", info->qemu.minor, ".", info->qemu.micro,
                       info->package, "\n"));
}

void HmpCommands::InfoHistory(HmpTerminal& t, const HmpArgs&) {
  const std::vector<std::string> history = t.History();
  for (size_t i = 0; i < history.size(); ++i) {
    t.Print(absl::StrCat(i, ": '", history[i], "'\n"));
  }
}

// ---- migration ---------------------------------------------------------------------------

void HmpCommands::Migrate(HmpTerminal& t, const HmpArgs& a) {
  const bool detach = a.Bool("detach", false);
  const bool blk = a.Bool("blk", false);
  const bool inc = a.Bool("inc", false);
  qapi::MigrateArg arg;
  arg.uri = a.Str("uri").value_or("");
  // qmp_migrate(uri, !!blk, blk, !!inc, inc, false, false, true, resume).
  if (blk) {
    arg.blk = true;
  }
  if (inc) {
    arg.inc = true;
  }
  arg.resume = a.Bool("resume", false);
  absl::Status s = backends_.migration.Migrate(arg);
  if (!s.ok()) {
    PrintError(t, s);
    return;
  }
  if (detach) {
    return;
  }
  if (!t.Suspend()) {
    t.Print(absl::StrCat(kHmpNoSyncMigration, "\n"));
    return;
  }
  auto wait = std::make_unique<MigrateWait>();
  MigrateWait* raw = wait.get();
  raw->terminal = &t;
  raw->block_migration = blk || inc;
  raw->timer = loop_.CreateTimer([this, raw] { OnMigrateWaitTick(raw); });
  waits_.push_back(std::move(wait));
  // timer_mod(now): the first look happens right away.
  raw->timer->Start(absl::ZeroDuration());
}

// hmp_migrate_status_cb(): wait while the migration is setting up or active.
void HmpCommands::OnMigrateWaitTick(MigrateWait* wait) {
  absl::StatusOr<qapi::MigrationInfo> info = backends_.migration.QueryMigrate();
  const bool waiting =
      info.ok() && (!info->status.has_value() || *info->status == qapi::MigrationStatus::kActive ||
                    *info->status == qapi::MigrationStatus::kSetup);
  if (waiting) {
    if (info->disk.has_value()) {
      const int64_t progress = info->disk->remaining != 0 && info->disk->total != 0
                                   ? info->disk->transferred * 100 / info->disk->total
                                   : 100;
      wait->terminal->Print(absl::StrCat("Completed ", progress, " %\r"));
    }
    wait->timer->Start(absl::Milliseconds(1000));
    return;
  }
  HmpTerminal* terminal = wait->terminal;
  if (wait->block_migration) {
    terminal->Print("\n");
  }
  if (info.ok() && info->error_desc.has_value()) {
    // error_report() outside any command: stderr, with the program name.
    backends_.process_stderr(absl::StrCat("migemu: ", *info->error_desc, "\n"));
  }
  // The timer is inside its own callback: destroy it from the loop, after this returns.
  loop_.Post([this, wait] {
    waits_.erase(
        std::remove_if(waits_.begin(), waits_.end(),
                       [wait](const std::unique_ptr<MigrateWait>& w) { return w.get() == wait; }),
        waits_.end());
  });
  wait->timer->Stop();
  terminal->Resume();
}

void HmpCommands::MigrateCancel(HmpTerminal& t, const HmpArgs&) {
  // hmp_migrate_cancel() ignores errors.
  (void)t;
  backends_.migration.MigrateCancel().IgnoreError();
}

void HmpCommands::MigrateContinue(HmpTerminal& t, const HmpArgs& a) {
  const std::string state = a.Str("state").value_or("");
  std::optional<qapi::MigrationStatus> status = qapi::EnumFromString<qapi::MigrationStatus>(state);
  if (!status) {
    PrintError(t, absl::InvalidArgumentError(absl::StrCat(kHmpInvalidParameterValue, state)));
    return;
  }
  qapi::MigrateContinueArg arg;
  arg.state = *status;
  absl::Status s = backends_.migration.MigrateContinue(arg);
  if (!s.ok()) {
    PrintError(t, s);
  }
}

void HmpCommands::MigrateIncoming(HmpTerminal& t, const HmpArgs& a) {
  qapi::MigrateIncomingArg arg;
  arg.uri = a.Str("uri").value_or("");
  absl::Status s = backends_.migration.MigrateIncoming(arg);
  if (!s.ok()) {
    PrintError(t, s);
  }
}

void HmpCommands::MigrateRecover(HmpTerminal& t, const HmpArgs& a) {
  qapi::MigrateRecoverArg arg;
  arg.uri = a.Str("uri").value_or("");
  absl::Status s = backends_.migration.MigrateRecover(arg);
  if (!s.ok()) {
    PrintError(t, s);
  }
}

void HmpCommands::MigratePause(HmpTerminal& t, const HmpArgs&) {
  absl::Status s = backends_.migration.MigratePause();
  if (!s.ok()) {
    PrintError(t, s);
  }
}

void HmpCommands::MigrateStartPostcopy(HmpTerminal& t, const HmpArgs&) {
  absl::Status s = backends_.migration.MigrateStartPostcopy();
  if (!s.ok()) {
    PrintError(t, s);
  }
}

void HmpCommands::MigrateSetCapability(HmpTerminal& t, const HmpArgs& a) {
  const std::string name = a.Str("capability").value_or("");
  std::optional<qapi::MigrationCapability> cap =
      qapi::EnumFromString<qapi::MigrationCapability>(name);
  if (!cap) {
    PrintError(t, absl::InvalidArgumentError(absl::StrCat(kHmpInvalidParameterValue, name)));
    return;
  }
  qapi::MigrateSetCapabilitiesArg arg;
  qapi::MigrationCapabilityStatus status;
  status.capability = *cap;
  status.state = a.Bool("state", false);
  arg.capabilities.push_back(status);
  absl::Status s = backends_.migration.MigrateSetCapabilities(arg);
  if (!s.ok()) {
    PrintError(t, s);
  }
}

namespace {

// The string input visitor's scalar rules (qapi/string-input-visitor.c), by parameter type.
// `name` is the parameter as typed; it appears in QEMU's messages.
absl::Status InvalidValue(absl::string_view name, absl::string_view expects) {
  return absl::InvalidArgumentError(absl::StrCat("Parameter '", name, "' expects ", expects));
}

absl::StatusOr<uint64_t> VisitUint(const std::string& name, const std::string& value, uint64_t max,
                                   absl::string_view type) {
  std::optional<uint64_t> v = StrToU64(value);
  if (!v) {
    return InvalidValue(name, "uint64");
  }
  if (*v > max) {
    return InvalidValue(name, type);
  }
  return *v;
}

absl::StatusOr<uint8_t> VisitUint8(const std::string& name, const std::string& value) {
  absl::StatusOr<uint64_t> v = VisitUint(name, value, 0xff, "uint8_t");
  if (!v.ok()) {
    return v.status();
  }
  return static_cast<uint8_t>(*v);
}

absl::StatusOr<bool> VisitBool(const std::string& name, const std::string& value) {
  // qapi_bool_parse().
  if (value == "on" || value == "yes" || value == "true" || value == "y") {
    return true;
  }
  if (value == "off" || value == "no" || value == "false" || value == "n") {
    return false;
  }
  return InvalidValue(name, "'on' or 'off'");
}

absl::StatusOr<uint64_t> VisitSize(const std::string& name, const std::string& value) {
  // parse_option_size().
  absl::StatusOr<uint64_t> v = QemuStrtosz(value, 1);
  if (v.ok()) {
    return v;
  }
  if (v.status().code() == absl::StatusCode::kOutOfRange) {
    return absl::InvalidArgumentError(
        absl::StrCat("Value '", value, "' is out of range for parameter '", name, "'"));
  }
  return qapi::WithHint(InvalidValue(name, util::kSizeExpectsText), util::kSizeSuffixHint);
}

qapi::StrOrNull VisitStr(const std::string& value) {
  qapi::StrOrNull s;
  s.type = qapi::QType::kQstring;
  s.s = value;
  return s;
}

absl::Status InvalidSize(const std::string& value) {
  return absl::InvalidArgumentError(absl::StrCat("Invalid size ", value));
}

// hmp_migrate_set_parameter()'s switch: `value` typed as the parameter's QAPI type.
absl::Status FillParameter(qapi::MigrationParameter param, const std::string& name,
                           const std::string& value, qapi::MigrateSetParameters* p) {
  using P = qapi::MigrationParameter;
  auto u8 = [&](std::optional<uint8_t>* field) -> absl::Status {
    absl::StatusOr<uint8_t> v = VisitUint8(name, value);
    if (!v.ok()) {
      return v.status();
    }
    *field = *v;
    return absl::OkStatus();
  };
  auto boolean = [&](std::optional<bool>* field) -> absl::Status {
    absl::StatusOr<bool> v = VisitBool(name, value);
    if (!v.ok()) {
      return v.status();
    }
    *field = *v;
    return absl::OkStatus();
  };
  auto size = [&](std::optional<uint64_t>* field) -> absl::Status {
    absl::StatusOr<uint64_t> v = VisitSize(name, value);
    if (!v.ok()) {
      return v.status();
    }
    *field = *v;
    return absl::OkStatus();
  };
  switch (param) {
    case P::kCompressLevel:
      return u8(&p->compress_level);
    case P::kCompressThreads:
      return u8(&p->compress_threads);
    case P::kCompressWaitThread:
      return boolean(&p->compress_wait_thread);
    case P::kDecompressThreads:
      return u8(&p->decompress_threads);
    case P::kThrottleTriggerThreshold:
      return u8(&p->throttle_trigger_threshold);
    case P::kCpuThrottleInitial:
      return u8(&p->cpu_throttle_initial);
    case P::kCpuThrottleIncrement:
      return u8(&p->cpu_throttle_increment);
    case P::kCpuThrottleTailslow:
      return boolean(&p->cpu_throttle_tailslow);
    case P::kMaxCpuThrottle:
      return u8(&p->max_cpu_throttle);
    case P::kTlsCreds:
      p->tls_creds = VisitStr(value);
      return absl::OkStatus();
    case P::kTlsHostname:
      p->tls_hostname = VisitStr(value);
      return absl::OkStatus();
    case P::kTlsAuthz:
      p->tls_authz = VisitStr(value);
      return absl::OkStatus();
    case P::kMaxBandwidth: {
      // Not a visit_type_size(): the default unit is MiB, and every failure reads the same.
      absl::StatusOr<uint64_t> v = QemuStrtosz(value, uint64_t{1} << 20);
      if (!v.ok() || *v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return InvalidSize(value);
      }
      p->max_bandwidth = *v;
      return absl::OkStatus();
    }
    case P::kDowntimeLimit:
      return size(&p->downtime_limit);
    case P::kXCheckpointDelay: {
      absl::StatusOr<uint64_t> v = VisitUint(name, value, 0xffffffffu, "uint32_t");
      if (!v.ok()) {
        return v.status();
      }
      p->x_checkpoint_delay = static_cast<uint32_t>(*v);
      return absl::OkStatus();
    }
    case P::kBlockIncremental:
      return boolean(&p->block_incremental);
    case P::kMultifdChannels:
      return u8(&p->multifd_channels);
    case P::kMultifdCompression: {
      std::optional<qapi::MultiFDCompression> c =
          qapi::EnumFromString<qapi::MultiFDCompression>(value);
      if (!c) {
        return absl::InvalidArgumentError(
            absl::StrCat("Parameter '", name, "' does not accept value '", value, "'"));
      }
      p->multifd_compression = *c;
      return absl::OkStatus();
    }
    case P::kMultifdZlibLevel:
      return u8(&p->multifd_zlib_level);
    case P::kMultifdZstdLevel:
      return u8(&p->multifd_zstd_level);
    case P::kXbzrleCacheSize: {
      absl::StatusOr<uint64_t> v = VisitSize(name, value);
      if (!v.ok()) {
        return v.status();
      }
      if (*v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return InvalidSize(value);
      }
      p->xbzrle_cache_size = *v;
      return absl::OkStatus();
    }
    case P::kMaxPostcopyBandwidth:
      return size(&p->max_postcopy_bandwidth);
    case P::kAnnounceInitial:
      return size(&p->announce_initial);
    case P::kAnnounceMax:
      return size(&p->announce_max);
    case P::kAnnounceRounds:
      return size(&p->announce_rounds);
    case P::kAnnounceStep:
      return size(&p->announce_step);
    case P::kBlockBitmapMapping:
      return absl::InvalidArgumentError(kHmpBitmapMappingOnlyQmp);
  }
  return absl::InvalidArgumentError(absl::StrCat(kHmpInvalidParameterValue, name));
}

}  // namespace

void HmpCommands::MigrateSetParameter(HmpTerminal& t, const HmpArgs& a) {
  const std::string name = a.Str("parameter").value_or("");
  const std::string value = a.Str("value").value_or("");
  std::optional<qapi::MigrationParameter> param =
      qapi::EnumFromString<qapi::MigrationParameter>(name);
  if (!param) {
    PrintError(t, absl::InvalidArgumentError(absl::StrCat(kHmpInvalidParameterValue, name)));
    return;
  }
  qapi::MigrateSetParameters p;
  absl::Status s = FillParameter(*param, name, value, &p);
  if (s.ok()) {
    s = backends_.migration.MigrateSetParameters(p);
  }
  if (!s.ok()) {
    PrintError(t, s);
  }
}

void HmpCommands::InfoMigrate(HmpTerminal& t, const HmpArgs&) {
  absl::StatusOr<qapi::MigrationInfo> got = backends_.migration.QueryMigrate();
  if (!got.ok()) {
    PrintError(t, got.status());
    return;
  }
  const qapi::MigrationInfo& info = *got;
  // migration_global_dump(): migemu has no -global migration.* or -only-migratable, so these
  // are always QEMU's defaults for machine `none`.
  std::string o =
      "globals:\n"
      "store-global-state: on\n"
      "only-migratable: off\n"
      "send-configuration: on\n"
      "send-section-footer: on\n"
      "decompress-error-check: on\n"
      "clear-bitmap-shift: 18\n";
  if (info.blocked_reasons.has_value()) {
    absl::StrAppend(&o, "Outgoing migration blocked:\n");
    for (const std::string& r : *info.blocked_reasons) {
      absl::StrAppend(&o, "  ", r, "\n");
    }
  }
  if (info.status.has_value()) {
    absl::StrAppend(&o, "Migration status: ", qapi::EnumToString(*info.status));
    if (*info.status == qapi::MigrationStatus::kFailed && info.error_desc.has_value()) {
      absl::StrAppend(&o, " (", *info.error_desc, ")\n");
    } else {
      absl::StrAppend(&o, "\n");
    }
    absl::StrAppend(&o, "total time: ", static_cast<uint64_t>(info.total_time.value_or(0)),
                    " ms\n");
    if (info.expected_downtime.has_value()) {
      absl::StrAppend(&o, "expected downtime: ", static_cast<uint64_t>(*info.expected_downtime),
                      " ms\n");
    }
    if (info.downtime.has_value()) {
      absl::StrAppend(&o, "downtime: ", static_cast<uint64_t>(*info.downtime), " ms\n");
    }
    if (info.setup_time.has_value()) {
      absl::StrAppend(&o, "setup: ", static_cast<uint64_t>(*info.setup_time), " ms\n");
    }
  }
  // The byte counters are printed as unsigned, shifted to KiB (">> 10").
  auto kb = [](int64_t v) { return static_cast<uint64_t>(v) >> 10; };
  auto u = [](int64_t v) { return static_cast<uint64_t>(v); };
  if (info.ram.has_value()) {
    const qapi::MigrationStats& r = *info.ram;
    absl::StrAppend(&o, "transferred ram: ", kb(r.transferred), " kbytes\n");
    absl::StrAppend(&o, absl::StrFormat("throughput: %0.2f mbps\n", r.mbps));
    absl::StrAppend(&o, "remaining ram: ", kb(r.remaining), " kbytes\n");
    absl::StrAppend(&o, "total ram: ", kb(r.total), " kbytes\n");
    absl::StrAppend(&o, "duplicate: ", u(r.duplicate), " pages\n");
    absl::StrAppend(&o, "skipped: ", u(r.skipped), " pages\n");
    absl::StrAppend(&o, "normal: ", u(r.normal), " pages\n");
    absl::StrAppend(&o, "normal bytes: ", kb(r.normal_bytes), " kbytes\n");
    absl::StrAppend(&o, "dirty sync count: ", u(r.dirty_sync_count), "\n");
    absl::StrAppend(&o, "page size: ", kb(r.page_size), " kbytes\n");
    absl::StrAppend(&o, "multifd bytes: ", r.multifd_bytes >> 10, " kbytes\n");
    absl::StrAppend(&o, "pages-per-second: ", r.pages_per_second, "\n");
    if (r.dirty_pages_rate != 0) {
      absl::StrAppend(&o, "dirty pages rate: ", u(r.dirty_pages_rate), " pages\n");
    }
    if (r.postcopy_requests != 0) {
      absl::StrAppend(&o, "postcopy request count: ", u(r.postcopy_requests), "\n");
    }
    if (r.precopy_bytes != 0) {
      absl::StrAppend(&o, "precopy ram: ", r.precopy_bytes >> 10, " kbytes\n");
    }
    if (r.downtime_bytes != 0) {
      absl::StrAppend(&o, "downtime ram: ", r.downtime_bytes >> 10, " kbytes\n");
    }
    if (r.postcopy_bytes != 0) {
      absl::StrAppend(&o, "postcopy ram: ", r.postcopy_bytes >> 10, " kbytes\n");
    }
    if (r.dirty_sync_missed_zero_copy != 0) {
      absl::StrAppend(&o, "Zero-copy-send fallbacks happened: ", r.dirty_sync_missed_zero_copy,
                      " times\n");
    }
  }
  if (info.disk.has_value()) {
    absl::StrAppend(&o, "transferred disk: ", kb(info.disk->transferred), " kbytes\n");
    absl::StrAppend(&o, "remaining disk: ", kb(info.disk->remaining), " kbytes\n");
    absl::StrAppend(&o, "total disk: ", kb(info.disk->total), " kbytes\n");
  }
  if (info.xbzrle_cache.has_value()) {
    const qapi::XBZRLECacheStats& x = *info.xbzrle_cache;
    absl::StrAppend(&o, "cache size: ", x.cache_size, " bytes\n");
    absl::StrAppend(&o, "xbzrle transferred: ", kb(x.bytes), " kbytes\n");
    absl::StrAppend(&o, "xbzrle pages: ", u(x.pages), " pages\n");
    absl::StrAppend(&o, "xbzrle cache miss: ", u(x.cache_miss), " pages\n");
    absl::StrAppend(&o, absl::StrFormat("xbzrle cache miss rate: %0.2f\n", x.cache_miss_rate));
    absl::StrAppend(&o, absl::StrFormat("xbzrle encoding rate: %0.2f\n", x.encoding_rate));
    absl::StrAppend(&o, "xbzrle overflow: ", u(x.overflow), "\n");
  }
  if (info.compression.has_value()) {
    const qapi::CompressionStats& c = *info.compression;
    absl::StrAppend(&o, "compression pages: ", u(c.pages), " pages\n");
    absl::StrAppend(&o, "compression busy: ", u(c.busy), "\n");
    absl::StrAppend(&o, absl::StrFormat("compression busy rate: %0.2f\n", c.busy_rate));
    absl::StrAppend(&o, "compressed size: ", kb(c.compressed_size), " kbytes\n");
    absl::StrAppend(&o, absl::StrFormat("compression rate: %0.2f\n", c.compression_rate));
  }
  if (info.cpu_throttle_percentage.has_value()) {
    absl::StrAppend(&o, "cpu throttle percentage: ", u(*info.cpu_throttle_percentage), "\n");
  }
  if (info.postcopy_blocktime.has_value()) {
    absl::StrAppend(&o, "postcopy blocktime: ", *info.postcopy_blocktime, "\n");
  }
  if (info.postcopy_vcpu_blocktime.has_value()) {
    absl::StrAppend(&o, "postcopy vcpu blocktime: ", FormatIntList(*info.postcopy_vcpu_blocktime),
                    "\n");
  }
  if (info.socket_address.has_value()) {
    absl::StrAppend(&o, "socket address: [\n");
    for (const qapi::SocketAddress& addr : *info.socket_address) {
      // socket_uri().
      std::string uri;
      switch (addr.type) {
        case qapi::SocketAddressType::kInet:
          uri = absl::StrCat("tcp:", addr.u.inet.host, ":", addr.u.inet.port);
          break;
        case qapi::SocketAddressType::kUnix:
          uri = absl::StrCat("unix:", addr.u.q_unix.path);
          break;
        case qapi::SocketAddressType::kFd:
          uri = absl::StrCat("fd:", addr.u.fd.str);
          break;
        case qapi::SocketAddressType::kVsock:
          uri = absl::StrCat("vsock:", addr.u.vsock.cid, ":", addr.u.vsock.port);
          break;
      }
      absl::StrAppend(&o, "\t", uri, "\n");
    }
    absl::StrAppend(&o, "]\n");
  }
  if (info.vfio.has_value()) {
    absl::StrAppend(&o, "vfio device transferred: ", kb(info.vfio->transferred), " kbytes\n");
  }
  t.Print(o);
}

void HmpCommands::InfoMigrateCapabilities(HmpTerminal& t, const HmpArgs&) {
  absl::StatusOr<std::vector<qapi::MigrationCapabilityStatus>> caps =
      backends_.migration.QueryMigrateCapabilities();
  if (!caps.ok()) {
    PrintError(t, caps.status());
    return;
  }
  std::string o;
  for (const qapi::MigrationCapabilityStatus& c : *caps) {
    absl::StrAppend(&o, qapi::EnumToString(c.capability), ": ", OnOff(c.state), "\n");
  }
  t.Print(o);
}

void HmpCommands::InfoMigrateParameters(HmpTerminal& t, const HmpArgs&) {
  absl::StatusOr<qapi::MigrationParameters> got = backends_.migration.QueryMigrateParameters();
  if (!got.ok()) {
    PrintError(t, got.status());
    return;
  }
  const qapi::MigrationParameters& p = *got;
  using P = qapi::MigrationParameter;
  auto name = [](P param) { return qapi::EnumToString(param); };
  std::string o;
  // hmp_info_migrate_parameters(): this order and these units; the multifd compression levels
  // are not shown by 7.2.
  absl::StrAppend(&o, name(P::kAnnounceInitial), ": ", p.announce_initial.value_or(0), " ms\n");
  absl::StrAppend(&o, name(P::kAnnounceMax), ": ", p.announce_max.value_or(0), " ms\n");
  absl::StrAppend(&o, name(P::kAnnounceRounds), ": ", p.announce_rounds.value_or(0), "\n");
  absl::StrAppend(&o, name(P::kAnnounceStep), ": ", p.announce_step.value_or(0), " ms\n");
  absl::StrAppend(&o, name(P::kCompressLevel), ": ", p.compress_level.value_or(0), "\n");
  absl::StrAppend(&o, name(P::kCompressThreads), ": ", p.compress_threads.value_or(0), "\n");
  absl::StrAppend(&o, name(P::kCompressWaitThread), ": ",
                  OnOff(p.compress_wait_thread.value_or(false)), "\n");
  absl::StrAppend(&o, name(P::kDecompressThreads), ": ", p.decompress_threads.value_or(0), "\n");
  absl::StrAppend(&o, name(P::kThrottleTriggerThreshold), ": ",
                  p.throttle_trigger_threshold.value_or(0), "\n");
  absl::StrAppend(&o, name(P::kCpuThrottleInitial), ": ", p.cpu_throttle_initial.value_or(0), "\n");
  absl::StrAppend(&o, name(P::kCpuThrottleIncrement), ": ", p.cpu_throttle_increment.value_or(0),
                  "\n");
  absl::StrAppend(&o, name(P::kCpuThrottleTailslow), ": ",
                  OnOff(p.cpu_throttle_tailslow.value_or(false)), "\n");
  absl::StrAppend(&o, name(P::kMaxCpuThrottle), ": ", p.max_cpu_throttle.value_or(0), "\n");
  absl::StrAppend(&o, name(P::kTlsCreds), ": '", p.tls_creds.value_or(""), "'\n");
  absl::StrAppend(&o, name(P::kTlsHostname), ": '", p.tls_hostname.value_or(""), "'\n");
  absl::StrAppend(&o, name(P::kMaxBandwidth), ": ", p.max_bandwidth.value_or(0), " bytes/second\n");
  absl::StrAppend(&o, name(P::kDowntimeLimit), ": ", p.downtime_limit.value_or(0), " ms\n");
  absl::StrAppend(&o, name(P::kXCheckpointDelay), ": ", p.x_checkpoint_delay.value_or(0), " ms\n");
  absl::StrAppend(&o, name(P::kBlockIncremental), ": ", OnOff(p.block_incremental.value_or(false)),
                  "\n");
  absl::StrAppend(&o, name(P::kMultifdChannels), ": ", p.multifd_channels.value_or(0), "\n");
  absl::StrAppend(
      &o, name(P::kMultifdCompression), ": ",
      qapi::EnumToString(p.multifd_compression.value_or(qapi::MultiFDCompression::kNone)), "\n");
  absl::StrAppend(&o, name(P::kXbzrleCacheSize), ": ", p.xbzrle_cache_size.value_or(0), " bytes\n");
  absl::StrAppend(&o, name(P::kMaxPostcopyBandwidth), ": ", p.max_postcopy_bandwidth.value_or(0),
                  "\n");
  absl::StrAppend(&o, name(P::kTlsAuthz), ": '", p.tls_authz.value_or(""), "'\n");
  if (p.block_bitmap_mapping.has_value()) {
    absl::StrAppend(&o, name(P::kBlockBitmapMapping), ":\n");
    for (const qapi::BitmapMigrationNodeAlias& node : *p.block_bitmap_mapping) {
      absl::StrAppend(&o, "  '", node.node_name, "' -> '", node.alias, "'\n");
      for (const qapi::BitmapMigrationBitmapAlias& bitmap : node.bitmaps) {
        absl::StrAppend(&o, "    '", bitmap.name, "' -> '", bitmap.alias, "'\n");
      }
    }
  }
  t.Print(o);
}

// ---- dirty rate (migration/dirtyrate.c) --------------------------------------------------

void HmpCommands::CalcDirtyRate(HmpTerminal& t, const HmpArgs& a) {
  const int64_t sec = a.Int("second", 0);
  const int64_t sample_pages = a.Int("sample_pages_per_GB", -1);
  const bool dirty_ring = a.Bool("dirty_ring", false);
  const bool dirty_bitmap = a.Bool("dirty_bitmap", false);
  if (sec == 0) {
    t.Print(absl::StrCat(kHmpBadPeriod, "\n"));
    return;
  }
  if (dirty_ring && dirty_bitmap) {
    t.Print(absl::StrCat(kHmpRingOrBitmap, "\n"));
    return;
  }
  qapi::CalcDirtyRateArg arg;
  arg.calc_time = sec;
  if (sample_pages != -1) {
    arg.sample_pages = sample_pages;
  }
  arg.mode = dirty_bitmap ? qapi::DirtyRateMeasureMode::kDirtyBitmap
             : dirty_ring ? qapi::DirtyRateMeasureMode::kDirtyRing
                          : qapi::DirtyRateMeasureMode::kPageSampling;
  absl::Status s = backends_.migration.CalcDirtyRate(arg);
  if (!s.ok()) {
    PrintError(t, s);
    return;
  }
  t.Print(absl::StrCat("Starting dirty rate measurement with period ", sec,
                       " seconds\n[Please use 'info dirty_rate' to check results]\n"));
}

void HmpCommands::InfoDirtyRate(HmpTerminal& t, const HmpArgs&) {
  absl::StatusOr<qapi::DirtyRateInfo> got = backends_.migration.QueryDirtyRate();
  if (!got.ok()) {
    PrintError(t, got.status());
    return;
  }
  const qapi::DirtyRateInfo& info = *got;
  std::string o = absl::StrCat("Status: ", qapi::EnumToString(info.status), "\n");
  absl::StrAppend(&o, "Start Time: ", info.start_time, " (ms)\n");
  absl::StrAppend(&o, "Sample Pages: ", info.sample_pages, " (per GB)\n");
  absl::StrAppend(&o, "Period: ", info.calc_time, " (sec)\n");
  absl::StrAppend(&o, "Mode: ", qapi::EnumToString(info.mode), "\n");
  absl::StrAppend(&o, "Dirty rate: ");
  if (info.dirty_rate.has_value()) {
    absl::StrAppend(&o, *info.dirty_rate, " (MB/s)\n");
    if (info.vcpu_dirty_rate.has_value()) {
      for (const qapi::DirtyRateVcpu& v : *info.vcpu_dirty_rate) {
        absl::StrAppend(&o, "vcpu[", v.id, "], Dirty rate: ", v.dirty_rate, " (MB/s)\n");
      }
    }
  } else {
    absl::StrAppend(&o, "(not ready)\n");
  }
  t.Print(o);
}

}  // namespace migemu::monitor
