#include "io/internal/fd_stream.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <utility>

#include "io/errors.h"
#include "io/internal/iov.h"
#include "util/errno_status.h"
#include "util/status_macros.h"

namespace migemu::io::internal {
namespace {

absl::Status WouldBlock() { return absl::UnavailableError(kErrWouldBlock); }

// writev() that turns SIGPIPE into a plain EPIPE without touching the process-wide disposition
// (QEMU ignores SIGPIPE process-wide; a library should not). SIGPIPE for a pipe write is sent
// to the writing thread, so blocking it here leaves it pending on this thread, from where it is
// consumed unless it was already pending before.
ssize_t WritevNoSigpipe(int fd, const iovec* iov, int iovcnt, int* err) {
  sigset_t pipe_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  sigset_t old;
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
  sigset_t pending;
  sigpending(&pending);
  const bool was_pending = sigismember(&pending, SIGPIPE) == 1;
  ssize_t n = ::writev(fd, iov, iovcnt);
  *err = n < 0 ? errno : 0;
  if (n < 0 && *err == EPIPE && !was_pending) {
    const timespec zero{0, 0};
    while (sigtimedwait(&pipe_set, nullptr, &zero) < 0 && errno == EINTR) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return n;
}

}  // namespace

FdStream::FdStream(util::UniqueFd read_fd, util::UniqueFd write_fd, WakeFd read_wake,
                   WakeFd write_wake, Texts texts)
    : read_(std::move(read_fd)),
      write_(std::move(write_fd)),
      read_wake_(std::move(read_wake)),
      write_wake_(std::move(write_wake)),
      texts_(texts) {}

absl::StatusOr<std::unique_ptr<FdStream>> FdStream::Create(util::UniqueFd read_fd,
                                                           util::UniqueFd write_fd, Texts texts) {
  MIG_RETURN_IF_ERROR(SetNonBlocking(read_fd.get(), true));
  if (write_fd.valid()) {
    MIG_RETURN_IF_ERROR(SetNonBlocking(write_fd.get(), true));
  }
  MIG_ASSIGN_OR_RETURN(WakeFd read_wake, WakeFd::Create());
  MIG_ASSIGN_OR_RETURN(WakeFd write_wake, WakeFd::Create());
  return std::unique_ptr<FdStream>(new FdStream(  // NOLINT: private constructor
      std::move(read_fd), std::move(write_fd), std::move(read_wake), std::move(write_wake), texts));
}

absl::StatusOr<size_t> FdStream::Readv(absl::Span<const iovec> iov) {
  iov = ClampIov(iov);
  for (;;) {
    if (read_shut_) {
      return 0;  // as a socket after shutdown(SHUT_RD): EOF
    }
    if (!read_.valid()) {
      return absl::FailedPreconditionError(kErrChannelClosed);
    }
    ssize_t n = ::readv(read_.get(), iov.data(), static_cast<int>(iov.size()));
    if (n >= 0) {
      bytes_read_ += static_cast<uint64_t>(n);
      return static_cast<size_t>(n);
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      return util::ErrnoStatus(errno, texts_.read_error);
    }
    if (!blocking_) {
      return WouldBlock();
    }
    MIG_RETURN_IF_ERROR(WaitReadable());
  }
}

absl::StatusOr<size_t> FdStream::Writev(absl::Span<const iovec> iov) {
  iov = ClampIov(iov);
  if (IovLength(iov) == 0) {
    return 0;
  }
  for (;;) {
    if (write_shut_) {
      return util::ErrnoStatus(EPIPE, texts_.write_error);
    }
    const int fd = write_fd();
    if (fd < 0) {
      return absl::FailedPreconditionError(kErrChannelClosed);
    }
    int err = 0;
    ssize_t n = WritevNoSigpipe(fd, iov.data(), static_cast<int>(iov.size()), &err);
    if (n > 0) {
      bytes_written_ += static_cast<uint64_t>(n);
      return static_cast<size_t>(n);
    }
    if (n == 0) {
      return util::ErrnoStatus(EIO, texts_.write_error);  // no progress on a non-empty write
    }
    if (err == EINTR) {
      continue;
    }
    if (err != EAGAIN && err != EWOULDBLOCK) {
      return util::ErrnoStatus(err, texts_.write_error);
    }
    if (!blocking_) {
      return WouldBlock();
    }
    MIG_RETURN_IF_ERROR(WaitWritable());
  }
}

void FdStream::Shutdown(ShutdownDirection direction) {
  if (direction != ShutdownDirection::kWrite) {
    read_shut_ = true;
    read_wake_.Signal();
  }
  if (direction != ShutdownDirection::kRead) {
    write_shut_ = true;
    write_wake_.Signal();
  }
}

absl::Status FdStream::WaitReadable() {
  if (read_shut_ || !read_.valid()) {
    return absl::OkStatus();
  }
  return Poll(read_.get(), POLLIN, read_wake_.fd()).status();
}

absl::Status FdStream::WaitWritable() {
  if (write_shut_ || write_fd() < 0) {
    return absl::OkStatus();
  }
  return Poll(write_fd(), POLLOUT, write_wake_.fd()).status();
}

int FdStream::CloseFds() {
  int first_errno = 0;
  for (util::UniqueFd* fd : {&read_, &write_}) {
    if (fd->valid() && ::close(fd->Release()) < 0 && errno != EINTR && first_errno == 0) {
      first_errno = errno;
    }
  }
  return first_errno;
}

}  // namespace migemu::io::internal
