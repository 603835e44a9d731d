#include "migration/ram_codec.h"

#include <errno.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <zlib.h>

#include <cstring>
#include <random>
#include <vector>

#include "migration/errors.h"
#include "tests/unit/migration/fake_channel.h"
#include "tests/unit/migration/test_util.h"

namespace migemu::migration {
namespace {

using ::migemu::migration::testing::Bytes;
using ::migemu::migration::testing::FakeChannel;
using ::migemu::migration::testing::MakeMemory;
using ::testing::ElementsAre;

constexpr uint64_t kPage = 4096;

struct LoadOutcome {
  absl::Status status;
  std::vector<std::string> lines;
};

LoadOutcome RunLoad(RamLoader& loader, std::vector<uint8_t> bytes, uint32_t version = 4) {
  FakeChannel ch(std::move(bytes));
  QemuFileReader r(ch);
  LoadReport report;
  LoadOutcome out;
  out.status = loader.Load(r, version, report);
  out.lines = report.lines();
  return out;
}

std::vector<uint8_t> CompressPage(const uint8_t* page) {
  uLongf len = compressBound(kPage);
  std::vector<uint8_t> out(len);
  EXPECT_EQ(compress2(out.data(), &len, page, kPage, 1), Z_OK);
  out.resize(len);
  return out;
}

// ---- Encoder --------------------------------------------------------------------------------

TEST(RamEncoderTest, MemSizeListsEveryBlock) {
  system::GuestMemory memory;
  memory.AddBlock(*system::RamBlock::CreateAnonymous("ram0", 2 * kPage, false));
  memory.AddBlock(*system::RamBlock::CreateAnonymous("vga.vram", kPage, false));
  FakeChannel ch;
  QemuFileWriter w(ch);
  RamEncoder enc(w);
  enc.PutMemSize(memory);
  enc.PutEos();
  ASSERT_TRUE(w.Flush().ok());
  EXPECT_EQ(ch.output(), Bytes()
                             .Be64(3 * kPage | 0x04)
                             .Counted("ram0")
                             .Be64(2 * kPage)
                             .Counted("vga.vram")
                             .Be64(kPage)
                             .Be64(0x10)
                             .data());
}

TEST(RamEncoderTest, BlockNameOnlyWhenTheBlockChanges) {
  system::GuestMemory memory;
  memory.AddBlock(*system::RamBlock::CreateAnonymous("a", 4 * kPage, false));
  memory.AddBlock(*system::RamBlock::CreateAnonymous("b", 4 * kPage, false));
  system::RamBlock& a = *memory.Find("a");
  system::RamBlock& b = *memory.Find("b");
  std::memset(a.PageHost(1), 0x11, kPage);
  std::memset(b.PageHost(2), 0x22, kPage);
  FakeChannel ch;
  QemuFileWriter w(ch);
  RamEncoder enc(w);
  EXPECT_EQ(enc.SavePage(a, 0), RamEncoder::PageKind::kZero);
  EXPECT_EQ(enc.SavePage(a, 1), RamEncoder::PageKind::kNormal);
  EXPECT_EQ(enc.SavePage(b, 2), RamEncoder::PageKind::kNormal);
  EXPECT_EQ(enc.SavePage(b, 3), RamEncoder::PageKind::kZero);
  enc.ResetLastBlock();
  EXPECT_EQ(enc.SavePage(b, 3), RamEncoder::PageKind::kZero);
  ASSERT_TRUE(w.Flush().ok());
  Bytes want;
  want.Be64(0 | 0x02).Counted("a").U8(0);
  want.Be64(kPage | 0x28).Fill(kPage, 0x11);
  want.Be64(2 * kPage | 0x08).Counted("b").Fill(kPage, 0x22);
  want.Be64(3 * kPage | 0x22).U8(0);
  want.Be64(3 * kPage | 0x02).Counted("b").U8(0);
  EXPECT_EQ(ch.output(), want.data());
}

// ---- Loader ---------------------------------------------------------------------------------

TEST(RamLoaderTest, RoundTripTwoBlocksWithPagesAndZeroPages) {
  std::mt19937_64 rng(42);
  system::GuestMemory src;
  src.AddBlock(*system::RamBlock::CreateAnonymous("ram0", 64 * kPage, false));
  src.AddBlock(*system::RamBlock::CreateAnonymous("pc.rom", 8 * kPage, false));
  for (const auto& block : src.blocks()) {
    for (size_t p = 0; p < block->page_count(); ++p) {
      if (rng() % 3 != 0) {
        for (size_t i = 0; i < kPage; i += 8) {
          uint64_t v = rng();
          std::memcpy(block->PageHost(p) + i, &v, 8);
        }
      }
    }
  }
  FakeChannel ch;
  QemuFileWriter w(ch);
  RamEncoder enc(w);
  enc.PutMemSize(src);
  enc.PutEos();
  // Interleave the blocks so CONTINUE and named records alternate.
  size_t zeros = 0;
  for (size_t p = 0; p < 64; ++p) {
    zeros += enc.SavePage(*src.blocks()[0], p) == RamEncoder::PageKind::kZero;
    if (p < 8) {
      zeros += enc.SavePage(*src.blocks()[1], p) == RamEncoder::PageKind::kZero;
    }
  }
  enc.PutEos();
  ASSERT_TRUE(w.Flush().ok());

  auto dst = std::make_unique<system::GuestMemory>();
  dst->AddBlock(*system::RamBlock::CreateAnonymous("ram0", 64 * kPage, false));
  dst->AddBlock(*system::RamBlock::CreateAnonymous("pc.rom", 8 * kPage, false));
  std::memset(dst->Find("ram0")->host(), 0xee, 64 * kPage);  // stale content to overwrite
  RamLoader loader(*dst);
  int eos = 0;
  loader.SetEosHook([&] {
    ++eos;
    return absl::OkStatus();
  });
  FakeChannel in(ch.output());
  QemuFileReader r(in);
  LoadReport report;
  ASSERT_TRUE(loader.Load(r, 4, report).ok());  // MEM_SIZE .. EOS
  ASSERT_TRUE(loader.Load(r, 4, report).ok());  // pages .. EOS
  EXPECT_TRUE(report.empty());
  EXPECT_EQ(eos, 2);
  EXPECT_EQ(loader.stats().eos, 2u);
  EXPECT_EQ(loader.stats().pages + loader.stats().zero_pages, 72u);
  EXPECT_EQ(loader.stats().zero_pages, zeros);
  for (size_t b = 0; b < 2; ++b) {
    EXPECT_EQ(0, std::memcmp(src.blocks()[b]->host(), dst->blocks()[b]->host(),
                             src.blocks()[b]->used_length()));
  }
}

TEST(RamLoaderTest, ZeroRecordsOnAFreshDestinationWriteNothing) {
  auto memory = MakeMemory("ram0", 16 * kPage);
  system::RamBlock& block = *memory->Find("ram0");
  Bytes s;
  s.Be64(0 | 0x02).Counted("ram0").U8(0);
  for (uint64_t p = 1; p < 16; ++p) {
    s.Be64(p * kPage | 0x22).U8(0);
  }
  s.Be64(0x10);
  // Guest RAM read-only: any store by the loader would fault.
  ASSERT_EQ(0, ::mprotect(block.host(), block.used_length(), PROT_READ));
  RamLoader loader(*memory);
  LoadOutcome out = RunLoad(loader, s.Take());
  ASSERT_EQ(0, ::mprotect(block.host(), block.used_length(), PROT_READ | PROT_WRITE));
  EXPECT_TRUE(out.status.ok()) << out.status;
  EXPECT_EQ(loader.stats().zero_pages, 16u);
  EXPECT_EQ(loader.stats().zero_pages_written, 0u);
}

TEST(RamLoaderTest, ZeroRecordClearsADirtyPageAndFillByteIsHonoured) {
  auto memory = MakeMemory("ram0", 4 * kPage);
  system::RamBlock& block = *memory->Find("ram0");
  std::memset(block.host(), 0x77, 4 * kPage);
  RamLoader loader(*memory);
  LoadOutcome out = RunLoad(loader, Bytes()
                                        .Be64(kPage | 0x02)
                                        .Counted("ram0")
                                        .U8(0)
                                        .Be64(2 * kPage | 0x22)
                                        .U8(0x55)
                                        .Be64(0x10)
                                        .Take());
  ASSERT_TRUE(out.status.ok());
  EXPECT_EQ(block.PageHost(0)[0], 0x77);
  EXPECT_TRUE(block.IsZeroPage(1));
  EXPECT_EQ(block.PageHost(2)[0], 0x55);
  EXPECT_EQ(block.PageHost(2)[4095], 0x55);
  EXPECT_EQ(block.PageHost(3)[0], 0x77);
  EXPECT_EQ(loader.stats().zero_pages_written, 2u);
}

TEST(RamLoaderTest, LastBlockPersistsAcrossSections) {
  auto memory = MakeMemory("ram0", 4 * kPage);
  RamLoader loader(*memory);
  ASSERT_TRUE(
      RunLoad(loader, Bytes().Be64(0x02).Counted("ram0").U8(1).Be64(0x10).Take()).status.ok());
  LoadOutcome out = RunLoad(loader, Bytes().Be64(kPage | 0x22).U8(2).Be64(0x10).Take());
  EXPECT_TRUE(out.status.ok()) << "CONTINUE in a later section refers to the earlier block";
  EXPECT_EQ(memory->Find("ram0")->PageHost(1)[0], 2);
}

TEST(RamLoaderTest, ChecksWithQemuTexts) {
  struct Case {
    const char* name;
    std::vector<uint8_t> bytes;
    std::vector<std::string> lines;
    int err;
  };
  std::vector<Case> cases = {
      {"continue-first",
       Bytes().Be64(0x28).Fill(kPage, 1).Take(),
       {"Ack, bad migration stream!", "Illegal RAM offset 0"},
       -EINVAL},
      {"unknown-block",
       Bytes().Be64(0x08).Counted("bogus").Take(),
       {"Can't find block bogus", "Illegal RAM offset 0"},
       -EINVAL},
      {"nul-in-name",
       Bytes().Be64(0x08).Counted(std::string("ram0\0x", 6)).Fill(kPage, 3).Be64(0x10).Take(),
       {},
       0},
      {"offset-past-end",
       Bytes().Be64(4 * kPage | 0x08).Counted("ram0").Take(),
       {"Illegal RAM offset 4000"},
       -EINVAL},
      {"offset-huge",
       Bytes().Be64(0xfffffffffffff000ULL | 0x02).Counted("ram0").Take(),
       {"Illegal RAM offset fffffffffffff000"},
       -EINVAL},
      {"flags-zero",
       Bytes().Be64(0).Take(),
       {"Unknown combination of migration flags: 0x0"},
       -EINVAL},
      {"flags-full",
       Bytes().Be64(1).Take(),
       {"Unknown combination of migration flags: 0x1"},
       -EINVAL},
      {"multifd-flush-8.0",
       Bytes().Be64(0x200).Take(),
       {"Unknown combination of migration flags: 0x200"},
       -EINVAL},
      {"hook", Bytes().Be64(0x80).Take(), {}, -EINVAL},
      {"compressed-not-enabled",
       Bytes().Be64(0x100).Take(),
       {"Received an unexpected compressed page"},
       -EINVAL},
      {"memsize-unknown",
       Bytes().Be64(kPage | 0x04).Counted("bogus").Be64(kPage).Take(),
       {"Unknown ramblock \"bogus\", cannot accept migration"},
       -EINVAL},
      {"memsize-size",
       Bytes().Be64(8 * kPage | 0x04).Counted("ram0").Be64(8 * kPage).Take(),
       {"Size mismatch: ram0: 0x8000 != 0x4000: Invalid argument"},
       -EINVAL},
      {"memsize-unaligned-same",
       Bytes().Be64(4 * kPage | 0x04).Counted("ram0").Be64(4 * kPage - 1).Be64(1 | 0x04).Take(),
       {"Unknown ramblock \"\", cannot accept migration"},
       -EINVAL},
      {"xbzrle-wrong",
       Bytes().Be64(0x40).Counted("ram0").U8(2).Be16(1).Take(),
       {"Failed to load XBZRLE page - wrong compression!", "Failed to decompress XBZRLE page at 0"},
       -EINVAL},
      {"xbzrle-overflow",
       Bytes().Be64(kPage | 0x40).Counted("ram0").U8(1).Be16(4097).Take(),
       {"Failed to load XBZRLE page - len overflow!", "Failed to decompress XBZRLE page at 1000"},
       -EINVAL},
      {"xbzrle-decode",
       Bytes().Be64(0x40).Counted("ram0").U8(1).Be16(2).U8(0).U8(0).Take(),
       {"Failed to load XBZRLE page - decode error!", "Failed to decompress XBZRLE page at 0"},
       -EINVAL},
      {"truncated-page", Bytes().Be64(0x08).Counted("ram0").Fill(100, 9).Take(), {}, -EIO},
      {"truncated-word",
       Bytes().Be32(0).Take(),
       {"Unknown combination of migration flags: 0x0"},
       -EINVAL},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto memory = MakeMemory("ram0", 4 * kPage);
    RamLoader loader(*memory);
    LoadOutcome out = RunLoad(loader, c.bytes);
    EXPECT_EQ(out.lines, c.lines);
    EXPECT_EQ(LoadErrno(out.status), c.err);
  }
}

TEST(RamLoaderTest, VersionOtherThanFourFailsWithoutText) {
  auto memory = MakeMemory("ram0", kPage);
  RamLoader loader(*memory);
  LoadOutcome out = RunLoad(loader, Bytes().Be64(0x10).Take(), 3);
  EXPECT_EQ(LoadErrno(out.status), -EINVAL);
  EXPECT_TRUE(out.lines.empty());
}

TEST(RamLoaderTest, CompressedPagesWhenTheCapabilityIsOn) {
  std::vector<uint8_t> page(kPage);
  for (size_t i = 0; i < kPage; ++i) {
    page[i] = static_cast<uint8_t>(i / 16);
  }
  std::vector<uint8_t> z = CompressPage(page.data());
  auto memory = MakeMemory("ram0", 4 * kPage);
  RamLoader loader(*memory, RamLoadOptions{.compress = true});
  LoadOutcome ok = RunLoad(loader, Bytes()
                                       .Be64(2 * kPage | 0x100)
                                       .Counted("ram0")
                                       .Be32(static_cast<uint32_t>(z.size()))
                                       .Raw(z)
                                       .Be64(0x10)
                                       .Take());
  ASSERT_TRUE(ok.status.ok()) << ok.status;
  EXPECT_EQ(0, std::memcmp(memory->Find("ram0")->PageHost(2), page.data(), kPage));
  EXPECT_EQ(loader.stats().compressed_pages, 1u);

  LoadOutcome too_long = RunLoad(loader, Bytes().Be64(0x120).Be32(4111).Take());
  EXPECT_THAT(too_long.lines, ElementsAre("Invalid compressed data length: 4111"));
  LoadOutcome negative = RunLoad(loader, Bytes().Be64(0x120).Be32(0xffffffff).Take());
  EXPECT_THAT(negative.lines, ElementsAre("Invalid compressed data length: -1"));

  std::vector<uint8_t> garbage(100, 0x42);
  LoadOutcome bad = RunLoad(loader, Bytes().Be64(0x120).Be32(100).Raw(garbage).Be64(0x10).Take());
  EXPECT_THAT(bad.lines, ElementsAre("decompress data failed"));
  EXPECT_EQ(LoadErrno(bad.status), -1) << "QEMU's decompression thread sets error -1";
}

TEST(RamLoaderTest, XbzrleDeltaIsAppliedToTheCurrentPage) {
  auto memory = MakeMemory("ram0", 2 * kPage);
  uint8_t* page = memory->Find("ram0")->PageHost(1);
  std::memset(page, 0xab, kPage);
  // zrun 10, nzrun 3 "xyz"; zrun 200 (two-byte ULEB: 0xc8 0x01), nzrun 1 "!"
  Bytes delta;
  delta.U8(10).U8(3).Str("xyz").U8(0xc8).U8(0x01).U8(1).Str("!");
  std::vector<uint8_t> d = delta.Take();
  RamLoader loader(*memory);
  LoadOutcome out = RunLoad(loader, Bytes()
                                        .Be64(kPage | 0x40)
                                        .Counted("ram0")
                                        .U8(1)
                                        .Be16(static_cast<uint16_t>(d.size()))
                                        .Raw(d)
                                        .Be64(0x10)
                                        .Take());
  ASSERT_TRUE(out.status.ok()) << out.status;
  EXPECT_EQ(page[9], 0xab);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(page) + 10, 3), "xyz");
  EXPECT_EQ(page[13], 0xab);
  EXPECT_EQ(page[213], '!');
  EXPECT_EQ(page[214], 0xab);
  EXPECT_EQ(loader.stats().xbzrle_pages, 1u);
}

TEST(XbzrleDecodeTest, RejectsMalformedDeltasAndNeverWritesPastTheEnd) {
  std::vector<uint8_t> dst(64 + 16, 0xcc);  // 16 guard bytes past dlen = 64
  auto decode = [&](std::vector<uint8_t> src) {
    return XbzrleDecode(src.data(), static_cast<int>(src.size()), dst.data(), 64);
  };
  EXPECT_EQ(decode({0, 2, 'a', 'b'}), 2);
  EXPECT_EQ(decode({}), 0);
  EXPECT_EQ(decode({0}), -1) << "fewer than two bytes for a run";
  EXPECT_EQ(decode({0, 0, 0}), -1) << "empty changed run";
  EXPECT_EQ(decode({0, 1, 'a', 0, 1}), -1) << "zero unchanged run after the start";
  EXPECT_EQ(decode({0x80, 0x80, 1}), -1) << "three-byte ULEB";
  EXPECT_EQ(decode({63, 2, 'a', 'b'}), -1) << "changed run past the page";
  EXPECT_EQ(decode({65, 1, 'a'}), -1) << "unchanged run past the page";
  EXPECT_EQ(decode({0, 5, 'a'}), -1) << "changed run past the source";
  EXPECT_EQ(decode({62, 2, 'y', 'z'}), 64);
  for (size_t i = 64; i < dst.size(); ++i) {
    EXPECT_EQ(dst[i], 0xcc);
  }
}

TEST(RamLoaderTest, EosHookFailureFailsTheLoad) {
  auto memory = MakeMemory("ram0", kPage);
  RamLoader loader(*memory);
  loader.SetEosHook([] { return absl::InternalError("multifd: channel 1 failed"); });
  LoadOutcome out = RunLoad(loader, Bytes().Be64(0x10).Take());
  EXPECT_THAT(out.lines, ElementsAre("multifd: channel 1 failed"));
  EXPECT_EQ(LoadErrno(out.status), -EIO);
}

}  // namespace
}  // namespace migemu::migration
