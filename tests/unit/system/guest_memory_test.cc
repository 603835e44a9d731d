#include "system/guest_memory.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <random>
#include <set>
#include <thread>

namespace migemu::system {
namespace {

TEST(DirtyLogTest, MarkHarvestClears) {
  DirtyLog log(130);
  std::vector<uint64_t> dest(log.words(), 0);
  log.Mark(0);
  log.Mark(64);
  log.Mark(129);
  EXPECT_EQ(log.Count(), 3u);
  EXPECT_EQ(log.HarvestInto(dest.data()), 3u);
  EXPECT_EQ(dest[0], 1u);
  EXPECT_EQ(dest[1], 1u);
  EXPECT_EQ(dest[2], 2u);
  EXPECT_EQ(log.Count(), 0u);
  EXPECT_EQ(log.HarvestInto(dest.data()), 0u);
  // A page harvested again while still set in `dest` is not new.
  log.Mark(0);
  log.Mark(1);
  EXPECT_EQ(log.HarvestInto(dest.data()), 1u);
}

TEST(DirtyLogTest, MarkAllSetsExactlyThePages) {
  DirtyLog log(130);
  log.MarkAll();
  EXPECT_EQ(log.Count(), 130u);
  std::vector<uint64_t> dest(log.words(), 0);
  EXPECT_EQ(log.HarvestInto(dest.data()), 130u);
  EXPECT_EQ(dest[2], 3u);  // pages 128 and 129 only
}

TEST(DirtyLogTest, RateClientIsIndependentAndOffByDefault) {
  DirtyLog log(128);
  std::vector<uint64_t> mig(log.words(), 0);
  std::vector<uint64_t> rate(log.words(), 0);
  log.Mark(1);
  EXPECT_EQ(log.Count(DirtyLog::kDirtyRate), 0u);
  log.EnableRateClient(true);
  log.Mark(2);
  log.Mark(3);
  EXPECT_EQ(log.HarvestInto(rate.data(), DirtyLog::kDirtyRate), 2u);
  EXPECT_EQ(log.HarvestInto(mig.data(), DirtyLog::kMigration), 3u);
  log.EnableRateClient(false);
  log.Mark(4);
  EXPECT_EQ(log.Count(DirtyLog::kDirtyRate), 0u);
  EXPECT_EQ(log.Count(DirtyLog::kMigration), 1u);
}

TEST(DirtyLogTest, ConcurrentMarksAreNeverLost) {
  constexpr size_t kPages = 1 << 16;
  DirtyLog log(kPages);
  std::vector<uint64_t> harvested(log.words(), 0);
  std::atomic<bool> done{false};
  std::vector<std::vector<size_t>> marked(2);
  std::vector<std::thread> writers;
  for (int t = 0; t < 2; ++t) {
    writers.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      for (int i = 0; i < 200000; ++i) {
        size_t p = rng() % kPages;
        log.Mark(p);
        marked[t].push_back(p);
      }
    });
  }
  std::thread harvester([&] {
    while (!done.load()) {
      log.HarvestInto(harvested.data());
    }
  });
  for (auto& w : writers) {
    w.join();
  }
  done = true;
  harvester.join();
  log.HarvestInto(harvested.data());
  for (const auto& m : marked) {
    for (size_t p : m) {
      ASSERT_TRUE(harvested[p >> 6] & (uint64_t{1} << (p & 63))) << p;
    }
  }
}

TEST(RamBlockTest, AnonymousIsZeroAndWritable) {
  auto block = RamBlock::CreateAnonymous("ram", 64 * kPageSize, /*prealloc=*/true);
  ASSERT_TRUE(block.ok()) << block.status();
  EXPECT_EQ((*block)->idstr(), "ram");
  EXPECT_EQ((*block)->page_count(), 64u);
  EXPECT_TRUE((*block)->IsZeroPage(5));
  (*block)->PageHost(5)[4095] = 1;
  EXPECT_FALSE((*block)->IsZeroPage(5));
  EXPECT_TRUE((*block)->IsZeroPage(6));
}

TEST(RamBlockTest, OnlyPreallocatedBlocksArePopulated) {
  auto pre = RamBlock::CreateAnonymous("pre", 16 * kPageSize, /*prealloc=*/true);
  auto lazy = RamBlock::CreateAnonymous("lazy", 16 * kPageSize, /*prealloc=*/false);
  ASSERT_TRUE(pre.ok() && lazy.ok());
  EXPECT_TRUE((*pre)->populated());
  EXPECT_FALSE((*lazy)->populated());
}

TEST(RamBlockTest, RejectsSizeNotMultipleOfPage) {
  auto block = RamBlock::CreateAnonymous("ram", 1000, false);
  EXPECT_EQ(block.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(RamBlockTest, SharedFileShowsGuestWrites) {
  char path[] = "/tmp/migemu-ram-XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "abc", 3), 3);  // existing content is kept, file is extended
  ::close(fd);
  {
    auto block = RamBlock::CreateFromFile("ram0", 4 * kPageSize, path, /*share=*/true, false);
    ASSERT_TRUE(block.ok()) << block.status();
    EXPECT_EQ((*block)->host()[0], 'a');
    (*block)->PageHost(2)[7] = 0x5a;
  }
  fd = ::open(path, O_RDONLY);
  ASSERT_GE(fd, 0);
  uint8_t b = 0;
  ASSERT_EQ(::pread(fd, &b, 1, 2 * kPageSize + 7), 1);
  EXPECT_EQ(b, 0x5a);
  EXPECT_EQ(::lseek(fd, 0, SEEK_END), static_cast<off_t>(4 * kPageSize));
  ::close(fd);
  ::unlink(path);
}

TEST(RamBlockTest, FileInMissingDirectoryFailsWithReason) {
  auto block = RamBlock::CreateFromFile("ram0", kPageSize, "/nonexistent-dir/x", true, false);
  ASSERT_FALSE(block.ok());
  EXPECT_EQ(block.status().message(),
            "can't open backing store /nonexistent-dir/x for guest RAM: No such file or directory");
}

TEST(IsZeroBufferTest, DetectsAnyNonZeroByte) {
  std::vector<uint8_t> buf(kPageSize, 0);
  EXPECT_TRUE(IsZeroBuffer(buf.data(), buf.size()));
  for (size_t i : {size_t{0}, size_t{63}, size_t{64}, size_t{2049}, kPageSize - 1}) {
    buf[i] = 0x80;
    EXPECT_FALSE(IsZeroBuffer(buf.data(), buf.size())) << i;
    buf[i] = 0;
  }
}

TEST(GuestMemoryTest, FindAndTotals) {
  GuestMemory mem;
  mem.AddBlock(*RamBlock::CreateAnonymous("a", 2 * kPageSize, false));
  mem.AddBlock(*RamBlock::CreateAnonymous("b", 3 * kPageSize, false));
  EXPECT_EQ(mem.total_bytes(), 5 * kPageSize);
  EXPECT_EQ(mem.total_pages(), 5u);
  ASSERT_NE(mem.Find("b"), nullptr);
  EXPECT_EQ(mem.Find("b")->page_count(), 3u);
  EXPECT_EQ(mem.Find("c"), nullptr);
}

}  // namespace
}  // namespace migemu::system
