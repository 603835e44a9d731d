// File: io/internal/fd_stream.h
//
// FdStream is the I/O core shared by the channels over plain descriptors (ExecChannel's pipes,
// FdChannel's pipe/file/tty): readv/writev with QEMU's retry rules and error texts, and a
// blocking mode built from poll() on non-blocking descriptors, so that Shutdown() from another
// thread interrupts a blocked call (a plain blocking read(2) on a pipe cannot be interrupted).
// EPIPE is reported as an error, never delivered as SIGPIPE. Not part of the io API.
//
// Thread-safety: one reader and one writer thread; Shutdown() from any thread.
#ifndef MIGEMU_IO_INTERNAL_FD_STREAM_H_
#define MIGEMU_IO_INTERNAL_FD_STREAM_H_

#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include <absl/types/span.h>
#include <sys/uio.h>

#include <atomic>
#include <cstdint>

#include "io/channel.h"
#include "io/internal/socket_ops.h"
#include "util/unique_fd.h"

namespace migemu::io::internal {

class FdStream final {
 public:
  struct Texts {
    const char* read_error;   // "Unable to read from command"
    const char* write_error;  // "Unable to write to command"
  };

  // Create: takes ownership of both descriptors; `write_fd` may be invalid when the stream
  // reads and writes through `read_fd` (a read-write file). Puts them in non-blocking mode.
  static absl::StatusOr<std::unique_ptr<FdStream>> Create(util::UniqueFd read_fd,
                                                          util::UniqueFd write_fd, Texts texts);
  FdStream(const FdStream&) = delete;
  FdStream& operator=(const FdStream&) = delete;

  absl::StatusOr<size_t> Readv(absl::Span<const iovec> iov);
  absl::StatusOr<size_t> Writev(absl::Span<const iovec> iov);
  void Shutdown(ShutdownDirection direction);
  void SetBlocking(bool blocking) { blocking_ = blocking; }
  absl::Status WaitReadable();
  absl::Status WaitWritable();
  // CloseFds: closes both descriptors; reports the first close() error (errno kept).
  int CloseFds();

  int read_fd() const { return read_.get(); }
  int write_fd() const { return write_.valid() ? write_.get() : read_.get(); }
  bool shut_down() const { return read_shut_ || write_shut_; }
  uint64_t bytes_read() const { return bytes_read_; }
  uint64_t bytes_written() const { return bytes_written_; }

 private:
  FdStream(util::UniqueFd read_fd, util::UniqueFd write_fd, WakeFd read_wake, WakeFd write_wake,
           Texts texts);

  util::UniqueFd read_;
  util::UniqueFd write_;  // invalid: write through read_
  const WakeFd read_wake_;
  const WakeFd write_wake_;
  const Texts texts_;
  std::atomic<bool> blocking_{true};
  std::atomic<bool> read_shut_{false};
  std::atomic<bool> write_shut_{false};
  std::atomic<uint64_t> bytes_read_{0};
  std::atomic<uint64_t> bytes_written_{0};
};

}  // namespace migemu::io::internal

#endif  // MIGEMU_IO_INTERNAL_FD_STREAM_H_
