#include "migration/ram_codec.h"

#include <absl/strings/str_format.h>
#include <errno.h>
#include <zlib.h>

#include <cstring>
#include <string>

#include "migration/errors.h"
#include "util/check.h"

namespace migemu::migration {

// ---- RamEncoder --------------------------------------------------------------------------------

void RamEncoder::PutMemSize(const system::GuestMemory& memory) {
  w_.PutBe64(memory.total_bytes() | kRamSaveFlagMemSize);
  for (const auto& block : memory.blocks()) {
    w_.PutCountedString(block->idstr());
    w_.PutBe64(block->used_length());
  }
}

void RamEncoder::PutPageHeader(const system::RamBlock& block, uint64_t offset_and_flags) {
  // save_page_header(): the block name is sent only when it changes on this stream.
  if (&block == last_sent_block_) {
    w_.PutBe64(offset_and_flags | kRamSaveFlagContinue);
    return;
  }
  w_.PutBe64(offset_and_flags);
  w_.PutCountedString(block.idstr());
  last_sent_block_ = &block;
}

void RamEncoder::PutPage(const system::RamBlock& block, uint64_t offset) {
  PutPageHeader(block, offset | kRamSaveFlagPage);
  w_.PutPageRef(block.host() + offset, kTargetPageSize);
}

void RamEncoder::PutZeroPage(const system::RamBlock& block, uint64_t offset) {
  PutPageHeader(block, offset | kRamSaveFlagZero);
  w_.PutByte(0);
}

RamEncoder::PageKind RamEncoder::SavePage(const system::RamBlock& block, size_t page) {
  const uint64_t offset = uint64_t{page} << kTargetPageBits;
  if (block.IsZeroPage(page)) {
    PutZeroPage(block, offset);
    return PageKind::kZero;
  }
  PutPage(block, offset);
  return PageKind::kNormal;
}

// ---- XBZRLE ------------------------------------------------------------------------------------

namespace {

// A ULEB128 number of at most two bytes (uleb128_decode_small); -1 if a third byte would follow.
int DecodeUlebSmall(const uint8_t* in, uint32_t* n) {
  if ((in[0] & 0x80) == 0) {
    *n = in[0];
    return 1;
  }
  if ((in[1] & 0x80) != 0) {
    return -1;
  }
  *n = (in[0] & 0x7fu) | (uint32_t{in[1]} << 7);
  return 2;
}

}  // namespace

int XbzrleDecode(const uint8_t* src, int slen, uint8_t* dst, int dlen) {
  if (dst == nullptr || dlen < 0 || (src == nullptr && slen != 0)) {
    return -1;
  }
  int i = 0;
  int d = 0;
  while (i < slen) {
    // Unchanged run: may be 0 only at the very start.
    uint32_t count = 0;
    if (slen - i < 2) {
      return -1;
    }
    int used = DecodeUlebSmall(src + i, &count);
    if (used < 0 || (i != 0 && count == 0)) {
      return -1;
    }
    i += used;
    if (int64_t{d} + count > dlen) {
      return -1;
    }
    d += static_cast<int>(count);
    // Changed run: length > 0, then that many new bytes.
    if (slen - i < 2) {
      return -1;
    }
    used = DecodeUlebSmall(src + i, &count);
    if (used < 0 || count == 0) {
      return -1;
    }
    i += used;
    if (int64_t{d} + count > dlen || int64_t{i} + count > slen) {
      return -1;
    }
    std::memcpy(dst + d, src + i, count);
    d += static_cast<int>(count);
    i += static_cast<int>(count);
  }
  return d;
}

// ---- RamLoader ---------------------------------------------------------------------------------

struct RamLoader::Inflater {
  Inflater() = default;
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;
  Inflater(Inflater&&) = delete;
  Inflater& operator=(Inflater&&) = delete;
  z_stream stream{};
  bool ready = false;
  ~Inflater() {
    if (ready) {
      inflateEnd(&stream);
    }
  }
};

RamLoader::RamLoader(system::GuestMemory& memory, RamLoadOptions options)
    : memory_(memory), options_(options), scratch_(kCompressBoundPage) {}

RamLoader::~RamLoader() = default;

system::RamBlock* RamLoader::BlockFromStream(QemuFileReader& f, uint64_t flags,
                                             LoadReport& report) {
  if ((flags & kRamSaveFlagContinue) != 0) {
    if (last_recv_block_ == nullptr) {
      report.Error(kErrAckBadStream);
      return nullptr;
    }
    return last_recv_block_;
  }
  char id[256] = {};
  size_t len = f.GetByte();
  f.GetBuffer(reinterpret_cast<uint8_t*>(id), len);
  std::string name = CString(absl::string_view(id, len));
  system::RamBlock* block = memory_.Find(name);
  if (block == nullptr) {
    report.Error(absl::StrFormat(kErrCantFindBlock, name));
    return nullptr;
  }
  last_recv_block_ = block;
  return block;
}

absl::Status RamLoader::LoadMemSize(QemuFileReader& f, uint64_t total, LoadReport& report) {
  // Every block the source lists must exist here with the same length (fixed-size blocks: a
  // length that differs after host-page alignment is qemu_ram_resize()'s "Size mismatch").
  while (total != 0) {
    char id[256] = {};
    size_t len = f.GetByte();
    f.GetBuffer(reinterpret_cast<uint8_t*>(id), len);
    std::string name = CString(absl::string_view(id, len));
    uint64_t length = f.GetBe64();
    system::RamBlock* block = memory_.Find(name);
    if (block == nullptr) {
      report.Error(absl::StrFormat(kErrUnknownRamblock, name));
      return LoadFailure(-EINVAL);
    }
    if (length != block->used_length()) {
      uint64_t aligned = (length + system::kPageSize - 1) & ~uint64_t{system::kPageSize - 1};
      if (aligned != block->used_length()) {
        report.Error(
            absl::StrFormat(kErrSizeMismatch, block->idstr(), aligned, block->used_length()));
        return LoadFailure(-EINVAL);
      }
    }
    // A stream cut short reads as zero-length "" blocks, which fail above, so this loop always
    // ends; the guard only matters if a block could be named "".
    if (f.error() != 0) {
      return LoadFailure(f.error());
    }
    total -= length;  // unsigned wrap as QEMU's ram_addr_t: a short total keeps reading
  }
  return absl::OkStatus();
}

absl::Status RamLoader::LoadCompressed(QemuFileReader& f, uint8_t* host, LoadReport& report) {
  const auto len = static_cast<int32_t>(f.GetBe32());
  if (len < 0 || len > kCompressBoundPage) {
    report.Error(absl::StrFormat(kErrInvalidCompressedLength, len));
    return LoadFailure(-EINVAL);
  }
  size_t got = f.GetBuffer(scratch_.data(), static_cast<size_t>(len));
  if (got != static_cast<size_t>(len)) {
    return absl::OkStatus();  // the stream error surfaces at the end of the record
  }
  if (inflater_ == nullptr) {
    inflater_ = std::make_unique<Inflater>();
    if (inflateInit(&inflater_->stream) != Z_OK) {
      inflater_.reset();
      report.Error(kErrDecompressFailed);
      f.SetError(-1, absl::InternalError("zlib inflateInit failed"));
      return absl::OkStatus();
    }
    inflater_->ready = true;
  }
  // qemu_uncompress_data(): one complete zlib stream that inflates into this page.
  z_stream& zs = inflater_->stream;
  int err = inflateReset(&zs);
  if (err == Z_OK) {
    zs.next_in = scratch_.data();
    zs.avail_in = static_cast<uInt>(len);
    zs.next_out = host;
    zs.avail_out = static_cast<uInt>(kTargetPageSize);
    err = inflate(&zs, Z_NO_FLUSH);
  }
  if (err != Z_STREAM_END) {
    // QEMU's decompression thread reports and sets the file error to -1.
    report.Error(kErrDecompressFailed);
    f.SetError(-1, absl::DataLossError(kErrDecompressFailed));
  }
  return absl::OkStatus();
}

bool RamLoader::LoadXbzrle(QemuFileReader& f, uint8_t* host, LoadReport& report) {
  const uint8_t xh_flags = f.GetByte();
  const uint16_t xh_len = f.GetBe16();
  if (xh_flags != kEncodingFlagXbzrle) {
    report.Error(kErrXbzrleWrongCompression);
    return false;
  }
  if (xh_len > kTargetPageSize) {
    report.Error(kErrXbzrleLenOverflow);
    return false;
  }
  size_t got = f.GetBuffer(scratch_.data(), xh_len);
  std::memset(scratch_.data() + got, 0, xh_len - got);
  if (XbzrleDecode(scratch_.data(), xh_len, host, static_cast<int>(kTargetPageSize)) == -1) {
    report.Error(kErrXbzrleDecode);
    return false;
  }
  return true;
}

absl::Status RamLoader::Load(QemuFileReader& f, uint32_t version_id, LoadReport& report) {
  if (version_id != kRamVersion) {
    return LoadFailure(-EINVAL);
  }
  const uint64_t invalid_flags = options_.compress ? 0 : kRamSaveFlagCompressPage;
  uint64_t flags = 0;
  absl::Status ret;
  // Mirrors ram_load_precopy(): one record per iteration until EOS or the first failure; a
  // stream error (truncation) is picked up after each record.
  while (ret.ok() && (flags & kRamSaveFlagEos) == 0) {
    uint64_t addr = f.GetBe64();
    flags = addr & ~kTargetPageMask;
    addr &= kTargetPageMask;

    if ((flags & invalid_flags) != 0) {
      if ((flags & invalid_flags & kRamSaveFlagCompressPage) != 0) {
        report.Error(kErrUnexpectedCompressedPage);
      }
      ret = LoadFailure(-EINVAL);
      break;
    }

    uint8_t* host = nullptr;
    if ((flags & (kRamSaveFlagZero | kRamSaveFlagPage | kRamSaveFlagCompressPage |
                  kRamSaveFlagXbzrle)) != 0) {
      system::RamBlock* block = BlockFromStream(f, flags, report);
      // The only bounds check guest memory needs: a whole page at a page-aligned offset
      // below used_length is inside the block.
      if (block != nullptr && addr < block->used_length()) {
        host = block->host() + addr;
      }
      if (host == nullptr) {
        report.Error(absl::StrFormat(kErrIllegalRamOffset, addr));
        ret = LoadFailure(-EINVAL);
        break;
      }
    }

    // Every case below that touches `host` has one of the page flags set, so `host` is a
    // checked, non-null page address there.
    switch (flags & ~kRamSaveFlagContinue) {
      case kRamSaveFlagMemSize:
        ret = LoadMemSize(f, addr, report);
        break;
      case kRamSaveFlagZero: {
        const uint8_t ch = f.GetByte();
        ++stats_.zero_pages;
        // ram_handle_compressed(): leave an already-zero page alone (no write, no fault-in).
        MIG_CHECK(host != nullptr, "ZERO record without a page");
        if (ch != 0 || !system::IsZeroBuffer(host, kTargetPageSize)) {
          std::memset(host, ch, kTargetPageSize);
          ++stats_.zero_pages_written;
        }
        break;
      }
      case kRamSaveFlagPage:
        f.ReadInto(host, kTargetPageSize);
        ++stats_.pages;
        break;
      case kRamSaveFlagCompressPage:
        ret = LoadCompressed(f, host, report);
        ++stats_.compressed_pages;
        break;
      case kRamSaveFlagXbzrle:
        if (!LoadXbzrle(f, host, report)) {
          report.Error(absl::StrFormat(kErrXbzrleAt, addr));
          ret = LoadFailure(-EINVAL);
        }
        ++stats_.xbzrle_pages;
        break;
      case kRamSaveFlagEos:
        ++stats_.eos;
        if (eos_hook_) {
          if (absl::Status s = eos_hook_(); !s.ok()) {
            report.Error(std::string(s.message()));
            ret = LoadFailure(-EIO);
          }
        }
        break;
      default:
        if ((flags & kRamSaveFlagHook) != 0) {
          // ram_control_load_hook() without RDMA hooks: a silent -EINVAL on the file.
          f.SetError(-EINVAL, absl::InvalidArgumentError(
                                  "RAM_SAVE_FLAG_HOOK received on a non-RDMA stream"));
        } else {
          report.Error(absl::StrFormat(kErrUnknownFlags, static_cast<uint32_t>(flags)));
          ret = LoadFailure(-EINVAL);
        }
    }
    if (ret.ok() && f.error() != 0) {
      ret = LoadFailure(f.error());
    }
  }
  return ret;
}

}  // namespace migemu::migration
