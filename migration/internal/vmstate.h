// File: migration/internal/vmstate.h
//
// A small model of QEMU's VMStateDescription for the fixed-layout device sections migemu speaks
// (timer, globalstate, the configuration subsections): field lists with per-field versions,
// subsections, the load checks of vmstate_load_state() with their texts, and the vmdesc JSON
// text that vmstate_save_state() produces. Module-private.
#ifndef MIGEMU_MIGRATION_INTERNAL_VMSTATE_H_
#define MIGEMU_MIGRATION_INTERNAL_VMSTATE_H_

#include <absl/status/status.h>
#include <absl/strings/string_view.h>
#include <absl/types/span.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "migration/qemu_file.h"
#include "migration/section_handler.h"

namespace migemu::migration::internal {

// One fixed-size field. `type` is the vmdesc type name ("int64", "uint32", "buffer",
// "unused_buffer", "timer", "int16").
struct VmField {
  const char* name;
  const char* type;
  uint32_t size;
  int version_id;  // present on the wire when version_id <= the section's version
};

struct VmDesc {
  const char* name;
  int version_id;
  int minimum_version_id;
  absl::Span<const VmField> fields;
  absl::Span<const VmDesc* const> subsections;
};

// The raw bytes of one loaded vmsd (fields in declaration order; absent fields are empty) and
// of the subsections that arrived.
struct VmLoaded {
  const VmDesc* desc = nullptr;
  int version_id = 0;
  std::vector<std::vector<uint8_t>> fields;
  std::vector<VmLoaded> subsections;

  // Field bytes by name (nullptr if the field was absent for this version).
  const std::vector<uint8_t>* Field(absl::string_view name) const;
  // The field as a big-endian signed integer (0 if absent).
  int64_t Int(absl::string_view name) const;
  const VmLoaded* Subsection(absl::string_view name) const;
};

// CheckVmsdVersion: the two version checks that open vmstate_load_state(), with their texts.
absl::Status CheckVmsdVersion(const VmDesc& desc, int version_id, LoadReport& report);

// LoadVmsd: vmstate_load_state() for `desc` at `version_id`: version checks, fields (a read
// failure reports "Failed to load <vmsd>:<field>"), then subsections (unknown ones fail with
// -ENOENT and no text, as QEMU).
absl::Status LoadVmsd(QemuFileReader& f, const VmDesc& desc, int version_id, VmLoaded* out,
                      LoadReport& report);

// LoadSubsections: vmstate_subsection_load(): consumes the QEMU_VM_SUBSECTION records that
// belong to `parent` and calls `load_one` for each with the subsection's description and its
// (8-bit truncated, as QEMU) version.
absl::Status LoadSubsections(QemuFileReader& f, const VmDesc& parent,
                             const std::function<absl::Status(const VmDesc&, int)>& load_one);

// VmsdJsonBody: the members vmstate_save_state() adds to a device's vmdesc object:
// "vmsd_name", "version", "fields" (and "subsections" for those `sent` returns true for), as
// QEMU's JSON writer spells them (", " and ": " separators), without the enclosing braces.
std::string VmsdJsonBody(const VmDesc& desc, const std::function<bool(const VmDesc&)>& sent);

// JsonQuote: a JSON string literal as QEMU's json_writer writes it.
std::string JsonQuote(absl::string_view s);

}  // namespace migemu::migration::internal

#endif  // MIGEMU_MIGRATION_INTERNAL_VMSTATE_H_
