// File: io/exec_channel.h
//
// ExecChannel is the "exec:COMMAND" migration transport (QEMU's QIOChannelCommand as
// migration/exec.c uses it): a child `/bin/sh -c COMMAND` whose stdin is fed by Writev and
// whose stdout is read by Readv; its stderr is ours. So `migrate "exec:cat > /tmp/f"` writes
// the stream into a file, and `-incoming "exec:cat /tmp/f"` reads it back.
//
//   MIG_ASSIGN_OR_RETURN(std::unique_ptr<io::ExecChannel> ch,
//                        io::ExecChannel::Spawn("gzip -c > /tmp/vm.gz"));
//   MIG_RETURN_IF_ERROR(ch->WriteAll(data, size));
//   MIG_RETURN_IF_ERROR(ch->Close());   // EOF to the child, then wait for it to exit
//
// Lifetime of the child: Close() closes both pipes and then waits for the child to exit, as
// QEMU's close does (a command that ignores EOF keeps Close() waiting). After Shutdown() (a
// cancelled migration), Close() and the destructor instead stop the child: SIGTERM, then
// SIGKILL 10 ms later, and reap it, as QEMU's finalizer does. The child runs in its own process
// group and the signals go to the whole group (QEMU signals only the shell, so the command it
// started survives). The child is always reaped; no zombie outlives the channel.
//
// Divergence from QEMU: QIOChannelCommand has no shutdown; this one does (blocked reads and
// writes are poll()-based), so cancelling an exec: migration cannot hang on a stuck command.
// Write errors are "Unable to write to command: <strerror>" (e.g. Broken pipe when the command
// exits without reading), read errors "Unable to read from command: ...".
//
// Thread-safety: as io::Channel.
#ifndef MIGEMU_IO_EXEC_CHANNEL_H_
#define MIGEMU_IO_EXEC_CHANNEL_H_

#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>

#include "io/channel.h"
#include "io/internal/fd_stream.h"

namespace migemu::io {

class ExecChannel final : public Channel {
 public:
  // Spawn: starts `/bin/sh -c command` with both pipes (QEMU: O_RDWR). Fails only when the
  // shell cannot be started ("Failed to execute child process "/bin/sh": ...") or the process
  // is out of descriptors; a command that fails shows up as EOF/EPIPE on the channel.
  static absl::StatusOr<std::unique_ptr<ExecChannel>> Spawn(const std::string& command);

  ~ExecChannel() override;

  pid_t pid() const { return pid_; }
  // wait_status: the child's status as waitpid() reported it, once reaped (Close/destructor).
  std::optional<int> wait_status() const { return wait_status_; }

  // io::Channel.
  absl::StatusOr<size_t> Readv(absl::Span<const iovec> iov) override;
  absl::StatusOr<size_t> Writev(absl::Span<const iovec> iov, uint32_t flags) override;
  absl::Status Shutdown(ShutdownDirection direction) override;
  // Close: closes the pipes, then reaps the child (waiting for it, or killing it after a
  // Shutdown). Errors: "Failed to wait for pid N: ...", "Unable to close command: ...".
  absl::Status Close() override;
  bool HasFeature(Feature feature) const override { return feature == Feature::kShutdown; }
  absl::Status SetBlocking(bool blocking) override;
  absl::Status WaitReadable() override { return stream_->WaitReadable(); }
  absl::Status WaitWritable() override { return stream_->WaitWritable(); }
  int PollFd() const override { return stream_->read_fd(); }
  std::string Name() const override { return name_; }
  ChannelStats Stats() const override;

 private:
  ExecChannel(std::unique_ptr<internal::FdStream> stream, pid_t pid, std::string name);
  // Reaps the child: waits for it to exit, or (kill) terminates it first.
  absl::Status Reap(bool kill);

  std::unique_ptr<internal::FdStream> stream_;
  pid_t pid_;  // 0 once reaped
  std::optional<int> wait_status_;
  const std::string name_;
};

}  // namespace migemu::io

#endif  // MIGEMU_IO_EXEC_CHANNEL_H_
