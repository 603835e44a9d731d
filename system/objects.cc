#include "system/objects.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>

#include <cctype>
#include <utility>

#include "io/tls_errors.h"
#include "system/tls_objects.h"

namespace migemu::system {

absl::StatusOr<std::unique_ptr<MemoryBackendObject>> MemoryBackendObject::Create(
    const MemoryBackendConfig& config, bool mem_prealloc) {
  const bool prealloc = config.prealloc || mem_prealloc;
  absl::StatusOr<std::unique_ptr<RamBlock>> block =
      config.type == "memory-backend-file"
          ? RamBlock::CreateFromFile(config.id, config.size, config.mem_path, config.share,
                                     prealloc)
          : RamBlock::CreateAnonymous(config.id, config.size, prealloc);
  if (!block.ok()) {
    return block.status();
  }
  return std::unique_ptr<MemoryBackendObject>(
      new MemoryBackendObject(config, std::move(*block)));  // NOLINT: private constructor
}

bool ObjectRegistry::IsIdentifier(absl::string_view id) {
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

absl::Status ObjectRegistry::Add(const std::string& id, std::unique_ptr<UserObject> object) {
  if (!IsIdentifier(id)) {
    return absl::InvalidArgumentError("Parameter 'id' expects an identifier");
  }
  absl::MutexLock lock(&mu_);
  if (objects_.count(id) != 0) {
    return absl::AlreadyExistsError(
        absl::StrCat("attempt to add duplicate property '", id, "' to object (type 'container')"));
  }
  objects_.emplace(id, std::move(object));
  return absl::OkStatus();
}

absl::Status ObjectRegistry::Del(const std::string& id) {
  std::unique_ptr<UserObject> doomed;  // destroyed after the lock is released
  absl::MutexLock lock(&mu_);
  auto it = objects_.find(id);
  if (it == objects_.end()) {
    return absl::NotFoundError(absl::StrCat("object '", id, "' not found"));
  }
  if (!it->second->CanBeDeleted()) {
    return absl::FailedPreconditionError(
        absl::StrCat("object '", id, "' is in use, can not be deleted"));
  }
  doomed = std::move(it->second);
  objects_.erase(it);
  return absl::OkStatus();
}

UserObject* ObjectRegistry::Find(absl::string_view id) const {
  absl::MutexLock lock(&mu_);
  auto it = objects_.find(id);
  return it == objects_.end() ? nullptr : it->second.get();
}

absl::StatusOr<std::shared_ptr<const io::TlsCreds>> ObjectRegistry::LookupTlsCreds(
    absl::string_view id) const {
  absl::MutexLock lock(&mu_);
  auto it = objects_.find(id);
  if (it == objects_.end()) {
    return absl::NotFoundError(absl::StrFormat(io::kFmtNoTlsCreds, id));
  }
  const auto* creds = dynamic_cast<const TlsCredsObject*>(it->second.get());
  if (creds == nullptr) {
    return absl::InvalidArgumentError(absl::StrFormat(io::kFmtNotTlsCreds, id));
  }
  return creds->creds();
}

absl::StatusOr<std::shared_ptr<const io::AuthzList>> ObjectRegistry::LookupAuthz(
    absl::string_view id) const {
  absl::MutexLock lock(&mu_);
  auto it = objects_.find(id);
  if (it == objects_.end()) {
    return absl::NotFoundError(absl::StrFormat(io::kFmtNoAuthz, id));
  }
  const auto* authz = dynamic_cast<const AuthzListObject*>(it->second.get());
  if (authz == nullptr) {
    return absl::InvalidArgumentError(absl::StrFormat(io::kFmtNotAuthz, id));
  }
  return authz->list();
}

}  // namespace migemu::system
