// File: system/machine.h
//
// Machine: one migemu process put together from its command line — the main loop, guest RAM
// and objects, the VM, the migration subsystem, the monitors — and the QMP commands that belong
// to the machine itself (query-status, stop, cont, query-name, query-uuid, object-add/-del,
// human-monitor-command, and migemu's x- commands). Run() serves until `quit`, a signal, or a
// failed incoming migration, then tears everything down in a fixed order:
//   1. stop accepting monitor input, 2. cancel/stop migrations and join their threads,
//   3. stop the workload (joined by the Vm), 4. close monitors, 5. destroy the loop.
//
// Thread-safety: main loop thread only (worker threads post to the loop).
#ifndef MIGEMU_SYSTEM_MACHINE_H_
#define MIGEMU_SYSTEM_MACHINE_H_

#include <absl/status/statusor.h>

#include <functional>
#include <memory>
#include <string>

#include "migration/migration.h"
#include "monitor/control_commands.h"
#include "monitor/monitors.h"
#include "qapi/command_registry.h"
#include "qapi/qapi-commands-migemu.h"
#include "qapi/qapi-commands-misc.h"
#include "qapi/qapi-commands-qom.h"
#include "qapi/qapi-commands-run-state.h"
#include "system/machine_config.h"
#include "system/objects.h"
#include "system/vm.h"
#include "util/event_loop.h"

namespace migemu::system {

class Machine final : public qapi::RunStateCommands,
                      public qapi::MiscCommands,
                      public qapi::QomCommands,
                      public qapi::MigemuCommands {
 public:
  // Create: builds everything the configuration asks for; errors are QEMU's start-up texts.
  // `ready` runs once the monitors listen (used by -daemonize).
  static absl::StatusOr<std::unique_ptr<Machine>> Create(const MachineConfig& config);
  ~Machine() override;
  Machine(const Machine&) = delete;
  Machine& operator=(const Machine&) = delete;

  // Run: serves until shutdown; returns the process exit status.
  int Run();

  // RequestShutdown: from the loop: SHUTDOWN event with `reason`, then Run() returns `code`.
  void RequestShutdown(qapi::ShutdownCause reason, int code);

  // The HMP engine for human-monitor-command (set by the monitor layer).
  void set_hmp(std::function<absl::StatusOr<std::string>(const std::string&)> hmp) {
    hmp_ = std::move(hmp);
  }

  Vm& vm() { return *vm_; }
  migration::MigrationManager& migration() { return *migration_; }
  monitor::MonitorSet& monitors() { return *monitors_; }
  qapi::ControlCommands& control() { return *control_; }
  util::EventLoop& loop() { return *loop_; }
  qapi::CommandRegistry& registry() { return registry_; }

  // qapi::RunStateCommands
  absl::StatusOr<qapi::StatusInfo> QueryStatus() override;
  // qapi::MiscCommands
  absl::StatusOr<qapi::NameInfo> QueryName() override;
  absl::StatusOr<qapi::UuidInfo> QueryUuid() override;
  absl::Status Stop() override;
  absl::Status Cont() override;
  absl::StatusOr<std::string> HumanMonitorCommand(const qapi::HumanMonitorCommandArg& arg) override;
  absl::Status Getfd(const qapi::GetfdArg& arg) override;
  absl::Status Closefd(const qapi::ClosefdArg& arg) override;
  // qapi::QomCommands
  absl::Status ObjectAdd(const qapi::ObjectOptions& arg) override;
  absl::Status ObjectDel(const qapi::ObjectDelArg& arg) override;
  // qapi::MigemuCommands
  absl::StatusOr<qapi::RamDigestInfo> XQueryRamDigest() override;
  absl::Status XSetWorkload(const qapi::XSetWorkloadArg& arg) override;
  absl::StatusOr<qapi::WorkloadInfo> XQueryWorkload() override;
  absl::Status XInjectFault(const qapi::XInjectFaultArg& arg) override;
  absl::Status XClearFaults() override;
  absl::StatusOr<std::vector<qapi::FaultPoint>> XQueryFaultPoints() override;

 private:
  Machine() = default;
  absl::Status Init(const MachineConfig& config);
  void Teardown();

  std::unique_ptr<util::EventLoop> loop_;  // destroyed last
  qapi::CommandRegistry registry_;
  std::unique_ptr<monitor::MonitorSet> monitors_;
  ObjectRegistry objects_;
  std::unique_ptr<Vm> vm_;
  std::unique_ptr<migration::MigrationManager> migration_;
  std::unique_ptr<monitor::ControlCommandsImpl> control_;
  std::function<absl::StatusOr<std::string>(const std::string&)> hmp_;
  int exit_code_ = 0;
  bool shutting_down_ = false;
};

}  // namespace migemu::system

#endif  // MIGEMU_SYSTEM_MACHINE_H_
