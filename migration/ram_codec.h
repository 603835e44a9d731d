// File: migration/ram_codec.h
//
// The payload of the `ram` section (QEMU 7.2 migration/ram.c): a sequence of records, each a
// be64 word whose low 12 bits are RAM_SAVE_FLAG_* and whose upper bits are a page offset (or the
// total RAM size for MEM_SIZE), followed by the record's data.
//
// RamEncoder writes MEM_SIZE (setup stage), ZERO and PAGE records and EOS, with QEMU's CONTINUE
// rule (a page record names its block only when the block differs from the previous page
// record's on this stream). Page data is referenced, never copied (QemuFileWriter::PutPageRef).
//
//   RamEncoder ram(w);
//   ram.PutMemSize(memory);                 // START payload
//   ram.PutEos();
//   for (page : dirty) ram.SavePage(*block, page);   // PART/END payload: ZERO or PAGE
//   ram.PutEos();
//
// RamLoader is the `ram` SectionHandler: it applies records to GuestMemory with every check of
// ram_load_precopy() and its texts, and never writes outside a block: offsets are checked
// against the block's used length before any byte is stored. A zero record only writes when
// the page is not already zero (ram_handle_compressed), so a fresh destination stays untouched.
//
// Thread-safety: both are used by one thread (migration thread / load thread).
#ifndef MIGEMU_MIGRATION_RAM_CODEC_H_
#define MIGEMU_MIGRATION_RAM_CODEC_H_

#include <absl/status/status.h>
#include <absl/strings/string_view.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "migration/qemu_file.h"
#include "migration/section_handler.h"
#include "migration/stream_format.h"
#include "system/guest_memory.h"

namespace migemu::migration {

class RamEncoder final {
 public:
  enum class PageKind { kZero, kNormal };

  // `w` must outlive the encoder.
  explicit RamEncoder(QemuFileWriter& w) : w_(w) {}
  RamEncoder(const RamEncoder&) = delete;
  RamEncoder& operator=(const RamEncoder&) = delete;

  // PutMemSize: be64(total bytes | MEM_SIZE), then per block: counted idstr + be64 used_length.
  void PutMemSize(const system::GuestMemory& memory);
  // PutPage: PAGE record; the page's bytes are referenced until the writer's next Flush().
  void PutPage(const system::RamBlock& block, uint64_t offset);
  // PutZeroPage: ZERO record with fill byte 0.
  void PutZeroPage(const system::RamBlock& block, uint64_t offset);
  // SavePage: ZERO if the page is all zero, else PAGE (QEMU's save_zero_page/ram_save_page).
  PageKind SavePage(const system::RamBlock& block, size_t page);
  // PutEos: RAM_SAVE_FLAG_EOS, the end of this section's payload.
  void PutEos() { w_.PutBe64(kRamSaveFlagEos); }
  // ResetLastBlock: the next page record names its block again (a new stream).
  void ResetLastBlock() { last_sent_block_ = nullptr; }

 private:
  void PutPageHeader(const system::RamBlock& block, uint64_t offset_and_flags);

  QemuFileWriter& w_;
  const system::RamBlock* last_sent_block_ = nullptr;
};

// RamLoadOptions: destination capabilities that change what the loader accepts.
struct RamLoadOptions {
  // Capability `compress`: accept COMPRESS_PAGE records (else "Received an unexpected
  // compressed page").
  bool compress = false;
};

// RamLoadStats: what the loader applied (for the engine's statistics and for tests).
struct RamLoadStats {
  uint64_t pages = 0;               // PAGE records
  uint64_t zero_pages = 0;          // ZERO records
  uint64_t zero_pages_written = 0;  // of those, pages that were not zero and got written
  uint64_t compressed_pages = 0;    // COMPRESS_PAGE records
  uint64_t xbzrle_pages = 0;        // XBZRLE records
  uint64_t eos = 0;                 // RAM_SAVE_FLAG_EOS seen
};

class RamLoader final : public SectionHandler {
 public:
  // `memory` must outlive the loader. The block list is fixed (machine `none`: one block).
  explicit RamLoader(system::GuestMemory& memory, RamLoadOptions options = {});
  ~RamLoader() override;

  absl::string_view idstr() const override { return kRamIdstr; }
  uint32_t instance_id() const override { return 0; }
  uint32_t version_id() const override { return kRamVersion; }
  absl::Status Load(QemuFileReader& f, uint32_t version_id, LoadReport& report) override;

  // SetEosHook: called at every RAM_SAVE_FLAG_EOS, where QEMU runs multifd_recv_sync_main()
  // (wait until every multifd channel delivered its SYNC). A failure fails the load; its
  // message is reported.
  void SetEosHook(std::function<absl::Status()> hook) { eos_hook_ = std::move(hook); }

  const RamLoadStats& stats() const { return stats_; }

 private:
  struct Inflater;

  // ram_block_from_stream(): the record's block (CONTINUE: the last one), or nullptr after
  // reporting why.
  system::RamBlock* BlockFromStream(QemuFileReader& f, uint64_t flags, LoadReport& report);
  absl::Status LoadMemSize(QemuFileReader& f, uint64_t total, LoadReport& report);
  absl::Status LoadCompressed(QemuFileReader& f, uint8_t* host, LoadReport& report);
  // load_xbzrle(): false after reporting one of QEMU's three texts.
  bool LoadXbzrle(QemuFileReader& f, uint8_t* host, LoadReport& report);

  system::GuestMemory& memory_;
  RamLoadOptions options_;
  std::function<absl::Status()> eos_hook_;
  system::RamBlock* last_recv_block_ = nullptr;  // per stream, across sections
  std::vector<uint8_t> scratch_;                 // compressed / XBZRLE payload (<= 4110 bytes)
  std::unique_ptr<Inflater> inflater_;
  RamLoadStats stats_;
};

// XbzrleDecode: applies an XBZRLE delta (ULEB128 zero-run / non-zero-run pairs) to `dst`
// (`dlen` bytes) in place; returns the decoded length, or -1 for a malformed delta (with the
// same rules as QEMU's xbzrle_decode_buffer). Never writes outside dst[0, dlen).
int XbzrleDecode(const uint8_t* src, int slen, uint8_t* dst, int dlen);

}  // namespace migemu::migration

#endif  // MIGEMU_MIGRATION_RAM_CODEC_H_
