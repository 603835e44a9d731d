// File: migration/migration.h
//
// MigrationManager: the migration subsystem of one migemu process, behind QEMU 7.2's QMP
// migration commands (it implements the generated qapi::MigrationCommands). It owns the
// options, the source-side state and the current outgoing migration, the incoming migration,
// and the dirty-rate meter.
//
//   MigrationManager mig(env);
//   qapi::RegisterMigrationCommands(registry, mig);
//   MIG_RETURN_IF_ERROR(mig.StartIncomingFromCommandLine("tcp:0:4444"));  // -incoming
//   ...
//   mig.Shutdown();  // before the main loop is destroyed
//
// Thread-safety: every QMP method runs on the main loop thread. Worker threads report back by
// posting to the loop; Shutdown() joins them all. The manager must be shut down (or destroyed)
// before the event loop runs for the last time.
#ifndef MIGEMU_MIGRATION_MIGRATION_H_
#define MIGEMU_MIGRATION_MIGRATION_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "migration/dirty_rate.h"
#include "migration/env.h"
#include "migration/incoming.h"
#include "migration/options.h"
#include "migration/outgoing.h"
#include "migration/source_state.h"
#include "qapi/qapi-commands-migration.h"

namespace migemu::migration {

class MigrationManager final : public qapi::MigrationCommands {
 public:
  // `exit_process(code)` ends the process from the main loop (a failed incoming migration exits
  // with status 1, as QEMU does).
  MigrationManager(MigrationEnv env, std::function<void(int)> exit_process);
  ~MigrationManager() override;
  MigrationManager(const MigrationManager&) = delete;
  MigrationManager& operator=(const MigrationManager&) = delete;

  // -incoming URI|defer, at startup. The VM must already be in `inmigrate`.
  absl::Status StartIncomingFromCommandLine(const std::string& uri);
  bool incoming_deferred() const { return incoming_defer_; }

  // Cancels the outgoing migration, stops the incoming one and joins every thread.
  void Shutdown();

  MigrationOptions& options() { return options_; }
  qapi::MigrationStatus source_status() const { return source_.status.Get(); }

  // qapi::MigrationCommands
  absl::StatusOr<qapi::MigrationInfo> QueryMigrate() override;
  absl::Status MigrateSetCapabilities(const qapi::MigrateSetCapabilitiesArg& arg) override;
  absl::StatusOr<std::vector<qapi::MigrationCapabilityStatus>> QueryMigrateCapabilities() override;
  absl::Status MigrateSetParameters(const qapi::MigrateSetParameters& arg) override;
  absl::StatusOr<qapi::MigrationParameters> QueryMigrateParameters() override;
  absl::Status MigrateStartPostcopy() override;
  absl::Status MigrateCancel() override;
  absl::Status MigrateContinue(const qapi::MigrateContinueArg& arg) override;
  absl::Status Migrate(const qapi::MigrateArg& arg) override;
  absl::Status MigrateIncoming(const qapi::MigrateIncomingArg& arg) override;
  absl::Status MigrateRecover(const qapi::MigrateRecoverArg& arg) override;
  absl::Status MigratePause() override;
  absl::Status CalcDirtyRate(const qapi::CalcDirtyRateArg& arg) override;
  absl::StatusOr<qapi::DirtyRateInfo> QueryDirtyRate() override;

 private:
  OptionsContext Context() const;
  absl::Status StartIncoming(const std::string& uri);
  void OnOutgoingFinished();
  void EmitStatus(qapi::MigrationStatus status);
  // migrate -b/-i turn block migration on for one migration only.
  absl::Status SetBlockOptions(bool block, bool incremental);
  void CleanupBlockOptions();

  MigrationEnv env_;
  std::function<void(int)> exit_process_;
  MigrationOptions options_;
  SourceState source_;
  StatusCell incoming_status_;
  std::unique_ptr<OutgoingMigration> outgoing_;
  std::unique_ptr<IncomingMigration> incoming_;
  bool incoming_defer_ = false;
  bool incoming_started_ = false;
  bool must_remove_block_options_ = false;
  // migrate_protocol_allow_multi_channels(): the last migrate/migrate-incoming protocol.
  bool multi_channels_allowed_ = true;
  DirtyRateMeter dirty_rate_;
};

}  // namespace migemu::migration

#endif  // MIGEMU_MIGRATION_MIGRATION_H_
