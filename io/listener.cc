#include "io/listener.h"

#include <absl/status/status.h>
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>

#include <utility>

#include "io/errors.h"
#include "io/internal/socket_ops.h"
#include "util/errno_status.h"
#include "util/status_macros.h"

namespace migemu::io {

absl::StatusOr<std::unique_ptr<Listener>> Listener::Listen(const SocketAddress& addr, int backlog,
                                                           const NamedFdLookup* lookup) {
  MIG_ASSIGN_OR_RETURN(std::vector<util::UniqueFd> fds,
                       internal::ListenSockets(addr, backlog, lookup));
  std::vector<SocketAddress> addresses;
  addresses.reserve(fds.size());
  for (const util::UniqueFd& fd : fds) {
    MIG_ASSIGN_OR_RETURN(SocketAddress bound, internal::LocalAddress(fd.get()));
    addresses.push_back(std::move(bound));
  }
  return std::unique_ptr<Listener>(new Listener(std::move(fds), std::move(addresses)));  // NOLINT
}

Listener::Listener(std::vector<util::UniqueFd> fds, std::vector<SocketAddress> addresses)
    : fds_(std::move(fds)), addresses_(std::move(addresses)) {}

Listener::~Listener() { (void)Close(); }

std::vector<int> Listener::fds() const {
  std::vector<int> out;
  for (const util::UniqueFd& fd : fds_) {
    out.push_back(fd.get());
  }
  return out;
}

absl::StatusOr<std::unique_ptr<SocketChannel>> Listener::AcceptFrom(int fd) {
  for (;;) {
    int client = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (client >= 0) {
      return SocketChannel::FromFd(util::UniqueFd(client), SocketChannel::Origin::kAccepted);
    }
    // A connection that was reset before we took it is not an error of the listener.
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNABORTED) {
      return absl::UnavailableError(kErrWouldBlock);
    }
    if (errno != EINTR) {
      return util::ErrnoStatus(errno, kErrAccept);
    }
  }
}

absl::StatusOr<std::unique_ptr<SocketChannel>> Listener::Accept() {
  if (fds_.empty()) {
    return absl::FailedPreconditionError(kErrChannelClosed);
  }
  for (size_t i = 0; i < fds_.size(); ++i) {
    size_t index = (next_ + i) % fds_.size();
    absl::StatusOr<std::unique_ptr<SocketChannel>> ch = AcceptFrom(fds_[index].get());
    if (ch.ok() || !IsWouldBlock(ch.status())) {
      next_ = index + 1;
      return ch;
    }
  }
  return absl::UnavailableError(kErrWouldBlock);
}

absl::StatusOr<std::unique_ptr<SocketChannel>> Listener::AcceptBlocking(std::stop_token stop) {
  MIG_ASSIGN_OR_RETURN(std::unique_ptr<internal::StopWake> wake,
                       internal::StopWake::Create(std::move(stop)));
  for (;;) {
    if (wake->cancelled()) {
      return util::ErrnoStatus(ECANCELED, kErrAccept);
    }
    absl::StatusOr<std::unique_ptr<SocketChannel>> ch = Accept();
    if (ch.ok() || !IsWouldBlock(ch.status())) {
      return ch;
    }
    std::vector<pollfd> pfds;
    for (const util::UniqueFd& fd : fds_) {
      pfds.push_back(pollfd{fd.get(), POLLIN, 0});
    }
    if (wake->fd() >= 0) {
      pfds.push_back(pollfd{wake->fd(), POLLIN, 0});
    }
    if (::poll(pfds.data(), pfds.size(), -1) < 0 && errno != EINTR) {
      return util::ErrnoStatus(errno, kErrAccept);
    }
  }
}

void Listener::Watch(util::EventLoop& loop, AcceptCallback on_accept) {
  StopWatching();
  on_accept_ = std::move(on_accept);
  for (const util::UniqueFd& fd : fds_) {
    const int raw = fd.get();
    watches_.push_back(loop.WatchFd(raw, util::EventLoop::kRead, [this, raw](int /*events*/) {
      absl::StatusOr<std::unique_ptr<SocketChannel>> ch = AcceptFrom(raw);
      if (!ch.ok() && IsWouldBlock(ch.status())) {
        return;  // spurious wake-up or a client that went away
      }
      // A copy: the callback may destroy this listener, and with it on_accept_.
      AcceptCallback callback = on_accept_;
      callback(std::move(ch));
    }));
  }
}

void Listener::StopWatching() { watches_.clear(); }

absl::Status Listener::Close() {
  StopWatching();
  absl::Status first;
  for (util::UniqueFd& fd : fds_) {
    absl::Status s = internal::ListenCleanup(fd.get());
    if (!s.ok() && first.ok()) {
      first = s;
    }
    fd.Reset();
  }
  fds_.clear();
  return first;
}

}  // namespace migemu::io
