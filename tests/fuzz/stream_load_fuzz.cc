// Fuzz target: the destination's main-stream loader (LoadVmState with the section handlers an
// incoming migemu registers: timer, block, ram, globalstate) reading the input as a migration
// stream into guest RAM shaped like the captures' (tests/data/qemu-7.2: one 8 MiB "ram0").
// The last input byte's low bit turns the `compress` capability on, so the COMPRESS_PAGE
// inflater is reached too. A failed load must say why: a non-empty report ending with QEMU's
// "load of migration failed: ..." line.
#include <absl/strings/match.h>

#include <cstddef>
#include <cstdint>
#include <memory>

#include "io/buffer_channel.h"
#include "migration/block_section.h"
#include "migration/device_state.h"
#include "migration/qemu_file.h"
#include "migration/ram_codec.h"
#include "migration/savevm.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace migemu;  // NOLINT(google-build-using-namespace): a fuzz entry point
  std::unique_ptr<io::BufferChannel> channel = io::BufferChannel::Create();
  channel->PushInput(fuzz::AsText(data, size));
  channel->EndInput();
  migration::QemuFileReader reader(*channel);
  migration::RamLoadOptions ram_options;
  ram_options.compress = size > 0 && (data[size - 1] & 1) != 0;
  migration::RamLoader ram(fuzz::CaptureMemory(), ram_options);
  migration::TimerSection timer;
  migration::GlobalStateSection globalstate;
  migration::BlockLoader block;
  migration::SectionHandler* handlers[] = {&timer, &block, &ram, &globalstate};
  migration::LoadOptions options;
  migration::LoadHooks hooks;
  int pings = 0;
  hooks.open_return_path = [] { return absl::OkStatus(); };
  hooks.ping = [&pings](uint32_t) { ++pings; };
  migration::LoadReport report;
  absl::Status s = migration::LoadVmState(reader, handlers, options, hooks, &report);
  if (!s.ok()) {
    fuzz::FuzzCheck(!report.empty(), "a failed load reports why");
    fuzz::FuzzCheck(absl::StartsWith(report.lines().back(), "load of migration failed: "),
                    "a failed load ends with QEMU's line");
    fuzz::FuzzCheck(!s.message().empty(), "a failed load has a message");
  }
  return 0;
}
