// File: migration/device_state.h
//
// The two device sections of machine `none`, as QEMU 7.2 sends and loads them:
//
//  * `timer` (FULL, instance 0, version 2, softmmu/cpu-timers.c vmstate_timers): be64
//    cpu_ticks_offset, 8 unused bytes, be64 cpu_clock_offset (version >= 2), optional subsection
//    `timer/icount` (and its own subsections) from a source run with -icount.
//  * `globalstate` (FULL, instance 0, version 1, migration/global_state.c): be32 size
//    (strlen + 1), 100-byte NUL-padded run state name, validated against QAPI RunState
//    ("invalid parameter value: %s").
//
// Loaders are SectionHandlers (register them with LoadVmState); the save side is a pair of
// payload writers; the values of the timer section come from system::GuestClock.
//
//   SaveTimer(w, TimerState{ticks, nanoseconds});
//   MIG_RETURN_IF_ERROR(SaveGlobalState(w, "running"));
//
// Thread-safety: the sections are used by the load thread only.
#ifndef MIGEMU_MIGRATION_DEVICE_STATE_H_
#define MIGEMU_MIGRATION_DEVICE_STATE_H_

#include <absl/base/thread_annotations.h>
#include <absl/status/status.h>
#include <absl/strings/string_view.h>
#include <absl/synchronization/mutex.h>
#include <absl/types/span.h>

#include <cstdint>
#include <optional>
#include <string>

#include "migration/qemu_file.h"
#include "migration/section_handler.h"
#include "migration/stream_format.h"

namespace migemu::migration {

// TimerIcountState: subsection `timer/icount` and its optional children, as received.
struct TimerIcountState {
  int64_t qemu_icount_bias = 0;
  int64_t qemu_icount = 0;
  std::optional<int64_t> vm_clock_warp_start;  // timer/icount/warp_timer
  std::optional<int64_t> icount_warp_timer;
  std::optional<int64_t> icount_rt_timer;  // timer/icount/timers
  std::optional<int64_t> icount_vm_timer;
  std::optional<int16_t> icount_time_shift;  // timer/icount/shift (version 2)
  std::optional<int64_t> last_delta;

  bool operator==(const TimerIcountState&) const = default;
};

// TimerState: the `timer` section's values (QEMU's TimersState fields that migrate).
struct TimerState {
  int64_t cpu_ticks_offset = 0;
  int64_t cpu_clock_offset = 0;
  std::optional<TimerIcountState> icount;

  bool operator==(const TimerState&) const = default;
};

// TimerSection: loads `timer` (versions 1..2; version 1 has no cpu_clock_offset).
class TimerSection final : public SectionHandler {
 public:
  TimerSection() = default;
  absl::string_view idstr() const override { return kTimerIdstr; }
  uint32_t instance_id() const override { return 0; }
  uint32_t version_id() const override { return kTimerVersion; }
  absl::Status Load(QemuFileReader& f, uint32_t version_id, LoadReport& report) override;

  bool received() const { return received_; }
  const TimerState& state() const { return state_; }

 private:
  bool received_ = false;
  TimerState state_;
};

// SaveTimer: the 24-byte `timer` payload (version 2, no icount subsection).
void SaveTimer(QemuFileWriter& w, const TimerState& state);

// GlobalStateSection: loads `globalstate` and checks the run state name.
class GlobalStateSection final : public SectionHandler {
 public:
  GlobalStateSection() = default;
  absl::string_view idstr() const override { return kGlobalStateIdstr; }
  uint32_t instance_id() const override { return 0; }
  uint32_t version_id() const override { return kGlobalStateVersion; }
  absl::Status Load(QemuFileReader& f, uint32_t version_id, LoadReport& report) override;

  // received: a valid section was loaded (QEMU's global_state_received()).
  bool received() const { return received_; }
  // runstate: the source's run state name ("running", "paused", "prelaunch" ...).
  const std::string& runstate() const { return runstate_; }

 private:
  bool received_ = false;
  std::string runstate_;
};

// SaveGlobalState: the 104-byte `globalstate` payload. Fails (writing nothing) unless `runstate`
// is a RunState name, which always fits the 100-byte buffer.
[[nodiscard]] absl::Status SaveGlobalState(QemuFileWriter& w, absl::string_view runstate);

// RunStateNames: QAPI RunState of QEMU 7.2 (qapi/run-state.json), in enum order. Kept as data
// here until the generated enum exists.
absl::Span<const char* const> RunStateNames();
bool IsRunStateName(absl::string_view name);

// TimerVmdescEntry / GlobalStateVmdescEntry: the device objects QEMU puts in the vmdesc JSON
// for these sections, e.g. {"name": "timer", "instance_id": 0, "vmsd_name": "timer", ...}.
std::string TimerVmdescEntry();
std::string GlobalStateVmdescEntry();


}  // namespace migemu::migration

#endif  // MIGEMU_MIGRATION_DEVICE_STATE_H_
