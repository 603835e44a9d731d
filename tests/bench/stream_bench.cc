// stream_bench: the main migration stream end to end over loopback TCP, without multifd.
//
// Each iteration migrates 512 MiB of random non-zero guest RAM: the source thread writes the
// whole QEMU 7.2 stream (header, configuration, ram START/PART/END, timer, globalstate, EOF,
// vmdesc) with QemuFileWriter + RamEncoder into a SocketChannel; the destination thread runs
// LoadVmState with a RamLoader into guest RAM and the result is compared.
//   BM_StreamPrecopy/fresh     destination RAM freshly mapped per run (first-touch faults)
//   BM_StreamPrecopy/prealloc  destination RAM preallocated once (-mem-prealloc)
// Reported: GiB/s (wall clock), CPU seconds per GiB on each side, writev batches per GiB and
// channel reads per GiB of the loader.
//
//   build/tests/bench/stream_bench --benchmark_repetitions=3
//   --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <time.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <thread>

#include "io/listener.h"
#include "io/socket_address.h"
#include "io/socket_channel.h"
#include "migration/device_state.h"
#include "migration/qemu_file.h"
#include "migration/ram_codec.h"
#include "migration/savevm.h"
#include "system/guest_memory.h"

namespace migemu::migration {
namespace {

constexpr uint64_t kRamBytes = 512 << 20;
constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

std::unique_ptr<system::GuestMemory> MakeRam(bool prealloc) {
  auto memory = std::make_unique<system::GuestMemory>();
  auto block = system::RamBlock::CreateAnonymous("ram0", kRamBytes, prealloc);
  if (!block.ok()) {
    return nullptr;
  }
  memory->AddBlock(std::move(*block));
  return memory;
}

// Source RAM: random, no zero page; built once.
system::GuestMemory& SourceRam() {
  static system::GuestMemory* ram = [] {
    auto m = MakeRam(true);
    std::mt19937_64 rng(7);
    auto* p = reinterpret_cast<uint64_t*>(m->blocks()[0]->host());
    for (size_t i = 0; i < kRamBytes / 8; ++i) {
      p[i] = rng() | 1;
    }
    return m.release();  // NOLINT: process-lifetime singleton
  }();
  return *ram;
}

struct Link {
  std::unique_ptr<io::SocketChannel> source;
  std::unique_ptr<io::SocketChannel> destination;
};

absl::StatusOr<Link> Connect() {
  io::InetSocketAddress any;
  any.host = "127.0.0.1";
  any.port = "0";
  auto l = io::Listener::Listen(any);
  if (!l.ok()) {
    return l.status();
  }
  io::InetSocketAddress to = any;
  to.port = std::get<io::InetSocketAddress>((*l)->addresses()[0]).port;
  auto c = io::SocketChannel::Connect(to);
  if (!c.ok()) {
    return c.status();
  }
  auto s = (*l)->AcceptBlocking();
  if (!s.ok()) {
    return s.status();
  }
  return Link{std::move(*c), std::move(*s)};
}

absl::Status SendStream(QemuFileWriter& w, const system::GuestMemory& memory) {
  RamEncoder enc(w);
  const system::RamBlock& block = *memory.blocks()[0];
  PutFileHeader(w);
  PutConfiguration(w, "none");
  SectionInfo ram{kRamIdstr, kQemuSectionIdRam, 0, kRamVersion};
  PutSectionStart(w, ram);
  enc.PutMemSize(memory);
  enc.PutEos();
  PutSectionFooter(w, ram);
  PutSectionPart(w, ram);
  for (size_t p = 0; p < block.page_count(); ++p) {
    enc.SavePage(block, p);
  }
  enc.PutEos();
  PutSectionFooter(w, ram);
  PutSectionEnd(w, ram);
  enc.PutEos();
  PutSectionFooter(w, ram);
  if (absl::Status s = PutDeviceStateAndEof(w, DeviceStateParams{}); !s.ok()) {
    return s;
  }
  return w.Flush();
}

void BM_StreamPrecopy(benchmark::State& state) {
  const bool prealloc = state.range(0) != 0;
  system::GuestMemory& src = SourceRam();
  std::unique_ptr<system::GuestMemory> kept = prealloc ? MakeRam(true) : nullptr;
  double src_cpu = 0;
  double dst_cpu = 0;
  uint64_t bytes = 0;
  uint64_t batches = 0;
  uint64_t reads = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto link = Connect();
    std::unique_ptr<system::GuestMemory> fresh = prealloc ? nullptr : MakeRam(false);
    system::GuestMemory* dst = prealloc ? kept.get() : fresh.get();
    if (!link.ok() || dst == nullptr) {
      state.SkipWithError("setup failed");
      break;
    }
    state.ResumeTiming();
    absl::Status load_status;
    double load_cpu = 0;
    uint64_t load_reads = 0;
    std::thread loader([&] {
      const double c0 = ThreadCpuSeconds();
      QemuFileReader r(*link->destination);
      RamLoader ram(*dst);
      TimerSection timer;
      GlobalStateSection gs;
      SectionHandler* handlers[] = {&timer, &ram, &gs};
      load_status = LoadVmState(r, handlers, LoadOptions{}, LoadHooks{}, nullptr);
      load_cpu = ThreadCpuSeconds() - c0;
      load_reads = r.channel_reads();
    });
    const double c0 = ThreadCpuSeconds();
    QemuFileWriter w(*link->source);
    absl::Status send_status = SendStream(w, src);
    src_cpu += ThreadCpuSeconds() - c0;
    (void)link->source->Shutdown(io::ShutdownDirection::kWrite);
    loader.join();
    dst_cpu += load_cpu;
    reads += load_reads;
    batches += w.flush_count();
    bytes += kRamBytes;
    state.PauseTiming();
    if (!send_status.ok() || !load_status.ok() ||
        std::memcmp(src.blocks()[0]->host(), dst->blocks()[0]->host(), kRamBytes) != 0) {
      state.SkipWithError("migration failed or RAM differs");
      break;
    }
    state.ResumeTiming();
  }
  const double gib = static_cast<double>(bytes) / kGiB;
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.counters["GiB/s"] = benchmark::Counter(gib, benchmark::Counter::kIsRate);
  state.counters["src_cpu_s/GiB"] = gib > 0 ? src_cpu / gib : 0;
  state.counters["dst_cpu_s/GiB"] = gib > 0 ? dst_cpu / gib : 0;
  state.counters["writev/GiB"] = gib > 0 ? static_cast<double>(batches) / gib : 0;
  state.counters["reads/GiB"] = gib > 0 ? static_cast<double>(reads) / gib : 0;
}

BENCHMARK(BM_StreamPrecopy)
    ->ArgName("prealloc")
    ->Arg(0)
    ->Arg(1)
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace migemu::migration

BENCHMARK_MAIN();
