#include "migration/multifd/packet.h"

#include <absl/strings/str_format.h>

#include <algorithm>
#include <cstring>

#include "migration/multifd/errors.h"

namespace migemu::migration {
namespace {

void PutBe32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

void PutBe64(uint8_t* p, uint64_t v) {
  PutBe32(p, static_cast<uint32_t>(v >> 32));
  PutBe32(p + 4, static_cast<uint32_t>(v));
}

uint32_t GetBe32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

uint64_t GetBe64(const uint8_t* p) { return (uint64_t{GetBe32(p)} << 32) | GetBe32(p + 4); }

// Field offsets of MultiFDPacket_t.
constexpr size_t kOffMagic = 0;
constexpr size_t kOffVersion = 4;
constexpr size_t kOffFlags = 8;
constexpr size_t kOffPagesAlloc = 12;
constexpr size_t kOffNormalPages = 16;
constexpr size_t kOffNextPacketSize = 20;
constexpr size_t kOffPacketNum = 24;

}  // namespace

std::array<uint8_t, kMultifdInitSize> EncodeInitPacket(const MultifdUuid& uuid, uint8_t id) {
  std::array<uint8_t, kMultifdInitSize> msg{};
  PutBe32(msg.data(), kMultifdMagic);
  PutBe32(msg.data() + 4, kMultifdVersion);
  std::memcpy(msg.data() + 8, uuid.data(), uuid.size());
  msg[24] = id;
  return msg;
}

std::string FormatUuid(const MultifdUuid& u) {
  return absl::StrFormat("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                         u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11],
                         u[12], u[13], u[14], u[15]);
}

absl::StatusOr<uint8_t> ParseInitPacket(absl::Span<const uint8_t> bytes,
                                        const MultifdUuid& local_uuid, int channels) {
  if (bytes.size() < kMultifdInitSize) {
    return absl::InvalidArgumentError("multifd: short initial packet");
  }
  const uint32_t magic = GetBe32(bytes.data());
  if (magic != kMultifdMagic) {
    return absl::InvalidArgumentError(absl::StrFormat(kFmtInitMagic, magic, kMultifdMagic));
  }
  const uint32_t version = GetBe32(bytes.data() + 4);
  if (version != kMultifdVersion) {
    return absl::InvalidArgumentError(absl::StrFormat(kFmtInitVersion, version, kMultifdVersion));
  }
  MultifdUuid uuid;
  std::memcpy(uuid.data(), bytes.data() + 8, uuid.size());
  const uint8_t id = bytes[24];
  if (uuid != local_uuid) {
    // %hhd: QEMU prints the id as a signed char.
    return absl::InvalidArgumentError(absl::StrFormat(kFmtInitUuid, FormatUuid(uuid),
                                                      FormatUuid(local_uuid),
                                                      static_cast<int>(static_cast<int8_t>(id))));
  }
  // Mirrors QEMU's `msg.id > migrate_multifd_channels()` but also refuses id == channels, which
  // QEMU 7.2 accepts and then uses to index past its channel array.
  if (int{id} >= channels) {
    return absl::InvalidArgumentError(absl::StrFormat(kFmtInitChannelId, version, kMultifdVersion));
  }
  return id;
}

void FillPacket(uint8_t* header, const PacketFields& fields, const system::RamBlock* block,
                absl::Span<const uint64_t> offsets) {
  PutBe32(header + kOffMagic, kMultifdMagic);
  PutBe32(header + kOffVersion, kMultifdVersion);
  PutBe32(header + kOffFlags, fields.flags);
  PutBe32(header + kOffPagesAlloc, fields.pages_alloc);
  PutBe32(header + kOffNormalPages, static_cast<uint32_t>(offsets.size()));
  PutBe32(header + kOffNextPacketSize, fields.next_packet_size);
  PutBe64(header + kOffPacketNum, fields.packet_num);
  std::memset(header + 32, 0, 32);  // unused[4]
  if (block != nullptr) {
    // strncpy(ramblock, idstr, 256): NUL padded, not terminated at 256 characters.
    uint8_t* name = header + kMultifdRamblockOffset;
    const std::string& id = block->idstr();
    const size_t n = std::min(id.size(), kMultifdRamblockLen);
    std::memcpy(name, id.data(), n);
    std::memset(name + n, 0, kMultifdRamblockLen - n);
  }
  uint8_t* slot = header + kMultifdOffsetsOffset;
  for (uint64_t offset : offsets) {
    PutBe64(slot, offset);
    slot += 8;
  }
}

absl::Status UnfillPacket(absl::Span<const uint8_t> header, const system::GuestMemory& memory,
                          ReceivedPacket* out) {
  if (header.size() < kMultifdPacketLen) {
    return absl::InvalidArgumentError("multifd: short packet header");
  }
  const uint8_t* h = header.data();
  const uint32_t magic = GetBe32(h + kOffMagic);
  if (magic != kMultifdMagic) {
    return absl::InvalidArgumentError(absl::StrFormat(kFmtPacketMagic, magic, kMultifdMagic));
  }
  const uint32_t version = GetBe32(h + kOffVersion);
  if (version != kMultifdVersion) {
    return absl::InvalidArgumentError(absl::StrFormat(kFmtPacketVersion, version, kMultifdVersion));
  }
  out->flags = GetBe32(h + kOffFlags);
  out->pages_alloc = GetBe32(h + kOffPagesAlloc);
  if (out->pages_alloc > kMultifdPageCount) {
    return absl::InvalidArgumentError(
        absl::StrFormat(kFmtPacketSize, out->pages_alloc, kMultifdPageCount));
  }
  out->normal_pages = GetBe32(h + kOffNormalPages);
  if (out->normal_pages > out->pages_alloc) {
    return absl::InvalidArgumentError(
        absl::StrFormat(kFmtPacketPages, out->normal_pages, out->pages_alloc));
  }
  out->next_packet_size = GetBe32(h + kOffNextPacketSize);
  out->packet_num = GetBe64(h + kOffPacketNum);
  out->block = nullptr;
  if (out->normal_pages == 0) {
    return absl::OkStatus();  // the other fields of an empty packet are stale: ignored
  }
  // QEMU forces ramblock[255] = 0 before the lookup.
  const char* name = reinterpret_cast<const char*>(h + kMultifdRamblockOffset);
  const size_t name_len = ::strnlen(name, kMultifdRamblockLen - 1);
  const absl::string_view idstr(name, name_len);
  system::RamBlock* block = memory.Find(idstr);
  if (block == nullptr) {
    return absl::InvalidArgumentError(absl::StrFormat(kFmtUnknownBlock, idstr));
  }
  const uint64_t used = block->used_length();
  const uint8_t* slot = h + kMultifdOffsetsOffset;
  for (uint32_t i = 0; i < out->normal_pages; ++i, slot += 8) {
    const uint64_t offset = GetBe64(slot);
    // QEMU: offset > used_length - page_size (a block is never shorter than a page here; the
    // extra test keeps a degenerate block from wrapping).
    if (used < system::kPageSize || offset > used - system::kPageSize) {
      return absl::InvalidArgumentError(absl::StrFormat(kFmtOffsetTooLong, offset, used));
    }
    out->offsets[i] = offset;
  }
  out->block = block;
  return absl::OkStatus();
}

}  // namespace migemu::migration
