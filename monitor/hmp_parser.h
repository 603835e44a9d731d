// File: monitor/hmp_parser.h
//
// The lexical layer of QEMU 7.2's human monitor (monitor/hmp.c): splitting a command line into
// a command name and its arguments according to the command's `args_type` mini-language, with
// QEMU's exact messages for bad input.
//
// args_type is a comma-separated list of `key:type` items:
//   s   one word, or a "..." string with the escapes \n \r \\ \' \"
//   s?  the same, optional (absent at the end of the line)
//   S   the rest of the line; S? optional
//   b   a word that must be exactly `on` or `off`
//   -x  a flag: true when `-x` is given at this position
//   l / i   an integer expression (+ - * / % & | ^ ~ unary - ( ) 'c' and numbers in C syntax);
//       `i` must fit 32 bits; `l?` optional
//
//   HmpText out;
//   size_t pos = 0;  // just after the command name
//   std::optional<HmpArgs> args = ParseHmpArguments(line, pos, "migrate", kMigrateArgs, out);
//   if (!args) { /* out.monitor holds QEMU's message(s) */ }
//
// Quirks kept on purpose, because scripts see them: options are matched in table order (an
// option out of order is "unsupported"), and get_str() reports bad escapes and unterminated
// strings on the process's stdout, not on the monitor.
//
// Thread-safety: pure functions.
#ifndef MIGEMU_MONITOR_HMP_PARSER_H_
#define MIGEMU_MONITOR_HMP_PARSER_H_

#include <absl/strings/string_view.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace migemu::monitor {

// What a parse step prints: on the monitor, and (QEMU's printf() in get_str) on the process's
// stdout. Texts use '\n' line ends; the terminal turns them into "\r\n".
struct HmpText {
  std::string monitor;
  std::string process_stdout;
};

// The parsed arguments (QEMU's QDict): strings, booleans and integers by key.
class HmpArgs {
 public:
  using Value = std::variant<std::string, bool, int64_t>;

  void Set(const std::string& key, Value v) { values_[key] = std::move(v); }
  bool Has(absl::string_view key) const { return values_.find(key) != values_.end(); }
  // The string under `key`, or nullopt when absent or not a string.
  std::optional<std::string> Str(absl::string_view key) const;
  // The boolean under `key`, or `def`.
  bool Bool(absl::string_view key, bool def) const;
  // The integer under `key`, or `def`.
  int64_t Int(absl::string_view key, int64_t def) const;

 private:
  std::map<std::string, Value, std::less<>> values_;
};

// IsHmpSpace / IsHmpGraph: qemu_isspace() / qemu_isgraph() in the C locale.
bool IsHmpSpace(char c);
bool IsHmpGraph(char c);

// HmpGetStr: get_str(): skips blanks, then reads a bare word (up to a blank) or a "..." string.
// Advances `*pos`. Returns nullopt at the end of the line, for an unknown escape or an
// unterminated string (the latter two print QEMU's message to `out->process_stdout`).
std::optional<std::string> HmpGetStr(absl::string_view line, size_t* pos, HmpText* out);

// HmpGetCommandName: get_command_name(): skips blanks and returns the name (up to a blank, '/'
// or the end), leaving `*pos` just after it; nullopt when the line is blank.
std::optional<std::string> HmpGetCommandName(absl::string_view line, size_t* pos);

// HmpSplitArgs: parse_cmdline(), used by `help` and completion: the words of `line` (quoted
// strings allowed), at most 16. nullopt when a word is malformed or there are more than 16.
std::optional<std::vector<std::string>> HmpSplitArgs(absl::string_view line, HmpText* out);

// HmpCompareCmd: hmp_compare_cmd(): whether `name` is one of the '|'-separated `list`.
bool HmpCompareCmd(absl::string_view name, absl::string_view list);

// HmpEvalExpr: get_expr(): evaluates the integer expression at `*pos` (after blanks), leaving
// `*pos` after it. Errors are QEMU's texts ("unexpected end of expression", "invalid char 'x'
// in expression", "number too large", "division by zero", "unknown register", ...), printed
// with a line end to `out->monitor`; machine `none` has no CPU, so every $register is unknown.
std::optional<int64_t> HmpEvalExpr(absl::string_view line, size_t* pos, HmpText* out);

// ParseHmpArguments: monitor_parse_arguments(): parses `line` from `pos` (just after the
// command name) by `args_type`. `cmd_name` is the table name used in messages ("stop|s").
// On failure the messages are in `out->monitor` and nullopt is returned.
std::optional<HmpArgs> ParseHmpArguments(absl::string_view line, size_t pos,
                                         absl::string_view cmd_name, absl::string_view args_type,
                                         HmpText* out);

}  // namespace migemu::monitor

#endif  // MIGEMU_MONITOR_HMP_PARSER_H_
