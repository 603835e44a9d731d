// ram_bench: the RAM-side hot paths of a migration source, per GiB of guest RAM.
//
//   BM_BitmapSync/<GiB>/<dirty permille>  RamSaver::BitmapSync() (migration_bitmap_sync):
//                         harvest every page's dirty bit from the guest's dirty log into the
//                         migration bitmap. The guest RAM is mapped but never touched (the
//                         sync reads only bitmaps), so 8 GiB costs no memory. Permille 1000 =
//                         every page dirty, 10 = 1% (spread evenly).
//   BM_DirtyWalk/<dirty permille>  after a sync, RamSaver::Iterate() until no dirty page is
//                         left, with every page non-zero and a multifd queue that accepts
//                         pages without sending them: the walk over the bitmap, the zero-page
//                         test of each dirty page, the counters, the hand-off. 1 GiB of RAM.
//   BM_ZeroPageDetect/<kind>  RamBlock::IsZeroPage over 256 MiB of resident pages: kind 0 = all
//                         zero (every byte read), 1 = random (the first word decides).
//   BM_StreamWriterPage/<kind>  RamEncoder::SavePage into a QemuFileWriter whose channel is
//                         /dev/null: the per-page cost of the main stream without multifd
//                         (page record header, page referenced in the iovec batch, one writev
//                         per batch). Kind 0 = random pages (PAGE records), 1 = zero pages
//                         (ZERO records, after the full zero test).
// zlib/zstd per GiB and the multifd packet encode/decode are in multifd_bench
// (BM_SendPrepare, BM_RecvDecode, BM_FillPacket, BM_UnfillPacket).
//
// Every benchmark reports bytes_per_second of guest RAM and "ms/GiB" (time per GiB of RAM).
//
//   build/tests/bench/ram_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <fcntl.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>

#include "io/fd_channel.h"
#include "migration/multifd_queue.h"
#include "migration/qemu_file.h"
#include "migration/ram_codec.h"
#include "migration/ram_save.h"
#include "migration/stats.h"
#include "system/guest_memory.h"
#include "util/unique_fd.h"

namespace migemu::migration {
namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

// Accepts pages and syncs without sending anything: isolates the saver from the channels.
class NullQueue final : public MultifdPageQueue {
 public:
  absl::Status QueuePage(system::RamBlock& /*block*/, uint64_t /*offset*/) override {
    ++pages_;
    return absl::OkStatus();
  }
  absl::Status SyncMain() override { return absl::OkStatus(); }
  uint64_t pages() const { return pages_; }

 private:
  uint64_t pages_ = 0;
};

std::unique_ptr<io::FdChannel> DevNull() {
  const int fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    return nullptr;
  }
  auto ch = io::FdChannel::Create(util::UniqueFd(fd), "/dev/null");
  return ch.ok() ? std::move(*ch) : nullptr;
}

std::unique_ptr<system::GuestMemory> MakeRam(uint64_t bytes, bool prealloc) {
  auto memory = std::make_unique<system::GuestMemory>();
  auto block = system::RamBlock::CreateAnonymous("ram0", bytes, prealloc);
  if (!block.ok()) {
    return nullptr;
  }
  memory->AddBlock(std::move(*block));
  return memory;
}

void MarkDirty(system::RamBlock& block, int permille) {
  if (permille >= 1000) {
    block.dirty_log().MarkAll();
    return;
  }
  const size_t step = 1000 / static_cast<size_t>(permille);
  for (size_t p = 0; p < block.page_count(); p += step) {
    block.dirty_log().Mark(p);
  }
}

void FillRandom(system::RamBlock& block, uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto* p = reinterpret_cast<uint64_t*>(block.host());
  for (size_t i = 0; i < block.used_length() / 8; ++i) {
    p[i] = rng() | 1;  // no zero page
  }
}

void ReportPerGiB(benchmark::State& state, uint64_t ram_bytes) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * ram_bytes));
  state.counters["ms/GiB"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * static_cast<double>(ram_bytes) / kGiB * 1e-3,
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_BitmapSync(benchmark::State& state) {
  const uint64_t bytes = static_cast<uint64_t>(state.range(0)) << 30;
  const int permille = static_cast<int>(state.range(1));
  auto memory = MakeRam(bytes, false);
  auto sink = DevNull();
  if (memory == nullptr || sink == nullptr) {
    state.SkipWithError("cannot map guest RAM or open /dev/null");
    return;
  }
  RamCounters counters;
  QemuFileWriter writer(*sink);
  RamSaver saver(*memory, counters, writer, nullptr, RamSaver::Hooks{});
  system::RamBlock& block = *memory->blocks()[0];
  // Creates the migration bitmaps (every page dirty, as at the start of a migration); the
  // harvest's work does not depend on what the bitmap already holds.
  if (!saver.Setup().ok()) {
    state.SkipWithError("setup failed");
    return;
  }
  for (auto _ : state) {
    state.PauseTiming();
    MarkDirty(block, permille);
    state.ResumeTiming();
    saver.BitmapSync();
  }
  ReportPerGiB(state, bytes);
}
BENCHMARK(BM_BitmapSync)
    ->ArgNames({"GiB", "permille"})
    ->ArgsProduct({{1, 2, 4, 8}, {1000, 10}})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

void BM_DirtyWalk(benchmark::State& state) {
  const uint64_t bytes = uint64_t{1} << 30;
  const int permille = static_cast<int>(state.range(0));
  auto memory = MakeRam(bytes, true);
  auto sink = DevNull();
  if (memory == nullptr || sink == nullptr) {
    state.SkipWithError("cannot map guest RAM or open /dev/null");
    return;
  }
  system::RamBlock& block = *memory->blocks()[0];
  FillRandom(block, 3);
  RamCounters counters;
  QemuFileWriter writer(*sink);
  NullQueue queue;
  RamSaver saver(*memory, counters, writer, &queue, RamSaver::Hooks{});
  if (!saver.Setup().ok()) {
    state.SkipWithError("setup failed");
    return;
  }
  // The setup pass: every page dirty once; walk it away before measuring.
  while (true) {
    auto done = saver.Iterate(absl::InfiniteDuration());
    if (!done.ok() || *done) {
      break;
    }
  }
  for (auto _ : state) {
    state.PauseTiming();
    MarkDirty(block, permille);
    saver.BitmapSync();
    state.ResumeTiming();
    auto done = saver.Iterate(absl::InfiniteDuration());
    if (!done.ok() || !*done) {
      state.SkipWithError("the walk did not finish in one iteration");
      break;
    }
  }
  ReportPerGiB(state, bytes);
  state.counters["pages"] = static_cast<double>(queue.pages());
}
BENCHMARK(BM_DirtyWalk)->ArgName("permille")->Arg(1000)->Arg(10)->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_ZeroPageDetect(benchmark::State& state) {
  const uint64_t bytes = 256 << 20;
  const bool random = state.range(0) != 0;
  auto memory = MakeRam(bytes, true);  // resident: distinct pages, not the shared zero page
  if (memory == nullptr) {
    state.SkipWithError("cannot map guest RAM");
    return;
  }
  system::RamBlock& block = *memory->blocks()[0];
  if (random) {
    FillRandom(block, 5);
  }
  uint64_t zero = 0;
  for (auto _ : state) {
    for (size_t p = 0; p < block.page_count(); ++p) {
      zero += block.IsZeroPage(p) ? 1 : 0;
    }
  }
  benchmark::DoNotOptimize(zero);
  ReportPerGiB(state, bytes);
}
BENCHMARK(BM_ZeroPageDetect)->ArgName("random")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_StreamWriterPage(benchmark::State& state) {
  const uint64_t bytes = 256 << 20;
  const bool zero = state.range(0) != 0;
  auto memory = MakeRam(bytes, true);
  auto sink = DevNull();
  if (memory == nullptr || sink == nullptr) {
    state.SkipWithError("cannot map guest RAM or open /dev/null");
    return;
  }
  system::RamBlock& block = *memory->blocks()[0];
  if (!zero) {
    FillRandom(block, 9);
  }
  QemuFileWriter writer(*sink);
  RamEncoder encoder(writer);
  uint64_t pages = 0;
  for (auto _ : state) {
    for (size_t p = 0; p < block.page_count(); ++p) {
      encoder.SavePage(block, p);
    }
    if (!writer.Flush().ok()) {
      state.SkipWithError("write to /dev/null failed");
      break;
    }
    pages += block.page_count();
  }
  ReportPerGiB(state, bytes);
  state.counters["ns/page"] = benchmark::Counter(
      static_cast<double>(pages) * 1e-9, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["writev/GiB"] = static_cast<double>(writer.flush_count()) /
                                 (static_cast<double>(pages) * 4096.0 / kGiB);
}
BENCHMARK(BM_StreamWriterPage)->ArgName("zero")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace migemu::migration

BENCHMARK_MAIN();
