#include "migration/multifd/config.h"

#include <absl/strings/str_format.h>

#include "migration/multifd/errors.h"

namespace migemu::migration {

absl::Status ValidateMultifdConfig(const MultifdConfig& config) {
  if (config.channels < 1 || config.channels > 255) {
    return absl::InvalidArgumentError(absl::StrFormat(kFmtBadChannels, config.channels));
  }
  if (config.zlib_level < 0 || config.zlib_level > 9) {
    return absl::InvalidArgumentError(absl::StrFormat(kFmtBadZlibLevel, config.zlib_level));
  }
  if (config.zstd_level < 0 || config.zstd_level > 20) {
    return absl::InvalidArgumentError(absl::StrFormat(kFmtBadZstdLevel, config.zstd_level));
  }
  if (config.zero_copy && config.compression != qapi::MultiFDCompression::kNone) {
    return absl::InvalidArgumentError(kErrZeroCopyCompression);
  }
  return absl::OkStatus();
}

}  // namespace migemu::migration
