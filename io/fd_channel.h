// File: io/fd_channel.h
//
// The "fd:NAME" transports. A descriptor handed to the process (inherited across exec, or
// passed to the monitor with `getfd`) becomes a channel: a SocketChannel when it is a socket,
// otherwise an FdChannel (QEMU's QIOChannelFile: a pipe, a file, a character device).
//
//   // -incoming fd:3 (the launcher left a pipe on descriptor 3)
//   MIG_ASSIGN_OR_RETURN(std::unique_ptr<io::Channel> ch,
//                        io::OpenMigrationFd("3", io::UriDirection::kIncoming, nullptr));
//
// How NAME becomes a descriptor mirrors QEMU 7.2 (migration/fd.c):
//  * outgoing (`migrate fd:NAME`): NAME must be a descriptor the monitor holds (monitor_get_fd);
//    numbers are names too, so without a monitor lookup every NAME is
//    "File descriptor named 'NAME' has not been found";
//  * incoming (`-incoming fd:N`, `migrate-incoming fd:...`): a NAME starting with a digit (or
//    any NAME when there is no lookup) is a descriptor number ("Invalid file descriptor number
//    'NAME'"), anything else a monitor name (monitor_fd_param).
// The monitor supplies the lookup (io/named_fds.h) once it implements getfd; nothing here
// changes then.
//
// Thread-safety: as io::Channel.
#ifndef MIGEMU_IO_FD_CHANNEL_H_
#define MIGEMU_IO_FD_CHANNEL_H_

#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include <absl/strings/string_view.h>

#include <memory>
#include <string>

#include "io/channel.h"
#include "io/internal/fd_stream.h"
#include "io/named_fds.h"
#include "io/socket_address.h"
#include "util/unique_fd.h"

namespace migemu::io {

// FdChannel: a channel over one non-socket descriptor used for both directions. The descriptor
// is switched to non-blocking mode (blocking mode is emulated with poll(), so Shutdown() can
// interrupt it; QEMU's file channel has no shutdown). Errors: "Unable to read from file: ...",
// "Unable to write to file: ...".
class FdChannel final : public Channel {
 public:
  // Create: takes ownership of `fd`.
  static absl::StatusOr<std::unique_ptr<FdChannel>> Create(util::UniqueFd fd, std::string name);
  ~FdChannel() override;

  // io::Channel.
  absl::StatusOr<size_t> Readv(absl::Span<const iovec> iov) override;
  absl::StatusOr<size_t> Writev(absl::Span<const iovec> iov, uint32_t flags) override;
  absl::Status Shutdown(ShutdownDirection direction) override;
  absl::Status Close() override;
  bool HasFeature(Feature feature) const override { return feature == Feature::kShutdown; }
  absl::Status SetBlocking(bool blocking) override;
  absl::Status WaitReadable() override { return stream_->WaitReadable(); }
  absl::Status WaitWritable() override { return stream_->WaitWritable(); }
  int PollFd() const override { return stream_->read_fd(); }
  std::string Name() const override { return name_; }
  ChannelStats Stats() const override;

 private:
  FdChannel(std::unique_ptr<internal::FdStream> stream, std::string name);

  std::unique_ptr<internal::FdStream> stream_;
  const std::string name_;
};

// OpenFdChannel: qio_channel_new_fd(): a SocketChannel (origin kAdopted) for a socket, an
// FdChannel otherwise. Takes ownership of `fd`.
absl::StatusOr<std::unique_ptr<Channel>> OpenFdChannel(util::UniqueFd fd, std::string name);

// ResolveMigrationFd: the descriptor "fd:NAME" stands for, in `direction` (see the file
// comment). `lookup` may be null (no monitor). A number must be an open descriptor (migemu
// checks it at once: "Invalid file descriptor number 'N': Bad file descriptor"; QEMU fails
// later, at the first read or write).
absl::StatusOr<util::UniqueFd> ResolveMigrationFd(absl::string_view name, UriDirection direction,
                                                  const NamedFdLookup* lookup);

// OpenMigrationFd: ResolveMigrationFd() + OpenFdChannel(), named "fd:NAME".
absl::StatusOr<std::unique_ptr<Channel>> OpenMigrationFd(absl::string_view name,
                                                         UriDirection direction,
                                                         const NamedFdLookup* lookup);

}  // namespace migemu::io

#endif  // MIGEMU_IO_FD_CHANNEL_H_
