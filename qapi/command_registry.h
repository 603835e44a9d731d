// File: qapi/command_registry.h
//
// CommandRegistry is QEMU's QmpCommandList: the table of QMP commands by name. The
// generated Register<Module>Commands() functions fill it from the schema (one entry per
// command whose 'if' holds, with its flags kept as data); the monitor looks commands up
// and calls them:
//
//   CommandRegistry registry;
//   RegisterMigrationCommands(registry, migration_commands);
//   const CommandEntry* entry = registry.Find("query-migrate");
//   if (entry == nullptr) { /* CommandNotFound */ }
//   absl::StatusOr<rapidjson::Value> ret = registry.Call(*entry, args, doc.GetAllocator());
//
// Thread-safety: Register() only during start-up; afterwards the registry is read-only and
// may be used from any thread. Entries never move, so CommandEntry pointers stay valid.
#ifndef MIGEMU_QAPI_COMMAND_REGISTRY_H_
#define MIGEMU_QAPI_COMMAND_REGISTRY_H_

#include <absl/status/statusor.h>
#include <absl/strings/string_view.h>
#include <rapidjson/document.h>

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace migemu::qapi {

// Unmarshals the arguments (null = none), runs the handler, marshals its result.
using CommandMarshal = std::function<absl::StatusOr<rapidjson::Value>(
    const rapidjson::Value* args, rapidjson::Document::AllocatorType& alloc)>;

// One command (QmpCommand). The flags mirror the schema's; the registry does not act on
// them, the dispatcher does.
struct CommandEntry {
  std::string name;
  CommandMarshal marshal;
  bool allow_oob = false;             // may run out-of-band ('allow-oob')
  bool allow_preconfig = false;       // available in preconfig state ('allow-preconfig')
  bool coroutine = false;             // runs in a coroutine in QEMU ('coroutine')
  bool success_response = true;       // false: send no reply on success ('success-response')
  bool boxed = false;                 // arguments come as one struct ('boxed')
  std::vector<std::string> features;  // the schema features whose 'if' holds
};

class CommandRegistry {
 public:
  CommandRegistry() = default;
  CommandRegistry(const CommandRegistry&) = delete;
  CommandRegistry& operator=(const CommandRegistry&) = delete;
  CommandRegistry(CommandRegistry&&) = delete;
  CommandRegistry& operator=(CommandRegistry&&) = delete;
  ~CommandRegistry() = default;

  // Register adds a command. Registering a name twice or without a marshaller is a
  // programming error and aborts.
  void Register(CommandEntry entry);

  // ReplaceMarshalForTest: swaps the marshaller of command `name` and returns the previous one
  // (null when there is no such command), so a harness can wrap a command whose side effects
  // reach outside the process (the QMP fuzz target). Only before the registry is used.
  CommandMarshal ReplaceMarshalForTest(absl::string_view name, CommandMarshal marshal);

  // Find returns the command named `name`, or null.
  const CommandEntry* Find(absl::string_view name) const;

  // Names returns every command name in registration order (query-commands).
  std::vector<std::string> Names() const;

  size_t size() const { return entries_.size(); }

  // Call runs `entry` with `args` (null = no arguments): unknown members, missing or
  // ill-typed arguments fail with QEMU's input error texts; a handler's error status is
  // returned unchanged (its message is the QMP "desc"). On success returns the result,
  // {} for a command without one. Values are allocated from `alloc`.
  [[nodiscard]] absl::StatusOr<rapidjson::Value> Call(
      const CommandEntry& entry, const rapidjson::Value* args,
      rapidjson::Document::AllocatorType& alloc) const;

 private:
  std::vector<std::unique_ptr<CommandEntry>> entries_;
  std::map<std::string, const CommandEntry*, std::less<>> by_name_;
};

}  // namespace migemu::qapi

#endif  // MIGEMU_QAPI_COMMAND_REGISTRY_H_
