// Regression tests for the lifetime and error rules: a failure forced at every point of the
// send and receive paths (util/fault.h points multifd.send.* / multifd.recv.*), and cancels at
// random moments, each over hundreds of short real migrations. Each run must end (no hang),
// fail with the injected error on the side that hit it (or succeed with identical RAM when the
// fault was armed past the last hit), and leave no thread behind (the sender and receiver
// destructors join them; ASan/TSan builds check the rest).
//
// MIGEMU_STRESS_ITERATIONS overrides the iterations per point (default 200).
#include "util/fault.h"

#include <absl/strings/str_cat.h>
#include <absl/time/time.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <random>
#include <string>

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

int Iterations() {
  const char* env = ::getenv("MIGEMU_STRESS_ITERATIONS");
  const int n = env != nullptr ? std::atoi(env) : 0;
  return n > 0 ? n : 200;
}

struct Point {
  const char* name;
  bool send;       // the sender hits it (else the receiver)
  int max_after;   // `after` is drawn from [0, max_after]: most runs trigger, some do not
  bool zero_copy;  // the point only exists with zero copy (flush)
};

class FaultPointTest : public ::testing::TestWithParam<Point> {
 protected:
  void TearDown() override { util::Faults::Get().Clear(); }
};

TEST_P(FaultPointTest, EveryRunEndsWithTheInjectedErrorOrIdenticalRam) {
  const Point& point = GetParam();
  if (point.zero_copy) {
    absl::Status zc = ProbeTcpZeroCopy();
    if (!zc.ok()) {
      GTEST_SKIP() << "kernel lacks SO_ZEROCOPY for TCP (" << zc.message() << ")";
    }
  }
  const std::string injected = absl::StrCat("injected fault at ", point.name);
  std::mt19937 rng(1234);
  int triggered = 0;
  int passed = 0;
  const int iterations = Iterations();
  for (int iter = 0; iter < iterations; ++iter) {
    SCOPED_TRACE(absl::StrCat(point.name, " iteration ", iter));
    auto src = MakeMemory({256 * 4096});
    auto dst = MakeMemory({256 * 4096});
    FillRandom(*src, iter);
    MigrationOptions o;
    o.config.channels = 1 + static_cast<int>(rng() % 4);
    o.config.zero_copy = point.zero_copy;
    o.tcp = point.zero_copy;
    if (!point.zero_copy) {
      o.config.compression = static_cast<qapi::MultiFDCompression>(rng() % 3);
    }
    o.rounds = 2;
    o.seed = iter;
    const uint64_t after = rng() % (point.max_after + 1);
    util::Faults::Get().Clear();
    util::Faults::Get().Arm(point.name, {.after = after});

    MigrationResult r = RunMigration(*src, *dst, o);
    const bool hit = util::Faults::Get().Hits(point.name) > after;
    util::Faults::Get().Clear();
    if (!hit) {
      ++passed;
      ASSERT_TRUE(r.source.ok()) << r.source;
      ASSERT_TRUE(r.destination.ok()) << r.destination;
      ASSERT_EQ(FirstDifference(*src, *dst), "");
      continue;
    }
    ++triggered;
    const absl::Status& own = point.send ? r.source : r.destination;
    ASSERT_FALSE(own.ok()) << "the fault was hit but the migration succeeded";
    ASSERT_THAT(std::string(own.message()), ::testing::EndsWith(injected));
    if (point.send) {
      // The source stopped before its last EOS: the destination cannot complete.
      ASSERT_FALSE(r.destination.ok()) << "the destination must not wait forever";
    }
    // A destination failure reaches the source only while the source still writes to it (it
    // may already have written its last SYNC and EOS: without a return path QEMU's source then
    // completes too); either way both sides ended, which is what this test is about.
  }
  EXPECT_GT(triggered, iterations / 2) << "most runs should hit the fault";
  RecordProperty("triggered", triggered);
  RecordProperty("passed", passed);
}

INSTANTIATE_TEST_SUITE_P(
    Points, FaultPointTest,
    ::testing::Values(Point{"multifd.send.connect", true, 3, false},    // before connect
                      Point{"multifd.send.connected", true, 3, false},  // during connect
                      Point{"multifd.send.init", true, 3, false},       // after the init packet
                      Point{"multifd.send.packet", true, 14, false},    // mid-migration batches
                      Point{"multifd.send.sync", true, 10, false},      // during sync
                      Point{"multifd.send.flush", true, 4, true},       // during flush
                      Point{"multifd.recv.init", false, 3, false},
                      Point{"multifd.recv.packet", false, 14, false},
                      Point{"multifd.recv.sync", false, 10, false}),
    [](const ::testing::TestParamInfo<Point>& i) {
      std::string n = i.param.name;
      for (char& c : n) {
        if (c == '.') {
          c = '_';
        }
      }
      return n;
    });

TEST(CancelStressTest, CancelAtARandomMomentNeverCrashesOrHangs) {
  std::mt19937 rng(99);
  int cancelled = 0;
  const int iterations = Iterations();
  for (int iter = 0; iter < iterations; ++iter) {
    SCOPED_TRACE(iter);
    auto src = MakeMemory({512 * 4096});
    auto dst = MakeMemory({512 * 4096});
    FillRandom(*src, iter);
    MigrationOptions o;
    o.config.channels = 1 + static_cast<int>(rng() % 8);
    o.config.compression = static_cast<qapi::MultiFDCompression>(rng() % 3);
    o.tcp = iter % 4 == 0;
    o.rounds = 3;
    o.cancel_after = absl::Microseconds(rng() % 3000);
    // Sometimes make connects slow, so the cancel lands while channels are still connecting.
    if (iter % 3 == 0) {
      util::Faults::Get().Arm("multifd.send.connect",
                              {.times = 0, .delay = absl::Microseconds(500), .fail = false});
    }
    MigrationResult r = RunMigration(*src, *dst, o);
    util::Faults::Get().Clear();
    if (r.source.ok()) {
      ASSERT_TRUE(r.destination.ok()) << r.destination;
      ASSERT_EQ(FirstDifference(*src, *dst), "");
    } else {
      ++cancelled;
      ASSERT_EQ(std::string(r.source.message()), "multifd: send channels were shut down");
      ASSERT_FALSE(r.destination.ok());
    }
  }
  RecordProperty("cancelled", cancelled);
  EXPECT_GT(cancelled, 0);
}

}  // namespace
}  // namespace migemu::migration
