#include "io/socket_address.h"

#include <absl/status/status.h>
#include <absl/strings/match.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>
#include <errno.h>
#include <stdlib.h>

#include <cctype>
#include <string>
#include <utility>

#include "io/errors.h"
#include "util/status_macros.h"

namespace migemu::io {
namespace {

// QEMU works on C strings: anything after an embedded NUL is invisible to it.
absl::string_view AsCString(absl::string_view s) { return s.substr(0, s.find('\0')); }

// ScanSet mirrors sscanf's "%<max>[^<stop>]": the length (0..max) of the run of characters at
// `pos` that are not in `stop`. sscanf fails the conversion when that length is 0.
size_t ScanSet(absl::string_view s, size_t pos, size_t max, absl::string_view stop) {
  size_t n = 0;
  while (pos + n < s.size() && n < max && stop.find(s[pos + n]) == absl::string_view::npos) {
    ++n;
  }
  return n;
}

// ScanInt mirrors sscanf's "%d%n": optional white space, optional sign, at least one digit.
// Returns the characters consumed (0 = no conversion); the value wraps like glibc's (int)strtol.
size_t ScanInt(absl::string_view s, int* value) {
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i])) != 0) {
    ++i;
  }
  size_t digits_start = i;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    ++digits_start;
  }
  size_t end = digits_start;
  while (end < s.size() && std::isdigit(static_cast<unsigned char>(s[end])) != 0) {
    ++end;
  }
  if (end == digits_start) {
    return 0;
  }
  std::string text(s.substr(i, end - i));
  *value = static_cast<int>(std::strtol(text.c_str(), nullptr, 10));
  return end;
}

// inet_parse_flag(): `optstr` is what follows ",<flag>".
absl::Status ParseInetFlag(absl::string_view flag, absl::string_view optstr,
                           std::optional<bool>* out) {
  size_t len = optstr.size();
  size_t comma = optstr.find(',');
  if (comma != absl::string_view::npos) {
    if (comma + 1 < optstr.size() && optstr[comma + 1] == ',') {  // reject "ipv6=on,,foo"
      return absl::InvalidArgumentError(absl::StrFormat(kFmtParseFlag, flag, optstr));
    }
    len = comma;
  }
  absl::string_view value = optstr.substr(0, len);
  if (value.empty() || value == "=on") {
    *out = true;
  } else if (value == "=off") {
    *out = false;
  } else {
    return absl::InvalidArgumentError(absl::StrFormat(kFmtParseFlag, flag, optstr));
  }
  return absl::OkStatus();
}

absl::StatusOr<VsockSocketAddress> ParseVsock(absl::string_view str) {
  // vsock_parse(): "%32[^:]:%32[^,]%n", then nothing may follow.
  size_t cid_len = ScanSet(str, 0, 32, ":");
  if (cid_len == 0 || cid_len >= str.size() || str[cid_len] != ':') {
    return absl::InvalidArgumentError(absl::StrFormat(kFmtParseAddress, str));
  }
  size_t port_len = ScanSet(str, cid_len + 1, 32, ",");
  if (port_len == 0) {
    return absl::InvalidArgumentError(absl::StrFormat(kFmtParseAddress, str));
  }
  if (cid_len + 1 + port_len != str.size()) {
    return absl::InvalidArgumentError(absl::StrFormat(kFmtTrailingChars, str));
  }
  return VsockSocketAddress{std::string(str.substr(0, cid_len)),
                            std::string(str.substr(cid_len + 1, port_len))};
}

// ---- QemuOpts (util/qemu-option.c) for the chardev option list ------------------------------

enum class OptType { kString, kBool, kNumber, kSize };

struct OptDesc {
  const char* name;
  OptType type;
};

// qemu_chardev_opts (chardev/char.c), QEMU 7.2.
constexpr OptDesc kChardevOpts[] = {
    {"backend", OptType::kString},   {"path", OptType::kString},    {"host", OptType::kString},
    {"port", OptType::kString},      {"fd", OptType::kString},      {"localaddr", OptType::kString},
    {"localport", OptType::kString}, {"to", OptType::kNumber},      {"ipv4", OptType::kBool},
    {"ipv6", OptType::kBool},        {"wait", OptType::kBool},      {"server", OptType::kBool},
    {"delay", OptType::kBool},       {"nodelay", OptType::kBool},   {"reconnect", OptType::kNumber},
    {"telnet", OptType::kBool},      {"tn3270", OptType::kBool},    {"tls-creds", OptType::kString},
    {"tls-authz", OptType::kString}, {"websocket", OptType::kBool}, {"width", OptType::kNumber},
    {"height", OptType::kNumber},    {"cols", OptType::kNumber},    {"rows", OptType::kNumber},
    {"mux", OptType::kBool},         {"signal", OptType::kBool},    {"name", OptType::kString},
    {"debug", OptType::kNumber},     {"size", OptType::kSize},      {"chardev", OptType::kString},
    {"append", OptType::kBool},      {"logfile", OptType::kString}, {"logappend", OptType::kBool},
    {"mouse", OptType::kBool},       {"clipboard", OptType::kBool}, {"tight", OptType::kBool},
    {"abstract", OptType::kBool},
};

const OptDesc* FindOpt(absl::string_view name) {
  for (const OptDesc& d : kChardevOpts) {
    if (name == d.name) {
      return &d;
    }
  }
  return nullptr;
}

// qapi_bool_parse().
std::optional<bool> ParseBoolValue(absl::string_view v) {
  if (v == "on" || v == "yes" || v == "true" || v == "y") {
    return true;
  }
  if (v == "off" || v == "no" || v == "false" || v == "n") {
    return false;
  }
  return std::nullopt;
}

// parse_option_number(): qemu_strtou64(value, NULL, 0).
absl::StatusOr<uint64_t> ParseNumberValue(absl::string_view name, absl::string_view v) {
  std::string text(v);
  const char* begin = text.c_str();
  char* end = nullptr;
  errno = 0;
  unsigned long long n = std::strtoull(begin, &end, 0);  // NOLINT(google-runtime-int)
  if (end == begin || *end != '\0') {
    return absl::InvalidArgumentError(absl::StrFormat(kFmtExpectsNumber, name));
  }
  if (errno == ERANGE) {
    return absl::InvalidArgumentError(absl::StrFormat(kFmtValueTooLarge, v, name));
  }
  return static_cast<uint64_t>(n);
}

// get_opt_value(): up to the next single ',' (",," is an escaped comma). Returns the position of
// that ',' or the end.
size_t GetOptValue(absl::string_view s, size_t pos, std::string* value) {
  value->clear();
  while (pos < s.size()) {
    if (s[pos] == ',') {
      if (pos + 1 < s.size() && s[pos + 1] == ',') {
        value->push_back(',');
        pos += 2;
        continue;
      }
      break;
    }
    value->push_back(s[pos]);
    ++pos;
  }
  return pos;
}

// opts_do_parse() + opt_validate() for qemu_chardev_opts. `firstname` names an implicit first
// value ("path" for "unix:PATH,...").
absl::Status ParseOpts(absl::string_view params, const char* firstname,
                       std::map<std::string, std::string>* opts) {
  size_t p = 0;
  while (p < params.size()) {
    std::string name;
    std::string value;
    size_t len = params.find_first_of("=,", p);
    if (len == absl::string_view::npos) {
      len = params.size();
    }
    len -= p;
    if (p + len >= params.size() || params[p + len] != '=') {
      if (firstname != nullptr) {
        name = firstname;
        p = GetOptValue(params, p, &value);
      } else {
        // A flag without value: "server" = server=on, "nowait" = wait=off.
        name = std::string(params.substr(p, len));
        p += len;
        if (absl::StartsWith(name, "no")) {
          name = name.substr(2);
          value = "off";
        } else {
          value = "on";
        }
      }
    } else {
      name = std::string(params.substr(p, len));
      p = GetOptValue(params, p + len + 1, &value);
    }
    if (p < params.size() && params[p] == ',') {
      ++p;
    }
    firstname = nullptr;

    const OptDesc* desc = FindOpt(name);
    if (desc == nullptr) {
      return absl::InvalidArgumentError(absl::StrFormat(kFmtInvalidParameter, name));
    }
    if (desc->type == OptType::kBool && !ParseBoolValue(value).has_value()) {
      return absl::InvalidArgumentError(absl::StrFormat(kFmtExpectsOnOff, name));
    }
    if (desc->type == OptType::kNumber) {
      MIG_RETURN_IF_ERROR(ParseNumberValue(name, value).status());
    }
    (*opts)[name] = value;
  }
  return absl::OkStatus();
}

bool OptBool(const std::map<std::string, std::string>& opts, const char* name, bool dflt) {
  auto it = opts.find(name);
  if (it == opts.end()) {
    return dflt;
  }
  return ParseBoolValue(it->second).value_or(dflt);
}

std::optional<bool> OptBoolIfSet(const std::map<std::string, std::string>& opts, const char* name) {
  auto it = opts.find(name);
  if (it == opts.end()) {
    return std::nullopt;
  }
  return ParseBoolValue(it->second);
}

const std::string* OptString(const std::map<std::string, std::string>& opts, const char* name) {
  auto it = opts.find(name);
  return it == opts.end() ? nullptr : &it->second;
}

}  // namespace

absl::StatusOr<InetSocketAddress> ParseInetAddress(absl::string_view input) {
  absl::string_view str = AsCString(input);
  InetSocketAddress addr;
  size_t pos = 0;
  if (!str.empty() && str[0] == ':') {
    // No host given: ":%32[^,]%n".
    size_t port_len = ScanSet(str, 1, 32, ",");
    if (port_len == 0) {
      return absl::InvalidArgumentError(absl::StrFormat(kFmtParsePort, str));
    }
    addr.port = std::string(str.substr(1, port_len));
    pos = 1 + port_len;
  } else if (!str.empty() && str[0] == '[') {
    // IPv6: "[%64[^]]]:%32[^,]%n".
    size_t host_len = ScanSet(str, 1, 64, "]");
    size_t close = 1 + host_len;
    if (host_len == 0 || close + 1 >= str.size() || str[close] != ']' || str[close + 1] != ':') {
      return absl::InvalidArgumentError(absl::StrFormat(kFmtParseIpv6Address, str));
    }
    size_t port_len = ScanSet(str, close + 2, 32, ",");
    if (port_len == 0) {
      return absl::InvalidArgumentError(absl::StrFormat(kFmtParseIpv6Address, str));
    }
    addr.host = std::string(str.substr(1, host_len));
    addr.port = std::string(str.substr(close + 2, port_len));
    pos = close + 2 + port_len;
  } else {
    // Host name or IPv4: "%64[^:]:%32[^,]%n".
    size_t host_len = ScanSet(str, 0, 64, ":");
    if (host_len == 0 || host_len >= str.size() || str[host_len] != ':') {
      return absl::InvalidArgumentError(absl::StrFormat(kFmtParseAddress, str));
    }
    size_t port_len = ScanSet(str, host_len + 1, 32, ",");
    if (port_len == 0) {
      return absl::InvalidArgumentError(absl::StrFormat(kFmtParseAddress, str));
    }
    addr.host = std::string(str.substr(0, host_len));
    addr.port = std::string(str.substr(host_len + 1, port_len));
    pos = host_len + 1 + port_len;
  }

  // Options are found with strstr() anywhere after the port, exactly as inet_parse() does.
  absl::string_view optstr = str.substr(pos);
  if (size_t h = optstr.find(",to="); h != absl::string_view::npos) {
    absl::string_view rest = optstr.substr(h + 4);
    int to = 0;
    size_t n = ScanInt(rest, &to);
    if (n == 0 || (n < rest.size() && rest[n] != ',')) {
      return absl::InvalidArgumentError(kErrParseTo);
    }
    addr.to = to;
  }
  struct Flag {
    const char* key;  // searched as ",<key>"
    std::optional<bool>* field;
  };
  const Flag flags[] = {
      {"ipv4", &addr.ipv4},
      {"ipv6", &addr.ipv6},
      {"keep-alive", &addr.keep_alive},
      {"mptcp", &addr.mptcp},
  };
  for (const Flag& f : flags) {
    std::string needle = absl::StrCat(",", f.key);
    if (size_t b = optstr.find(needle); b != absl::string_view::npos) {
      MIG_RETURN_IF_ERROR(ParseInetFlag(f.key, optstr.substr(b + needle.size()), f.field));
    }
  }
  return addr;
}

absl::StatusOr<SocketAddress> ParseSocketAddress(absl::string_view input) {
  absl::string_view str = AsCString(input);
  if (absl::StartsWith(str, "unix:")) {
    if (str.size() == 5) {
      return absl::InvalidArgumentError(kErrInvalidUnixAddress);
    }
    return SocketAddress(UnixSocketAddress{std::string(str.substr(5)), {}, {}});
  }
  if (absl::StartsWith(str, "fd:")) {
    if (str.size() == 3) {
      return absl::InvalidArgumentError(kErrInvalidFdAddress);
    }
    return SocketAddress(FdSocketAddress{std::string(str.substr(3))});
  }
  if (absl::StartsWith(str, "vsock:")) {
    MIG_ASSIGN_OR_RETURN(VsockSocketAddress v, ParseVsock(str.substr(6)));
    return SocketAddress(std::move(v));
  }
  if (absl::StartsWith(str, "tcp:")) {
    str.remove_prefix(4);
  }
  MIG_ASSIGN_OR_RETURN(InetSocketAddress inet, ParseInetAddress(str));
  return SocketAddress(std::move(inet));
}

std::string SocketAddressToString(const SocketAddress& addr) {
  struct Visitor {
    std::string operator()(const InetSocketAddress& a) const {
      return absl::StrCat("tcp:", a.host, ":", a.port);
    }
    std::string operator()(const UnixSocketAddress& a) const {
      return absl::StrCat("unix:", a.path);
    }
    std::string operator()(const VsockSocketAddress& a) const {
      return absl::StrCat("vsock:", a.cid, ":", a.port);
    }
    std::string operator()(const FdSocketAddress& a) const { return absl::StrCat("fd:", a.str); }
  };
  return std::visit(Visitor{}, addr);
}

absl::StatusOr<MigrationUri> ParseMigrationUri(absl::string_view input, UriDirection direction) {
  absl::string_view uri = AsCString(input);
  if (absl::StartsWith(uri, "tcp:")) {
    MIG_ASSIGN_OR_RETURN(SocketAddress addr, ParseSocketAddress(uri.substr(4)));
    return MigrationUri(std::move(addr));
  }
  if (absl::StartsWith(uri, "unix:") || absl::StartsWith(uri, "vsock:")) {
    MIG_ASSIGN_OR_RETURN(SocketAddress addr, ParseSocketAddress(uri));
    return MigrationUri(std::move(addr));
  }
  if (absl::StartsWith(uri, "exec:")) {
    return MigrationUri(ExecUri{std::string(uri.substr(5))});
  }
  if (absl::StartsWith(uri, "fd:")) {
    return MigrationUri(FdUri{std::string(uri.substr(3))});
  }
  if (direction == UriDirection::kOutgoing) {
    return absl::InvalidArgumentError(kErrInvalidMigrationProtocol);
  }
  return absl::InvalidArgumentError(absl::StrFormat(kFmtUnknownMigrationProtocol, uri));
}

absl::StatusOr<ChardevSocket> ParseChardevSocket(absl::string_view input) {
  absl::string_view spec = AsCString(input);
  const std::string parse_error = absl::StrFormat(kFmtChardevParseError, spec);
  auto with_parse_error = [&](const absl::Status& s) {
    return absl::InvalidArgumentError(absl::StrCat(s.message(), "\n", parse_error));
  };

  ChardevSocket result;
  std::map<std::string, std::string>& opts = result.options;
  if (absl::StartsWith(spec, "tcp:")) {
    // qemu_chr_parse_compat(): "%64[^:]:%32[^,]%n", else ":%32[^,]%n" with an empty host.
    absl::string_view p = spec.substr(4);
    std::string host;
    std::string port;
    size_t pos = 0;
    size_t host_len = ScanSet(p, 0, 64, ":");
    size_t port_len = 0;
    if (host_len > 0 && host_len < p.size() && p[host_len] == ':' &&
        (port_len = ScanSet(p, host_len + 1, 32, ",")) > 0) {
      host = std::string(p.substr(0, host_len));
      port = std::string(p.substr(host_len + 1, port_len));
      pos = host_len + 1 + port_len;
    } else {
      port_len = p.empty() || p[0] != ':' ? 0 : ScanSet(p, 1, 32, ",");
      if (port_len == 0) {
        return absl::InvalidArgumentError(parse_error);
      }
      port = std::string(p.substr(1, port_len));
      pos = 1 + port_len;
    }
    opts["backend"] = "socket";
    opts["host"] = host;
    opts["port"] = port;
    if (pos < p.size() && p[pos] == ',') {
      absl::Status s = ParseOpts(p.substr(pos + 1), nullptr, &opts);
      if (!s.ok()) {
        return with_parse_error(s);
      }
    }
  } else if (absl::StartsWith(spec, "unix:")) {
    opts["backend"] = "socket";
    absl::Status s = ParseOpts(spec.substr(5), "path", &opts);
    if (!s.ok()) {
      return with_parse_error(s);
    }
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat(absl::StrFormat(kFmtNotCharDriver, spec), "\n", parse_error));
  }

  // qemu_chr_parse_socket().
  const std::string* path = OptString(opts, "path");
  const std::string* host = OptString(opts, "host");
  const std::string* port = OptString(opts, "port");
  const std::string* fd = OptString(opts, "fd");
  if ((path != nullptr) + (fd != nullptr) + (host != nullptr) > 1) {
    return absl::InvalidArgumentError(kErrChardevOneOf);
  }
  if (host != nullptr && port == nullptr) {
    return absl::InvalidArgumentError(kErrChardevNoPort);
  }
  if (opts.count("delay") != 0 && opts.count("nodelay") != 0) {
    return absl::InvalidArgumentError(kErrChardevDelayNodelay);
  }
  if (opts.count("delay") != 0 || opts.count("nodelay") != 0) {
    result.nodelay = !OptBool(opts, "delay", true) || OptBool(opts, "nodelay", false);
  }
  result.server = OptBool(opts, "server", false);
  result.wait = OptBool(opts, "wait", true);
  if (const std::string* r = OptString(opts, "reconnect")) {
    result.reconnect = static_cast<int64_t>(*ParseNumberValue("reconnect", *r));
  }
  if (const std::string* t = OptString(opts, "tls-creds")) {
    result.tls_creds = *t;
  }
  if (path != nullptr) {
    UnixSocketAddress u;
    u.path = *path;
    u.tight = OptBool(opts, "tight", true);
    u.abstract = OptBool(opts, "abstract", false);
    result.addr = std::move(u);
  } else if (host != nullptr) {
    InetSocketAddress inet;
    inet.host = *host;
    inet.port = *port;
    if (const std::string* to = OptString(opts, "to")) {
      inet.to = static_cast<int>(*ParseNumberValue("to", *to));
    }
    inet.ipv4 = OptBoolIfSet(opts, "ipv4");
    inet.ipv6 = OptBoolIfSet(opts, "ipv6");
    result.addr = std::move(inet);
  } else {
    // Neither path nor host: QEMU takes the 'fd' option, and without one fails when opening
    // the chardev ("Unable to parse FD number " with nothing after it, e.g. for "unix:").
    if (fd == nullptr) {
      return absl::InvalidArgumentError(absl::StrFormat(kFmtParseFdNumber, ""));
    }
    result.addr = FdSocketAddress{*fd};
  }
  return result;
}

}  // namespace migemu::io
