#include "migration/migration.h"

#include <absl/strings/match.h>
#include <absl/strings/str_cat.h>
#include <stdio.h>

#include <utility>

#include "io/fd_channel.h"
#include "qapi/qapi-events-migration.h"
#include "qapi/runtime.h"

namespace migemu::migration {

namespace {

using MS = qapi::MigrationStatus;
using Cap = qapi::MigrationCapability;

bool IsMultiChannelUri(const std::string& uri) {
  return absl::StartsWith(uri, "tcp:") || absl::StartsWith(uri, "unix:") ||
         absl::StartsWith(uri, "vsock:");
}

}  // namespace

MigrationManager::MigrationManager(MigrationEnv env, std::function<void(int)> exit_process)
    : env_(std::move(env)), exit_process_(std::move(exit_process)), dirty_rate_(env_.vm.memory()) {
  source_.status.set_on_change([this](MS s) { EmitStatus(s); });
  incoming_status_.set_on_change([this](MS s) { EmitStatus(s); });
}

MigrationManager::~MigrationManager() { Shutdown(); }

void MigrationManager::EmitStatus(MS status) {
  // migrate_set_state(): MIGRATION only when this side has the events capability.
  if (options_.Enabled(Cap::kEvents)) {
    qapi::EmitMigration(env_.events, status);
  }
}

void MigrationManager::Shutdown() {
  if (outgoing_ != nullptr) {
    outgoing_->Cancel();
    outgoing_->Join();
    outgoing_.reset();
  }
  if (incoming_ != nullptr) {
    incoming_->Shutdown();
    incoming_.reset();
  }
}

OptionsContext MigrationManager::Context() const {
  OptionsContext ctx;
  ctx.migration_running = IsRunning(source_.status.Get());
  ctx.inmigrate = env_.vm.state() == qapi::RunState::kInmigrate;
  ctx.multi_channels_allowed = multi_channels_allowed_;
  return ctx;
}

// ---- Queries --------------------------------------------------------------------------------

absl::StatusOr<qapi::MigrationInfo> MigrationManager::QueryMigrate() {
  qapi::MigrationInfo info;
  // fill_source_migration_info()
  const MS s = source_.status.Get();
  const SourceTimes t = source_.times();
  auto fill_ram = [&](bool completed) {
    qapi::MigrationStats ram;
    const RamCounters& c = source_.counters;
    ram.transferred = static_cast<int64_t>(RamCounters::Get(c.transferred));
    ram.total = static_cast<int64_t>(env_.vm.memory().total_bytes());
    ram.duplicate = static_cast<int64_t>(RamCounters::Get(c.duplicate));
    ram.skipped = 0;
    ram.normal = static_cast<int64_t>(RamCounters::Get(c.normal));
    ram.normal_bytes = ram.normal * static_cast<int64_t>(system::kPageSize);
    ram.mbps = t.mbps;
    ram.dirty_sync_count = static_cast<int64_t>(RamCounters::Get(c.dirty_sync_count));
    ram.dirty_sync_missed_zero_copy = RamCounters::Get(c.dirty_sync_missed_zero_copy);
    ram.postcopy_requests = static_cast<int64_t>(RamCounters::Get(c.postcopy_requests));
    ram.page_size = static_cast<int64_t>(system::kPageSize);
    ram.multifd_bytes = RamCounters::Get(c.multifd_bytes);
    ram.pages_per_second = t.pages_per_second;
    ram.precopy_bytes = RamCounters::Get(c.precopy_bytes);
    ram.downtime_bytes = RamCounters::Get(c.downtime_bytes);
    ram.postcopy_bytes = RamCounters::Get(c.postcopy_bytes);
    if (!completed) {
      ram.remaining = static_cast<int64_t>(RamCounters::Get(c.remaining));
      ram.dirty_pages_rate = static_cast<int64_t>(RamCounters::Get(c.dirty_pages_rate));
    }
    info.ram = ram;
    if (t.cpu_throttle_percentage.has_value()) {
      info.cpu_throttle_percentage = *t.cpu_throttle_percentage;
    }
  };
  switch (s) {
    case MS::kNone:
      break;
    case MS::kSetup:
      info.status = s;
      break;
    case MS::kActive:
    case MS::kCancelling:
    case MS::kPostcopyActive:
    case MS::kPreSwitchover:
    case MS::kDevice:
    case MS::kPostcopyPaused:
    case MS::kPostcopyRecover:
      info.status = s;
      info.setup_time = t.setup_time;
      info.total_time = NowMs() - t.start_time_ms;
      info.expected_downtime = t.expected_downtime;
      fill_ram(false);
      break;
    case MS::kCompleted:
      info.status = s;
      info.setup_time = t.setup_time;
      info.total_time = t.total_time;
      info.downtime = t.downtime;
      fill_ram(true);
      break;
    case MS::kFailed:
      info.status = s;
      if (std::optional<std::string> e = source_.error()) {
        info.error_desc = *e;
      }
      break;
    case MS::kCancelled:
    case MS::kWaitUnplug:
    case MS::kColo:
      info.status = s;
      break;
  }
  // fill_destination_migration_info()
  if (incoming_ != nullptr) {
    std::vector<qapi::SocketAddress> addrs = incoming_->SocketAddresses();
    if (!addrs.empty()) {
      // QEMU prepends each listener address: the list comes out in reverse order.
      info.socket_address = std::vector<qapi::SocketAddress>(addrs.rbegin(), addrs.rend());
    }
  }
  const MS in = incoming_status_.Get();
  if (in != MS::kNone) {
    info.status = in;
  }
  return info;
}

absl::Status MigrationManager::MigrateSetCapabilities(const qapi::MigrateSetCapabilitiesArg& arg) {
  return options_.SetCapabilities(arg.capabilities, Context());
}

absl::StatusOr<std::vector<qapi::MigrationCapabilityStatus>>
MigrationManager::QueryMigrateCapabilities() {
  return options_.QueryCapabilities();
}

absl::Status MigrationManager::MigrateSetParameters(const qapi::MigrateSetParameters& arg) {
  return options_.SetParameters(arg);
}

absl::StatusOr<qapi::MigrationParameters> MigrationManager::QueryMigrateParameters() {
  return options_.QueryParameters();
}

// ---- Source ---------------------------------------------------------------------------------

absl::Status MigrationManager::Migrate(const qapi::MigrateArg& arg) {
  const bool resume = arg.resume.value_or(false);
  const bool blk = arg.blk.value_or(false);
  const bool inc = arg.inc.value_or(false);
  // migrate_prepare()
  if (resume) {
    if (source_.status.Get() != MS::kPostcopyPaused) {
      return absl::FailedPreconditionError("Cannot resume if there is no paused migration");
    }
    if (options_.Enabled(Cap::kReleaseRam)) {
      return absl::FailedPreconditionError(
          "Postcopy recovery cannot work when release-ram capability is set");
    }
  }
  if (IsRunning(source_.status.Get())) {
    return absl::FailedPreconditionError(kMigrationActiveText);
  }
  const qapi::RunState rs = env_.vm.state();
  if (rs == qapi::RunState::kInmigrate) {
    return absl::FailedPreconditionError("Guest is waiting for an incoming migration");
  }
  if (rs == qapi::RunState::kPostmigrate) {
    return absl::FailedPreconditionError(
        "Can't migrate the vm that was paused due to previous migration");
  }
  if (blk || inc) {
    if (options_.Enabled(Cap::kXColo)) {
      return absl::FailedPreconditionError("No disk migration is required in COLO mode");
    }
    if (options_.Enabled(Cap::kBlock) ||
        options_.QueryParameters().block_incremental.value_or(false)) {
      return absl::FailedPreconditionError(
          "Command options are incompatible with current migration capabilities");
    }
    // migrate_set_block_enabled(): for this migration only (block_cleanup_parameters()).
    absl::Status s = SetBlockOptions(true, inc);
    if (!s.ok()) {
      return s;
    }
    must_remove_block_options_ = true;
  }
  // migrate_init(): the previous migration (if any) is finished: drop it, reset the state.
  if (outgoing_ != nullptr) {
    outgoing_->Join();
    outgoing_.reset();
  }
  source_.status.Reset();
  source_.Reset(NowMs(), static_cast<int64_t>(options_.downtime_limit_ms()));
  source_.status.SetState(MS::kNone, MS::kSetup);

  multi_channels_allowed_ = IsMultiChannelUri(arg.uri);
  absl::StatusOr<io::MigrationUri> uri =
      io::ParseMigrationUri(arg.uri, io::UriDirection::kOutgoing);
  if (!uri.ok()) {
    absl::Status err = uri.status();
    // An unknown scheme is QERR_INVALID_PARAMETER_VALUE without an error-desc; socket parse
    // errors are recorded (migrate_fd_error) and also returned.
    if (!absl::StartsWith(arg.uri, "tcp:") && !absl::StartsWith(arg.uri, "unix:") &&
        !absl::StartsWith(arg.uri, "vsock:") && !absl::StartsWith(arg.uri, "exec:") &&
        !absl::StartsWith(arg.uri, "fd:")) {
      source_.status.SetState(MS::kSetup, MS::kFailed);
      CleanupBlockOptions();
      return absl::InvalidArgumentError("Parameter 'uri' expects a valid migration protocol");
    }
    source_.SetError(err);
    source_.status.SetState(MS::kSetup, MS::kFailed);
    CleanupBlockOptions();
    fprintf(stderr, "migemu: %s\n", std::string(err.message()).c_str());
    return err;
  }
  // The capability checks run again with the protocol now known (multifd needs a socket).
  OptionsContext ctx = Context();
  absl::Status check = options_.CheckForMigrate(ctx);
  if (check.ok() && options_.Enabled(Cap::kMultifd) && !multi_channels_allowed_) {
    check = absl::FailedPreconditionError("multifd is not supported by current protocol");
  }
  if (!check.ok()) {
    // QEMU reports this from migrate_fd_connect(); migemu also keeps it in error-desc.
    source_.SetError(check);
    source_.status.SetState(MS::kSetup, MS::kFailed);
    CleanupBlockOptions();
    fprintf(stderr, "migemu: %s\n", std::string(check.message()).c_str());
    return absl::OkStatus();
  }
  // fd:NAME is resolved now, while the command's monitor is current (QEMU's
  // fd_start_outgoing_migration runs synchronously too).
  std::unique_ptr<io::Channel> preopened;
  if (const auto* fd = std::get_if<io::FdUri>(&*uri)) {
    absl::StatusOr<std::unique_ptr<io::Channel>> ch =
        io::OpenMigrationFd(fd->name, io::UriDirection::kOutgoing, &env_.fd_lookup);
    if (!ch.ok()) {
      source_.SetError(ch.status());
      source_.status.SetState(MS::kSetup, MS::kFailed);
      CleanupBlockOptions();
      fprintf(stderr, "migemu: %s\n", std::string(ch.status().message()).c_str());
      return ch.status();
    }
    preopened = std::move(*ch);
  }
  outgoing_ = std::make_unique<OutgoingMigration>(
      env_, options_, options_.Take(), source_, std::move(*uri), [this] { OnOutgoingFinished(); });
  if (preopened != nullptr) {
    outgoing_->SetPreopenedChannel(std::move(preopened));
  }
  outgoing_->Start();
  return absl::OkStatus();
}

void MigrationManager::OnOutgoingFinished() {
  // migrate_fd_cleanup(): join the thread, close the channel, cancelling -> cancelled.
  if (outgoing_ == nullptr) {
    return;
  }
  outgoing_->Join();
  outgoing_.reset();
  if (source_.status.Get() == MS::kCancelling) {
    source_.status.SetState(MS::kCancelling, MS::kCancelled);
  }
  CleanupBlockOptions();
  if (std::optional<std::string> e = source_.error();
      e.has_value() && source_.status.Get() == MS::kFailed) {
    fprintf(stderr, "migemu: %s\n", e->c_str());
  }
}

absl::Status MigrationManager::SetBlockOptions(bool block, bool incremental) {
  std::vector<qapi::MigrationCapabilityStatus> caps(1);
  caps[0].capability = Cap::kBlock;
  caps[0].state = block;
  OptionsContext ctx = Context();
  ctx.migration_running = false;
  absl::Status s = options_.SetCapabilities(caps, ctx);
  if (!s.ok()) {
    return s;
  }
  if (incremental || !block) {
    qapi::MigrateSetParameters p;
    p.block_incremental = incremental;
    return options_.SetParameters(p);
  }
  return absl::OkStatus();
}

void MigrationManager::CleanupBlockOptions() {
  if (must_remove_block_options_) {
    // Turning block migration off can never fail.
    SetBlockOptions(false, false).IgnoreError();
    must_remove_block_options_ = false;
  }
}

absl::Status MigrationManager::MigrateCancel() {
  if (outgoing_ != nullptr) {
    outgoing_->Cancel();
  }
  return absl::OkStatus();
}

absl::Status MigrationManager::MigrateContinue(const qapi::MigrateContinueArg& arg) {
  const MS s = source_.status.Get();
  if (s != arg.state) {
    return absl::FailedPreconditionError(
        absl::StrCat("Migration not in expected state: ", qapi::EnumToString(s)));
  }
  if (outgoing_ != nullptr) {
    outgoing_->Continue();
  }
  return absl::OkStatus();
}

absl::Status MigrationManager::MigrateStartPostcopy() {
  if (!options_.Enabled(Cap::kPostcopyRam)) {
    return absl::FailedPreconditionError(
        "Enable postcopy with migrate_set_capability before the start of migration");
  }
  if (source_.status.Get() == MS::kNone) {
    return absl::FailedPreconditionError(
        "Postcopy must be started after migration has been started");
  }
  // A postcopy destination needs userfaultfd page-fault handling that migemu does not
  // emulate, so the switch cannot happen; the running precopy goes on undisturbed.
  return absl::FailedPreconditionError("Postcopy is not supported");
}

absl::Status MigrationManager::MigratePause() {
  // Only postcopy can be paused; migemu never enters postcopy.
  if (source_.status.Get() != MS::kPostcopyActive) {
    return absl::FailedPreconditionError(
        "migrate-pause is currently only supported during postcopy-active state");
  }
  return absl::FailedPreconditionError("Failed to pause source migration");
}

absl::Status MigrationManager::MigrateRecover(const qapi::MigrateRecoverArg& /*arg*/) {
  return absl::FailedPreconditionError("Migrate recover can only be run when postcopy is paused.");
}

// ---- Destination ----------------------------------------------------------------------------

absl::Status MigrationManager::StartIncomingFromCommandLine(const std::string& uri) {
  if (uri == "defer") {
    incoming_defer_ = true;
    return absl::OkStatus();
  }
  return StartIncoming(uri);
}

absl::Status MigrationManager::StartIncoming(const std::string& uri) {
  // qemu_start_incoming_migration(): MIGRATION setup is sent whatever the events capability.
  qapi::EmitMigration(env_.events, MS::kSetup);
  multi_channels_allowed_ = IsMultiChannelUri(uri);
  absl::StatusOr<io::MigrationUri> parsed = io::ParseMigrationUri(uri, io::UriDirection::kIncoming);
  if (!parsed.ok()) {
    return parsed.status();
  }
  auto incoming =
      std::make_unique<IncomingMigration>(env_, options_, incoming_status_, [this](absl::Status s) {
        if (!s.ok()) {
          exit_process_(1);
        }
      });
  absl::Status s = incoming->Start(*parsed);
  if (!s.ok()) {
    return s;
  }
  incoming_ = std::move(incoming);
  incoming_started_ = true;
  return absl::OkStatus();
}

absl::Status MigrationManager::MigrateIncoming(const qapi::MigrateIncomingArg& arg) {
  if (incoming_started_) {
    return absl::FailedPreconditionError("The incoming migration has already been started");
  }
  if (!incoming_defer_) {
    return absl::FailedPreconditionError("'-incoming' was not specified on the command line");
  }
  return StartIncoming(arg.uri);
}

// ---- Dirty rate -----------------------------------------------------------------------------

absl::Status MigrationManager::CalcDirtyRate(const qapi::CalcDirtyRateArg& arg) {
  return dirty_rate_.Start(arg);
}

absl::StatusOr<qapi::DirtyRateInfo> MigrationManager::QueryDirtyRate() {
  return dirty_rate_.Query();
}

}  // namespace migemu::migration
