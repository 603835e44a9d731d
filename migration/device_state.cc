#include "migration/device_state.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>
#include <errno.h>
#include <time.h>

#include <cstring>


#include "migration/errors.h"
#include "migration/internal/vmstate.h"

namespace migemu::migration {

namespace {

using internal::VmDesc;
using internal::VmField;
using internal::VmLoaded;

// softmmu/cpu-timers.c: vmstate_timers and its icount subsections.
constexpr VmField kWarpTimerFields[] = {
    {"vm_clock_warp_start", "int64", 8, 0},
    {"icount_warp_timer", "timer", 8, 0},
};
constexpr VmDesc kWarpTimerDesc = {"timer/icount/warp_timer", 1, 1, kWarpTimerFields, {}};

constexpr VmField kAdjustTimersFields[] = {
    {"icount_rt_timer", "timer", 8, 0},
    {"icount_vm_timer", "timer", 8, 0},
};
constexpr VmDesc kAdjustTimersDesc = {"timer/icount/timers", 1, 1, kAdjustTimersFields, {}};

constexpr VmField kShiftFields[] = {
    {"icount_time_shift", "int16", 2, 0},
    {"last_delta", "int64", 8, 0},
};
constexpr VmDesc kShiftDesc = {"timer/icount/shift", 2, 2, kShiftFields, {}};

constexpr VmField kIcountFields[] = {
    {"qemu_icount_bias", "int64", 8, 0},
    {"qemu_icount", "int64", 8, 0},
};
constexpr const VmDesc* kIcountSubsections[] = {&kWarpTimerDesc, &kAdjustTimersDesc, &kShiftDesc};
constexpr VmDesc kIcountDesc = {"timer/icount", 1, 1, kIcountFields, kIcountSubsections};

constexpr VmField kTimerFields[] = {
    {"cpu_ticks_offset", "int64", 8, 0},
    {"unused", "unused_buffer", 8, 0},
    {"cpu_clock_offset", "int64", 8, 2},
};
constexpr const VmDesc* kTimerSubsections[] = {&kIcountDesc};
constexpr VmDesc kTimerDesc = {kTimerIdstr, static_cast<int>(kTimerVersion),
                               static_cast<int>(kTimerMinimumVersion), kTimerFields,
                               kTimerSubsections};

// migration/global_state.c: vmstate_globalstate.
constexpr VmField kGlobalStateFields[] = {
    {"size", "uint32", 4, 0},
    {"runstate", "buffer", static_cast<uint32_t>(kGlobalStateRunstateSize), 0},
};
constexpr VmDesc kGlobalStateDesc = {
    kGlobalStateIdstr, static_cast<int>(kGlobalStateVersion), 1, kGlobalStateFields, {}};

// qapi/run-state.json, enum RunState (7.2), in order.
constexpr const char* kRunStateNames[] = {
    "debug",     "inmigrate",      "internal-error", "io-error", "paused",  "postmigrate",
    "prelaunch", "finish-migrate", "restore-vm",     "running",  "save-vm", "shutdown",
    "suspended", "watchdog",       "guest-panicked", "colo",
};

std::string DeviceVmdescEntry(const VmDesc& desc) {
  return absl::StrCat("{\"name\": ", internal::JsonQuote(desc.name), ", \"instance_id\": 0, ",
                      internal::VmsdJsonBody(desc, nullptr), "}");
}

void PutBe64Signed(QemuFileWriter& w, int64_t v) { w.PutBe64(static_cast<uint64_t>(v)); }

}  // namespace

// ---- timer -------------------------------------------------------------------------------------

absl::Status TimerSection::Load(QemuFileReader& f, uint32_t version_id, LoadReport& report) {
  VmLoaded loaded;
  absl::Status s = internal::LoadVmsd(f, kTimerDesc, static_cast<int>(version_id), &loaded, report);
  if (!s.ok()) {
    return s;
  }
  TimerState state;
  state.cpu_ticks_offset = loaded.Int("cpu_ticks_offset");
  state.cpu_clock_offset = loaded.Int("cpu_clock_offset");
  if (const VmLoaded* ic = loaded.Subsection(kIcountDesc.name); ic != nullptr) {
    TimerIcountState icount;
    icount.qemu_icount_bias = ic->Int("qemu_icount_bias");
    icount.qemu_icount = ic->Int("qemu_icount");
    if (const VmLoaded* w = ic->Subsection(kWarpTimerDesc.name); w != nullptr) {
      icount.vm_clock_warp_start = w->Int("vm_clock_warp_start");
      icount.icount_warp_timer = w->Int("icount_warp_timer");
    }
    if (const VmLoaded* t = ic->Subsection(kAdjustTimersDesc.name); t != nullptr) {
      icount.icount_rt_timer = t->Int("icount_rt_timer");
      icount.icount_vm_timer = t->Int("icount_vm_timer");
    }
    if (const VmLoaded* sh = ic->Subsection(kShiftDesc.name); sh != nullptr) {
      icount.icount_time_shift = static_cast<int16_t>(sh->Int("icount_time_shift"));
      icount.last_delta = sh->Int("last_delta");
    }
    state.icount = icount;
  }
  state_ = state;
  received_ = true;
  return absl::OkStatus();
}

void SaveTimer(QemuFileWriter& w, const TimerState& state) {
  PutBe64Signed(w, state.cpu_ticks_offset);
  w.PutBe64(0);  // VMSTATE_UNUSED(8)
  PutBe64Signed(w, state.cpu_clock_offset);
}

std::string TimerVmdescEntry() { return DeviceVmdescEntry(kTimerDesc); }

// ---- globalstate -------------------------------------------------------------------------------

absl::Status GlobalStateSection::Load(QemuFileReader& f, uint32_t version_id, LoadReport& report) {
  VmLoaded loaded;
  absl::Status s =
      internal::LoadVmsd(f, kGlobalStateDesc, static_cast<int>(version_id), &loaded, report);
  if (!s.ok()) {
    return s;
  }
  // global_state_post_load(): marks the state received, then parses the name as a C string
  // (forcing a NUL into the last byte of an unterminated buffer).
  received_ = true;
  const std::vector<uint8_t>* buf = loaded.Field("runstate");
  std::string raw(buf->begin(), buf->end());
  raw.back() = '\0';
  std::string name = CString(raw);
  if (!IsRunStateName(name)) {
    report.Error(absl::StrFormat(kErrInvalidParameterValue, name));
    return LoadFailure(-EINVAL);
  }
  runstate_ = name;
  return absl::OkStatus();
}

absl::Status SaveGlobalState(QemuFileWriter& w, absl::string_view runstate) {
  if (!IsRunStateName(runstate)) {
    return absl::InvalidArgumentError(
        absl::StrFormat(kErrInvalidParameterValue, std::string(runstate)));
  }
  uint8_t buf[kGlobalStateRunstateSize] = {};
  std::memcpy(buf, runstate.data(), runstate.size());
  w.PutBe32(static_cast<uint32_t>(runstate.size() + 1));
  w.PutBuffer(buf, sizeof(buf));
  return absl::OkStatus();
}

std::string GlobalStateVmdescEntry() { return DeviceVmdescEntry(kGlobalStateDesc); }

absl::Span<const char* const> RunStateNames() { return kRunStateNames; }

bool IsRunStateName(absl::string_view name) {
  for (const char* candidate : kRunStateNames) {
    if (name == candidate) {
      return true;
    }
  }
  return false;
}

}  // namespace migemu::migration
