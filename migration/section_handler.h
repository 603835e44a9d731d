// File: migration/section_handler.h
//
// SectionHandler is what the loader (LoadVmState, migration/savevm.h) dispatches a START/PART/
// END/FULL section to: QEMU's SaveStateEntry on the load side. migemu registers `ram`
// (RamLoader), `timer` and `globalstate` (device_state.h); the engine passes them per load.
//
// Errors follow QEMU's shape so the destination prints what QEMU prints: a handler reports each
// line QEMU would print with LoadReport::Error(), and fails with LoadFailure(-errno), the value
// QEMU's load function returns (it ends up in "load of migration failed: <strerror>").
//
//   absl::Status Load(QemuFileReader& f, int version_id, LoadReport& report) override {
//     if (version_id != 4) return LoadFailure(-EINVAL);
//     ...
//     report.Error(absl::StrFormat(kErrIllegalRamOffset, addr));
//     return LoadFailure(-EINVAL);
//   }
//
// Thread-safety: handlers run on the load thread only.
#ifndef MIGEMU_MIGRATION_SECTION_HANDLER_H_
#define MIGEMU_MIGRATION_SECTION_HANDLER_H_

#include <absl/status/status.h>
#include <absl/strings/string_view.h>

#include <cstdint>
#include <string>
#include <vector>

#include "migration/qemu_file.h"

namespace migemu::migration {

// LoadReport: the lines QEMU's destination would print on stderr while loading (error_report()
// texts as they are; warn_report() texts with its "warning: " prefix), without the
// "qemu-system-x86_64: " program prefix. Also carries success-path diagnostics such as
// "Expected vmdescription section, but got 0".
class LoadReport final {
 public:
  void Error(std::string line) { lines_.push_back(std::move(line)); }
  void Warning(absl::string_view line) { lines_.push_back("warning: " + std::string(line)); }
  const std::vector<std::string>& lines() const { return lines_; }
  bool empty() const { return lines_.empty(); }

 private:
  std::vector<std::string> lines_;
};

// LoadFailure: a failed load step carrying QEMU's negative errno (-EINVAL, -EIO, -1 ...). The
// status code follows the errno; the message is its strerror text.
absl::Status LoadFailure(int negative_errno);
// LoadFailure: the same with an explanatory message instead of the strerror text.
absl::Status LoadFailure(int negative_errno, absl::string_view message);

// LoadErrno: the negative errno carried by a LoadFailure (or by any status through its code);
// 0 for OK.
int LoadErrno(const absl::Status& status);

// CString: `s` up to its first NUL byte, i.e. what QEMU's C code sees of a counted string it
// read into a char buffer (strcmp lookups and %s formatting both stop there).
std::string CString(absl::string_view s);

class SectionHandler {
 public:
  virtual ~SectionHandler() = default;
  SectionHandler(const SectionHandler&) = delete;
  SectionHandler& operator=(const SectionHandler&) = delete;

  // The identity a START/FULL section is matched against (SaveStateEntry idstr/instance_id),
  // and the highest version this handler loads (se->version_id).
  virtual absl::string_view idstr() const = 0;
  virtual uint32_t instance_id() const = 0;
  virtual uint32_t version_id() const = 0;

  // Load: reads one section's payload (up to, not including, the footer). `version_id` is the
  // version from the section's START/FULL header. Must not read beyond its payload on success.
  virtual absl::Status Load(QemuFileReader& f, uint32_t version_id, LoadReport& report) = 0;

 protected:
  SectionHandler() = default;
};

}  // namespace migemu::migration

#endif  // MIGEMU_MIGRATION_SECTION_HANDLER_H_
