// File: io/listener.h
//
// Listener is a passive socket address accepting any number of connections (QEMU's
// QIONetListener): the migration destination takes a main channel plus N multifd channels from
// one listener, and a QMP server socket takes one client after another. An address may resolve
// to several listening sockets ("tcp::4444" listens on 0.0.0.0 and ::), each with its own port
// when the port is 0.
//
//   MIG_ASSIGN_OR_RETURN(std::unique_ptr<io::Listener> l, io::Listener::Listen(addr, channels));
//   report(l->addresses());                  // query-migrate "socket-address" (actual ports)
//   l->Watch(loop, [&](absl::StatusOr<std::unique_ptr<io::SocketChannel>> ch) { ... });
//
// Accepted channels are blocking SocketChannels of origin kAccepted (never zero copy). The
// listening sockets themselves are non-blocking, so an accept on readiness never stalls the
// main loop when the client has already gone.
//
// Thread-safety: Watch()/StopWatching() on the event loop thread; AcceptBlocking() on one
// thread at a time; Close() by the owner once no other thread uses the listener.
#ifndef MIGEMU_IO_LISTENER_H_
#define MIGEMU_IO_LISTENER_H_

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include <functional>
#include <memory>
#include <stop_token>
#include <vector>

#include "io/named_fds.h"
#include "io/socket_address.h"
#include "io/socket_channel.h"
#include "util/event_loop.h"
#include "util/unique_fd.h"

namespace migemu::io {

class Listener final {
 public:
  using AcceptCallback = std::function<void(absl::StatusOr<std::unique_ptr<SocketChannel>>)>;

  // Listen: qio_net_listener_open_sync(): resolves `addr`, listens on every result with
  // `backlog`, and succeeds if at least one socket listens (else the first error, with QEMU's
  // texts: "Failed to find an available port: Address already in use", "Failed to bind socket
  // to PATH: ...", "address resolution failed for H:P: ..."). Unix socket files are unlinked
  // first (as QEMU does) and again by Close().
  static absl::StatusOr<std::unique_ptr<Listener>> Listen(const SocketAddress& addr,
                                                          int backlog = 1,
                                                          const NamedFdLookup* lookup = nullptr);

  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Accept: one pending connection from any listening socket, without waiting: kUnavailable
  // "would block" (IsWouldBlock) when none is pending. "Unable to accept connection: ..." on
  // failure.
  absl::StatusOr<std::unique_ptr<SocketChannel>> Accept();

  // AcceptBlocking: waits for a connection. Requesting stop on `stop` makes it return
  // kCancelled.
  absl::StatusOr<std::unique_ptr<SocketChannel>> AcceptBlocking(std::stop_token stop = {});

  // Watch: from now on, `on_accept` runs on `loop` for each accepted connection (or accept
  // error) until StopWatching(), Close() or destruction. The callback may destroy the listener.
  // `loop` must outlive the watch.
  void Watch(util::EventLoop& loop, AcceptCallback on_accept);
  void StopWatching();

  // addresses: the bound address of each listening socket, in listening order, with the actual
  // port for port 0 (QEMU's query-migrate lists them in reverse order: it prepends).
  const std::vector<SocketAddress>& addresses() const { return addresses_; }

  // fds: the listening descriptors, for callers with their own poll loop.
  std::vector<int> fds() const;

  // Close: stops watching, closes the sockets and unlinks Unix socket files. Idempotent.
  absl::Status Close();

 private:
  Listener(std::vector<util::UniqueFd> fds, std::vector<SocketAddress> addresses);
  absl::StatusOr<std::unique_ptr<SocketChannel>> AcceptFrom(int fd);

  std::vector<util::UniqueFd> fds_;
  std::vector<SocketAddress> addresses_;
  size_t next_ = 0;  // Accept() starts here, so one busy socket cannot starve the others
  AcceptCallback on_accept_;
  std::vector<std::unique_ptr<util::FdWatch>> watches_;
};

}  // namespace migemu::io

#endif  // MIGEMU_IO_LISTENER_H_
