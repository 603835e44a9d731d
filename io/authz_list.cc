#include "io/authz_list.h"

#include <fnmatch.h>

namespace migemu::io {

bool AuthzList::IsAllowed(const std::string& identity) const {
  for (const Rule& rule : rules_) {
    const bool matches = rule.glob ? ::fnmatch(rule.match.c_str(), identity.c_str(), 0) == 0
                                   : rule.match == identity;
    if (matches) {
      return rule.allow;
    }
  }
  return default_allow_;
}

}  // namespace migemu::io
