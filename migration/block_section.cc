#include "migration/block_section.h"

#include <absl/strings/str_format.h>
#include <errno.h>
#include <stdio.h>

#include <string>

namespace migemu::migration {

namespace {
constexpr int kSectorBits = 9;  // BDRV_SECTOR_BITS
}  // namespace

void PutBlockSetup(QemuFileWriter& w) { w.PutBe64(kBlkMigFlagEos); }

void PutBlockIterate(QemuFileWriter& w) { w.PutBe64(kBlkMigFlagEos); }

void PutBlockComplete(QemuFileWriter& w) {
  w.PutBe64((uint64_t{100} << kSectorBits) | kBlkMigFlagProgress);
  w.PutBe64(kBlkMigFlagEos);
}

absl::Status BlockLoader::Load(QemuFileReader& f, uint32_t /*version_id*/, LoadReport& report) {
  // block_load(): flags in the low sector bits, the address (or progress) above.
  while (true) {
    const uint64_t word = f.GetBe64();
    if (f.error() != 0) {
      return LoadFailure(f.error());
    }
    const uint64_t flags = word & ((uint64_t{1} << kSectorBits) - 1);
    const uint64_t addr = word >> kSectorBits;
    if ((flags & kBlkMigFlagDeviceBlock) != 0) {
      std::string name;
      f.GetCountedString(&name);
      report.Error(absl::StrFormat("Error unknown block device %s", name));
      return LoadFailure(-EINVAL);
    }
    if ((flags & kBlkMigFlagProgress) != 0) {
      if (!banner_printed_) {
        printf("Receiving block device images\n");
        banner_printed_ = true;
      }
      printf("Completed %d %%%c", static_cast<int>(addr), addr == 100 ? '\n' : '\r');
      fflush(stdout);
    } else if ((flags & kBlkMigFlagEos) == 0) {
      report.Error(
          absl::StrFormat("Unknown block migration flags: 0x%x", static_cast<unsigned>(flags)));
      return LoadFailure(-EINVAL);
    }
    if ((flags & kBlkMigFlagEos) != 0) {
      return absl::OkStatus();
    }
  }
}

}  // namespace migemu::migration
