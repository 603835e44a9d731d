#include "migration/multifd/compression.h"

#include <absl/strings/str_format.h>
#include <zlib.h>
#include <zstd.h>

#include <cstring>
#include <utility>

#include "migration/multifd/errors.h"
#include "util/status_macros.h"

namespace migemu::migration {
namespace {

constexpr size_t kPage = system::kPageSize;
// The receive buffer for one compressed packet: QEMU reserves twice the packet size.
constexpr size_t kRecvBufferSize = 2 * kMultifdPacketSize;

absl::Status CheckFlags(uint8_t id, uint32_t flags, uint32_t expected) {
  const uint32_t method = flags & kMultifdFlagCompressionMask;
  if (method != expected) {
    return absl::InvalidArgumentError(absl::StrFormat(kFmtFlags, id, method, expected));
  }
  return absl::OkStatus();
}

absl::Status CheckPayloadSize(uint8_t id, uint32_t size) {
  if (size > kRecvBufferSize) {
    return absl::InvalidArgumentError(
        absl::StrFormat(kFmtPayloadTooLarge, id, size, static_cast<uint32_t>(kRecvBufferSize)));
  }
  return absl::OkStatus();
}

// Appends one page iovec, extending the previous one when the page continues it (the bytes on
// the wire are the same; the kernel walks fewer segments).
void AddPageIov(std::vector<iovec>& iov, size_t first_own, uint8_t* page) {
  if (iov.size() > first_own) {
    iovec& last = iov.back();
    if (static_cast<uint8_t*>(last.iov_base) + last.iov_len == page) {
      last.iov_len += kPage;
      return;
    }
  }
  iov.push_back(iovec{page, kPage});
}

// ---- none ------------------------------------------------------------------------------------

class NoneSend final : public MultifdSendMethod {
 public:
  absl::StatusOr<uint32_t> Prepare(const system::RamBlock& block,
                                   absl::Span<const uint64_t> offsets,
                                   std::vector<iovec>& iov) override {
    const size_t first = iov.size();
    for (uint64_t offset : offsets) {
      AddPageIov(iov, first, block.host() + offset);
    }
    return static_cast<uint32_t>(offsets.size() * kPage);
  }
  uint32_t flag() const override { return kMultifdFlagNocomp; }
  bool payload_is_guest_memory() const override { return true; }
};

class NoneRecv final : public MultifdRecvMethod {
 public:
  explicit NoneRecv(uint8_t id) : id_(id) { iov_.reserve(kMultifdPageCount); }

  absl::Status RecvPages(io::Channel& channel, const ReceivedPacket& packet) override {
    MIG_RETURN_IF_ERROR(CheckFlags(id_, packet.flags, kMultifdFlagNocomp));
    iov_.clear();
    for (uint32_t i = 0; i < packet.normal_pages; ++i) {
      AddPageIov(iov_, 0, packet.block->host() + packet.offsets[i]);
    }
    // Straight into guest RAM: no bounce buffer.
    MIG_ASSIGN_OR_RETURN(bool filled, channel.ReadvAll(iov_));
    if (!filled) {
      return absl::DataLossError("Unexpected end-of-file before all data were read");
    }
    return absl::OkStatus();
  }

  absl::Status Decode(absl::Span<const uint8_t> payload, const ReceivedPacket& packet) override {
    MIG_RETURN_IF_ERROR(CheckFlags(id_, packet.flags, kMultifdFlagNocomp));
    const uint32_t expected = packet.normal_pages * static_cast<uint32_t>(kPage);
    if (payload.size() != expected) {
      return absl::InvalidArgumentError(absl::StrFormat(
          kFmtPacketSizeReceived, id_, static_cast<uint32_t>(payload.size()), expected));
    }
    for (uint32_t i = 0; i < packet.normal_pages; ++i) {
      std::memcpy(packet.block->host() + packet.offsets[i], payload.data() + i * kPage, kPage);
    }
    return absl::OkStatus();
  }

 private:
  const uint8_t id_;
  std::vector<iovec> iov_;
};

// ---- zlib ------------------------------------------------------------------------------------

// The z_stream points back at itself (state->strm), so these objects are created in place on
// the heap and never moved.
class ZlibSend final : public MultifdSendMethod {
 public:
  explicit ZlibSend(uint8_t id) : id_(id), zbuf_(compressBound(kMultifdPacketSize)) {}
  ~ZlibSend() override {
    if (initialized_) {
      deflateEnd(&zs_);
    }
  }

  absl::Status Init(int level) {
    zs_.zalloc = Z_NULL;
    zs_.zfree = Z_NULL;
    zs_.opaque = Z_NULL;
    if (deflateInit(&zs_, level) != Z_OK) {
      return absl::InternalError(absl::StrFormat(kFmtDeflateInit, id_));
    }
    initialized_ = true;
    return absl::OkStatus();
  }

  absl::StatusOr<uint32_t> Prepare(const system::RamBlock& block,
                                   absl::Span<const uint64_t> offsets,
                                   std::vector<iovec>& iov) override {
    size_t out_size = 0;
    for (size_t i = 0; i < offsets.size(); ++i) {
      const size_t available = zbuf_.size() - out_size;
      const int flush = i + 1 == offsets.size() ? Z_SYNC_FLUSH : Z_NO_FLUSH;
      // The guest may be writing the page: deflate is not safe on changing input, so it
      // compresses a copy (as QEMU does).
      std::memcpy(page_, block.host() + offsets[i], kPage);
      zs_.avail_in = kPage;
      zs_.next_in = page_;
      zs_.avail_out = static_cast<uInt>(available);
      zs_.next_out = zbuf_.data() + out_size;
      int ret = Z_OK;
      do {
        ret = deflate(&zs_, flush);
      } while (ret == Z_OK && zs_.avail_in != 0 && zs_.avail_out != 0);
      if (ret == Z_OK && zs_.avail_in != 0) {
        return absl::InternalError(absl::StrFormat(kFmtDeflateAllInput, id_));
      }
      if (ret != Z_OK) {
        return absl::InternalError(absl::StrFormat(kFmtDeflateReturned, id_, ret));
      }
      out_size += available - zs_.avail_out;
    }
    iov.push_back(iovec{zbuf_.data(), out_size});
    return static_cast<uint32_t>(out_size);
  }
  uint32_t flag() const override { return kMultifdFlagZlib; }
  bool payload_is_guest_memory() const override { return false; }

 private:
  const uint8_t id_;
  z_stream zs_{};
  bool initialized_ = false;
  std::vector<uint8_t> zbuf_;
  uint8_t page_[kPage];
};

class ZlibRecv final : public MultifdRecvMethod {
 public:
  explicit ZlibRecv(uint8_t id) : id_(id), zbuf_(kRecvBufferSize) {}
  ~ZlibRecv() override {
    if (initialized_) {
      inflateEnd(&zs_);
    }
  }

  absl::Status Init() {
    zs_.zalloc = Z_NULL;
    zs_.zfree = Z_NULL;
    zs_.opaque = Z_NULL;
    zs_.avail_in = 0;
    zs_.next_in = Z_NULL;
    if (inflateInit(&zs_) != Z_OK) {
      return absl::InternalError(absl::StrFormat(kFmtInflateInit, id_));
    }
    initialized_ = true;
    return absl::OkStatus();
  }

  absl::Status RecvPages(io::Channel& channel, const ReceivedPacket& packet) override {
    MIG_RETURN_IF_ERROR(CheckFlags(id_, packet.flags, kMultifdFlagZlib));
    MIG_RETURN_IF_ERROR(CheckPayloadSize(id_, packet.next_packet_size));
    MIG_RETURN_IF_ERROR(channel.ReadAll(zbuf_.data(), packet.next_packet_size));
    return Inflate(zbuf_.data(), packet.next_packet_size, packet);
  }

  absl::Status Decode(absl::Span<const uint8_t> payload, const ReceivedPacket& packet) override {
    MIG_RETURN_IF_ERROR(CheckFlags(id_, packet.flags, kMultifdFlagZlib));
    // zlib's next_in is not const without ZLIB_CONST; inflate only reads it.
    return Inflate(const_cast<uint8_t*>(payload.data()), static_cast<uint32_t>(payload.size()),
                   packet);
  }

 private:
  absl::Status Inflate(uint8_t* in, uint32_t in_size, const ReceivedPacket& packet) {
    const uint32_t expected = packet.normal_pages * static_cast<uint32_t>(kPage);
    const auto total_before = static_cast<uint32_t>(zs_.total_out);
    zs_.avail_in = in_size;
    zs_.next_in = in;
    for (uint32_t i = 0; i < packet.normal_pages; ++i) {
      const int flush = i + 1 == packet.normal_pages ? Z_SYNC_FLUSH : Z_NO_FLUSH;
      const uLong start = zs_.total_out;
      // Output is bounded to this one page of the block (offsets were validated).
      zs_.avail_out = kPage;
      zs_.next_out = packet.block->host() + packet.offsets[i];
      int ret = Z_OK;
      do {
        ret = inflate(&zs_, flush);
      } while (ret == Z_OK && zs_.avail_in != 0 && zs_.total_out - start < kPage);
      if (ret == Z_OK && zs_.total_out - start < kPage) {
        return absl::DataLossError(absl::StrFormat(kFmtInflateTooFew, id_));
      }
      if (ret != Z_OK) {
        return absl::DataLossError(absl::StrFormat(kFmtInflateReturned, id_, ret));
      }
    }
    const uint32_t out_size = static_cast<uint32_t>(zs_.total_out) - total_before;
    if (out_size != expected) {
      return absl::DataLossError(absl::StrFormat(kFmtPacketSizeReceived, id_, out_size, expected));
    }
    return absl::OkStatus();
  }

  const uint8_t id_;
  z_stream zs_{};
  bool initialized_ = false;
  std::vector<uint8_t> zbuf_;
};

// ---- zstd ------------------------------------------------------------------------------------

class ZstdSend final : public MultifdSendMethod {
 public:
  explicit ZstdSend(uint8_t id) : id_(id), zbuf_(ZSTD_compressBound(kMultifdPacketSize)) {}
  ~ZstdSend() override { ZSTD_freeCStream(cs_); }

  absl::Status Init(int level) {
    cs_ = ZSTD_createCStream();
    if (cs_ == nullptr) {
      return absl::InternalError(absl::StrFormat(kFmtCreateCStream, id_));
    }
    const size_t res = ZSTD_initCStream(cs_, level);
    if (ZSTD_isError(res) != 0) {
      return absl::InternalError(absl::StrFormat(kFmtInitCStream, id_, ZSTD_getErrorName(res)));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<uint32_t> Prepare(const system::RamBlock& block,
                                   absl::Span<const uint64_t> offsets,
                                   std::vector<iovec>& iov) override {
    ZSTD_outBuffer out{zbuf_.data(), zbuf_.size(), 0};
    for (size_t i = 0; i < offsets.size(); ++i) {
      const bool last = i + 1 == offsets.size();
      const ZSTD_EndDirective mode = last ? ZSTD_e_flush : ZSTD_e_continue;
      // Buffered mode: zstd copies the input into its window before compressing it, so a page
      // the guest changes meanwhile cannot confuse it (QEMU compresses in place too).
      ZSTD_inBuffer in{block.host() + offsets[i], kPage, 0};
      size_t ret = 0;
      // Unlike QEMU's loop, a flush is also continued while zstd reports bytes left to flush
      // after the input is consumed (never the case with a compressBound-sized buffer).
      do {
        ret = ZSTD_compressStream2(cs_, &out, &in, mode);
      } while (ZSTD_isError(ret) == 0 && (in.pos < in.size || (last && ret > 0)) &&
               out.pos < out.size);
      if (ZSTD_isError(ret) != 0) {
        return absl::InternalError(absl::StrFormat(kFmtCompressError, id_, ZSTD_getErrorName(ret)));
      }
      if (in.pos < in.size || (last && ret > 0)) {
        return absl::InternalError(absl::StrFormat(kFmtCompressTooSmall, id_));
      }
    }
    iov.push_back(iovec{zbuf_.data(), out.pos});
    return static_cast<uint32_t>(out.pos);
  }
  uint32_t flag() const override { return kMultifdFlagZstd; }
  bool payload_is_guest_memory() const override { return false; }

 private:
  const uint8_t id_;
  ZSTD_CStream* cs_ = nullptr;
  std::vector<uint8_t> zbuf_;
};

class ZstdRecv final : public MultifdRecvMethod {
 public:
  explicit ZstdRecv(uint8_t id) : id_(id), zbuf_(kRecvBufferSize) {}
  ~ZstdRecv() override { ZSTD_freeDStream(ds_); }

  absl::Status Init() {
    ds_ = ZSTD_createDStream();
    if (ds_ == nullptr) {
      return absl::InternalError(absl::StrFormat(kFmtCreateDStream, id_));
    }
    const size_t ret = ZSTD_initDStream(ds_);
    if (ZSTD_isError(ret) != 0) {
      return absl::InternalError(absl::StrFormat(kFmtInitDStream, id_, ZSTD_getErrorName(ret)));
    }
    return absl::OkStatus();
  }

  absl::Status RecvPages(io::Channel& channel, const ReceivedPacket& packet) override {
    MIG_RETURN_IF_ERROR(CheckFlags(id_, packet.flags, kMultifdFlagZstd));
    MIG_RETURN_IF_ERROR(CheckPayloadSize(id_, packet.next_packet_size));
    MIG_RETURN_IF_ERROR(channel.ReadAll(zbuf_.data(), packet.next_packet_size));
    return Decompress({zbuf_.data(), packet.next_packet_size}, packet);
  }

  absl::Status Decode(absl::Span<const uint8_t> payload, const ReceivedPacket& packet) override {
    MIG_RETURN_IF_ERROR(CheckFlags(id_, packet.flags, kMultifdFlagZstd));
    return Decompress(payload, packet);
  }

 private:
  absl::Status Decompress(absl::Span<const uint8_t> payload, const ReceivedPacket& packet) {
    const uint32_t expected = packet.normal_pages * static_cast<uint32_t>(kPage);
    ZSTD_inBuffer in{payload.data(), payload.size(), 0};
    uint32_t out_size = 0;
    for (uint32_t i = 0; i < packet.normal_pages; ++i) {
      ZSTD_outBuffer out{packet.block->host() + packet.offsets[i], kPage, 0};
      size_t ret = 0;
      do {
        ret = ZSTD_decompressStream(ds_, &out, &in);
      } while (ZSTD_isError(ret) == 0 && ret > 0 && in.pos < in.size && out.pos < kPage);
      if (ZSTD_isError(ret) != 0) {
        return absl::DataLossError(
            absl::StrFormat(kFmtDecompressReturned, id_, ZSTD_getErrorName(ret)));
      }
      if (ret > 0 && out.pos < kPage) {
        return absl::DataLossError(absl::StrFormat(kFmtDecompressTooSmall, id_));
      }
      out_size += static_cast<uint32_t>(out.pos);
    }
    if (out_size != expected) {
      return absl::DataLossError(absl::StrFormat(kFmtPacketSizeReceived, id_, out_size, expected));
    }
    return absl::OkStatus();
  }

  const uint8_t id_;
  ZSTD_DStream* ds_ = nullptr;
  std::vector<uint8_t> zbuf_;
};

}  // namespace

uint32_t CompressionFlag(qapi::MultiFDCompression compression) {
  switch (compression) {
    case qapi::MultiFDCompression::kZlib:
      return kMultifdFlagZlib;
    case qapi::MultiFDCompression::kZstd:
      return kMultifdFlagZstd;
    case qapi::MultiFDCompression::kNone:
      break;
  }
  return kMultifdFlagNocomp;
}

absl::StatusOr<std::unique_ptr<MultifdSendMethod>> CreateSendMethod(const MultifdConfig& config,
                                                                    uint8_t id) {
  switch (config.compression) {
    case qapi::MultiFDCompression::kZlib: {
      auto m = std::make_unique<ZlibSend>(id);
      MIG_RETURN_IF_ERROR(m->Init(config.zlib_level));
      return m;
    }
    case qapi::MultiFDCompression::kZstd: {
      auto m = std::make_unique<ZstdSend>(id);
      MIG_RETURN_IF_ERROR(m->Init(config.zstd_level));
      return m;
    }
    case qapi::MultiFDCompression::kNone:
      break;
  }
  return std::make_unique<NoneSend>();
}

absl::StatusOr<std::unique_ptr<MultifdRecvMethod>> CreateRecvMethod(const MultifdConfig& config,
                                                                    uint8_t id) {
  switch (config.compression) {
    case qapi::MultiFDCompression::kZlib: {
      auto m = std::make_unique<ZlibRecv>(id);
      MIG_RETURN_IF_ERROR(m->Init());
      return m;
    }
    case qapi::MultiFDCompression::kZstd: {
      auto m = std::make_unique<ZstdRecv>(id);
      MIG_RETURN_IF_ERROR(m->Init());
      return m;
    }
    case qapi::MultiFDCompression::kNone:
      break;
  }
  return std::make_unique<NoneRecv>(id);
}

}  // namespace migemu::migration
