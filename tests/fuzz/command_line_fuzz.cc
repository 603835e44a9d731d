// Fuzz target: the command line. The input is argv with NUL-separated arguments (argv[0] is
// "migemu"); ParseCommandLine and, when that succeeds, ParseMachineConfig decode it (sizes,
// key=value lists, -object, -workload, -uuid ...). Neither may crash; a help request or an
// error is a normal outcome.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "system/command_line.h"
#include "system/machine_config.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace migemu;  // NOLINT(google-build-using-namespace): a fuzz entry point
  std::vector<std::string> args = {"migemu"};
  std::string cur;
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == 0) {
      args.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(static_cast<char>(data[i]));
    }
  }
  if (!cur.empty() || size == 0) {
    args.push_back(cur);
  }
  std::vector<const char*> argv;
  for (const std::string& a : args) {
    argv.push_back(a.c_str());
  }
  argv.push_back(nullptr);
  absl::StatusOr<system::CommandLine> cl =
      system::ParseCommandLine(static_cast<int>(args.size()), argv.data());
  if (!cl.ok()) {
    fuzz::FuzzCheck(!cl.status().message().empty(), "a command-line error has a text");
    return 0;
  }
  system::EarlyExit early = system::EarlyExit::kNone;
  absl::StatusOr<system::MachineConfig> config = system::ParseMachineConfig(*cl, &early);
  if (!config.ok()) {
    fuzz::FuzzCheck(!config.status().message().empty(), "a configuration error has a text");
    return 0;
  }
  if (early != system::EarlyExit::kNone) {
    return 0;
  }
  fuzz::FuzzCheck(!config->ram_size_given || config->ram_size % 8192 == 0,
                  "-m sizes are rounded to 8 KiB");
  return 0;
}
