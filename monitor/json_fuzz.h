// File: monitor/json_fuzz.h
//
// FuzzJsonInput is the body of the libFuzzer target for QMP's JSON layer (the target itself,
// tests/fuzz/, only aborts when this returns an error):
//
//   extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
//     MIG_CHECK(migemu::monitor::FuzzJsonInput(data, size).ok(), "JSON property violated");
//     return 0;
//   }
//
// Besides running the parser and the writer on arbitrary bytes (so sanitizers can see them), it
// checks properties that must hold for every input:
//  1. feeding the input at once, byte by byte, or split at one input-derived point gives the
//     same results (same errors, same values), also after Flush();
//  2. the writer's output is printable ASCII;
//  3. every parsed value survives FormatQmpJson -> ParseQmpJson unchanged (numbers compared by
//     value, objects as sets of members), unless it holds an infinity, which QEMU prints as the
//     non-JSON word inf.
#ifndef MIGEMU_MONITOR_JSON_FUZZ_H_
#define MIGEMU_MONITOR_JSON_FUZZ_H_

#include <absl/status/status.h>

#include <cstddef>
#include <cstdint>

namespace migemu::monitor {

// FuzzJsonInput: OK, or Internal naming the violated property.
[[nodiscard]] absl::Status FuzzJsonInput(const uint8_t* data, size_t size);

}  // namespace migemu::monitor

#endif  // MIGEMU_MONITOR_JSON_FUZZ_H_
