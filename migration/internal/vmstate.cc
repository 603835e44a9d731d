#include "migration/internal/vmstate.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>
#include <errno.h>

#include <cstring>

#include "migration/errors.h"
#include "migration/stream_format.h"

namespace migemu::migration::internal {

const std::vector<uint8_t>* VmLoaded::Field(absl::string_view name) const {
  if (desc == nullptr) {
    return nullptr;
  }
  for (size_t i = 0; i < desc->fields.size() && i < fields.size(); ++i) {
    if (name == desc->fields[i].name && desc->fields[i].version_id <= version_id) {
      return &fields[i];
    }
  }
  return nullptr;
}

int64_t VmLoaded::Int(absl::string_view name) const {
  const std::vector<uint8_t>* bytes = Field(name);
  if (bytes == nullptr || bytes->empty()) {
    return 0;
  }
  uint64_t v = 0;
  for (uint8_t b : *bytes) {
    v = (v << 8) | b;
  }
  // Sign-extend from the field's width.
  size_t bits = bytes->size() * 8;
  if (bits < 64 && (v >> (bits - 1)) != 0) {
    v |= ~uint64_t{0} << bits;
  }
  return static_cast<int64_t>(v);
}

const VmLoaded* VmLoaded::Subsection(absl::string_view name) const {
  for (const VmLoaded& s : subsections) {
    if (s.desc != nullptr && name == s.desc->name) {
      return &s;
    }
  }
  return nullptr;
}

absl::Status LoadSubsections(QemuFileReader& f, const VmDesc& parent,
                             const std::function<absl::Status(const VmDesc&, int)>& load_one) {
  const size_t parent_len = std::strlen(parent.name);
  while (f.PeekByte(0) == kVmSubsection) {
    const size_t len = f.PeekByte(1);
    if (len < parent_len + 1) {
      return absl::OkStatus();  // too short to be "<parent>/x": not ours
    }
    absl::Span<const uint8_t> name_bytes = f.Peek(len, 2);
    if (name_bytes.size() != len) {
      return absl::OkStatus();
    }
    std::string idstr =
        CString(absl::string_view(reinterpret_cast<const char*>(name_bytes.data()), len));
    if (idstr.compare(0, parent_len, parent.name) != 0) {
      return absl::OkStatus();
    }
    const VmDesc* sub = nullptr;
    for (const VmDesc* candidate : parent.subsections) {
      if (idstr == candidate->name) {
        sub = candidate;
        break;
      }
    }
    if (sub == nullptr) {
      return LoadFailure(-ENOENT);
    }
    f.Skip(2 + len);
    // vmstate_subsection_load() keeps the be32 version in a uint8_t.
    const int version = static_cast<uint8_t>(f.GetBe32());
    if (absl::Status s = load_one(*sub, version); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status CheckVmsdVersion(const VmDesc& desc, int version_id, LoadReport& report) {
  if (version_id > desc.version_id) {
    report.Error(absl::StrFormat(kErrVmsdTooNew, desc.name, version_id, desc.version_id));
    return LoadFailure(-EINVAL);
  }
  if (version_id < desc.minimum_version_id) {
    report.Error(absl::StrFormat(kErrVmsdTooOld, desc.name, version_id, desc.minimum_version_id));
    return LoadFailure(-EINVAL);
  }
  return absl::OkStatus();
}

absl::Status LoadVmsd(QemuFileReader& f, const VmDesc& desc, int version_id, VmLoaded* out,
                      LoadReport& report) {
  if (absl::Status s = CheckVmsdVersion(desc, version_id, report); !s.ok()) {
    return s;
  }
  out->desc = &desc;
  out->version_id = version_id;
  out->fields.assign(desc.fields.size(), {});
  out->subsections.clear();
  for (size_t i = 0; i < desc.fields.size(); ++i) {
    const VmField& field = desc.fields[i];
    if (field.version_id > version_id) {
      continue;
    }
    std::vector<uint8_t>& bytes = out->fields[i];
    bytes.resize(field.size);
    f.GetBuffer(bytes.data(), bytes.size());
    if (f.error() != 0) {
      report.Error(absl::StrFormat(kErrFailedToLoadField, desc.name, field.name));
      return LoadFailure(f.error());
    }
  }
  return LoadSubsections(f, desc, [&](const VmDesc& sub, int version) {
    out->subsections.emplace_back();
    return LoadVmsd(f, sub, version, &out->subsections.back(), report);
  });
}

std::string JsonQuote(absl::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          absl::StrAppendFormat(&out, "\\u%04X", c);
        } else if (c > 0x7f) {
          // Device and field names are ASCII; a stray high byte becomes U+FFFD as QEMU does
          // for invalid UTF-8 (multi-byte sequences are not decoded here).
          out += "\\uFFFD";
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return out;
}

std::string VmsdJsonBody(const VmDesc& desc, const std::function<bool(const VmDesc&)>& sent) {
  std::string out = absl::StrCat("\"vmsd_name\": ", JsonQuote(desc.name),
                                 ", \"version\": ", desc.version_id, ", \"fields\": [");
  bool first = true;
  for (const VmField& field : desc.fields) {
    if (field.version_id > desc.version_id) {
      continue;
    }
    absl::StrAppend(&out, first ? "" : ", ", "{\"name\": ", JsonQuote(field.name),
                    ", \"type\": ", JsonQuote(field.type), ", \"size\": ", field.size, "}");
    first = false;
  }
  out += "]";
  bool any_sub = false;
  for (const VmDesc* sub : desc.subsections) {
    if (!sent || !sent(*sub)) {
      continue;
    }
    absl::StrAppend(&out, any_sub ? ", {" : ", \"subsections\": [{", VmsdJsonBody(*sub, sent), "}");
    any_sub = true;
  }
  if (any_sub) {
    out += "]";
  }
  return out;
}

}  // namespace migemu::migration::internal
