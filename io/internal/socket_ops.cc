#include "io/internal/socket_ops.h"

#include <absl/strings/numbers.h>
#include <absl/strings/str_format.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/un.h>
#include <unistd.h>

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <utility>

#include "io/errors.h"
#include "util/errno_status.h"
#include "util/status_macros.h"

namespace migemu::io::internal {
namespace {

// error_setg_errno() appends ": <strerror>" only for a non-zero errno.
absl::Status ErrnoOrPlain(int err, absl::string_view context) {
  if (err == 0) {
    return absl::UnknownError(context);
  }
  return util::ErrnoStatus(err, context);
}

// Keeps a getaddrinfo() result list alive for a scope.
struct AddrInfoDeleter {
  void operator()(addrinfo* ai) const { freeaddrinfo(ai); }
};
using AddrInfoPtr = std::unique_ptr<addrinfo, AddrInfoDeleter>;

// qemu_socket() + socket_set_fast_reuse(), non-blocking for the cancellable connect. On failure
// returns an invalid descriptor and sets *err.
util::UniqueFd NewSocket(int family, int type, int protocol, bool reuse, int* err) {
  util::UniqueFd fd(::socket(family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol));
  if (!fd.valid()) {
    *err = errno;
    return fd;
  }
  if (reuse) {
    int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  }
  return fd;
}

// Connects the non-blocking `fd`; returns 0 or an errno (ECANCELED when cancelled). Unix
// sockets report EAGAIN when the listener's backlog is full: retried until cancelled, as a
// blocking connect would wait.
int ConnectAndWait(int fd, const sockaddr* sa, socklen_t len, const StopWake& cancel) {
  for (;;) {
    if (cancel.cancelled()) {
      return ECANCELED;
    }
    if (::connect(fd, sa, len) == 0) {
      return 0;
    }
    int err = errno;
    if (err == EINTR) {
      continue;
    }
    if (err == EAGAIN) {
      absl::StatusOr<PollResult> r = Poll(-1, 0, cancel.fd(), 10);
      if (!r.ok()) {
        return EIO;
      }
      continue;
    }
    if (err != EINPROGRESS) {
      return err;
    }
    for (;;) {
      absl::StatusOr<PollResult> r = Poll(fd, POLLOUT, cancel.fd());
      if (!r.ok()) {
        return EIO;
      }
      if (r->woken || cancel.cancelled()) {
        return ECANCELED;
      }
      if (r->revents != 0) {
        break;
      }
    }
    int so_error = 0;
    socklen_t so_len = sizeof(so_error);
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &so_len) < 0) {
      return errno;
    }
    return so_error;
  }
}

// inet_ai_family_from_address().
absl::StatusOr<int> InetAiFamily(const InetSocketAddress& a) {
  const bool has4 = a.ipv4.has_value();
  const bool has6 = a.ipv6.has_value();
  const bool v4 = a.ipv4.value_or(false);
  const bool v6 = a.ipv6.value_or(false);
  if (has6 && has4 && !v6 && !v4) {
    return absl::InvalidArgumentError(kErrNoIpv4NoIpv6);
  }
  if (has6 && v6 && has4 && v4) {
    return a.host.empty() ? PF_INET6 : PF_UNSPEC;
  }
  if ((has6 && v6) || (has4 && !v4)) {
    return PF_INET6;
  }
  if ((has4 && v4) || (has6 && !v6)) {
    return PF_INET;
  }
  return PF_UNSPEC;
}

// parse_uint_full(str, 10) limited to 32 bits (vsock cid/port).
std::optional<uint32_t> ParseU32(const std::string& s) {
  if (s.empty() || s[0] == '-' || s[0] == '+' || std::isspace(static_cast<unsigned char>(s[0]))) {
    return std::nullopt;
  }
  uint64_t v = 0;
  if (!absl::SimpleAtoi(s, &v) || v > UINT32_MAX) {
    return std::nullopt;
  }
  return static_cast<uint32_t>(v);
}

// ---- connect --------------------------------------------------------------------------------

absl::StatusOr<util::UniqueFd> InetConnect(const InetSocketAddress& a, const StopWake& cancel) {
  MIG_ASSIGN_OR_RETURN(int family, InetAiFamily(a));
  addrinfo hints{};
  hints.ai_flags = AI_CANONNAME | AI_ADDRCONFIG | AI_V4MAPPED;
  hints.ai_family = family;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* raw = nullptr;
  int rc = ::getaddrinfo(a.host.c_str(), a.port.c_str(), &hints, &raw);
  if (rc != 0) {
    return absl::UnavailableError(
        absl::StrFormat(kFmtResolveFailed, a.host, a.port, gai_strerror(rc)));
  }
  AddrInfoPtr res(raw);
  const std::string where = absl::StrFormat(kFmtConnectInet, a.host, a.port);
  absl::Status last = absl::UnknownError(where);
  for (addrinfo* e = res.get(); e != nullptr; e = e->ai_next) {
    int protocol = a.mptcp.value_or(false) ? IPPROTO_MPTCP : e->ai_protocol;
    int err = 0;
    util::UniqueFd fd = NewSocket(e->ai_family, e->ai_socktype, protocol, true, &err);
    if (!fd.valid()) {
      last = util::ErrnoStatus(err, absl::StrFormat(kFmtCreateSocketFamily, e->ai_family));
      continue;
    }
    err = ConnectAndWait(fd.get(), e->ai_addr, e->ai_addrlen, cancel);
    if (err == 0) {
      if (a.keep_alive.value_or(false)) {
        int one = 1;
        if (::setsockopt(fd.get(), SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) < 0) {
          return util::ErrnoStatus(errno, kErrKeepAlive);
        }
      }
      return fd;
    }
    last = util::ErrnoStatus(err, where);
    if (err == ECANCELED) {
      break;
    }
  }
  return last;
}

// Fills `un` for `path`; returns the address length or the "too long" error.
absl::StatusOr<socklen_t> MakeUnixAddress(const UnixSocketAddress& a, const std::string& path,
                                          sockaddr_un* un) {
  const bool abstract = a.abstract.value_or(false);
  const size_t max = sizeof(un->sun_path);
  if (path.size() > max || (abstract && path.size() > max - 1)) {
    return absl::InvalidArgumentError(absl::StrFormat(kFmtUnixPathTooLong, path));
  }
  std::memset(un, 0, sizeof(*un));
  un->sun_family = AF_UNIX;
  socklen_t len = sizeof(*un);
  if (abstract) {
    std::memcpy(&un->sun_path[1], path.data(), path.size());
    if (a.tight.value_or(true)) {
      len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + path.size());
    }
  } else {
    std::memcpy(un->sun_path, path.data(), path.size());
  }
  return len;
}

absl::StatusOr<util::UniqueFd> UnixConnect(const UnixSocketAddress& a, const StopWake& cancel) {
  int err = 0;
  util::UniqueFd fd = NewSocket(PF_UNIX, SOCK_STREAM, 0, false, &err);
  if (!fd.valid()) {
    return util::ErrnoStatus(err, kErrCreateSocket);
  }
  sockaddr_un un;
  MIG_ASSIGN_OR_RETURN(socklen_t len, MakeUnixAddress(a, a.path, &un));
  err = ConnectAndWait(fd.get(), reinterpret_cast<const sockaddr*>(&un), len, cancel);
  if (err != 0) {
    return util::ErrnoStatus(err, absl::StrFormat(kFmtConnectUnix, a.path));
  }
  return fd;
}

absl::StatusOr<sockaddr_vm> VsockAddress(const VsockSocketAddress& a) {
  sockaddr_vm svm{};
  svm.svm_family = AF_VSOCK;
  std::optional<uint32_t> cid = ParseU32(a.cid);
  if (!cid) {
    return absl::InvalidArgumentError(absl::StrFormat(kFmtParseCid, a.cid));
  }
  std::optional<uint32_t> port = ParseU32(a.port);
  if (!port) {
    return absl::InvalidArgumentError(absl::StrFormat(kFmtParseVsockPort, a.port));
  }
  svm.svm_cid = *cid;
  svm.svm_port = *port;
  return svm;
}

absl::StatusOr<util::UniqueFd> VsockConnect(const VsockSocketAddress& a, const StopWake& cancel) {
  MIG_ASSIGN_OR_RETURN(sockaddr_vm svm, VsockAddress(a));
  int err = 0;
  util::UniqueFd fd = NewSocket(AF_VSOCK, SOCK_STREAM, 0, false, &err);
  if (!fd.valid()) {
    return util::ErrnoStatus(err, absl::StrFormat(kFmtCreateSocketFamily, AF_VSOCK));
  }
  err = ConnectAndWait(fd.get(), reinterpret_cast<const sockaddr*>(&svm), sizeof(svm), cancel);
  if (err != 0) {
    return util::ErrnoStatus(err, absl::StrFormat(kFmtConnectInet, a.cid, a.port));
  }
  return fd;
}

// ---- listen ---------------------------------------------------------------------------------

// try_bind(): IPv6 sockets are dual-stack unless the address restricts the family; a dual-stack
// bind that collides with an IPv4 user of the port is retried as IPv6-only.
int TryBind(int fd, const InetSocketAddress& a, const addrinfo* e) {
  const bool both = a.ipv4.value_or(false) && a.ipv6.value_or(false);
  int v6only = ((!a.ipv4.has_value() && !a.ipv6.has_value()) || both) ? 0 : 1;
  for (;;) {
    if (e->ai_family == PF_INET6) {
      ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
    }
    if (::bind(fd, e->ai_addr, e->ai_addrlen) == 0) {
      return 0;
    }
    if (e->ai_family == PF_INET6 && errno == EADDRINUSE && v6only == 0) {
      v6only = 1;
      continue;
    }
    return -1;
  }
}

void SetPort(addrinfo* e, int port) {
  if (e->ai_family == PF_INET6) {
    reinterpret_cast<sockaddr_in6*>(e->ai_addr)->sin6_port = htons(static_cast<uint16_t>(port));
  } else if (e->ai_family == PF_INET) {
    reinterpret_cast<sockaddr_in*>(e->ai_addr)->sin_port = htons(static_cast<uint16_t>(port));
  }
}

int GetPort(const addrinfo* e) {
  if (e->ai_family == PF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(e->ai_addr)->sin6_port);
  }
  if (e->ai_family == PF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(e->ai_addr)->sin_port);
  }
  return 0;
}

// getaddrinfo() for a listening address (AI_PASSIVE; an empty host or port is left to the
// resolver), with QEMU's text when it fails.
absl::StatusOr<AddrInfoPtr> ResolvePassive(const InetSocketAddress& a) {
  addrinfo hints{};
  hints.ai_flags = AI_PASSIVE;
  if (a.numeric.value_or(false)) {
    hints.ai_flags |= AI_NUMERICHOST | AI_NUMERICSERV;
  }
  MIG_ASSIGN_OR_RETURN(hints.ai_family, InetAiFamily(a));
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* raw = nullptr;
  int rc = ::getaddrinfo(a.host.empty() ? nullptr : a.host.c_str(),
                         a.port.empty() ? nullptr : a.port.c_str(), &hints, &raw);
  if (rc != 0) {
    return absl::UnavailableError(
        absl::StrFormat(kFmtResolveFailed, a.host, a.port, gai_strerror(rc)));
  }
  return AddrInfoPtr(raw);
}

// inet_listen_saddr() with port_offset 0.
absl::StatusOr<util::UniqueFd> InetListenOne(const InetSocketAddress& a, int backlog) {
  MIG_ASSIGN_OR_RETURN(AddrInfoPtr res, ResolvePassive(a));
  bool socket_created = false;
  int last_errno = 0;
  for (addrinfo* e = res.get(); e != nullptr; e = e->ai_next) {
    int protocol = a.mptcp.value_or(false) ? IPPROTO_MPTCP : e->ai_protocol;
    const int port_min = GetPort(e);
    const int port_max = a.to.has_value() ? *a.to : port_min;
    for (int p = port_min; p <= port_max; ++p) {
      SetPort(e, p);
      util::UniqueFd fd = NewSocket(e->ai_family, e->ai_socktype, protocol, true, &last_errno);
      if (!fd.valid()) {
        // The first failure may just mean this family is unavailable (no IPv6 module).
        if (p == port_min) {
          continue;
        }
        return util::ErrnoStatus(last_errno, kErrRecreateListen);
      }
      socket_created = true;
      if (TryBind(fd.get(), a, e) < 0) {
        last_errno = errno;
        if (last_errno != EADDRINUSE) {
          return util::ErrnoStatus(last_errno, kErrBind);
        }
        continue;
      }
      if (::listen(fd.get(), backlog) == 0) {
        return fd;
      }
      last_errno = errno;
      if (last_errno != EADDRINUSE) {
        return util::ErrnoStatus(last_errno, kErrListen);
      }
    }
  }
  return ErrnoOrPlain(last_errno, socket_created ? kErrNoAvailablePort : kErrCreateASocket);
}

// qio_dns_resolver_lookup_sync_inet(): one numeric address per getaddrinfo() result; flags that
// only matter to connect (keep-alive) are dropped, as QEMU does.
absl::StatusOr<std::vector<InetSocketAddress>> ResolveForListen(const InetSocketAddress& a) {
  MIG_ASSIGN_OR_RETURN(AddrInfoPtr res, ResolvePassive(a));
  std::vector<InetSocketAddress> out;
  for (addrinfo* e = res.get(); e != nullptr; e = e->ai_next) {
    char host[INET6_ADDRSTRLEN + 1] = "";
    char port[33] = "";
    ::getnameinfo(e->ai_addr, e->ai_addrlen, host, sizeof(host) - 1, port, sizeof(port) - 1,
                  NI_NUMERICHOST | NI_NUMERICSERV);
    InetSocketAddress r;
    r.host = host;
    r.port = port;
    r.numeric = true;
    r.to = a.to;
    r.ipv4 = a.ipv4;
    r.ipv6 = a.ipv6;
    r.mptcp = a.mptcp;
    out.push_back(std::move(r));
  }
  return out;
}

std::string TmpDir() {
  const char* t = ::getenv("TMPDIR");  // NOLINT(concurrency-mt-unsafe): read-only use
  return (t != nullptr && t[0] != '\0') ? std::string(t) : std::string("/tmp");
}

// unix_listen_saddr().
absl::StatusOr<util::UniqueFd> UnixListen(const UnixSocketAddress& a, int backlog) {
  int err = 0;
  util::UniqueFd fd = NewSocket(PF_UNIX, SOCK_STREAM, 0, false, &err);
  if (!fd.valid()) {
    return util::ErrnoStatus(err, kErrCreateUnixSocket);
  }
  const bool abstract = a.abstract.value_or(false);
  std::string path = a.path;
  bool temporary = false;
  if (path.empty() && !abstract) {
    path = TmpDir() + "/qemu-socket-XXXXXX";
    temporary = true;
  }
  sockaddr_un un;
  MIG_ASSIGN_OR_RETURN(socklen_t len, MakeUnixAddress(a, path, &un));
  if (temporary) {
    // A unique name: create the file, then remove it so bind() can take the name.
    int tmp = ::mkstemp(path.data());
    if (tmp < 0) {
      return util::ErrnoStatus(errno,
                               absl::StrFormat("Failed to make a temporary socket %s", path));
    }
    ::close(tmp);
    MIG_ASSIGN_OR_RETURN(len, MakeUnixAddress(a, path, &un));
  }
  if (!abstract && ::unlink(path.c_str()) < 0 && errno != ENOENT) {
    return util::ErrnoStatus(errno, absl::StrFormat(kFmtUnlinkSocket, path));
  }
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&un), len) < 0) {
    return util::ErrnoStatus(errno, absl::StrFormat(kFmtBindUnix, path));
  }
  if (::listen(fd.get(), backlog) < 0) {
    return util::ErrnoStatus(errno, kErrListen);
  }
  return fd;
}

absl::StatusOr<util::UniqueFd> VsockListen(const VsockSocketAddress& a, int backlog) {
  MIG_ASSIGN_OR_RETURN(sockaddr_vm svm, VsockAddress(a));
  int err = 0;
  util::UniqueFd fd = NewSocket(AF_VSOCK, SOCK_STREAM, 0, false, &err);
  if (!fd.valid()) {
    return util::ErrnoStatus(err, kErrCreateSocket);
  }
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&svm), sizeof(svm)) != 0) {
    return util::ErrnoStatus(errno, kErrBind);
  }
  if (::listen(fd.get(), backlog) != 0) {
    return util::ErrnoStatus(errno, kErrListen);
  }
  return fd;
}

}  // namespace

// ---- WakeFd / Poll --------------------------------------------------------------------------

absl::StatusOr<WakeFd> WakeFd::Create() {
  WakeFd w;
  w.fd_ = util::UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!w.fd_.valid()) {
    return util::ErrnoStatus(errno, "Unable to create eventfd");
  }
  return w;
}

void WakeFd::Signal() const {
  if (!fd_.valid()) {
    return;
  }
  uint64_t one = 1;
  // Can only fail with EAGAIN when the counter is saturated, i.e. it is readable anyway.
  [[maybe_unused]] ssize_t n = ::write(fd_.get(), &one, sizeof(one));
}

absl::StatusOr<std::unique_ptr<StopWake>> StopWake::Create(std::stop_token stop) {
  auto watch = std::unique_ptr<StopWake>(new StopWake(std::move(stop)));  // NOLINT: private
  if (watch->stop_.stop_possible()) {
    MIG_ASSIGN_OR_RETURN(watch->wake_, WakeFd::Create());
    watch->callback_.emplace(watch->stop_, Signaller{&watch->wake_});
  }
  return watch;
}

absl::StatusOr<PollResult> Poll(int fd, short events, int wake_fd,  // NOLINT(google-runtime-int)
                                int timeout_ms) {
  pollfd fds[2];
  nfds_t n = 0;
  int fd_index = -1;
  int wake_index = -1;
  if (fd >= 0) {
    fd_index = static_cast<int>(n);
    fds[n++] = pollfd{fd, events, 0};
  }
  if (wake_fd >= 0) {
    wake_index = static_cast<int>(n);
    fds[n++] = pollfd{wake_fd, POLLIN, 0};
  }
  for (;;) {
    int rc = ::poll(fds, n, timeout_ms);
    if (rc < 0) {
      if (errno == EINTR) {
        continue;
      }
      return util::ErrnoStatus(errno, "poll");
    }
    PollResult r;
    if (fd_index >= 0) {
      r.revents = fds[fd_index].revents;
    }
    if (wake_index >= 0 && fds[wake_index].revents != 0) {
      r.woken = true;
    }
    return r;
  }
}

absl::Status SetNonBlocking(int fd, bool nonblocking) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) {
    return util::ErrnoStatus(errno, kErrSetNonblocking);
  }
  int wanted = nonblocking ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  if (wanted != flags && ::fcntl(fd, F_SETFL, wanted) < 0) {
    return util::ErrnoStatus(errno, kErrSetNonblocking);
  }
  return absl::OkStatus();
}

bool IsSocket(int fd) {
  int type = 0;
  socklen_t len = sizeof(type);
  return ::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0;
}

absl::StatusOr<util::UniqueFd> SocketGetFd(absl::string_view name, const NamedFdLookup* lookup) {
  util::UniqueFd fd;
  if (lookup != nullptr && *lookup) {
    MIG_ASSIGN_OR_RETURN(fd, (*lookup)(name));
  } else {
    // qemu_strtoi(name, NULL, 10): the whole string is a decimal int.
    int number = -1;
    std::string text(name);
    char* end = nullptr;
    errno = 0;
    long v = std::strtol(text.c_str(), &end, 10);  // NOLINT(google-runtime-int)
    if (text.empty() || end == text.c_str() || *end != '\0' || errno != 0 || v < INT32_MIN ||
        v > INT32_MAX) {
      return ErrnoOrPlain(errno, absl::StrFormat(kFmtParseFdNumber, name));
    }
    number = static_cast<int>(v);
    fd = util::UniqueFd(number);
  }
  if (!IsSocket(fd.get())) {
    if (lookup == nullptr || !*lookup) {
      // A number that is not a socket may be any descriptor of the process: QEMU closes it, we
      // leave it alone (it was never ours).
      fd.Release();
    }
    return absl::InvalidArgumentError(absl::StrFormat(kFmtFdNotSocket, name));
  }
  return fd;
}

absl::StatusOr<util::UniqueFd> ConnectSocket(const SocketAddress& addr, std::stop_token stop,
                                             const NamedFdLookup* lookup) {
  MIG_ASSIGN_OR_RETURN(std::unique_ptr<StopWake> cancel, StopWake::Create(std::move(stop)));
  absl::StatusOr<util::UniqueFd> fd;
  if (const auto* inet = std::get_if<InetSocketAddress>(&addr)) {
    if (cancel->cancelled()) {
      return util::ErrnoStatus(ECANCELED, absl::StrFormat(kFmtConnectInet, inet->host, inet->port));
    }
    fd = InetConnect(*inet, *cancel);
  } else if (const auto* unix_addr = std::get_if<UnixSocketAddress>(&addr)) {
    fd = UnixConnect(*unix_addr, *cancel);
  } else if (const auto* vsock = std::get_if<VsockSocketAddress>(&addr)) {
    fd = VsockConnect(*vsock, *cancel);
  } else {
    return SocketGetFd(std::get<FdSocketAddress>(addr).str, lookup);
  }
  if (!fd.ok()) {
    return fd.status();
  }
  MIG_RETURN_IF_ERROR(SetNonBlocking(fd->get(), false));
  return fd;
}

absl::StatusOr<std::vector<util::UniqueFd>> ListenSockets(const SocketAddress& addr, int backlog,
                                                          const NamedFdLookup* lookup) {
  std::vector<util::UniqueFd> fds;
  if (const auto* inet = std::get_if<InetSocketAddress>(&addr)) {
    MIG_ASSIGN_OR_RETURN(std::vector<InetSocketAddress> resolved, ResolveForListen(*inet));
    absl::Status first_error;
    for (const InetSocketAddress& r : resolved) {
      absl::StatusOr<util::UniqueFd> fd = InetListenOne(r, backlog);
      if (fd.ok()) {
        fds.push_back(std::move(*fd));
      } else if (first_error.ok()) {
        first_error = fd.status();
      }
    }
    if (fds.empty()) {
      return first_error.ok() ? absl::UnknownError(kErrCreateASocket) : first_error;
    }
    return fds;
  }
  if (const auto* unix_addr = std::get_if<UnixSocketAddress>(&addr)) {
    MIG_ASSIGN_OR_RETURN(util::UniqueFd fd, UnixListen(*unix_addr, backlog));
    fds.push_back(std::move(fd));
    return fds;
  }
  if (const auto* vsock = std::get_if<VsockSocketAddress>(&addr)) {
    MIG_ASSIGN_OR_RETURN(util::UniqueFd fd, VsockListen(*vsock, backlog));
    fds.push_back(std::move(fd));
    return fds;
  }
  MIG_ASSIGN_OR_RETURN(util::UniqueFd fd, SocketGetFd(std::get<FdSocketAddress>(addr).str, lookup));
  // Moves an unbound/bound socket to the listening state, or updates the backlog.
  if (::listen(fd.get(), backlog) != 0) {
    return util::ErrnoStatus(errno, kErrListenFd);
  }
  MIG_RETURN_IF_ERROR(SetNonBlocking(fd.get(), true));
  fds.push_back(std::move(fd));
  return fds;
}

absl::Status ListenCleanup(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0) {
    return util::ErrnoStatus(errno, kErrLocalAddress);
  }
  if (ss.ss_family != AF_UNIX) {
    return absl::OkStatus();
  }
  const auto* un = reinterpret_cast<const sockaddr_un*>(&ss);
  size_t path_len = len - offsetof(sockaddr_un, sun_path);
  if (path_len == 0 || un->sun_path[0] == '\0') {
    return absl::OkStatus();  // unnamed or abstract: nothing in the file system
  }
  std::string path(un->sun_path, strnlen(un->sun_path, path_len));
  if (::unlink(path.c_str()) < 0 && errno != ENOENT) {
    return util::ErrnoStatus(errno, absl::StrFormat(kFmtUnlinkSocket, path));
  }
  return absl::OkStatus();
}

absl::StatusOr<SocketAddress> SockaddrToAddress(const sockaddr_storage& sa, socklen_t len) {
  switch (sa.ss_family) {
    case AF_INET:
    case AF_INET6: {
      char host[NI_MAXHOST];
      char serv[NI_MAXSERV];
      int rc = ::getnameinfo(reinterpret_cast<const sockaddr*>(&sa), len, host, sizeof(host), serv,
                             sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV);
      if (rc != 0) {
        return absl::UnknownError(
            absl::StrFormat("Cannot format numeric socket address: %s", gai_strerror(rc)));
      }
      InetSocketAddress inet;
      inet.host = host;
      inet.port = serv;
      if (sa.ss_family == AF_INET) {
        inet.ipv4 = true;
      } else {
        inet.ipv6 = true;
      }
      return SocketAddress(std::move(inet));
    }
    case AF_UNIX: {
      const auto* su = reinterpret_cast<const sockaddr_un*>(&sa);
      UnixSocketAddress u;
      size_t n = len > offsetof(sockaddr_un, sun_path) ? len - offsetof(sockaddr_un, sun_path) : 0;
      if (n > 0 && su->sun_path[0] == '\0') {
        u.path.assign(su->sun_path + 1, n - 1);
        u.abstract = true;
        u.tight = n < sizeof(su->sun_path);
      } else {
        u.path.assign(su->sun_path, strnlen(su->sun_path, n));
      }
      return SocketAddress(std::move(u));
    }
    case AF_VSOCK: {
      const auto* svm = reinterpret_cast<const sockaddr_vm*>(&sa);
      return SocketAddress(
          VsockSocketAddress{std::to_string(svm->svm_cid), std::to_string(svm->svm_port)});
    }
    default:
      return absl::UnimplementedError(
          absl::StrFormat("socket family %d unsupported", sa.ss_family));
  }
}

absl::StatusOr<SocketAddress> LocalAddress(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0) {
    return util::ErrnoStatus(errno, kErrLocalAddress);
  }
  return SockaddrToAddress(ss, len);
}

absl::StatusOr<SocketAddress> RemoteAddress(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0) {
    return util::ErrnoStatus(errno, kErrRemoteAddress);
  }
  return SockaddrToAddress(ss, len);
}

}  // namespace migemu::io::internal
