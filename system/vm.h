// File: system/vm.h
//
// The emulated virtual machine of type `none`: its run state (QEMU's RunState machine with the
// same allowed transitions), its guest RAM, its workload (the "vCPUs"), its identity (name,
// UUID) and virtual clocks. vm_stop/vm_start semantics and the STOP/RESUME events follow QEMU's
// softmmu/cpus.c and runstate.c.
//
//   Vm vm(std::move(memory), events);
//   vm.Start();                                  // RESUME event, workload runs
//   vm.Stop(qapi::RunState::kFinishMigrate);    // STOP event, workload quiesced
//
// Ownership: owns GuestMemory and the Workload; `events` must outlive the Vm.
// Thread-safety: every method is thread-safe; Stop/Start may be called from the migration
// thread (QEMU does it with the BQL held). Events go through the thread-safe EventSink.
#ifndef MIGEMU_SYSTEM_VM_H_
#define MIGEMU_SYSTEM_VM_H_

#include <absl/base/thread_annotations.h>
#include <absl/status/status.h>
#include <absl/synchronization/mutex.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "qapi/event_sink.h"
#include "qapi/qapi-types-run-state.h"
#include "system/guest_clock.h"
#include "system/guest_memory.h"
#include "system/workload.h"

namespace migemu::system {

class Vm final {
 public:
  // `memory` is the machine's RAM; `events` receives STOP/RESUME/SHUTDOWN.
  Vm(std::unique_ptr<GuestMemory> memory, qapi::EventSink& events);
  ~Vm();
  Vm(const Vm&) = delete;
  Vm& operator=(const Vm&) = delete;

  GuestMemory& memory() { return *memory_; }
  Workload& workload() { return workload_; }

  qapi::RunState state() const;
  bool running() const;  // runstate_is_running()

  // SetState: runstate_set(): no-op for the same state; a transition QEMU forbids is a bug in
  // the caller (MIG_CHECK), never the result of input.
  void SetState(qapi::RunState next);
  // CanTransition: whether QEMU allows `from` -> `to`.
  static bool CanTransition(qapi::RunState from, qapi::RunState to);

  // Stop: vm_stop(state). If running: state := `state`, vCPUs (workload) quiesced, STOP event.
  // Otherwise nothing happens. Returns whether the VM was running.
  bool Stop(qapi::RunState state);
  // StopForceState: vm_stop_force_state(): like Stop, but also moves a stopped VM to `state`.
  void StopForceState(qapi::RunState state);
  // Start: vm_start(): if not running, RESUME event, state := running, workload resumes.
  void Start();
  // Shutdown: vm_shutdown() for process exit: no STOP event; state := shutdown.
  void Shutdown();

  // QMP `stop` / `cont` semantics (with their error texts).
  absl::Status QmpStop();
  absl::Status QmpCont();

  // autostart: whether the guest runs once an incoming migration completes (-S clears it;
  // `cont`/`stop` during inmigrate set/clear it).
  bool autostart() const;
  void set_autostart(bool v);

  const std::string& name() const { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }
  const std::array<uint8_t, 16>& uuid() const { return uuid_; }
  void set_uuid(const std::array<uint8_t, 16>& uuid) { uuid_ = uuid; }
  std::string UuidString() const;  // canonical 8-4-4-4-12

  // The guest's run-time clocks (what the `timer` section migrates). Runs while the VM runs.
  GuestClock& clock() { return clock_; }

 private:
  void StartLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SetStateLocked(qapi::RunState next) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Stops the vCPUs (workload) and the clock; used by every running -> stopped transition.
  void PauseVcpusLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  std::unique_ptr<GuestMemory> memory_;
  qapi::EventSink& events_;
  Workload workload_;  // after memory_: destroyed (joined) first
  std::string name_;
  std::array<uint8_t, 16> uuid_{};

  mutable absl::Mutex mu_;
  qapi::RunState state_ ABSL_GUARDED_BY(mu_) = qapi::RunState::kPrelaunch;
  bool autostart_ ABSL_GUARDED_BY(mu_) = true;
  GuestClock clock_;
};

// Exact texts.
inline constexpr char kResetRequiredText[] = "Resetting the Virtual Machine is required";
inline constexpr char kMigrationNotFinalizedText[] = "Migration is not finalized yet";

}  // namespace migemu::system

#endif  // MIGEMU_SYSTEM_VM_H_
