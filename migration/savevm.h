// File: migration/savevm.h
//
// The framing of QEMU 7.2's main migration stream (migration/savevm.c): writers for the file
// header, the configuration section, section headers/footers, commands, EOF and the vmdesc
// trailer; and LoadVmState(), the destination's loader, with QEMU's checks in QEMU's order and
// QEMU's texts.
//
// Source (the migration engine drives the order):
//
//   PutFileHeader(w);  PutConfiguration(w, "none");
//   if (return_path) { PutOpenReturnPath(w); PutPing(w, 1); }
//   SectionInfo ram{"ram", kQemuSectionIdRam, 0, kRamVersion};
//   PutSectionStart(w, ram);  encoder.PutMemSize(memory);  encoder.PutEos();  PutSectionFooter(w,
//   ram); PutSectionPart(w, ram);   ...pages...                  encoder.PutEos();
//   PutSectionFooter(w, ram); PutSectionEnd(w, ram);    ...pages... encoder.PutEos();
//   PutSectionFooter(w, ram); MIG_RETURN_IF_ERROR(PutDeviceStateAndEof(w, {.timer =
//   clock.Snapshot(), .runstate = "running"})); MIG_RETURN_IF_ERROR(w.Flush());
//
// Destination:
//
//   RamLoader ram(memory);  TimerSection timer;  GlobalStateSection gs;
//   SectionHandler* handlers[] = {&timer, &ram, &gs};  // QEMU's registration order
//   LoadReport report;
//   absl::Status s = LoadVmState(reader, handlers, LoadOptions{}, hooks, &report);
//   // s.message(): the most specific cause; report.lines(): what QEMU would print.
//
// Thread-safety: LoadVmState runs on the load thread; hooks are called from it.
#ifndef MIGEMU_MIGRATION_SAVEVM_H_
#define MIGEMU_MIGRATION_SAVEVM_H_

#include <absl/status/status.h>
#include <absl/strings/string_view.h>
#include <absl/types/span.h>

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "migration/device_state.h"
#include "migration/qemu_file.h"
#include "migration/section_handler.h"
#include "migration/stream_format.h"

namespace migemu::migration {

// ---- Writers -----------------------------------------------------------------------------------

// SectionInfo: a SaveStateEntry as the source announces it.
struct SectionInfo {
  std::string idstr;
  uint32_t section_id = 0;
  uint32_t instance_id = 0;
  uint32_t version_id = 0;
};

// PutFileHeader: "QEVM" + be32 version 3.
void PutFileHeader(QemuFileWriter& w);
// PutConfiguration: 0x07, be32 length, machine name (no subsections: page bits never vary on
// x86, and migemu never enables the validated capability x-ignore-shared or validate-uuid).
void PutConfiguration(QemuFileWriter& w, absl::string_view machine);
// PutSectionStart/Full: type byte, be32 section id, counted idstr, be32 instance, be32 version.
void PutSectionStart(QemuFileWriter& w, const SectionInfo& s);
void PutSectionFull(QemuFileWriter& w, const SectionInfo& s);
// PutSectionPart/End: type byte, be32 section id.
void PutSectionPart(QemuFileWriter& w, const SectionInfo& s);
void PutSectionEnd(QemuFileWriter& w, const SectionInfo& s);
// PutSectionFooter: 0x7e, be32 section id (after every section's payload).
void PutSectionFooter(QemuFileWriter& w, const SectionInfo& s);
// PutCommand: 0x08, be16 command, be16 length, data (length < 65536).
void PutCommand(QemuFileWriter& w, MigCmd cmd, absl::Span<const uint8_t> data);
void PutOpenReturnPath(QemuFileWriter& w);
void PutPing(QemuFileWriter& w, uint32_t value);
// PutEof: QEMU_VM_EOF, the end of device state.
void PutEof(QemuFileWriter& w);
// PutVmDescription: 0x06, be32 length, the JSON text.
void PutVmDescription(QemuFileWriter& w, absl::string_view json);
// VmDescriptionJson: {"page_size": 4096, "devices": [<entries>]} in QEMU's JSON spelling.
std::string VmDescriptionJson(absl::Span<const std::string> device_entries);

// DeviceStateParams: what the non-iterable completion stage sends for machine `none`.
struct DeviceStateParams {
  TimerState timer;
  std::string runstate = "running";
  uint32_t timer_section_id = kQemuSectionIdTimer;
  uint32_t globalstate_section_id = kQemuSectionIdGlobalState;
  bool send_timer = true;
  bool send_globalstate = true;
  bool send_vmdesc = true;
};

// PutDeviceStateAndEof: qemu_savevm_state_complete_precopy_non_iterable() for machine `none`:
// timer and globalstate FULL sections with footers, EOF, and the vmdesc describing exactly the
// sections sent. Fails (writing nothing) if the run state name is not a RunState.
[[nodiscard]] absl::Status PutDeviceStateAndEof(QemuFileWriter& w, const DeviceStateParams& p);

// ---- Loader ------------------------------------------------------------------------------------

// LoadOptions: the destination's identity and the capabilities the configuration is checked
// against.
struct LoadOptions {
  std::string machine = "none";
  // The local -uuid, when set (checked against a configuration/uuid subsection).
  std::optional<std::array<uint8_t, 16>> uuid;
  // Local state of the only capability 7.2 validates (x-ignore-shared). migemu cannot migrate
  // with it, so a source that has it on is refused.
  bool x_ignore_shared = false;
};

// LoadHooks: what the loader asks of the engine. Unset hooks behave as a destination without
// that ability (no return path: CMD_OPEN_RETURN_PATH fails).
struct LoadHooks {
  // CMD_OPEN_RETURN_PATH: open the reverse direction of the main channel.
  std::function<absl::Status()> open_return_path;
  // CMD_PING(value) with the return path open: send PONG(value). As in QEMU, a failure to send
  // does not stop the load (the return path reports its own errors).
  std::function<void(uint32_t)> ping;
  // QEMU_VM_EOF was read: all device state is loaded (the vmdesc trailer is read after this).
  std::function<void()> device_state_done;
};

// LoadVmState: qemu_loadvm_state(). `handlers` are matched in the order given; pass them in
// QEMU's registration order (timer, ram, globalstate) so that even a PART/END naming a section
// that never started fails with QEMU's text (QEMU matches it against handlers whose section id
// is still 0). Reads the header and configuration, then sections until
// EOF (dispatching to `handlers` by idstr + instance for START/FULL and by the announced id for
// PART/END, checking versions and footers), processes commands, then reads the vmdesc trailer
// (its absence is only reported, as QEMU does). On failure returns a status whose message is
// the most specific text (the first line QEMU prints, or the stream error for a cut stream)
// and whose LoadErrno() is QEMU's return value. `report`, if given, receives every line QEMU's
// destination prints, ending with "load of migration failed: <strerror>" on failure.
[[nodiscard]] absl::Status LoadVmState(QemuFileReader& f,
                                       absl::Span<SectionHandler* const> handlers,
                                       const LoadOptions& options, const LoadHooks& hooks,
                                       LoadReport* report);

// MigrationCapabilityNames: QAPI MigrationCapability of QEMU 7.2 (qapi/migration.json), in enum
// order (the names a configuration/capabilities subsection may carry). Kept as data here until
// the generated enum exists.
absl::Span<const char* const> MigrationCapabilityNames();

}  // namespace migemu::migration

#endif  // MIGEMU_MIGRATION_SAVEVM_H_
