// File: system/command_line.h
//
// The QEMU-style command line of build/migemu: a table of options spelled as QEMU spells them
// (single or double dash), each with or without an argument. Parsing only splits argv into
// options; each option's value is interpreted by its consumer (sizes, keyval lists, chardev
// addresses), so that every error names the option as QEMU does: "-m abc: <reason>".
//
//   absl::StatusOr<CommandLine> cl = ParseCommandLine(argc, argv);
//   if (!cl.ok()) { PrintError(cl.status().message()); return 1; }
//
// Thread-safety: plain values.
#ifndef MIGEMU_SYSTEM_COMMAND_LINE_H_
#define MIGEMU_SYSTEM_COMMAND_LINE_H_

#include <absl/status/statusor.h>
#include <absl/strings/string_view.h>

#include <string>
#include <vector>

namespace migemu::system {

// One option occurrence, in command-line order.
struct OptionArg {
  std::string name;   // without the leading dash(es): "m", "qmp", "object"
  std::string value;  // empty for options without an argument
};

// CommandLine: every option given, in order. Repeatable options (-qmp, -object, -monitor)
// appear once per occurrence.
struct CommandLine {
  std::vector<OptionArg> options;

  // All values given for `name`, in order.
  std::vector<std::string> All(absl::string_view name) const;
  // The last value given for `name` (QEMU: the last occurrence wins), or nullptr.
  const std::string* Last(absl::string_view name) const;
  bool Has(absl::string_view name) const;
};

// Description of one supported option, for parsing and for -help.
struct OptionSpec {
  absl::string_view name;
  bool has_arg;
  absl::string_view help_synopsis;  // first column of -help, e.g. "-m [size=]megs"
  absl::string_view help_text;      // may contain '\n' followed by continuation lines
};

// SupportedOptions: the table, in -help order.
const std::vector<OptionSpec>& SupportedOptions();

// ParseCommandLine: splits argv. Errors (QEMU's texts, without the program-name prefix):
//   "-foo: invalid option", "-m: requires an argument",
//   "<arg>: disk images are not supported (machine 'none' has no drives)".
absl::StatusOr<CommandLine> ParseCommandLine(int argc, const char* const* argv);

// HelpText: the text -help prints (usage line, then one block per option).
std::string HelpText(absl::string_view program_name);

// VersionText: the text -version prints.
std::string VersionText();

}  // namespace migemu::system

#endif  // MIGEMU_SYSTEM_COMMAND_LINE_H_
