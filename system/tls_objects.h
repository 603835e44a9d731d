// File: system/tls_objects.h
//
// The user-creatable objects behind TLS migration: `tls-creds-x509` and `tls-creds-psk`
// (QCryptoTLSCredsX509/PSK, holding an io::TlsCreds loaded at creation, as QEMU's complete()
// does) and `authz-list` (QAuthZList, holding an io::AuthzList). Both keep their payload in a
// shared_ptr so a migration thread can take a reference that survives `object-del` (QEMU's
// object_ref on the session's credentials).
//
// Property decoding from -object key=value lists and from QMP object-add, with QEMU 7.2's
// texts: "Invalid parameter 'foo'", "Parameter 'endpoint' does not accept value 'x'",
// "Property 'tls-creds-x509.loaded' is not writable", "No secret with id '%s'" ...
//
// Thread-safety: the objects are immutable after creation.
#ifndef MIGEMU_SYSTEM_TLS_OBJECTS_H_
#define MIGEMU_SYSTEM_TLS_OBJECTS_H_

#include <absl/status/statusor.h>

#include <memory>
#include <string>

#include "io/authz_list.h"
#include "io/tls_creds.h"
#include "qapi/qapi-types-authz.h"
#include "qapi/qapi-types-crypto.h"
#include "system/objects.h"
#include "util/keyval.h"

namespace migemu::system {

class TlsCredsObject final : public UserObject {
 public:
  TlsCredsObject(std::string type, std::shared_ptr<const io::TlsCreds> creds)
      : type_(std::move(type)), creds_(std::move(creds)) {}
  absl::string_view type() const override { return type_; }
  std::shared_ptr<const io::TlsCreds> creds() const { return creds_; }

 private:
  const std::string type_;
  const std::shared_ptr<const io::TlsCreds> creds_;
};

class AuthzListObject final : public UserObject {
 public:
  explicit AuthzListObject(std::shared_ptr<const io::AuthzList> list) : list_(std::move(list)) {}
  absl::string_view type() const override { return "authz-list"; }
  std::shared_ptr<const io::AuthzList> list() const { return list_; }

 private:
  const std::shared_ptr<const io::AuthzList> list_;
};

// What a tls-creds-* object is created from: its decoded properties plus the two QEMU refuses
// only when the object is completed (hence without the "-object ...: " prefix).
struct TlsCredsSpec {
  std::string type;  // tls-creds-x509 | tls-creds-psk
  io::TlsCredsConfig config;
  bool loaded_given = false;              // "Property '<type>.loaded' is not writable"
  std::optional<std::string> passwordid;  // "No secret with id '<id>'" (migemu has no secrets)
};

// TlsCredsSpecFromKeyval: decodes "-object tls-creds-x509|psk,..." (keys checked, values
// parsed); errors without the "-object ...: " prefix.
absl::StatusOr<TlsCredsSpec> TlsCredsSpecFromKeyval(const std::string& type,
                                                    const util::KeyvalList& kv);
// AuthzListFromKeyval: "-object
// authz-list,id=a,policy=deny,rules.0.match=...,rules.0.policy=allow".
absl::StatusOr<std::shared_ptr<const io::AuthzList>> AuthzListFromKeyval(
    const util::KeyvalList& kv);

// From QMP object-add (already checked against the schema).
TlsCredsSpec TlsCredsSpecFromX509(const qapi::TlsCredsX509Properties& p);
TlsCredsSpec TlsCredsSpecFromPsk(const qapi::TlsCredsPskProperties& p);
std::shared_ptr<const io::AuthzList> AuthzListFromQapi(const qapi::AuthZListProperties& p);

// CreateTlsCredsObject: completes the object: loads the credentials (io::TlsCreds::Load texts).
absl::StatusOr<std::unique_ptr<TlsCredsObject>> CreateTlsCredsObject(const TlsCredsSpec& spec);

}  // namespace migemu::system

#endif  // MIGEMU_SYSTEM_TLS_OBJECTS_H_
