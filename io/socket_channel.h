// File: io/socket_channel.h
//
// SocketChannel is a stream socket (TCP over IPv4/IPv6, Unix, vsock) behind the io::Channel
// interface: QEMU's QIOChannelSocket, including MSG_ZEROCOPY sends with completion tracking.
//
//   std::stop_source cancel;  // migrate_cancel calls cancel.request_stop()
//   MIG_ASSIGN_OR_RETURN(std::unique_ptr<io::SocketChannel> ch,
//                        io::SocketChannel::Connect(addr, cancel.get_token()));
//   if (zero_copy_send) MIG_RETURN_IF_ERROR(ch->EnableZeroCopy());
//   MIG_RETURN_IF_ERROR(ch->WriteAll(header, sizeof(header)));          // copied by the kernel
//   MIG_RETURN_IF_ERROR(ch->WritevAll(pages, io::kWriteZeroCopy));      // pinned, not copied
//   MIG_ASSIGN_OR_RETURN(io::FlushResult r, ch->Flush());               // at every sync point
//
// Zero copy (Linux MSG_ZEROCOPY, see docs/io.md):
//  * Only on sockets this process connected, and only after EnableZeroCopy() (SO_ZEROCOPY),
//    which fails with "Zero copy send feature not detected in host kernel" when the kernel
//    refuses (e.g. Unix sockets, kernels before 4.14). Accepted and adopted sockets never offer
//    it, as in QEMU.
//  * Writev(kWriteZeroCopy) is one sendmsg(MSG_ZEROCOPY); each successful call takes the next
//    32-bit notification id on the socket and counts as "queued".
//  * Flush() reads MSG_ERRQUEUE until the completion ranges [ee_info, ee_data] account for every
//    call queued before it started (ranges may be coalesced and arrive out of order, so only
//    the total matters), fails on any ee_errno or non-zero-copy origin, and returns kAllCopied
//    iff every completion consumed since the previous Flush carried
//    SO_EE_CODE_ZEROCOPY_COPIED (loopback always does: the receiver copies).
//  * ENOBUFS (optmem or RLIMIT_MEMLOCK exhausted by sends still in flight): completions are
//    reaped (waiting for one in blocking mode) and the send is retried; with nothing left in
//    flight it is fatal: "Process can't lock enough memory for using MSG_ZEROCOPY: ...".
//
// Thread-safety: as io::Channel: one reader thread and one writer thread at a time; Shutdown()
// from any thread; Flush() may run concurrently with a writer (multifd flushes from the
// migration thread while the channel's send thread writes, as QEMU 7.2 does). Close() and
// SetBlocking() belong to the owner.
#ifndef MIGEMU_IO_SOCKET_CHANNEL_H_
#define MIGEMU_IO_SOCKET_CHANNEL_H_

#include <absl/base/thread_annotations.h>
#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include <absl/synchronization/mutex.h>
#include <absl/types/span.h>

#include <atomic>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <utility>
#include <vector>

#include "io/channel.h"
#include "io/internal/socket_ops.h"
#include "io/named_fds.h"
#include "io/socket_address.h"
#include "util/unique_fd.h"

namespace migemu::io {

class SocketChannel final : public Channel {
 public:
  // Where the socket came from; zero copy is only offered on kConnected sockets.
  enum class Origin { kConnected, kAccepted, kAdopted };

  // Most descriptors one WritevWithFds() can carry (QEMU's SOCKET_MAX_FDS).
  static constexpr size_t kMaxFds = 16;

  // Connect: resolves `addr` and connects (QEMU's socket_connect() texts: "address resolution
  // failed for H:P: ...", "Failed to connect to 'H:P': ...", "Failed to connect to 'PATH': ...").
  // Requesting stop on `stop` from another thread aborts a pending connect (kCancelled,
  // "...: Operation canceled"); name resolution itself cannot be interrupted. For an
  // FdSocketAddress the descriptor comes from `lookup` (the monitor's getfd table) or, without
  // one, is a decimal number. The channel is blocking.
  static absl::StatusOr<std::unique_ptr<SocketChannel>> Connect(
      const SocketAddress& addr, std::stop_token stop = {}, const NamedFdLookup* lookup = nullptr);

  // FromFd: wraps a socket descriptor (takes ownership). Fails with "Unable to query local
  // socket address: ..." when `fd` is not a socket (the descriptor is then closed).
  static absl::StatusOr<std::unique_ptr<SocketChannel>> FromFd(util::UniqueFd fd,
                                                               Origin origin = Origin::kAdopted);

  // CreatePair: two connected Unix stream sockets (socketpair), both kAdopted.
  static absl::StatusOr<std::pair<std::unique_ptr<SocketChannel>, std::unique_ptr<SocketChannel>>>
  CreatePair();

  ~SocketChannel() override;

  // EnableZeroCopy: turns on SO_ZEROCOPY, after which Feature::kZeroCopySend is reported and
  // Writev accepts kWriteZeroCopy. Errors: kFailedPrecondition "Zero copy send feature not
  // detected in host kernel" when the kernel refuses; "Zero copy send is only available on
  // outgoing connections" on accepted/adopted sockets.
  absl::Status EnableZeroCopy();

  // SetNoDelay: TCP_NODELAY (multifd channels disable Nagle). No-op on non-TCP sockets.
  absl::Status SetNoDelay(bool nodelay);

  // WritevWithFds: Writev carrying up to kMaxFds descriptors (SCM_RIGHTS) on Unix sockets
  // ("Channel does not support file descriptor passing: Invalid argument" otherwise). The
  // descriptors stay owned by the caller.
  absl::StatusOr<size_t> WritevWithFds(absl::Span<const iovec> iov, absl::Span<const int> fds);

  // ReadvWithFds: Readv that also collects descriptors received with the data (close-on-exec,
  // blocking) into `fds`.
  absl::StatusOr<size_t> ReadvWithFds(absl::Span<const iovec> iov,
                                      std::vector<util::UniqueFd>* fds);

  // Local/remote address (nullopt when unknown, e.g. an unconnected socket's peer).
  const std::optional<SocketAddress>& local_address() const { return local_; }
  const std::optional<SocketAddress>& remote_address() const { return remote_; }
  Origin origin() const { return origin_; }
  int fd() const { return fd_.get(); }

  // io::Channel.
  absl::StatusOr<size_t> Readv(absl::Span<const iovec> iov) override;
  absl::StatusOr<size_t> Writev(absl::Span<const iovec> iov, uint32_t flags) override;
  absl::StatusOr<FlushResult> Flush() override;
  absl::Status Shutdown(ShutdownDirection direction) override;
  absl::Status Close() override;
  bool HasFeature(Feature feature) const override;
  absl::Status SetBlocking(bool blocking) override;
  absl::Status WaitReadable() override;
  absl::Status WaitWritable() override;
  int PollFd() const override { return fd_.get(); }
  std::string Name() const override { return name_; }
  ChannelStats Stats() const override;

 private:
  SocketChannel(util::UniqueFd fd, internal::WakeFd read_wake, internal::WakeFd write_wake,
                Origin origin, int family, std::optional<SocketAddress> local,
                std::optional<SocketAddress> remote, std::string name);

  static absl::StatusOr<std::unique_ptr<SocketChannel>> Wrap(util::UniqueFd fd, Origin origin,
                                                             std::string name);

  absl::StatusOr<size_t> DoReadv(absl::Span<const iovec> iov, std::vector<util::UniqueFd>* fds);
  absl::StatusOr<size_t> DoWritev(absl::Span<const iovec> iov, absl::Span<const int> fds,
                                  uint32_t flags);
  // After ENOBUFS on a zero-copy send: reaps completions so the send can be retried. Returns
  // false when nothing is in flight (the limit is not ours to wait out).
  absl::StatusOr<bool> ReapForEnobufs() ABSL_LOCKS_EXCLUDED(zc_mu_);
  // Reads completion notifications until zc_completed_ >= target (wait) or the error queue is
  // empty (!wait).
  absl::Status ReapLocked(uint64_t target, bool wait) ABSL_EXCLUSIVE_LOCKS_REQUIRED(zc_mu_);
  // One notification from MSG_ERRQUEUE; false when the queue is empty.
  absl::StatusOr<bool> ReadOneCompletion() ABSL_EXCLUSIVE_LOCKS_REQUIRED(zc_mu_);
  absl::Status WaitFor(short events, int wake_fd);  // NOLINT(google-runtime-int)

  // Constant after construction (fd_ changes only in Close, by the owner).
  util::UniqueFd fd_;
  const internal::WakeFd read_wake_;   // signalled by Shutdown(kRead/kBoth)
  const internal::WakeFd write_wake_;  // signalled by Shutdown(kWrite/kBoth)
  const Origin origin_;
  const int family_;
  const std::optional<SocketAddress> local_;
  const std::optional<SocketAddress> remote_;
  const std::string name_;

  std::atomic<bool> blocking_{true};
  std::atomic<bool> read_shut_{false};
  std::atomic<bool> write_shut_{false};
  std::atomic<bool> zero_copy_{false};
  // Non-blocking zero-copy send hit ENOBUFS with nothing to reap yet: WaitWritable waits for a
  // completion instead of POLLOUT (the socket is writable; the kernel is out of pin budget).
  std::atomic<bool> enobufs_wait_{false};

  absl::Mutex close_mu_;  // orders Shutdown() against Close()

  // Counters (monotonic).
  std::atomic<uint64_t> bytes_written_{0};
  std::atomic<uint64_t> bytes_read_{0};
  std::atomic<uint64_t> zc_queued_{0};     // successful MSG_ZEROCOPY sendmsg calls
  std::atomic<uint64_t> zc_completed_{0};  // calls covered by completion ranges
  std::atomic<uint64_t> zc_copied_{0};     // of those, reported SO_EE_CODE_ZEROCOPY_COPIED
  std::atomic<uint64_t> zc_bytes_{0};
  std::atomic<uint64_t> zc_enobufs_{0};
  std::atomic<uint64_t> zc_flushes_{0};
  std::atomic<uint64_t> zc_flushes_all_copied_{0};

  // The error queue has one reader at a time (Flush, or a writer reaping after ENOBUFS).
  absl::Mutex zc_mu_;
  bool zc_seen_zero_copy_ ABSL_GUARDED_BY(zc_mu_) = false;  // a non-COPIED completion since
                                                            // the last Flush
  uint64_t zc_flushed_ ABSL_GUARDED_BY(zc_mu_) = 0;         // zc_queued_ covered by the last Flush
};

}  // namespace migemu::io

#endif  // MIGEMU_IO_SOCKET_CHANNEL_H_
