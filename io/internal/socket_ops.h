// File: io/internal/socket_ops.h
//
// The socket plumbing behind SocketChannel and Listener: resolution, connect and listen with
// QEMU 7.2's semantics and error texts (util/qemu-sockets.c, io/net-listener.c,
// io/dns-resolver.c), plus poll helpers that a Shutdown()/Close()/cancel can wake. Not part of
// the io API.
#ifndef MIGEMU_IO_INTERNAL_SOCKET_OPS_H_
#define MIGEMU_IO_INTERNAL_SOCKET_OPS_H_

#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include <poll.h>
#include <sys/socket.h>

#include <memory>
#include <optional>
#include <stop_token>
#include <utility>
#include <vector>

#include "io/named_fds.h"
#include "io/socket_address.h"
#include "util/unique_fd.h"

namespace migemu::io::internal {

// WakeFd is an eventfd used to wake threads that poll() on a channel: Shutdown(), Close() and
// cancellation signal it, waiters include it in their poll set. Once signalled it stays
// readable (the flag it stands for never goes back).
class WakeFd final {
 public:
  // Create: fails only when the process is out of descriptors.
  static absl::StatusOr<WakeFd> Create();
  WakeFd() = default;
  WakeFd(WakeFd&&) = default;
  WakeFd& operator=(WakeFd&&) = default;

  void Signal() const;
  int fd() const { return fd_.get(); }

 private:
  util::UniqueFd fd_;
};

// StopWake turns a std::stop_token into a descriptor that becomes readable when stop is
// requested, so a poll() (a connect, an accept) can be interrupted from another thread.
class StopWake final {
 public:
  static absl::StatusOr<std::unique_ptr<StopWake>> Create(std::stop_token stop);
  StopWake(const StopWake&) = delete;
  StopWake& operator=(const StopWake&) = delete;

  bool cancelled() const { return stop_.stop_requested(); }
  // -1 when the token can never be stopped.
  int fd() const { return wake_.fd(); }

 private:
  struct Signaller {
    const WakeFd* wake;
    void operator()() const noexcept { wake->Signal(); }
  };
  explicit StopWake(std::stop_token stop) : stop_(std::move(stop)) {}

  std::stop_token stop_;
  WakeFd wake_;
  std::optional<std::stop_callback<Signaller>> callback_;  // last: unregistered first
};

// PollResult says why Poll() returned.
struct PollResult {
  short revents = 0;   // NOLINT(google-runtime-int): events of `fd` (0 when woken/timed out)
  bool woken = false;  // the wake descriptor fired
};

// Poll: waits until `fd` reports one of `events` (POLLERR/POLLHUP/POLLNVAL always count), the
// wake descriptor (-1 = none) becomes readable, or `timeout_ms` passes (-1 = forever). Retries
// EINTR.
absl::StatusOr<PollResult> Poll(int fd, short events, int wake_fd,  // NOLINT(google-runtime-int)
                                int timeout_ms = -1);

// SetNonBlocking: O_NONBLOCK on or off.
absl::Status SetNonBlocking(int fd, bool nonblocking);

// IsSocket: fd_is_socket().
bool IsSocket(int fd);

// SocketGetFd: socket_get_fd(): with a lookup, the monitor's descriptor called `name`;
// without, `name` must be a decimal descriptor number ("Unable to parse FD number %s").
// Either way it must be a socket ("File descriptor '%s' is not a socket").
absl::StatusOr<util::UniqueFd> SocketGetFd(absl::string_view name, const NamedFdLookup* lookup);

// ConnectSocket: socket_connect(), in blocking mode when it returns. The TCP/Unix connect itself
// is non-blocking internally so that `stop` can abort it at any time; name resolution
// (getaddrinfo) cannot be interrupted, `stop` is checked before and after it. A cancelled
// connect fails with kCancelled "Failed to connect to '...': Operation canceled".
absl::StatusOr<util::UniqueFd> ConnectSocket(const SocketAddress& addr, std::stop_token stop,
                                             const NamedFdLookup* lookup);

// ListenSockets: qio_net_listener_open_sync(): resolves the address (one listening socket per
// result, e.g. 0.0.0.0 and :: for an empty host) and listens on each, with `backlog`. Succeeds if
// at least one socket listens; otherwise fails with the first error. Sockets are non-blocking.
absl::StatusOr<std::vector<util::UniqueFd>> ListenSockets(const SocketAddress& addr, int backlog,
                                                          const NamedFdLookup* lookup);

// ListenCleanup: socket_listen_cleanup(): unlinks the path of a (non-abstract) Unix listening
// socket.
absl::Status ListenCleanup(int fd);

// SockaddrToAddress: socket_sockaddr_to_address() (numeric host and port for inet).
absl::StatusOr<SocketAddress> SockaddrToAddress(const sockaddr_storage& sa, socklen_t len);

// LocalAddress/RemoteAddress: getsockname()/getpeername() of `fd` as a SocketAddress.
absl::StatusOr<SocketAddress> LocalAddress(int fd);
absl::StatusOr<SocketAddress> RemoteAddress(int fd);

}  // namespace migemu::io::internal

#endif  // MIGEMU_IO_INTERNAL_SOCKET_OPS_H_
