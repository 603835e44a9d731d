#include "system/guest_clock.h"

#include <chrono>
#include <thread>

#include <gtest/gtest.h>

namespace migemu::system {
namespace {

TEST(GuestClockTest, NeverRunClockIsZeroAsAnSSource) {
  GuestClock clock;
  EXPECT_EQ(clock.Snapshot(), GuestClockState{});
  clock.Stop();
  EXPECT_EQ(clock.Snapshot(), GuestClockState{});
}

TEST(GuestClockTest, AccumulatesOnlyWhileRunning) {
  GuestClock clock;
  clock.Start();
  clock.Start();  // idempotent
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  clock.Stop();
  GuestClockState a = clock.Snapshot();
  EXPECT_GE(a.cpu_clock_offset, 20'000'000);
  EXPECT_GT(a.cpu_ticks_offset, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(clock.Snapshot(), a) << "a stopped clock does not advance";
  clock.Start();
  GuestClockState b = clock.Snapshot();
  EXPECT_GE(b.cpu_clock_offset, a.cpu_clock_offset);
}

TEST(GuestClockTest, RestoreContinuesFromTheMigratedValue) {
  GuestClock clock;
  clock.Restore(GuestClockState{.cpu_ticks_offset = 1000, .cpu_clock_offset = 5'000'000'000});
  EXPECT_EQ(clock.Snapshot().cpu_clock_offset, 5'000'000'000);
  clock.Start();
  EXPECT_GE(clock.Snapshot().cpu_clock_offset, 5'000'000'000);
  EXPECT_LT(clock.Snapshot().cpu_clock_offset, 6'000'000'000);
}

}  // namespace
}  // namespace migemu::system
