#include "io/buffer_channel.h"

#include <errno.h>

#include <algorithm>

#include "io/errors.h"
#include "io/internal/iov.h"
#include "util/errno_status.h"
#include "util/status_macros.h"

namespace migemu::io {
namespace {

constexpr char kErrBufferWrite[] = "Unable to write to buffer";

absl::Status WouldBlock() { return absl::UnavailableError(kErrWouldBlock); }

}  // namespace

BufferChannel::BufferChannel(Options options, std::shared_ptr<Pipe> in, std::shared_ptr<Pipe> out)
    : options_(std::move(options)), in_(std::move(in)), out_(std::move(out)) {}

std::unique_ptr<BufferChannel> BufferChannel::Create(Options options) {
  return std::unique_ptr<BufferChannel>(new BufferChannel(  // NOLINT: private constructor
      std::move(options), std::make_shared<Pipe>(), std::make_shared<Pipe>()));
}

std::pair<std::unique_ptr<BufferChannel>, std::unique_ptr<BufferChannel>> BufferChannel::CreatePair(
    const Options& options) {
  auto a_to_b = std::make_shared<Pipe>();
  auto b_to_a = std::make_shared<Pipe>();
  std::unique_ptr<BufferChannel> a(new BufferChannel(options, b_to_a, a_to_b));  // NOLINT
  std::unique_ptr<BufferChannel> b(new BufferChannel(options, a_to_b, b_to_a));  // NOLINT
  return {std::move(a), std::move(b)};
}

BufferChannel::~BufferChannel() { (void)Close(); }

void BufferChannel::PushInput(absl::string_view bytes) {
  absl::MutexLock lock(&in_->mu);
  in_->data.insert(in_->data.end(), bytes.begin(), bytes.end());
}

void BufferChannel::EndInput() {
  absl::MutexLock lock(&in_->mu);
  in_->writer_closed = true;
}

std::string BufferChannel::TakeOutput() {
  absl::MutexLock lock(&out_->mu);
  std::string s(out_->data.begin(), out_->data.end());
  out_->data.clear();
  return s;
}

absl::StatusOr<size_t> BufferChannel::Readv(absl::Span<const iovec> iov) {
  if (closed_) {
    return absl::FailedPreconditionError(kErrChannelClosed);
  }
  const size_t want = std::min(internal::IovLength(iov), options_.max_io);
  if (want == 0) {
    return 0;
  }
  Pipe& p = *in_;
  absl::MutexLock lock(&p.mu);
  auto ready = [&p]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(p.mu) {
    return !p.data.empty() || p.writer_closed || p.reader_closed;
  };
  if (!ready()) {
    if (!blocking_) {
      return WouldBlock();
    }
    p.mu.Await(absl::Condition(&ready));
  }
  if (p.reader_closed || p.data.empty()) {
    return 0;  // shut down for reading, or EOF
  }
  size_t n = std::min(want, p.data.size());
  size_t done = 0;
  for (const iovec& v : iov) {
    size_t chunk = std::min(v.iov_len, n - done);
    std::copy_n(p.data.begin() + static_cast<ptrdiff_t>(done), chunk,
                static_cast<char*>(v.iov_base));
    done += chunk;
    if (done == n) {
      break;
    }
  }
  p.data.erase(p.data.begin(), p.data.begin() + static_cast<ptrdiff_t>(n));
  absl::MutexLock stats(&stats_mu_);
  stats_.bytes_read += n;
  return n;
}

absl::StatusOr<size_t> BufferChannel::Writev(absl::Span<const iovec> iov, uint32_t flags) {
  MIG_RETURN_IF_ERROR(internal::CheckWriteFlags(*this, flags, 0));
  if (closed_) {
    return absl::FailedPreconditionError(kErrChannelClosed);
  }
  const size_t total = internal::IovLength(iov);
  if (total == 0) {
    return 0;
  }
  Pipe& p = *out_;
  const size_t capacity = options_.capacity;
  absl::MutexLock lock(&p.mu);
  auto ready = [&p, capacity]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(p.mu) {
    return p.data.size() < capacity || p.writer_closed || p.reader_closed;
  };
  if (!ready()) {
    if (!blocking_) {
      return WouldBlock();
    }
    p.mu.Await(absl::Condition(&ready));
  }
  if (p.writer_closed || p.reader_closed) {
    return util::ErrnoStatus(EPIPE, kErrBufferWrite);
  }
  const size_t n = std::min({total, options_.max_io, capacity - p.data.size()});
  size_t done = 0;
  for (const iovec& v : iov) {
    size_t chunk = std::min(v.iov_len, n - done);
    const char* src = static_cast<const char*>(v.iov_base);
    p.data.insert(p.data.end(), src, src + chunk);
    done += chunk;
    if (done == n) {
      break;
    }
  }
  absl::MutexLock stats(&stats_mu_);
  stats_.bytes_written += n;
  if ((flags & kWriteZeroCopy) != 0) {
    ++stats_.zero_copy_calls;
    stats_.zero_copy_bytes += n;
  }
  return n;
}

absl::StatusOr<FlushResult> BufferChannel::Flush() {
  absl::MutexLock lock(&stats_mu_);
  if (!options_.zero_copy || stats_.zero_copy_calls == zc_flushed_) {
    return FlushResult::kNothingPending;
  }
  const uint64_t completed = stats_.zero_copy_calls - zc_flushed_;
  zc_flushed_ = stats_.zero_copy_calls;
  stats_.zero_copy_completed += completed;
  ++stats_.zero_copy_flushes;
  if (options_.zero_copy_copied) {
    stats_.zero_copy_copied += completed;
    ++stats_.zero_copy_flushes_all_copied;
    return FlushResult::kAllCopied;
  }
  return FlushResult::kZeroCopied;
}

absl::Status BufferChannel::Shutdown(ShutdownDirection direction) {
  if (direction != ShutdownDirection::kWrite) {
    absl::MutexLock lock(&in_->mu);
    in_->reader_closed = true;
  }
  if (direction != ShutdownDirection::kRead) {
    absl::MutexLock lock(&out_->mu);
    out_->writer_closed = true;
  }
  return absl::OkStatus();
}

absl::Status BufferChannel::Close() {
  if (closed_.exchange(true)) {
    return absl::OkStatus();
  }
  return Shutdown(ShutdownDirection::kBoth);
}

bool BufferChannel::HasFeature(Feature feature) const {
  switch (feature) {
    case Feature::kShutdown:
      return true;
    case Feature::kZeroCopySend:
      return options_.zero_copy;
    case Feature::kFdPass:
      return false;
  }
  return false;
}

absl::Status BufferChannel::SetBlocking(bool blocking) {
  blocking_ = blocking;
  return absl::OkStatus();
}

absl::Status BufferChannel::WaitReadable() {
  Pipe& p = *in_;
  absl::MutexLock lock(&p.mu);
  auto ready = [&p]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(p.mu) {
    return !p.data.empty() || p.writer_closed || p.reader_closed;
  };
  p.mu.Await(absl::Condition(&ready));
  return absl::OkStatus();
}

absl::Status BufferChannel::WaitWritable() {
  Pipe& p = *out_;
  const size_t capacity = options_.capacity;
  absl::MutexLock lock(&p.mu);
  auto ready = [&p, capacity]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(p.mu) {
    return p.data.size() < capacity || p.writer_closed || p.reader_closed;
  };
  p.mu.Await(absl::Condition(&ready));
  return absl::OkStatus();
}

ChannelStats BufferChannel::Stats() const {
  absl::MutexLock lock(&stats_mu_);
  return stats_;
}

}  // namespace migemu::io
