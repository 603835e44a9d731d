// File: io/socket_address.h
//
// Socket addresses and the three textual syntaxes that name them, parsed exactly as QEMU 7.2
// does (same accepted strings, same error texts, checked against the installed binary):
//
//  * socket_parse()/inet_parse() syntax, used by migration URIs and NBD:
//      "tcp:HOST:PORT[,to=N][,ipv4[=on|off]][,ipv6[=on|off]][,keep-alive][,mptcp]",
//      "HOST:PORT" (no prefix = tcp), "[::1]:PORT", ":PORT" (any host), "unix:PATH",
//      "vsock:CID:PORT", "fd:NAME".
//  * migration URIs (qmp_migrate/qemu_start_incoming_migration): "tcp:", "unix:", "vsock:"
//    (socket addresses), "exec:CMD", "fd:NAME".
//  * chardev compat syntax (-qmp/-monitor/-serial ...): "tcp:HOST:PORT,server=on,wait=off",
//    "unix:PATH,server=on,wait=off" (QemuOpts lists after the address).
//
//   MIG_ASSIGN_OR_RETURN(io::MigrationUri uri,
//                        io::ParseMigrationUri("tcp:[::1]:4444", io::UriDirection::kOutgoing));
//   if (auto* sa = std::get_if<io::SocketAddress>(&uri)) { ... SocketChannel::Connect(*sa) }
//
// Parsing never touches the network; name resolution happens in SocketChannel::Connect and
// Listener::Listen, which also produce QEMU's resolution/connect/listen texts.
//
// Thread-safety: plain values and pure functions.
#ifndef MIGEMU_IO_SOCKET_ADDRESS_H_
#define MIGEMU_IO_SOCKET_ADDRESS_H_

#include <absl/status/statusor.h>
#include <absl/strings/string_view.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>

namespace migemu::io {

// QAPI InetSocketAddress. `port` stays a string (a service name is allowed, as in QEMU).
struct InetSocketAddress {
  std::string host;
  std::string port;
  std::optional<bool> numeric;  // AI_NUMERICHOST|AI_NUMERICSERV (set on resolved addresses)
  std::optional<int> to;        // listen: try ports port..to
  std::optional<bool> ipv4;
  std::optional<bool> ipv6;
  std::optional<bool> keep_alive;  // connect: SO_KEEPALIVE
  std::optional<bool> mptcp;       // IPPROTO_MPTCP
  bool operator==(const InetSocketAddress&) const = default;
};

// QAPI UnixSocketAddress. An empty path to Listen() means "a fresh name in $TMPDIR", as QEMU.
struct UnixSocketAddress {
  std::string path;
  std::optional<bool> abstract;  // Linux abstract namespace
  std::optional<bool> tight;     // abstract: address length covers only the name (default on)
  bool operator==(const UnixSocketAddress&) const = default;
};

// QAPI VsockSocketAddress.
struct VsockSocketAddress {
  std::string cid;
  std::string port;
  bool operator==(const VsockSocketAddress&) const = default;
};

// QAPI String (SocketAddress type 'fd'): a monitor fd name, or a number where QEMU allows it.
struct FdSocketAddress {
  std::string str;
  bool operator==(const FdSocketAddress&) const = default;
};

// QAPI SocketAddress (the flat union).
using SocketAddress =
    std::variant<InetSocketAddress, UnixSocketAddress, VsockSocketAddress, FdSocketAddress>;

// ParseInetAddress: inet_parse(). Errors: "error parsing address '%s'", "error parsing IPv6
// address '%s'", "error parsing port in address '%s'", "error parsing to= argument",
// "error parsing '%s' flag '%s'".
absl::StatusOr<InetSocketAddress> ParseInetAddress(absl::string_view str);

// ParseSocketAddress: socket_parse(): "unix:PATH", "fd:NAME", "vsock:CID:PORT", "tcp:H:P" or a
// bare "H:P". Errors: "invalid Unix socket address", "invalid file descriptor address", the
// inet_parse() texts, "trailing characters in address '%s'".
absl::StatusOr<SocketAddress> ParseSocketAddress(absl::string_view str);

// SocketAddressToString: socket_uri(): "tcp:HOST:PORT", "unix:PATH", "fd:NAME",
// "vsock:CID:PORT". (IPv6 hosts are printed without brackets, as QEMU does.)
std::string SocketAddressToString(const SocketAddress& addr);

// ---- migration URIs -------------------------------------------------------------------------

struct ExecUri {
  std::string command;  // run as /bin/sh -c COMMAND
  bool operator==(const ExecUri&) const = default;
};
struct FdUri {
  std::string name;  // see io/fd_channel.h for how a name becomes a descriptor
  bool operator==(const FdUri&) const = default;
};
using MigrationUri = std::variant<SocketAddress, ExecUri, FdUri>;

enum class UriDirection { kOutgoing, kIncoming };

// ParseMigrationUri: the URI dispatch of qmp_migrate() (outgoing) and
// qemu_start_incoming_migration() (incoming). A bad protocol is "Parameter 'uri' expects a valid
// migration protocol" outgoing and "unknown migration protocol: URI" incoming. As in QEMU,
// "tcp:REST" parses REST with socket_parse(), so "tcp:unix:/p" is a Unix address. "rdma:" is
// not supported by migemu and is treated as an unknown protocol (QEMU built with RDMA fails
// later, when it cannot create the RDMA channel).
absl::StatusOr<MigrationUri> ParseMigrationUri(absl::string_view uri, UriDirection direction);

// ---- chardev compat syntax ------------------------------------------------------------------

// A socket chardev as the -qmp/-monitor/-chardev compat syntax describes it
// (qemu_chr_parse_compat() followed by qemu_chr_parse_socket()).
struct ChardevSocket {
  SocketAddress addr;           // inet or unix (fd when neither path nor host is given)
  bool server = false;          // listen instead of connect
  bool wait = true;             // server: block until the first client connects
  std::optional<bool> nodelay;  // TCP_NODELAY
  int64_t reconnect = 0;        // client: seconds between reconnect attempts
  std::optional<std::string> tls_creds;
  // Every option as given (after the defaults of the compat syntax), for the chardev layer's
  // own options (mux, logfile, signal, ...). Keys are QemuOpts names.
  std::map<std::string, std::string> options;
};

// ParseChardevSocket: "tcp:HOST:PORT[,opts]" or "unix:PATH[,opts]". Errors are QEMU's texts;
// when QEMU reports two lines (an option error, then "parse error: SPEC"), the message holds
// both, separated by '\n' (the command line layer prefixes each line with "-qmp SPEC: ").
// Anything that is not tcp: or unix: is "'SPEC' is not a valid char driver\nparse error: SPEC".
absl::StatusOr<ChardevSocket> ParseChardevSocket(absl::string_view spec);

}  // namespace migemu::io

#endif  // MIGEMU_IO_SOCKET_ADDRESS_H_
