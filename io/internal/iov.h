// File: io/internal/iov.h
//
// Small iovec helpers shared by the channel implementations (not part of the io API).
#ifndef MIGEMU_IO_INTERNAL_IOV_H_
#define MIGEMU_IO_INTERNAL_IOV_H_

#include <absl/status/status.h>
#include <absl/types/span.h>
#include <limits.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace migemu::io {
class Channel;
}

namespace migemu::io::internal {

// IovLength: total byte count of `iov`.
size_t IovLength(absl::Span<const iovec> iov);

// ClampIov: at most IOV_MAX entries, as one readv/writev/sendmsg call accepts (the rest is
// left for the next call; callers see a partial transfer).
inline absl::Span<const iovec> ClampIov(absl::Span<const iovec> iov) {
  return iov.size() > IOV_MAX ? iov.subspan(0, IOV_MAX) : iov;
}

// ConsumeIov: drops the first `n` bytes from the vector `iov` (starting at *index*), adjusting
// the first partially consumed entry in place. Returns the new first index.
size_t ConsumeIov(std::vector<iovec>& iov, size_t index, size_t n);

// CheckWriteFlags: QEMU's qio_channel_writev_full() entry checks: kWriteZeroCopy requires
// Feature::kZeroCopySend ("Requested Zero Copy feature is not available: Invalid argument"),
// and fds cannot travel with zero copy or on channels without Feature::kFdPass.
absl::Status CheckWriteFlags(const Channel& channel, uint32_t flags, size_t nfds);

}  // namespace migemu::io::internal

#endif  // MIGEMU_IO_INTERNAL_IOV_H_
