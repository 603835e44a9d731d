#include "migration/multifd/packet.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "tests/unit/migration/multifd/multifd_test_util.h"

namespace migemu::migration {
namespace {

using multifd_testing::MakeMemory;

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

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
uint32_t Be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
uint64_t Be64(const uint8_t* p) { return (uint64_t{Be32(p)} << 32) | Be32(p + 4); }

constexpr MultifdUuid kUuid = {0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0,
                               0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};

TEST(MultifdInitPacketTest, LayoutIsQemusMultiFDInit) {
  const auto init = EncodeInitPacket(kUuid, 3);
  ASSERT_EQ(init.size(), 64u);
  EXPECT_EQ(Be32(init.data()), 0x11223344u);
  EXPECT_EQ(Be32(init.data() + 4), 1u);
  EXPECT_EQ(std::memcmp(init.data() + 8, kUuid.data(), 16), 0);
  EXPECT_EQ(init[24], 3);
  for (size_t i = 25; i < 64; ++i) {
    EXPECT_EQ(init[i], 0) << "unused byte " << i;
  }
}

TEST(MultifdInitPacketTest, RoundTripReturnsTheChannelId) {
  for (uint8_t id : {0, 1, 7}) {
    const auto init = EncodeInitPacket(kUuid, id);
    auto parsed = ParseInitPacket(init, kUuid, 8);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, id);
  }
}

TEST(MultifdInitPacketTest, ErrorsCarryQemusTexts) {
  auto init = EncodeInitPacket(MultifdUuid{}, 0);
  PutBe32(init.data(), 0x11223345);
  EXPECT_EQ(Msg(ParseInitPacket(init, MultifdUuid{}, 2).status()),
            "multifd: received packet magic 11223345 expected 11223344");

  init = EncodeInitPacket(MultifdUuid{}, 0);
  PutBe32(init.data() + 4, 2);
  EXPECT_EQ(Msg(ParseInitPacket(init, MultifdUuid{}, 2).status()),
            "multifd: received packet version 2 expected 1");

  init = EncodeInitPacket(kUuid, 200);  // %hhd: the id is printed as a signed char
  EXPECT_EQ(Msg(ParseInitPacket(init, MultifdUuid{}, 2).status()),
            "multifd: received uuid '12345678-9abc-def0-0123-456789abcdef' and expected uuid "
            "'00000000-0000-0000-0000-000000000000' for channel -56");
}

TEST(MultifdInitPacketTest, ChannelIdAtOrAboveTheCountFailsWithQemusMisleadingText) {
  // QEMU 7.2 checks id > channels (so id == channels slips through and overruns its array);
  // here both fail, with QEMU's text that prints the version numbers.
  for (uint8_t id : {2, 3, 255}) {
    const auto init = EncodeInitPacket(MultifdUuid{}, id);
    EXPECT_EQ(Msg(ParseInitPacket(init, MultifdUuid{}, 2).status()),
              "multifd: received channel version 1 expected 1")
        << int{id};
  }
  EXPECT_TRUE(ParseInitPacket(EncodeInitPacket(MultifdUuid{}, 1), MultifdUuid{}, 2).ok());
}

TEST(MultifdInitPacketTest, ShortInputIsAnErrorNotARead) {
  const auto init = EncodeInitPacket(MultifdUuid{}, 0);
  EXPECT_FALSE(ParseInitPacket(absl::MakeConstSpan(init.data(), 63), MultifdUuid{}, 2).ok());
}

TEST(MultifdInitPacketTest, FormatUuidIsCanonical) {
  EXPECT_EQ(FormatUuid(kUuid), "12345678-9abc-def0-0123-456789abcdef");
}

class MultifdPacketTest : public ::testing::Test {
 protected:
  MultifdPacketTest() : memory_(MakeMemory({8 << 20, 1 << 20})), header_(kMultifdPacketLen) {}

  // A valid header of `pages` pages of ram0 at offsets 0, 4096, ...
  void Fill(uint32_t pages, uint32_t flags = 0) {
    std::vector<uint64_t> offsets;
    for (uint32_t i = 0; i < pages; ++i) {
      offsets.push_back(uint64_t{i} * 4096);
    }
    FillPacket(header_.data(),
               PacketFields{.flags = flags, .next_packet_size = pages * 4096, .packet_num = 42},
               memory_->Find("ram0"), offsets);
  }
  absl::Status Unfill() { return UnfillPacket(header_, *memory_, &packet_); }

  std::unique_ptr<system::GuestMemory> memory_;
  std::vector<uint8_t> header_;
  ReceivedPacket packet_;
};

TEST_F(MultifdPacketTest, LayoutIsQemusMultiFDPacket) {
  EXPECT_EQ(kMultifdPacketLen, 1344u);
  EXPECT_EQ(kMultifdPageCount, 128u);
  Fill(3, kMultifdFlagSync | kMultifdFlagZlib);
  const uint8_t* h = header_.data();
  EXPECT_EQ(Be32(h), 0x11223344u);
  EXPECT_EQ(Be32(h + 4), 1u);
  EXPECT_EQ(Be32(h + 8), 3u);     // SYNC | ZLIB
  EXPECT_EQ(Be32(h + 12), 128u);  // pages_alloc
  EXPECT_EQ(Be32(h + 16), 3u);    // normal_pages
  EXPECT_EQ(Be32(h + 20), 3u * 4096);
  EXPECT_EQ(Be64(h + 24), 42u);
  for (int i = 32; i < 64; ++i) {
    EXPECT_EQ(h[i], 0);
  }
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(h + 64)), "ram0");
  for (int i = 64 + 4; i < 320; ++i) {
    ASSERT_EQ(h[i], 0) << "ramblock is NUL padded";
  }
  EXPECT_EQ(Be64(h + 320), 0u);
  EXPECT_EQ(Be64(h + 328), 4096u);
  EXPECT_EQ(Be64(h + 336), 8192u);
}

TEST_F(MultifdPacketTest, EmptyPacketKeepsTheStaleBlockNameAndSlotsAsQemuDoes) {
  Fill(5);
  FillPacket(header_.data(), PacketFields{.flags = kMultifdFlagSync, .packet_num = 43}, nullptr,
             {});
  EXPECT_EQ(Be32(header_.data() + 16), 0u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(header_.data() + 64)), "ram0");
  EXPECT_EQ(Be64(header_.data() + 320 + 8 * 4), 4u * 4096) << "stale slot kept";
  ASSERT_TRUE(Unfill().ok());
  EXPECT_EQ(packet_.normal_pages, 0u);
  EXPECT_EQ(packet_.flags, kMultifdFlagSync);
  EXPECT_EQ(packet_.packet_num, 43u);
}

TEST_F(MultifdPacketTest, UnfillReturnsTheFields) {
  Fill(128, kMultifdFlagZstd);
  ASSERT_TRUE(Unfill().ok());
  EXPECT_EQ(packet_.flags, kMultifdFlagZstd);
  EXPECT_EQ(packet_.pages_alloc, 128u);
  EXPECT_EQ(packet_.normal_pages, 128u);
  EXPECT_EQ(packet_.next_packet_size, 128u * 4096);
  EXPECT_EQ(packet_.packet_num, 42u);
  EXPECT_EQ(packet_.block, memory_->Find("ram0"));
  EXPECT_EQ(packet_.offsets[127], 127u * 4096);
}

TEST_F(MultifdPacketTest, EveryHeaderCheckHasQemusText) {
  Fill(2);
  PutBe32(header_.data(), 0xdeadbeef);
  EXPECT_EQ(Msg(Unfill()), "multifd: received packet magic deadbeef and expected magic 11223344");

  Fill(2);
  PutBe32(header_.data() + 4, 7);
  EXPECT_EQ(Msg(Unfill()), "multifd: received packet version 7 and expected version 1");

  Fill(2);
  PutBe32(header_.data() + 12, 129);
  EXPECT_EQ(Msg(Unfill()), "multifd: received packet with size 129 and expected a size of 128");

  Fill(5);
  PutBe32(header_.data() + 12, 4);
  EXPECT_EQ(Msg(Unfill()),
            "multifd: received packet with 5 pages and expected maximum pages are 4");

  Fill(2);
  std::memcpy(header_.data() + 64, "nosuchblock", 12);
  EXPECT_EQ(Msg(Unfill()), "multifd: unknown ram block nosuchblock");

  Fill(2);
  PutBe64(header_.data() + 328, 8 << 20);  // one page past the end of ram0 (8 MiB)
  EXPECT_EQ(Msg(Unfill()), "multifd: offset too long 8388608 (max 800000)");

  Fill(2);
  PutBe64(header_.data() + 320, ~uint64_t{0});
  EXPECT_EQ(Msg(Unfill()), "multifd: offset too long 18446744073709551615 (max 800000)");
}

TEST_F(MultifdPacketTest, LastPageOfABlockIsAccepted) {
  Fill(1);
  std::memcpy(header_.data() + 64, "ram1\0", 5);
  PutBe64(header_.data() + 320, (1 << 20) - 4096);
  ASSERT_TRUE(Unfill().ok());
  EXPECT_EQ(packet_.block, memory_->Find("ram1"));
}

TEST_F(MultifdPacketTest, BlockNameIsCutAt255CharactersAsQemuForcesTheTerminator) {
  Fill(1);
  std::memset(header_.data() + 64, 'x', 256);
  EXPECT_EQ(Msg(Unfill()), "multifd: unknown ram block " + std::string(255, 'x'));
}

TEST_F(MultifdPacketTest, EmptyPacketSkipsBlockAndOffsetChecks) {
  Fill(2);
  PutBe32(header_.data() + 16, 0);
  std::memcpy(header_.data() + 64, "garbage", 8);
  PutBe64(header_.data() + 320, ~uint64_t{0});
  EXPECT_TRUE(Unfill().ok());
  EXPECT_EQ(packet_.block, nullptr);
}

TEST_F(MultifdPacketTest, ShortHeaderIsAnError) {
  Fill(1);
  EXPECT_FALSE(UnfillPacket(absl::MakeConstSpan(header_.data(), 1343), *memory_, &packet_).ok());
}

}  // namespace
}  // namespace migemu::migration
