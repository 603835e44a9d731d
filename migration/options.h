// File: migration/options.h
//
// The migration capability set and parameter set of one migemu process, with QEMU 7.2's
// defaults, ranges, units and checks (migrate_caps_check / migrate_params_check in QEMU's
// migration/migration.c). Changes are validated as a whole and applied atomically: the request
// is overlaid on a copy of the current set, the copy is checked, and only then stored.
//
//   MigrationOptions options;
//   MIG_RETURN_IF_ERROR(options.SetCapabilities(request.capabilities, ctx));
//   MIG_RETURN_IF_ERROR(options.SetParameters(request_params));
//   MigrationOptions::Snapshot s = options.Take();  // what a starting migration uses
//
// Deliberate difference from 7.2 (documented in docs/migration.md): QEMU 7.2 accepts
// `multifd-zlib-level` and `multifd-zstd-level` in migrate-set-parameters but silently drops
// them (neither checked nor stored); migemu range-checks, stores and reports them, as later
// QEMU releases do, and the multifd compressors honour them.
//
// Thread-safety: all methods are thread-safe (the migration thread reads live values such as
// max-bandwidth and downtime-limit while the monitor may change them).
#ifndef MIGEMU_MIGRATION_OPTIONS_H_
#define MIGEMU_MIGRATION_OPTIONS_H_

#include <absl/base/thread_annotations.h>
#include <absl/status/status.h>
#include <absl/synchronization/mutex.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "qapi/qapi-types-migration.h"
#include "qapi/runtime.h"

namespace migemu::migration {

inline constexpr size_t kCapabilityCount = qapi::EnumCount<qapi::MigrationCapability>();
using CapabilitySet = std::array<bool, kCapabilityCount>;

// Every migration parameter, always present (qapi::MigrationParameters has each member
// optional on the wire; query-migrate-parameters fills them all).
struct Parameters {
  uint64_t announce_initial = 50;
  uint64_t announce_max = 550;
  uint64_t announce_rounds = 5;
  uint64_t announce_step = 100;
  uint8_t compress_level = 1;
  uint8_t compress_threads = 8;
  bool compress_wait_thread = true;
  uint8_t decompress_threads = 2;
  uint8_t throttle_trigger_threshold = 50;
  uint8_t cpu_throttle_initial = 20;
  uint8_t cpu_throttle_increment = 10;
  bool cpu_throttle_tailslow = false;
  std::string tls_creds;
  std::string tls_hostname;
  std::string tls_authz;
  uint64_t max_bandwidth = 128ull << 20;  // bytes/s
  uint64_t downtime_limit = 300;          // ms
  uint32_t x_checkpoint_delay = 20000;    // ms
  bool block_incremental = false;
  uint8_t multifd_channels = 2;
  uint64_t xbzrle_cache_size = 64ull << 20;
  uint64_t max_postcopy_bandwidth = 0;
  uint8_t max_cpu_throttle = 99;
  qapi::MultiFDCompression multifd_compression = qapi::MultiFDCompression::kNone;
  uint8_t multifd_zlib_level = 1;
  uint8_t multifd_zstd_level = 1;
  std::optional<std::vector<qapi::BitmapMigrationNodeAlias>> block_bitmap_mapping;

  // ToQapi: the query-migrate-parameters answer (every member present; block-bitmap-mapping
  // only once set, as QEMU).
  qapi::MigrationParameters ToQapi() const;
};

// Facts about the process that some checks depend on.
struct OptionsContext {
  // The migration state is one of the "running" states (migration_is_running()).
  bool migration_running = false;
  // The run state is `inmigrate` (this process waits for an incoming migration).
  bool inmigrate = false;
  // The incoming URI, when already given, allows several channels (tcp/unix/vsock). QEMU starts
  // with "allowed" until migrate-incoming picks a protocol.
  bool multi_channels_allowed = true;
};

class MigrationOptions final {
 public:
  MigrationOptions() = default;
  MigrationOptions(const MigrationOptions&) = delete;
  MigrationOptions& operator=(const MigrationOptions&) = delete;

  // SetCapabilities: migrate-set-capabilities. Errors: "There's a migration process in
  // progress", and every migrate_caps_check text.
  absl::Status SetCapabilities(const std::vector<qapi::MigrationCapabilityStatus>& caps,
                               const OptionsContext& ctx);
  // SetParameters: migrate-set-parameters (null tls-* become ""). Errors: every
  // migrate_params_check text. Allowed during a migration.
  absl::Status SetParameters(const qapi::MigrateSetParameters& params);

  std::vector<qapi::MigrationCapabilityStatus> QueryCapabilities() const;
  qapi::MigrationParameters QueryParameters() const;

  bool Enabled(qapi::MigrationCapability cap) const;

  // What a migration reads when it starts.
  struct Snapshot {
    CapabilitySet caps{};
    Parameters params;
    bool Enabled(qapi::MigrationCapability cap) const { return caps[static_cast<size_t>(cap)]; }
  };
  Snapshot Take() const;

  // CheckForMigrate: re-runs the capability checks on the current set (QEMU's
  // migrate_prepare() path via migrate_caps_check at connect time).
  absl::Status CheckForMigrate(const OptionsContext& ctx) const;

  // Live values the migration thread polls.
  uint64_t max_bandwidth() const;
  uint64_t downtime_limit_ms() const;

  // The checks, exposed for tests. `old_caps` is the set before the request.
  static absl::Status CheckCapabilities(const CapabilitySet& old_caps, const CapabilitySet& caps,
                                        const Parameters& params, const OptionsContext& ctx);
  static absl::Status CheckParameters(const Parameters& candidate, bool zero_copy_send);

 private:
  mutable absl::Mutex mu_;
  CapabilitySet caps_ ABSL_GUARDED_BY(mu_){};
  Parameters params_ ABSL_GUARDED_BY(mu_);
};

// Exact texts (interface facts).
inline constexpr char kMigrationActiveText[] = "There's a migration process in progress";
inline constexpr char kZeroCopyText[] =
    "Zero copy only available for non-compressed non-TLS multifd migration";

}  // namespace migemu::migration

#endif  // MIGEMU_MIGRATION_OPTIONS_H_
