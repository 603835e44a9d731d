#include "migration/qemu_file.h"

#include <absl/status/statusor.h>
#include <errno.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "migration/errors.h"
#include "migration/fault_points.h"
#include "util/check.h"
#include "util/fault.h"

namespace migemu::migration {

// ---- QemuFileWriter ---------------------------------------------------------------------------

QemuFileWriter::QemuFileWriter(io::Channel& channel, size_t buffer_size, size_t max_iov)
    : channel_(channel), max_iov_(max_iov), buf_(buffer_size), iov_(max_iov) {
  MIG_CHECK(buffer_size >= 16, "QemuFileWriter buffer too small");
  MIG_CHECK(max_iov >= 2 && max_iov <= kMaxIov, "QemuFileWriter iovec limit out of range");
}

void QemuFileWriter::SetError(absl::Status status) {
  if (status_.ok() && !status.ok()) {
    status_ = std::move(status);
  }
}

bool QemuFileWriter::RateLimited() const {
  if (!status_.ok()) {
    return true;
  }
  return rate_limit_max_ > 0 && rate_limit_used_ > rate_limit_max_;
}

absl::Status QemuFileWriter::Flush() {
  if (status_.ok() && iovcnt_ > 0) {
    ++flush_count_;
    absl::Status s = MIG_FAULT_POINT(kFaultSendWrite);
    if (s.ok()) {
      s = MIG_FAULT_POINT(kFaultSendShortWrite);
      if (!s.ok()) {
        WriteHalfBatch();
      }
    }
    if (s.ok()) {
      s = channel_.WritevAll(absl::MakeConstSpan(iov_.data(), iovcnt_));
    }
    if (s.ok()) {
      bytes_written_ += pending_bytes_;
    } else {
      SetError(std::move(s));
    }
  }
  // Whatever happened, the batch is over: the buffer is reused and page references dropped.
  buf_index_ = 0;
  iovcnt_ = 0;
  pending_bytes_ = 0;
  return status_;
}

void QemuFileWriter::WriteHalfBatch() {
  // The injected short write: the first half of the batch reaches the peer, the rest never
  // does, so the destination sees a record cut in the middle (as after a connection reset).
  size_t left = pending_bytes_ / 2;
  std::vector<iovec> part;
  for (size_t i = 0; i < iovcnt_ && left > 0; ++i) {
    const size_t take = std::min(left, iov_[i].iov_len);
    part.push_back(iovec{iov_[i].iov_base, take});
    left -= take;
  }
  if (!part.empty()) {
    channel_.WritevAll(part).IgnoreError();
  }
}

void QemuFileWriter::AddIov(const uint8_t* data, size_t len) {
  pending_bytes_ += len;
  if (iovcnt_ > 0) {
    iovec& last = iov_[iovcnt_ - 1];
    if (static_cast<const uint8_t*>(last.iov_base) + last.iov_len == data) {
      last.iov_len += len;
      return;
    }
  }
  // iovec's base is non-const by POSIX; writev never writes through it.
  iov_[iovcnt_].iov_base = const_cast<uint8_t*>(data);  // NOLINT
  iov_[iovcnt_].iov_len = len;
  ++iovcnt_;
  if (iovcnt_ >= max_iov_) {
    (void)Flush();  // sticky: a failure shows in status() and in the next Flush()
  }
}

uint8_t* QemuFileWriter::Reserve(size_t len) {
  if (buf_.size() - buf_index_ < len) {
    (void)Flush();
  }
  return buf_.data() + buf_index_;
}

void QemuFileWriter::CommitBuffered(uint8_t* p, size_t len) {
  buf_index_ += len;
  rate_limit_used_ += static_cast<int64_t>(len);
  AddIov(p, len);
  if (buf_index_ == buf_.size()) {
    (void)Flush();
  }
}

void QemuFileWriter::PutByte(uint8_t v) {
  if (!status_.ok()) {
    return;
  }
  uint8_t* p = Reserve(1);
  p[0] = v;
  CommitBuffered(p, 1);
}

void QemuFileWriter::PutBe16(uint16_t v) {
  if (!status_.ok()) {
    return;
  }
  uint8_t* p = Reserve(2);
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
  CommitBuffered(p, 2);
}

void QemuFileWriter::PutBe32(uint32_t v) {
  if (!status_.ok()) {
    return;
  }
  uint8_t* p = Reserve(4);
  for (int i = 0; i < 4; ++i) {
    p[i] = static_cast<uint8_t>(v >> (24 - 8 * i));
  }
  CommitBuffered(p, 4);
}

void QemuFileWriter::PutBe64(uint64_t v) {
  if (!status_.ok()) {
    return;
  }
  uint8_t* p = Reserve(8);
  for (int i = 0; i < 8; ++i) {
    p[i] = static_cast<uint8_t>(v >> (56 - 8 * i));
  }
  CommitBuffered(p, 8);
}

void QemuFileWriter::PutBuffer(const void* data, size_t len) {
  const auto* src = static_cast<const uint8_t*>(data);
  while (len > 0 && status_.ok()) {
    if (buf_index_ == buf_.size()) {
      (void)Flush();
      continue;
    }
    size_t chunk = std::min(len, buf_.size() - buf_index_);
    uint8_t* p = buf_.data() + buf_index_;
    std::memcpy(p, src, chunk);
    CommitBuffered(p, chunk);
    src += chunk;
    len -= chunk;
  }
}

void QemuFileWriter::PutCountedString(absl::string_view s) {
  MIG_CHECK(s.size() < 256, "counted string longer than 255 bytes");
  PutByte(static_cast<uint8_t>(s.size()));
  PutBuffer(s.data(), s.size());
}

void QemuFileWriter::PutPageRef(const uint8_t* data, size_t len) {
  if (!status_.ok() || len == 0) {
    return;
  }
  rate_limit_used_ += static_cast<int64_t>(len);
  AddIov(data, len);
}

// ---- QemuFileReader ---------------------------------------------------------------------------

QemuFileReader::QemuFileReader(io::Channel& channel, size_t buffer_size)
    : channel_(channel), buf_(buffer_size) {
  MIG_CHECK(buffer_size >= 512, "QemuFileReader buffer too small");
}

void QemuFileReader::SetError(int negative_errno, absl::Status status) {
  if (error_ == 0 && negative_errno != 0) {
    error_ = negative_errno;
    status_ = std::move(status);
  }
}

size_t QemuFileReader::ReadvOnce(absl::Span<const iovec> iov) {
  // Once the stream has failed nothing more is read: QEMU would keep getting EOF/errors too,
  // and refusing here guarantees that a parser looping on zeros can never block.
  if (error_ != 0) {
    return 0;
  }
  if (absl::Status fault = MIG_FAULT_POINT(kFaultRecvRead); !fault.ok()) {
    SetError(-EIO, std::move(fault));
    return 0;
  }
  while (true) {
    ++channel_reads_;
    absl::StatusOr<size_t> n = channel_.Readv(iov);
    if (n.ok()) {
      if (*n == 0) {
        SetError(-EIO, absl::DataLossError(kErrStreamEof));
        return 0;
      }
      bytes_read_ += *n;
      return *n;
    }
    if (io::IsWouldBlock(n.status())) {
      absl::Status w = channel_.WaitReadable();
      if (!w.ok()) {
        SetError(-EIO, std::move(w));
        return 0;
      }
      continue;
    }
    SetError(-EIO, n.status());
    return 0;
  }
}

size_t QemuFileReader::Fill() {
  size_t pending = size_ - index_;
  if (index_ > 0) {
    if (pending > 0) {
      std::memmove(buf_.data(), buf_.data() + index_, pending);
    }
    index_ = 0;
    size_ = pending;
  }
  if (size_ == buf_.size()) {
    return 0;
  }
  iovec iov{buf_.data() + size_, buf_.size() - size_};
  size_t n = ReadvOnce(absl::MakeConstSpan(&iov, 1));
  size_ += n;
  return n;
}

uint8_t QemuFileReader::GetByte() {
  if (index_ >= size_ && Fill() == 0) {
    return 0;
  }
  return buf_[index_++];
}

uint16_t QemuFileReader::GetBe16() {
  uint16_t v = static_cast<uint16_t>(GetByte() << 8);
  v = static_cast<uint16_t>(v | GetByte());
  return v;
}

uint32_t QemuFileReader::GetBe32() {
  if (size_ - index_ >= 4) {
    const uint8_t* p = buf_.data() + index_;
    index_ += 4;
    return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
  }
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) {
    v = (v << 8) | GetByte();
  }
  return v;
}

uint64_t QemuFileReader::GetBe64() {
  if (size_ - index_ >= 8) {
    const uint8_t* p = buf_.data() + index_;
    index_ += 8;
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) {
      v = (v << 8) | p[i];
    }
    return v;
  }
  uint64_t hi = GetBe32();
  return (hi << 32) | GetBe32();
}

size_t QemuFileReader::ReadInto(uint8_t* dst, size_t len) {
  size_t done = std::min(len, size_ - index_);
  if (done > 0) {
    std::memcpy(dst, buf_.data() + index_, done);
    index_ += done;
  }
  while (done < len) {
    // The buffer is empty: read the rest straight into `dst` and let whatever follows it in the
    // same readv land in the buffer as read-ahead.
    index_ = 0;
    size_ = 0;
    size_t want = len - done;
    iovec iov[2] = {{dst + done, want}, {buf_.data(), buf_.size()}};
    size_t n = ReadvOnce(absl::MakeConstSpan(iov, 2));
    if (n == 0) {
      break;
    }
    if (n <= want) {
      done += n;
    } else {
      done = len;
      size_ = n - want;
    }
  }
  return done;
}

size_t QemuFileReader::GetCountedString(std::string* out) {
  size_t len = GetByte();
  out->resize(len);
  size_t got = ReadInto(reinterpret_cast<uint8_t*>(out->data()), len);
  out->resize(got);
  return got == len ? got : 0;
}

absl::Span<const uint8_t> QemuFileReader::Peek(size_t size, size_t offset) {
  MIG_CHECK(offset + size <= buf_.size(), "QemuFileReader::Peek beyond the buffer");
  while (size_ - index_ < offset + size) {
    if (Fill() == 0) {
      break;
    }
  }
  size_t avail = size_ - index_;
  if (avail <= offset) {
    return {};
  }
  return absl::MakeConstSpan(buf_.data() + index_ + offset, std::min(size, avail - offset));
}

uint8_t QemuFileReader::PeekByte(size_t offset) {
  absl::Span<const uint8_t> p = Peek(1, offset);
  return p.empty() ? 0 : p[0];
}

size_t QemuFileReader::Skip(size_t len) {
  size_t done = 0;
  while (done < len) {
    if (index_ >= size_ && Fill() == 0) {
      break;
    }
    size_t take = std::min(len - done, size_ - index_);
    index_ += take;
    done += take;
  }
  return done;
}

}  // namespace migemu::migration
