// Interop with the real QEMU 7.2 binary (skipped when qemu-system-x86_64 is not installed):
//   QemuToMigemu: QEMU migrates 8 MiB of guest RAM with multifd into this process, whose
//     destination is a Listener (main stream told from channels by their first bytes),
//     LoadVmState with the RamLoader EOS hook on MultifdReceiver::SyncMain, and the receiver.
//   MigemuToQemu: this process writes the main stream (QemuFileWriter, RamEncoder: zero pages
//     on the main stream) and the pages through MultifdSender into `qemu -incoming defer`.
// Both check that QEMU reports `completed` and that the RAM (a memory-backend-file with
// share=on) is byte-identical, for 2 and 4 channels, none/zlib/zstd, and zero copy on the
// sending side.
#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>
#include <absl/strings/str_split.h>
#include <absl/time/clock.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "io/listener.h"
#include "io/socket_channel.h"
#include "migration/device_state.h"
#include "migration/multifd/receiver.h"
#include "migration/multifd/sender.h"
#include "migration/qemu_file.h"
#include "migration/ram_codec.h"
#include "migration/savevm.h"
#include "tests/unit/migration/multifd/multifd_test_util.h"
#include "util/status_macros.h"

extern char** environ;

namespace migemu::migration {
namespace {

constexpr uint64_t kRam = 8 << 20;
constexpr char kQemu[] = "qemu-system-x86_64";

std::string FindQemu() {
  const char* path = ::getenv("PATH");
  for (absl::string_view dir : absl::StrSplit(path != nullptr ? path : "", ':')) {
    const std::string p = absl::StrCat(dir, "/", kQemu);
    if (::access(p.c_str(), X_OK) == 0) {
      return p;
    }
  }
  return "";
}

// Guest RAM image: random pages, every 13th page zero.
std::vector<uint8_t> Image(uint64_t seed) {
  std::vector<uint8_t> v(kRam, 0);
  for (size_t p = 0; p < kRam / 4096; ++p) {
    if (p % 13 != 5) {
      multifd_testing::FillRandomPage(v.data() + p * 4096, seed + p);
    }
  }
  return v;
}

std::vector<uint8_t> ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

void WriteAll(const std::string& path, const std::vector<uint8_t>& v) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size()));
}

// One QEMU process (started here, stopped here by its pid) with a QMP socket.
class Qemu {
 public:
  Qemu(const std::string& binary, const std::string& dir, const std::string& ram_file,
       bool incoming_defer)
      : qmp_path_(dir + "/qmp.sock"), log_path_(dir + "/qemu.log") {
    std::vector<std::string> args = {
        binary,
        "-M",
        "none,memory-backend=ram0",
        "-m",
        "8M",
        "-object",
        "memory-backend-file,id=ram0,size=8M,mem-path=" + ram_file + ",share=on",
        "-nodefaults",
        "-display",
        "none",
        "-qmp",
        "unix:" + qmp_path_ + ",server=on,wait=off"};
    if (incoming_defer) {
      args.push_back("-incoming");
      args.push_back("defer");
    }
    std::vector<char*> argv;
    for (auto& a : args) {
      argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    if (posix_spawn(&pid_, binary.c_str(), &fa, nullptr, argv.data(), environ) != 0) {
      pid_ = -1;
    }
    posix_spawn_file_actions_destroy(&fa);
  }
  ~Qemu() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }

  absl::Status Connect() {
    io::UnixSocketAddress addr;
    addr.path = qmp_path_;
    for (int i = 0; i < 200; ++i) {
      auto ch = io::SocketChannel::Connect(addr);
      if (ch.ok()) {
        qmp_ = std::move(*ch);
        MIG_RETURN_IF_ERROR(ReadLine().status());  // greeting
        return Command(R"({"execute":"qmp_capabilities"})").status();
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
    return absl::UnavailableError("QEMU's QMP socket did not appear: " + Log());
  }

  // Command: sends one QMP command and returns the reply line (events are skipped).
  absl::StatusOr<std::string> Command(const std::string& json) {
    const std::string line = json + "\n";
    MIG_RETURN_IF_ERROR(qmp_->WriteAll(line.data(), line.size()));
    for (;;) {
      MIG_ASSIGN_OR_RETURN(std::string reply, ReadLine());
      if (reply.find("\"return\"") != std::string::npos) {
        return reply;
      }
      if (reply.find("\"error\"") != std::string::npos) {
        return absl::InternalError(reply);
      }
    }
  }

  // WaitForStatus: polls query-migrate until "completed" or "failed"; returns the last status.
  std::string WaitForMigration() {
    for (int i = 0; i < 600; ++i) {
      auto r = Command(R"({"execute":"query-migrate"})");
      if (!r.ok()) {
        return std::string(r.status().message());
      }
      for (const char* s : {"completed", "failed", "cancelled"}) {
        if (r->find(absl::StrCat("\"status\": \"", s, "\"")) != std::string::npos) {
          return s;
        }
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
    return "timeout";
  }

  std::string Log() const {
    std::ifstream in(log_path_);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  bool started() const { return pid_ > 0; }

 private:
  absl::StatusOr<std::string> ReadLine() {
    std::string line;
    for (;;) {
      char c = 0;
      MIG_RETURN_IF_ERROR(qmp_->ReadAll(&c, 1));
      if (c == '\n') {
        return line;
      }
      line.push_back(c);
    }
  }

  std::string qmp_path_;
  std::string log_path_;
  pid_t pid_ = -1;
  std::unique_ptr<io::SocketChannel> qmp_;
};

struct Case {
  int channels;
  qapi::MultiFDCompression compression;
  bool zero_copy;
};

const char* CompressionName(qapi::MultiFDCompression c) {
  return qapi::EnumTraits<qapi::MultiFDCompression>::kNames[static_cast<int>(c)];
}

std::string CaseName(const ::testing::TestParamInfo<Case>& i) {
  return absl::StrCat(i.param.channels, "ch_", CompressionName(i.param.compression),
                      i.param.zero_copy ? "_zerocopy" : "");
}

std::string MultifdCommands(Qemu& q, const Case& c, bool source) {
  std::string caps = R"({"capability":"multifd","state":true})";
  if (c.zero_copy && source) {
    caps += R"(,{"capability":"zero-copy-send","state":true})";
  }
  auto r = q.Command(absl::StrCat(R"({"execute":"migrate-set-capabilities","arguments":)",
                                  R"({"capabilities":[)", caps, "]}}"));
  if (!r.ok()) {
    return std::string(r.status().message());
  }
  r = q.Command(
      absl::StrFormat(R"({"execute":"migrate-set-parameters","arguments":{"multifd-channels":%d,)"
                      R"("multifd-compression":"%s"}})",
                      c.channels, CompressionName(c.compression)));
  return r.ok() ? "" : std::string(r.status().message());
}

class QemuInteropTest : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    qemu_ = FindQemu();
    if (qemu_.empty()) {
      GTEST_SKIP() << kQemu << " is not installed";
    }
    if (GetParam().zero_copy) {
      absl::Status zc = multifd_testing::ProbeTcpZeroCopy();
      if (!zc.ok()) {
        GTEST_SKIP() << "kernel lacks SO_ZEROCOPY for TCP (" << zc.message() << ")";
      }
    }
    char tmpl[] = "/tmp/migemu-interop-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  void TearDown() override {
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }
  std::string qemu_;
  std::string dir_;
};

TEST_P(QemuInteropTest, QemuToMigemu) {
  const Case& c = GetParam();
  const std::vector<uint8_t> image = Image(7);
  const std::string ram_file = dir_ + "/src.ram";
  WriteAll(ram_file, image);
  Qemu q(qemu_, dir_, ram_file, /*incoming_defer=*/false);
  ASSERT_TRUE(q.started());
  ASSERT_TRUE(q.Connect().ok()) << q.Log();
  ASSERT_EQ(MultifdCommands(q, c, /*source=*/true), "");

  auto memory = multifd_testing::MakeMemory({kRam});
  std::memset(memory->Find("ram0")->host(), 0xaa, kRam);  // zero pages must be written
  MultifdConfig config;
  config.channels = c.channels;
  config.compression = c.compression;
  MultifdReceiver receiver(config, *memory);
  io::InetSocketAddress inet;
  inet.host = "127.0.0.1";
  inet.port = "0";
  auto listener = io::Listener::Listen(inet, c.channels + 1);
  ASSERT_TRUE(listener.ok());
  const std::string port = std::get<io::InetSocketAddress>((*listener)->addresses()[0]).port;

  absl::Status load = absl::UnknownError("no main channel");
  std::jthread destination([&](std::stop_token stop) {
    std::unique_ptr<io::SocketChannel> main;
    std::jthread loader;
    for (int i = 0; i < c.channels + 1; ++i) {
      auto ch = (*listener)->AcceptBlocking(stop);
      if (!ch.ok()) {
        return;
      }
      // Tell the main stream from a channel by its first bytes (QEMU 7.2 itself assumes the
      // first connection is the main one).
      uint8_t magic[4] = {};
      if (::recv((*ch)->fd(), magic, 4, MSG_PEEK | MSG_WAITALL) == 4 &&
          std::memcmp(magic, "QEVM", 4) == 0) {
        main = std::move(*ch);
        loader = std::jthread([&, m = main.get()] {
          QemuFileReader reader(*m);
          RamLoader ram(*memory);
          ram.SetEosHook([&] { return receiver.SyncMain(); });
          TimerSection timer;
          GlobalStateSection globalstate;
          SectionHandler* handlers[] = {&timer, &ram, &globalstate};
          LoadReport report;
          load = LoadVmState(reader, handlers, LoadOptions{}, LoadHooks{}, &report);
          if (!load.ok() && !receiver.error().ok()) {
            load = receiver.error();
          }
        });
      } else {
        receiver.AddChannel(std::move(*ch));
      }
    }
  });
  auto r = q.Command(
      absl::StrCat(R"({"execute":"migrate","arguments":{"uri":"tcp:127.0.0.1:)", port, R"("}})"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(q.WaitForMigration(), "completed") << q.Log();
  destination.join();
  EXPECT_TRUE(load.ok()) << load;
  EXPECT_TRUE(std::memcmp(memory->Find("ram0")->host(), image.data(), kRam) == 0)
      << "destination RAM differs from QEMU's";
}

TEST_P(QemuInteropTest, MigemuToQemu) {
  const Case& c = GetParam();
  const std::string ram_file = dir_ + "/dst.ram";
  WriteAll(ram_file, std::vector<uint8_t>(kRam, 0xaa));
  Qemu q(qemu_, dir_, ram_file, /*incoming_defer=*/true);
  ASSERT_TRUE(q.started());
  ASSERT_TRUE(q.Connect().ok()) << q.Log();
  ASSERT_EQ(MultifdCommands(q, c, /*source=*/false), "");
  // A free port for QEMU's listener.
  std::string port;
  {
    io::InetSocketAddress probe;
    probe.host = "127.0.0.1";
    probe.port = "0";
    auto l = io::Listener::Listen(probe, 1);
    ASSERT_TRUE(l.ok());
    port = std::get<io::InetSocketAddress>((*l)->addresses()[0]).port;
  }
  ASSERT_TRUE(q.Command(absl::StrCat(R"({"execute":"migrate-incoming","arguments":{"uri":)",
                                     R"("tcp:127.0.0.1:)", port, R"("}})"))
                  .ok());

  auto memory = multifd_testing::MakeMemory({kRam});
  const std::vector<uint8_t> image = Image(11);
  std::memcpy(memory->Find("ram0")->host(), image.data(), kRam);
  io::InetSocketAddress addr;
  addr.host = "127.0.0.1";
  addr.port = port;
  // QEMU 7.2 takes the first connection as the main stream: connect it before any channel.
  auto main = io::SocketChannel::Connect(addr);
  ASSERT_TRUE(main.ok()) << main.status();
  MultifdConfig config;
  config.channels = c.channels;
  config.compression = c.compression;
  config.zero_copy = c.zero_copy;
  RamCounters counters;
  QemuFileWriter w(**main);
  absl::Status s;
  {
    MultifdSender sender(
        config,
        [&](std::stop_token stop) -> absl::StatusOr<std::unique_ptr<io::Channel>> {
          MIG_ASSIGN_OR_RETURN(auto ch, io::SocketChannel::Connect(addr, stop));
          (void)ch->SetNoDelay(true);
          if (c.zero_copy) {
            MIG_RETURN_IF_ERROR(ch->EnableZeroCopy());
          }
          return std::unique_ptr<io::Channel>(std::move(ch));
        },
        counters, w);
    ASSERT_TRUE(sender.Start().ok());
    system::RamBlock& block = *memory->Find("ram0");
    RamEncoder enc(w);
    const SectionInfo ram{kRamIdstr, kQemuSectionIdRam, 0, kRamVersion};
    auto stage = [&](bool pages) -> absl::Status {
      if (pages) {
        for (size_t p = 0; p < block.page_count(); ++p) {
          if (block.IsZeroPage(p)) {
            enc.PutZeroPage(block, p * 4096);  // zero pages stay on the main stream
          } else {
            MIG_RETURN_IF_ERROR(sender.QueuePage(block, p * 4096));
          }
        }
      }
      MIG_RETURN_IF_ERROR(sender.SyncMain());  // before every EOS
      enc.PutEos();
      PutSectionFooter(w, ram);
      return w.Flush();
    };
    PutFileHeader(w);
    PutConfiguration(w, "none");
    PutSectionStart(w, ram);
    enc.PutMemSize(*memory);
    s = stage(false);
    if (s.ok()) {
      PutSectionPart(w, ram);
      s = stage(true);
    }
    if (s.ok()) {
      PutSectionEnd(w, ram);
      s = stage(false);
    }
    if (s.ok()) {
      DeviceStateParams dev;
      dev.runstate = "running";
      s = PutDeviceStateAndEof(w, dev);
    }
    if (s.ok()) {
      s = w.Flush();
    }
  }
  ASSERT_TRUE(s.ok()) << s << "\n" << q.Log();
  EXPECT_EQ(q.WaitForMigration(), "completed") << q.Log();
  if (c.zero_copy) {
    EXPECT_GE(RamCounters::Get(counters.dirty_sync_missed_zero_copy), 1u) << "loopback copies";
  }
  const std::vector<uint8_t> got = ReadAll(ram_file);
  ASSERT_EQ(got.size(), kRam);
  EXPECT_TRUE(std::memcmp(got.data(), image.data(), kRam) == 0) << "QEMU's RAM differs";
}

INSTANTIATE_TEST_SUITE_P(Qemu72, QemuInteropTest,
                         ::testing::Values(Case{2, qapi::MultiFDCompression::kNone, false},
                                           Case{4, qapi::MultiFDCompression::kNone, false},
                                           Case{2, qapi::MultiFDCompression::kNone, true},
                                           Case{4, qapi::MultiFDCompression::kNone, true},
                                           Case{2, qapi::MultiFDCompression::kZlib, false},
                                           Case{4, qapi::MultiFDCompression::kZlib, false},
                                           Case{2, qapi::MultiFDCompression::kZstd, false},
                                           Case{4, qapi::MultiFDCompression::kZstd, false}),
                         CaseName);

}  // namespace
}  // namespace migemu::migration
