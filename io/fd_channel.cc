#include "io/fd_channel.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>

#include <cctype>
#include <climits>
#include <utility>

#include "io/errors.h"
#include "io/internal/iov.h"
#include "io/internal/socket_ops.h"
#include "io/socket_channel.h"
#include "util/errno_status.h"
#include "util/status_macros.h"

namespace migemu::io {
namespace {

// qemu_parse_fd(): a whole decimal number in 0..INT_MAX.
std::optional<int> ParseFdNumber(absl::string_view name) {
  std::string text(name);
  const char* begin = text.c_str();
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(begin, &end, 10);  // NOLINT(google-runtime-int)
  if (end == begin || errno != 0 || *end != '\0' || v < 0 || v > INT_MAX) {
    return std::nullopt;
  }
  return static_cast<int>(v);
}

absl::StatusOr<util::UniqueFd> FromNumber(absl::string_view name) {
  std::optional<int> number = ParseFdNumber(name);
  if (!number.has_value()) {
    return absl::InvalidArgumentError(absl::StrFormat(kFmtInvalidFdNumber, name));
  }
  if (::fcntl(*number, F_GETFD) < 0) {
    return util::ErrnoStatus(errno, absl::StrFormat(kFmtInvalidFdNumber, name));
  }
  return util::UniqueFd(*number);
}

absl::StatusOr<util::UniqueFd> FromMonitor(absl::string_view name, const NamedFdLookup* lookup) {
  if (lookup == nullptr || !*lookup) {
    return absl::NotFoundError(absl::StrFormat(kFmtFdNotFound, name));
  }
  return (*lookup)(name);
}

}  // namespace

FdChannel::FdChannel(std::unique_ptr<internal::FdStream> stream, std::string name)
    : stream_(std::move(stream)), name_(std::move(name)) {}

FdChannel::~FdChannel() { (void)Close(); }

absl::StatusOr<std::unique_ptr<FdChannel>> FdChannel::Create(util::UniqueFd fd, std::string name) {
  MIG_ASSIGN_OR_RETURN(
      std::unique_ptr<internal::FdStream> stream,
      internal::FdStream::Create(std::move(fd), util::UniqueFd(), {kErrFileRead, kErrFileWrite}));
  return std::unique_ptr<FdChannel>(  // NOLINT: private constructor
      new FdChannel(std::move(stream), std::move(name)));
}

absl::StatusOr<size_t> FdChannel::Readv(absl::Span<const iovec> iov) { return stream_->Readv(iov); }

absl::StatusOr<size_t> FdChannel::Writev(absl::Span<const iovec> iov, uint32_t flags) {
  MIG_RETURN_IF_ERROR(internal::CheckWriteFlags(*this, flags, 0));
  return stream_->Writev(iov);
}

absl::Status FdChannel::Shutdown(ShutdownDirection direction) {
  stream_->Shutdown(direction);
  return absl::OkStatus();
}

absl::Status FdChannel::Close() {
  if (int err = stream_->CloseFds(); err != 0) {
    return util::ErrnoStatus(err, "Unable to close file");
  }
  return absl::OkStatus();
}

absl::Status FdChannel::SetBlocking(bool blocking) {
  stream_->SetBlocking(blocking);
  return absl::OkStatus();
}

ChannelStats FdChannel::Stats() const {
  ChannelStats s;
  s.bytes_read = stream_->bytes_read();
  s.bytes_written = stream_->bytes_written();
  return s;
}

absl::StatusOr<std::unique_ptr<Channel>> OpenFdChannel(util::UniqueFd fd, std::string name) {
  if (internal::IsSocket(fd.get())) {
    MIG_ASSIGN_OR_RETURN(std::unique_ptr<SocketChannel> ch,
                         SocketChannel::FromFd(std::move(fd), SocketChannel::Origin::kAdopted));
    return std::unique_ptr<Channel>(std::move(ch));
  }
  MIG_ASSIGN_OR_RETURN(std::unique_ptr<FdChannel> ch,
                       FdChannel::Create(std::move(fd), std::move(name)));
  return std::unique_ptr<Channel>(std::move(ch));
}

absl::StatusOr<util::UniqueFd> ResolveMigrationFd(absl::string_view name, UriDirection direction,
                                                  const NamedFdLookup* lookup) {
  if (direction == UriDirection::kOutgoing) {
    return FromMonitor(name, lookup);  // monitor_get_fd()
  }
  // monitor_fd_param().
  const bool has_monitor = lookup != nullptr && *lookup;
  if (has_monitor && (name.empty() || std::isdigit(static_cast<unsigned char>(name[0])) == 0)) {
    return FromMonitor(name, lookup);
  }
  return FromNumber(name);
}

absl::StatusOr<std::unique_ptr<Channel>> OpenMigrationFd(absl::string_view name,
                                                         UriDirection direction,
                                                         const NamedFdLookup* lookup) {
  MIG_ASSIGN_OR_RETURN(util::UniqueFd fd, ResolveMigrationFd(name, direction, lookup));
  return OpenFdChannel(std::move(fd), absl::StrCat("fd:", name));
}

}  // namespace migemu::io
