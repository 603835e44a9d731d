// File: monitor/control_commands.h
//
// The QMP control commands (QEMU's monitor/qmp-cmds-control.c): qmp_capabilities,
// query-version, query-commands, query-qmp-schema, and quit (which asks the machine to shut
// down once the reply went out).
//
// Thread-safety: main loop thread only.
#ifndef MIGEMU_MONITOR_CONTROL_COMMANDS_H_
#define MIGEMU_MONITOR_CONTROL_COMMANDS_H_

#include <functional>
#include <vector>

#include "monitor/monitors.h"
#include "qapi/command_registry.h"
#include "qapi/qapi-commands-control.h"
#include "qapi/qapi-commands-introspect.h"

namespace migemu::monitor {

class ControlCommandsImpl final : public qapi::ControlCommands, public qapi::IntrospectCommands {
 public:
  // `quit` runs on the loop after the reply (QEMU's qemu_system_shutdown_request).
  ControlCommandsImpl(MonitorSet& monitors, const qapi::CommandRegistry& registry,
                      util::EventLoop& loop, std::function<void()> quit);

  absl::Status QmpCapabilities(const qapi::QmpCapabilitiesArg& arg) override;
  absl::StatusOr<qapi::VersionInfo> QueryVersion() override;
  absl::StatusOr<std::vector<qapi::CommandInfo>> QueryCommands() override;
  absl::Status Quit() override;
  absl::StatusOr<std::vector<qapi::SchemaInfo>> QueryQmpSchema() override;

 private:
  MonitorSet& monitors_;
  const qapi::CommandRegistry& registry_;
  util::EventLoop& loop_;
  std::function<void()> quit_;
  std::optional<std::vector<qapi::SchemaInfo>> schema_;  // parsed once
};

}  // namespace migemu::monitor

#endif  // MIGEMU_MONITOR_CONTROL_COMMANDS_H_
