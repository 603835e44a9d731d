#include "migration/multifd/compression.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "io/buffer_channel.h"
#include "migration/multifd/packet.h"
#include "tests/unit/migration/multifd/multifd_test_util.h"

namespace migemu::migration {
namespace {

using multifd_testing::FillRandom;
using multifd_testing::MakeMemory;

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

MultifdConfig Config(qapi::MultiFDCompression c, int level = 1) {
  MultifdConfig config;
  config.compression = c;
  config.zlib_level = level;
  config.zstd_level = level;
  return config;
}

// Compressible but not trivial pages: a few random bytes in a repeated pattern.
void FillCompressible(system::RamBlock& block, uint32_t seed) {
  std::mt19937 rng(seed);
  for (size_t p = 0; p < block.page_count(); ++p) {
    uint8_t* page = block.PageHost(p);
    for (size_t i = 0; i < system::kPageSize; ++i) {
      page[i] = static_cast<uint8_t>((i * 7 + p) & 0x3f);
    }
    for (int k = 0; k < 16; ++k) {
      page[rng() % system::kPageSize] = static_cast<uint8_t>(rng());
    }
  }
}

std::vector<uint8_t> Concat(const std::vector<iovec>& iov) {
  std::vector<uint8_t> out;
  for (const iovec& v : iov) {
    const auto* p = static_cast<const uint8_t*>(v.iov_base);
    out.insert(out.end(), p, p + v.iov_len);
  }
  return out;
}

// One packet: `offsets` of block ram0, prepared by `send`.
struct Prepared {
  std::vector<uint8_t> payload;
  ReceivedPacket packet;
};

Prepared Prepare(MultifdSendMethod& send, system::RamBlock& src_block, system::RamBlock& dst_block,
                 const std::vector<uint64_t>& offsets) {
  Prepared out;
  std::vector<iovec> iov;
  auto size = send.Prepare(src_block, offsets, iov);
  EXPECT_TRUE(size.ok()) << size.status();
  out.payload = Concat(iov);
  EXPECT_EQ(out.payload.size(), size.ok() ? *size : 0u);
  out.packet.flags = send.flag();
  out.packet.normal_pages = static_cast<uint32_t>(offsets.size());
  out.packet.pages_alloc = kMultifdPageCount;
  out.packet.next_packet_size = static_cast<uint32_t>(out.payload.size());
  out.packet.block = &dst_block;
  std::copy(offsets.begin(), offsets.end(), out.packet.offsets.begin());
  return out;
}

class MethodRoundTripTest : public ::testing::TestWithParam<qapi::MultiFDCompression> {};

TEST_P(MethodRoundTripTest, ManyPacketsThroughOneStreamRebuildThePages) {
  auto src = MakeMemory({4 << 20});
  auto dst = MakeMemory({4 << 20});
  system::RamBlock& s = *src->Find("ram0");
  system::RamBlock& d = *dst->Find("ram0");
  FillCompressible(s, 5);
  auto send = CreateSendMethod(Config(GetParam()), 0);
  auto recv = CreateRecvMethod(Config(GetParam()), 0);
  ASSERT_TRUE(send.ok() && recv.ok());
  // Packets of 128, 1, 77 and 128 pages in scattered order, through one channel.
  std::vector<uint64_t> order(s.page_count());
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), std::mt19937(9));
  auto [a, b] = io::BufferChannel::CreatePair();
  size_t next = 0;
  for (size_t n : {128, 1, 77, 128, 128, 50}) {
    std::vector<uint64_t> offsets;
    for (size_t i = 0; i < n; ++i) {
      offsets.push_back(order[next++] * system::kPageSize);
    }
    Prepared p = Prepare(**send, s, d, offsets);
    ASSERT_TRUE(a->WriteAll(p.payload.data(), p.payload.size()).ok());
    ASSERT_TRUE((*recv)->RecvPages(*b, p.packet).ok());
    for (uint64_t off : offsets) {
      ASSERT_EQ(std::memcmp(s.host() + off, d.host() + off, system::kPageSize), 0) << off;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllMethods, MethodRoundTripTest,
                         ::testing::Values(qapi::MultiFDCompression::kNone,
                                           qapi::MultiFDCompression::kZlib,
                                           qapi::MultiFDCompression::kZstd));

TEST(NoneMethodTest, PayloadIsGuestMemoryWithContiguousPagesCoalesced) {
  auto mem = MakeMemory({1 << 20});
  system::RamBlock& b = *mem->Find("ram0");
  auto send = CreateSendMethod(Config(qapi::MultiFDCompression::kNone), 0);
  ASSERT_TRUE(send.ok());
  EXPECT_TRUE((*send)->payload_is_guest_memory());
  EXPECT_EQ((*send)->flag(), kMultifdFlagNocomp);
  std::vector<iovec> iov = {iovec{nullptr, 1344}};  // a header already in place stays alone
  auto size = (*send)->Prepare(b, {0, 4096, 8192, 40960, 4096}, iov);
  ASSERT_TRUE(size.ok());
  EXPECT_EQ(*size, 5u * 4096);
  ASSERT_EQ(iov.size(), 4u);
  EXPECT_EQ(iov[1].iov_base, b.host());
  EXPECT_EQ(iov[1].iov_len, 3u * 4096);
  EXPECT_EQ(iov[2].iov_base, b.host() + 40960);
  EXPECT_EQ(iov[3].iov_base, b.host() + 4096);
}

TEST(ZlibMethodTest, OneDeflateStreamPerChannelAtTheConfiguredLevel) {
  auto mem = MakeMemory({1 << 20});
  system::RamBlock& b = *mem->Find("ram0");
  FillCompressible(b, 1);
  for (int level : {1, 6, 9}) {
    SCOPED_TRACE(level);
    auto send = CreateSendMethod(Config(qapi::MultiFDCompression::kZlib, level), 0);
    ASSERT_TRUE(send.ok());
    EXPECT_FALSE((*send)->payload_is_guest_memory());
    EXPECT_EQ((*send)->flag(), kMultifdFlagZlib);
    // Reference: the same stream made directly with zlib at that level.
    z_stream ref{};
    ASSERT_EQ(deflateInit(&ref, level), Z_OK);
    for (int packet = 0; packet < 3; ++packet) {
      std::vector<uint64_t> offsets;
      for (int i = 0; i < 40; ++i) {
        offsets.push_back(uint64_t(packet * 40 + i) * 4096);
      }
      std::vector<iovec> iov;
      auto size = (*send)->Prepare(b, offsets, iov);
      ASSERT_TRUE(size.ok());
      std::vector<uint8_t> got = Concat(iov);
      std::vector<uint8_t> want(compressBound(40 * 4096));
      ref.next_out = want.data();
      ref.avail_out = static_cast<uInt>(want.size());
      for (size_t i = 0; i < offsets.size(); ++i) {
        ref.next_in = b.host() + offsets[i];
        ref.avail_in = 4096;
        ASSERT_EQ(deflate(&ref, i + 1 == offsets.size() ? Z_SYNC_FLUSH : Z_NO_FLUSH), Z_OK);
      }
      want.resize(want.size() - ref.avail_out);
      EXPECT_EQ(got, want) << "packet " << packet;
      ASSERT_GE(got.size(), 4u);
      EXPECT_EQ(std::vector<uint8_t>(got.end() - 4, got.end()),
                (std::vector<uint8_t>{0, 0, 0xff, 0xff}))
          << "every packet ends with a Z_SYNC_FLUSH marker";
      if (packet == 0) {
        const uint8_t flevel = level == 1 ? 0x01 : level == 6 ? 0x9c : 0xda;
        EXPECT_EQ(got[0], 0x78);
        EXPECT_EQ(got[1], flevel) << "zlib header carries the level";
      } else {
        EXPECT_NE(got[0], 0x78) << "no new zlib header: the stream continues";
      }
    }
    deflateEnd(&ref);
  }
}

TEST(ZstdMethodTest, OneZstdStreamPerChannelAtTheConfiguredLevel) {
  auto mem = MakeMemory({1 << 20});
  system::RamBlock& b = *mem->Find("ram0");
  FillCompressible(b, 2);
  for (int level : {1, 3, 19}) {
    SCOPED_TRACE(level);
    auto send = CreateSendMethod(Config(qapi::MultiFDCompression::kZstd, level), 0);
    ASSERT_TRUE(send.ok());
    EXPECT_EQ((*send)->flag(), kMultifdFlagZstd);
    ZSTD_CStream* ref = ZSTD_createCStream();
    ASSERT_FALSE(ZSTD_isError(ZSTD_initCStream(ref, level)));
    for (int packet = 0; packet < 3; ++packet) {
      std::vector<uint64_t> offsets;
      for (int i = 0; i < 40; ++i) {
        offsets.push_back(uint64_t(packet * 40 + i) * 4096);
      }
      std::vector<iovec> iov;
      ASSERT_TRUE((*send)->Prepare(b, offsets, iov).ok());
      std::vector<uint8_t> got = Concat(iov);
      std::vector<uint8_t> want(ZSTD_compressBound(40 * 4096));
      ZSTD_outBuffer out{want.data(), want.size(), 0};
      for (size_t i = 0; i < offsets.size(); ++i) {
        ZSTD_inBuffer in{b.host() + offsets[i], 4096, 0};
        size_t r = ZSTD_compressStream2(ref, &out, &in,
                                        i + 1 == offsets.size() ? ZSTD_e_flush : ZSTD_e_continue);
        ASSERT_FALSE(ZSTD_isError(r));
      }
      want.resize(out.pos);
      EXPECT_EQ(got, want) << "packet " << packet;
      if (packet == 0) {
        EXPECT_EQ(std::vector<uint8_t>(got.begin(), got.begin() + 4),
                  (std::vector<uint8_t>{0x28, 0xb5, 0x2f, 0xfd}))
            << "frame magic";
      }
    }
    ZSTD_freeCStream(ref);
  }
}

TEST(RecvMethodTest, CompressionFlagsMismatchHasQemusText) {
  auto mem = MakeMemory({1 << 20});
  ReceivedPacket p;
  p.normal_pages = 1;
  p.pages_alloc = 128;
  p.block = mem->Find("ram0");
  auto ch = io::BufferChannel::Create();
  struct Case {
    qapi::MultiFDCompression local;
    uint32_t flags;
    const char* text;
  };
  for (const Case& c : {
           Case{qapi::MultiFDCompression::kNone, kMultifdFlagZlib | kMultifdFlagSync,
                "multifd 3: flags received 2 flags expected 0"},
           Case{qapi::MultiFDCompression::kZlib, kMultifdFlagZstd,
                "multifd 3: flags received 4 flags expected 2"},
           Case{qapi::MultiFDCompression::kZstd, 0, "multifd 3: flags received 0 flags expected 4"},
           Case{qapi::MultiFDCompression::kZstd, 7u << 1,
                "multifd 3: flags received e flags expected 4"},
       }) {
    auto recv = CreateRecvMethod(Config(c.local), 3);
    ASSERT_TRUE(recv.ok());
    p.flags = c.flags;
    EXPECT_EQ(Msg((*recv)->RecvPages(*ch, p)), c.text);
  }
}

class CorruptPayloadTest : public ::testing::Test {
 protected:
  CorruptPayloadTest() : src_(MakeMemory({1 << 20})), dst_(MakeMemory({1 << 20})) {
    FillCompressible(*src_->Find("ram0"), 3);
  }
  Prepared Make(qapi::MultiFDCompression c, int pages) {
    auto send = CreateSendMethod(Config(c), 0);
    std::vector<uint64_t> offsets;
    for (int i = 0; i < pages; ++i) {
      offsets.push_back(uint64_t(i) * 4096);
    }
    return Prepare(**send, *src_->Find("ram0"), *dst_->Find("ram0"), offsets);
  }
  absl::Status Decode(qapi::MultiFDCompression c, const std::vector<uint8_t>& payload,
                      const ReceivedPacket& packet) {
    auto recv = CreateRecvMethod(Config(c), 0);
    return (*recv)->Decode(payload, packet);
  }
  std::unique_ptr<system::GuestMemory> src_;
  std::unique_ptr<system::GuestMemory> dst_;
};

TEST_F(CorruptPayloadTest, ZlibGarbageIsReportedWithQemusText) {
  Prepared p = Make(qapi::MultiFDCompression::kZlib, 4);
  p.payload[0] = 0x00;  // not a zlib header
  EXPECT_EQ(Msg(Decode(qapi::MultiFDCompression::kZlib, p.payload, p.packet)),
            "multifd 0: inflate returned -3 instead of Z_OK");
}

TEST_F(CorruptPayloadTest, ZlibTruncatedPayloadGivesTooFewOutput) {
  Prepared p = Make(qapi::MultiFDCompression::kZlib, 4);
  p.payload.resize(p.payload.size() / 2);
  const std::string m = Msg(Decode(qapi::MultiFDCompression::kZlib, p.payload, p.packet));
  EXPECT_THAT(m, ::testing::AnyOf("multifd 0: inflate generated too few output",
                                  "multifd 0: inflate returned -5 instead of Z_OK"));
}

TEST_F(CorruptPayloadTest, ZlibPacketClaimingFewerPagesThanSentIsASizeError) {
  Prepared p = Make(qapi::MultiFDCompression::kZlib, 1);
  p.packet.normal_pages = 2;  // the stream holds one page only
  const std::string m = Msg(Decode(qapi::MultiFDCompression::kZlib, p.payload, p.packet));
  EXPECT_THAT(m, ::testing::AnyOf("multifd 0: inflate generated too few output",
                                  "multifd 0: inflate returned -5 instead of Z_OK"));
}

TEST_F(CorruptPayloadTest, ZstdGarbageIsReportedWithQemusText) {
  Prepared p = Make(qapi::MultiFDCompression::kZstd, 4);
  p.payload[0] = 0x00;  // not a frame magic
  EXPECT_EQ(Msg(Decode(qapi::MultiFDCompression::kZstd, p.payload, p.packet)),
            "multifd 0: decompressStream returned Unknown frame descriptor");
}

TEST_F(CorruptPayloadTest, ZstdTruncatedPayloadGivesQemusBufferTooSmallText) {
  // QEMU's loop stops when the input runs out while zstd still wants more, and reports it
  // (misleadingly) as a small buffer.
  Prepared p = Make(qapi::MultiFDCompression::kZstd, 4);
  p.payload.resize(p.payload.size() / 2);
  EXPECT_EQ(Msg(Decode(qapi::MultiFDCompression::kZstd, p.payload, p.packet)),
            "multifd 0: decompressStream buffer too small");
}

TEST_F(CorruptPayloadTest, NoneDecodeChecksThePayloadSize) {
  Prepared p = Make(qapi::MultiFDCompression::kNone, 2);
  p.payload.pop_back();
  EXPECT_EQ(Msg(Decode(qapi::MultiFDCompression::kNone, p.payload, p.packet)),
            "multifd 0: packet size received 8191 size expected 8192");
}

TEST_F(CorruptPayloadTest, OversizedCompressedPayloadIsRefusedBeforeReading) {
  auto recv = CreateRecvMethod(Config(qapi::MultiFDCompression::kZlib), 1);
  ReceivedPacket p;
  p.flags = kMultifdFlagZlib;
  p.normal_pages = 1;
  p.block = dst_->Find("ram0");
  p.next_packet_size = (1u << 20) + 1;
  auto ch = io::BufferChannel::Create();
  EXPECT_EQ(Msg((*recv)->RecvPages(*ch, p)),
            "multifd 1: compressed packet of 1048577 bytes exceeds the maximum of 1048576");
}

TEST_F(CorruptPayloadTest, RandomPayloadsNeverWriteOutsideThePages) {
  // Fuzz-style: random bytes (valid stream start) decoded into page 1 of a block whose other
  // pages are a known pattern; whatever the result, only page 1 may change.
  for (auto c : {qapi::MultiFDCompression::kZlib, qapi::MultiFDCompression::kZstd}) {
    std::mt19937 rng(11);
    for (int iter = 0; iter < 300; ++iter) {
      Prepared p = Make(c, 1);
      std::vector<uint8_t> payload = p.payload;
      for (int k = 0; k < 4; ++k) {
        payload[2 + rng() % (payload.size() - 2)] = static_cast<uint8_t>(rng());
      }
      system::RamBlock& d = *dst_->Find("ram0");
      std::memset(d.host(), 0x5a, d.used_length());
      p.packet.offsets[0] = 4096;
      (void)Decode(c, payload, p.packet);
      const std::vector<uint8_t> pattern(d.used_length(), 0x5a);
      ASSERT_EQ(std::memcmp(d.host(), pattern.data(), 4096), 0) << iter;
      ASSERT_EQ(std::memcmp(d.host() + 8192, pattern.data(), d.used_length() - 8192), 0) << iter;
    }
  }
}

}  // namespace
}  // namespace migemu::migration
