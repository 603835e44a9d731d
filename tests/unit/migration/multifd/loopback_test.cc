// Sender -> receiver over real sockets: Unix socket pairs and loopback TCP, 1/2/4/8 channels,
// none/zlib/zstd, zero copy off/on, pages re-dirtied between rounds, two RAM blocks. The
// destination RAM must equal the source's, and the accounting must match the wire.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "migration/multifd/packet.h"
#include "tests/unit/migration/multifd/multifd_test_util.h"

namespace migemu::migration {
namespace {

using multifd_testing::FillRandom;
using multifd_testing::FirstDifference;
using multifd_testing::MakeMemory;
using multifd_testing::MigrationOptions;
using multifd_testing::MigrationResult;
using multifd_testing::ProbeTcpZeroCopy;
using multifd_testing::RunMigration;

struct Case {
  int channels;
  qapi::MultiFDCompression compression;
  bool zero_copy;
  bool tcp;
};

std::string Name(const ::testing::TestParamInfo<Case>& info) {
  const Case& c = info.param;
  std::string n = std::to_string(c.channels) + "ch_";
  n += c.compression == qapi::MultiFDCompression::kNone   ? "none"
       : c.compression == qapi::MultiFDCompression::kZlib ? "zlib"
                                                          : "zstd";
  n += c.zero_copy ? "_zerocopy" : "";
  n += c.tcp ? "_tcp" : "_unix";
  return n;
}

class LoopbackTest : public ::testing::TestWithParam<Case> {};

TEST_P(LoopbackTest, DestinationRamEqualsSourceRam) {
  const Case& c = GetParam();
  if (c.zero_copy) {
    absl::Status zc = ProbeTcpZeroCopy();
    if (!zc.ok()) {
      GTEST_SKIP() << "kernel lacks SO_ZEROCOPY for TCP (" << zc.message() << ")";
    }
  }
  auto src = MakeMemory({6 << 20, (1 << 20) + 3 * 4096});
  auto dst = MakeMemory({6 << 20, (1 << 20) + 3 * 4096});
  FillRandom(*src, 42);
  MigrationOptions o;
  o.config.channels = c.channels;
  o.config.compression = c.compression;
  o.config.zlib_level = 2;
  o.config.zstd_level = 3;
  o.config.zero_copy = c.zero_copy;
  o.tcp = c.tcp;
  o.rounds = 3;
  MigrationResult r = RunMigration(*src, *dst, o);
  ASSERT_TRUE(r.source.ok()) << r.source;
  ASSERT_TRUE(r.destination.ok()) << r.destination;
  EXPECT_EQ(FirstDifference(*src, *dst), "");

  // Accounting: every packet counted once as header + pages (QEMU counts raw page bytes even
  // when compressed), and it all went against the main stream's rate limit too.
  uint64_t packets = 0;
  uint64_t pages = 0;
  uint64_t syncs = 0;
  uint64_t payload = 0;
  ASSERT_EQ(r.sender_stats.size(), size_t(c.channels));
  for (const auto& s : r.sender_stats) {
    EXPECT_TRUE(s.connected);
    packets += s.packets;
    pages += s.pages;
    syncs += s.syncs;
    payload += s.payload_bytes;
  }
  EXPECT_EQ(syncs, uint64_t(r.syncs) * c.channels);
  EXPECT_EQ(r.multifd_bytes, packets * kMultifdPacketLen + pages * 4096);
  EXPECT_EQ(r.transferred, r.multifd_bytes);
  EXPECT_EQ(r.rate_limit_used, r.multifd_bytes + uint64_t(r.syncs)) << "+1 EOS byte per sync";
  // The bytes on the wire: init packets, headers and payloads (compressed for zlib/zstd).
  if (c.compression == qapi::MultiFDCompression::kNone) {
    EXPECT_EQ(payload, pages * 4096);
  }
  EXPECT_EQ(r.source_io.bytes_written,
            uint64_t(c.channels) * kMultifdInitSize + packets * kMultifdPacketLen + payload);
  // The receiver saw exactly what was sent, channel by channel.
  ASSERT_EQ(r.receiver_stats.size(), size_t(c.channels));
  for (const auto& rs : r.receiver_stats) {
    ASSERT_GE(rs.id, 0);
    EXPECT_EQ(rs.packets, r.sender_stats[rs.id].packets) << "channel " << rs.id;
    EXPECT_EQ(rs.pages, r.sender_stats[rs.id].pages) << "channel " << rs.id;
    EXPECT_EQ(rs.syncs, uint64_t(r.syncs));
  }
  if (c.zero_copy) {
    EXPECT_GT(r.source_io.zero_copy_calls, 0u);
    EXPECT_GE(r.missed_zero_copy, 1u);
    EXPECT_EQ(r.missed_zero_copy, r.source_io.zero_copy_flushes_all_copied)
        << "each flush that found every send copied is counted once";
    EXPECT_EQ(r.source_io.zero_copy_flushes, r.source_io.zero_copy_flushes_all_copied)
        << "loopback always copies";
    EXPECT_LE(r.missed_zero_copy, uint64_t(r.syncs) * c.channels);
  } else {
    EXPECT_EQ(r.source_io.zero_copy_calls, 0u);
    EXPECT_EQ(r.missed_zero_copy, 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(Matrix, LoopbackTest,
                         ::testing::Values(Case{1, qapi::MultiFDCompression::kNone, false, false},
                                           Case{2, qapi::MultiFDCompression::kNone, false, false},
                                           Case{4, qapi::MultiFDCompression::kNone, false, false},
                                           Case{8, qapi::MultiFDCompression::kNone, false, false},
                                           Case{2, qapi::MultiFDCompression::kNone, false, true},
                                           Case{4, qapi::MultiFDCompression::kNone, false, true},
                                           Case{8, qapi::MultiFDCompression::kNone, false, true},
                                           Case{2, qapi::MultiFDCompression::kNone, true, true},
                                           Case{4, qapi::MultiFDCompression::kNone, true, true},
                                           Case{8, qapi::MultiFDCompression::kNone, true, true},
                                           Case{2, qapi::MultiFDCompression::kZlib, false, false},
                                           Case{4, qapi::MultiFDCompression::kZlib, false, true},
                                           Case{8, qapi::MultiFDCompression::kZlib, false, false},
                                           Case{2, qapi::MultiFDCompression::kZstd, false, false},
                                           Case{4, qapi::MultiFDCompression::kZstd, false, true},
                                           Case{8, qapi::MultiFDCompression::kZstd, false, false}),
                         Name);

TEST(LoopbackUuidTest, AUuidMismatchFailsTheDestinationAndTheSourceWithoutHanging) {
  auto src = MakeMemory({1 << 20});
  auto dst = MakeMemory({1 << 20});
  FillRandom(*src, 1);
  MigrationOptions o;
  o.config.channels = 2;
  o.config.uuid = {0xaa};
  o.destination_config = o.config;
  o.destination_config->uuid = {0xbb};
  MigrationResult r = RunMigration(*src, *dst, o);
  EXPECT_FALSE(r.source.ok());
  EXPECT_THAT(std::string(r.destination.message()),
              ::testing::MatchesRegex("failed to receive packet via multifd channel 0: multifd: "
                                      "received uuid 'aa000000-0000-0000-0000-000000000000' and "
                                      "expected uuid 'bb000000-0000-0000-0000-000000000000' for "
                                      "channel [01]"));
}

}  // namespace
}  // namespace migemu::migration
