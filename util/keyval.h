// File: util/keyval.h
//
// QEMU's option-list syntax ("QemuOpts"), used by -object, -machine, -name, -m, -workload and
// chardev addresses: "memory-backend-file,id=ram0,size=8M,mem-path=/x,share=on".
//   * items are separated by ','; a literal ',' inside a value is written ",,";
//   * "key=value" sets key; the first item may omit "key=" when the option has an implied
//     first key (-object's type, -machine's type, -m's size, -name's guest);
//   * a bare "flag" means flag=on and "noflag" means flag=off (QEMU 7.2 still accepts them).
#ifndef MIGEMU_UTIL_KEYVAL_H_
#define MIGEMU_UTIL_KEYVAL_H_

#include <absl/status/statusor.h>
#include <absl/strings/string_view.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace migemu::util {

class KeyvalList {
 public:
  std::vector<std::pair<std::string, std::string>> items;  // in input order

  // Last value of `key` (QEMU: the last occurrence wins), or nullopt.
  std::optional<std::string> Get(absl::string_view key) const;
  bool Has(absl::string_view key) const { return Get(key).has_value(); }

  // Keys not in `allowed`, in order (for "Invalid parameter 'x'" errors).
  std::optional<std::string> FirstUnknown(const std::vector<absl::string_view>& allowed) const;

  // GetBool: "on"/"off" (and QEMU's other spellings yes/no/true/false/y/n); `what` names the
  // option for the error "Parameter '<key>' expects 'on' or 'off'".
  absl::StatusOr<std::optional<bool>> GetBool(absl::string_view key) const;
};

// ParseKeyval: splits `text`. `implied_key` may be empty.
KeyvalList ParseKeyval(absl::string_view text, absl::string_view implied_key = "");

// ParseBool: QEMU's qapi_bool_parse spellings. nullopt when not a boolean.
std::optional<bool> ParseBool(absl::string_view value);

}  // namespace migemu::util

#endif  // MIGEMU_UTIL_KEYVAL_H_
