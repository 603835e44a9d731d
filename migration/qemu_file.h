// File: migration/qemu_file.h
//
// QemuFileWriter and QemuFileReader: the buffered byte stream under the main migration stream,
// modelled on QEMU's QEMUFile (migration/qemu-file.c) after it stopped copying guest pages.
//
// Writer: small fields (bytes, big-endian integers, short buffers) are copied into an internal
// buffer; guest pages are only *referenced* (PutPageRef) by an iovec that points into guest RAM.
// Adjacent iovecs are coalesced (consecutive fields are one iovec into the buffer; pages that
// are contiguous in memory become one iovec). A whole batch goes out with one WritevAll when the
// iovec array reaches IOV_MAX, when the buffer is full, or on Flush().
//
//   QemuFileWriter w(channel);
//   w.PutBe64(offset | kRamSaveFlagPage);
//   w.PutPageRef(block.PageHost(page), kPageSize);  // no copy; valid until the next Flush()
//   MIG_RETURN_IF_ERROR(w.Flush());
//
// Reader: buffered reads with QEMUFile's semantics: a read past the end of the stream or after a
// channel error returns zeros (or a short count) and records a sticky error, which the parser
// checks at the same points QEMU does (so truncated streams fail with QEMU's texts). Page data
// goes straight into guest RAM with ReadInto(): what is buffered is copied, the rest is read by
// one readv whose first element is the destination and whose second is the read-ahead buffer.
//
//   QemuFileReader r(channel);
//   uint64_t word = r.GetBe64();
//   r.ReadInto(host, kPageSize);
//   if (r.error() != 0) { ... r.status() says why ... }
//
// Ownership: both borrow the channel, which must outlive them. Thread-safety: none; each object
// is used by one thread at a time (the migration thread, or the load thread).
#ifndef MIGEMU_MIGRATION_QEMU_FILE_H_
#define MIGEMU_MIGRATION_QEMU_FILE_H_

#include <absl/status/status.h>
#include <absl/strings/string_view.h>
#include <absl/types/span.h>
#include <limits.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "io/channel.h"
#include "migration/stream_format.h"

namespace migemu::migration {

class QemuFileWriter final {
 public:
  // The batch limit: one writev never carries more iovecs than the kernel accepts.
  static constexpr size_t kMaxIov = IOV_MAX;

  // `channel` must outlive the writer. `buffer_size` is the copy buffer for small fields.
  explicit QemuFileWriter(io::Channel& channel, size_t buffer_size = kQemuFileBufferSize,
                          size_t max_iov = kMaxIov);
  QemuFileWriter(const QemuFileWriter&) = delete;
  QemuFileWriter& operator=(const QemuFileWriter&) = delete;
  ~QemuFileWriter() = default;

  // Put*: append to the current batch. After an error they do nothing (QEMU: last_error).
  void PutByte(uint8_t v);
  void PutBe16(uint16_t v);
  void PutBe32(uint32_t v);
  void PutBe64(uint64_t v);
  // PutBuffer: copies `len` bytes (any length; large buffers go through the buffer in chunks).
  void PutBuffer(const void* data, size_t len);
  // PutCountedString: u8 length + bytes. `s` must be shorter than 256 bytes (a programming
  // error otherwise, as QEMU asserts).
  void PutCountedString(absl::string_view s);
  // PutPageRef: references `len` bytes at `data` without copying. The memory must stay mapped
  // until the next Flush() returns; its bytes at that time are what goes on the wire.
  void PutPageRef(const uint8_t* data, size_t len);

  // Flush: writes the batch (one WritevAll). Returns the sticky error if there is one.
  absl::Status Flush();

  // SetError: records `status` as the sticky error unless one is already set (first wins).
  void SetError(absl::Status status);
  // status: the sticky error, OK if none.
  const absl::Status& status() const { return status_; }
  bool has_error() const { return !status_.ok(); }

  // bytes_written: bytes the channel accepted (QEMU's qemu_file_total_transferred after a flush).
  uint64_t bytes_written() const { return bytes_written_; }
  // bytes_pending: bytes queued in the current batch, not yet written.
  uint64_t bytes_pending() const { return pending_bytes_; }
  // position: written + pending (qemu_file_total_transferred_fast), the stream offset of the
  // next Put.
  uint64_t position() const { return bytes_written_ + pending_bytes_; }
  // flush_count: how many writev batches went out (for tests and benchmarks).
  uint64_t flush_count() const { return flush_count_; }

  // Rate limiting as QEMUFile does it: every Put counts into rate_limit_used(); RateLimited() is
  // true once it exceeds a positive limit (or after an error). The migration thread resets it
  // each time slice.
  void SetRateLimit(int64_t max_bytes) { rate_limit_max_ = max_bytes; }
  int64_t rate_limit() const { return rate_limit_max_; }
  void ResetRateLimit() { rate_limit_used_ = 0; }
  void AccountRateLimit(int64_t len) { rate_limit_used_ += len; }
  int64_t rate_limit_used() const { return rate_limit_used_; }
  bool RateLimited() const;

 private:
  // Adds one iovec (or extends the last one when `data` continues it); flushes at max_iov_.
  void AddIov(const uint8_t* data, size_t len);
  // Writes the first half of the pending batch (the `migration.send.short-write` fault).
  void WriteHalfBatch();
  // Makes room for `len` contiguous bytes in the buffer (flushing when needed).
  uint8_t* Reserve(size_t len);
  void CommitBuffered(uint8_t* p, size_t len);

  io::Channel& channel_;
  const size_t max_iov_;
  std::vector<uint8_t> buf_;
  size_t buf_index_ = 0;
  std::vector<iovec> iov_;
  size_t iovcnt_ = 0;
  uint64_t pending_bytes_ = 0;
  uint64_t bytes_written_ = 0;
  uint64_t flush_count_ = 0;
  int64_t rate_limit_max_ = 0;
  int64_t rate_limit_used_ = 0;
  absl::Status status_;
};

class QemuFileReader final {
 public:
  // `channel` must outlive the reader. Peek() can see at most `buffer_size` bytes ahead.
  explicit QemuFileReader(io::Channel& channel, size_t buffer_size = 2 * kQemuFileBufferSize);
  QemuFileReader(const QemuFileReader&) = delete;
  QemuFileReader& operator=(const QemuFileReader&) = delete;
  ~QemuFileReader() = default;

  // Get*: the next bytes, big-endian. At end of stream or after an error they return 0 (for the
  // missing bytes) and set the sticky error, exactly as qemu_get_byte() & co.
  uint8_t GetByte();
  uint16_t GetBe16();
  uint32_t GetBe32();
  uint64_t GetBe64();

  // GetBuffer / ReadInto: reads up to `len` bytes into `dst`; returns how many were read (less
  // only on error). Both avoid a bounce copy: only bytes already buffered are copied. ReadInto is
  // the name used for guest pages.
  size_t GetBuffer(uint8_t* dst, size_t len) { return ReadInto(dst, len); }
  size_t ReadInto(uint8_t* dst, size_t len);

  // GetCountedString: u8 length + bytes into `out`. Returns the length, or 0 when the string is
  // empty or was cut short (qemu_get_counted_string's contract).
  size_t GetCountedString(std::string* out);

  // Peek: up to `size` bytes starting `offset` bytes ahead, without consuming them. Shorter only
  // at end of stream / on error. offset + size must not exceed the buffer size.
  absl::Span<const uint8_t> Peek(size_t size, size_t offset = 0);
  // PeekByte: the byte `offset` ahead, or 0 at end of stream (qemu_peek_byte).
  uint8_t PeekByte(size_t offset = 0);
  // Skip: consumes up to `len` bytes (reading and discarding); returns how many.
  size_t Skip(size_t len);

  // error: 0, or the negative errno QEMU would hold in last_error (-EIO for end of stream and
  // channel errors, or what SetError recorded).
  int error() const { return error_; }
  // status: the sticky error as a Status with a readable text, OK if none.
  const absl::Status& status() const { return status_; }
  // SetError: records a negative errno and its explanation unless an error is already set.
  void SetError(int negative_errno, absl::Status status);

  // position: bytes consumed by the parser so far (offset in the stream of the next Get).
  uint64_t position() const { return bytes_read_ - (size_ - index_); }
  // bytes_read: bytes received from the channel.
  uint64_t bytes_read() const { return bytes_read_; }
  // channel_reads: number of Readv calls made (for tests and benchmarks).
  uint64_t channel_reads() const { return channel_reads_; }

 private:
  // Reads more into the buffer (keeping unread bytes); returns bytes added, 0 on EOF/error
  // (which sets the sticky error).
  size_t Fill();
  // One Readv with would-block handling; returns >0, or 0 after recording EOF/error.
  size_t ReadvOnce(absl::Span<const iovec> iov);

  io::Channel& channel_;
  std::vector<uint8_t> buf_;
  size_t index_ = 0;  // next unread byte in buf_
  size_t size_ = 0;   // bytes valid in buf_
  uint64_t bytes_read_ = 0;
  uint64_t channel_reads_ = 0;
  int error_ = 0;
  absl::Status status_;
};

}  // namespace migemu::migration

#endif  // MIGEMU_MIGRATION_QEMU_FILE_H_
