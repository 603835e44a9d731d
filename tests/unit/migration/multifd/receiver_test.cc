// MultifdReceiver: QEMU 7.2's captures (channels + main stream through LoadVmState with the EOS
// hook) rebuild the RAM; every receiver error from a crafted channel, with QEMU's text; the
// sync barrier; shutdown and the extra-connection rule.
#include "migration/multifd/receiver.h"

#include <absl/strings/str_cat.h>
#include <absl/time/clock.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "io/buffer_channel.h"
#include "migration/device_state.h"
#include "migration/multifd/errors.h"
#include "migration/multifd/packet.h"
#include "migration/ram_codec.h"
#include "migration/savevm.h"
#include "tests/unit/migration/multifd/multifd_test_util.h"
#include "tests/unit/migration/test_util.h"

namespace migemu::migration {
namespace {

using multifd_testing::FillRandomPage;
using multifd_testing::MakeMemory;
using testing::BlockSha256;
using testing::kPatternSha256;
using testing::kPatternSize;
using testing::ReadCapture;

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

void PutBe32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}
void PutBe64(uint8_t* p, uint64_t v) {
  PutBe32(p, static_cast<uint32_t>(v >> 32));
  PutBe32(p + 4, static_cast<uint32_t>(v));
}

// Builds the bytes of one multifd channel.
class Wire {
 public:
  Wire& Init(uint8_t id, const MultifdUuid& uuid = {}) {
    auto init = EncodeInitPacket(uuid, id);
    bytes_.insert(bytes_.end(), init.begin(), init.end());
    return *this;
  }
  // A packet with raw header fields; `pages` of payload follow when normal_pages > 0.
  Wire& Packet(uint32_t flags, const std::string& block, const std::vector<uint64_t>& offsets,
               const std::vector<uint8_t>& payload = {}, uint64_t packet_num = 0,
               uint32_t next_packet_size = ~0u) {
    std::vector<uint8_t> h(kMultifdPacketLen, 0);
    PutBe32(h.data(), kMultifdMagic);
    PutBe32(h.data() + 4, kMultifdVersion);
    PutBe32(h.data() + 8, flags);
    PutBe32(h.data() + 12, 128);
    PutBe32(h.data() + 16, static_cast<uint32_t>(offsets.size()));
    PutBe32(h.data() + 20,
            next_packet_size != ~0u ? next_packet_size : static_cast<uint32_t>(payload.size()));
    PutBe64(h.data() + 24, packet_num);
    std::memcpy(h.data() + 64, block.data(), std::min<size_t>(block.size(), 256));
    for (size_t i = 0; i < offsets.size(); ++i) {
      PutBe64(h.data() + 320 + 8 * i, offsets[i]);
    }
    last_header_ = bytes_.size();
    bytes_.insert(bytes_.end(), h.begin(), h.end());
    bytes_.insert(bytes_.end(), payload.begin(), payload.end());
    return *this;
  }
  // Patches a be32 field of the last packet header.
  Wire& Set32(size_t field_offset, uint32_t v) {
    PutBe32(bytes_.data() + last_header_ + field_offset, v);
    return *this;
  }
  Wire& Raw(const std::vector<uint8_t>& raw) {
    bytes_.insert(bytes_.end(), raw.begin(), raw.end());
    return *this;
  }
  // Open: the channel stays open after these bytes (no EOF), like a healthy idle peer.
  Wire& Open() {
    open_ = true;
    return *this;
  }
  std::unique_ptr<io::Channel> Channel(bool end = true) const {
    auto ch = io::BufferChannel::Create();
    ch->PushInput(absl::string_view(reinterpret_cast<const char*>(bytes_.data()), bytes_.size()));
    if (end && !open_) {
      ch->EndInput();
    }
    return ch;
  }
  std::vector<uint8_t>& bytes() { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
  size_t last_header_ = 0;
  bool open_ = false;
};

std::vector<uint8_t> Pages(size_t n, uint64_t seed) {
  std::vector<uint8_t> out(n * 4096);
  for (size_t i = 0; i < n; ++i) {
    FillRandomPage(out.data() + i * 4096, seed + i);
  }
  return out;
}

MultifdConfig Channels(int n, qapi::MultiFDCompression c = qapi::MultiFDCompression::kNone) {
  MultifdConfig config;
  config.channels = n;
  config.compression = c;
  return config;
}

// ---- QEMU 7.2 captures ------------------------------------------------------------------------

struct CaptureCase {
  const char* name;
  qapi::MultiFDCompression compression;
  const char* main;
  const char* ch_a;
  const char* ch_b;
};

class CaptureTest : public ::testing::TestWithParam<CaptureCase> {};

TEST_P(CaptureTest, ChannelsAndMainStreamRebuildTheSourceRam) {
  const CaptureCase& c = GetParam();
  auto main = ReadCapture(c.main);
  auto a = ReadCapture(c.ch_a);
  auto b = ReadCapture(c.ch_b);
  if (!main.ok() || !a.ok() || !b.ok()) {
    GTEST_SKIP() << "QEMU captures not available";
  }
  auto memory = MakeMemory({kPatternSize});
  std::memset(memory->Find("ram0")->host(), 0xaa, kPatternSize);  // nothing may be left over
  MultifdReceiver receiver(Channels(2, c.compression), *memory);
  // The captures' connection order (channel 1 first for some) is kept.
  for (auto* bytes : {&*a, &*b}) {
    auto ch = io::BufferChannel::Create();
    ch->PushInput(absl::string_view(reinterpret_cast<const char*>(bytes->data()), bytes->size()));
    ch->EndInput();
    ASSERT_TRUE(receiver.AddChannel(std::move(ch)));
  }
  RamLoader ram(*memory);
  int eos = 0;
  ram.SetEosHook([&] {
    ++eos;
    return receiver.SyncMain();
  });
  TimerSection timer;
  GlobalStateSection globalstate;
  SectionHandler* handlers[] = {&timer, &ram, &globalstate};
  auto main_ch = io::BufferChannel::Create();
  main_ch->PushInput(absl::string_view(reinterpret_cast<const char*>(main->data()), main->size()));
  main_ch->EndInput();
  QemuFileReader reader(*main_ch);
  LoadReport report;
  absl::Status s = LoadVmState(reader, handlers, LoadOptions{}, LoadHooks{}, &report);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(eos, 3);
  EXPECT_TRUE(receiver.AllConnected());
  EXPECT_EQ(BlockSha256(*memory->Find("ram0")), kPatternSha256);
  uint64_t pages = 0;
  for (const auto& st : receiver.Stats()) {
    EXPECT_EQ(st.syncs, 3u) << "one SYNC per EOS on every channel";
    pages += st.pages;
  }
  EXPECT_GE(pages, 2025u) << "every non-zero page came through a channel (7.2 duplicates some)";
  EXPECT_GT(receiver.packet_num(), 0u);
  EXPECT_TRUE(receiver.error().ok());
}

INSTANTIATE_TEST_SUITE_P(
    Qemu72, CaptureTest,
    ::testing::Values(
        CaptureCase{"none", qapi::MultiFDCompression::kNone, "c-multifd2-none.conn0.main.bin.gz",
                    "c-multifd2-none.conn1.multifd-ch1.bin.gz",
                    "c-multifd2-none.conn2.multifd-ch0.bin.gz"},
        CaptureCase{"zerocopy", qapi::MultiFDCompression::kNone,
                    "d-multifd2-zerocopy.conn0.main.bin.gz",
                    "d-multifd2-zerocopy.conn1.multifd-ch1.bin.gz",
                    "d-multifd2-zerocopy.conn2.multifd-ch0.bin.gz"},
        CaptureCase{"zlib", qapi::MultiFDCompression::kZlib, "e-multifd2-zlib.conn0.main.bin.gz",
                    "e-multifd2-zlib.conn1.multifd-ch0.bin.gz",
                    "e-multifd2-zlib.conn2.multifd-ch1.bin.gz"},
        CaptureCase{"zstd", qapi::MultiFDCompression::kZstd, "f-multifd2-zstd.conn0.main.bin.gz",
                    "f-multifd2-zstd.conn1.multifd-ch1.bin.gz",
                    "f-multifd2-zstd.conn2.multifd-ch0.bin.gz"}),
    [](const ::testing::TestParamInfo<CaptureCase>& i) { return std::string(i.param.name); });

TEST(CaptureMismatchTest, ZlibChannelsIntoANoneReceiverFailWithQemusFlagsText) {
  auto main = ReadCapture("e-multifd2-zlib.conn0.main.bin.gz");
  auto ch0 = ReadCapture("e-multifd2-zlib.conn1.multifd-ch0.bin.gz");
  if (!main.ok() || !ch0.ok()) {
    GTEST_SKIP() << "QEMU captures not available";
  }
  auto memory = MakeMemory({kPatternSize});
  MultifdReceiver receiver(Channels(1), *memory);
  Wire w;
  w.Raw(*ch0);
  receiver.AddChannel(w.Channel());
  absl::Status s;
  for (int i = 0; i < 3 && s.ok(); ++i) {
    s = receiver.SyncMain();
  }
  EXPECT_EQ(Msg(s), "multifd 0: flags received 2 flags expected 0");
}

// ---- Crafted channels -------------------------------------------------------------------------

class ReceiverErrorTest : public ::testing::Test {
 protected:
  ReceiverErrorTest() : memory_(MakeMemory({8 << 20})) {}

  // Feeds `wires` (one channel each) to a 2-channel receiver and returns the error SyncMain
  // ends with (after as many rounds as it takes).
  std::string ErrorOf(std::vector<Wire> wires, MultifdConfig config = Channels(2)) {
    MultifdReceiver receiver(config, *memory_);
    for (const Wire& w : wires) {
      receiver.AddChannel(w.Channel());
    }
    absl::Status s;
    for (int round = 0; round < 10 && s.ok(); ++round) {
      s = receiver.SyncMain();
    }
    EXPECT_EQ(Msg(receiver.error()), Msg(s)) << "SyncMain returns the recorded error";
    return Msg(s);
  }

  std::unique_ptr<system::GuestMemory> memory_;
};

TEST_F(ReceiverErrorTest, InitPacketErrorsArePrefixedWithTheChannelsSetUpSoFar) {
  Wire bad_magic;
  bad_magic.Init(0).bytes()[3] = 0x45;
  EXPECT_EQ(ErrorOf({bad_magic}),
            "failed to receive packet via multifd channel 0: multifd: received packet magic "
            "11223345 expected 11223344");

  Wire bad_version;
  bad_version.Init(0).bytes()[7] = 2;
  EXPECT_EQ(ErrorOf({bad_version}),
            "failed to receive packet via multifd channel 0: multifd: received packet version 2 "
            "expected 1");

  Wire bad_uuid;
  bad_uuid.Init(1, MultifdUuid{0xff});
  EXPECT_EQ(ErrorOf({bad_uuid}),
            "failed to receive packet via multifd channel 0: multifd: received uuid "
            "'ff000000-0000-0000-0000-000000000000' and expected uuid "
            "'00000000-0000-0000-0000-000000000000' for channel 1");

  Wire bad_id;
  bad_id.Init(2);  // == channels: QEMU 7.2 lets this through and overruns; refused here
  EXPECT_EQ(ErrorOf({bad_id}),
            "failed to receive packet via multifd channel 0: multifd: received channel version 1 "
            "expected 1");

  Wire short_init;
  short_init.Init(0).bytes().resize(40);
  EXPECT_EQ(ErrorOf({short_init}),
            "failed to receive packet via multifd channel 0: Unexpected end-of-file before all "
            "data were read");
}

TEST_F(ReceiverErrorTest, PrefixCountsChannelsAlreadySetUp) {
  MultifdReceiver receiver(Channels(2), *memory_);
  Wire good;
  good.Init(0);
  receiver.AddChannel(good.Channel(/*end=*/false));
  while (receiver.Stats().empty() || receiver.Stats()[0].id != 0) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  Wire bad;
  bad.Init(1).bytes()[0] = 0;
  receiver.AddChannel(bad.Channel());
  EXPECT_EQ(Msg(receiver.SyncMain()),
            "failed to receive packet via multifd channel 1: multifd: received packet magic "
            "223344 expected 11223344");
}

TEST_F(ReceiverErrorTest, DuplicateChannelIdHasQemusTextWithItsStrayQuote) {
  MultifdReceiver receiver(Channels(2), *memory_);
  Wire a;
  a.Init(1);
  receiver.AddChannel(a.Channel(/*end=*/false));
  while (receiver.Stats().empty() || receiver.Stats()[0].id != 1) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  Wire b;
  b.Init(1);
  receiver.AddChannel(b.Channel());
  EXPECT_EQ(Msg(receiver.SyncMain()), "multifd: received id '1' already setup'");
}

TEST_F(ReceiverErrorTest, PacketErrorsHaveQemusTexts) {
  auto one = [](auto patch) {
    Wire w;
    w.Init(0).Packet(0, "ram0", {0}, Pages(1, 1));
    patch(w);
    Wire other;
    other.Init(1).Open();
    return std::vector<Wire>{w, other};
  };
  EXPECT_EQ(ErrorOf(one([](Wire& w) { w.Set32(0, 0x11); })),
            "multifd: received packet magic 11 and expected magic 11223344");
  EXPECT_EQ(ErrorOf(one([](Wire& w) { w.Set32(4, 3); })),
            "multifd: received packet version 3 and expected version 1");
  EXPECT_EQ(ErrorOf(one([](Wire& w) { w.Set32(12, 1000); })),
            "multifd: received packet with size 1000 and expected a size of 128");
  EXPECT_EQ(ErrorOf(one([](Wire& w) { w.Set32(16, 2).Set32(12, 1); })),
            "multifd: received packet with 2 pages and expected maximum pages are 1");
  {
    Wire w;
    w.Init(0).Packet(0, "pc.ram", {0}, Pages(1, 1));
    EXPECT_EQ(ErrorOf({w}), "multifd: unknown ram block pc.ram");
  }
  {
    Wire w;
    w.Init(0).Packet(0, "ram0", {4096, 8 << 20}, Pages(2, 1));
    EXPECT_EQ(ErrorOf({w}), "multifd: offset too long 8388608 (max 800000)");
  }
  {
    Wire w;
    w.Init(1).Packet(kMultifdFlagZstd, "ram0", {0}, Pages(1, 1));
    EXPECT_EQ(ErrorOf({w}), "multifd 1: flags received 4 flags expected 0");
  }
  {
    Wire w;  // payload cut short
    w.Init(0).Packet(0, "ram0", {0, 4096}, Pages(1, 1));
    EXPECT_EQ(ErrorOf({w}), "Unexpected end-of-file before all data were read");
  }
  {
    Wire w;  // header cut short
    w.Init(0).Packet(kMultifdFlagSync, "", {}).bytes().resize(64 + 100);
    EXPECT_EQ(ErrorOf({w}), "Unexpected end-of-file before all data were read");
  }
}

TEST_F(ReceiverErrorTest, AChannelClosedBeforeItsSyncFailsTheSyncInsteadOfHanging) {
  Wire a;
  a.Init(0).Packet(kMultifdFlagSync, "", {});
  Wire b;
  b.Init(1).Packet(0, "ram0", {0}, Pages(1, 2));  // pages, but EOF instead of a SYNC
  MultifdReceiver receiver(Channels(2), *memory_);
  receiver.AddChannel(a.Channel());
  receiver.AddChannel(b.Channel());
  EXPECT_EQ(Msg(receiver.SyncMain()), "multifd: channel 1 was closed before its sync");
}

TEST_F(ReceiverErrorTest, TheFirstErrorIsReportedOnceThroughTheCallback) {
  std::atomic<int> calls{0};
  std::string first;
  {
    MultifdReceiver receiver(Channels(2), *memory_);
    receiver.SetErrorCallback([&](const absl::Status& s) {
      ++calls;
      first = std::string(s.message());
    });
    Wire a;
    a.Init(0).Packet(0, "nope", {0}, Pages(1, 1));
    Wire b;
    b.Init(1).Packet(0, "nope", {0}, Pages(1, 1));
    receiver.AddChannel(a.Channel());
    receiver.AddChannel(b.Channel());
    EXPECT_EQ(Msg(receiver.SyncMain()), "multifd: unknown ram block nope");
  }  // joined: the callback, if any, has run
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(first, "multifd: unknown ram block nope");
}

// ---- Accepted quirks and the barrier ----------------------------------------------------------

TEST(ReceiverTest, AcceptsSyncOnADataPacketStaleEmptySyncsAndDuplicatePages) {
  auto memory = MakeMemory({1 << 20});
  MultifdReceiver receiver(Channels(2), *memory);
  const std::vector<uint8_t> p1 = Pages(2, 10);
  const std::vector<uint8_t> p2 = Pages(1, 20);
  Wire a;
  a.Init(0)
      .Packet(kMultifdFlagSync, "ram0", {0, 4096}, p1, 5)  // SYNC merged into a data packet
      .Packet(0, "", {}, {}, 5)                            // the empty follower, same number
      .Packet(kMultifdFlagSync, "ram0", {4096}, p2, 9);    // page 1 again, in the next round
  Wire b;
  b.Init(1)
      // Empty SYNC with stale fields QEMU leaves in its header buffer: next_packet_size, a
      // block name that does not exist here, compression bits of another method, old offsets.
      .Packet(kMultifdFlagSync | kMultifdFlagZlib, "pc.ram", {}, {}, 6, 0x6b000)
      .Packet(kMultifdFlagSync, "ram0", {8192, 8192}, Pages(2, 30), 8);  // duplicate in a round
  b.Set32(20, 2 * 4096);
  receiver.AddChannel(b.Channel());
  receiver.AddChannel(a.Channel());
  ASSERT_TRUE(receiver.SyncMain().ok()) << receiver.error();
  const uint8_t* host = memory->Find("ram0")->host();
  // Page 0 is final after round one (page 1 may already be overwritten by round two: the
  // channels run on once released).
  EXPECT_EQ(std::memcmp(host, p1.data(), 4096), 0);
  ASSERT_TRUE(receiver.SyncMain().ok()) << receiver.error();
  EXPECT_EQ(std::memcmp(host + 4096, p2.data(), 4096), 0) << "the later round wins";
  EXPECT_EQ(receiver.packet_num(), 9u);
  EXPECT_TRUE(receiver.AllConnected());
}

TEST(ReceiverTest, AChannelHoldsBackPagesAfterItsSyncUntilTheMainStreamSyncs) {
  auto memory = MakeMemory({1 << 20});
  MultifdReceiver receiver(Channels(1), *memory);
  const std::vector<uint8_t> next_round = Pages(1, 77);
  Wire w;
  w.Init(0).Packet(kMultifdFlagSync, "", {}).Packet(kMultifdFlagSync, "ram0", {0}, next_round);
  receiver.AddChannel(w.Channel());
  // Wait until the thread has taken the first SYNC (it then blocks on the barrier).
  while (receiver.Stats().empty() || receiver.Stats()[0].syncs < 1) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  absl::SleepFor(absl::Milliseconds(20));  // give a wrong implementation time to run ahead
  EXPECT_EQ(receiver.Stats()[0].packets, 1u);
  EXPECT_EQ(memory->Find("ram0")->host()[0], 0) << "next round's page applied before the sync";
  ASSERT_TRUE(receiver.SyncMain().ok());
  ASSERT_TRUE(receiver.SyncMain().ok());
  EXPECT_EQ(std::memcmp(memory->Find("ram0")->host(), next_round.data(), 4096), 0);
}

TEST(ReceiverTest, ConnectionsBeyondTheChannelCountAreDropped) {
  auto memory = MakeMemory({1 << 20});
  MultifdReceiver receiver(Channels(1), *memory);
  Wire w;
  w.Init(0).Packet(kMultifdFlagSync, "", {});
  EXPECT_TRUE(receiver.AddChannel(w.Channel()));
  EXPECT_FALSE(receiver.AddChannel(w.Channel()));
  EXPECT_TRUE(receiver.SyncMain().ok());
  receiver.Shutdown();
  EXPECT_FALSE(receiver.AddChannel(w.Channel())) << "nothing is taken after Shutdown";
}

TEST(ReceiverTest, ShutdownWakesASyncMainWaitingForChannelsThatNeverCame) {
  auto memory = MakeMemory({1 << 20});
  MultifdReceiver receiver(Channels(4), *memory);
  Wire w;
  w.Init(0);
  receiver.AddChannel(w.Channel(/*end=*/false));  // connected, silent
  std::thread canceller([&] {
    absl::SleepFor(absl::Milliseconds(20));
    receiver.Shutdown();
  });
  EXPECT_EQ(Msg(receiver.SyncMain()), kErrReceiverShutDown);
  canceller.join();
  EXPECT_TRUE(receiver.error().ok());
}

TEST(ReceiverTest, DestroyingWithChannelsMidReadJoinsEveryThread) {
  for (int iter = 0; iter < 50; ++iter) {
    auto memory = MakeMemory({1 << 20});
    auto receiver = std::make_unique<MultifdReceiver>(Channels(3), *memory);
    Wire a;
    a.Init(0).Packet(0, "ram0", {0, 4096}, Pages(1, 1));  // blocked in the middle of the pages
    Wire b;
    b.Init(1);
    b.bytes().resize(30);  // blocked in the init packet
    receiver->AddChannel(a.Channel(/*end=*/false));
    receiver->AddChannel(b.Channel(/*end=*/false));
    receiver.reset();  // must return: Shutdown unblocks the reads, then every thread is joined
  }
}

}  // namespace
}  // namespace migemu::migration
