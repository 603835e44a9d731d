// File: system/objects.h
//
// User-creatable objects (QEMU's -object / object-add / object-del, user_creatable_*): each has
// a QOM type and an id, and may be in use (a memory backend that is the machine's RAM, TLS
// credentials referenced by a migration). The registry enforces QEMU's rules and texts: ids
// are identifiers, unique, and objects in use cannot be deleted.
//
// Ownership: the registry owns its objects. Thread-safety: Add, Del, Find and FindAs belong to
// the main loop thread; LookupTlsCreds and LookupAuthz may be called from any thread (migration
// threads resolve `tls-creds` and `tls-authz` at handshake time, as QEMU does) and return
// shared references that stay valid after object-del.
#ifndef MIGEMU_SYSTEM_OBJECTS_H_
#define MIGEMU_SYSTEM_OBJECTS_H_

#include <absl/base/thread_annotations.h>
#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include <absl/strings/string_view.h>
#include <absl/synchronization/mutex.h>

#include <map>
#include <memory>
#include <string>

#include "system/guest_memory.h"
#include "system/machine_config.h"

namespace migemu::io {
class AuthzList;
class TlsCreds;
}  // namespace migemu::io

namespace migemu::system {

class UserObject {
 public:
  virtual ~UserObject() = default;
  UserObject(const UserObject&) = delete;
  UserObject& operator=(const UserObject&) = delete;
  virtual absl::string_view type() const = 0;
  // CanBeDeleted: user_creatable_can_be_deleted().
  virtual bool CanBeDeleted() const { return true; }

 protected:
  UserObject() = default;
};

// A memory backend. Its RAM block is handed to the machine when the machine uses it as RAM
// (then it can no longer be deleted), otherwise the object keeps it.
class MemoryBackendObject final : public UserObject {
 public:
  static absl::StatusOr<std::unique_ptr<MemoryBackendObject>> Create(
      const MemoryBackendConfig& config, bool mem_prealloc);
  absl::string_view type() const override { return config_.type; }
  bool CanBeDeleted() const override { return block_ != nullptr; }
  const MemoryBackendConfig& config() const { return config_; }
  // TakeBlock: the machine takes the RAM block (once).
  std::unique_ptr<RamBlock> TakeBlock() { return std::move(block_); }

 private:
  MemoryBackendObject(MemoryBackendConfig config, std::unique_ptr<RamBlock> block)
      : config_(std::move(config)), block_(std::move(block)) {}
  MemoryBackendConfig config_;
  std::unique_ptr<RamBlock> block_;
};

class ObjectRegistry final {
 public:
  ObjectRegistry() = default;
  ObjectRegistry(const ObjectRegistry&) = delete;
  ObjectRegistry& operator=(const ObjectRegistry&) = delete;

  // Add: errors "Parameter 'id' expects an identifier" and "attempt to add duplicate property
  // '<id>' to object (type 'container')".
  absl::Status Add(const std::string& id, std::unique_ptr<UserObject> object);
  // Del: errors "object '<id>' not found" and "object '<id>' is in use, can not be deleted".
  absl::Status Del(const std::string& id);
  UserObject* Find(absl::string_view id) const;
  template <typename T>
  T* FindAs(absl::string_view id) const {
    return dynamic_cast<T*>(Find(id));
  }

  // LookupTlsCreds: migration_tls_get_creds(): errors "No TLS credentials with id '<id>'" and
  // "Object with id '<id>' is not TLS credentials".
  absl::StatusOr<std::shared_ptr<const io::TlsCreds>> LookupTlsCreds(absl::string_view id) const;
  // LookupAuthz: qauthz_is_allowed_by_id(): "Cannot find QAuthZ object ID <id>" and
  // "Object '<id>' is not a QAuthZ subclass".
  absl::StatusOr<std::shared_ptr<const io::AuthzList>> LookupAuthz(absl::string_view id) const;

  // IsIdentifier: QEMU's id_wellformed(): a letter, then letters, digits, '-', '.', '_'.
  static bool IsIdentifier(absl::string_view id);

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<UserObject>, std::less<>> objects_ ABSL_GUARDED_BY(mu_);
};

}  // namespace migemu::system

#endif  // MIGEMU_SYSTEM_OBJECTS_H_
