#include "system/machine_config.h"

#include <absl/status/status.h>
#include <absl/strings/ascii.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/strip.h>

#include <cctype>
#include <utility>

#include "system/guest_memory.h"
#include "system/tls_objects.h"
#include "util/size.h"

namespace migemu::system {

namespace {

absl::Status OptionError(absl::string_view option, absl::string_view value,
                         absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat("-", option, " ", value, ": ", message));
}

std::string SizeError(absl::string_view param) {
  return absl::StrCat("Parameter '", param, "' expects ", util::kSizeExpectsText, "\n",
                      absl::StripSuffix(util::kSizeSuffixHint, "\n"));
}

absl::Status ParseMachine(const std::string& value, MachineConfig* c, EarlyExit* early) {
  util::KeyvalList kv = util::ParseKeyval(value, "type");
  std::optional<std::string> type = kv.Get("type");
  if (type.has_value() && *type == "help") {
    *early = EarlyExit::kMachineHelp;
    return absl::OkStatus();
  }
  if (type.has_value() && *type != "none") {
    return absl::InvalidArgumentError(
        "unsupported machine type\nUse -machine help to list supported machines");
  }
  for (const auto& [key, val] : kv.items) {
    if (key == "type") {
      continue;
    }
    if (key == "memory-backend") {
      c->memory_backend = val;
    } else if (key == "accel") {
      // Machine `none` runs nothing, so the accelerator is irrelevant; QEMU's tcg/kvm names
      // are accepted for compatibility with tools that always pass one.
      if (val != "tcg" && val != "kvm" && val != "kvm:tcg" && val != "tcg:kvm") {
        return absl::InvalidArgumentError(absl::StrCat("invalid accelerator ", val));
      }
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("Property 'none-machine.", key, "' not found"));
    }
  }
  return absl::OkStatus();
}

absl::Status ParseMemory(const std::string& value, MachineConfig* c) {
  util::KeyvalList kv = util::ParseKeyval(value, "size");
  if (auto unknown = kv.FirstUnknown({"size", "slots", "maxmem"})) {
    return OptionError("m", value, absl::StrCat("Invalid parameter '", *unknown, "'"));
  }
  if (kv.Has("slots") && !kv.Has("maxmem")) {
    return absl::InvalidArgumentError("slots specified but no max-size");
  }
  if (kv.Has("maxmem")) {
    return absl::InvalidArgumentError(
        "memory hotplug is not enabled: maxmem is not supported by machine none");
  }
  std::optional<std::string> size = kv.Get("size");
  if (!size.has_value()) {
    return absl::OkStatus();
  }
  // A suffix-less size means MiB (the legacy -m format); the result is rounded up to 8 KiB.
  absl::StatusOr<uint64_t> bytes = util::ParseSize(*size, uint64_t{1} << 20);
  if (!bytes.ok()) {
    return OptionError("m", value, SizeError("size"));
  }
  c->ram_size = (*bytes + 8191) & ~uint64_t{8191};
  c->ram_size_given = true;
  return absl::OkStatus();
}

absl::Status ParseObject(const std::string& value, MachineConfig* c, EarlyExit* early) {
  util::KeyvalList kv = util::ParseKeyval(value, "qom-type");
  std::optional<std::string> type = kv.Get("qom-type");
  if (type.has_value() && *type == "help") {
    *early = EarlyExit::kObjectHelp;
    return absl::OkStatus();
  }
  if (!type.has_value()) {
    return OptionError("object", value, "Parameter 'qom-type' is missing");
  }
  static const std::vector<absl::string_view> kTypes = {
      "authz-list", "memory-backend-file", "memory-backend-ram", "tls-creds-psk", "tls-creds-x509"};
  bool known = false;
  for (absl::string_view t : kTypes) {
    known = known || t == *type;
  }
  if (!known) {
    return OptionError("object", value,
                       absl::StrCat("Parameter 'qom-type' does not accept value '", *type, "'"));
  }
  std::optional<std::string> id = kv.Get("id");
  if (!id.has_value()) {
    return OptionError("object", value, "Parameter 'id' is missing");
  }
  if (*type == "memory-backend-ram" || *type == "memory-backend-file") {
    const bool file = *type == "memory-backend-file";
    std::vector<absl::string_view> allowed = {"qom-type",
                                              "id",
                                              "size",
                                              "share",
                                              "prealloc",
                                              "merge",
                                              "dump",
                                              "prealloc-threads",
                                              "x-use-canonical-path-for-ramblock-id"};
    if (file) {
      allowed.insert(allowed.end(), {"mem-path", "align", "discard-data", "readonly"});
    }
    if (auto unknown = kv.FirstUnknown(allowed)) {
      return OptionError("object", value, absl::StrCat("Invalid parameter '", *unknown, "'"));
    }
    MemoryBackendConfig m;
    m.id = *id;
    m.type = *type;
    std::optional<std::string> size = kv.Get("size");
    if (!size.has_value()) {
      return OptionError("object", value, "Parameter 'size' is missing");
    }
    absl::StatusOr<uint64_t> bytes = util::ParseSize(*size);
    if (!bytes.ok()) {
      return OptionError("object", value, SizeError("size"));
    }
    m.size = *bytes;
    if (file) {
      std::optional<std::string> path = kv.Get("mem-path");
      if (!path.has_value()) {
        return OptionError("object", value, "Parameter 'mem-path' is missing");
      }
      m.mem_path = *path;
    }
    for (const char* flag : {"share", "prealloc"}) {
      absl::StatusOr<std::optional<bool>> b = kv.GetBool(flag);
      if (!b.ok()) {
        return OptionError("object", value, b.status().message());
      }
      if (b->has_value()) {
        (std::string(flag) == "share" ? m.share : m.prealloc) = **b;
      }
    }
    c->memory_backends.push_back(std::move(m));
    return absl::OkStatus();
  }
  // TLS credentials and authz lists: properties are checked here (errors carry the option);
  // the objects are created, and credentials loaded, by the Machine.
  if (*type == "authz-list") {
    absl::StatusOr<std::shared_ptr<const io::AuthzList>> list = AuthzListFromKeyval(kv);
    if (!list.ok()) {
      return OptionError("object", value, list.status().message());
    }
  } else {
    absl::StatusOr<TlsCredsSpec> creds = TlsCredsSpecFromKeyval(*type, kv);
    if (!creds.ok()) {
      return OptionError("object", value, creds.status().message());
    }
  }
  c->objects.push_back(ObjectConfig{*type, *id, kv, value});
  return absl::OkStatus();
}

}  // namespace

std::optional<std::array<uint8_t, 16>> ParseUuid(absl::string_view text) {
  // 8-4-4-4-12 hex digits, case-insensitive.
  static constexpr int kGroups[] = {8, 4, 4, 4, 12};
  if (text.size() != 36) {
    return std::nullopt;
  }
  std::array<uint8_t, 16> out{};
  size_t pos = 0;
  size_t byte = 0;
  for (int g = 0; g < 5; ++g) {
    if (g > 0) {
      if (text[pos] != '-') {
        return std::nullopt;
      }
      ++pos;
    }
    for (int i = 0; i < kGroups[g]; i += 2) {
      auto hex = [](char ch) -> int {
        if (ch >= '0' && ch <= '9') {
          return ch - '0';
        }
        ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        if (ch >= 'a' && ch <= 'f') {
          return ch - 'a' + 10;
        }
        return -1;
      };
      int hi = hex(text[pos]);
      int lo = hex(text[pos + 1]);
      if (hi < 0 || lo < 0) {
        return std::nullopt;
      }
      out[byte++] = static_cast<uint8_t>(hi << 4 | lo);
      pos += 2;
    }
  }
  return out;
}

absl::StatusOr<MachineConfig> ParseMachineConfig(const CommandLine& cl, EarlyExit* early) {
  MachineConfig c;
  *early = EarlyExit::kNone;
  for (const OptionArg& o : cl.options) {
    absl::Status s;
    if (o.name == "machine") {
      s = ParseMachine(o.value, &c, early);
    } else if (o.name == "m") {
      s = ParseMemory(o.value, &c);
    } else if (o.name == "object") {
      s = ParseObject(o.value, &c, early);
    } else if (o.name == "mem-prealloc") {
      c.mem_prealloc = true;
    } else if (o.name == "name") {
      util::KeyvalList kv = util::ParseKeyval(o.value, "guest");
      if (auto unknown = kv.FirstUnknown({"guest", "process", "debug-threads"})) {
        s = OptionError("name", o.value, absl::StrCat("Invalid parameter '", *unknown, "'"));
      } else {
        c.name = kv.Get("guest");
      }
    } else if (o.name == "uuid") {
      c.uuid = ParseUuid(o.value);
      if (!c.uuid.has_value()) {
        s = OptionError("uuid", o.value, "failed to parse UUID string: wrong format");
      }
    } else if (o.name == "S") {
      c.start_paused = true;
    } else if (o.name == "incoming") {
      c.incoming = o.value;
    } else if (o.name == "qmp") {
      c.monitors.push_back({true, o.value});
    } else if (o.name == "monitor") {
      c.monitors.push_back({false, o.value});
    } else if (o.name == "daemonize") {
      c.daemonize = true;
    } else if (o.name == "pidfile") {
      c.pidfile = o.value;
    } else if (o.name == "workload") {
      absl::StatusOr<WorkloadConfig> w = ParseWorkloadConfig(o.value);
      if (!w.ok()) {
        s = OptionError("workload", o.value, w.status().message());
      } else {
        c.workload = *w;
      }
    } else if (o.name == "display") {
      if (o.value != "none") {
        s = absl::InvalidArgumentError(absl::StrCat("Display '", o.value, "' is not available."));
      }
    } else if (o.name == "serial" || o.name == "parallel" || o.name == "vga") {
      if (o.value != "none") {
        s = OptionError(o.name, o.value,
                        "machine none has no such device; only 'none' is accepted");
      }
    }
    if (!s.ok()) {
      return s;
    }
    if (*early != EarlyExit::kNone) {
      return c;
    }
  }
  if (!c.memory_backend.empty()) {
    const MemoryBackendConfig* b = nullptr;
    for (const MemoryBackendConfig& m : c.memory_backends) {
      if (m.id == c.memory_backend) {
        b = &m;
      }
    }
    if (b == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("Memory backend '", c.memory_backend, "' not found"));
    }
    if (c.ram_size_given && c.ram_size != b->size) {
      return absl::InvalidArgumentError(
          "Machine memory size does not match the size of the memory backend");
    }
    c.ram_size = b->size;
  }
  return c;
}

std::string MachineHelpText() {
  return "Supported machines are:\nnone                 empty machine\n";
}

std::string ObjectHelpText() {
  return "List of user creatable objects:\n  authz-list\n  memory-backend-file\n"
         "  memory-backend-ram\n  tls-creds-psk\n  tls-creds-x509\n";
}

}  // namespace migemu::system
