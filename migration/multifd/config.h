// File: migration/multifd/config.h
//
// MultifdConfig: what both ends of a multifd migration must agree on (QEMU negotiates nothing on
// the wire: `multifd-channels`, `multifd-compression` and the VM `-uuid` must match), plus the
// sender-only zero-copy switch and compression levels.
//
//   MultifdConfig c{.channels = 4, .compression = qapi::MultiFDCompression::kZstd};
//   MultifdSender sender(c, connect, counters, main_file);
//
// A plain value; copy it freely.
#ifndef MIGEMU_MIGRATION_MULTIFD_CONFIG_H_
#define MIGEMU_MIGRATION_MULTIFD_CONFIG_H_

#include <absl/status/status.h>

#include <array>
#include <cstdint>

#include "qapi/qapi-types-migration.h"

namespace migemu::migration {

// The VM UUID as QEMU keeps it (QemuUUID: 16 raw bytes, all zero when -uuid is not given).
using MultifdUuid = std::array<uint8_t, 16>;

struct MultifdConfig {
  int channels = 2;  // multifd-channels, 1..255
  qapi::MultiFDCompression compression = qapi::MultiFDCompression::kNone;
  int zlib_level = 1;      // multifd-zlib-level, 0..9
  int zstd_level = 1;      // multifd-zstd-level, 0..20
  bool zero_copy = false;  // zero-copy-send (sender only; requires compression none)
  MultifdUuid uuid{};      // -uuid of the VM (zeros when unset)
};

// ValidateMultifdConfig: the ranges QEMU's parameter checks enforce (the monitor reports those
// with QEMU's texts before a migration starts; this is the engine's own defence), and the
// zero-copy rule: "Zero copy only available for non-compressed non-TLS multifd migration".
[[nodiscard]] absl::Status ValidateMultifdConfig(const MultifdConfig& config);

}  // namespace migemu::migration

#endif  // MIGEMU_MIGRATION_MULTIFD_CONFIG_H_
