// MultifdSender against in-memory channels: the exact bytes of each channel, batching, round
// robin, accounting, the zero-copy flag discipline, and the lifetime rules (cancel while
// connecting, errors wake waiters).
#include "migration/multifd/sender.h"

#include <absl/synchronization/notification.h>
#include <absl/time/clock.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "io/buffer_channel.h"
#include "migration/multifd/errors.h"
#include "migration/multifd/packet.h"
#include "tests/unit/migration/multifd/multifd_test_util.h"
#include "util/fault.h"

namespace migemu::migration {
namespace {

using multifd_testing::FillRandom;
using multifd_testing::MakeMemory;
using multifd_testing::RecordingChannel;

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

uint32_t Be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
uint64_t Be64(const uint8_t* p) { return (uint64_t{Be32(p)} << 32) | Be32(p + 4); }

struct WirePacket {
  uint32_t flags = 0;
  uint32_t pages_alloc = 0;
  uint32_t normal_pages = 0;
  uint32_t next_packet_size = 0;
  uint64_t packet_num = 0;
  std::string block;
  std::vector<uint64_t> offsets;
  std::vector<uint8_t> payload;
};

struct WireChannel {
  std::vector<uint8_t> init;
  int id = -1;
  std::vector<WirePacket> packets;
};

// Parses what one channel carried (compression none: payload = normal_pages pages).
WireChannel ParseWire(const std::vector<uint8_t>& bytes) {
  WireChannel out;
  if (bytes.size() < 64) {
    return out;
  }
  out.init.assign(bytes.begin(), bytes.begin() + 64);
  out.id = bytes[24];
  size_t pos = 64;
  while (pos + kMultifdPacketLen <= bytes.size()) {
    const uint8_t* h = bytes.data() + pos;
    WirePacket p;
    p.flags = Be32(h + 8);
    p.pages_alloc = Be32(h + 12);
    p.normal_pages = Be32(h + 16);
    p.next_packet_size = Be32(h + 20);
    p.packet_num = Be64(h + 24);
    p.block = std::string(reinterpret_cast<const char*>(h + 64),
                          ::strnlen(reinterpret_cast<const char*>(h + 64), 255));
    for (uint32_t i = 0; i < p.normal_pages && i < 128; ++i) {
      p.offsets.push_back(Be64(h + 320 + 8 * i));
    }
    pos += kMultifdPacketLen;
    const size_t n = p.normal_pages > 0 ? p.next_packet_size : 0;
    if (pos + n > bytes.size()) {
      break;
    }
    p.payload.assign(bytes.begin() + pos, bytes.begin() + pos + n);
    pos += n;
    out.packets.push_back(std::move(p));
  }
  return out;
}

std::vector<uint8_t> Drain(io::Channel& ch) {
  std::vector<uint8_t> out;
  std::vector<uint8_t> buf(1 << 16);
  for (;;) {
    iovec v{buf.data(), buf.size()};
    auto n = ch.Readv({&v, 1});
    if (!n.ok() || *n == 0) {
      return out;
    }
    out.insert(out.end(), buf.begin(), buf.begin() + *n);
  }
}

// A sender over in-memory channel pairs; the far ends are kept (in connect order) for reading.
class SenderFixture {
 public:
  explicit SenderFixture(MultifdConfig config, io::BufferChannelOptions options = {})
      : memory_(MakeMemory({2 << 20, 1 << 20})),
        main_(io::BufferChannel::Create()),
        main_file_(*main_) {
    FillRandom(*memory_, 3);
    sender_ = std::make_unique<MultifdSender>(
        config,
        [this, options](std::stop_token) -> absl::StatusOr<std::unique_ptr<io::Channel>> {
          auto [a, b] = io::BufferChannel::CreatePair(options);
          auto rec = std::make_unique<RecordingChannel>(std::move(a));
          absl::MutexLock lock(&mu_);
          far_.push_back(std::move(b));
          recorders_.push_back(rec.get());
          ++connects_;
          return std::unique_ptr<io::Channel>(std::move(rec));
        },
        counters_, main_file_);
  }

  MultifdSender& sender() { return *sender_; }
  system::RamBlock& block(int i) { return *memory_->blocks()[i]; }
  RamCounters& counters() { return counters_; }
  QemuFileWriter& main_file() { return main_file_; }
  int connects() {
    absl::MutexLock lock(&mu_);
    return connects_;
  }
  std::vector<RecordingChannel*> recorders() {
    absl::MutexLock lock(&mu_);
    return recorders_;
  }

  // Destroys the sender (shutting its channels down) and parses every channel, by id.
  std::map<int, WireChannel> Finish() {
    sender_.reset();
    std::map<int, WireChannel> out;
    absl::MutexLock lock(&mu_);
    for (auto& f : far_) {
      WireChannel w = ParseWire(Drain(*f));
      out[w.id] = std::move(w);
    }
    return out;
  }

  absl::Status QueueRange(int block_index, size_t first_page, size_t count) {
    for (size_t p = first_page; p < first_page + count; ++p) {
      absl::Status s = sender_->QueuePage(block(block_index), p * system::kPageSize);
      if (!s.ok()) {
        return s;
      }
    }
    return absl::OkStatus();
  }

 private:
  std::unique_ptr<system::GuestMemory> memory_;
  std::unique_ptr<io::BufferChannel> main_;
  RamCounters counters_;
  QemuFileWriter main_file_;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<io::BufferChannel>> far_ ABSL_GUARDED_BY(mu_);
  std::vector<RecordingChannel*> recorders_ ABSL_GUARDED_BY(mu_);
  int connects_ ABSL_GUARDED_BY(mu_) = 0;
  std::unique_ptr<MultifdSender> sender_;  // last: destroyed before the channels' far ends
};

MultifdConfig Channels(int n) {
  MultifdConfig c;
  c.channels = n;
  return c;
}

TEST(MultifdSenderTest, EachChannelOpensWithItsInitPacketThenTheSetupSync) {
  MultifdConfig config = Channels(3);
  config.uuid = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  SenderFixture f(config);
  ASSERT_TRUE(f.sender().Start().ok());
  ASSERT_TRUE(f.sender().SyncMain().ok());
  auto wire = f.Finish();
  ASSERT_EQ(wire.size(), 3u);
  for (int id = 0; id < 3; ++id) {
    SCOPED_TRACE(id);
    const WireChannel& w = wire[id];
    EXPECT_EQ(Be32(w.init.data()), kMultifdMagic);
    EXPECT_EQ(Be32(w.init.data() + 4), 1u);
    EXPECT_EQ(std::memcmp(w.init.data() + 8, config.uuid.data(), 16), 0);
    ASSERT_EQ(w.packets.size(), 1u);
    EXPECT_EQ(w.packets[0].flags, kMultifdFlagSync);
    EXPECT_EQ(w.packets[0].pages_alloc, 128u);
    EXPECT_EQ(w.packets[0].normal_pages, 0u);
    EXPECT_EQ(w.packets[0].packet_num, uint64_t(id)) << "SyncMain numbers channels in order";
  }
}

TEST(MultifdSenderTest, BatchesHold128PagesOfOneBlockAndCarryTheGuestBytes) {
  SenderFixture f(Channels(2));
  ASSERT_TRUE(f.sender().Start().ok());
  ASSERT_TRUE(f.sender().SyncMain().ok());
  // 130 pages of block 0 (one full batch + 2), then 3 of block 1: the block switch sends the
  // partial batch; SyncMain sends the last partial one.
  ASSERT_TRUE(f.QueueRange(0, 0, 130).ok());
  ASSERT_TRUE(f.QueueRange(1, 10, 3).ok());
  ASSERT_TRUE(f.sender().SyncMain().ok());
  auto wire = f.Finish();
  std::vector<WirePacket> data;
  int syncs = 0;
  for (auto& [id, w] : wire) {
    for (auto& p : w.packets) {
      syncs += (p.flags & kMultifdFlagSync) != 0;
      if (p.normal_pages > 0) {
        data.push_back(p);
      }
    }
  }
  EXPECT_EQ(syncs, 4) << "one SYNC per channel per SyncMain";
  // Packet numbers need not follow dispatch order (a SYNC posted before a channel ran renumbers
  // its pending batch), so the batches are told apart by content.
  std::sort(data.begin(), data.end(), [](const WirePacket& a, const WirePacket& b) {
    return a.normal_pages > b.normal_pages;
  });
  ASSERT_EQ(data.size(), 3u);
  EXPECT_EQ(data[0].normal_pages, 128u);
  EXPECT_EQ(data[0].block, "ram0");
  EXPECT_EQ(data[1].normal_pages, 3u);
  EXPECT_EQ(data[1].block, "ram1");
  EXPECT_EQ(data[1].offsets, (std::vector<uint64_t>{10 * 4096, 11 * 4096, 12 * 4096}));
  EXPECT_EQ(data[2].normal_pages, 2u);
  EXPECT_EQ(data[2].block, "ram0");
  EXPECT_EQ(data[2].offsets, (std::vector<uint64_t>{128 * 4096, 129 * 4096}));
  for (const WirePacket& p : data) {
    EXPECT_EQ(p.flags & kMultifdFlagCompressionMask, kMultifdFlagNocomp);
    ASSERT_EQ(p.next_packet_size, p.normal_pages * 4096);
    system::RamBlock& b = f.block(p.block == "ram0" ? 0 : 1);
    for (size_t i = 0; i < p.offsets.size(); ++i) {
      ASSERT_EQ(std::memcmp(p.payload.data() + i * 4096, b.host() + p.offsets[i], 4096), 0);
    }
  }
}

TEST(MultifdSenderTest, AfterASyncBatchesGoRoundRobinOverEveryChannel) {
  SenderFixture f(Channels(4));
  ASSERT_TRUE(f.sender().Start().ok());
  ASSERT_TRUE(f.sender().SyncMain().ok());  // every channel idle afterwards
  ASSERT_TRUE(f.QueueRange(0, 0, 4 * 128).ok());
  ASSERT_TRUE(f.sender().SyncMain().ok());
  auto wire = f.Finish();
  for (auto& [id, w] : wire) {
    int batches = 0;
    for (auto& p : w.packets) {
      batches += p.normal_pages == 128;
    }
    EXPECT_EQ(batches, 1) << "channel " << id;
  }
}

TEST(MultifdSenderTest, AccountsEveryPacketAsQemuDoes) {
  SenderFixture f(Channels(2));
  ASSERT_TRUE(f.sender().Start().ok());
  ASSERT_TRUE(f.sender().SyncMain().ok());
  EXPECT_EQ(RamCounters::Get(f.counters().multifd_bytes), 2u * 1344);
  ASSERT_TRUE(f.QueueRange(0, 0, 128).ok());
  const uint64_t after_batch = 2 * 1344 + 128 * 4096 + 1344;
  EXPECT_EQ(RamCounters::Get(f.counters().multifd_bytes), after_batch) << "at dispatch";
  ASSERT_TRUE(f.QueueRange(0, 200, 5).ok());
  EXPECT_EQ(RamCounters::Get(f.counters().multifd_bytes), after_batch) << "partial: not yet";
  ASSERT_TRUE(f.sender().SyncMain().ok());
  // The partial batch goes out, then a SYNC per channel: 1344 each, unless the SYNC rode on a
  // batch its channel had not started yet (then it is that packet).
  const uint64_t total = RamCounters::Get(f.counters().multifd_bytes);
  const uint64_t most = after_batch + (5 * 4096 + 1344) + 2 * 1344;
  EXPECT_TRUE(total == most || total == most - 1344 || total == most - 2 * 1344) << total;
  EXPECT_EQ(RamCounters::Get(f.counters().transferred), total);
  EXPECT_EQ(f.main_file().rate_limit_used(), int64_t(total)) << "counts against the rate limit";
  EXPECT_EQ(f.sender().packet_num(), 6u);  // 2 setup SYNCs, 2 batches, 2 SYNCs
  auto wire = f.Finish();
  uint64_t wire_bytes = 0;
  for (auto& [id, w] : wire) {
    for (auto& p : w.packets) {
      wire_bytes += 1344 + p.payload.size();
    }
  }
  EXPECT_EQ(wire_bytes, total) << "accounting equals the packet bytes on the wire";
}

TEST(MultifdSenderTest, SyncPostedBeforeAChannelRunsRidesOnItsPendingBatch) {
  // A SYNC posted while the channel still holds an un-started batch rides on that data packet
  // (capture d has such packets). QEMU 7.2 then also sends an empty packet with the same
  // number; migemu does not, so nothing is left pending once SyncMain returns.
  absl::Notification release;
  RamCounters counters;
  auto memory = MakeMemory({1 << 20});
  FillRandom(*memory, 4);
  auto main = io::BufferChannel::Create();
  QemuFileWriter main_file(*main);
  absl::Mutex mu;
  std::vector<std::unique_ptr<io::BufferChannel>> far;
  {
    MultifdSender sender(
        Channels(2),
        [&](std::stop_token) -> absl::StatusOr<std::unique_ptr<io::Channel>> {
          release.WaitForNotification();
          auto [a, b] = io::BufferChannel::CreatePair();
          absl::MutexLock lock(&mu);
          far.push_back(std::move(b));
          return std::unique_ptr<io::Channel>(std::move(a));
        },
        counters, main_file);
    ASSERT_TRUE(sender.Start().ok());
    for (size_t p = 0; p < 128; ++p) {
      ASSERT_TRUE(sender.QueuePage(*memory->blocks()[0], p * 4096).ok());  // batch -> channel 0
    }
    std::thread releaser([&] {
      while (sender.packet_num() < 3) {  // the batch (0) and both SYNCs (1, 2) are posted
        absl::SleepFor(absl::Milliseconds(1));
      }
      release.Notify();
    });
    absl::Status s = sender.SyncMain();
    releaser.join();
    ASSERT_TRUE(s.ok()) << s;
    EXPECT_EQ(RamCounters::Get(counters.multifd_bytes), 128u * 4096 + 2 * 1344)
        << "two packets accounted, two written";
  }
  std::map<int, WireChannel> wire;
  for (auto& b : far) {
    WireChannel w = ParseWire(Drain(*b));
    wire[w.id] = std::move(w);
  }
  ASSERT_EQ(wire[0].packets.size(), 1u);
  EXPECT_EQ(wire[0].packets[0].normal_pages, 128u);
  EXPECT_EQ(wire[0].packets[0].flags, kMultifdFlagSync);
  EXPECT_EQ(wire[0].packets[0].packet_num, 1u) << "the SYNC's number replaced the batch's";
  ASSERT_EQ(wire[1].packets.size(), 1u);
  EXPECT_EQ(wire[1].packets[0].packet_num, 2u);
}

TEST(MultifdSenderTest, ZeroCopySendsOnlyGuestPagesWithTheFlagAndFlushesAtEverySync) {
  MultifdConfig config = Channels(2);
  config.zero_copy = true;
  io::BufferChannelOptions options;
  options.zero_copy = true;  // loopback-like: every flush reports "all copied"
  SenderFixture f(config, options);
  ASSERT_TRUE(f.sender().Start().ok());
  ASSERT_TRUE(f.sender().SyncMain().ok());
  EXPECT_EQ(RamCounters::Get(f.counters().dirty_sync_missed_zero_copy), 0u)
      << "nothing was sent zero-copy before the setup sync";
  ASSERT_TRUE(f.QueueRange(0, 0, 300).ok());
  ASSERT_TRUE(f.sender().SyncMain().ok());
  ASSERT_TRUE(f.QueueRange(1, 0, 10).ok());
  ASSERT_TRUE(f.sender().SyncMain().ok());
  const uint64_t missed = RamCounters::Get(f.counters().dirty_sync_missed_zero_copy);
  std::vector<RecordingChannel*> recs = f.recorders();
  int flushes = 0;
  uint64_t all_copied = 0;
  const uint8_t* lo0 = f.block(0).host();
  const uint8_t* hi0 = lo0 + f.block(0).used_length();
  const uint8_t* lo1 = f.block(1).host();
  const uint8_t* hi1 = lo1 + f.block(1).used_length();
  int zero_copy_writes = 0;
  for (RecordingChannel* r : recs) {
    flushes += r->flushes();
    all_copied += r->Stats().zero_copy_flushes_all_copied;
    for (const auto& w : r->writes()) {
      if (w.flags & io::kWriteZeroCopy) {
        ++zero_copy_writes;
        for (const iovec& v : w.iov) {
          const auto* p = static_cast<const uint8_t*>(v.iov_base);
          const bool in_ram =
              (p >= lo0 && p + v.iov_len <= hi0) || (p >= lo1 && p + v.iov_len <= hi1);
          EXPECT_TRUE(in_ram) << "a zero-copy write outside guest RAM";
        }
      } else {
        // Init packet or a packet header: never guest memory, never zero copy.
        ASSERT_EQ(w.iov.size(), 1u);
        EXPECT_TRUE(w.iov[0].iov_len == 64 || w.iov[0].iov_len == 1344) << w.iov[0].iov_len;
      }
    }
  }
  EXPECT_GT(zero_copy_writes, 0);
  // Each channel is flushed at each SyncMain once connected (the setup sync may find a channel
  // still connecting: nothing of it to flush, as in QEMU).
  EXPECT_GE(flushes, 2 * 2);
  EXPECT_LE(flushes, 2 * 3);
  EXPECT_EQ(missed, all_copied) << "every all-copied flush is counted";
  EXPECT_GE(missed, 1u);
  auto wire = f.Finish();
  uint64_t pages = 0;
  for (auto& [id, w] : wire) {
    for (auto& p : w.packets) {
      pages += p.normal_pages;
    }
  }
  EXPECT_EQ(pages, 310u) << "zero copy changes how, not what, the sender writes";
}

TEST(MultifdSenderTest, ZeroCopyWithCompressionIsRefusedBeforeAnyThreadStarts) {
  for (auto c : {qapi::MultiFDCompression::kZlib, qapi::MultiFDCompression::kZstd}) {
    MultifdConfig config = Channels(2);
    config.zero_copy = true;
    config.compression = c;
    SenderFixture f(config);
    EXPECT_EQ(Msg(f.sender().Start()),
              "Zero copy only available for non-compressed non-TLS multifd migration");
    EXPECT_EQ(f.connects(), 0);
    EXPECT_EQ(Msg(f.sender().SyncMain()), kErrNotStarted);
  }
}

TEST(MultifdSenderTest, ZeroCopyOnAChannelWithoutTheFeatureFailsTheMigration) {
  MultifdConfig config = Channels(2);
  config.zero_copy = true;
  SenderFixture f(config);  // buffer channels without zero copy
  ASSERT_TRUE(f.sender().Start().ok());
  EXPECT_EQ(Msg(f.sender().SyncMain()), "Zero copy send feature not detected in host kernel");
  EXPECT_EQ(Msg(f.sender().error()), "Zero copy send feature not detected in host kernel");
}

TEST(MultifdSenderTest, BadConfigurationIsRefused) {
  MultifdConfig c = Channels(0);
  SenderFixture f(c);
  EXPECT_EQ(Msg(f.sender().Start()), "multifd: channel count 0 out of range 1..255");
  MultifdConfig z = Channels(1);
  z.compression = qapi::MultiFDCompression::kZlib;
  z.zlib_level = 10;
  SenderFixture g(z);
  EXPECT_EQ(Msg(g.sender().Start()), "multifd: zlib level 10 out of range 0..9");
}

TEST(MultifdSenderTest, UseBeforeStartAndDoubleStartAreErrors) {
  SenderFixture f(Channels(1));
  EXPECT_EQ(Msg(f.sender().QueuePage(f.block(0), 0)), kErrNotStarted);
  ASSERT_TRUE(f.sender().Start().ok());
  EXPECT_EQ(Msg(f.sender().Start()), kErrAlreadyStarted);
}

// A connector that blocks like a connect to an unresponsive host, until its stop is requested.
struct HangingConnector {
  std::atomic<int> entered{0};
  std::atomic<int> cancelled{0};
  absl::StatusOr<std::unique_ptr<io::Channel>> operator()(std::stop_token stop) {
    ++entered;
    absl::Mutex mu;
    bool stopped = false;
    std::stop_callback cb(stop, [&] {
      absl::MutexLock lock(&mu);
      stopped = true;
    });
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(&stopped));
    ++cancelled;
    return absl::CancelledError("Failed to connect: Operation canceled");
  }
};

TEST(MultifdSenderLifetimeTest, DestroyingWhileEveryChannelIsStillConnectingJoinsThemAll) {
  for (int iter = 0; iter < 50; ++iter) {
    HangingConnector hang;
    RamCounters counters;
    auto main = io::BufferChannel::Create();
    QemuFileWriter main_file(*main);
    {
      MultifdSender sender(Channels(4), std::ref(hang), counters, main_file);
      ASSERT_TRUE(sender.Start().ok());
      if (iter % 2 == 0) {
        while (hang.entered.load() < 4) {
          std::this_thread::yield();
        }
      }
    }  // cleanup while connects are pending (or not even entered): no crash, every thread joined
    EXPECT_EQ(hang.cancelled.load(), hang.entered.load());
  }
}

TEST(MultifdSenderLifetimeTest, ShutdownWakesASyncMainWaitingForChannelsThatNeverConnect) {
  HangingConnector hang;
  RamCounters counters;
  auto main = io::BufferChannel::Create();
  QemuFileWriter main_file(*main);
  MultifdSender sender(Channels(2), std::ref(hang), counters, main_file);
  ASSERT_TRUE(sender.Start().ok());
  std::thread canceller([&] {
    while (sender.packet_num() < 2) {  // both SYNCs posted: SyncMain is (about to be) waiting
      std::this_thread::yield();
    }
    sender.Shutdown();  // migrate_cancel from the monitor thread
  });
  absl::Status s = sender.SyncMain();
  canceller.join();
  EXPECT_EQ(Msg(s), kErrSenderShutDown);
  EXPECT_TRUE(sender.error().ok()) << "a cancel is not a channel error";
  auto memory = MakeMemory({1 << 20});
  absl::Status queued;
  for (size_t p = 0; p < 128 && queued.ok(); ++p) {
    queued = sender.QueuePage(*memory->blocks()[0], p * 4096);
  }
  EXPECT_EQ(Msg(queued), kErrSenderShutDown) << "the first full batch reports the cancel";
}

TEST(MultifdSenderLifetimeTest, AConnectErrorFailsOnceWakesTheWaiterAndCancelsTheOthers) {
  std::atomic<int> calls{0};
  std::atomic<int> callbacks{0};
  HangingConnector hang;
  RamCounters counters;
  auto main = io::BufferChannel::Create();
  QemuFileWriter main_file(*main);
  {
    MultifdSender sender(
        Channels(3),
        [&](std::stop_token stop) -> absl::StatusOr<std::unique_ptr<io::Channel>> {
          if (calls++ == 0) {
            return absl::UnavailableError(
                "Failed to connect to '127.0.0.1:1': Connection refused");
          }
          return hang(stop);
        },
        counters, main_file);
    sender.SetErrorCallback([&](const absl::Status& s) {
      ++callbacks;
      EXPECT_EQ(Msg(s), "Failed to connect to '127.0.0.1:1': Connection refused");
    });
    ASSERT_TRUE(sender.Start().ok());
    EXPECT_EQ(Msg(sender.SyncMain()), "Failed to connect to '127.0.0.1:1': Connection refused");
    EXPECT_EQ(Msg(sender.error()), "Failed to connect to '127.0.0.1:1': Connection refused");
    sender.Shutdown();
  }  // joined: the failing thread's callback has run. SyncMain may return before it does.
  EXPECT_EQ(callbacks.load(), 1);
  EXPECT_EQ(hang.cancelled.load(), hang.entered.load()) << "the other connects were cancelled";
}

}  // namespace
}  // namespace migemu::migration
