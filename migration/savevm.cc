#include "migration/savevm.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>
#include <absl/strings/str_join.h>
#include <errno.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "migration/errors.h"
#include "migration/internal/vmstate.h"
#include "util/errno_status.h"

namespace migemu::migration {

namespace {

using internal::VmDesc;
using internal::VmField;
using internal::VmLoaded;

// qapi/migration.json, enum MigrationCapability (7.2), in order.
constexpr const char* kCapabilityNames[] = {
    "xbzrle",           "rdma-pin-all",  "auto-converge",       "zero-blocks",
    "compress",         "events",        "postcopy-ram",        "x-colo",
    "release-ram",      "block",         "return-path",         "pause-before-switchover",
    "multifd",          "dirty-bitmaps", "postcopy-blocktime",  "late-block-activate",
    "x-ignore-shared",  "validate-uuid", "background-snapshot", "zero-copy-send",
    "postcopy-preempt",
};
constexpr char kValidatedCapability[] = "x-ignore-shared";  // should_validate_capability()

// savevm.c: vmstate_configuration's subsections (the parent's own fields, be32 len + name, are
// read by hand: the name is a variable-length buffer).
constexpr VmField kPageBitsFields[] = {{"target_page_bits", "uint32", 4, 0}};
constexpr VmDesc kPageBitsDesc = {"configuration/target-page-bits", 1, 1, kPageBitsFields, {}};
constexpr VmField kCapsFields[] = {{"caps_count", "uint32", 4, 1}};
constexpr VmDesc kCapsDesc = {"configuration/capabilities", 1, 1, kCapsFields, {}};
constexpr VmField kUuidFields[] = {{"uuid.data", "uint8", 16, 1}};
constexpr VmDesc kUuidDesc = {"configuration/uuid", 1, 1, kUuidFields, {}};
constexpr const VmDesc* kConfigSubsections[] = {&kPageBitsDesc, &kCapsDesc, &kUuidDesc};
constexpr VmDesc kConfigDesc = {"configuration", 1, 0, {}, kConfigSubsections};

// How much of a received machine name is kept for the error text (QEMU prints all of it).
constexpr size_t kMachineNameKeep = 4096;

// mig_cmd_args[]: expected data length per command (-1: variable) and name. ENABLE_COLO has no
// entry in 7.2's table, so it reads as length 0 and a NULL name (printed "(null)" by glibc).
struct CmdArgs {
  int len;
  const char* name;
};
constexpr CmdArgs kCmdArgs[] = {
    {-1, "INVALID"},
    {0, "OPEN_RETURN_PATH"},
    {4, "PING"},
    {-1, "POSTCOPY_ADVISE"},
    {0, "POSTCOPY_LISTEN"},
    {0, "POSTCOPY_RUN"},
    {-1, "POSTCOPY_RAM_DISCARD"},
    {4, "PACKAGED"},
    {0, "(null)"},
    {0, "POSTCOPY_RESUME"},
    {-1, "RECV_BITMAP"},
};
static_assert(sizeof(kCmdArgs) / sizeof(kCmdArgs[0]) == static_cast<size_t>(MigCmd::kMax));

// PostcopyState as QEMU numbers it (printed in "wrong postcopy state (%d)").
enum PostcopyState : int {
  kPostcopyNone = 0,
  kPostcopyAdvise = 1,
  kPostcopyDiscard = 2,
  kPostcopyListening = 3,
};

std::string UuidString(const uint8_t* u) {
  return absl::StrFormat("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                         u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11],
                         u[12], u[13], u[14], u[15]);
}

void PutSectionHeader(QemuFileWriter& w, uint8_t type, const SectionInfo& s) {
  w.PutByte(type);
  w.PutBe32(s.section_id);
  if (type == kVmSectionStart || type == kVmSectionFull) {
    w.PutCountedString(s.idstr);
    w.PutBe32(s.instance_id);
    w.PutBe32(s.version_id);
  }
}

// One load of one stream: the state qemu_loadvm_state() keeps in savevm_state and mis.
class Loader {
 public:
  Loader(QemuFileReader& f, absl::Span<SectionHandler* const> handlers, const LoadOptions& options,
         const LoadHooks& hooks, LoadReport& report)
      : f_(f), options_(options), hooks_(hooks), report_(report) {
    for (SectionHandler* h : handlers) {
      entries_.push_back(Entry{h});
    }
  }

  absl::Status Run() {
    absl::Status ret = LoadHeader();
    if (ret.ok()) {
      ret = LoadMain();
    }
    if (!ret.ok()) {
      return ret;
    }
    if (f_.error() != 0) {
      return LoadFailure(f_.error());
    }
    if (hooks_.device_state_done) {
      hooks_.device_state_done();
    }
    // Read the vmdesc trailer so a tool recording the stream sees it; its absence or a cut in
    // it does not fail the load.
    const uint8_t type = f_.GetByte();
    if (type != kVmVmDescription) {
      report_.Error(absl::StrFormat(kErrExpectedVmDescription, type));
    } else {
      f_.Skip(f_.GetBe32());
    }
    return absl::OkStatus();
  }

 private:
  struct Entry {
    SectionHandler* handler;
    uint32_t load_section_id = 0;
    uint32_t load_version_id = 0;
  };

  absl::Status Fail(int negative_errno) { return LoadFailure(negative_errno); }

  absl::Status LoadHeader() {
    if (f_.GetBe32() != kFileMagic) {
      report_.Error(kErrNotAMigrationStream);
      return Fail(-EINVAL);
    }
    const uint32_t version = f_.GetBe32();
    if (version == kFileVersionCompat) {
      report_.Error(kErrV2Obsolete);
      return Fail(-ENOTSUP);
    }
    if (version != kFileVersion) {
      report_.Error(kErrUnsupportedVersion);
      return Fail(-ENOTSUP);
    }
    if (f_.GetByte() != kVmConfiguration) {
      report_.Error(kErrConfigurationMissing);
      return Fail(-EINVAL);
    }
    return LoadConfiguration();
  }

  // vmstate_load_state(&vmstate_configuration, version 0): len, name, subsections, post_load.
  absl::Status LoadConfiguration() {
    const uint32_t len = f_.GetBe32();
    if (f_.error() != 0) {
      report_.Error(absl::StrFormat(kErrFailedToLoadField, kConfigDesc.name, "len"));
      return Fail(f_.error());
    }
    std::string name(std::min<size_t>(len, kMachineNameKeep), '\0');
    size_t got = f_.GetBuffer(reinterpret_cast<uint8_t*>(name.data()), name.size());
    if (got == name.size() && len > name.size()) {
      f_.Skip(len - name.size());
    }
    if (f_.error() != 0) {
      report_.Error(absl::StrFormat(kErrFailedToLoadField, kConfigDesc.name, "name"));
      return Fail(f_.error());
    }

    uint32_t page_bits = kTargetPageBits;  // configuration_pre_load(): the minimum
    std::vector<std::string> source_caps;
    absl::Status s =
        internal::LoadSubsections(f_, kConfigDesc, [&](const VmDesc& sub, int version) {
          if (&sub == &kCapsDesc) {
            return LoadCapabilities(version, &source_caps);
          }
          VmLoaded loaded;
          absl::Status ls = internal::LoadVmsd(f_, sub, version, &loaded, report_);
          if (!ls.ok()) {
            return ls;
          }
          if (&sub == &kPageBitsDesc) {
            page_bits = static_cast<uint32_t>(loaded.Int("target_page_bits"));
            return absl::OkStatus();
          }
          return UuidPostLoad(loaded.Field("uuid.data")->data());
        });
    if (!s.ok()) {
      return s;
    }

    // configuration_post_load(): strncmp over the sent length only, so a prefix of the local
    // name (or a name with a NUL right after the local name's length) passes.
    const std::string& local = options_.machine;
    bool differs = false;
    for (size_t i = 0; i < len; ++i) {
      const char sent = i < name.size() ? name[i] : '\0';
      const char mine = i < local.size() ? local[i] : '\0';
      if (sent != mine) {
        differs = true;
        break;
      }
      if (sent == '\0') {
        break;
      }
    }
    if (differs) {
      report_.Error(absl::StrFormat(kErrMachineType, CString(name), local));
      return Fail(-EINVAL);
    }
    if (page_bits != static_cast<uint32_t>(kTargetPageBits)) {
      report_.Error(
          absl::StrFormat(kErrTargetPageBits, static_cast<int32_t>(page_bits), kTargetPageBits));
      return Fail(-EINVAL);
    }
    const bool source_on = std::find(source_caps.begin(), source_caps.end(),
                                     kValidatedCapability) != source_caps.end();
    if (source_on != options_.x_ignore_shared) {
      report_.Error(absl::StrFormat(kErrCapabilityMismatch, kValidatedCapability,
                                    options_.x_ignore_shared ? "on" : "off",
                                    source_on ? "on" : "off"));
      return Fail(-EINVAL);
    }
    return absl::OkStatus();
  }

  // configuration/capabilities: be32 count, then count x (u8 len + capability name).
  absl::Status LoadCapabilities(int version, std::vector<std::string>* caps) {
    if (absl::Status s = internal::CheckVmsdVersion(kCapsDesc, version, report_); !s.ok()) {
      return s;
    }
    const uint32_t count = f_.GetBe32();
    if (f_.error() != 0) {
      report_.Error(absl::StrFormat(kErrFailedToLoadField, kCapsDesc.name, "caps_count"));
      return Fail(f_.error());
    }
    for (uint32_t i = 0; i < count; ++i) {
      char buf[256] = {};
      size_t len = f_.GetByte();
      f_.GetBuffer(reinterpret_cast<uint8_t*>(buf), len);
      std::string cap = CString(absl::string_view(buf, len));
      bool known = false;
      for (const char* candidate : kCapabilityNames) {
        known = known || cap == candidate;
      }
      if (!known) {
        report_.Error(absl::StrFormat(kErrUnknownCapability, cap));
      }
      if (!known || f_.error() != 0) {
        report_.Error(absl::StrFormat(kErrFailedToLoadField, kCapsDesc.name, "capabilities"));
        return Fail(known ? f_.error() : -EINVAL);
      }
      caps->push_back(cap);
    }
    return internal::LoadSubsections(f_, kCapsDesc,
                                     [](const VmDesc&, int) { return LoadFailure(-ENOENT); });
  }

  absl::Status UuidPostLoad(const uint8_t* received) {
    if (!options_.uuid.has_value()) {
      report_.Warning(absl::StrFormat(kWarnUuidNotSet, UuidString(received)));
      return absl::OkStatus();
    }
    if (std::memcmp(received, options_.uuid->data(), 16) != 0) {
      report_.Error(absl::StrFormat(kErrUuidMismatch, UuidString(received),
                                    UuidString(options_.uuid->data())));
      return Fail(-EINVAL);
    }
    return absl::OkStatus();
  }

  // qemu_loadvm_state_main(): sections and commands until EOF.
  absl::Status LoadMain() {
    while (true) {
      const uint8_t type = f_.GetByte();
      if (f_.error() != 0) {
        return Fail(f_.error());
      }
      absl::Status ret;
      switch (type) {
        case kVmSectionStart:
        case kVmSectionFull:
          ret = SectionStartFull();
          break;
        case kVmSectionPart:
        case kVmSectionEnd:
          ret = SectionPartEnd();
          break;
        case kVmCommand:
          ret = Command();
          break;
        case kVmEof:
          return absl::OkStatus();
        default:
          report_.Error(absl::StrFormat(kErrUnknownSectionType, type));
          ret = Fail(-EINVAL);
      }
      if (!ret.ok()) {
        f_.SetError(LoadErrno(ret), ret);
        return ret;
      }
    }
  }

  absl::Status SectionStartFull() {
    const uint32_t section_id = f_.GetBe32();
    std::string idstr;
    if (f_.GetCountedString(&idstr) == 0) {
      report_.Error(absl::StrFormat(kErrReadIdString, section_id));
      return Fail(-EINVAL);
    }
    idstr = CString(idstr);
    const uint32_t instance_id = f_.GetBe32();
    const uint32_t version_id = f_.GetBe32();
    if (f_.error() != 0) {
      report_.Error(absl::StrFormat(kErrReadInstanceVersion, f_.error()));
      return Fail(f_.error());
    }
    Entry* se = nullptr;
    for (Entry& e : entries_) {
      if (e.handler->idstr() == idstr && e.handler->instance_id() == instance_id) {
        se = &e;
        break;
      }
    }
    if (se == nullptr) {
      report_.Error(absl::StrFormat(kErrUnknownSectionOrInstance, idstr, instance_id));
      return Fail(-EINVAL);
    }
    if (version_id > se->handler->version_id()) {
      report_.Error(absl::StrFormat(kErrUnsupportedSectionVersion, static_cast<int32_t>(version_id),
                                    idstr, static_cast<int32_t>(se->handler->version_id())));
      return Fail(-EINVAL);
    }
    se->load_version_id = version_id;
    se->load_section_id = section_id;
    absl::Status ret = se->handler->Load(f_, version_id, report_);
    if (!ret.ok()) {
      report_.Error(absl::StrFormat(kErrLoadingInstance, instance_id, idstr));
      return ret;
    }
    return CheckFooter(*se);
  }

  absl::Status SectionPartEnd() {
    const uint32_t section_id = f_.GetBe32();
    if (f_.error() != 0) {
      report_.Error(absl::StrFormat(kErrReadSectionId, f_.error()));
      return Fail(f_.error());
    }
    // As QEMU, every registered handler takes part in the lookup, and one that has not seen a
    // START yet has section id 0 and version 0: "PART 0" before any START lands on the first
    // registered handler, whose version check then fails (QEMU registers timer first).
    Entry* se = nullptr;
    for (Entry& e : entries_) {
      if (e.load_section_id == section_id) {
        se = &e;
        break;
      }
    }
    if (se == nullptr) {
      report_.Error(absl::StrFormat(kErrUnknownSection, static_cast<int32_t>(section_id)));
      return Fail(-EINVAL);
    }
    absl::Status ret = se->handler->Load(f_, se->load_version_id, report_);
    if (!ret.ok()) {
      report_.Error(absl::StrFormat(kErrLoadingSectionId, static_cast<int32_t>(section_id),
                                    se->handler->idstr()));
      return ret;
    }
    return CheckFooter(*se);
  }

  absl::Status CheckFooter(const Entry& se) {
    const uint8_t mark = f_.GetByte();
    if (f_.error() != 0) {
      report_.Error(absl::StrFormat(kErrReadFooter, f_.error()));
      return Fail(-EINVAL);
    }
    if (mark != kVmSectionFooter) {
      report_.Error(absl::StrFormat(kErrMissingFooter, se.handler->idstr()));
      return Fail(-EINVAL);
    }
    const uint32_t id = f_.GetBe32();
    if (id != se.load_section_id) {
      report_.Error(
          absl::StrFormat(kErrMismatchedFooter, se.handler->idstr(), id, se.load_section_id));
      return Fail(-EINVAL);
    }
    return absl::OkStatus();
  }

  // loadvm_process_command().
  absl::Status Command() {
    const uint16_t cmd = f_.GetBe16();
    const uint16_t len = f_.GetBe16();
    if (f_.error() != 0) {
      return Fail(f_.error());
    }
    if (cmd >= static_cast<uint16_t>(MigCmd::kMax) || cmd == 0) {
      report_.Error(absl::StrFormat(kErrCmdUnknown, cmd, len));
      return Fail(-EINVAL);
    }
    const CmdArgs& args = kCmdArgs[cmd];
    if (args.len != -1 && args.len != len) {
      report_.Error(absl::StrFormat(kErrCmdBadLength, args.name, args.len, len));
      return Fail(-ERANGE);
    }
    switch (static_cast<MigCmd>(cmd)) {
      case MigCmd::kOpenReturnPath:
        if (return_path_open_) {
          report_.Error(kErrRpAlreadyOpen);
          return absl::OkStatus();
        }
        if (!hooks_.open_return_path || !hooks_.open_return_path().ok()) {
          report_.Error(kErrRpOpenFailed);
          return Fail(-1);
        }
        return_path_open_ = true;
        return absl::OkStatus();
      case MigCmd::kPing: {
        const uint32_t value = f_.GetBe32();
        if (!return_path_open_) {
          report_.Error(absl::StrFormat(kErrPingNoReturnPath, value));
          return Fail(-1);
        }
        if (hooks_.ping) {
          hooks_.ping(value);
        }
        return absl::OkStatus();
      }
      case MigCmd::kPostcopyAdvise: {
        const int old = postcopy_state_;
        postcopy_state_ = kPostcopyAdvise;
        if (old != kPostcopyNone) {
          report_.Error(absl::StrFormat(kErrAdviseWrongState, old));
          return Fail(-1);
        }
        // migemu has no postcopy-ram: a 0-byte advise (dirty-bitmaps only) is accepted.
        if (len == 0) {
          return absl::OkStatus();
        }
        report_.Error(len == 16 ? std::string(kErrAdviseDisabled16)
                                : absl::StrFormat(kErrAdviseLength, len));
        return Fail(-EINVAL);
      }
      case MigCmd::kPostcopyListen: {
        const int old = postcopy_state_;
        postcopy_state_ = kPostcopyListening;
        if (old != kPostcopyAdvise && old != kPostcopyDiscard) {
          report_.Error(absl::StrFormat(kErrListenWrongState, old));
          return Fail(-1);
        }
        return Unsupported(args.name);
      }
      case MigCmd::kPostcopyRun:
        if (postcopy_state_ != kPostcopyListening) {
          report_.Error(absl::StrFormat(kErrRunWrongState, postcopy_state_));
          return Fail(-1);
        }
        return Unsupported(args.name);
      case MigCmd::kPostcopyRamDiscard:
        if (postcopy_state_ != kPostcopyAdvise && postcopy_state_ != kPostcopyDiscard) {
          report_.Error(absl::StrFormat(kErrDiscardWrongState, postcopy_state_));
          return Fail(-1);
        }
        return Unsupported(args.name);
      case MigCmd::kPackaged:
        f_.GetBe32();
        report_.Error(kErrPackagedUnsupported);
        return Fail(-ENOTSUP);
      case MigCmd::kEnableColo:
        return Unsupported("ENABLE_COLO");
      case MigCmd::kPostcopyResume:
        // Only meaningful in postcopy-recover state, which a migemu destination never is.
        report_.Error(kErrIllegalResume);
        return absl::OkStatus();
      case MigCmd::kRecvBitmap: {
        std::string block;
        const size_t cnt = f_.GetCountedString(&block);
        if (cnt == 0) {
          report_.Error(kErrRecvBitmapName);
          return Fail(-EINVAL);
        }
        if (f_.error() != 0) {
          return Fail(f_.error());
        }
        if (len != cnt + 1) {
          report_.Error(absl::StrFormat(kErrRecvBitmapLength, len));
          return Fail(-EINVAL);
        }
        return Unsupported(args.name);
      }
      case MigCmd::kInvalid:
      case MigCmd::kMax:
        break;
    }
    report_.Error(absl::StrFormat(kErrCmdUnknown, cmd, len));
    return Fail(-EINVAL);
  }

  absl::Status Unsupported(absl::string_view what) {
    report_.Error(absl::StrFormat(kErrPostcopyUnsupported, what));
    return Fail(-ENOTSUP);
  }

  QemuFileReader& f_;
  const LoadOptions& options_;
  const LoadHooks& hooks_;
  LoadReport& report_;
  std::vector<Entry> entries_;
  bool return_path_open_ = false;
  int postcopy_state_ = kPostcopyNone;
};

}  // namespace

// ---- Writers -----------------------------------------------------------------------------------

void PutFileHeader(QemuFileWriter& w) {
  w.PutBe32(kFileMagic);
  w.PutBe32(kFileVersion);
}

void PutConfiguration(QemuFileWriter& w, absl::string_view machine) {
  w.PutByte(kVmConfiguration);
  w.PutBe32(static_cast<uint32_t>(machine.size()));
  w.PutBuffer(machine.data(), machine.size());
}

void PutSectionStart(QemuFileWriter& w, const SectionInfo& s) {
  PutSectionHeader(w, kVmSectionStart, s);
}
void PutSectionFull(QemuFileWriter& w, const SectionInfo& s) {
  PutSectionHeader(w, kVmSectionFull, s);
}
void PutSectionPart(QemuFileWriter& w, const SectionInfo& s) {
  PutSectionHeader(w, kVmSectionPart, s);
}
void PutSectionEnd(QemuFileWriter& w, const SectionInfo& s) {
  PutSectionHeader(w, kVmSectionEnd, s);
}

void PutSectionFooter(QemuFileWriter& w, const SectionInfo& s) {
  w.PutByte(kVmSectionFooter);
  w.PutBe32(s.section_id);
}

void PutCommand(QemuFileWriter& w, MigCmd cmd, absl::Span<const uint8_t> data) {
  w.PutByte(kVmCommand);
  w.PutBe16(static_cast<uint16_t>(cmd));
  w.PutBe16(static_cast<uint16_t>(data.size()));
  w.PutBuffer(data.data(), data.size());
}

void PutOpenReturnPath(QemuFileWriter& w) { PutCommand(w, MigCmd::kOpenReturnPath, {}); }

void PutPing(QemuFileWriter& w, uint32_t value) {
  const uint8_t data[4] = {static_cast<uint8_t>(value >> 24), static_cast<uint8_t>(value >> 16),
                           static_cast<uint8_t>(value >> 8), static_cast<uint8_t>(value)};
  PutCommand(w, MigCmd::kPing, data);
}

void PutEof(QemuFileWriter& w) { w.PutByte(kVmEof); }

void PutVmDescription(QemuFileWriter& w, absl::string_view json) {
  w.PutByte(kVmVmDescription);
  w.PutBe32(static_cast<uint32_t>(json.size()));
  w.PutBuffer(json.data(), json.size());
}

std::string VmDescriptionJson(absl::Span<const std::string> device_entries) {
  return absl::StrCat("{\"page_size\": ", kTargetPageSize, ", \"devices\": [",
                      absl::StrJoin(device_entries, ", "), "]}");
}

absl::Status PutDeviceStateAndEof(QemuFileWriter& w, const DeviceStateParams& p) {
  if (p.send_globalstate && !IsRunStateName(p.runstate)) {
    return absl::InvalidArgumentError(absl::StrFormat(kErrInvalidParameterValue, p.runstate));
  }
  std::vector<std::string> entries;
  if (p.send_timer) {
    SectionInfo timer{kTimerIdstr, p.timer_section_id, 0, kTimerVersion};
    PutSectionFull(w, timer);
    SaveTimer(w, p.timer);
    PutSectionFooter(w, timer);
    entries.push_back(TimerVmdescEntry());
  }
  if (p.send_globalstate) {
    SectionInfo gs{kGlobalStateIdstr, p.globalstate_section_id, 0, kGlobalStateVersion};
    PutSectionFull(w, gs);
    if (absl::Status s = SaveGlobalState(w, p.runstate); !s.ok()) {
      return s;
    }
    PutSectionFooter(w, gs);
    entries.push_back(GlobalStateVmdescEntry());
  }
  PutEof(w);
  if (p.send_vmdesc) {
    PutVmDescription(w, VmDescriptionJson(entries));
  }
  return w.status();
}

// ---- Loader ------------------------------------------------------------------------------------

absl::Status LoadVmState(QemuFileReader& f, absl::Span<SectionHandler* const> handlers,
                         const LoadOptions& options, const LoadHooks& hooks, LoadReport* report) {
  LoadReport local;
  LoadReport& rep = report != nullptr ? *report : local;
  const size_t first_line = rep.lines().size();
  Loader loader(f, handlers, options, hooks, rep);
  absl::Status ret = loader.Run();
  if (ret.ok()) {
    return ret;
  }
  const int err = LoadErrno(ret);
  // The most specific cause: the first line QEMU printed for this failure, else (a cut or
  // broken stream prints nothing before the final line) what the stream said.
  std::string message;
  if (rep.lines().size() > first_line) {
    message = rep.lines()[first_line];
  } else if (f.error() != 0 && !f.status().ok()) {
    message = std::string(f.status().message());
  } else {
    message = util::StrError(-err);
  }
  rep.Error(absl::StrFormat(kErrLoadFailed, util::StrError(-err)));
  return LoadFailure(err, message);
}

absl::Span<const char* const> MigrationCapabilityNames() { return kCapabilityNames; }

}  // namespace migemu::migration
