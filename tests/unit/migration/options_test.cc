// MigrationOptions: QEMU 7.2's capability and parameter checks, texts and order, applied
// atomically; every zero-copy combination in every order.
#include "migration/options.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "qapi/error.h"
#include "qapi/runtime.h"

namespace migemu::migration {
namespace {

using Cap = qapi::MigrationCapability;
constexpr char kZeroCopy[] =
    "Zero copy only available for non-compressed non-TLS multifd migration";

std::vector<qapi::MigrationCapabilityStatus> Caps(
    std::initializer_list<std::pair<Cap, bool>> list) {
  std::vector<qapi::MigrationCapabilityStatus> out;
  for (auto [c, v] : list) {
    qapi::MigrationCapabilityStatus s;
    s.capability = c;
    s.state = v;
    out.push_back(s);
  }
  return out;
}

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

TEST(OptionsTest, DefaultsAreQemus) {
  MigrationOptions o;
  for (const auto& c : o.QueryCapabilities()) {
    EXPECT_FALSE(c.state) << qapi::EnumToString(c.capability);
  }
  EXPECT_EQ(o.QueryCapabilities().size(), qapi::EnumCount<Cap>());
  qapi::MigrationParameters p = o.QueryParameters();
  EXPECT_EQ(p.announce_initial, 50u);
  EXPECT_EQ(p.announce_max, 550u);
  EXPECT_EQ(p.announce_rounds, 5u);
  EXPECT_EQ(p.announce_step, 100u);
  EXPECT_EQ(p.compress_level, 1);
  EXPECT_EQ(p.compress_threads, 8);
  EXPECT_EQ(p.compress_wait_thread, true);
  EXPECT_EQ(p.decompress_threads, 2);
  EXPECT_EQ(p.throttle_trigger_threshold, 50);
  EXPECT_EQ(p.cpu_throttle_initial, 20);
  EXPECT_EQ(p.cpu_throttle_increment, 10);
  EXPECT_EQ(p.cpu_throttle_tailslow, false);
  EXPECT_EQ(p.tls_creds, "");
  EXPECT_EQ(p.tls_hostname, "");
  EXPECT_EQ(p.tls_authz, "");
  EXPECT_EQ(p.max_bandwidth, 134217728u);
  EXPECT_EQ(p.downtime_limit, 300u);
  EXPECT_EQ(p.x_checkpoint_delay, 20000u);
  EXPECT_EQ(p.block_incremental, false);
  EXPECT_EQ(p.multifd_channels, 2);
  EXPECT_EQ(p.xbzrle_cache_size, 67108864u);
  EXPECT_EQ(p.max_postcopy_bandwidth, 0u);
  EXPECT_EQ(p.max_cpu_throttle, 99);
  EXPECT_EQ(p.multifd_compression, qapi::MultiFDCompression::kNone);
  EXPECT_EQ(p.multifd_zlib_level, 1);
  EXPECT_EQ(p.multifd_zstd_level, 1);
  EXPECT_FALSE(p.block_bitmap_mapping.has_value());
}

// Every range check: one value inside at each boundary, one outside, with QEMU's text.
struct RangeCase {
  const char* name;
  std::function<void(qapi::MigrateSetParameters&, uint64_t)> set;
  uint64_t low_ok, high_ok;
  std::optional<uint64_t> below, above;
  const char* text;
};

TEST(OptionsTest, EveryParameterRange) {
  using P = qapi::MigrateSetParameters;
  const RangeCase cases[] = {
      {"compress-level",
       [](P& p, uint64_t v) { p.compress_level = v; },
       0,
       9,
       {},
       10,
       "Parameter 'compress_level' expects a value between 0 and 9"},
      {"compress-threads",
       [](P& p, uint64_t v) { p.compress_threads = v; },
       1,
       255,
       0,
       {},
       "Parameter 'compress_threads' expects a value between 1 and 255"},
      {"decompress-threads",
       [](P& p, uint64_t v) { p.decompress_threads = v; },
       1,
       255,
       0,
       {},
       "Parameter 'decompress_threads' expects a value between 1 and 255"},
      {"throttle-trigger-threshold", [](P& p, uint64_t v) { p.throttle_trigger_threshold = v; }, 1,
       100, 0, 101,
       "Parameter 'throttle_trigger_threshold' expects an integer in the range of 1 to 100"},
      {"cpu-throttle-initial", [](P& p, uint64_t v) { p.cpu_throttle_initial = v; }, 1, 99, 0, 100,
       "Parameter 'cpu_throttle_initial' expects an integer in the range of 1 to 99"},
      {"cpu-throttle-increment", [](P& p, uint64_t v) { p.cpu_throttle_increment = v; }, 1, 99, 0,
       100, "Parameter 'cpu_throttle_increment' expects an integer in the range of 1 to 99"},
      {"downtime-limit",
       [](P& p, uint64_t v) { p.downtime_limit = v; },
       0,
       2000000,
       {},
       2000001,
       "Parameter 'downtime_limit' expects an integer in the range of 0 to (2000 * 1000) ms"},
      {"multifd-channels",
       [](P& p, uint64_t v) { p.multifd_channels = v; },
       1,
       255,
       0,
       {},
       "Parameter 'multifd_channels' expects a value between 1 and 255"},
      {"multifd-zlib-level",
       [](P& p, uint64_t v) { p.multifd_zlib_level = v; },
       0,
       9,
       {},
       10,
       "Parameter 'multifd_zlib_level' expects a value between 0 and 9"},
      {"multifd-zstd-level",
       [](P& p, uint64_t v) { p.multifd_zstd_level = v; },
       0,
       20,
       {},
       21,
       "Parameter 'multifd_zstd_level' expects a value between 0 and 20"},
      {"max-cpu-throttle", [](P& p, uint64_t v) { p.max_cpu_throttle = v; }, 20, 99, 19, 100,
       "Parameter 'max_cpu_throttle' expects an integer in the range of cpu_throttle_initial to "
       "99"},
      {"announce-initial",
       [](P& p, uint64_t v) { p.announce_initial = v; },
       0,
       100000,
       {},
       100001,
       "Parameter 'announce_initial' expects a value between 0 and 100000"},
      {"announce-max",
       [](P& p, uint64_t v) { p.announce_max = v; },
       0,
       100000,
       {},
       100001,
       "Parameter 'announce_max' expects a value between 0 and 100000"},
      {"announce-rounds",
       [](P& p, uint64_t v) { p.announce_rounds = v; },
       0,
       1000,
       {},
       1001,
       "Parameter 'announce_rounds' expects a value between 0 and 1000"},
      {"announce-step", [](P& p, uint64_t v) { p.announce_step = v; }, 1, 10000, 0, 10001,
       "Parameter 'announce_step' expects a value between 0 and 10000"},
  };
  for (const RangeCase& c : cases) {
    for (uint64_t ok : {c.low_ok, c.high_ok}) {
      MigrationOptions o;
      P p;
      c.set(p, ok);
      EXPECT_TRUE(o.SetParameters(p).ok()) << c.name << "=" << ok;
    }
    for (std::optional<uint64_t> bad : {c.below, c.above}) {
      if (!bad.has_value()) {
        continue;
      }
      MigrationOptions o;
      const qapi::MigrationParameters before = o.QueryParameters();
      P p;
      c.set(p, *bad);
      EXPECT_EQ(Msg(o.SetParameters(p)), c.text) << c.name << "=" << *bad;
      EXPECT_EQ(o.QueryParameters(), before) << "nothing applied after a failed check";
    }
  }
}

TEST(OptionsTest, XbzrleCacheSizeMustBeAPowerOfTwoOfAtLeastAPage) {
  MigrationOptions o;
  qapi::MigrateSetParameters p;
  for (uint64_t ok : {uint64_t{4096}, uint64_t{1} << 30}) {
    p.xbzrle_cache_size = ok;
    EXPECT_TRUE(o.SetParameters(p).ok());
  }
  for (uint64_t bad : {uint64_t{2048}, uint64_t{4097}, uint64_t{3} << 20}) {
    p.xbzrle_cache_size = bad;
    EXPECT_EQ(Msg(o.SetParameters(p)),
              "Parameter 'xbzrle_cache_size' expects a power of two no less than the target page "
              "size");
  }
}

TEST(OptionsTest, FirstFailingCheckWinsAndNothingIsApplied) {
  MigrationOptions o;
  qapi::MigrateSetParameters p;
  p.compress_level = 10;
  p.downtime_limit = 9999999;
  p.multifd_channels = 8;
  EXPECT_EQ(Msg(o.SetParameters(p)), "Parameter 'compress_level' expects a value between 0 and 9");
  EXPECT_EQ(o.QueryParameters().multifd_channels, 2);
}

TEST(OptionsTest, MaxCpuThrottleIsCheckedAgainstTheCandidateInitial) {
  MigrationOptions o;
  qapi::MigrateSetParameters p;
  p.cpu_throttle_initial = 50;
  p.max_cpu_throttle = 50;
  EXPECT_TRUE(o.SetParameters(p).ok());
  qapi::MigrateSetParameters q;
  q.cpu_throttle_initial = 60;  // now above the stored max 50
  EXPECT_EQ(Msg(o.SetParameters(q)),
            "Parameter 'max_cpu_throttle' expects an integer in the range of cpu_throttle_initial "
            "to 99");
}

TEST(OptionsTest, NullTlsStringsBecomeEmpty) {
  MigrationOptions o;
  qapi::MigrateSetParameters p;
  qapi::StrOrNull s;
  s.type = qapi::QType::kQstring;
  s.s = "creds0";
  p.tls_creds = s;
  p.tls_hostname = s;
  p.tls_authz = s;
  ASSERT_TRUE(o.SetParameters(p).ok());
  EXPECT_EQ(o.QueryParameters().tls_creds, "creds0");
  qapi::StrOrNull n;
  n.type = qapi::QType::kQnull;
  p.tls_creds = n;
  p.tls_hostname = n;
  p.tls_authz = n;
  ASSERT_TRUE(o.SetParameters(p).ok());
  EXPECT_EQ(o.QueryParameters().tls_creds, "");
  EXPECT_EQ(o.QueryParameters().tls_hostname, "");
  EXPECT_EQ(o.QueryParameters().tls_authz, "");
}

TEST(OptionsTest, BlockBitmapMappingChecks) {
  auto mapping = [](std::string node, std::string alias,
                    std::vector<std::pair<std::string, std::string>> bitmaps) {
    qapi::BitmapMigrationNodeAlias n;
    n.node_name = std::move(node);
    n.alias = std::move(alias);
    for (auto& [name, a] : bitmaps) {
      qapi::BitmapMigrationBitmapAlias b;
      b.name = name;
      b.alias = a;
      n.bitmaps.push_back(b);
    }
    return n;
  };
  struct Case {
    std::vector<qapi::BitmapMigrationNodeAlias> m;
    const char* text;
  };
  const std::string p = "Invalid mapping given for block-bitmap-mapping: ";
  const Case cases[] = {
      {{mapping("a", "1b", {})}, "The node alias '1b' is not well-formed"},
      {{mapping(std::string(32, 'n'), "x", {})},
       "The node name 'nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn' is longer than 31 bytes"},
      {{mapping("a", "x", {}), mapping("a", "y", {})}, "The node name 'a' is mapped twice"},
      {{mapping("a", "x", {{"b", "c"}, {"b", "d"}})}, "The bitmap 'a'/'b' is mapped twice"},
  };
  for (const Case& c : cases) {
    MigrationOptions o;
    qapi::MigrateSetParameters sp;
    sp.block_bitmap_mapping = c.m;
    EXPECT_EQ(Msg(o.SetParameters(sp)), p + c.text);
  }
  MigrationOptions o;
  qapi::MigrateSetParameters sp;
  sp.block_bitmap_mapping = {mapping("node0", "n0", {{"bm", "b0"}})};
  EXPECT_TRUE(o.SetParameters(sp).ok());
  EXPECT_TRUE(o.QueryParameters().block_bitmap_mapping.has_value());
}

// ---- capabilities ------------------------------------------------------------------------

TEST(OptionsTest, CapabilitiesAreRefusedWhileMigrating) {
  MigrationOptions o;
  OptionsContext running;
  running.migration_running = true;
  EXPECT_EQ(Msg(o.SetCapabilities(Caps({{Cap::kEvents, true}}), running)),
            "There's a migration process in progress");
}

TEST(OptionsTest, CapabilityRules) {
  struct Case {
    std::vector<std::pair<Cap, bool>> set;
    const char* text;  // nullptr: accepted
  };
  const Case cases[] = {
      {{{Cap::kXColo, true}}, "QEMU compiled without replication module can't enable COLO"},
      {{{Cap::kBlock, true}}, nullptr},
      {{{Cap::kPostcopyRam, true}, {Cap::kXIgnoreShared, true}},
       "Postcopy is not compatible with ignore-shared"},
      {{{Cap::kBackgroundSnapshot, true}}, "Background-snapshot is not supported by host kernel"},
      {{{Cap::kPostcopyPreempt, true}}, "Postcopy preempt requires postcopy-ram"},
      {{{Cap::kPostcopyPreempt, true}, {Cap::kPostcopyRam, true}, {Cap::kCompress, true}},
       "Postcopy preempt not compatible with compress"},
      {{{Cap::kMultifd, true}, {Cap::kCompress, true}}, "Multifd is not compatible with compress"},
      {{{Cap::kMultifd, true}, {Cap::kZeroCopySend, true}}, nullptr},
      {{{Cap::kMultifd, true}, {Cap::kCompress, true}, {Cap::kZeroCopySend, true}}, kZeroCopy},
      {{{Cap::kZeroCopySend, true}}, kZeroCopy},
      {{{Cap::kMultifd, true}, {Cap::kXbzrle, true}, {Cap::kZeroCopySend, true}}, kZeroCopy},
  };
  for (const Case& c : cases) {
    MigrationOptions o;
    std::vector<qapi::MigrationCapabilityStatus> caps;
    for (auto [cap, v] : c.set) {
      caps.push_back(Caps({{cap, v}})[0]);
    }
    absl::Status s = o.SetCapabilities(caps, OptionsContext{});
    if (c.text == nullptr) {
      EXPECT_TRUE(s.ok()) << s;
    } else {
      EXPECT_EQ(Msg(s), c.text);
      for (const auto& st : o.QueryCapabilities()) {
        EXPECT_FALSE(st.state) << "nothing applied";
      }
    }
  }
}

TEST(OptionsTest, XColoFailureCarriesQemusHint) {
  MigrationOptions o;
  absl::Status s = o.SetCapabilities(Caps({{Cap::kXColo, true}}), OptionsContext{});
  EXPECT_EQ(qapi::Hint(s), "Please enable replication before COLO.\n");
}

TEST(OptionsTest, DestinationSpecificChecks) {
  MigrationOptions o;
  OptionsContext in;
  in.inmigrate = true;
  EXPECT_EQ(Msg(o.SetCapabilities(Caps({{Cap::kPostcopyRam, true}}), in)),
            "Postcopy is not supported");
  in.multi_channels_allowed = false;
  EXPECT_EQ(Msg(o.SetCapabilities(Caps({{Cap::kMultifd, true}}), in)),
            "multifd is not supported by current protocol");
  // Before migrate-incoming picked a protocol, multifd is allowed.
  in.multi_channels_allowed = true;
  EXPECT_TRUE(o.SetCapabilities(Caps({{Cap::kMultifd, true}}), in).ok());
}

// Zero copy: whichever comes first, capability or parameter, the second is refused.
TEST(OptionsTest, ZeroCopyInEveryOrder) {
  auto compression = [](qapi::MultiFDCompression c) {
    qapi::MigrateSetParameters p;
    p.multifd_compression = c;
    return p;
  };
  auto tls = [](const char* id) {
    qapi::MigrateSetParameters p;
    qapi::StrOrNull s;
    s.type = qapi::QType::kQstring;
    s.s = id;
    p.tls_creds = s;
    return p;
  };
  const std::vector<qapi::MigrateSetParameters> blockers = {
      compression(qapi::MultiFDCompression::kZlib), compression(qapi::MultiFDCompression::kZstd),
      tls("creds0")};
  for (const auto& blocker : blockers) {
    {  // parameter first, then the capability
      MigrationOptions o;
      ASSERT_TRUE(o.SetParameters(blocker).ok());
      EXPECT_EQ(Msg(o.SetCapabilities(Caps({{Cap::kMultifd, true}, {Cap::kZeroCopySend, true}}),
                                      OptionsContext{})),
                kZeroCopy);
    }
    {  // capability first, then the parameter
      MigrationOptions o;
      ASSERT_TRUE(o.SetCapabilities(Caps({{Cap::kMultifd, true}, {Cap::kZeroCopySend, true}}),
                                    OptionsContext{})
                      .ok());
      const qapi::MigrationParameters before = o.QueryParameters();
      EXPECT_EQ(Msg(o.SetParameters(blocker)), kZeroCopy);
      EXPECT_EQ(o.QueryParameters(), before);
    }
  }
  // With zero copy on: turning multifd off, or compress/xbzrle on, is refused; an empty
  // tls-creds and compression none are fine.
  MigrationOptions o;
  ASSERT_TRUE(
      o.SetCapabilities(Caps({{Cap::kMultifd, true}, {Cap::kZeroCopySend, true}}), OptionsContext{})
          .ok());
  EXPECT_EQ(Msg(o.SetCapabilities(Caps({{Cap::kMultifd, false}}), OptionsContext{})), kZeroCopy);
  EXPECT_EQ(Msg(o.SetCapabilities(Caps({{Cap::kCompress, true}}), OptionsContext{})), kZeroCopy);
  EXPECT_EQ(Msg(o.SetCapabilities(Caps({{Cap::kXbzrle, true}}), OptionsContext{})), kZeroCopy);
  EXPECT_TRUE(o.SetParameters(tls("")).ok());
  EXPECT_TRUE(o.SetParameters(compression(qapi::MultiFDCompression::kNone)).ok());
  // Turning both off in one request is fine.
  EXPECT_TRUE(o.SetCapabilities(Caps({{Cap::kMultifd, false}, {Cap::kZeroCopySend, false}}),
                                OptionsContext{})
                  .ok());
  // And CheckForMigrate re-runs the rules on the stored set.
  EXPECT_TRUE(o.CheckForMigrate(OptionsContext{}).ok());
}

}  // namespace
}  // namespace migemu::migration
