#include "io/channel.h"

#include <absl/status/status.h>
#include <absl/strings/string_view.h>
#include <errno.h>

#include <vector>

#include "io/errors.h"
#include "io/internal/iov.h"
#include "util/errno_status.h"
#include "util/status_macros.h"

namespace migemu::io {

namespace internal {

size_t IovLength(absl::Span<const iovec> iov) {
  size_t total = 0;
  for (const iovec& v : iov) {
    total += v.iov_len;
  }
  return total;
}

size_t ConsumeIov(std::vector<iovec>& iov, size_t index, size_t n) {
  while (index < iov.size() && (n > 0 || iov[index].iov_len == 0)) {
    iovec& v = iov[index];
    if (n >= v.iov_len) {
      n -= v.iov_len;
      ++index;
      continue;
    }
    v.iov_base = static_cast<char*>(v.iov_base) + n;
    v.iov_len -= n;
    n = 0;
  }
  return index;
}

absl::Status CheckWriteFlags(const Channel& channel, uint32_t flags, size_t nfds) {
  const bool zero_copy = (flags & kWriteZeroCopy) != 0;
  if (nfds > 0) {
    if (!channel.HasFeature(Feature::kFdPass)) {
      return util::ErrnoStatus(EINVAL, kErrNoFdPass);
    }
    if (zero_copy) {
      return util::ErrnoStatus(EINVAL, kErrZeroCopyFdPass);
    }
  }
  if (zero_copy && !channel.HasFeature(Feature::kZeroCopySend)) {
    return util::ErrnoStatus(EINVAL, kErrZeroCopyUnavailable);
  }
  return absl::OkStatus();
}

}  // namespace internal

bool IsWouldBlock(const absl::Status& status) {
  return status.code() == absl::StatusCode::kUnavailable && status.message() == kErrWouldBlock;
}

// Mirrors qio_channel_writev_full_all(): returns once every byte is accepted by the channel
// (for zero-copy sends: queued, not yet completed; see Flush()). Each partial continuation of
// a zero-copy writev is a zero-copy send of its own.
absl::Status Channel::WritevAll(absl::Span<const iovec> iov, uint32_t flags) {
  size_t remaining = internal::IovLength(iov);
  std::vector<iovec> local;  // only materialised after a partial write
  size_t index = 0;
  absl::Span<const iovec> current = iov;
  while (remaining > 0) {
    absl::StatusOr<size_t> n = Writev(current, flags);
    if (!n.ok()) {
      if (IsWouldBlock(n.status())) {
        MIG_RETURN_IF_ERROR(WaitWritable());
        continue;
      }
      return n.status();
    }
    if (*n == 0 || *n > remaining) {
      return absl::InternalError("channel write reported an impossible byte count");
    }
    remaining -= *n;
    if (remaining == 0) {
      break;
    }
    if (local.empty()) {
      local.assign(iov.begin(), iov.end());
    }
    index = internal::ConsumeIov(local, index, *n);
    current = absl::MakeConstSpan(local).subspan(index);
  }
  return absl::OkStatus();
}

absl::Status Channel::WriteAll(const void* data, size_t len, uint32_t flags) {
  iovec v{const_cast<void*>(data), len};
  return WritevAll(absl::MakeConstSpan(&v, 1), flags);
}

// Mirrors qio_channel_readv_full_all_eof(): true when filled, false on EOF before the first
// byte, kDataLoss on EOF after a partial read.
absl::StatusOr<bool> Channel::ReadvAll(absl::Span<const iovec> iov) {
  size_t remaining = internal::IovLength(iov);
  if (remaining == 0) {
    return true;
  }
  std::vector<iovec> local(iov.begin(), iov.end());
  size_t index = 0;
  bool partial = false;
  while (remaining > 0) {
    absl::StatusOr<size_t> n = Readv(absl::MakeConstSpan(local).subspan(index));
    if (!n.ok()) {
      if (IsWouldBlock(n.status())) {
        MIG_RETURN_IF_ERROR(WaitReadable());
        continue;
      }
      return n.status();
    }
    if (*n == 0) {
      if (!partial) {
        return false;
      }
      return absl::DataLossError(kErrUnexpectedEof);
    }
    if (*n > remaining) {
      return absl::InternalError("channel read reported an impossible byte count");
    }
    partial = true;
    remaining -= *n;
    index = internal::ConsumeIov(local, index, *n);
  }
  return true;
}

absl::Status Channel::ReadAll(void* data, size_t len) {
  iovec v{data, len};
  MIG_ASSIGN_OR_RETURN(bool filled, ReadvAll(absl::MakeConstSpan(&v, 1)));
  if (!filled) {
    return absl::DataLossError(kErrUnexpectedEof);
  }
  return absl::OkStatus();
}

}  // namespace migemu::io
