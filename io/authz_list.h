// File: io/authz_list.h
//
// io::AuthzList: QEMU's `authz-list` object (authz/list.c): rules tried in order, the first whose
// `match` fits the identity decides; otherwise the list's default policy. For TLS the identity
// is the client certificate's distinguished name as gnutls_x509_crt_get_dn() prints it
// (e.g. "O=QEMU,CN=qemu-client").
//
//   io::AuthzList acl(/*default_allow=*/false, {{"O=QEMU,CN=qemu-client", true, false}});
//   if (acl.IsAllowed(dn)) ...
//
// Thread-safety: immutable, so thread-safe.
#ifndef MIGEMU_IO_AUTHZ_LIST_H_
#define MIGEMU_IO_AUTHZ_LIST_H_

#include <string>
#include <utility>
#include <vector>

namespace migemu::io {

class AuthzList final {
 public:
  struct Rule {
    std::string match;
    bool allow = false;
    bool glob = false;  // QAuthZListFormat glob (fnmatch) rather than exact
  };

  AuthzList(bool default_allow, std::vector<Rule> rules)
      : default_allow_(default_allow), rules_(std::move(rules)) {}

  // IsAllowed: qauthz_list_is_allowed().
  bool IsAllowed(const std::string& identity) const;

 private:
  const bool default_allow_;
  const std::vector<Rule> rules_;
};

}  // namespace migemu::io

#endif  // MIGEMU_IO_AUTHZ_LIST_H_
