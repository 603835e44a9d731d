#include "monitor/hmp_parser.h"

#include <absl/strings/str_cat.h>
#include <errno.h>

#include <cstdlib>
#include <limits>

namespace migemu::monitor {

namespace {

constexpr size_t kMaxArgs = 16;  // MAX_ARGS in monitor/hmp.c

// The character at `pos`, or '\0' past the end (QEMU walks NUL-terminated strings).
char At(absl::string_view s, size_t pos) { return pos < s.size() ? s[pos] : '\0'; }

void SkipSpaces(absl::string_view s, size_t* pos) {
  while (*pos < s.size() && IsHmpSpace(s[*pos])) {
    ++*pos;
  }
}

// monitor_printf("%s") stops at an embedded NUL (the text was built with a %c of '\0').
std::string CutAtNul(std::string s) {
  size_t nul = s.find('\0');
  if (nul != std::string::npos) {
    s.resize(nul);
  }
  return s;
}

// get_expr(): recursive descent over + - (lowest), & | ^, * / %, then unary operators.
// Arithmetic wraps like QEMU's int64_t on the hosts it runs on; a division that would trap
// (INT64_MIN / -1) gives the wrapped result instead of crashing.
class ExprParser {
 public:
  ExprParser(absl::string_view line, size_t pos) : line_(line), pos_(pos) {}

  std::optional<int64_t> Parse(size_t* end, std::string* error) {
    SkipSpaces(line_, &pos_);
    std::optional<int64_t> v = Sum();
    *end = pos_;
    if (!v) {
      *error = error_;
    }
    return v;
  }

 private:
  static int64_t Wrap(uint64_t v) { return static_cast<int64_t>(v); }

  std::nullopt_t Fail(std::string message) {
    if (error_.empty()) {
      error_ = std::move(message);
    }
    return std::nullopt;
  }

  // next(): step over the operator and the blanks after it.
  void Next() {
    if (pos_ < line_.size()) {
      ++pos_;
      SkipSpaces(line_, &pos_);
    }
  }

  std::optional<int64_t> Unary() {
    const char c = At(line_, pos_);
    switch (c) {
      case '+':
        Next();
        return Unary();
      case '-': {
        Next();
        std::optional<int64_t> v = Unary();
        if (!v) {
          return v;
        }
        return Wrap(0 - static_cast<uint64_t>(*v));
      }
      case '~': {
        Next();
        std::optional<int64_t> v = Unary();
        if (!v) {
          return v;
        }
        return ~*v;
      }
      case '(': {
        Next();
        std::optional<int64_t> v = Sum();
        if (!v) {
          return v;
        }
        if (At(line_, pos_) != ')') {
          return Fail("')' expected");
        }
        Next();
        return v;
      }
      case '\'': {
        ++pos_;
        if (pos_ >= line_.size()) {
          return Fail("character constant expected");
        }
        // `char` is signed on x86: bytes above 0x7f are negative, as in QEMU.
        const int64_t v = static_cast<signed char>(line_[pos_]);
        ++pos_;
        if (At(line_, pos_) != '\'') {
          return Fail("missing terminating ' character");
        }
        Next();
        return v;
      }
      case '$': {
        ++pos_;
        while (pos_ < line_.size()) {
          const char r = line_[pos_];
          if ((r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') ||
              r == '_' || r == '.') {
            ++pos_;
          } else {
            break;
          }
        }
        SkipSpaces(line_, &pos_);
        // get_monitor_def() needs a current CPU; machine `none` has none.
        return Fail("unknown register");
      }
      case '\0':
        return Fail("unexpected end of expression");
      default: {
        // strtoull(base 0) on the rest of the line, as QEMU does.
        const std::string rest(line_.substr(pos_));
        char* end = nullptr;
        errno = 0;
        const unsigned long long n = std::strtoull(rest.c_str(), &end, 0);  // NOLINT(runtime/int)
        if (errno == ERANGE) {
          return Fail("number too large");
        }
        if (end == rest.c_str()) {
          return Fail(
              CutAtNul(absl::StrCat("invalid char '", std::string(1, *end), "' in expression")));
        }
        pos_ += static_cast<size_t>(end - rest.c_str());
        SkipSpaces(line_, &pos_);
        return Wrap(n);
      }
    }
  }

  std::optional<int64_t> Prod() {
    std::optional<int64_t> val = Unary();
    while (val) {
      const char op = At(line_, pos_);
      if (op != '*' && op != '/' && op != '%') {
        break;
      }
      Next();
      std::optional<int64_t> val2 = Unary();
      if (!val2) {
        return val2;
      }
      if (op == '*') {
        val = Wrap(static_cast<uint64_t>(*val) * static_cast<uint64_t>(*val2));
        continue;
      }
      if (*val2 == 0) {
        return Fail("division by zero");
      }
      if (*val == std::numeric_limits<int64_t>::min() && *val2 == -1) {
        val = op == '/' ? *val : 0;
      } else {
        val = op == '/' ? *val / *val2 : *val % *val2;
      }
    }
    return val;
  }

  std::optional<int64_t> Logic() {
    std::optional<int64_t> val = Prod();
    while (val) {
      const char op = At(line_, pos_);
      if (op != '&' && op != '|' && op != '^') {
        break;
      }
      Next();
      std::optional<int64_t> val2 = Prod();
      if (!val2) {
        return val2;
      }
      val = op == '&' ? (*val & *val2) : op == '|' ? (*val | *val2) : (*val ^ *val2);
    }
    return val;
  }

  std::optional<int64_t> Sum() {
    std::optional<int64_t> val = Logic();
    while (val) {
      const char op = At(line_, pos_);
      if (op != '+' && op != '-') {
        break;
      }
      Next();
      std::optional<int64_t> val2 = Logic();
      if (!val2) {
        return val2;
      }
      const uint64_t a = static_cast<uint64_t>(*val);
      const uint64_t b = static_cast<uint64_t>(*val2);
      val = Wrap(op == '+' ? a + b : a - b);
    }
    return val;
  }

  absl::string_view line_;
  size_t pos_;
  std::string error_;
};

}  // namespace

std::optional<std::string> HmpArgs::Str(absl::string_view key) const {
  auto it = values_.find(key);
  if (it == values_.end() || !std::holds_alternative<std::string>(it->second)) {
    return std::nullopt;
  }
  return std::get<std::string>(it->second);
}

bool HmpArgs::Bool(absl::string_view key, bool def) const {
  auto it = values_.find(key);
  if (it == values_.end() || !std::holds_alternative<bool>(it->second)) {
    return def;
  }
  return std::get<bool>(it->second);
}

int64_t HmpArgs::Int(absl::string_view key, int64_t def) const {
  auto it = values_.find(key);
  if (it == values_.end() || !std::holds_alternative<int64_t>(it->second)) {
    return def;
  }
  return std::get<int64_t>(it->second);
}

bool IsHmpSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

bool IsHmpGraph(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u > 0x20 && u < 0x7f;
}

std::optional<std::string> HmpGetStr(absl::string_view line, size_t* pos, HmpText* out) {
  SkipSpaces(line, pos);
  if (*pos >= line.size()) {
    return std::nullopt;
  }
  std::string value;
  if (line[*pos] != '"') {
    while (*pos < line.size() && !IsHmpSpace(line[*pos])) {
      value.push_back(line[(*pos)++]);
    }
    return value;
  }
  ++*pos;
  while (*pos < line.size() && line[*pos] != '"') {
    if (line[*pos] != '\\') {
      value.push_back(line[(*pos)++]);
      continue;
    }
    ++*pos;
    char c = At(line, *pos);
    *pos = std::min(*pos + 1, line.size());
    switch (c) {
      case 'n':
        c = '\n';
        break;
      case 'r':
        c = '\r';
        break;
      case '\\':
      case '\'':
      case '"':
        break;
      default:
        // QEMU printf()s this one to stdout, not to the monitor.
        absl::StrAppend(&out->process_stdout, "unsupported escape code: '\\", std::string(1, c),
                        "'\n");
        return std::nullopt;
    }
    value.push_back(c);
  }
  if (At(line, *pos) != '"') {
    absl::StrAppend(&out->process_stdout, "unterminated string\n");
    return std::nullopt;
  }
  ++*pos;
  return value;
}

std::optional<std::string> HmpGetCommandName(absl::string_view line, size_t* pos) {
  SkipSpaces(line, pos);
  if (*pos >= line.size()) {
    return std::nullopt;
  }
  const size_t start = *pos;
  while (*pos < line.size() && line[*pos] != '/' && !IsHmpSpace(line[*pos])) {
    ++*pos;
  }
  return std::string(line.substr(start, *pos - start));
}

std::optional<std::vector<std::string>> HmpSplitArgs(absl::string_view line, HmpText* out) {
  std::vector<std::string> args;
  size_t pos = 0;
  for (;;) {
    SkipSpaces(line, &pos);
    if (pos >= line.size()) {
      return args;
    }
    if (args.size() >= kMaxArgs) {
      return std::nullopt;
    }
    std::optional<std::string> word = HmpGetStr(line, &pos, out);
    if (!word) {
      return std::nullopt;
    }
    args.push_back(std::move(*word));
  }
}

bool HmpCompareCmd(absl::string_view name, absl::string_view list) {
  size_t start = 0;
  for (;;) {
    size_t bar = list.find('|', start);
    absl::string_view alt = list.substr(start, bar == absl::string_view::npos ? bar : bar - start);
    if (alt == name) {
      return true;
    }
    if (bar == absl::string_view::npos) {
      return false;
    }
    start = bar + 1;
  }
}

std::optional<int64_t> HmpEvalExpr(absl::string_view line, size_t* pos, HmpText* out) {
  ExprParser parser(line, *pos);
  std::string error;
  std::optional<int64_t> v = parser.Parse(pos, &error);
  if (!v) {
    absl::StrAppend(&out->monitor, error, "\n");
  }
  return v;
}

std::optional<HmpArgs> ParseHmpArguments(absl::string_view line, size_t pos,
                                         absl::string_view cmd_name, absl::string_view args_type,
                                         HmpText* out) {
  const std::string name(cmd_name);
  HmpArgs args;
  size_t t = 0;  // position in args_type
  auto type_at = [&](size_t i) { return At(args_type, i); };
  for (;;) {
    // key_get_info(): an optional ',' then "key:".
    if (type_at(t) == ',') {
      ++t;
    }
    const size_t colon = args_type.find(':', t);
    if (colon == absl::string_view::npos) {
      break;
    }
    const std::string key(args_type.substr(t, colon - t));
    t = colon + 1;
    const char c = type_at(t++);
    switch (c) {
      case 's': {
        SkipSpaces(line, &pos);
        if (type_at(t) == '?') {
          ++t;
          if (pos >= line.size()) {
            break;  // absent optional string
          }
        }
        std::optional<std::string> s = HmpGetStr(line, &pos, out);
        if (!s) {
          absl::StrAppend(&out->monitor, name, ": string expected\n");
          return std::nullopt;
        }
        args.Set(key, std::move(*s));
        break;
      }
      case 'S': {
        SkipSpaces(line, &pos);
        if (type_at(t) == '?') {
          ++t;
          if (pos >= line.size()) {
            break;
          }
        }
        if (pos >= line.size()) {
          absl::StrAppend(&out->monitor, name, ": string expected\n");
          return std::nullopt;
        }
        args.Set(key, std::string(line.substr(pos)));
        pos = line.size();
        break;
      }
      case 'b': {
        SkipSpaces(line, &pos);
        const size_t beg = pos;
        while (pos < line.size() && IsHmpGraph(line[pos])) {
          ++pos;
        }
        const absl::string_view word = line.substr(beg, pos - beg);
        if (word == "on") {
          args.Set(key, true);
        } else if (word == "off") {
          args.Set(key, false);
        } else {
          absl::StrAppend(&out->monitor, "Expected 'on' or 'off'\n");
          return std::nullopt;
        }
        break;
      }
      case 'i':
      case 'l': {
        SkipSpaces(line, &pos);
        const char mod = type_at(t);
        if (mod == '?' || mod == '.') {
          ++t;
          if (mod == '?' && pos >= line.size()) {
            break;
          }
          if (mod == '.') {
            if (At(line, pos) != '.') {
              break;
            }
            ++pos;
            SkipSpaces(line, &pos);
          }
        }
        std::optional<int64_t> v = HmpEvalExpr(line, &pos, out);
        if (!v) {
          return std::nullopt;
        }
        if (c == 'i' && ((static_cast<uint64_t>(*v) >> 32) & 0xffffffffu) != 0) {
          absl::StrAppend(&out->monitor, "'", name, "' has failed: integer is for 32-bit values\n");
          return std::nullopt;
        }
        args.Set(key, *v);
        break;
      }
      case '-': {
        const char opt = type_at(t);
        if (opt == '\0') {
          absl::StrAppend(&out->monitor, name, ": unknown type '", std::string(1, c), "'\n");
          return std::nullopt;
        }
        ++t;
        const size_t before = pos;
        SkipSpaces(line, &pos);
        if (At(line, pos) != '-') {
          if (type_at(t) == 's') {
            ++t;
          }
          break;
        }
        ++pos;
        const char given = At(line, pos);
        if (given != opt) {
          // is_valid_option(): "-<given>" appears later in args_type: leave it to that key.
          const std::string option = given == '\0' ? "-" : std::string{'-', given};
          if (args_type.substr(t).find(option) == absl::string_view::npos) {
            absl::StrAppend(&out->monitor, CutAtNul(absl::StrCat(name, ": unsupported option -",
                                                                 std::string(1, given), "\n")));
            return std::nullopt;
          }
          pos = before;
          break;
        }
        if (type_at(t) == 's') {
          ++t;
          const char flag = At(line, pos++);
          std::optional<std::string> s = HmpGetStr(line, &pos, out);
          if (!s) {
            absl::StrAppend(&out->monitor, name, ": value expected for -", std::string(1, flag),
                            "\n");
            return std::nullopt;
          }
          args.Set(key, std::move(*s));
        } else {
          ++pos;
          args.Set(key, true);
        }
        break;
      }
      default:
        absl::StrAppend(&out->monitor,
                        CutAtNul(absl::StrCat(name, ": unknown type '", std::string(1, c), "'\n")));
        return std::nullopt;
    }
  }
  SkipSpaces(line, &pos);
  if (pos < line.size()) {
    absl::StrAppend(&out->monitor, name, ": extraneous characters at the end of line\n");
    return std::nullopt;
  }
  return args;
}

}  // namespace migemu::monitor
