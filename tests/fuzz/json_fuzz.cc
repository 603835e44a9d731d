// Fuzz target: QMP's JSON layer alone (monitor/json_fuzz.h states the properties checked: the
// same results however the bytes are split, printable output, lossless writer round trip).
#include "monitor/json_fuzz.h"

#include <cstddef>
#include <cstdint>

#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  migemu::fuzz::FuzzCheckOk(migemu::monitor::FuzzJsonInput(data, size), "JSON stream property");
  return 0;
}
