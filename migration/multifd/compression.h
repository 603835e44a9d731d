// File: migration/multifd/compression.h
//
// The per-channel payload methods of multifd (QEMU's MultiFDMethods: nocomp, zlib, zstd). One
// object per channel and direction, kept for the whole migration: zlib and zstd are *one*
// stream per channel (never finished; each packet ends with Z_SYNC_FLUSH / ZSTD_e_flush), so a
// packet can only be decoded with the state the channel's previous packets left.
//
//   MIG_ASSIGN_OR_RETURN(auto send, CreateSendMethod(config, id));
//   MIG_ASSIGN_OR_RETURN(uint32_t size, send->Prepare(block, offsets, iov));   // iov += payload
//
//   MIG_ASSIGN_OR_RETURN(auto recv, CreateRecvMethod(config, id));
//   MIG_RETURN_IF_ERROR(recv->RecvPages(channel, packet));   // into guest RAM
//
// `none` sends iovecs pointing straight into guest RAM (the only payload that may go with
// io::kWriteZeroCopy) and reads pages straight into guest RAM with one readv. zlib/zstd
// compress into a per-channel buffer that is rewritten by the next Prepare, and decode from a
// per-channel buffer directly into the destination pages.
//
// Thread-safety: none; each object belongs to one channel thread.
#ifndef MIGEMU_MIGRATION_MULTIFD_COMPRESSION_H_
#define MIGEMU_MIGRATION_MULTIFD_COMPRESSION_H_

#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include <absl/types/span.h>
#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "io/channel.h"
#include "migration/multifd/config.h"
#include "migration/multifd/packet.h"
#include "system/guest_memory.h"

namespace migemu::migration {

class MultifdSendMethod {
 public:
  virtual ~MultifdSendMethod() = default;
  MultifdSendMethod(const MultifdSendMethod&) = delete;
  MultifdSendMethod& operator=(const MultifdSendMethod&) = delete;

  // Prepare: send_prepare(): appends the payload of the pages at `offsets` (non-empty) of
  // `block` to `iov` and returns its size (next_packet_size). The iovecs stay valid until the
  // next Prepare. Errors carry QEMU's texts ("multifd %u: deflate ...").
  virtual absl::StatusOr<uint32_t> Prepare(const system::RamBlock& block,
                                           absl::Span<const uint64_t> offsets,
                                           std::vector<iovec>& iov) = 0;
  // flag: the compression bits this method sets in every data packet.
  virtual uint32_t flag() const = 0;
  // payload_is_guest_memory: true when the payload iovecs point into guest RAM (which lives for
  // the whole migration), i.e. when sending them with io::kWriteZeroCopy is allowed.
  virtual bool payload_is_guest_memory() const = 0;

 protected:
  MultifdSendMethod() = default;
};

class MultifdRecvMethod {
 public:
  virtual ~MultifdRecvMethod() = default;
  MultifdRecvMethod(const MultifdRecvMethod&) = delete;
  MultifdRecvMethod& operator=(const MultifdRecvMethod&) = delete;

  // RecvPages: recv_pages(): checks the packet's compression bits against this method ("multifd
  // %u: flags received %x flags expected %x"), then reads the payload from `channel` and stores
  // packet.normal_pages pages into packet.block at packet.offsets (validated by UnfillPacket).
  virtual absl::Status RecvPages(io::Channel& channel, const ReceivedPacket& packet) = 0;

  // Decode: for compressed methods, inflates `payload` (one packet's bytes) into the pages, with
  // the channel's stream state; what RecvPages does after reading. `none` copies the pages.
  virtual absl::Status Decode(absl::Span<const uint8_t> payload, const ReceivedPacket& packet) = 0;

 protected:
  MultifdRecvMethod() = default;
};

// CreateSendMethod / CreateRecvMethod: the method of `config.compression` for channel `id`
// (the id appears in error texts). Setup errors carry QEMU's texts.
absl::StatusOr<std::unique_ptr<MultifdSendMethod>> CreateSendMethod(const MultifdConfig& config,
                                                                    uint8_t id);
absl::StatusOr<std::unique_ptr<MultifdRecvMethod>> CreateRecvMethod(const MultifdConfig& config,
                                                                    uint8_t id);

// CompressionFlag: the packet flag bits of a method.
uint32_t CompressionFlag(qapi::MultiFDCompression compression);

}  // namespace migemu::migration

#endif  // MIGEMU_MIGRATION_MULTIFD_COMPRESSION_H_
