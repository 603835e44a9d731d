#include "qapi/command_registry.h"

#include <absl/status/statusor.h>
#include <absl/strings/string_view.h>
#include <rapidjson/document.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "util/check.h"

namespace migemu::qapi {

void CommandRegistry::Register(CommandEntry entry) {
  MIG_CHECK(entry.marshal != nullptr, "a QMP command needs a marshaller");
  MIG_CHECK(by_name_.find(entry.name) == by_name_.end(), "QMP command registered twice");
  auto owned = std::make_unique<CommandEntry>(std::move(entry));
  by_name_.emplace(owned->name, owned.get());
  entries_.push_back(std::move(owned));
}

const CommandEntry* CommandRegistry::Find(absl::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

CommandMarshal CommandRegistry::ReplaceMarshalForTest(absl::string_view name,
                                                      CommandMarshal marshal) {
  for (const auto& entry : entries_) {
    if (entry->name == name) {
      std::swap(entry->marshal, marshal);
      return marshal;
    }
  }
  return nullptr;
}

std::vector<std::string> CommandRegistry::Names() const {
  std::vector<std::string> names;
  names.reserve(entries_.size());
  for (const auto& entry : entries_) {
    names.push_back(entry->name);
  }
  return names;
}

absl::StatusOr<rapidjson::Value> CommandRegistry::Call(
    const CommandEntry& entry, const rapidjson::Value* args,
    rapidjson::Document::AllocatorType& alloc) const {
  return entry.marshal(args, alloc);
}

}  // namespace migemu::qapi
