// channel_bench: what the multifd send path costs through io::Channel over loopback TCP.
//
// Every benchmark streams batches of 128 pages of 4 KiB (one multifd packet's payload) from a
// 256 MiB "guest RAM" buffer to a receiver thread that reads and discards them:
//   BM_PlainSend          raw ::send() of the batch as one contiguous 512 KiB buffer (baseline)
//   BM_ChannelWritev      SocketChannel::WritevAll of 128 page iovecs, copied by the kernel
//   BM_ChannelWritevZeroCopy  the same with kWriteZeroCopy, Flush() every 16 batches (8 MiB,
//                         a multifd sync point) and at the end
// Reported per run: GiB/s (wall clock), CPU seconds per GiB for the sending thread and for the
// receiving thread, and for zero copy the share of completions the kernel reported as copied
// (loopback: all of them, the receiver copies).
//
//   build/tests/bench/channel_bench --benchmark_repetitions=5
//                                   --benchmark_report_aggregates_only=true   (one line)
#include <benchmark/benchmark.h>
#include <sys/socket.h>
#include <time.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "io/listener.h"
#include "io/socket_address.h"
#include "io/socket_channel.h"

namespace migemu::io {
namespace {

constexpr size_t kPageSize = 4096;
constexpr size_t kPagesPerBatch = 128;
constexpr size_t kBatchBytes = kPageSize * kPagesPerBatch;
constexpr size_t kRamBytes = 256 << 20;
constexpr size_t kBatchesPerFlush = 16;
constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Guest RAM, allocated and touched once for the whole run.
const std::vector<uint8_t>& Ram() {
  static const std::vector<uint8_t>* ram = [] {
    auto* v = new std::vector<uint8_t>(kRamBytes);  // NOLINT: process-lifetime singleton
    for (size_t i = 0; i < v->size(); i += 64) {
      (*v)[i] = static_cast<uint8_t>(i / 64 * 31);
    }
    return v;
  }();
  return *ram;
}

// A loopback connection with a receiver thread draining it.
class Loopback {
 public:
  bool Open(std::string* error) {
    InetSocketAddress any;
    any.host = "127.0.0.1";
    any.port = "0";
    auto l = Listener::Listen(any);
    if (!l.ok()) {
      *error = std::string(l.status().message());
      return false;
    }
    InetSocketAddress to = any;
    to.port = std::get<InetSocketAddress>((*l)->addresses()[0]).port;
    auto c = SocketChannel::Connect(to);
    if (!c.ok()) {
      *error = std::string(c.status().message());
      return false;
    }
    auto s = (*l)->AcceptBlocking();
    if (!s.ok()) {
      *error = std::string(s.status().message());
      return false;
    }
    sender_ = std::move(*c);
    receiver_ = std::move(*s);
    (void)sender_->SetNoDelay(true);  // as multifd channels
    reader_ = std::thread([this] {
      const double start = ThreadCpuSeconds();
      std::vector<uint8_t> buf(1 << 20);
      for (;;) {
        iovec v{buf.data(), buf.size()};
        auto n = receiver_->Readv({&v, 1});
        if (!n.ok() || *n == 0) {
          break;
        }
        received_ += *n;
      }
      receiver_cpu_ = ThreadCpuSeconds() - start;
    });
    return true;
  }

  // Ends the stream and waits for the receiver to drain it.
  void Finish() {
    (void)sender_->Shutdown(ShutdownDirection::kWrite);
    reader_.join();
  }

  SocketChannel& sender() { return *sender_; }
  double receiver_cpu() const { return receiver_cpu_; }
  uint64_t received() const { return received_; }

 private:
  std::unique_ptr<SocketChannel> sender_;
  std::unique_ptr<SocketChannel> receiver_;
  std::thread reader_;
  uint64_t received_ = 0;    // written by reader_, read after join
  double receiver_cpu_ = 0;  // idem
};

void Report(benchmark::State& state, uint64_t bytes, double sender_cpu, const Loopback& link) {
  const double gib = static_cast<double>(bytes) / kGiB;
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.counters["GiB/s"] = benchmark::Counter(gib, benchmark::Counter::kIsRate);
  state.counters["snd_cpu_s/GiB"] = sender_cpu / gib;
  state.counters["rcv_cpu_s/GiB"] = link.receiver_cpu() / gib;
  if (link.received() != bytes) {
    state.SkipWithError("receiver lost bytes");
  }
}

void BM_PlainSend(benchmark::State& state) {
  Loopback link;
  std::string error;
  if (!link.Open(&error)) {
    state.SkipWithError(error.c_str());
    return;
  }
  const int fd = link.sender().fd();
  const uint8_t* ram = Ram().data();
  size_t batch = 0;
  uint64_t bytes = 0;
  const double cpu0 = ThreadCpuSeconds();
  for (auto _ : state) {
    const uint8_t* p = ram + (batch++ % (kRamBytes / kBatchBytes)) * kBatchBytes;
    size_t left = kBatchBytes;
    while (left > 0) {
      ssize_t n = ::send(fd, p, left, MSG_NOSIGNAL);
      if (n <= 0) {
        state.SkipWithError("send failed");
        break;
      }
      p += n;
      left -= static_cast<size_t>(n);
    }
    bytes += kBatchBytes;
  }
  const double sender_cpu = ThreadCpuSeconds() - cpu0;
  link.Finish();
  Report(state, bytes, sender_cpu, link);
}

void ChannelWritev(benchmark::State& state, bool zero_copy) {
  Loopback link;
  std::string error;
  if (!link.Open(&error)) {
    state.SkipWithError(error.c_str());
    return;
  }
  SocketChannel& ch = link.sender();
  if (zero_copy && !ch.EnableZeroCopy().ok()) {
    state.SkipWithError("kernel lacks SO_ZEROCOPY for TCP");
    link.Finish();
    return;
  }
  const uint32_t flags = zero_copy ? kWriteZeroCopy : kWriteNone;
  uint8_t* ram = const_cast<uint8_t*>(Ram().data());
  std::vector<iovec> iov(kPagesPerBatch);
  size_t batch = 0;
  uint64_t bytes = 0;
  uint64_t all_copied_flushes = 0;
  uint64_t flushes = 0;
  const double cpu0 = ThreadCpuSeconds();
  for (auto _ : state) {
    uint8_t* base = ram + (batch % (kRamBytes / kBatchBytes)) * kBatchBytes;
    for (size_t i = 0; i < kPagesPerBatch; ++i) {
      iov[i] = iovec{base + i * kPageSize, kPageSize};
    }
    if (!ch.WritevAll(iov, flags).ok()) {
      state.SkipWithError("write failed");
      break;
    }
    bytes += kBatchBytes;
    if (zero_copy && ++batch % kBatchesPerFlush == 0) {
      auto r = ch.Flush();
      if (!r.ok()) {
        state.SkipWithError("flush failed");
        break;
      }
      ++flushes;
      all_copied_flushes += *r == FlushResult::kAllCopied ? 1 : 0;
    } else if (!zero_copy) {
      ++batch;
    }
  }
  if (zero_copy) {
    auto r = ch.Flush();
    if (r.ok() && *r != FlushResult::kNothingPending) {
      ++flushes;
      all_copied_flushes += *r == FlushResult::kAllCopied ? 1 : 0;
    }
  }
  const double sender_cpu = ThreadCpuSeconds() - cpu0;
  link.Finish();
  Report(state, bytes, sender_cpu, link);
  if (zero_copy) {
    ChannelStats s = ch.Stats();
    state.counters["copied_%"] = s.zero_copy_completed == 0
                                     ? 0.0
                                     : 100.0 * static_cast<double>(s.zero_copy_copied) /
                                           static_cast<double>(s.zero_copy_completed);
    state.counters["missed_flushes_%"] =
        flushes == 0
            ? 0.0
            : 100.0 * static_cast<double>(all_copied_flushes) / static_cast<double>(flushes);
  }
}

void BM_ChannelWritev(benchmark::State& state) { ChannelWritev(state, false); }
void BM_ChannelWritevZeroCopy(benchmark::State& state) { ChannelWritev(state, true); }

BENCHMARK(BM_PlainSend)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ChannelWritev)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ChannelWritevZeroCopy)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace migemu::io

BENCHMARK_MAIN();
