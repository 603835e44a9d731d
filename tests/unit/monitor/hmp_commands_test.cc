// HmpCommands against fake QMP implementations: what each command passes to the QMP handler,
// and the exact text it prints (QEMU 7.2's hmp-cmds.c layouts; the functional tests compare the
// same commands with the real binary).
#include "monitor/hmp_commands.h"

#include <absl/strings/str_cat.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "qapi/error.h"

namespace migemu::monitor {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

class FakeBackends final : public qapi::ControlCommands,
                           public qapi::RunStateCommands,
                           public qapi::MiscCommands,
                           public qapi::MigrationCommands {
 public:
  // Control
  absl::Status QmpCapabilities(const qapi::QmpCapabilitiesArg&) override {
    return absl::OkStatus();
  }
  absl::StatusOr<qapi::VersionInfo> QueryVersion() override {
    qapi::VersionInfo v;
    v.qemu = {7, 2, 0};
    v.package = "pkg";
    return v;
  }
  absl::StatusOr<std::vector<qapi::CommandInfo>> QueryCommands() override {
    return std::vector<qapi::CommandInfo>{};
  }
  absl::Status Quit() override {
    ++quits;
    return absl::OkStatus();
  }
  // Run state / misc
  absl::StatusOr<qapi::StatusInfo> QueryStatus() override { return status; }
  absl::StatusOr<qapi::NameInfo> QueryName() override { return name; }
  absl::StatusOr<qapi::UuidInfo> QueryUuid() override {
    qapi::UuidInfo u;
    u.UUID = "00000000-0000-0000-0000-000000000000";
    return u;
  }
  absl::Status Stop() override {
    ++stops;
    return error;
  }
  absl::Status Cont() override { return error; }
  absl::Status Getfd(const qapi::GetfdArg&) override { return absl::OkStatus(); }
  absl::Status Closefd(const qapi::ClosefdArg&) override { return absl::OkStatus(); }
  absl::StatusOr<std::string> HumanMonitorCommand(const qapi::HumanMonitorCommandArg&) override {
    return std::string();
  }
  // Migration
  absl::StatusOr<qapi::MigrationInfo> QueryMigrate() override {
    ++query_migrate_calls;
    if (!migrate_infos.empty()) {
      qapi::MigrationInfo next = migrate_infos.front();
      if (migrate_infos.size() > 1) {
        migrate_infos.erase(migrate_infos.begin());
      }
      return next;
    }
    return qapi::MigrationInfo{};
  }
  absl::Status MigrateSetCapabilities(const qapi::MigrateSetCapabilitiesArg& arg) override {
    set_caps.push_back(arg);
    return error;
  }
  absl::StatusOr<std::vector<qapi::MigrationCapabilityStatus>> QueryMigrateCapabilities() override {
    return caps;
  }
  absl::Status MigrateSetParameters(const qapi::MigrateSetParameters& arg) override {
    set_params.push_back(arg);
    return error;
  }
  absl::StatusOr<qapi::MigrationParameters> QueryMigrateParameters() override { return params; }
  absl::Status MigrateStartPostcopy() override { return error; }
  absl::Status MigrateCancel() override {
    ++cancels;
    return error;
  }
  absl::Status MigrateContinue(const qapi::MigrateContinueArg& arg) override {
    continued.push_back(arg.state);
    return error;
  }
  absl::Status Migrate(const qapi::MigrateArg& arg) override {
    migrates.push_back(arg);
    return error;
  }
  absl::Status MigrateIncoming(const qapi::MigrateIncomingArg& arg) override {
    incoming.push_back(arg.uri);
    return error;
  }
  absl::Status MigrateRecover(const qapi::MigrateRecoverArg&) override { return error; }
  absl::Status MigratePause() override { return error; }
  absl::Status CalcDirtyRate(const qapi::CalcDirtyRateArg& arg) override {
    dirty_rate_calls.push_back(arg);
    return error;
  }
  absl::StatusOr<qapi::DirtyRateInfo> QueryDirtyRate() override { return dirty_rate; }

  absl::Status error;
  int quits = 0;
  int stops = 0;
  int cancels = 0;
  int query_migrate_calls = 0;
  qapi::StatusInfo status{true, false, qapi::RunState::kRunning};
  qapi::NameInfo name;
  std::vector<qapi::MigrationInfo> migrate_infos;
  std::vector<qapi::MigrationCapabilityStatus> caps;
  qapi::MigrationParameters params;
  qapi::DirtyRateInfo dirty_rate;
  std::vector<qapi::MigrateSetCapabilitiesArg> set_caps;
  std::vector<qapi::MigrateSetParameters> set_params;
  std::vector<qapi::MigrationStatus> continued;
  std::vector<qapi::MigrateArg> migrates;
  std::vector<std::string> incoming;
  std::vector<qapi::CalcDirtyRateArg> dirty_rate_calls;
};

// An interactive terminal: suspendable, with a history.
class FakeTerminal final : public HmpTerminal {
 public:
  void Print(absl::string_view text) override { out.append(text.data(), text.size()); }
  bool Suspend() override {
    ++suspended;
    return true;
  }
  void Resume() override {
    --suspended;
    if (on_resume) {
      on_resume();
    }
  }
  std::vector<std::string> History() const override { return history; }

  std::string out;
  int suspended = 0;
  std::vector<std::string> history;
  std::function<void()> on_resume;
};

class HmpCommandsTest : public ::testing::Test {
 protected:
  HmpCommandsTest()
      : loop_(*util::EventLoop::Create()),
        hmp_(HmpBackends{fake_, fake_, fake_, fake_,
                         [this](absl::string_view s) { stdout_.append(s.data(), s.size()); },
                         [this](absl::string_view s) { stderr_.append(s.data(), s.size()); }},
             *loop_) {}

  // Run: a command on the interactive terminal; returns what it printed ('\n' line ends).
  std::string Run(absl::string_view line) {
    term_.out.clear();
    hmp_.Execute(term_, line);
    return term_.out;
  }

  FakeBackends fake_;
  std::unique_ptr<util::EventLoop> loop_;
  HmpCommands hmp_;
  FakeTerminal term_;
  std::string stdout_;
  std::string stderr_;
};

TEST_F(HmpCommandsTest, CaptureUsesCarriageReturnLineFeeds) {
  EXPECT_EQ(hmp_.Capture("nonsense"), "unknown command: 'nonsense'\r\n");
  EXPECT_EQ(hmp_.Capture("stop now"),
            "stop|s: extraneous characters at the end of line\r\n"
            "Try \"help stop\" for more information\r\n");
  EXPECT_EQ(hmp_.Capture(""), "");
  // QEMU sees a C string: everything after a NUL is gone.
  EXPECT_EQ(hmp_.Capture(absl::string_view("info name\0junk", 14)), "");
}

TEST_F(HmpCommandsTest, TryHelpKeepsTheLineUpToTheCommand) {
  EXPECT_EQ(Run("  info status x"),
            "status: extraneous characters at the end of line\n"
            "Try \"help   info status\" for more information\n");
  EXPECT_EQ(Run("info nosuch"), "unknown command: 'info nosuch'\n");
  EXPECT_EQ(Run("info/x"), "unknown command: 'info'\n");
}

TEST_F(HmpCommandsTest, HelpLines) {
  EXPECT_EQ(Run("help stop"), "stop|s  -- stop emulation\n");
  EXPECT_EQ(Run("? s"), "stop|s  -- stop emulation\n");
  EXPECT_EQ(Run("help migrate_set_parameter"),
            "migrate_set_parameter parameter value -- Set the parameter for migration\n");
  EXPECT_EQ(Run("help info migrate"), "info migrate  -- show migration status\n");
  EXPECT_EQ(Run("help info nosuch"), "unknown command: 'info nosuch'\n");
  EXPECT_EQ(Run("help nosuch extra"), "unknown command: 'nosuch'\n");
  // Both tables are sorted by name, as QEMU sorts them at start-up.
  const std::string all = Run("help");
  EXPECT_EQ(all.substr(0, all.find('\n')),
            "calc_dirty_rate [-r] [-b] second [sample_pages_per_GB] -- start a round of guest "
            "dirty rate measurement (using -r to");
  EXPECT_NE(all.find("\ncont|c  -- resume emulation\nhelp|? [cmd] -- show the help\n"),
            std::string::npos);
  EXPECT_EQ(Run("info").substr(0, 52), "info dirty_rate  -- show dirty rate information\ninfo");
  // A bad quote in help's argument goes to stdout only.
  EXPECT_EQ(Run("help \"x"), "");
  EXPECT_EQ(stdout_, "unterminated string\n");
}

TEST_F(HmpCommandsTest, InfoStatusNameUuidVersion) {
  EXPECT_EQ(Run("info status"), "VM status: running\n");
  fake_.status = {false, false, qapi::RunState::kPaused};
  EXPECT_EQ(Run("info status"), "VM status: paused\n");
  fake_.status = {false, false, qapi::RunState::kPostmigrate};
  EXPECT_EQ(Run("info status"), "VM status: paused (postmigrate)\n");
  fake_.status = {false, true, qapi::RunState::kInmigrate};
  EXPECT_EQ(Run("info status"), "VM status: paused (single step mode) (inmigrate)\n");
  EXPECT_EQ(Run("info name"), "");
  fake_.name.name = "guest";
  EXPECT_EQ(Run("info name"), "guest\n");
  EXPECT_EQ(Run("info uuid"), "00000000-0000-0000-0000-000000000000\n");
  EXPECT_EQ(Run("info version"), "7.2.0pkg\n");
}

TEST_F(HmpCommandsTest, InfoHistoryListsTheTerminalsLines) {
  term_.history = {"info status", "info history"};
  EXPECT_EQ(Run("info history"), "0: 'info status'\n1: 'info history'\n");
  EXPECT_EQ(hmp_.Capture("info history"), "");
}

TEST_F(HmpCommandsTest, StopContQuit) {
  EXPECT_EQ(Run("s"), "");
  EXPECT_EQ(fake_.stops, 1);
  fake_.error =
      qapi::WithHint(absl::InvalidArgumentError("Migration is not finalized yet"), "a hint line\n");
  EXPECT_EQ(Run("c"), "Error: Migration is not finalized yet\na hint line\n");
  // stop ignores errors, like hmp_stop().
  EXPECT_EQ(Run("stop"), "");
  fake_.error = absl::OkStatus();
  EXPECT_EQ(Run("q"), "");
  EXPECT_EQ(fake_.quits, 1);
  EXPECT_EQ(term_.suspended, 1);  // no prompt any more
}

TEST_F(HmpCommandsTest, InfoMigrateWithoutMigrationShowsOnlyGlobals) {
  EXPECT_EQ(Run("info migrate"),
            "globals:\nstore-global-state: on\nonly-migratable: off\nsend-configuration: on\n"
            "send-section-footer: on\ndecompress-error-check: on\nclear-bitmap-shift: 18\n");
}

constexpr char kGlobals[] =
    "globals:\nstore-global-state: on\nonly-migratable: off\nsend-configuration: on\n"
    "send-section-footer: on\ndecompress-error-check: on\nclear-bitmap-shift: 18\n";

TEST_F(HmpCommandsTest, InfoMigrateActiveMultifdZeroCopy) {
  qapi::MigrationInfo info;
  info.status = qapi::MigrationStatus::kActive;
  info.total_time = 1203;
  info.expected_downtime = 300;
  info.setup_time = 12;
  qapi::MigrationStats ram;
  ram.transferred = int64_t{524416} * 1024 + 1023;  // printed truncated to KiB
  ram.mbps = 3435.974;
  ram.remaining = int64_t{1571204} * 1024;
  ram.total = int64_t{2097472} * 1024;
  ram.duplicate = 120;
  ram.normal = 131000;
  ram.normal_bytes = int64_t{524000} * 1024;
  ram.dirty_sync_count = 1;
  ram.page_size = 4096;
  ram.multifd_bytes = uint64_t{524400} * 1024;
  ram.pages_per_second = 104857;
  ram.dirty_pages_rate = 12;
  ram.precopy_bytes = 16 * 1024;
  ram.dirty_sync_missed_zero_copy = 3;
  info.ram = ram;
  fake_.migrate_infos = {info};
  EXPECT_EQ(Run("info migrate"), absl::StrCat(kGlobals,
                                              "Migration status: active\n"
                                              "total time: 1203 ms\n"
                                              "expected downtime: 300 ms\n"
                                              "setup: 12 ms\n"
                                              "transferred ram: 524416 kbytes\n"
                                              "throughput: 3435.97 mbps\n"
                                              "remaining ram: 1571204 kbytes\n"
                                              "total ram: 2097472 kbytes\n"
                                              "duplicate: 120 pages\n"
                                              "skipped: 0 pages\n"
                                              "normal: 131000 pages\n"
                                              "normal bytes: 524000 kbytes\n"
                                              "dirty sync count: 1\n"
                                              "page size: 4 kbytes\n"
                                              "multifd bytes: 524400 kbytes\n"
                                              "pages-per-second: 104857\n"
                                              "dirty pages rate: 12 pages\n"
                                              "precopy ram: 16 kbytes\n"
                                              "Zero-copy-send fallbacks happened: 3 times\n"));
}

TEST_F(HmpCommandsTest, InfoMigrateFailedCompletedAndIncoming) {
  qapi::MigrationInfo failed;
  failed.status = qapi::MigrationStatus::kFailed;
  failed.error_desc = "Zero copy send feature not detected in host kernel";
  fake_.migrate_infos = {failed};
  EXPECT_EQ(Run("info migrate"),
            absl::StrCat(kGlobals,
                         "Migration status: failed (Zero copy send feature not detected in host "
                         "kernel)\ntotal time: 0 ms\n"));

  qapi::MigrationInfo incoming;
  incoming.status = qapi::MigrationStatus::kSetup;
  qapi::SocketAddress tcp;
  tcp.type = qapi::SocketAddressType::kInet;
  tcp.u.inet.host = "0.0.0.0";
  tcp.u.inet.port = "4446";
  qapi::SocketAddress unix_addr;
  unix_addr.type = qapi::SocketAddressType::kUnix;
  unix_addr.u.q_unix.path = "/tmp/m.sock";
  incoming.socket_address = std::vector<qapi::SocketAddress>{tcp, unix_addr};
  incoming.blocked_reasons = std::vector<std::string>{"one", "two"};
  fake_.migrate_infos = {incoming};
  EXPECT_EQ(Run("info migrate"), absl::StrCat(kGlobals,
                                              "Outgoing migration blocked:\n  one\n  two\n"
                                              "Migration status: setup\ntotal time: 0 ms\n"
                                              "socket address: [\n\ttcp:0.0.0.0:4446\n"
                                              "\tunix:/tmp/m.sock\n]\n"));

  qapi::MigrationInfo x;
  x.status = qapi::MigrationStatus::kCompleted;
  x.total_time = 5;
  x.downtime = 2;
  x.xbzrle_cache = qapi::XBZRLECacheStats{1 << 20, 2048, 3, 4, 0.5, 1.25, 6};
  x.compression = qapi::CompressionStats{7, 8, 0.125, 4096, 2.5};
  x.cpu_throttle_percentage = 20;
  x.postcopy_blocktime = 9;
  x.postcopy_vcpu_blocktime = std::vector<uint32_t>{5, 1, 2, 3, 9};
  fake_.migrate_infos = {x};
  EXPECT_EQ(Run("info migrate"),
            absl::StrCat(kGlobals,
                         "Migration status: completed\ntotal time: 5 ms\ndowntime: 2 ms\n"
                         "cache size: 1048576 bytes\nxbzrle transferred: 2 kbytes\n"
                         "xbzrle pages: 3 pages\nxbzrle cache miss: 4 pages\n"
                         "xbzrle cache miss rate: 0.50\nxbzrle encoding rate: 1.25\n"
                         "xbzrle overflow: 6\n"
                         "compression pages: 7 pages\ncompression busy: 8\n"
                         "compression busy rate: 0.12\ncompressed size: 4 kbytes\n"
                         "compression rate: 2.50\n"
                         "cpu throttle percentage: 20\n"
                         "postcopy blocktime: 9\n"
                         "postcopy vcpu blocktime: 1-3,5,9\n"));
}

qapi::MigrationParameters DefaultParameters() {
  qapi::MigrationParameters p;
  p.announce_initial = 50;
  p.announce_max = 550;
  p.announce_rounds = 5;
  p.announce_step = 100;
  p.compress_level = 1;
  p.compress_threads = 8;
  p.compress_wait_thread = true;
  p.decompress_threads = 2;
  p.throttle_trigger_threshold = 50;
  p.cpu_throttle_initial = 20;
  p.cpu_throttle_increment = 10;
  p.cpu_throttle_tailslow = false;
  p.max_cpu_throttle = 99;
  p.tls_creds = "";
  p.tls_hostname = "";
  p.tls_authz = "";
  p.max_bandwidth = 134217728;
  p.downtime_limit = 300;
  p.x_checkpoint_delay = 20000;
  p.block_incremental = false;
  p.multifd_channels = 2;
  p.multifd_compression = qapi::MultiFDCompression::kNone;
  p.multifd_zlib_level = 1;
  p.multifd_zstd_level = 1;
  p.xbzrle_cache_size = 67108864;
  p.max_postcopy_bandwidth = 0;
  return p;
}

TEST_F(HmpCommandsTest, InfoMigrateParametersInQemusOrderAndUnits) {
  fake_.params = DefaultParameters();
  constexpr char kDefaults[] =
      "announce-initial: 50 ms\nannounce-max: 550 ms\nannounce-rounds: 5\n"
      "announce-step: 100 ms\ncompress-level: 1\ncompress-threads: 8\n"
      "compress-wait-thread: on\ndecompress-threads: 2\nthrottle-trigger-threshold: 50\n"
      "cpu-throttle-initial: 20\ncpu-throttle-increment: 10\ncpu-throttle-tailslow: off\n"
      "max-cpu-throttle: 99\ntls-creds: ''\ntls-hostname: ''\n"
      "max-bandwidth: 134217728 bytes/second\ndowntime-limit: 300 ms\n"
      "x-checkpoint-delay: 20000 ms\nblock-incremental: off\nmultifd-channels: 2\n"
      "multifd-compression: none\nxbzrle-cache-size: 67108864 bytes\n"
      "max-postcopy-bandwidth: 0\ntls-authz: ''\n";
  EXPECT_EQ(Run("info migrate_parameters"), kDefaults);
  qapi::BitmapMigrationNodeAlias node;
  node.node_name = "node0";
  node.alias = "n";
  node.bitmaps.push_back({"bitmap0", "b", std::nullopt});
  fake_.params.block_bitmap_mapping = std::vector<qapi::BitmapMigrationNodeAlias>{node};
  EXPECT_EQ(
      Run("info migrate_parameters"),
      absl::StrCat(kDefaults, "block-bitmap-mapping:\n  'node0' -> 'n'\n    'bitmap0' -> 'b'\n"));
}

TEST_F(HmpCommandsTest, InfoMigrateCapabilities) {
  fake_.caps = {{qapi::MigrationCapability::kXbzrle, false},
                {qapi::MigrationCapability::kMultifd, true}};
  EXPECT_EQ(Run("info migrate_capabilities"), "xbzrle: off\nmultifd: on\n");
}

TEST_F(HmpCommandsTest, SetCapabilityPassesOneCapability) {
  EXPECT_EQ(Run("migrate_set_capability zero-copy-send on"), "");
  ASSERT_EQ(fake_.set_caps.size(), 1u);
  EXPECT_THAT(fake_.set_caps[0].capabilities, ElementsAre(qapi::MigrationCapabilityStatus{
                                                  qapi::MigrationCapability::kZeroCopySend, true}));
  EXPECT_EQ(Run("migrate_set_capability nosuch off"), "Error: invalid parameter value: nosuch\n");
  EXPECT_EQ(fake_.set_caps.size(), 1u);
}

TEST_F(HmpCommandsTest, SetParameterTypesTheValue) {
  struct Case {
    const char* line;
    qapi::MigrateSetParameters expected;
  };
  auto with = [](auto setter) {
    qapi::MigrateSetParameters p;
    setter(p);
    return p;
  };
  std::vector<Case> cases = {
      {"max-bandwidth 100", with([](auto& p) { p.max_bandwidth = 100ull << 20; })},
      {"max-bandwidth 100k", with([](auto& p) { p.max_bandwidth = 102400; })},
      {"max-bandwidth 1.5G", with([](auto& p) { p.max_bandwidth = 3ull << 29; })},
      {"downtime-limit 1k", with([](auto& p) { p.downtime_limit = 1024; })},
      {"downtime-limit 500", with([](auto& p) { p.downtime_limit = 500; })},
      {"xbzrle-cache-size 1M", with([](auto& p) { p.xbzrle_cache_size = 1 << 20; })},
      {"announce-rounds 0x10", with([](auto& p) { p.announce_rounds = 16; })},
      {"compress-level 010", with([](auto& p) { p.compress_level = 8; })},
      {"multifd-channels 0x8", with([](auto& p) { p.multifd_channels = 8; })},
      {"multifd-zstd-level 3", with([](auto& p) { p.multifd_zstd_level = 3; })},
      {"x-checkpoint-delay 4000000000", with([](auto& p) { p.x_checkpoint_delay = 4000000000u; })},
      {"compress-wait-thread n", with([](auto& p) { p.compress_wait_thread = false; })},
      {"block-incremental yes", with([](auto& p) { p.block_incremental = true; })},
      {"multifd-compression zstd",
       with([](auto& p) { p.multifd_compression = qapi::MultiFDCompression::kZstd; })},
      {"tls-creds \"\"", with([](auto& p) {
         p.tls_creds = qapi::StrOrNull{qapi::QType::kQstring, ""};
       })},
      {"tls-authz \"a b\"", with([](auto& p) {
         p.tls_authz = qapi::StrOrNull{qapi::QType::kQstring, "a b"};
       })},
  };
  for (const Case& c : cases) {
    fake_.set_params.clear();
    EXPECT_EQ(Run(absl::StrCat("migrate_set_parameter ", c.line)), "") << c.line;
    ASSERT_EQ(fake_.set_params.size(), 1u) << c.line;
    EXPECT_EQ(fake_.set_params[0], c.expected) << c.line;
  }
}

TEST_F(HmpCommandsTest, SetParameterErrors) {
  struct Case {
    const char* line;
    const char* output;
  };
  const std::vector<Case> cases = {
      {"nosuch 1", "Error: invalid parameter value: nosuch\n"},
      {"compress-level x", "Error: Parameter 'compress-level' expects uint64\n"},
      {"compress-level 256", "Error: Parameter 'compress-level' expects uint8_t\n"},
      {"compress-level -1", "Error: Parameter 'compress-level' expects uint8_t\n"},
      {"compress-level 99999999999999999999", "Error: Parameter 'compress-level' expects uint64\n"},
      {"x-checkpoint-delay 4294967296", "Error: Parameter 'x-checkpoint-delay' expects uint32_t\n"},
      {"compress-wait-thread maybe",
       "Error: Parameter 'compress-wait-thread' expects 'on' or 'off'\n"},
      {"downtime-limit abc",
       "Error: Parameter 'downtime-limit' expects a non-negative number below 2^64\n"
       "Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-\n"
       "and exabytes, respectively.\n"},
      {"downtime-limit 1.5",
       "Error: Parameter 'downtime-limit' expects a non-negative number below 2^64\n"
       "Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-\n"
       "and exabytes, respectively.\n"},
      {"downtime-limit 16E", "Error: Value '16E' is out of range for parameter 'downtime-limit'\n"},
      {"downtime-limit 99999999999999999999",
       "Error: Value '99999999999999999999' is out of range for parameter 'downtime-limit'\n"},
      {"downtime-limit 99999999999999999999k",
       "Error: Parameter 'downtime-limit' expects a non-negative number below 2^64\n"
       "Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-\n"
       "and exabytes, respectively.\n"},
      {"max-bandwidth abc", "Error: Invalid size abc\n"},
      {"max-bandwidth 8E", "Error: Invalid size 8E\n"},
      {"xbzrle-cache-size 9E", "Error: Invalid size 9E\n"},
      {"multifd-compression lz4",
       "Error: Parameter 'multifd-compression' does not accept value 'lz4'\n"},
      {"block-bitmap-mapping x",
       "Error: The block-bitmap-mapping parameter can only be set through QMP\n"},
  };
  for (const Case& c : cases) {
    fake_.set_params.clear();
    EXPECT_EQ(Run(absl::StrCat("migrate_set_parameter ", c.line)), c.output) << c.line;
    EXPECT_THAT(fake_.set_params, IsEmpty()) << c.line;
  }
  // The QMP handler's own checks come after the typing.
  fake_.error =
      absl::InvalidArgumentError("Parameter 'compress_level' expects a value between 0 and 9");
  EXPECT_EQ(Run("migrate_set_parameter compress-level 10"),
            "Error: Parameter 'compress_level' expects a value between 0 and 9\n");
}

TEST_F(HmpCommandsTest, MigrateContinueIncomingCancel) {
  EXPECT_EQ(Run("migrate_continue pre-switchover"), "");
  EXPECT_THAT(fake_.continued, ElementsAre(qapi::MigrationStatus::kPreSwitchover));
  EXPECT_EQ(Run("migrate_continue bogus"), "Error: invalid parameter value: bogus\n");
  EXPECT_EQ(Run("migrate_incoming tcp:0:4444"), "");
  EXPECT_THAT(fake_.incoming, ElementsAre("tcp:0:4444"));
  fake_.error = absl::FailedPreconditionError("nope");
  EXPECT_EQ(Run("migrate_incoming x"), "Error: nope\n");
  EXPECT_EQ(Run("migrate_cancel"), "");  // errors ignored, like hmp_migrate_cancel()
  EXPECT_EQ(fake_.cancels, 1);
  EXPECT_EQ(Run("migrate_pause"), "Error: nope\n");
  EXPECT_EQ(Run("migrate_recover tcp:0:1"), "Error: nope\n");
  EXPECT_EQ(Run("migrate_start_postcopy"), "Error: nope\n");
}

TEST_F(HmpCommandsTest, MigrateDetachedAndOnANonInteractiveTerminal) {
  EXPECT_EQ(Run("migrate -d -b tcp:h:1"), "");
  ASSERT_EQ(fake_.migrates.size(), 1u);
  EXPECT_EQ(fake_.migrates[0].uri, "tcp:h:1");
  EXPECT_EQ(fake_.migrates[0].blk, true);
  EXPECT_EQ(fake_.migrates[0].inc, std::nullopt);
  EXPECT_EQ(fake_.migrates[0].detach, std::nullopt);
  EXPECT_EQ(fake_.migrates[0].resume, false);
  EXPECT_EQ(term_.suspended, 0);
  EXPECT_EQ(hmp_.Capture("migrate unix:/x"),
            "terminal does not allow synchronous migration, continuing detached\r\n");
  fake_.error = absl::InvalidArgumentError("There's a migration process in progress");
  EXPECT_EQ(hmp_.Capture("migrate unix:/x"), "Error: There's a migration process in progress\r\n");
}

TEST_F(HmpCommandsTest, SynchronousMigrateWaitsUntilTheMigrationEnds) {
  qapi::MigrationInfo active;
  active.status = qapi::MigrationStatus::kActive;
  qapi::MigrationInfo failed;
  failed.status = qapi::MigrationStatus::kFailed;
  failed.error_desc = "Unable to write to socket: Broken pipe";
  fake_.migrate_infos = {active, failed};
  term_.on_resume = [this] { loop_->Quit(); };
  EXPECT_EQ(Run("migrate tcp:127.0.0.1:1"), "");
  EXPECT_EQ(term_.suspended, 1);
  loop_->Run();  // first look at once, the next a second later
  EXPECT_EQ(term_.suspended, 0);
  EXPECT_EQ(fake_.query_migrate_calls, 2);
  EXPECT_EQ(term_.out, "");
  // error_report() outside a command: stderr with the program name.
  EXPECT_EQ(stderr_, "migemu: Unable to write to socket: Broken pipe\n");
}

TEST_F(HmpCommandsTest, DetachForgetsAPendingWait) {
  qapi::MigrationInfo active;
  active.status = qapi::MigrationStatus::kActive;
  fake_.migrate_infos = {active};
  Run("migrate tcp:127.0.0.1:1");
  EXPECT_EQ(term_.suspended, 1);
  hmp_.Detach(term_);
  loop_->Post([this] { loop_->Quit(); });
  loop_->Run();
  EXPECT_EQ(fake_.query_migrate_calls, 0);
  EXPECT_EQ(term_.suspended, 1);
}

TEST_F(HmpCommandsTest, CalcAndInfoDirtyRate) {
  EXPECT_EQ(Run("calc_dirty_rate 0"), "Incorrect period length specified!\n");
  EXPECT_EQ(Run("calc_dirty_rate -r -b 1"),
            "Either dirty ring or dirty bitmap can be specified!\n");
  EXPECT_EQ(Run("calc_dirty_rate -b 2 64"),
            "Starting dirty rate measurement with period 2 seconds\n"
            "[Please use 'info dirty_rate' to check results]\n");
  ASSERT_EQ(fake_.dirty_rate_calls.size(), 1u);
  EXPECT_EQ(fake_.dirty_rate_calls[0].calc_time, 2);
  EXPECT_EQ(fake_.dirty_rate_calls[0].sample_pages, 64);
  EXPECT_EQ(fake_.dirty_rate_calls[0].mode, qapi::DirtyRateMeasureMode::kDirtyBitmap);
  EXPECT_EQ(Run("info dirty_rate"),
            "Status: unstarted\nStart Time: 0 (ms)\nSample Pages: 0 (per GB)\nPeriod: 0 (sec)\n"
            "Mode: page-sampling\nDirty rate: (not ready)\n");
  fake_.dirty_rate.status = qapi::DirtyRateStatus::kMeasured;
  fake_.dirty_rate.dirty_rate = 42;
  fake_.dirty_rate.vcpu_dirty_rate = std::vector<qapi::DirtyRateVcpu>{{0, 40}, {1, 2}};
  const std::string measured = Run("info dirty_rate");
  EXPECT_EQ(measured.substr(measured.find("Dirty rate:")),
            "Dirty rate: 42 (MB/s)\nvcpu[0], Dirty rate: 40 (MB/s)\n"
            "vcpu[1], Dirty rate: 2 (MB/s)\n");
}

TEST_F(HmpCommandsTest, CompletesCommandsSubCommandsAndArguments) {
  HmpCompletion c = hmp_.Complete("");
  EXPECT_EQ(c.index, 0u);
  EXPECT_THAT(c.candidates,
              ElementsAre("calc_dirty_rate", "cont", "c", "help", "?", "info", "migrate",
                          "migrate_cancel", "migrate_continue", "migrate_incoming", "migrate_pause",
                          "migrate_recover", "migrate_set_capability", "migrate_set_parameter",
                          "migrate_start_postcopy", "quit", "q", "stop", "s"));
  c = hmp_.Complete("migrate_s");
  EXPECT_EQ(c.index, 9u);
  EXPECT_THAT(c.candidates, ElementsAre("migrate_set_capability", "migrate_set_parameter",
                                        "migrate_start_postcopy"));
  c = hmp_.Complete("info mi");
  EXPECT_EQ(c.index, 2u);
  EXPECT_THAT(c.candidates, ElementsAre("migrate", "migrate_capabilities", "migrate_parameters"));
  c = hmp_.Complete("help info st");
  EXPECT_THAT(c.candidates, ElementsAre("status"));
  c = hmp_.Complete("help mig");
  EXPECT_EQ(c.candidates.size(), 9u);
  c = hmp_.Complete("migrate_set_capability zero");
  EXPECT_EQ(c.index, 4u);
  EXPECT_THAT(c.candidates, ElementsAre("zero-blocks", "zero-copy-send"));
  c = hmp_.Complete("migrate_set_capability multifd ");
  EXPECT_THAT(c.candidates, ElementsAre("on", "off"));
  c = hmp_.Complete("migrate_set_capability multifd o");
  EXPECT_THAT(c.candidates, ElementsAre("on", "off"));
  c = hmp_.Complete("migrate_set_parameter multifd-");
  EXPECT_THAT(c.candidates, ElementsAre("multifd-channels", "multifd-compression",
                                        "multifd-zlib-level", "multifd-zstd-level"));
  EXPECT_THAT(hmp_.Complete("migrate_set_parameter max-bandwidth ").candidates, IsEmpty());
  EXPECT_THAT(hmp_.Complete("migrate tcp").candidates, IsEmpty());
  EXPECT_THAT(hmp_.Complete("nosuch ").candidates, IsEmpty());
  EXPECT_THAT(hmp_.Complete("help \"x").candidates, IsEmpty());
}

}  // namespace
}  // namespace migemu::monitor
