// File: system/machine_config.h
//
// MachineConfig: what the command line asks of the machine, checked and decoded, with QEMU's
// texts for bad values ("-m abc: Parameter 'size' expects ...", "Property 'none-machine.foo' not
// found", "-object ...: Parameter 'id' is missing", "unsupported machine type"). Building the
// machine from it (RAM, monitors, migration) is Machine's job.
//
// Thread-safety: a plain value.
#ifndef MIGEMU_SYSTEM_MACHINE_CONFIG_H_
#define MIGEMU_SYSTEM_MACHINE_CONFIG_H_

#include <absl/status/statusor.h>
#include <absl/strings/string_view.h>

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "system/command_line.h"
#include "system/workload.h"
#include "util/keyval.h"

namespace migemu::system {

struct MemoryBackendConfig {
  std::string id;
  std::string type;  // memory-backend-ram | memory-backend-file
  uint64_t size = 0;
  std::string mem_path;  // file backends
  bool share = false;
  bool prealloc = false;
};

// Any other -object (TLS credentials, authz): kept as its key/value list, created by Machine.
struct ObjectConfig {
  std::string type;
  std::string id;
  util::KeyvalList props;  // includes qom-type and id
  std::string spec;        // the option text, for error prefixes
};

// One -qmp or -monitor option; QEMU creates monitors in command-line order.
struct MonitorOption {
  bool qmp = false;  // -qmp (control mode) rather than -monitor (HMP)
  std::string spec;
};

struct MachineConfig {
  std::optional<std::string> name;  // -name guest=
  std::optional<std::array<uint8_t, 16>> uuid;
  uint64_t ram_size = 0;  // machine `none`: no RAM unless -m is given
  bool ram_size_given = false;
  std::string memory_backend;  // -machine memory-backend=ID
  std::vector<MemoryBackendConfig> memory_backends;
  std::vector<ObjectConfig> objects;
  bool mem_prealloc = false;
  bool start_paused = false;  // -S
  std::optional<std::string> incoming;
  std::vector<MonitorOption> monitors;  // every -qmp and -monitor, in command-line order
  bool daemonize = false;
  std::optional<std::string> pidfile;
  WorkloadConfig workload;
};

// What main() should do besides running the machine.
enum class EarlyExit { kNone, kMachineHelp, kObjectHelp };

// ParseMachineConfig: decodes every option of `cl`. Errors carry QEMU's texts (without the
// program-name prefix); `early` is set when a help request was found.
absl::StatusOr<MachineConfig> ParseMachineConfig(const CommandLine& cl, EarlyExit* early);

// ParseUuid: QEMU's qemu_uuid_parse (8-4-4-4-12 hex digits).
std::optional<std::array<uint8_t, 16>> ParseUuid(absl::string_view text);

std::string MachineHelpText();
std::string ObjectHelpText();

}  // namespace migemu::system

#endif  // MIGEMU_SYSTEM_MACHINE_CONFIG_H_
