#include "migration/options.h"

#include <absl/strings/str_cat.h>

#include <cctype>
#include <set>
#include <string>
#include <utility>

#include "qapi/error.h"
#include "system/guest_memory.h"

namespace migemu::migration {

namespace {

using Cap = qapi::MigrationCapability;

bool On(const CapabilitySet& caps, Cap c) { return caps[static_cast<size_t>(c)]; }

// QERR_INVALID_PARAMETER_VALUE: "Parameter '%s' expects %s" (names with underscores here).
absl::Status Invalid(absl::string_view name, absl::string_view expects) {
  return absl::InvalidArgumentError(absl::StrCat("Parameter '", name, "' expects ", expects));
}

// id_wellformed(): a letter, then letters, digits, '-', '.', '_'.
bool IdWellFormed(const std::string& id) {
  if (id.empty() || !std::isalpha(static_cast<unsigned char>(id[0]))) {
    return false;
  }
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_') {
      return false;
    }
  }
  return true;
}

// check_dirty_bitmap_mig_alias_map(map, name_to_alias = true) of QEMU's
// migration/block-dirty-bitmap.c: the checks and their texts, in order.
absl::Status CheckBitmapMapping(const std::vector<qapi::BitmapMigrationNodeAlias>& mapping) {
  constexpr size_t kMaxNodeName = 31;      // sizeof(BlockDriverState.node_name) - 1
  constexpr size_t kMaxBitmapName = 1023;  // BDRV_BITMAP_MAX_NAME_SIZE
  std::set<std::string> nodes;
  for (const auto& node : mapping) {
    if (!IdWellFormed(node.alias)) {
      return absl::InvalidArgumentError(
          absl::StrCat("The node alias '", node.alias, "' is not well-formed"));
    }
    if (node.alias.size() > 255) {
      return absl::InvalidArgumentError(
          absl::StrCat("The node alias '", node.alias, "' is longer than 255 bytes"));
    }
    if (node.node_name.size() > kMaxNodeName) {
      return absl::InvalidArgumentError(absl::StrCat("The node name '", node.node_name,
                                                     "' is longer than ", kMaxNodeName, " bytes"));
    }
    if (!nodes.insert(node.node_name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("The node name '", node.node_name, "' is mapped twice"));
    }
    std::set<std::string> bitmaps;
    for (const auto& bitmap : node.bitmaps) {
      if (bitmap.alias.size() > 255) {
        return absl::InvalidArgumentError(
            absl::StrCat("The bitmap alias '", bitmap.alias, "' is longer than 255 bytes"));
      }
      if (bitmap.name.size() > kMaxBitmapName) {
        return absl::InvalidArgumentError(absl::StrCat(
            "The bitmap name '", bitmap.name, "' is longer than ", kMaxBitmapName, " bytes"));
      }
      if (!bitmaps.insert(bitmap.name).second) {
        return absl::InvalidArgumentError(
            absl::StrCat("The bitmap '", node.node_name, "'/'", bitmap.name, "' is mapped twice"));
      }
    }
  }
  return absl::OkStatus();
}

// A StrOrNull that is null reads as "" (qmp_migrate_set_parameters rewrites it).
std::string StrOrEmpty(const qapi::StrOrNull& v) {
  return v.type == qapi::QType::kQstring ? v.s : std::string();
}

}  // namespace

qapi::MigrationParameters Parameters::ToQapi() const {
  qapi::MigrationParameters p;
  p.announce_initial = announce_initial;
  p.announce_max = announce_max;
  p.announce_rounds = announce_rounds;
  p.announce_step = announce_step;
  p.compress_level = compress_level;
  p.compress_threads = compress_threads;
  p.compress_wait_thread = compress_wait_thread;
  p.decompress_threads = decompress_threads;
  p.throttle_trigger_threshold = throttle_trigger_threshold;
  p.cpu_throttle_initial = cpu_throttle_initial;
  p.cpu_throttle_increment = cpu_throttle_increment;
  p.cpu_throttle_tailslow = cpu_throttle_tailslow;
  p.tls_creds = tls_creds;
  p.tls_hostname = tls_hostname;
  p.tls_authz = tls_authz;
  p.max_bandwidth = max_bandwidth;
  p.downtime_limit = downtime_limit;
  p.x_checkpoint_delay = x_checkpoint_delay;
  p.block_incremental = block_incremental;
  p.multifd_channels = multifd_channels;
  p.xbzrle_cache_size = xbzrle_cache_size;
  p.max_postcopy_bandwidth = max_postcopy_bandwidth;
  p.max_cpu_throttle = max_cpu_throttle;
  p.multifd_compression = multifd_compression;
  p.multifd_zlib_level = multifd_zlib_level;
  p.multifd_zstd_level = multifd_zstd_level;
  p.block_bitmap_mapping = block_bitmap_mapping;
  return p;
}

absl::Status MigrationOptions::CheckCapabilities(const CapabilitySet& old_caps,
                                                 const CapabilitySet& caps,
                                                 const Parameters& params,
                                                 const OptionsContext& ctx) {
  // Old-style block migration exists (as in Debian's build; machine `none` has no disks, so
  // the `block` section carries only its markers). migemu is built like a QEMU without the
  // replication module: COLO is out of scope.
  if (On(caps, Cap::kXColo)) {
    return qapi::WithHint(
        absl::FailedPreconditionError("QEMU compiled without replication module can't enable COLO"),
        "Please enable replication before COLO.\n");
  }
  if (On(caps, Cap::kPostcopyRam)) {
    // The destination needs userfaultfd-based page fault handling, which migemu does not
    // emulate: as a destination it answers like a host without postcopy support.
    if (!On(old_caps, Cap::kPostcopyRam) && ctx.inmigrate) {
      return absl::FailedPreconditionError("Postcopy is not supported");
    }
    if (On(caps, Cap::kXIgnoreShared)) {
      return absl::FailedPreconditionError("Postcopy is not compatible with ignore-shared");
    }
  }
  if (On(caps, Cap::kBackgroundSnapshot)) {
    // Background snapshots need write-protect tracking of guest RAM (userfaultfd-wp), which
    // migemu's emulated host does not provide.
    return absl::FailedPreconditionError("Background-snapshot is not supported by host kernel");
  }
  if (On(caps, Cap::kZeroCopySend) &&
      (!On(caps, Cap::kMultifd) || On(caps, Cap::kCompress) || On(caps, Cap::kXbzrle) ||
       params.multifd_compression != qapi::MultiFDCompression::kNone ||
       !params.tls_creds.empty())) {
    return absl::FailedPreconditionError(kZeroCopyText);
  }
  if (ctx.inmigrate && !ctx.multi_channels_allowed && On(caps, Cap::kMultifd)) {
    return absl::FailedPreconditionError("multifd is not supported by current protocol");
  }
  if (On(caps, Cap::kPostcopyPreempt)) {
    if (!On(caps, Cap::kPostcopyRam)) {
      return absl::FailedPreconditionError("Postcopy preempt requires postcopy-ram");
    }
    if (On(caps, Cap::kCompress)) {
      return absl::FailedPreconditionError("Postcopy preempt not compatible with compress");
    }
  }
  if (On(caps, Cap::kMultifd) && On(caps, Cap::kCompress)) {
    return absl::FailedPreconditionError("Multifd is not compatible with compress");
  }
  return absl::OkStatus();
}

absl::Status MigrationOptions::CheckParameters(const Parameters& p, bool zero_copy_send) {
  if (p.compress_level > 9) {
    return Invalid("compress_level", "a value between 0 and 9");
  }
  if (p.compress_threads < 1) {
    return Invalid("compress_threads", "a value between 1 and 255");
  }
  if (p.decompress_threads < 1) {
    return Invalid("decompress_threads", "a value between 1 and 255");
  }
  if (p.throttle_trigger_threshold < 1 || p.throttle_trigger_threshold > 100) {
    return Invalid("throttle_trigger_threshold", "an integer in the range of 1 to 100");
  }
  if (p.cpu_throttle_initial < 1 || p.cpu_throttle_initial > 99) {
    return Invalid("cpu_throttle_initial", "an integer in the range of 1 to 99");
  }
  if (p.cpu_throttle_increment < 1 || p.cpu_throttle_increment > 99) {
    return Invalid("cpu_throttle_increment", "an integer in the range of 1 to 99");
  }
  // max-bandwidth > SIZE_MAX cannot happen with a 64-bit size_t.
  if (p.downtime_limit > 2000 * 1000) {
    return Invalid("downtime_limit", "an integer in the range of 0 to (2000 * 1000) ms");
  }
  if (p.multifd_channels < 1) {
    return Invalid("multifd_channels", "a value between 1 and 255");
  }
  if (p.multifd_zlib_level > 9) {
    return Invalid("multifd_zlib_level", "a value between 0 and 9");
  }
  if (p.multifd_zstd_level > 20) {
    return Invalid("multifd_zstd_level", "a value between 0 and 20");
  }
  if (p.xbzrle_cache_size < system::kPageSize ||
      (p.xbzrle_cache_size & (p.xbzrle_cache_size - 1)) != 0) {
    return Invalid("xbzrle_cache_size", "a power of two no less than the target page size");
  }
  if (p.max_cpu_throttle < p.cpu_throttle_initial || p.max_cpu_throttle > 99) {
    return Invalid("max_cpu_throttle", "an integer in the range of cpu_throttle_initial to 99");
  }
  if (p.announce_initial > 100000) {
    return Invalid("announce_initial", "a value between 0 and 100000");
  }
  if (p.announce_max > 100000) {
    return Invalid("announce_max", "a value between 0 and 100000");
  }
  if (p.announce_rounds > 1000) {
    return Invalid("announce_rounds", "a value between 0 and 1000");
  }
  if (p.announce_step < 1 || p.announce_step > 10000) {
    return Invalid("announce_step", "a value between 0 and 10000");
  }
  if (p.block_bitmap_mapping.has_value()) {
    absl::Status s = CheckBitmapMapping(*p.block_bitmap_mapping);
    if (!s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("Invalid mapping given for block-bitmap-mapping: ", s.message()));
    }
  }
  if (zero_copy_send &&
      (p.multifd_compression != qapi::MultiFDCompression::kNone || !p.tls_creds.empty())) {
    return absl::FailedPreconditionError(kZeroCopyText);
  }
  return absl::OkStatus();
}

absl::Status MigrationOptions::SetCapabilities(
    const std::vector<qapi::MigrationCapabilityStatus>& caps, const OptionsContext& ctx) {
  absl::MutexLock lock(&mu_);
  if (ctx.migration_running) {
    return absl::FailedPreconditionError(kMigrationActiveText);
  }
  CapabilitySet next = caps_;
  for (const auto& c : caps) {
    next[static_cast<size_t>(c.capability)] = c.state;
  }
  absl::Status s = CheckCapabilities(caps_, next, params_, ctx);
  if (!s.ok()) {
    return s;
  }
  caps_ = next;
  return absl::OkStatus();
}

absl::Status MigrationOptions::SetParameters(const qapi::MigrateSetParameters& in) {
  absl::MutexLock lock(&mu_);
  Parameters c = params_;
  auto apply = [](auto& dst, const auto& src) {
    if (src.has_value()) {
      dst = *src;
    }
  };
  apply(c.announce_initial, in.announce_initial);
  apply(c.announce_max, in.announce_max);
  apply(c.announce_rounds, in.announce_rounds);
  apply(c.announce_step, in.announce_step);
  apply(c.compress_level, in.compress_level);
  apply(c.compress_threads, in.compress_threads);
  apply(c.compress_wait_thread, in.compress_wait_thread);
  apply(c.decompress_threads, in.decompress_threads);
  apply(c.throttle_trigger_threshold, in.throttle_trigger_threshold);
  apply(c.cpu_throttle_initial, in.cpu_throttle_initial);
  apply(c.cpu_throttle_increment, in.cpu_throttle_increment);
  apply(c.cpu_throttle_tailslow, in.cpu_throttle_tailslow);
  if (in.tls_creds.has_value()) {
    c.tls_creds = StrOrEmpty(*in.tls_creds);
  }
  if (in.tls_hostname.has_value()) {
    c.tls_hostname = StrOrEmpty(*in.tls_hostname);
  }
  if (in.tls_authz.has_value()) {
    c.tls_authz = StrOrEmpty(*in.tls_authz);
  }
  apply(c.max_bandwidth, in.max_bandwidth);
  apply(c.downtime_limit, in.downtime_limit);
  apply(c.x_checkpoint_delay, in.x_checkpoint_delay);
  apply(c.block_incremental, in.block_incremental);
  apply(c.multifd_channels, in.multifd_channels);
  apply(c.xbzrle_cache_size, in.xbzrle_cache_size);
  apply(c.max_postcopy_bandwidth, in.max_postcopy_bandwidth);
  apply(c.max_cpu_throttle, in.max_cpu_throttle);
  apply(c.multifd_compression, in.multifd_compression);
  apply(c.multifd_zlib_level, in.multifd_zlib_level);
  apply(c.multifd_zstd_level, in.multifd_zstd_level);
  if (in.block_bitmap_mapping.has_value()) {
    c.block_bitmap_mapping = in.block_bitmap_mapping;
  }
  absl::Status s = CheckParameters(c, caps_[static_cast<size_t>(Cap::kZeroCopySend)]);
  if (!s.ok()) {
    return s;
  }
  params_ = std::move(c);
  return absl::OkStatus();
}

std::vector<qapi::MigrationCapabilityStatus> MigrationOptions::QueryCapabilities() const {
  absl::MutexLock lock(&mu_);
  std::vector<qapi::MigrationCapabilityStatus> out;
  out.reserve(kCapabilityCount);
  for (size_t i = 0; i < kCapabilityCount; ++i) {
    qapi::MigrationCapabilityStatus s;
    s.capability = static_cast<Cap>(i);
    s.state = caps_[i];
    out.push_back(s);
  }
  return out;
}

qapi::MigrationParameters MigrationOptions::QueryParameters() const {
  absl::MutexLock lock(&mu_);
  return params_.ToQapi();
}

bool MigrationOptions::Enabled(qapi::MigrationCapability cap) const {
  absl::MutexLock lock(&mu_);
  return caps_[static_cast<size_t>(cap)];
}

MigrationOptions::Snapshot MigrationOptions::Take() const {
  absl::MutexLock lock(&mu_);
  return Snapshot{caps_, params_};
}

absl::Status MigrationOptions::CheckForMigrate(const OptionsContext& ctx) const {
  absl::MutexLock lock(&mu_);
  return CheckCapabilities(caps_, caps_, params_, ctx);
}

uint64_t MigrationOptions::max_bandwidth() const {
  absl::MutexLock lock(&mu_);
  return params_.max_bandwidth;
}

uint64_t MigrationOptions::downtime_limit_ms() const {
  absl::MutexLock lock(&mu_);
  return params_.downtime_limit;
}

}  // namespace migemu::migration
