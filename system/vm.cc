#include "system/vm.h"

#include <absl/strings/str_format.h>

#include <utility>

#include "qapi/qapi-events-run-state.h"
#include "qapi/runtime.h"
#include "util/check.h"

namespace migemu::system {

namespace {

using RS = qapi::RunState;

// QEMU 7.2's runstate_transitions_def (softmmu/runstate.c), as data.
constexpr std::pair<RS, RS> kTransitions[] = {
    {RS::kPrelaunch, RS::kInmigrate},

    {RS::kDebug, RS::kRunning},
    {RS::kDebug, RS::kFinishMigrate},
    {RS::kDebug, RS::kPrelaunch},

    {RS::kInmigrate, RS::kInternalError},
    {RS::kInmigrate, RS::kIoError},
    {RS::kInmigrate, RS::kPaused},
    {RS::kInmigrate, RS::kRunning},
    {RS::kInmigrate, RS::kShutdown},
    {RS::kInmigrate, RS::kSuspended},
    {RS::kInmigrate, RS::kWatchdog},
    {RS::kInmigrate, RS::kGuestPanicked},
    {RS::kInmigrate, RS::kFinishMigrate},
    {RS::kInmigrate, RS::kPrelaunch},
    {RS::kInmigrate, RS::kPostmigrate},
    {RS::kInmigrate, RS::kColo},

    {RS::kInternalError, RS::kPaused},
    {RS::kInternalError, RS::kFinishMigrate},
    {RS::kInternalError, RS::kPrelaunch},

    {RS::kIoError, RS::kRunning},
    {RS::kIoError, RS::kFinishMigrate},
    {RS::kIoError, RS::kPrelaunch},

    {RS::kPaused, RS::kRunning},
    {RS::kPaused, RS::kFinishMigrate},
    {RS::kPaused, RS::kPostmigrate},
    {RS::kPaused, RS::kPrelaunch},
    {RS::kPaused, RS::kColo},

    {RS::kPostmigrate, RS::kRunning},
    {RS::kPostmigrate, RS::kFinishMigrate},
    {RS::kPostmigrate, RS::kPrelaunch},

    {RS::kPrelaunch, RS::kRunning},
    {RS::kPrelaunch, RS::kFinishMigrate},
    {RS::kPrelaunch, RS::kInmigrate},

    {RS::kFinishMigrate, RS::kRunning},
    {RS::kFinishMigrate, RS::kPaused},
    {RS::kFinishMigrate, RS::kPostmigrate},
    {RS::kFinishMigrate, RS::kPrelaunch},
    {RS::kFinishMigrate, RS::kColo},

    {RS::kRestoreVm, RS::kRunning},
    {RS::kRestoreVm, RS::kPrelaunch},

    {RS::kColo, RS::kRunning},
    {RS::kColo, RS::kPrelaunch},
    {RS::kColo, RS::kShutdown},

    {RS::kRunning, RS::kDebug},
    {RS::kRunning, RS::kInternalError},
    {RS::kRunning, RS::kIoError},
    {RS::kRunning, RS::kPaused},
    {RS::kRunning, RS::kFinishMigrate},
    {RS::kRunning, RS::kRestoreVm},
    {RS::kRunning, RS::kSaveVm},
    {RS::kRunning, RS::kShutdown},
    {RS::kRunning, RS::kWatchdog},
    {RS::kRunning, RS::kGuestPanicked},
    {RS::kRunning, RS::kColo},

    {RS::kSaveVm, RS::kRunning},

    {RS::kShutdown, RS::kPaused},
    {RS::kShutdown, RS::kFinishMigrate},
    {RS::kShutdown, RS::kPrelaunch},
    {RS::kShutdown, RS::kColo},

    {RS::kDebug, RS::kSuspended},
    {RS::kRunning, RS::kSuspended},
    {RS::kSuspended, RS::kRunning},
    {RS::kSuspended, RS::kFinishMigrate},
    {RS::kSuspended, RS::kPrelaunch},
    {RS::kSuspended, RS::kColo},

    {RS::kWatchdog, RS::kRunning},
    {RS::kWatchdog, RS::kFinishMigrate},
    {RS::kWatchdog, RS::kPrelaunch},
    {RS::kWatchdog, RS::kColo},

    {RS::kGuestPanicked, RS::kRunning},
    {RS::kGuestPanicked, RS::kFinishMigrate},
    {RS::kGuestPanicked, RS::kPrelaunch},
};

}  // namespace

Vm::Vm(std::unique_ptr<GuestMemory> memory, qapi::EventSink& events)
    : memory_(std::move(memory)), events_(events), workload_(*memory_) {}

Vm::~Vm() = default;

void Vm::PauseVcpusLocked() {
  clock_.Stop();
  // pause_all_vcpus(): once Pause returns, no guest write is in flight.
  workload_.Pause();
}

bool Vm::CanTransition(RS from, RS to) {
  for (const auto& [a, b] : kTransitions) {
    if (a == from && b == to) {
      return true;
    }
  }
  return false;
}

qapi::RunState Vm::state() const {
  absl::MutexLock lock(&mu_);
  return state_;
}

bool Vm::running() const {
  absl::MutexLock lock(&mu_);
  return state_ == RS::kRunning;
}

void Vm::SetState(RS next) {
  absl::MutexLock lock(&mu_);
  SetStateLocked(next);
}

void Vm::SetStateLocked(RS next) {
  if (next == state_) {
    return;
  }
  MIG_CHECK(CanTransition(state_, next), "invalid runstate transition");
  state_ = next;
}

bool Vm::Stop(RS state) {
  absl::MutexLock lock(&mu_);
  if (state_ != RS::kRunning) {
    return false;
  }
  SetStateLocked(state);
  PauseVcpusLocked();
  qapi::EmitStop(events_);
  return true;
}

void Vm::StopForceState(RS state) {
  absl::MutexLock lock(&mu_);
  if (state_ == RS::kRunning) {
    SetStateLocked(state);
    PauseVcpusLocked();
    qapi::EmitStop(events_);
    return;
  }
  SetStateLocked(state);
}

void Vm::Start() {
  absl::MutexLock lock(&mu_);
  StartLocked();
}

void Vm::StartLocked() {
  if (state_ == RS::kRunning) {
    return;
  }
  // vm_prepare_start(): RESUME is sent before the vCPUs actually resume.
  qapi::EmitResume(events_);
  SetStateLocked(RS::kRunning);
  clock_.Start();
  workload_.Resume();
}

void Vm::Shutdown() {
  absl::MutexLock lock(&mu_);
  if (state_ == RS::kRunning) {
    SetStateLocked(RS::kShutdown);
    PauseVcpusLocked();
  }
}

absl::Status Vm::QmpStop() {
  absl::MutexLock lock(&mu_);
  if (state_ == RS::kInmigrate) {
    autostart_ = false;
    return absl::OkStatus();
  }
  if (state_ == RS::kRunning) {
    SetStateLocked(RS::kPaused);
    PauseVcpusLocked();
    qapi::EmitStop(events_);
  }
  return absl::OkStatus();
}

absl::Status Vm::QmpCont() {
  absl::MutexLock lock(&mu_);
  if (state_ == RS::kInternalError || state_ == RS::kShutdown) {
    return absl::FailedPreconditionError(kResetRequiredText);
  }
  if (state_ == RS::kSuspended) {
    return absl::OkStatus();
  }
  if (state_ == RS::kFinishMigrate) {
    return absl::FailedPreconditionError(kMigrationNotFinalizedText);
  }
  if (state_ == RS::kInmigrate) {
    autostart_ = true;
    return absl::OkStatus();
  }
  StartLocked();
  return absl::OkStatus();
}

bool Vm::autostart() const {
  absl::MutexLock lock(&mu_);
  return autostart_;
}

void Vm::set_autostart(bool v) {
  absl::MutexLock lock(&mu_);
  autostart_ = v;
}

std::string Vm::UuidString() const {
  const auto& u = uuid_;
  return absl::StrFormat("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                         u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11],
                         u[12], u[13], u[14], u[15]);
}

}  // namespace migemu::system
