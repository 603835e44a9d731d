// File: migration/block_section.h
//
// The `block` section of old-style block migration (capability `block`, `migrate -b/-i`; QEMU's
// migration/block.c). Machine `none` has no block devices, so the section carries only its
// end-of-stage markers and the final progress report, exactly as QEMU 7.2 sends them for a
// guest without disks:
//   setup:    be64 EOS
//   iterate:  be64 EOS
//   complete: be64 (100 << 9 | PROGRESS), be64 EOS
// The loader accepts that, prints QEMU's progress lines, and rejects device blocks (there is no
// device to write them to) with QEMU's text.
#ifndef MIGEMU_MIGRATION_BLOCK_SECTION_H_
#define MIGEMU_MIGRATION_BLOCK_SECTION_H_

#include <cstdint>

#include "migration/qemu_file.h"
#include "migration/savevm.h"
#include "migration/section_handler.h"

namespace migemu::migration {

// The block handler registers before `ram` in QEMU, so its section id is 1.
inline const SectionInfo kBlockSection{"block", 1, 0, 1};

inline constexpr uint64_t kBlkMigFlagDeviceBlock = 0x01;
inline constexpr uint64_t kBlkMigFlagEos = 0x02;
inline constexpr uint64_t kBlkMigFlagProgress = 0x04;
inline constexpr uint64_t kBlkMigFlagZeroBlock = 0x08;

// Stage payloads (the caller writes the section header and footer).
void PutBlockSetup(QemuFileWriter& w);
void PutBlockIterate(QemuFileWriter& w);
void PutBlockComplete(QemuFileWriter& w);

class BlockLoader final : public SectionHandler {
 public:
  BlockLoader() = default;
  absl::string_view idstr() const override { return "block"; }
  uint32_t instance_id() const override { return 0; }
  uint32_t version_id() const override { return 1; }
  absl::Status Load(QemuFileReader& f, uint32_t version_id, LoadReport& report) override;

 private:
  bool banner_printed_ = false;
};

}  // namespace migemu::migration

#endif  // MIGEMU_MIGRATION_BLOCK_SECTION_H_
