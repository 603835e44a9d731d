#include "io/exec_channel.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <utility>

#include "io/errors.h"
#include "io/internal/iov.h"
#include "util/errno_status.h"
#include "util/status_macros.h"

extern char** environ;  // NOLINT: POSIX

namespace migemu::io {
namespace {

constexpr char kShell[] = "/bin/sh";

// posix_spawn attributes and file actions, destroyed on every path.
class SpawnSetup final {
 public:
  SpawnSetup() {
    posix_spawnattr_init(&attr_);
    posix_spawn_file_actions_init(&actions_);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions_);
    posix_spawnattr_destroy(&attr_);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
  posix_spawnattr_t* Attr() { return &attr_; }
  posix_spawn_file_actions_t* Actions() { return &actions_; }

 private:
  posix_spawnattr_t attr_;
  posix_spawn_file_actions_t actions_;
};

}  // namespace

ExecChannel::ExecChannel(std::unique_ptr<internal::FdStream> stream, pid_t pid, std::string name)
    : stream_(std::move(stream)), pid_(pid), name_(std::move(name)) {}

absl::StatusOr<std::unique_ptr<ExecChannel>> ExecChannel::Spawn(const std::string& command) {
  int to_child[2];    // child's stdin
  int from_child[2];  // child's stdout
  if (::pipe2(to_child, O_CLOEXEC) < 0) {
    return util::ErrnoStatus(errno, "Unable to create pipe");
  }
  util::UniqueFd child_in(to_child[0]);
  util::UniqueFd our_out(to_child[1]);
  if (::pipe2(from_child, O_CLOEXEC) < 0) {
    return util::ErrnoStatus(errno, "Unable to create pipe");
  }
  util::UniqueFd our_in(from_child[0]);
  util::UniqueFd child_out(from_child[1]);

  SpawnSetup setup;
  // dup2 clears close-on-exec on the target; every other descriptor of ours is close-on-exec.
  posix_spawn_file_actions_adddup2(setup.Actions(), child_in.get(), STDIN_FILENO);
  posix_spawn_file_actions_adddup2(setup.Actions(), child_out.get(), STDOUT_FILENO);
  // The child starts with no blocked signals and default SIGPIPE, whatever the caller's thread
  // had (a `cat` writing to a closed pipe should die of SIGPIPE, as from a shell).
  sigset_t empty;
  sigemptyset(&empty);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigmask(setup.Attr(), &empty);
  posix_spawnattr_setsigdefault(setup.Attr(), &defaults);
  // Its own process group, so that stopping it reaches the whole command line (sh does not
  // exec the last command: `sh -c "gzip > f"` is sh plus gzip).
  posix_spawnattr_setpgroup(setup.Attr(), 0);
  posix_spawnattr_setflags(setup.Attr(),
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);

  std::string arg0 = kShell;
  std::string arg1 = "-c";
  std::string arg2 = command;
  char* argv[] = {arg0.data(), arg1.data(), arg2.data(), nullptr};
  pid_t pid = 0;
  int rc = ::posix_spawn(&pid, kShell, setup.Actions(), setup.Attr(), argv, environ);
  if (rc != 0) {
    return util::ErrnoStatus(rc, absl::StrFormat(kFmtSpawnFailed, kShell));
  }
  child_in.Reset();
  child_out.Reset();

  absl::StatusOr<std::unique_ptr<internal::FdStream>> stream = internal::FdStream::Create(
      std::move(our_in), std::move(our_out), {kErrCommandRead, kErrCommandWrite});
  auto channel = std::unique_ptr<ExecChannel>(  // NOLINT: private constructor
      new ExecChannel(stream.ok() ? std::move(*stream) : nullptr, pid,
                      absl::StrCat("exec:", command)));
  if (!stream.ok()) {
    (void)channel->Reap(/*kill=*/true);
    return stream.status();
  }
  return channel;
}

ExecChannel::~ExecChannel() {
  // Mirrors qio_channel_command_finalize(): a channel dropped without Close() aborts the child.
  if (stream_ != nullptr) {
    (void)stream_->CloseFds();
  }
  (void)Reap(/*kill=*/true);
}

absl::StatusOr<size_t> ExecChannel::Readv(absl::Span<const iovec> iov) {
  if (stream_ == nullptr) {
    return absl::FailedPreconditionError(kErrChannelClosed);
  }
  return stream_->Readv(iov);
}

absl::StatusOr<size_t> ExecChannel::Writev(absl::Span<const iovec> iov, uint32_t flags) {
  MIG_RETURN_IF_ERROR(internal::CheckWriteFlags(*this, flags, 0));
  if (stream_ == nullptr) {
    return absl::FailedPreconditionError(kErrChannelClosed);
  }
  return stream_->Writev(iov);
}

absl::Status ExecChannel::Shutdown(ShutdownDirection direction) {
  if (stream_ != nullptr) {
    stream_->Shutdown(direction);
  }
  return absl::OkStatus();
}

absl::Status ExecChannel::SetBlocking(bool blocking) {
  if (stream_ != nullptr) {
    stream_->SetBlocking(blocking);
  }
  return absl::OkStatus();
}

absl::Status ExecChannel::Close() {
  if (stream_ == nullptr || pid_ == 0) {
    return absl::OkStatus();
  }
  // Close the pipes first: EOF on its stdin is the command's cue to finish (qemu closes before
  // waiting for the same reason).
  const bool kill = stream_->shut_down();
  int close_errno = stream_->CloseFds();
  MIG_RETURN_IF_ERROR(Reap(kill));
  if (close_errno != 0) {
    return util::ErrnoStatus(close_errno, kErrCloseCommand);
  }
  return absl::OkStatus();
}

absl::Status ExecChannel::Reap(bool kill) {
  if (pid_ == 0) {
    return absl::OkStatus();
  }
  const pid_t pid = pid_;
  pid_ = 0;
  int status = 0;
  pid_t r = 0;
  if (kill) {
    // qio_channel_command_abort(): SIGTERM, then SIGKILL, 10 ms apart. Divergence: QEMU signals
    // only the shell, leaving the command it runs behind; we signal the process group.
    for (int step = 0; step < 2 && r == 0; ++step) {
      do {
        r = ::waitpid(pid, &status, WNOHANG);
      } while (r < 0 && errno == EINTR);
      if (r == 0) {
        ::kill(-pid, step == 0 ? SIGTERM : SIGKILL);
        ::usleep(10 * 1000);
      }
    }
  }
  if (r == 0) {
    // Not reaped yet: wait (after SIGKILL this cannot take long).
    do {
      r = ::waitpid(pid, &status, 0);
    } while (r < 0 && errno == EINTR);
  }
  if (r < 0) {
    return util::ErrnoStatus(errno, absl::StrFormat(kFmtWaitPid, static_cast<int>(pid)));
  }
  wait_status_ = status;
  return absl::OkStatus();
}

ChannelStats ExecChannel::Stats() const {
  ChannelStats s;
  if (stream_ != nullptr) {
    s.bytes_read = stream_->bytes_read();
    s.bytes_written = stream_->bytes_written();
  }
  return s;
}

}  // namespace migemu::io
