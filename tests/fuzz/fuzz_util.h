// File: tests/fuzz/fuzz_util.h
//
// Helpers shared by the libFuzzer targets in tests/fuzz/ (docs/reliability.md lists them).
// Each target defines LLVMFuzzerTestOneInput; with -Dfuzz=true it links libFuzzer, otherwise
// replay_main.cc, which runs the target over files and directories (the committed corpus and
// the regression inputs) so that every build keeps the targets compiling and every crash ever
// found stays fixed.
#ifndef MIGEMU_TESTS_FUZZ_FUZZ_UTIL_H_
#define MIGEMU_TESTS_FUZZ_FUZZ_UTIL_H_

#include <absl/status/status.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/string_view.h>
#include <stdio.h>
#include <stdlib.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "system/guest_memory.h"

namespace migemu::fuzz {

// FuzzCheck: a property every input must satisfy; prints `what` and aborts (a crash the fuzzer
// records) when it does not.
inline void FuzzCheck(bool ok, absl::string_view what) {
  if (!ok) {
    fprintf(stderr, "fuzz property violated: %.*s\n", static_cast<int>(what.size()), what.data());
    abort();
  }
}

inline void FuzzCheckOk(const absl::Status& s, absl::string_view what) {
  if (!s.ok()) {
    fprintf(stderr, "fuzz property violated: %.*s: %s\n", static_cast<int>(what.size()),
            what.data(), std::string(s.message()).c_str());
    abort();
  }
}

// Refused: what a harness answers instead of running a command whose effect would leave the
// process (a connection or a program the input names, a file it would create).
inline absl::Status Refused(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("fuzz harness: ", why, " not run"));
}

// CaptureMemory: guest RAM shaped like the QEMU 7.2 captures' (one 8 MiB block "ram0"), created
// once per process: streams and multifd packets from tests/data/qemu-7.2 load into it.
inline system::GuestMemory& CaptureMemory() {
  static system::GuestMemory* memory = [] {
    auto* m = new system::GuestMemory();  // NOLINT: lives for the whole fuzzing process
    absl::StatusOr<std::unique_ptr<system::RamBlock>> block =
        system::RamBlock::CreateAnonymous("ram0", 8 << 20, false);
    FuzzCheckOk(block.status(), "cannot create the fuzz guest RAM");
    m->AddBlock(std::move(*block));
    return m;
  }();
  return *memory;
}

inline absl::string_view AsText(const uint8_t* data, size_t size) {
  return absl::string_view(reinterpret_cast<const char*>(data), size);
}

}  // namespace migemu::fuzz

#endif  // MIGEMU_TESTS_FUZZ_FUZZ_UTIL_H_
