// File: tests/unit/migration/multifd/multifd_test_util.h
//
// Helpers for the multifd tests: guest memory with random contents, a recording channel
// wrapper, and RunMigration(), a small but real migration between a MultifdSender and a
// MultifdReceiver: real sockets (Unix socket pairs, or loopback TCP through a Listener when
// zero copy is wanted), a main channel carrying one byte per RAM EOS, the source on the calling
// thread and the destination's load loop on its own thread, each failing the way the engine
// will (the source closes the main channel on error; the destination shuts the receiver down).
#ifndef MIGEMU_TESTS_UNIT_MIGRATION_MULTIFD_MULTIFD_TEST_UTIL_H_
#define MIGEMU_TESTS_UNIT_MIGRATION_MULTIFD_MULTIFD_TEST_UTIL_H_

#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include <absl/synchronization/mutex.h>
#include <absl/synchronization/notification.h>
#include <absl/time/clock.h>
#include <absl/time/time.h>
#include <sys/uio.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "io/channel.h"
#include "io/listener.h"
#include "io/socket_address.h"
#include "io/socket_channel.h"
#include "migration/multifd/config.h"
#include "migration/multifd/receiver.h"
#include "migration/multifd/sender.h"
#include "migration/qemu_file.h"
#include "migration/stats.h"
#include "system/guest_memory.h"

namespace migemu::migration::multifd_testing {

// Memory: one or more anonymous blocks named "ram0", "ram1", ...
inline std::unique_ptr<system::GuestMemory> MakeMemory(const std::vector<uint64_t>& sizes) {
  auto memory = std::make_unique<system::GuestMemory>();
  for (size_t i = 0; i < sizes.size(); ++i) {
    auto block = system::RamBlock::CreateAnonymous("ram" + std::to_string(i), sizes[i], false);
    if (!block.ok()) {
      return nullptr;
    }
    memory->AddBlock(std::move(*block));
  }
  return memory;
}

// FillRandomPage: the page gets pseudo-random bytes (never all zero).
inline void FillRandomPage(uint8_t* page, uint64_t seed) {
  std::mt19937_64 rng(seed * 0x9e3779b97f4a7c15ULL + 1);
  for (size_t i = 0; i < system::kPageSize; i += 8) {
    const uint64_t v = rng();
    std::memcpy(page + i, &v, 8);
  }
  page[0] |= 1;
}

inline void FillRandom(system::GuestMemory& memory, uint64_t seed) {
  for (const auto& block : memory.blocks()) {
    for (size_t p = 0; p < block->page_count(); ++p) {
      FillRandomPage(block->PageHost(p), seed + p * 131 + block->used_length());
    }
  }
}

// FirstDifference: "" when every block is identical, else where they differ.
inline std::string FirstDifference(const system::GuestMemory& a, const system::GuestMemory& b) {
  if (a.blocks().size() != b.blocks().size()) {
    return "block count";
  }
  for (size_t i = 0; i < a.blocks().size(); ++i) {
    const system::RamBlock& x = *a.blocks()[i];
    const system::RamBlock& y = *b.blocks()[i];
    if (x.used_length() != y.used_length()) {
      return x.idstr() + ": size";
    }
    for (size_t p = 0; p < x.page_count(); ++p) {
      if (std::memcmp(x.PageHost(p), y.PageHost(p), system::kPageSize) != 0) {
        return x.idstr() + ": page " + std::to_string(p);
      }
    }
  }
  return "";
}

// RecordingChannel: forwards to `inner` and records every Writev (flags, iovecs).
class RecordingChannel final : public io::Channel {
 public:
  struct Write {
    uint32_t flags;
    std::vector<iovec> iov;
    size_t accepted;
  };
  explicit RecordingChannel(std::unique_ptr<io::Channel> inner) : inner_(std::move(inner)) {}

  std::vector<Write> writes() const {
    absl::MutexLock lock(&mu_);
    return writes_;
  }
  int flushes() const {
    absl::MutexLock lock(&mu_);
    return flushes_;
  }

  absl::StatusOr<size_t> Readv(absl::Span<const iovec> iov) override { return inner_->Readv(iov); }
  absl::StatusOr<size_t> Writev(absl::Span<const iovec> iov, uint32_t flags) override {
    absl::StatusOr<size_t> n = inner_->Writev(iov, flags);
    absl::MutexLock lock(&mu_);
    writes_.push_back(Write{flags, std::vector<iovec>(iov.begin(), iov.end()), n.ok() ? *n : 0});
    return n;
  }
  absl::StatusOr<io::FlushResult> Flush() override {
    {
      absl::MutexLock lock(&mu_);
      ++flushes_;
    }
    return inner_->Flush();
  }
  absl::Status Shutdown(io::ShutdownDirection d) override { return inner_->Shutdown(d); }
  absl::Status Close() override { return inner_->Close(); }
  bool HasFeature(io::Feature f) const override { return inner_->HasFeature(f); }
  absl::Status SetBlocking(bool b) override { return inner_->SetBlocking(b); }
  absl::Status WaitReadable() override { return inner_->WaitReadable(); }
  absl::Status WaitWritable() override { return inner_->WaitWritable(); }
  std::string Name() const override { return inner_->Name(); }
  io::ChannelStats Stats() const override { return inner_->Stats(); }

 private:
  std::unique_ptr<io::Channel> inner_;
  mutable absl::Mutex mu_;
  std::vector<Write> writes_ ABSL_GUARDED_BY(mu_);
  int flushes_ ABSL_GUARDED_BY(mu_) = 0;
};

// ReportingChannel: forwards to `inner`; when destroyed, hands the inner channel's final
// counters to `sink` (the sender owns its channels and may drop one early, e.g. on a cancel).
class ReportingChannel final : public io::Channel {
 public:
  using Sink = std::function<void(const io::ChannelStats&)>;
  ReportingChannel(std::unique_ptr<io::Channel> inner, Sink sink)
      : inner_(std::move(inner)), sink_(std::move(sink)) {}
  ~ReportingChannel() override { sink_(inner_->Stats()); }

  absl::StatusOr<size_t> Readv(absl::Span<const iovec> iov) override { return inner_->Readv(iov); }
  absl::StatusOr<size_t> Writev(absl::Span<const iovec> iov, uint32_t flags) override {
    return inner_->Writev(iov, flags);
  }
  absl::StatusOr<io::FlushResult> Flush() override { return inner_->Flush(); }
  absl::Status Shutdown(io::ShutdownDirection d) override { return inner_->Shutdown(d); }
  absl::Status Close() override { return inner_->Close(); }
  bool HasFeature(io::Feature f) const override { return inner_->HasFeature(f); }
  absl::Status SetBlocking(bool b) override { return inner_->SetBlocking(b); }
  absl::Status WaitReadable() override { return inner_->WaitReadable(); }
  absl::Status WaitWritable() override { return inner_->WaitWritable(); }
  std::string Name() const override { return inner_->Name(); }
  io::ChannelStats Stats() const override { return inner_->Stats(); }

 private:
  std::unique_ptr<io::Channel> inner_;
  Sink sink_;
};

struct MigrationOptions {
  MultifdConfig config;
  bool tcp = false;  // loopback TCP (zero copy needs it) instead of Unix socket pairs
  int rounds = 2;    // iterations after the setup sync
  uint64_t seed = 1;
  // Pages re-dirtied (and re-queued) in each round after the first, as a fraction 1/n.
  int redirty_one_in = 7;
  // The destination's configuration when it differs (uuid mismatch tests).
  std::optional<MultifdConfig> destination_config;
  // migrate_cancel: Shutdown() from another thread this long after Start().
  std::optional<absl::Duration> cancel_after;
};

struct MigrationResult {
  absl::Status source;
  absl::Status destination;
  std::vector<MultifdSender::ChannelStats> sender_stats;
  std::vector<MultifdReceiver::ChannelStats> receiver_stats;
  uint64_t multifd_bytes = 0;
  uint64_t transferred = 0;
  uint64_t missed_zero_copy = 0;
  uint64_t rate_limit_used = 0;
  io::ChannelStats source_io;  // summed over the multifd channels
  int syncs = 0;               // SyncMain calls made by the source
};

// RunMigration: setup sync, then `rounds` rounds that queue pages (every page in the first,
// a random subset, rewritten first, in later ones) and sync. Each sync is followed by one byte
// on the main channel; the destination reads it and runs the receiver's SyncMain.
inline MigrationResult RunMigration(system::GuestMemory& src, system::GuestMemory& dst,
                                    const MigrationOptions& options) {
  MigrationResult result;
  auto main_pair = io::SocketChannel::CreatePair();
  if (!main_pair.ok()) {
    result.source = main_pair.status();
    return result;
  }
  std::unique_ptr<io::SocketChannel> main_src = std::move(main_pair->first);
  std::unique_ptr<io::SocketChannel> main_dst = std::move(main_pair->second);

  MultifdReceiver receiver(options.destination_config.value_or(options.config), dst);
  std::unique_ptr<io::Listener> listener;
  std::jthread acceptor;
  io::SocketAddress addr;
  absl::Mutex channels_mu;
  io::ChannelStats source_io;  // summed over the sender's channels as they are destroyed
  auto report = [&channels_mu, &source_io](const io::ChannelStats& s) {
    absl::MutexLock lock(&channels_mu);
    source_io.bytes_written += s.bytes_written;
    source_io.zero_copy_calls += s.zero_copy_calls;
    source_io.zero_copy_flushes += s.zero_copy_flushes;
    source_io.zero_copy_flushes_all_copied += s.zero_copy_flushes_all_copied;
    source_io.zero_copy_copied += s.zero_copy_copied;
    source_io.zero_copy_completed += s.zero_copy_completed;
  };

  MultifdSender::Connector connect;
  if (options.tcp) {
    io::InetSocketAddress inet;
    inet.host = "127.0.0.1";
    inet.port = "0";
    auto l = io::Listener::Listen(inet, options.config.channels);
    if (!l.ok()) {
      result.source = l.status();
      return result;
    }
    listener = std::move(*l);
    addr = listener->addresses().at(0);
    acceptor =
        std::jthread([&listener, &receiver, n = options.config.channels](std::stop_token stop) {
          for (int i = 0; i < n; ++i) {
            auto ch = listener->AcceptBlocking(stop);
            if (!ch.ok()) {
              return;
            }
            receiver.AddChannel(std::move(*ch));
          }
        });
    connect = [&addr, report, zc = options.config.zero_copy](
                  std::stop_token stop) -> absl::StatusOr<std::unique_ptr<io::Channel>> {
      auto ch = io::SocketChannel::Connect(addr, stop);
      if (!ch.ok()) {
        return ch.status();
      }
      (void)(*ch)->SetNoDelay(true);
      if (zc) {
        absl::Status s = (*ch)->EnableZeroCopy();
        if (!s.ok()) {
          return s;
        }
      }
      return std::unique_ptr<io::Channel>(
          std::make_unique<ReportingChannel>(std::move(*ch), report));
    };
  } else {
    connect = [&receiver, report](std::stop_token) -> absl::StatusOr<std::unique_ptr<io::Channel>> {
      auto pair = io::SocketChannel::CreatePair();
      if (!pair.ok()) {
        return pair.status();
      }
      receiver.AddChannel(std::move(pair->second));
      return std::unique_ptr<io::Channel>(
          std::make_unique<ReportingChannel>(std::move(pair->first), report));
    };
  }

  const int total_syncs = options.rounds + 1;
  std::jthread destination([&] {
    for (int k = 0; k < total_syncs; ++k) {
      uint8_t eos = 0;
      absl::Status s = main_dst->ReadAll(&eos, 1);
      if (s.ok()) {
        s = receiver.SyncMain();
      }
      if (!s.ok()) {
        // A channel error is the more specific cause when the main stream failed because of
        // it (the source gave up after the destination shut its channels down).
        const absl::Status channel_error = receiver.error();
        result.destination = channel_error.ok() ? s : channel_error;
        receiver.Shutdown();
        (void)main_dst->Shutdown(io::ShutdownDirection::kBoth);
        return;
      }
    }
  });

  RamCounters counters;
  QemuFileWriter main_file(*main_src);
  {
    MultifdSender sender(options.config, connect, counters, main_file);
    auto eos = [&]() -> absl::Status {
      ++result.syncs;
      absl::Status s = sender.SyncMain();
      if (!s.ok()) {
        return s;
      }
      main_file.PutByte(0x10);
      return main_file.Flush();
    };
    auto run = [&]() -> absl::Status {
      absl::Status s = sender.Start();
      if (!s.ok()) {
        return s;
      }
      s = eos();
      if (!s.ok()) {
        return s;
      }
      std::mt19937_64 rng(options.seed);
      for (int round = 0; round < options.rounds; ++round) {
        for (const auto& block : src.blocks()) {
          for (size_t p = 0; p < block->page_count(); ++p) {
            if (round > 0) {
              if (rng() % options.redirty_one_in != 0) {
                continue;
              }
              FillRandomPage(block->PageHost(p), rng());
            }
            s = sender.QueuePage(*block, p * system::kPageSize);
            if (!s.ok()) {
              return s;
            }
          }
        }
        s = eos();
        if (!s.ok()) {
          return s;
        }
      }
      return absl::OkStatus();
    };
    std::jthread canceller;
    absl::Notification done;
    if (options.cancel_after) {
      canceller = std::jthread([&sender, &done, delay = *options.cancel_after] {
        if (!done.WaitForNotificationWithTimeout(delay)) {
          sender.Shutdown();
        }
      });
    }
    result.source = run();
    done.Notify();
    if (canceller.joinable()) {
      canceller.join();
    }
    if (!result.source.ok()) {
      (void)main_src->Shutdown(io::ShutdownDirection::kBoth);
    }
    result.sender_stats = sender.Stats();
  }  // ~MultifdSender: shut down + joined; the receiver threads see EOF
  {
    absl::MutexLock lock(&channels_mu);
    result.source_io = source_io;
  }
  destination.join();
  acceptor.request_stop();
  if (acceptor.joinable()) {
    acceptor.join();
  }
  result.receiver_stats = receiver.Stats();
  result.multifd_bytes = RamCounters::Get(counters.multifd_bytes);
  result.transferred = RamCounters::Get(counters.transferred);
  result.missed_zero_copy = RamCounters::Get(counters.dirty_sync_missed_zero_copy);
  result.rate_limit_used = static_cast<uint64_t>(main_file.rate_limit_used());
  return result;
}

// KernelHasTcpZeroCopy: SO_ZEROCOPY works on a loopback TCP socket.
inline absl::Status ProbeTcpZeroCopy() {
  io::InetSocketAddress inet;
  inet.host = "127.0.0.1";
  inet.port = "0";
  auto l = io::Listener::Listen(inet, 1);
  if (!l.ok()) {
    return l.status();
  }
  auto c = io::SocketChannel::Connect((*l)->addresses().at(0));
  if (!c.ok()) {
    return c.status();
  }
  return (*c)->EnableZeroCopy();
}

}  // namespace migemu::migration::multifd_testing

#endif  // MIGEMU_TESTS_UNIT_MIGRATION_MULTIFD_MULTIFD_TEST_UTIL_H_
