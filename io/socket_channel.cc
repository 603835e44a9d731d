#include "io/socket_channel.h"

#include <absl/strings/str_format.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <utility>

#include "io/errors.h"
#include "io/internal/iov.h"
#include "util/errno_status.h"
#include "util/status_macros.h"

namespace migemu::io {
namespace {

absl::Status WouldBlock() { return absl::UnavailableError(kErrWouldBlock); }

int SocketFamily(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0) {
    return AF_UNSPEC;
  }
  return ss.ss_family;
}

// A readable name for an accepted or adopted socket: the peer for inet, the local path for
// Unix (the peer of an accepted Unix socket has no name).
std::string DescribeSocket(const std::optional<SocketAddress>& local,
                           const std::optional<SocketAddress>& remote) {
  if (remote.has_value() && std::holds_alternative<InetSocketAddress>(*remote)) {
    return SocketAddressToString(*remote);
  }
  if (local.has_value()) {
    return SocketAddressToString(*local);
  }
  if (remote.has_value()) {
    return SocketAddressToString(*remote);
  }
  return "socket";
}

}  // namespace

SocketChannel::SocketChannel(util::UniqueFd fd, internal::WakeFd read_wake,
                             internal::WakeFd write_wake, Origin origin, int family,
                             std::optional<SocketAddress> local,
                             std::optional<SocketAddress> remote, std::string name)
    : fd_(std::move(fd)),
      read_wake_(std::move(read_wake)),
      write_wake_(std::move(write_wake)),
      origin_(origin),
      family_(family),
      local_(std::move(local)),
      remote_(std::move(remote)),
      name_(std::move(name)) {}

SocketChannel::~SocketChannel() { (void)Close(); }

absl::StatusOr<std::unique_ptr<SocketChannel>> SocketChannel::Wrap(util::UniqueFd fd, Origin origin,
                                                                   std::string name) {
  // Mirrors qio_channel_socket_set_fd(): a socket without a peer yet is fine, one without a
  // local address is not a socket at all.
  MIG_ASSIGN_OR_RETURN(SocketAddress local, internal::LocalAddress(fd.get()));
  std::optional<SocketAddress> remote;
  if (absl::StatusOr<SocketAddress> r = internal::RemoteAddress(fd.get()); r.ok()) {
    remote = *std::move(r);
  }
  MIG_ASSIGN_OR_RETURN(internal::WakeFd read_wake, internal::WakeFd::Create());
  MIG_ASSIGN_OR_RETURN(internal::WakeFd write_wake, internal::WakeFd::Create());
  int family = SocketFamily(fd.get());
  std::optional<SocketAddress> local_opt(std::move(local));
  if (name.empty()) {
    name = DescribeSocket(local_opt, remote);
  }
  bool nonblocking = false;
  if (int flags = ::fcntl(fd.get(), F_GETFL); flags >= 0) {
    nonblocking = (flags & O_NONBLOCK) != 0;
  }
  auto ch = std::unique_ptr<SocketChannel>(  // NOLINT: private constructor
      new SocketChannel(std::move(fd), std::move(read_wake), std::move(write_wake), origin, family,
                        std::move(local_opt), std::move(remote), std::move(name)));
  ch->blocking_ = !nonblocking;
  return ch;
}

absl::StatusOr<std::unique_ptr<SocketChannel>> SocketChannel::Connect(const SocketAddress& addr,
                                                                      std::stop_token stop,
                                                                      const NamedFdLookup* lookup) {
  MIG_ASSIGN_OR_RETURN(util::UniqueFd fd, internal::ConnectSocket(addr, std::move(stop), lookup));
  const bool from_fd = std::holds_alternative<FdSocketAddress>(addr);
  return Wrap(std::move(fd), from_fd ? Origin::kAdopted : Origin::kConnected,
              SocketAddressToString(addr));
}

absl::StatusOr<std::unique_ptr<SocketChannel>> SocketChannel::FromFd(util::UniqueFd fd,
                                                                     Origin origin) {
  return Wrap(std::move(fd), origin, "");
}

absl::StatusOr<std::pair<std::unique_ptr<SocketChannel>, std::unique_ptr<SocketChannel>>>
SocketChannel::CreatePair() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
    return util::ErrnoStatus(errno, "Unable to create socket pair");
  }
  util::UniqueFd a(sv[0]);
  util::UniqueFd b(sv[1]);
  MIG_ASSIGN_OR_RETURN(std::unique_ptr<SocketChannel> ca,
                       Wrap(std::move(a), Origin::kAdopted, "socketpair"));
  MIG_ASSIGN_OR_RETURN(std::unique_ptr<SocketChannel> cb,
                       Wrap(std::move(b), Origin::kAdopted, "socketpair"));
  return std::make_pair(std::move(ca), std::move(cb));
}

absl::Status SocketChannel::EnableZeroCopy() {
  if (origin_ != Origin::kConnected) {
    return absl::FailedPreconditionError(kErrZeroCopyOnlyConnected);
  }
  if (!fd_.valid()) {
    return absl::FailedPreconditionError(kErrChannelClosed);
  }
  // Mirrors qio_channel_socket_connect_sync(): the setsockopt result is the capability probe
  // (TCP before 4.14, Unix sockets: EOPNOTSUPP); migration/socket.c reports the absence.
  int one = 1;
  if (::setsockopt(fd_.get(), SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one)) != 0) {
    return absl::FailedPreconditionError(kErrZeroCopyNotDetected);
  }
  zero_copy_ = true;
  return absl::OkStatus();
}

absl::Status SocketChannel::SetNoDelay(bool nodelay) {
  if (family_ != AF_INET && family_ != AF_INET6) {
    return absl::OkStatus();
  }
  int v = nodelay ? 1 : 0;
  if (::setsockopt(fd_.get(), IPPROTO_TCP, TCP_NODELAY, &v, sizeof(v)) != 0) {
    return util::ErrnoStatus(errno, "Unable to set TCP_NODELAY");
  }
  return absl::OkStatus();
}

bool SocketChannel::HasFeature(Feature feature) const {
  switch (feature) {
    case Feature::kShutdown:
      return true;
    case Feature::kZeroCopySend:
      return zero_copy_.load(std::memory_order_relaxed);
    case Feature::kFdPass:
      return family_ == AF_UNIX;
  }
  return false;
}

absl::StatusOr<size_t> SocketChannel::Readv(absl::Span<const iovec> iov) {
  return DoReadv(iov, nullptr);
}

absl::StatusOr<size_t> SocketChannel::ReadvWithFds(absl::Span<const iovec> iov,
                                                   std::vector<util::UniqueFd>* fds) {
  return DoReadv(iov, fds);
}

absl::StatusOr<size_t> SocketChannel::DoReadv(absl::Span<const iovec> iov,
                                              std::vector<util::UniqueFd>* fds) {
  if (!fd_.valid()) {
    return absl::FailedPreconditionError(kErrChannelClosed);
  }
  iov = internal::ClampIov(iov);
  msghdr msg{};
  msg.msg_iov = const_cast<iovec*>(iov.data());
  msg.msg_iovlen = iov.size();
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)];
  int flags = 0;
  if (fds != nullptr) {
    std::memset(control, 0, sizeof(control));
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    flags |= MSG_CMSG_CLOEXEC;
  }
  ssize_t n;
  for (;;) {
    n = ::recvmsg(fd_.get(), &msg, flags);
    if (n >= 0) {
      break;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return WouldBlock();
    }
    if (errno != EINTR) {
      return util::ErrnoStatus(errno, kErrSocketRead);
    }
  }
  if (fds != nullptr) {
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
          c->cmsg_len < CMSG_LEN(sizeof(int))) {
        continue;
      }
      size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; ++i) {
        int received;
        std::memcpy(&received, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        util::UniqueFd owned(received);
        // O_NONBLOCK travels with the open file description: hand them over blocking, as
        // qio_channel_socket_copy_fds() does.
        (void)internal::SetNonBlocking(owned.get(), false);
        fds->push_back(std::move(owned));
      }
    }
  }
  bytes_read_.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
  return static_cast<size_t>(n);
}

absl::StatusOr<size_t> SocketChannel::Writev(absl::Span<const iovec> iov, uint32_t flags) {
  return DoWritev(iov, {}, flags);
}

absl::StatusOr<size_t> SocketChannel::WritevWithFds(absl::Span<const iovec> iov,
                                                    absl::Span<const int> fds) {
  return DoWritev(iov, fds, kWriteNone);
}

absl::StatusOr<size_t> SocketChannel::DoWritev(absl::Span<const iovec> iov,
                                               absl::Span<const int> fds, uint32_t flags) {
  MIG_RETURN_IF_ERROR(internal::CheckWriteFlags(*this, flags, fds.size()));
  if (fds.size() > kMaxFds) {
    return util::ErrnoStatus(
        EINVAL, absl::StrFormat(kFmtTooManyFds, static_cast<int>(kMaxFds), fds.size()));
  }
  if (!fd_.valid()) {
    return absl::FailedPreconditionError(kErrChannelClosed);
  }
  iov = internal::ClampIov(iov);
  if (internal::IovLength(iov) == 0 && fds.empty()) {
    return 0;
  }
  msghdr msg{};
  msg.msg_iov = const_cast<iovec*>(iov.data());
  msg.msg_iovlen = iov.size();
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)];
  if (!fds.empty()) {
    std::memset(control, 0, sizeof(control));
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  const bool zero_copy = (flags & kWriteZeroCopy) != 0;
  const int send_flags = MSG_NOSIGNAL | (zero_copy ? MSG_ZEROCOPY : 0);
  for (;;) {
    ssize_t n = ::sendmsg(fd_.get(), &msg, send_flags);
    if (n >= 0) {
      if (zero_copy) {
        // One notification id per successful call, whatever its length.
        zc_queued_.fetch_add(1, std::memory_order_release);
        zc_bytes_.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
        enobufs_wait_.store(false, std::memory_order_relaxed);
      }
      bytes_written_.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
      return static_cast<size_t>(n);
    }
    int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK) {
      return WouldBlock();
    }
    if (err == EINTR) {
      continue;
    }
    if (err == ENOBUFS && zero_copy) {
      // Divergence from qio_channel_socket_writev(), which fails at once: the pin budget
      // (optmem, RLIMIT_MEMLOCK) is charged by sends still in flight, so reap completions and
      // retry; only with nothing left in flight is the limit truly too low.
      MIG_ASSIGN_OR_RETURN(bool reaped, ReapForEnobufs());
      if (!reaped) {
        return util::ErrnoStatus(ENOBUFS, kErrZeroCopyMemlock);
      }
      continue;
    }
    return util::ErrnoStatus(err, kErrSocketWrite);
  }
}

absl::StatusOr<bool> SocketChannel::ReapForEnobufs() {
  absl::MutexLock lock(&zc_mu_);
  const uint64_t completed = zc_completed_.load(std::memory_order_acquire);
  if (completed >= zc_queued_.load(std::memory_order_acquire)) {
    return false;
  }
  zc_enobufs_.fetch_add(1, std::memory_order_relaxed);
  if (blocking_.load(std::memory_order_relaxed)) {
    MIG_RETURN_IF_ERROR(ReapLocked(completed + 1, /*wait=*/true));
    return true;
  }
  MIG_RETURN_IF_ERROR(ReapLocked(0, /*wait=*/false));
  if (zc_completed_.load(std::memory_order_acquire) == completed) {
    enobufs_wait_.store(true, std::memory_order_relaxed);
    return WouldBlock();
  }
  return true;
}

absl::StatusOr<bool> SocketChannel::ReadOneCompletion() {
  msghdr msg{};
  // IP_RECVERR carries sock_extended_err plus the offender address: leave room for both.
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(sock_extended_err) + sizeof(sockaddr_in6))];
  std::memset(control, 0, sizeof(control));
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  for (;;) {
    ssize_t r = ::recvmsg(fd_.get(), &msg, MSG_ERRQUEUE | MSG_DONTWAIT);
    if (r >= 0) {
      break;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return false;
    }
    if (errno != EINTR) {
      return util::ErrnoStatus(errno, kErrReadErrqueue);
    }
  }
  bool found = false;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    // (QEMU 7.2's version of this check joins the conditions with && and so never fires.)
    const bool recverr = (c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
                         (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR);
    if (!recverr || c->cmsg_len < CMSG_LEN(sizeof(sock_extended_err))) {
      continue;
    }
    found = true;
    sock_extended_err serr;
    std::memcpy(&serr, CMSG_DATA(c), sizeof(serr));
    if (serr.ee_errno != 0) {
      return util::ErrnoStatus(static_cast<int>(serr.ee_errno), kErrOnSocket);
    }
    if (serr.ee_origin != SO_EE_ORIGIN_ZEROCOPY) {
      // QEMU passes the origin as the errno of error_setg_errno().
      if (serr.ee_origin == SO_EE_ORIGIN_NONE) {
        return absl::InternalError(kErrNotFromZeroCopy);
      }
      return util::ErrnoStatus(serr.ee_origin, kErrNotFromZeroCopy);
    }
    // Inclusive range of send-call ids; unsigned arithmetic handles a range across the 2^32
    // wrap. Coalesced and out-of-order ranges only change how the total is reached.
    const uint32_t count = serr.ee_data - serr.ee_info + 1;
    zc_completed_.fetch_add(count, std::memory_order_acq_rel);
    if (serr.ee_code == SO_EE_CODE_ZEROCOPY_COPIED) {
      zc_copied_.fetch_add(count, std::memory_order_relaxed);
    } else {
      zc_seen_zero_copy_ = true;
    }
  }
  if (!found) {
    return util::ErrnoStatus(EPROTOTYPE, kErrWrongCmsg);
  }
  return true;
}

absl::Status SocketChannel::ReapLocked(uint64_t target, bool wait) {
  // Set after poll() reported POLLERR/POLLHUP: if the queue is then still empty, the condition
  // is a socket error or hang-up, not a completion, and waiting again would spin.
  short woke_with = 0;  // NOLINT(google-runtime-int)
  for (;;) {
    if (wait && zc_completed_.load(std::memory_order_acquire) >= target) {
      return absl::OkStatus();
    }
    MIG_ASSIGN_OR_RETURN(bool got, ReadOneCompletion());
    if (got) {
      woke_with = 0;
      continue;
    }
    if (!wait) {
      return absl::OkStatus();
    }
    // Checked before the hang-up test below: a local shutdown also raises POLLHUP.
    if (write_shut_.load(std::memory_order_acquire)) {
      return absl::UnavailableError(kErrFlushShutdown);
    }
    if (woke_with != 0) {
      int so_error = 0;
      socklen_t len = sizeof(so_error);
      ::getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &so_error, &len);
      if (so_error != 0) {
        return util::ErrnoStatus(so_error, kErrOnSocket);
      }
      if ((woke_with & (POLLHUP | POLLNVAL)) != 0) {
        return util::ErrnoStatus(EPIPE, kErrOnSocket);
      }
    }
    // Completions are signalled as POLLERR, which poll() always reports.
    MIG_ASSIGN_OR_RETURN(internal::PollResult pr, internal::Poll(fd_.get(), 0, write_wake_.fd()));
    woke_with = pr.revents;
  }
}

absl::StatusOr<FlushResult> SocketChannel::Flush() {
  if (!zero_copy_.load(std::memory_order_relaxed)) {
    return FlushResult::kNothingPending;
  }
  absl::MutexLock lock(&zc_mu_);
  // Sends queued after this point (by a concurrent writer) belong to the next flush; chasing
  // them could keep a flush busy forever.
  const uint64_t target = zc_queued_.load(std::memory_order_acquire);
  if (target == zc_flushed_) {
    return FlushResult::kNothingPending;
  }
  MIG_RETURN_IF_ERROR(ReapLocked(target, /*wait=*/true));
  const FlushResult result =
      zc_seen_zero_copy_ ? FlushResult::kZeroCopied : FlushResult::kAllCopied;
  zc_seen_zero_copy_ = false;
  zc_flushed_ = target;
  zc_flushes_.fetch_add(1, std::memory_order_relaxed);
  if (result == FlushResult::kAllCopied) {
    zc_flushes_all_copied_.fetch_add(1, std::memory_order_relaxed);
  }
  return result;
}

absl::Status SocketChannel::Shutdown(ShutdownDirection direction) {
  absl::MutexLock lock(&close_mu_);
  int how = SHUT_RDWR;
  switch (direction) {
    case ShutdownDirection::kRead:
      how = SHUT_RD;
      read_shut_ = true;
      break;
    case ShutdownDirection::kWrite:
      how = SHUT_WR;
      write_shut_ = true;
      break;
    case ShutdownDirection::kBoth:
      read_shut_ = true;
      write_shut_ = true;
      break;
  }
  absl::Status status;
  if (fd_.valid() && ::shutdown(fd_.get(), how) < 0) {
    status = util::ErrnoStatus(errno, kErrShutdownSocket);
  }
  // Wake poll()-based waits even if shutdown(2) failed (e.g. ENOTCONN after a reset): the
  // flags above make them return.
  if (direction != ShutdownDirection::kWrite) {
    read_wake_.Signal();
  }
  if (direction != ShutdownDirection::kRead) {
    write_wake_.Signal();
  }
  return status;
}

absl::Status SocketChannel::Close() {
  absl::MutexLock lock(&close_mu_);
  if (!fd_.valid()) {
    return absl::OkStatus();
  }
  int fd = fd_.Release();
  if (::close(fd) < 0 && errno != EINTR) {
    return util::ErrnoStatus(errno, kErrCloseSocket);
  }
  return absl::OkStatus();
}

absl::Status SocketChannel::SetBlocking(bool blocking) {
  if (!fd_.valid()) {
    return absl::FailedPreconditionError(kErrChannelClosed);
  }
  MIG_RETURN_IF_ERROR(internal::SetNonBlocking(fd_.get(), !blocking));
  blocking_ = blocking;
  return absl::OkStatus();
}

absl::Status SocketChannel::WaitFor(short events, int wake_fd) {  // NOLINT(google-runtime-int)
  if (!fd_.valid()) {
    return absl::FailedPreconditionError(kErrChannelClosed);
  }
  MIG_ASSIGN_OR_RETURN(internal::PollResult pr, internal::Poll(fd_.get(), events, wake_fd));
  if ((pr.revents & POLLERR) != 0 && zero_copy_.load(std::memory_order_relaxed)) {
    // Pending completions keep POLLERR raised; consume them so the caller's next wait blocks.
    absl::MutexLock lock(&zc_mu_);
    MIG_RETURN_IF_ERROR(ReapLocked(0, /*wait=*/false));
  }
  return absl::OkStatus();
}

absl::Status SocketChannel::WaitReadable() {
  if (read_shut_.load(std::memory_order_acquire)) {
    return absl::OkStatus();  // the next Readv reports EOF
  }
  return WaitFor(POLLIN, read_wake_.fd());
}

absl::Status SocketChannel::WaitWritable() {
  if (write_shut_.load(std::memory_order_acquire)) {
    return absl::OkStatus();  // the next Writev reports EPIPE
  }
  const bool for_completion = enobufs_wait_.load(std::memory_order_relaxed);
  return WaitFor(for_completion ? 0 : POLLOUT, write_wake_.fd());
}

ChannelStats SocketChannel::Stats() const {
  ChannelStats s;
  s.bytes_written = bytes_written_.load(std::memory_order_relaxed);
  s.bytes_read = bytes_read_.load(std::memory_order_relaxed);
  s.zero_copy_calls = zc_queued_.load(std::memory_order_relaxed);
  s.zero_copy_completed = zc_completed_.load(std::memory_order_relaxed);
  s.zero_copy_copied = zc_copied_.load(std::memory_order_relaxed);
  s.zero_copy_bytes = zc_bytes_.load(std::memory_order_relaxed);
  s.zero_copy_enobufs = zc_enobufs_.load(std::memory_order_relaxed);
  s.zero_copy_flushes = zc_flushes_.load(std::memory_order_relaxed);
  s.zero_copy_flushes_all_copied = zc_flushes_all_copied_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace migemu::io
