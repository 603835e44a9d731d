#include "util/fault.h"

#include <gtest/gtest.h>

namespace migemu::util {
namespace {

TEST(FaultsTest, UnarmedPointsPass) {
  Faults::Get().Clear();
  EXPECT_TRUE(MIG_FAULT_POINT("x").ok());
}

TEST(FaultsTest, TriggersAfterNHitsForTimesHits) {
  Faults& f = Faults::Get();
  f.Clear();
  f.Arm("p", FaultSpec{.after = 2, .times = 2});
  EXPECT_TRUE(MIG_FAULT_POINT("p").ok());
  EXPECT_TRUE(MIG_FAULT_POINT("p").ok());
  EXPECT_EQ(MIG_FAULT_POINT("p").message(), "injected fault at p");
  EXPECT_FALSE(MIG_FAULT_POINT("p").ok());
  EXPECT_TRUE(MIG_FAULT_POINT("p").ok());
  EXPECT_EQ(f.Hits("p"), 5u);
  EXPECT_TRUE(MIG_FAULT_POINT("other").ok());
  f.Clear();
}

TEST(FaultsTest, ForeverCustomMessageAndDisarm) {
  Faults& f = Faults::Get();
  f.Clear();
  f.Arm("q", FaultSpec{.times = 0, .message = "boom"});
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(MIG_FAULT_POINT("q").message(), "boom");
  }
  f.Disarm("q");
  EXPECT_TRUE(MIG_FAULT_POINT("q").ok());
}

TEST(FaultsTest, DelayOnlyDoesNotFail) {
  Faults& f = Faults::Get();
  f.Clear();
  f.Arm("d", FaultSpec{.delay = absl::Milliseconds(1), .fail = false});
  EXPECT_TRUE(MIG_FAULT_POINT("d").ok());
  EXPECT_EQ(f.Hits("d"), 1u);
  f.Clear();
}

}  // namespace
}  // namespace migemu::util
