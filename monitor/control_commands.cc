#include "monitor/control_commands.h"

#include <absl/strings/str_cat.h>

#include <utility>

#include "monitor/json_parser.h"
#include "qapi/error.h"
#include "qapi/qapi-introspect.h"
#include "qapi/qapi-visit-introspect.h"
#include "qapi/runtime.h"

namespace migemu::monitor {

ControlCommandsImpl::ControlCommandsImpl(MonitorSet& monitors,
                                         const qapi::CommandRegistry& registry,
                                         util::EventLoop& loop, std::function<void()> quit)
    : monitors_(monitors), registry_(registry), loop_(loop), quit_(std::move(quit)) {}

absl::Status ControlCommandsImpl::QmpCapabilities(const qapi::QmpCapabilitiesArg& arg) {
  QmpSession* s = monitors_.current();
  if (s == nullptr) {
    return absl::FailedPreconditionError("qmp_capabilities is only available on a QMP monitor");
  }
  if (s->negotiated()) {
    return qapi::WithErrorClass(
        absl::FailedPreconditionError(
            "Capabilities negotiation is already complete, command ignored"),
        "CommandNotFound");
  }
  // qmp_caps_accept(): every requested capability must have been offered.
  std::string unavailable;
  bool oob = false;
  for (qapi::QMPCapability c : arg.enable.value_or(std::vector<qapi::QMPCapability>{})) {
    const bool offered = c == qapi::QMPCapability::kOob && s->oob_offered();
    if (!offered) {
      absl::StrAppend(&unavailable, unavailable.empty() ? "" : ", ", qapi::EnumToString(c));
    }
    oob = oob || c == qapi::QMPCapability::kOob;
  }
  if (!unavailable.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("Capability ", unavailable, " not available"));
  }
  s->EnterCommandMode(oob);
  return absl::OkStatus();
}

absl::StatusOr<qapi::VersionInfo> ControlCommandsImpl::QueryVersion() {
  return monitors_.version();
}

absl::StatusOr<std::vector<qapi::CommandInfo>> ControlCommandsImpl::QueryCommands() {
  // QEMU prepends while walking its registration-ordered list: the answer is reversed.
  std::vector<std::string> names = registry_.Names();
  std::vector<qapi::CommandInfo> out;
  for (auto it = names.rbegin(); it != names.rend(); ++it) {
    qapi::CommandInfo info;
    info.name = *it;
    out.push_back(std::move(info));
  }
  return out;
}

absl::Status ControlCommandsImpl::Quit() {
  loop_.Post(quit_);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<qapi::SchemaInfo>> ControlCommandsImpl::QueryQmpSchema() {
  if (!schema_.has_value()) {
    absl::StatusOr<rapidjson::Document> doc = ParseQmpJson(qapi::QmpSchemaJson());
    if (!doc.ok()) {
      return absl::InternalError(absl::StrCat("introspection data: ", doc.status().message()));
    }
    qapi::InputPath path;
    std::vector<qapi::SchemaInfo> info;
    absl::Status s = qapi::FromJson(*doc, path, &info);
    if (!s.ok()) {
      return absl::InternalError(absl::StrCat("introspection data: ", s.message()));
    }
    schema_ = std::move(info);
  }
  return *schema_;
}

}  // namespace migemu::monitor
