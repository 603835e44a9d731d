// multifd_bench: the multifd engine's costs.
//
//   BM_FillPacket / BM_UnfillPacket   one 1344-byte header (128 offsets) encoded / validated
//   BM_SendPrepare/<method>/<data>    a 128-page batch through the method's send step
//   BM_RecvDecode/<method>/<data>     the same packet decoded into guest RAM with a persistent
//                                     stream (data: 0 random pages, 1 compressible pages)
//   BM_Migrate/<channels>/<zc>/<tls>  MultifdSender -> MultifdReceiver over loopback TCP, 256 MiB
//                                     of random RAM, preallocated destination, one round; tls=1/2
//                                     runs every channel through io::TlsChannel (PSK; 1: QEMU's
//                                     default priority, 2: without CHACHA20), handshakes included
//                                     in the time; the label names the negotiated suite
// Bytes are guest page bytes, so bytes_per_second is "GiB of RAM per second" and CPU seconds
// per GiB is its inverse for the single-threaded cases. BM_Migrate reports GiB/s (wall clock)
// and the process CPU seconds per GiB (both sides together).
//
//   build/tests/bench/multifd_bench --benchmark_repetitions=3
//   --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <time.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "io/listener.h"
#include "io/socket_address.h"
#include "io/socket_channel.h"
#include "io/tls_channel.h"
#include "io/tls_creds.h"
#include "migration/multifd/compression.h"
#include "migration/multifd/packet.h"
#include "migration/multifd/receiver.h"
#include "migration/multifd/sender.h"
#include "migration/qemu_file.h"
#include "migration/stats.h"
#include "system/guest_memory.h"

namespace migemu::migration {
namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
constexpr size_t kPage = system::kPageSize;

double ProcessCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

std::unique_ptr<system::GuestMemory> Memory(uint64_t bytes, bool prealloc) {
  auto m = std::make_unique<system::GuestMemory>();
  auto b = system::RamBlock::CreateAnonymous("ram0", bytes, prealloc);
  if (!b.ok()) {
    return nullptr;
  }
  m->AddBlock(std::move(*b));
  return m;
}

void FillRandom(system::RamBlock& b, uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto* p = reinterpret_cast<uint64_t*>(b.host());
  for (size_t i = 0; i < b.used_length() / 8; ++i) {
    p[i] = rng();
  }
}

// Compressible: a repeating pattern with a few random bytes per page (like real guest RAM).
void FillCompressible(system::RamBlock& b, uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (size_t p = 0; p < b.page_count(); ++p) {
    uint8_t* page = b.PageHost(p);
    for (size_t i = 0; i < kPage; ++i) {
      page[i] = static_cast<uint8_t>((i * 7 + p) & 0x3f);
    }
    for (int k = 0; k < 32; ++k) {
      page[rng() % kPage] = static_cast<uint8_t>(rng());
    }
  }
}

MultifdConfig ConfigFor(int method) {
  MultifdConfig c;
  c.compression = static_cast<qapi::MultiFDCompression>(method);
  return c;
}

const char* MethodName(int method) {
  static const char* const kNames[] = {"none", "zlib", "zstd"};
  return kNames[method];
}

void BM_FillPacket(benchmark::State& state) {
  auto mem = Memory(kMultifdPacketSize, false);
  std::vector<uint8_t> header(kMultifdPacketLen);
  std::vector<uint64_t> offsets(kMultifdPageCount);
  for (size_t i = 0; i < offsets.size(); ++i) {
    offsets[i] = i * kPage;
  }
  uint64_t n = 0;
  for (auto _ : state) {
    FillPacket(header.data(), PacketFields{.packet_num = n++}, mem->blocks()[0].get(), offsets);
    benchmark::DoNotOptimize(header.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_FillPacket);

void BM_UnfillPacket(benchmark::State& state) {
  auto mem = Memory(kMultifdPacketSize, false);
  std::vector<uint8_t> header(kMultifdPacketLen);
  std::vector<uint64_t> offsets(kMultifdPageCount);
  for (size_t i = 0; i < offsets.size(); ++i) {
    offsets[i] = i * kPage;
  }
  FillPacket(header.data(), PacketFields{}, mem->blocks()[0].get(), offsets);
  ReceivedPacket p;
  for (auto _ : state) {
    absl::Status s = UnfillPacket(header, *mem, &p);
    benchmark::DoNotOptimize(s);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_UnfillPacket);

// 64 MiB of RAM walked batch by batch, so the data is not all in cache.
constexpr uint64_t kMethodRam = 64 << 20;

void BM_SendPrepare(benchmark::State& state) {
  const int method = static_cast<int>(state.range(0));
  auto mem = Memory(kMethodRam, true);
  system::RamBlock& b = *mem->blocks()[0];
  state.range(1) == 0 ? FillRandom(b, 1) : FillCompressible(b, 1);
  auto send = CreateSendMethod(ConfigFor(method), 0);
  if (!send.ok()) {
    state.SkipWithError("method setup failed");
    return;
  }
  std::vector<uint64_t> offsets(kMultifdPageCount);
  std::vector<iovec> iov;
  uint64_t next = 0;
  uint64_t out = 0;
  for (auto _ : state) {
    for (size_t i = 0; i < offsets.size(); ++i) {
      offsets[i] = ((next + i) * kPage) % kMethodRam;
    }
    next += offsets.size();
    iov.clear();
    auto size = (*send)->Prepare(b, offsets, iov);
    if (!size.ok()) {
      state.SkipWithError("prepare failed");
      return;
    }
    out += *size;
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kMultifdPacketSize));
  state.counters["ratio"] =
      static_cast<double>(out) / static_cast<double>(state.iterations() * kMultifdPacketSize);
  state.SetLabel(std::string(MethodName(method)) + (state.range(1) == 0 ? "/random" : "/text"));
}
BENCHMARK(BM_SendPrepare)->ArgsProduct({{0, 1, 2}, {0, 1}})->UseRealTime();

void BM_RecvDecode(benchmark::State& state) {
  const int method = static_cast<int>(state.range(0));
  auto src = Memory(kMethodRam, true);
  auto dst = Memory(kMethodRam, true);
  system::RamBlock& s = *src->blocks()[0];
  state.range(1) == 0 ? FillRandom(s, 2) : FillCompressible(s, 2);
  // Pre-compress the whole RAM as one channel's packets, then decode them in a loop with a
  // fresh decoder per pass (the stream must be decoded from its start).
  auto send = CreateSendMethod(ConfigFor(method), 0);
  if (!send.ok()) {
    state.SkipWithError("method setup failed");
    return;
  }
  struct Packet {
    std::vector<uint8_t> payload;
    ReceivedPacket header;
  };
  std::vector<Packet> packets;
  const size_t batches = kMethodRam / kMultifdPacketSize;
  for (size_t k = 0; k < batches; ++k) {
    std::vector<uint64_t> offsets(kMultifdPageCount);
    Packet p;
    for (size_t i = 0; i < offsets.size(); ++i) {
      offsets[i] = (k * kMultifdPageCount + i) * kPage;
      p.header.offsets[i] = offsets[i];
    }
    std::vector<iovec> iov;
    if (!(*send)->Prepare(s, offsets, iov).ok()) {
      state.SkipWithError("prepare failed");
      return;
    }
    for (const iovec& v : iov) {
      const auto* b = static_cast<const uint8_t*>(v.iov_base);
      p.payload.insert(p.payload.end(), b, b + v.iov_len);
    }
    p.header.flags = (*send)->flag();
    p.header.normal_pages = kMultifdPageCount;
    p.header.pages_alloc = kMultifdPageCount;
    p.header.block = dst->blocks()[0].get();
    packets.push_back(std::move(p));
  }
  std::unique_ptr<MultifdRecvMethod> recv;
  size_t next = packets.size();
  for (auto _ : state) {
    if (next == packets.size()) {
      state.PauseTiming();
      recv = std::move(*CreateRecvMethod(ConfigFor(method), 0));
      next = 0;
      state.ResumeTiming();
    }
    absl::Status st = recv->Decode(packets[next].payload, packets[next].header);
    if (!st.ok()) {
      state.SkipWithError("decode failed");
      return;
    }
    ++next;
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kMultifdPacketSize));
  state.SetLabel(std::string(MethodName(method)) + (state.range(1) == 0 ? "/random" : "/text"));
}
BENCHMARK(BM_RecvDecode)->ArgsProduct({{0, 1, 2}, {0, 1}})->UseRealTime();

// End to end: one full round of 256 MiB over loopback TCP.
constexpr uint64_t kMigrateRam = 256 << 20;

// PSK credentials for both ends (keys.psk in a fresh temp directory).
// `priority` empty: QEMU's default ("NORMAL" + PSK suites).
std::pair<std::shared_ptr<const io::TlsCreds>, std::shared_ptr<const io::TlsCreds>> PskCreds(
    const std::string& priority) {
  static const std::string dir = [] {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "migemu-bench-psk-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      return std::string();
    }
    std::ofstream(tmpl + "/keys.psk") << "qemu:00112233445566778899aabbccddeeff\n";
    return tmpl;
  }();
  io::TlsCredsConfig c;
  c.kind = io::TlsCredsKind::kPsk;
  c.dir = dir;
  if (!priority.empty()) {
    c.priority = priority;
  }
  auto client = io::TlsCreds::Load(c);
  c.endpoint = io::TlsEndpoint::kServer;
  auto server = io::TlsCreds::Load(c);
  if (!client.ok() || !server.ok()) {
    return {nullptr, nullptr};
  }
  return {*client, *server};
}

void BM_Migrate(benchmark::State& state) {
  const int channels = static_cast<int>(state.range(0));
  const bool zero_copy = state.range(1) != 0;
  // tls: 0 off; 1 PSK with QEMU's default priority (TLS 1.3 external PSKs are bound to
  // SHA-256, so AES-256-GCM-SHA384 is out and CHACHA20-POLY1305 wins); 2 the same with
  // priority=NORMAL:-CHACHA20-POLY1305 (AES-128-GCM, what AES-NI machines can do).
  const bool tls = state.range(2) != 0;
  // Not a structured binding: clang 14 cannot capture those in the lambdas below.
  const auto creds = tls ? PskCreds(state.range(2) == 2 ? "NORMAL:-CHACHA20-POLY1305" : "")
                         : decltype(PskCreds("")){};
  const std::shared_ptr<const io::TlsCreds> client_creds = creds.first;
  const std::shared_ptr<const io::TlsCreds> server_creds = creds.second;
  if (tls && client_creds == nullptr) {
    state.SkipWithError("cannot load PSK credentials");
    return;
  }
  auto src = Memory(kMigrateRam, true);
  auto dst = Memory(kMigrateRam, true);
  FillRandom(*src->blocks()[0], 3);
  io::InetSocketAddress inet;
  inet.host = "127.0.0.1";
  inet.port = "0";
  double cpu = 0;
  double wall = 0;
  absl::Mutex suite_mu;
  std::string suite;
  for (auto _ : state) {
    auto listener = io::Listener::Listen(inet, channels);
    if (!listener.ok()) {
      state.SkipWithError("listen failed");
      return;
    }
    const io::SocketAddress addr = (*listener)->addresses().at(0);
    MultifdConfig config;
    config.channels = channels;
    config.zero_copy = zero_copy;
    MultifdReceiver receiver(config, *dst);
    std::jthread acceptor([&](std::stop_token stop) {
      for (int i = 0; i < channels; ++i) {
        auto ch = (*listener)->AcceptBlocking(stop);
        if (!ch.ok()) {
          return;
        }
        if (tls) {
          io::TlsSessionParams params;
          params.endpoint = io::TlsEndpoint::kServer;
          auto t = io::TlsChannel::Handshake(std::move(*ch), server_creds, params, stop);
          if (!t.ok()) {
            return;
          }
          receiver.AddChannel(std::move(*t));
          continue;
        }
        receiver.AddChannel(std::move(*ch));
      }
    });
    std::jthread loader([&] {
      for (int k = 0; k < 2; ++k) {
        if (!receiver.SyncMain().ok()) {
          return;
        }
      }
    });
    auto main = io::SocketChannel::CreatePair();
    QemuFileWriter main_file(*main->first);
    RamCounters counters;
    const double cpu0 = ProcessCpuSeconds();
    const auto t0 = std::chrono::steady_clock::now();
    absl::Status s;
    {
      MultifdSender sender(
          config,
          [&](std::stop_token stop) -> absl::StatusOr<std::unique_ptr<io::Channel>> {
            auto ch = io::SocketChannel::Connect(addr, stop);
            if (!ch.ok()) {
              return ch.status();
            }
            (void)(*ch)->SetNoDelay(true);
            if (zero_copy) {
              absl::Status z = (*ch)->EnableZeroCopy();
              if (!z.ok()) {
                return z;
              }
            }
            if (tls) {
              auto t = io::TlsChannel::Handshake(std::move(*ch), client_creds,
                                                 io::TlsSessionParams{}, stop);
              if (!t.ok()) {
                return t.status();
              }
              {
                absl::MutexLock lock(&suite_mu);
                suite = (*t)->SessionDescription();
              }
              return std::unique_ptr<io::Channel>(std::move(*t));
            }
            return std::unique_ptr<io::Channel>(std::move(*ch));
          },
          counters, main_file);
      s = sender.Start();
      if (s.ok()) {
        s = sender.SyncMain();
      }
      system::RamBlock& b = *src->blocks()[0];
      for (size_t p = 0; s.ok() && p < b.page_count(); ++p) {
        s = sender.QueuePage(b, p * kPage);
      }
      if (s.ok()) {
        s = sender.SyncMain();
      }
    }
    if (!s.ok()) {
      receiver.Shutdown();  // the loader would wait for syncs that never come
    }
    loader.join();
    const auto t1 = std::chrono::steady_clock::now();
    cpu += ProcessCpuSeconds() - cpu0;
    wall += std::chrono::duration<double>(t1 - t0).count();
    if (!s.ok() || !receiver.error().ok()) {
      state.SkipWithError(std::string(s.ok() ? receiver.error().message() : s.message()).c_str());
      return;
    }
    state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
  }
  if (std::memcmp(src->blocks()[0]->host(), dst->blocks()[0]->host(), kMigrateRam) != 0) {
    state.SkipWithError("destination RAM differs");
    return;
  }
  const double gib = static_cast<double>(state.iterations()) * kMigrateRam / kGiB;
  state.counters["GiB/s"] = gib / wall;
  state.counters["cpu_s/GiB"] = cpu / gib;
  absl::MutexLock lock(&suite_mu);
  if (!suite.empty()) {
    state.SetLabel(suite);
  }
}
BENCHMARK(BM_Migrate)
    ->ArgsProduct({{1, 2, 4, 8}, {0, 1}, {0}})
    ->ArgsProduct({{1, 2, 4}, {0}, {1, 2}})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);

}  // namespace
}  // namespace migemu::migration

BENCHMARK_MAIN();
