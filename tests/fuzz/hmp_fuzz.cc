// Fuzz target: HMP command lines. The input is split at '\n' into command lines (at most 64;
// the last holds the rest of the input), and each runs, as human-monitor-command runs it,
// through HmpCommands::Capture on a fresh migemu Machine (the real QMP implementations behind
// HMP: run state, migration manager, capabilities, parameters, dirty rate). The text left of the
// line's end is also completed (HmpCommands::Complete, the readline tab-completion path). The
// machine's loop runs between lines so that posted work (events, state changes) happens.
//
// Checked for every input: every answer ends with a line end or is empty; completion
// candidates are non-empty words, their index inside the line; and afterwards the monitor still
// answers `info status` with "VM status: ...".
//
// `migrate` and `migrate_incoming` with a URI that parses are answered with an error without
// running (they would connect to, or run, what the input names); the other migration commands
// reach the real MigrationManager.
#include <absl/strings/match.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/str_split.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "io/socket_address.h"
#include "monitor/hmp_commands.h"
#include "system/machine.h"
#include "tests/fuzz/fuzz_util.h"
#include "util/fault.h"

namespace {

using namespace migemu;  // NOLINT(google-build-using-namespace): a fuzz entry point

constexpr size_t kMaxLines = 64;

// The machine's migration commands, except that a migration to or from an address the input
// names never starts.
class GuardedMigration final : public qapi::MigrationCommands {
 public:
  explicit GuardedMigration(qapi::MigrationCommands& real) : real_(real) {}

  absl::StatusOr<qapi::MigrationInfo> QueryMigrate() override { return real_.QueryMigrate(); }
  absl::Status MigrateSetCapabilities(const qapi::MigrateSetCapabilitiesArg& arg) override {
    return real_.MigrateSetCapabilities(arg);
  }
  absl::StatusOr<std::vector<qapi::MigrationCapabilityStatus>> QueryMigrateCapabilities() override {
    return real_.QueryMigrateCapabilities();
  }
  absl::Status MigrateSetParameters(const qapi::MigrateSetParameters& arg) override {
    return real_.MigrateSetParameters(arg);
  }
  absl::StatusOr<qapi::MigrationParameters> QueryMigrateParameters() override {
    return real_.QueryMigrateParameters();
  }
  absl::Status MigrateStartPostcopy() override { return real_.MigrateStartPostcopy(); }
  absl::Status MigrateCancel() override { return real_.MigrateCancel(); }
  absl::Status MigrateContinue(const qapi::MigrateContinueArg& arg) override {
    return real_.MigrateContinue(arg);
  }
  absl::Status Migrate(const qapi::MigrateArg& arg) override {
    if (io::ParseMigrationUri(arg.uri, io::UriDirection::kOutgoing).ok()) {
      return fuzz::Refused("a migration to a real address");
    }
    return real_.Migrate(arg);
  }
  absl::Status MigrateIncoming(const qapi::MigrateIncomingArg& arg) override {
    if (io::ParseMigrationUri(arg.uri, io::UriDirection::kIncoming).ok()) {
      return fuzz::Refused("an incoming migration from a real address");
    }
    return real_.MigrateIncoming(arg);
  }
  absl::Status MigrateRecover(const qapi::MigrateRecoverArg& arg) override {
    return real_.MigrateRecover(arg);
  }
  absl::Status MigratePause() override { return real_.MigratePause(); }
  absl::Status CalcDirtyRate(const qapi::CalcDirtyRateArg& arg) override {
    return real_.CalcDirtyRate(arg);
  }
  absl::StatusOr<qapi::DirtyRateInfo> QueryDirtyRate() override { return real_.QueryDirtyRate(); }

 private:
  qapi::MigrationCommands& real_;
};

void CheckAnswer(absl::string_view line, const std::string& out) {
  fuzz::FuzzCheck(out.empty() || absl::EndsWith(out, "\r\n"),
                  absl::StrCat("an HMP answer ends with a line end: ", line, " -> ", out));
}

void CheckCompletion(absl::string_view line, const monitor::HmpCompletion& c) {
  fuzz::FuzzCheck(c.candidates.size() <= 256, "at most 256 completion candidates");
  fuzz::FuzzCheck(c.index <= line.size(), "the completed word lies inside the line");
  for (const std::string& word : c.candidates) {
    fuzz::FuzzCheck(!word.empty(), absl::StrCat("a completion candidate is a word: ", line));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  system::MachineConfig config;
  config.ram_size = 1 << 20;
  config.ram_size_given = true;
  config.start_paused = true;
  absl::StatusOr<std::unique_ptr<system::Machine>> machine = system::Machine::Create(config);
  fuzz::FuzzCheckOk(machine.status(), "the machine starts");
  system::Machine& m = **machine;
  {
    GuardedMigration migration(m.migration());
    monitor::HmpCommands hmp(
        monitor::HmpBackends{m.control(), m, m, migration, [](absl::string_view) {},
                             [](absl::string_view) {}},
        m.loop());
    std::vector<absl::string_view> lines =
        absl::StrSplit(fuzz::AsText(data, size), absl::MaxSplits('\n', kMaxLines - 1));
    for (absl::string_view line : lines) {
      CheckAnswer(line, hmp.Capture(line));
      CheckCompletion(line, hmp.Complete(line));
      m.loop().RunPending();
    }
    const std::string status = hmp.Capture("info status");
    fuzz::FuzzCheck(absl::StartsWith(status, "VM status: "),
                    absl::StrCat("the monitor still answers info status: ", status));
    hmp.Shutdown();
  }
  m.loop().RunPending();
  machine->reset();
  util::Faults::Get().Clear();
  return 0;
}
