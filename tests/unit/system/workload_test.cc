#include "system/workload.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

namespace migemu::system {
namespace {

std::unique_ptr<GuestMemory> MakeMemory(size_t pages) {
  auto mem = std::make_unique<GuestMemory>();
  mem->AddBlock(*RamBlock::CreateAnonymous("ram", pages * kPageSize, false));
  return mem;
}

TEST(WorkloadConfigTest, ParsesEveryField) {
  auto c =
      ParseWorkloadConfig("dirty-rate=64M/s,pattern=hotspot,hot-fraction=0.25,seed=7,threads=2");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->dirty_rate, 64u << 20);
  EXPECT_EQ(c->pattern, WorkloadPattern::kHotspot);
  EXPECT_DOUBLE_EQ(c->hot_fraction, 0.25);
  EXPECT_EQ(c->seed, 7u);
  EXPECT_EQ(c->threads, 2);
  EXPECT_EQ(ParseWorkloadConfig("dirty-rate=1G")->dirty_rate, 1u << 30);
}

TEST(WorkloadConfigTest, ErrorsNameTheKey) {
  EXPECT_EQ(ParseWorkloadConfig("rate=1M").status().message(), "Invalid parameter 'rate'");
  EXPECT_EQ(ParseWorkloadConfig("pattern=zigzag").status().message(),
            "Parameter 'pattern' does not accept value 'zigzag'");
  EXPECT_EQ(ParseWorkloadConfig("dirty-rate=fast").status().message(),
            "Parameter 'dirty-rate' expects a size per second, e.g. 64M/s");
  EXPECT_EQ(ParseWorkloadConfig("hot-fraction=0").status().message(),
            "Parameter 'hot-fraction' expects a number in the range (0, 1]");
  EXPECT_EQ(ParseWorkloadConfig("threads=0").status().message(),
            "Parameter 'threads' expects an integer in the range of 1 to 64");
}

// Every page the workload changed is in the dirty log once it is paused, and every page it
// wrote verifies.
TEST(WorkloadTest, EveryWriteIsLoggedAndVerifiable) {
  for (WorkloadPattern pattern :
       {WorkloadPattern::kRandom, WorkloadPattern::kSequential, WorkloadPattern::kHotspot}) {
    auto mem = MakeMemory(4096);
    RamBlock* ram = mem->Find("ram");
    std::vector<uint64_t> dirty(ram->dirty_log().words(), 0);
    Workload w(*mem);
    WorkloadConfig c;
    c.dirty_rate = 256 << 20;
    c.pattern = pattern;
    c.threads = 2;
    ASSERT_TRUE(w.Configure(c).ok());
    w.Resume();
    while (w.Stats().pages_written < 2000) {
      ram->dirty_log().HarvestInto(dirty.data());
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    w.Pause();
    ram->dirty_log().HarvestInto(dirty.data());
    uint64_t written = 0;
    for (size_t p = 0; p < ram->page_count(); ++p) {
      if (!ram->IsZeroPage(p)) {
        ++written;
        ASSERT_TRUE(dirty[p >> 6] & (uint64_t{1} << (p & 63))) << "page " << p << " not logged";
      }
    }
    EXPECT_GT(written, 0u);
    WorkloadVerifyResult v = Workload::Verify(*mem);
    EXPECT_EQ(v.bad_pages, 0u) << v.first_bad;
    EXPECT_EQ(v.workload_pages, written);
  }
}

TEST(WorkloadTest, PauseQuiescesWriters) {
  auto mem = MakeMemory(1024);
  Workload w(*mem);
  WorkloadConfig c;
  c.dirty_rate = 512 << 20;
  ASSERT_TRUE(w.Configure(c).ok());
  w.Resume();
  while (w.Stats().pages_written < 100) {
    std::this_thread::yield();
  }
  w.Pause();
  uint64_t after_pause = w.Stats().pages_written;
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(w.Stats().pages_written, after_pause);
  EXPECT_FALSE(w.running());
  w.Resume();
  while (w.Stats().pages_written == after_pause) {
    std::this_thread::yield();
  }
}

TEST(WorkloadTest, VerifyDetectsTornAndMisplacedPages) {
  auto mem = MakeMemory(64);
  Workload w(*mem);
  WorkloadConfig c;
  c.dirty_rate = 64 << 20;
  c.pattern = WorkloadPattern::kSequential;
  ASSERT_TRUE(w.Configure(c).ok());
  w.Resume();
  while (w.Stats().pages_written < 64) {
    std::this_thread::yield();
  }
  w.Pause();
  RamBlock* ram = mem->Find("ram");
  EXPECT_EQ(Workload::Verify(*mem).bad_pages, 0u);
  ram->PageHost(3)[100] ^= 1;                                  // torn
  std::memcpy(ram->PageHost(9), ram->PageHost(8), kPageSize);  // misplaced
  WorkloadVerifyResult v = Workload::Verify(*mem);
  EXPECT_EQ(v.bad_pages, 2u);
  EXPECT_EQ(v.first_bad, "ram:0x3000");
}

TEST(WorkloadTest, ThrottleIsClampedAndIdleConfigStartsNothing) {
  auto mem = MakeMemory(16);
  Workload w(*mem);
  w.SetThrottle(150);
  EXPECT_EQ(w.throttle(), 99);
  w.SetThrottle(-3);
  EXPECT_EQ(w.throttle(), 0);
  ASSERT_TRUE(w.Configure(WorkloadConfig{}).ok());
  w.Resume();
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  w.Pause();
  EXPECT_EQ(w.Stats().pages_written, 0u);
}

}  // namespace
}  // namespace migemu::system

namespace migemu::system {
namespace {

TEST(WorkloadTest, PrefillWritesEveryPageVerifiably) {
  auto mem = MakeMemory(300);
  Workload w(*mem);
  EXPECT_TRUE(ParseWorkloadConfig("prefill=on")->prefill);
  EXPECT_EQ(ParseWorkloadConfig("prefill=maybe").status().message(),
            "Parameter 'prefill' expects 'on' or 'off'");
  w.Prefill(3);
  WorkloadVerifyResult v = Workload::Verify(*mem);
  EXPECT_EQ(v.bad_pages, 0u);
  EXPECT_EQ(v.workload_pages, 300u);
}

}  // namespace
}  // namespace migemu::system
