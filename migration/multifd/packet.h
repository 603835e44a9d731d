// File: migration/multifd/packet.h
//
// The multifd channel wire format of QEMU 7.2 (docs/reference/multifd-wire.md): the 64-byte
// MultiFDInit_t that opens every channel, and the fixed-size MultiFDPacket_t header (1344 bytes
// with 4 KiB pages) in front of every batch. All integers big-endian, structures packed.
//
//   auto init = EncodeInitPacket(uuid, id);                     // sender, once per channel
//   MIG_ASSIGN_OR_RETURN(uint8_t id, ParseInitPacket(bytes, local_uuid, channels));
//
//   FillPacket(header, {.flags = kMultifdFlagSync, .packet_num = n}, block, offsets);
//   ReceivedPacket p;                                           // receiver, every packet
//   MIG_RETURN_IF_ERROR(UnfillPacket(header, memory, &p));
//
// The parsers are pure functions with every check and text of multifd_recv_initial_packet() /
// multifd_recv_unfill_packet(), in QEMU's order; they never read outside the given bytes and
// never trust a length, so they are fuzz targets. Thread-safety: stateless.
#ifndef MIGEMU_MIGRATION_MULTIFD_PACKET_H_
#define MIGEMU_MIGRATION_MULTIFD_PACKET_H_

#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include <absl/strings/string_view.h>
#include <absl/types/span.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "migration/multifd/config.h"
#include "system/guest_memory.h"

namespace migemu::migration {

inline constexpr uint32_t kMultifdMagic = 0x11223344;
inline constexpr uint32_t kMultifdVersion = 1;

// Packet flags (MULTIFD_FLAG_*): bit 0 SYNC, bits 1..3 the compression method.
inline constexpr uint32_t kMultifdFlagSync = 1u << 0;
inline constexpr uint32_t kMultifdFlagCompressionMask = 7u << 1;
inline constexpr uint32_t kMultifdFlagNocomp = 0u << 1;
inline constexpr uint32_t kMultifdFlagZlib = 1u << 1;
inline constexpr uint32_t kMultifdFlagZstd = 2u << 1;

// MULTIFD_PACKET_SIZE: page payload per batch; 128 pages of 4 KiB.
inline constexpr size_t kMultifdPacketSize = 512 * 1024;
inline constexpr uint32_t kMultifdPageCount =
    static_cast<uint32_t>(kMultifdPacketSize / system::kPageSize);

inline constexpr size_t kMultifdInitSize = 64;
inline constexpr size_t kMultifdRamblockLen = 256;
// Offsets of the header fields (MultiFDPacket_t).
inline constexpr size_t kMultifdRamblockOffset = 64;
inline constexpr size_t kMultifdOffsetsOffset = 320;
// packet_len: the header always carries every offset slot, used or not.
inline constexpr size_t kMultifdPacketLen = kMultifdOffsetsOffset + 8 * kMultifdPageCount;
static_assert(kMultifdPacketLen == 1344);

// EncodeInitPacket: MultiFDInit_t for channel `id` (magic, version 1, uuid, id, zeros).
std::array<uint8_t, kMultifdInitSize> EncodeInitPacket(const MultifdUuid& uuid, uint8_t id);

// ParseInitPacket: multifd_recv_initial_packet(): checks magic, version, that the uuid equals
// `local_uuid`, and the channel id; returns the id. The id check is QEMU's (with its misleading
// "channel version" text) but without its off-by-one: QEMU 7.2 lets id == channels through and
// then indexes past its array; here any id >= `channels` fails.
absl::StatusOr<uint8_t> ParseInitPacket(absl::Span<const uint8_t> bytes,
                                        const MultifdUuid& local_uuid, int channels);

// FormatUuid: qemu_uuid_unparse(): lower-case 8-4-4-4-12.
std::string FormatUuid(const MultifdUuid& uuid);

// What the sender puts in a header (multifd_send_fill_packet()).
struct PacketFields {
  uint32_t flags = 0;
  uint32_t pages_alloc = kMultifdPageCount;
  uint32_t next_packet_size = 0;
  uint64_t packet_num = 0;
};

// FillPacket: writes a header into `header` (kMultifdPacketLen bytes): the fields, the block
// name (NUL padded; kept from the previous packet when `block` is null, as QEMU does for empty
// SYNC packets) and the first offsets.size() offset slots (normal_pages = offsets.size()). Slots
// past them keep whatever the buffer held, as in QEMU (receivers ignore them).
void FillPacket(uint8_t* header, const PacketFields& fields, const system::RamBlock* block,
                absl::Span<const uint64_t> offsets);

// A validated header.
struct ReceivedPacket {
  uint32_t flags = 0;
  uint32_t pages_alloc = 0;
  uint32_t normal_pages = 0;
  uint32_t next_packet_size = 0;
  uint64_t packet_num = 0;
  system::RamBlock* block = nullptr;                  // set when normal_pages > 0
  std::array<uint64_t, kMultifdPageCount> offsets{};  // first normal_pages valid
};

// UnfillPacket: multifd_recv_unfill_packet(): magic, version, pages_alloc <= 128, normal_pages
// <= pages_alloc, then (only with pages) the block by name and every offset within the block,
// with QEMU's texts. `header` must hold kMultifdPacketLen bytes (else kInvalidArgument).
absl::Status UnfillPacket(absl::Span<const uint8_t> header, const system::GuestMemory& memory,
                          ReceivedPacket* out);

}  // namespace migemu::migration

#endif  // MIGEMU_MIGRATION_MULTIFD_PACKET_H_
