// File: io/named_fds.h
//
// NamedFdLookup is how the io layer reaches the monitor's table of named descriptors (QMP/HMP
// `getfd`), which "fd:NAME" addresses refer to. The io layer does not own that table; whoever
// does (the monitor) passes a lookup that removes the entry and hands its descriptor over, as
// QEMU's monitor_get_fd() does, or fails with
// "File descriptor named 'NAME' has not been found" (kFmtFdNotFound in io/errors.h).
//
//   io::NamedFdLookup lookup = [&](absl::string_view name) { return monitor.TakeFd(name); };
//   MIG_ASSIGN_OR_RETURN(auto ch, io::OpenMigrationFd("myfd", io::UriDirection::kOutgoing,
//                                                     &lookup));
#ifndef MIGEMU_IO_NAMED_FDS_H_
#define MIGEMU_IO_NAMED_FDS_H_

#include <absl/status/statusor.h>
#include <absl/strings/string_view.h>

#include <functional>

#include "util/unique_fd.h"

namespace migemu::io {

using NamedFdLookup = std::function<absl::StatusOr<util::UniqueFd>(absl::string_view name)>;

}  // namespace migemu::io

#endif  // MIGEMU_IO_NAMED_FDS_H_
