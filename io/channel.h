// File: io/channel.h
//
// io::Channel is the one byte-stream abstraction every transport implements (QEMU's
// QIOChannel): sockets, pipes to an exec'd command, inherited fds, in-memory buffers for tests,
// and TLS over any of those. The migration code never touches a raw descriptor; it reads and
// writes through a Channel, asks HasFeature() before using an optional capability, and calls
// Flush() at every multifd sync point.
//
//   MIG_ASSIGN_OR_RETURN(std::unique_ptr<io::Channel> ch, io::SocketChannel::Connect(addr));
//   MIG_RETURN_IF_ERROR(ch->WritevAll(iov, io::kWriteZeroCopy));
//   MIG_ASSIGN_OR_RETURN(io::FlushResult r, ch->Flush());
//   if (r == io::FlushResult::kAllCopied) ++stats.dirty_sync_missed_zero_copy;
//
// Thread-safety: a Channel may be read by one thread and written by another at the same time
// (the return path does that). Shutdown() may be called from any thread at any time and makes
// blocked and future Readv/Writev calls return promptly with an error or EOF. Everything else
// (Close, SetBlocking, Flush) belongs to the owner.
#ifndef MIGEMU_IO_CHANNEL_H_
#define MIGEMU_IO_CHANNEL_H_

#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include <absl/types/span.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace migemu::io {

// Optional capabilities of a channel (QIOChannelFeature).
enum class Feature {
  kShutdown,      // Shutdown() unblocks readers/writers
  kZeroCopySend,  // Writev(..., kWriteZeroCopy) sends without copying (MSG_ZEROCOPY)
  kFdPass,        // can carry file descriptors (Unix sockets)
};

// Flags for Writev/WritevAll (QIO_CHANNEL_WRITE_FLAG_*).
enum WriteFlags : uint32_t {
  kWriteNone = 0,
  kWriteZeroCopy = 1u << 0,
};

enum class ShutdownDirection { kRead, kWrite, kBoth };

// Result of Flush() for a channel with zero-copy sends (QEMU's qio_channel_flush() 0/1 return
// values, typed). Errors are returned as a Status instead of -1.
enum class FlushResult {
  kNothingPending,  // no zero-copy send outstanding since the last flush (QEMU returns 0)
  kZeroCopied,      // at least one completion in this flush was truly zero-copy (QEMU: 0)
  kAllCopied,       // every completion in this flush had SO_EE_CODE_ZEROCOPY_COPIED (QEMU: 1)
};

// Per-channel counters (monotonic). Only zero-copy capable channels change the zc_* fields.
struct ChannelStats {
  uint64_t bytes_written = 0;
  uint64_t bytes_read = 0;
  uint64_t zero_copy_calls = 0;      // successful sendmsg(MSG_ZEROCOPY) calls ("queued")
  uint64_t zero_copy_completed = 0;  // calls covered by completion notifications ("sent")
  uint64_t zero_copy_copied = 0;     // of those, calls reported SO_EE_CODE_ZEROCOPY_COPIED
  uint64_t zero_copy_bytes = 0;      // bytes accepted by zero-copy sends
  uint64_t zero_copy_enobufs = 0;    // ENOBUFS on a zero-copy send: completions reaped, retried
  uint64_t zero_copy_flushes = 0;    // Flush() calls that waited for completions
  uint64_t zero_copy_flushes_all_copied = 0;  // of those, returned kAllCopied
};

class Channel {
 public:
  virtual ~Channel() = default;
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  // Readv: reads up to the total iov length. Returns the byte count (>0), 0 at EOF. In
  // non-blocking mode returns absl::StatusCode::kUnavailable with message "would block" when
  // nothing is available (IsWouldBlock() tells). Retries EINTR itself.
  virtual absl::StatusOr<size_t> Readv(absl::Span<const iovec> iov) = 0;

  // Writev: writes some prefix of the iov and returns its length (>0); may be partial.
  //
  // Buffer-lifetime contract for kWriteZeroCopy: the kernel keeps referencing the pages of
  // every buffer passed with kWriteZeroCopy after this call returns, until a later Flush()
  // returns successfully. Until then the caller must keep those buffers mapped, and any change
  // it makes to them may or may not be transmitted (the bytes on the wire are undefined for a
  // buffer modified before its completion). So only pass buffers that live until the next
  // Flush() and whose later modification is harmless (guest RAM pages, which are re-sent when
  // dirtied); never a reused header or compression buffer. Passing kWriteZeroCopy to a channel
  // without Feature::kZeroCopySend is an error ("Requested Zero Copy feature is not
  // available: Invalid argument", kInvalidArgument), never a silent copy.
  virtual absl::StatusOr<size_t> Writev(absl::Span<const iovec> iov, uint32_t flags) = 0;

  // WritevAll: loops over partial writes (and would-block, by waiting for writability) until
  // every byte of `iov` is written or an error occurs. Same flags and contract as Writev.
  absl::Status WritevAll(absl::Span<const iovec> iov, uint32_t flags = kWriteNone);

  // WriteAll: convenience for one buffer.
  absl::Status WriteAll(const void* data, size_t len, uint32_t flags = kWriteNone);

  // ReadvAll: fills every byte of `iov`. Returns true when filled, false when EOF arrives
  // before the first byte; EOF in the middle is an error (kDataLoss "Unexpected end-of-file
  // before all data were read").
  absl::StatusOr<bool> ReadvAll(absl::Span<const iovec> iov);

  // ReadAll: convenience for one buffer; EOF anywhere (even before the first byte) is an error.
  absl::Status ReadAll(void* data, size_t len);

  // Flush: waits until every zero-copy send made so far is complete. Channels without
  // zero-copy return kNothingPending at once.
  virtual absl::StatusOr<FlushResult> Flush() { return FlushResult::kNothingPending; }

  // Shutdown: stops reads and/or writes; wakes any thread blocked in this channel. Safe from
  // any thread. Channels without Feature::kShutdown return an error.
  virtual absl::Status Shutdown(ShutdownDirection direction) = 0;

  // Close: releases the underlying resource. Idempotent. The destructor closes too.
  virtual absl::Status Close() = 0;

  virtual bool HasFeature(Feature feature) const = 0;

  // SetBlocking: blocking (default) or non-blocking mode.
  virtual absl::Status SetBlocking(bool blocking) = 0;

  // WaitReadable/WaitWritable: block until the channel may make progress (used by the *All
  // helpers in non-blocking mode and by the event loop integration). Shutdown() wakes them.
  virtual absl::Status WaitReadable() = 0;
  virtual absl::Status WaitWritable() = 0;

  // Descriptor to poll for readability in an event loop, or -1 (buffer channels).
  virtual int PollFd() const { return -1; }

  // A short description for logs and errors, e.g. "tcp:127.0.0.1:4444".
  virtual std::string Name() const = 0;

  virtual ChannelStats Stats() const = 0;

 protected:
  Channel() = default;
};

// IsWouldBlock: true for the status Readv/Writev return in non-blocking mode when they cannot
// make progress.
bool IsWouldBlock(const absl::Status& status);

}  // namespace migemu::io

#endif  // MIGEMU_IO_CHANNEL_H_
