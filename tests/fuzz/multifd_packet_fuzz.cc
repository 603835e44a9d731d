// Fuzz target: the multifd wire decoders. The first 64 bytes are a MultiFDInit_t for
// ParseInitPacket (the channel count comes from byte 63, which a real init packet leaves 0);
// each following 1344 bytes are a MultiFDPacket_t header for UnfillPacket against guest RAM
// shaped like the captures'. A header UnfillPacket accepts must be safe to act on: its block
// exists, every page it names lies inside the block, and FillPacket
// writes the same header back.
#include <absl/strings/str_cat.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "migration/multifd/packet.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace migemu;  // NOLINT(google-build-using-namespace): a fuzz entry point
  using migration::kMultifdInitSize;
  using migration::kMultifdPacketLen;
  const migration::MultifdUuid uuid{};
  const size_t init = std::min(size, kMultifdInitSize);
  const int channels = size >= kMultifdInitSize ? 1 + data[kMultifdInitSize - 1] : 2;
  absl::StatusOr<uint8_t> id =
      migration::ParseInitPacket(absl::MakeConstSpan(data, init), uuid, channels);
  if (id.ok()) {
    fuzz::FuzzCheck(*id < channels, "an accepted channel id is below the channel count");
    fuzz::FuzzCheck(init == kMultifdInitSize, "a short init packet is refused");
  }
  const system::GuestMemory& memory = fuzz::CaptureMemory();
  for (size_t off = init; off < size; off += kMultifdPacketLen) {
    const size_t len = std::min(kMultifdPacketLen, size - off);
    migration::ReceivedPacket packet;
    absl::Status s = migration::UnfillPacket(absl::MakeConstSpan(data + off, len), memory, &packet);
    if (!s.ok()) {
      continue;
    }
    fuzz::FuzzCheck(len == kMultifdPacketLen, "a short header is refused");
    fuzz::FuzzCheck(packet.normal_pages <= packet.pages_alloc, "normal <= pages_alloc");
    fuzz::FuzzCheck(packet.pages_alloc <= migration::kMultifdPageCount, "pages_alloc <= 128");
    if (packet.normal_pages == 0) {
      continue;
    }
    fuzz::FuzzCheck(packet.block != nullptr, "a packet with pages names a block");
    for (uint32_t i = 0; i < packet.normal_pages; ++i) {
      const uint64_t o = packet.offsets[i];
      // Alignment is not checked, as in QEMU 7.2 (multifd_recv_unfill_packet() only bounds
      // the offset): an unaligned page is still written inside the block.
      fuzz::FuzzCheck(
          o < packet.block->used_length() && o + system::kPageSize <= packet.block->used_length(),
          absl::StrCat("offset ", o, " is a page inside the block"));
    }
    std::array<uint8_t, kMultifdPacketLen> again{};
    std::memcpy(again.data(), data + off, kMultifdPacketLen);
    migration::FillPacket(again.data(),
                          migration::PacketFields{.flags = packet.flags,
                                                  .pages_alloc = packet.pages_alloc,
                                                  .next_packet_size = packet.next_packet_size,
                                                  .packet_num = packet.packet_num},
                          packet.block,
                          absl::MakeConstSpan(packet.offsets.data(), packet.normal_pages));
    migration::ReceivedPacket reparsed;
    fuzz::FuzzCheckOk(migration::UnfillPacket(again, memory, &reparsed),
                      "a re-filled header decodes");
    fuzz::FuzzCheck(
        reparsed.flags == packet.flags && reparsed.normal_pages == packet.normal_pages &&
            reparsed.packet_num == packet.packet_num &&
            std::equal(reparsed.offsets.begin(), reparsed.offsets.begin() + reparsed.normal_pages,
                       packet.offsets.begin()),
        "a re-filled header decodes to the same packet");
  }
  return 0;
}
