#include "migration/savevm.h"

#include <errno.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "io/socket_channel.h"
#include "migration/errors.h"
#include "migration/ram_codec.h"
#include "tests/unit/migration/fake_channel.h"
#include "tests/unit/migration/test_util.h"

namespace migemu::migration {
namespace {

using ::migemu::migration::testing::BlockSha256;
using ::migemu::migration::testing::Bytes;
using ::migemu::migration::testing::FakeChannel;
using ::migemu::migration::testing::FillPattern;
using ::migemu::migration::testing::kPatternSha256;
using ::migemu::migration::testing::kPatternSize;
using ::migemu::migration::testing::MakeMemory;
using ::migemu::migration::testing::ReadCapture;
using ::migemu::migration::testing::Sha256Hex;
using ::migemu::migration::testing::TestdataDir;
using ::testing::ElementsAre;

// A destination of machine `none` with one 8 MiB block "ram0", as the captures were made.
struct Destination {
  std::unique_ptr<system::GuestMemory> memory = MakeMemory("ram0", kPatternSize);
  RamLoader ram{*memory};
  TimerSection timer;
  GlobalStateSection globalstate;
  int eos = 0;
  int device_state_done = 0;
  int return_path_opened = 0;
  std::vector<uint32_t> pings;
  LoadHooks hooks;
  LoadOptions options;
  LoadReport report;

  Destination() {
    ram.SetEosHook([this] {
      ++eos;
      return absl::OkStatus();
    });
    hooks.device_state_done = [this] { ++device_state_done; };
    hooks.open_return_path = [this] {
      ++return_path_opened;
      return absl::OkStatus();
    };
    hooks.ping = [this](uint32_t v) { pings.push_back(v); };
  }

  absl::Status Load(std::vector<uint8_t> bytes, uint64_t* consumed = nullptr) {
    FakeChannel ch(std::move(bytes));
    ch.set_max_read(65536 + 123);  // socket-like short reads
    QemuFileReader r(ch);
    SectionHandler* handlers[] = {&timer, &ram, &globalstate};  // QEMU's registration order
    absl::Status s = LoadVmState(r, handlers, options, hooks, &report);
    if (consumed != nullptr) {
      *consumed = r.position();
    }
    return s;
  }
  const system::RamBlock& block() const { return *memory->Find("ram0"); }
};

#define REQUIRE_CAPTURE(var, name)                                        \
  absl::StatusOr<std::vector<uint8_t>> var##_or = ReadCapture(name);      \
  if (!var##_or.ok()) {                                                   \
    GTEST_SKIP() << "QEMU captures not available: " << var##_or.status(); \
  }                                                                       \
  std::vector<uint8_t>& var = *var##_or

// ---- Real QEMU 7.2 streams ------------------------------------------------------------------

TEST(CaptureTest, RunningSourceCaptureA) {
  REQUIRE_CAPTURE(data, "a-precopy.main.bin.gz");
  Destination dst;
  uint64_t consumed = 0;
  const size_t size = data.size();
  ASSERT_TRUE(dst.Load(std::move(data), &consumed).ok()) << dst.report.lines()[0];
  EXPECT_TRUE(dst.report.empty());
  EXPECT_EQ(consumed, size) << "the vmdesc trailer is read to the end";
  EXPECT_EQ(BlockSha256(dst.block()), kPatternSha256);
  EXPECT_EQ(dst.eos, 3);
  EXPECT_EQ(dst.device_state_done, 1);
  EXPECT_EQ(dst.return_path_opened, 0);
  EXPECT_EQ(dst.ram.stats().pages, 2025u);
  EXPECT_EQ(dst.ram.stats().zero_pages, 23u);
  EXPECT_EQ(dst.ram.stats().zero_pages_written, 0u);
  ASSERT_TRUE(dst.timer.received());
  EXPECT_EQ(dst.timer.state().cpu_ticks_offset, 252953386);
  EXPECT_EQ(dst.timer.state().cpu_clock_offset, 103439743);
  ASSERT_TRUE(dst.globalstate.received());
  EXPECT_EQ(dst.globalstate.runstate(), "running");
}

TEST(CaptureTest, PrelaunchSourceCaptureB) {
  REQUIRE_CAPTURE(data, "b-precopy-S-events.main.bin.gz");
  Destination dst;
  ASSERT_TRUE(dst.Load(std::move(data)).ok());
  EXPECT_EQ(BlockSha256(dst.block()), kPatternSha256);
  EXPECT_EQ(dst.timer.state(), TimerState{}) << "a source started with -S sends zero clocks";
  EXPECT_EQ(dst.globalstate.runstate(), "prelaunch");
}

TEST(CaptureTest, MultifdMainStreamsCarryOnlyZeroPages) {
  for (const char* name :
       {"c-multifd2-none.conn0.main.bin.gz", "d-multifd2-zerocopy.conn0.main.bin.gz",
        "e-multifd2-zlib.conn0.main.bin.gz", "f-multifd2-zstd.conn0.main.bin.gz"}) {
    SCOPED_TRACE(name);
    REQUIRE_CAPTURE(data, name);
    Destination dst;
    std::memset(dst.memory->Find("ram0")->host(), 0xaa, kPatternSize);
    ASSERT_TRUE(dst.Load(std::move(data)).ok());
    EXPECT_EQ(dst.eos, 3) << "one EOS per stage: the multifd receive sync points";
    EXPECT_EQ(dst.ram.stats().pages, 0u);
    EXPECT_EQ(dst.ram.stats().zero_pages, 23u);
    EXPECT_TRUE(dst.block().IsZeroPage(5));
    EXPECT_TRUE(dst.block().IsZeroPage(2047));
    EXPECT_EQ(dst.block().PageHost(0)[0], 0xaa) << "non-zero pages travel on the channels";
  }
}

TEST(CaptureTest, ReturnPathCaptureG) {
  REQUIRE_CAPTURE(data, "g-return-path.main.bin.gz");
  {
    Destination dst;
    ASSERT_TRUE(dst.Load(data).ok());
    EXPECT_EQ(dst.return_path_opened, 1);
    EXPECT_THAT(dst.pings, ElementsAre(1u));
    EXPECT_EQ(BlockSha256(dst.block()), kPatternSha256);
  }
  {
    Destination dst;
    dst.hooks.open_return_path = nullptr;  // a transport without a reverse direction
    absl::Status s = dst.Load(data);
    EXPECT_EQ(s.message(), "CMD_OPEN_RETURN_PATH failed");
    EXPECT_EQ(LoadErrno(s), -EPERM);
    EXPECT_THAT(dst.report.lines(),
                ElementsAre("CMD_OPEN_RETURN_PATH failed",
                            "load of migration failed: Operation not permitted"));
  }
}

TEST(CaptureTest, MachineNameIsComparedOverTheSentLength) {
  REQUIRE_CAPTURE(data, "a-precopy.main.bin.gz");
  Destination pc;
  pc.options.machine = "pc";
  absl::Status s = pc.Load(data);
  EXPECT_EQ(s.message(), "Machine type received is 'none' and local is 'pc'");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  Destination longer;
  longer.options.machine = "none-longer";
  EXPECT_TRUE(longer.Load(data).ok()) << "strncmp over 4 bytes: 'none' is a prefix";
}

// ---- migemu's writer --------------------------------------------------------------------------

std::vector<uint8_t> EncodePattern(const system::GuestMemory& memory, const TimerState& timer,
                                   const std::string& runstate) {
  FakeChannel out;
  QemuFileWriter w(out);
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
  EXPECT_TRUE(
      PutDeviceStateAndEof(w, DeviceStateParams{.timer = timer, .runstate = runstate}).ok());
  EXPECT_TRUE(w.Flush().ok());
  EXPECT_EQ(w.bytes_written(), out.output().size());
  return out.output();
}

size_t FirstDifference(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) {
      return i;
    }
  }
  return n;
}

TEST(WriterGoldenTest, ByteIdenticalToQemuCaptures) {
  REQUIRE_CAPTURE(a, "a-precopy.main.bin.gz");
  REQUIRE_CAPTURE(b, "b-precopy-S-events.main.bin.gz");
  auto memory = MakeMemory("ram0", kPatternSize);
  FillPattern(*memory->Find("ram0"));
  std::vector<uint8_t> ours = EncodePattern(
      *memory, TimerState{.cpu_ticks_offset = 252953386, .cpu_clock_offset = 103439743}, "running");
  EXPECT_EQ(ours.size(), a.size());
  EXPECT_EQ(FirstDifference(ours, a), a.size()) << "first byte that differs from capture (a)";
  std::vector<uint8_t> prelaunch = EncodePattern(*memory, TimerState{}, "prelaunch");
  EXPECT_EQ(FirstDifference(prelaunch, b), b.size()) << "first byte that differs from capture (b)";
}

std::string ToolPath() {
  std::optional<std::string> dir = TestdataDir();
  if (!dir.has_value()) {
    return "";
  }
  std::string tool = *dir + "/../../tools/qemu_stream_dump.py";
  struct stat st {};
  return ::stat(tool.c_str(), &st) == 0 ? tool : "";
}

TEST(WriterGoldenTest, ReferenceDecoderAcceptsOurStream) {
  const std::string tool = ToolPath();
  if (tool.empty() || std::system("python3 -c '' >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "tools/qemu_stream_dump.py or python3 not available";
  }
  auto memory = MakeMemory("ram0", kPatternSize);
  FillPattern(*memory->Find("ram0"));
  std::vector<uint8_t> ours = EncodePattern(*memory, TimerState{.cpu_ticks_offset = 1}, "paused");
  char path[] = "/tmp/migemu-stream-XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, ours.data(), ours.size()), static_cast<ssize_t>(ours.size()));
  ::close(fd);
  std::string cmd = "python3 " + tool + " " + path + " --expect-sha256 " + kPatternSha256 + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string output;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof(buf), p)) {
    output.append(buf, n);
  }
  int rc = ::pclose(p);
  ::unlink(path);
  EXPECT_EQ(rc, 0) << output;
  EXPECT_NE(output.find("sha256 OK for block 'ram0'"), std::string::npos) << output;
  EXPECT_NE(output.find("'paused' (+94 NUL)"), std::string::npos) << output;
}

TEST(RoundTripTest, WriterToLoaderOverSeveralIterations) {
  // Two blocks, a return path, several PART sections re-sending changed pages.
  system::GuestMemory src;
  src.AddBlock(*system::RamBlock::CreateAnonymous("ram0", 256 * 4096, false));
  src.AddBlock(*system::RamBlock::CreateAnonymous("extra", 16 * 4096, false));
  FakeChannel out;
  QemuFileWriter w(out, 4096, 64);  // small batches: many flushes
  RamEncoder enc(w);
  PutFileHeader(w);
  PutConfiguration(w, "none");
  PutOpenReturnPath(w);
  PutPing(w, 7);
  SectionInfo ram{kRamIdstr, 9, 0, kRamVersion};
  PutSectionStart(w, ram);
  enc.PutMemSize(src);
  enc.PutEos();
  PutSectionFooter(w, ram);
  uint32_t seed = 1;
  for (int round = 0; round < 4; ++round) {
    PutSectionPart(w, ram);
    for (const auto& block : src.blocks()) {
      for (size_t p = round; p < block->page_count(); p += 3) {
        seed = seed * 1103515245 + 12345;
        std::memset(block->PageHost(p), (seed >> 16) % 4 == 0 ? 0 : static_cast<int>(seed >> 24),
                    4096);
        enc.SavePage(*block, p);
      }
    }
    enc.PutEos();
    PutSectionFooter(w, ram);
    ASSERT_TRUE(w.Flush().ok());  // pages referenced by this round are on the wire now
  }
  PutSectionEnd(w, ram);
  enc.PutEos();
  PutSectionFooter(w, ram);
  ASSERT_TRUE(PutDeviceStateAndEof(w, DeviceStateParams{.timer = {3, 4},
                                                        .runstate = "paused",
                                                        .timer_section_id = 1,
                                                        .globalstate_section_id = 12})
                  .ok());
  ASSERT_TRUE(w.Flush().ok());

  system::GuestMemory dmem;
  dmem.AddBlock(*system::RamBlock::CreateAnonymous("ram0", 256 * 4096, false));
  dmem.AddBlock(*system::RamBlock::CreateAnonymous("extra", 16 * 4096, false));
  RamLoader loader(dmem);
  TimerSection timer;
  GlobalStateSection gs;
  SectionHandler* handlers[] = {&loader, &timer, &gs};
  std::vector<uint32_t> pings;
  LoadHooks hooks{.open_return_path = [] { return absl::OkStatus(); },
                  .ping = [&](uint32_t v) { pings.push_back(v); },
                  .device_state_done = nullptr};
  FakeChannel in(out.output());
  in.set_max_read(10000);
  QemuFileReader r(in);
  LoadReport report;
  ASSERT_TRUE(LoadVmState(r, handlers, LoadOptions{}, hooks, &report).ok());
  EXPECT_TRUE(report.empty());
  EXPECT_THAT(pings, ElementsAre(7u));
  EXPECT_EQ(loader.stats().eos, 6u);
  for (size_t b = 0; b < 2; ++b) {
    EXPECT_EQ(0, std::memcmp(src.blocks()[b]->host(), dmem.blocks()[b]->host(),
                             src.blocks()[b]->used_length()));
  }
  EXPECT_EQ(timer.state(), (TimerState{3, 4}));
  EXPECT_EQ(gs.runstate(), "paused");
}

// Thousands of random corruptions of a small stream: every load ends (the FakeChannel reports
// EOF at the end, so a loader that waited for more would hang the test), never reads past the
// stream, and every failure carries a text and QEMU's final line. (Writes outside a block are
// ruled out by the offset check the table test exercises; run under ASan for memory errors.)
TEST(RobustnessTest, RandomCorruptionNeverCrashesHangsOrEscapesRam) {
  auto src = MakeMemory("ram0", 32 * 4096);
  for (size_t p = 0; p < 32; p += 2) {
    std::memset(src->Find("ram0")->PageHost(p), static_cast<int>(p + 1), 4096);
  }
  FakeChannel out;
  QemuFileWriter w(out);
  RamEncoder enc(w);
  PutFileHeader(w);
  PutConfiguration(w, "none");
  SectionInfo ram{kRamIdstr, 2, 0, kRamVersion};
  PutSectionStart(w, ram);
  enc.PutMemSize(*src);
  enc.PutEos();
  PutSectionFooter(w, ram);
  PutSectionPart(w, ram);
  for (size_t p = 0; p < 32; ++p) {
    enc.SavePage(*src->Find("ram0"), p);
  }
  enc.PutEos();
  PutSectionFooter(w, ram);
  ASSERT_TRUE(PutDeviceStateAndEof(w, DeviceStateParams{}).ok());
  ASSERT_TRUE(w.Flush().ok());
  const std::vector<uint8_t> good = out.output();

  constexpr size_t kBlock = 32 * 4096;
  std::mt19937 rng(20221215);
  int failures = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::vector<uint8_t> bad = good;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const size_t at = rng() % bad.size();
      switch (rng() % 4) {
        case 0:
          bad[at] = static_cast<uint8_t>(rng());
          break;
        case 1:
          bad[at] ^= static_cast<uint8_t>(1u << (rng() % 8));
          break;
        case 2:
          bad.resize(at);
          break;
        default:
          bad.insert(bad.begin() + static_cast<ptrdiff_t>(at), static_cast<uint8_t>(rng()));
      }
      if (bad.empty()) {
        break;
      }
    }
    auto dst = MakeMemory("ram0", kBlock);
    RamLoader loader(*dst, RamLoadOptions{.compress = (iter % 2) == 0});
    TimerSection timer;
    GlobalStateSection gs;
    SectionHandler* handlers[] = {&timer, &loader, &gs};
    LoadHooks hooks{.open_return_path = [] { return absl::OkStatus(); },
                    .ping = [](uint32_t) {},
                    .device_state_done = nullptr};
    FakeChannel in(bad);
    QemuFileReader r(in);
    LoadReport report;
    absl::Status s = LoadVmState(r, handlers, LoadOptions{}, hooks, &report);
    if (!s.ok()) {
      ++failures;
      ASSERT_FALSE(s.message().empty());
      ASSERT_FALSE(report.empty());
      ASSERT_EQ(report.lines().back().rfind("load of migration failed: ", 0), 0u);
    }
    ASSERT_LE(r.position(), bad.size());
  }
  EXPECT_GT(failures, 2000);
}

// The same over a real socket pair, writer and loader on their own threads (the engine's
// shape): the pattern arrives intact, the loader consumes exactly what was written.
TEST(RoundTripTest, WriterToLoaderOverASocketPair) {
  auto pair = io::SocketChannel::CreatePair();
  ASSERT_TRUE(pair.ok()) << pair.status();
  auto src = MakeMemory("ram0", kPatternSize);
  FillPattern(*src->Find("ram0"));
  Destination dst;
  absl::Status load_status;
  uint64_t consumed = 0;
  std::thread loader([&] {
    QemuFileReader r(*pair->second);
    SectionHandler* handlers[] = {&dst.timer, &dst.ram, &dst.globalstate};
    load_status = LoadVmState(r, handlers, dst.options, dst.hooks, &dst.report);
    consumed = r.position();
    // A failed load must not leave the writer blocked on a full socket.
    (void)pair->second->Shutdown(io::ShutdownDirection::kBoth);
  });
  QemuFileWriter w(*pair->first);
  RamEncoder enc(w);
  PutFileHeader(w);
  PutConfiguration(w, "none");
  SectionInfo ram{kRamIdstr, kQemuSectionIdRam, 0, kRamVersion};
  PutSectionStart(w, ram);
  enc.PutMemSize(*src);
  enc.PutEos();
  PutSectionFooter(w, ram);
  PutSectionPart(w, ram);
  for (size_t p = 0; p < 2048; ++p) {
    enc.SavePage(*src->Find("ram0"), p);
  }
  enc.PutEos();
  PutSectionFooter(w, ram);
  PutSectionEnd(w, ram);
  enc.PutEos();
  PutSectionFooter(w, ram);
  absl::Status s = PutDeviceStateAndEof(w, DeviceStateParams{.runstate = "postmigrate"});
  absl::Status f = w.Flush();
  (void)pair->first->Shutdown(io::ShutdownDirection::kWrite);
  loader.join();
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE(f.ok()) << f;
  ASSERT_TRUE(load_status.ok()) << load_status;
  EXPECT_EQ(consumed, w.bytes_written());
  EXPECT_EQ(BlockSha256(dst.block()), kPatternSha256);
  EXPECT_EQ(dst.globalstate.runstate(), "postmigrate");
  EXPECT_EQ(dst.eos, 3);
  EXPECT_TRUE(dst.report.empty());
}

// ---- Loader behaviour beyond the captures --------------------------------------------------

std::vector<uint8_t> Header(const std::string& machine = "none") {
  return Bytes()
      .Be32(0x5145564d)
      .Be32(3)
      .U8(7)
      .Be32(static_cast<uint32_t>(machine.size()))
      .Str(machine)
      .Take();
}

TEST(LoaderTest, StatusCarriesTheMostSpecificText) {
  {
    Destination dst;
    absl::Status s = dst.Load(Bytes().Raw(Header()).Take());
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
    EXPECT_EQ(s.message(), kErrStreamEof) << "a cut stream prints only the final line";
    EXPECT_EQ(LoadErrno(s), -EIO);
    EXPECT_THAT(dst.report.lines(), ElementsAre("load of migration failed: Input/output error"));
  }
  {
    Destination dst;
    absl::Status s = dst.Load(Bytes().Raw(Header()).U8(0x42).Take());
    EXPECT_EQ(s.message(), "Unknown savevm section type 66");
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(LoaderTest, MinimalStreamWithoutAnySection) {
  Destination dst;
  absl::Status s = dst.Load(Bytes().Raw(Header()).U8(0).Take());
  EXPECT_TRUE(s.ok());
  EXPECT_THAT(dst.report.lines(), ElementsAre("Expected vmdescription section, but got 0"));
  EXPECT_FALSE(dst.globalstate.received());
  EXPECT_EQ(dst.device_state_done, 1);
}

TEST(LoaderTest, PartBeforeStartHitsTheFirstRegisteredHandler) {
  // QEMU compares against every handler's load_section_id, which is 0 before its START.
  Destination dst;
  absl::Status s = dst.Load(Bytes().Raw(Header()).U8(2).Be32(0).Take());
  EXPECT_THAT(dst.report.lines(),
              ElementsAre("timer: incoming version_id 0 is too old for local minimum version_id  1",
                          "error while loading state section id 0(timer)",
                          "load of migration failed: Invalid argument"));
}

TEST(LoaderTest, ConfigurationUuidAndCapabilities) {
  const std::array<uint8_t, 16> uuid = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  auto with_uuid = [&](std::array<uint8_t, 16> sent) {
    Bytes b;
    b.Raw(Header()).U8(5).Counted("configuration/uuid").Be32(1);
    for (uint8_t v : sent) {
      b.U8(v);
    }
    return b.U8(0).Take();
  };
  {
    Destination dst;
    dst.options.uuid = uuid;
    EXPECT_TRUE(dst.Load(with_uuid(uuid)).ok());
  }
  {
    Destination dst;
    dst.options.uuid = uuid;
    std::array<uint8_t, 16> other = uuid;
    other[15] = 0xff;
    absl::Status s = dst.Load(with_uuid(other));
    EXPECT_EQ(s.message(),
              "UUID received is 01020304-0506-0708-090a-0b0c0d0e0fff and local is "
              "01020304-0506-0708-090a-0b0c0d0e0f10");
  }
  {
    Destination dst;
    dst.options.x_ignore_shared = true;
    absl::Status s = dst.Load(Bytes().Raw(Header()).U8(0).Take());
    EXPECT_EQ(s.message(), "Capability x-ignore-shared is on, but received capability is off");
  }
}

TEST(LoaderTest, PostcopyCommandsAreRefusedClearly) {
  Destination dst;
  absl::Status s =
      dst.Load(Bytes().Raw(Header()).U8(8).Be16(3).Be16(0).U8(8).Be16(4).Be16(0).Take());
  EXPECT_EQ(s.message(), "POSTCOPY_LISTEN: postcopy and COLO commands are not supported by migemu");
  EXPECT_EQ(LoadErrno(s), -ENOTSUP);
}

TEST(LoaderTest, HugeMachineNameLengthNeitherAllocatesNorHangs) {
  Destination dst;
  absl::Status s =
      dst.Load(Bytes().Be32(0x5145564d).Be32(3).U8(7).Be32(0xffffffff).Str("none").Take());
  EXPECT_THAT(dst.report.lines(), ElementsAre("Failed to load configuration:name",
                                              "load of migration failed: Input/output error"));
}

}  // namespace
}  // namespace migemu::migration
