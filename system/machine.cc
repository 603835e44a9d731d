#include "system/machine.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>
#include <absl/strings/str_split.h>
#include <gnutls/crypto.h>
#include <signal.h>
#include <stdio.h>

#include <algorithm>
#include <utility>

#include "io/tls_channel.h"
#include "migemu_config.h"
#include "migration/fault_points.h"
#include "qapi/qapi-commands-control.h"
#include "qapi/qapi-commands-introspect.h"
#include "qapi/qapi-commands-migration.h"
#include "qapi/qapi-events-run-state.h"
#include "qapi/runtime.h"
#include "system/tls_objects.h"
#include "util/fault.h"

namespace migemu::system {

namespace {

// QEMU prefixes an option's error with the option ("-qmp SPEC: ..."), on every line.
absl::Status Prefixed(absl::string_view option, absl::string_view value, const absl::Status& s) {
  std::string out;
  for (absl::string_view line : absl::StrSplit(s.message(), '\n')) {
    absl::StrAppend(&out, out.empty() ? "" : "\n", "-", option, " ", value, ": ", line);
  }
  return absl::Status(s.code(), out);
}

std::string Hex(const unsigned char* p, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    absl::StrAppendFormat(&out, "%02x", p[i]);
  }
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Machine>> Machine::Create(const MachineConfig& config) {
  std::unique_ptr<Machine> m(new Machine());  // NOLINT: private constructor
  absl::Status s = m->Init(config);
  if (!s.ok()) {
    return s;
  }
  return m;
}

absl::Status Machine::Init(const MachineConfig& config) {
  absl::StatusOr<std::unique_ptr<util::EventLoop>> loop = util::EventLoop::Create();
  if (!loop.ok()) {
    return loop.status();
  }
  loop_ = std::move(*loop);

  qapi::VersionInfo version;
  version.qemu.major = MIGEMU_QEMU_MAJOR;
  version.qemu.minor = MIGEMU_QEMU_MINOR;
  version.qemu.micro = MIGEMU_QEMU_MICRO;
  version.package = absl::StrCat("migemu ", MIGEMU_VERSION);
  monitors_ = std::make_unique<monitor::MonitorSet>(*loop_, registry_, version);

  // Objects first (QEMU creates -object before the machine), then guest RAM.
  for (const MemoryBackendConfig& mb : config.memory_backends) {
    absl::StatusOr<std::unique_ptr<MemoryBackendObject>> obj =
        MemoryBackendObject::Create(mb, config.mem_prealloc);
    if (!obj.ok()) {
      return obj.status();
    }
    absl::Status added = objects_.Add(mb.id, std::move(*obj));
    if (!added.ok()) {
      return added;
    }
  }
  for (const ObjectConfig& oc : config.objects) {
    // TLS credentials are loaded here (QEMU's complete()): load errors carry no option prefix.
    std::unique_ptr<UserObject> obj;
    if (oc.type == "authz-list") {
      absl::StatusOr<std::shared_ptr<const io::AuthzList>> list = AuthzListFromKeyval(oc.props);
      if (!list.ok()) {
        return list.status();
      }
      obj = std::make_unique<AuthzListObject>(std::move(*list));
    } else {
      absl::StatusOr<TlsCredsSpec> spec = TlsCredsSpecFromKeyval(oc.type, oc.props);
      if (!spec.ok()) {
        return spec.status();
      }
      absl::StatusOr<std::unique_ptr<TlsCredsObject>> creds = CreateTlsCredsObject(*spec);
      if (!creds.ok()) {
        return creds.status();
      }
      obj = std::move(*creds);
    }
    if (absl::Status added = objects_.Add(oc.id, std::move(obj)); !added.ok()) {
      return Prefixed("object", oc.spec, added);
    }
  }
  auto memory = std::make_unique<GuestMemory>();
  if (!config.memory_backend.empty()) {
    memory->AddBlock(objects_.FindAs<MemoryBackendObject>(config.memory_backend)->TakeBlock());
  } else if (config.ram_size != 0) {
    // Machine `none` names its RAM block "ram" (mc->default_ram_id).
    absl::StatusOr<std::unique_ptr<RamBlock>> ram =
        RamBlock::CreateAnonymous("ram", config.ram_size, config.mem_prealloc);
    if (!ram.ok()) {
      return ram.status();
    }
    memory->AddBlock(std::move(*ram));
  }
  vm_ = std::make_unique<Vm>(std::move(memory), *monitors_);
  if (config.name.has_value()) {
    vm_->set_name(*config.name);
  }
  if (config.uuid.has_value()) {
    vm_->set_uuid(*config.uuid);
  }
  if (absl::Status w = vm_->workload().Configure(config.workload); !w.ok()) {
    return w;
  }
  if (config.workload.prefill) {
    vm_->workload().Prefill(2);
  }

  migration::MigrationEnv env{*vm_, *loop_, *monitors_, {}, {}};
  // TLS: credentials and authz objects are looked up when a handshake starts (on the migration
  // or handshake thread), as QEMU's migration_tls_get_creds() does at connect time.
  env.tls_wrap = [this](std::unique_ptr<io::Channel> channel,
                        const migration::TlsWrapRequest& request,
                        std::stop_token stop) -> absl::StatusOr<std::unique_ptr<io::Channel>> {
    const io::TlsEndpoint endpoint =
        request.client ? io::TlsEndpoint::kClient : io::TlsEndpoint::kServer;
    absl::StatusOr<std::shared_ptr<const io::TlsCreds>> creds =
        objects_.LookupTlsCreds(request.creds);
    if (!creds.ok()) {
      return creds.status();
    }
    if (absl::Status s = (*creds)->CheckEndpoint(endpoint); !s.ok()) {
      return s;
    }
    io::TlsSessionParams params;
    params.endpoint = endpoint;
    if (request.client) {
      params.hostname = request.hostname.empty() ? request.uri_host : request.hostname;
    } else if (!request.authz.empty()) {
      params.authz = [this, id = request.authz](const std::string& dn) -> absl::StatusOr<bool> {
        absl::StatusOr<std::shared_ptr<const io::AuthzList>> list = objects_.LookupAuthz(id);
        if (!list.ok()) {
          return list.status();
        }
        return (*list)->IsAllowed(dn);
      };
    }
    absl::StatusOr<std::unique_ptr<io::TlsChannel>> tls =
        io::TlsChannel::Handshake(std::move(channel), *std::move(creds), std::move(params), stop);
    if (!tls.ok()) {
      return tls.status();
    }
    return std::unique_ptr<io::Channel>(std::move(*tls));
  };
  // fd:NAME URIs resolve against the monitor whose command names them (monitor_get_fd()).
  env.fd_lookup = [this](absl::string_view name) { return monitors_->TakeFd(name); };
  migration_ = std::make_unique<migration::MigrationManager>(std::move(env), [this](int code) {
    // A failed incoming migration ends the process at once, as QEMU's exit(EXIT_FAILURE).
    exit_code_ = code;
    loop_->Quit();
  });
  control_ = std::make_unique<monitor::ControlCommandsImpl>(*monitors_, registry_, *loop_, [this] {
    RequestShutdown(qapi::ShutdownCause::kHostQmpQuit, 0);
  });
  qapi::RegisterControlCommands(registry_, *control_);
  qapi::RegisterIntrospectCommands(registry_, *control_);
  qapi::RegisterRunStateCommands(registry_, *this);
  qapi::RegisterMiscCommands(registry_, *this);
  qapi::RegisterQomCommands(registry_, *this);
  qapi::RegisterMigrationCommands(registry_, *migration_);
  qapi::RegisterMigemuCommands(registry_, *this);

  // Run state: -incoming waits in `inmigrate`; -S stays in `prelaunch`; else the guest runs.
  if (config.incoming.has_value()) {
    vm_->SetState(qapi::RunState::kInmigrate);
    vm_->set_autostart(!config.start_paused);
    absl::Status in = migration_->StartIncomingFromCommandLine(*config.incoming);
    if (!in.ok()) {
      return Prefixed("incoming", *config.incoming, in);
    }
  } else if (!config.start_paused) {
    vm_->Start();
  }

  // HMP: the same handlers QMP calls, on -monitor chardevs and behind human-monitor-command.
  monitor::HmpBackends backends{*control_, *this, *this, *migration_, {}, {}};
  monitors_->SetHmp(std::make_unique<monitor::HmpCommands>(std::move(backends), *loop_));
  set_hmp([this](const std::string& line) -> absl::StatusOr<std::string> {
    return monitors_->hmp()->Capture(line);
  });
  for (const MonitorOption& option : config.monitors) {
    absl::Status s = config.daemonize && option.spec == "stdio"
                         ? absl::InvalidArgumentError("cannot use stdio with -daemonize")
                     : option.qmp ? monitors_->AddQmp(option.spec)
                                  : monitors_->AddHmp(option.spec);
    if (!s.ok()) {
      return Prefixed(option.qmp ? "qmp" : "monitor", option.spec, s);
    }
  }

  ::signal(SIGPIPE, SIG_IGN);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    loop_->OnSignal(sig, [this, sig] {
      fprintf(stderr, "migemu: terminating on signal %d\n", sig);
      RequestShutdown(qapi::ShutdownCause::kHostSignal, 0);
    });
  }
  return absl::OkStatus();
}

Machine::~Machine() { Teardown(); }

void Machine::RequestShutdown(qapi::ShutdownCause reason, int code) {
  if (shutting_down_) {
    return;
  }
  shutting_down_ = true;
  exit_code_ = code;
  qapi::EmitShutdown(*monitors_, /*guest=*/false, reason);
  // The event is posted; quitting from a later post lets it go out first.
  loop_->Post([this] { loop_->Quit(); });
}

int Machine::Run() {
  loop_->Run();
  Teardown();
  return exit_code_;
}

void Machine::Teardown() {
  if (migration_ != nullptr) {
    migration_->Shutdown();
  }
  if (vm_ != nullptr) {
    vm_->Shutdown();
  }
  if (monitors_ != nullptr) {
    monitors_->Close();
  }
}

// ---- Run state and misc ----------------------------------------------------------------------

absl::StatusOr<qapi::StatusInfo> Machine::QueryStatus() {
  qapi::StatusInfo info;
  info.status = vm_->state();
  info.running = info.status == qapi::RunState::kRunning;
  info.singlestep = false;
  return info;
}

absl::StatusOr<qapi::NameInfo> Machine::QueryName() {
  qapi::NameInfo info;
  if (!vm_->name().empty()) {
    info.name = vm_->name();
  }
  return info;
}

absl::StatusOr<qapi::UuidInfo> Machine::QueryUuid() {
  qapi::UuidInfo info;
  info.UUID = vm_->UuidString();
  return info;
}

absl::Status Machine::Stop() { return vm_->QmpStop(); }

absl::Status Machine::Cont() { return vm_->QmpCont(); }

absl::StatusOr<std::string> Machine::HumanMonitorCommand(const qapi::HumanMonitorCommandArg& arg) {
  if (arg.cpu_index.has_value()) {
    // Machine `none` has no CPUs to select.
    return absl::InvalidArgumentError("Parameter 'cpu-index' expects a CPU number");
  }
  if (!hmp_) {
    return absl::UnavailableError("the human monitor is not available");
  }
  return hmp_(arg.command_line);
}

absl::Status Machine::Getfd(const qapi::GetfdArg& arg) { return monitors_->GetFd(arg.fdname); }

absl::Status Machine::Closefd(const qapi::ClosefdArg& arg) {
  return monitors_->CloseFd(arg.fdname);
}

// ---- Objects -----------------------------------------------------------------------------

absl::Status Machine::ObjectAdd(const qapi::ObjectOptions& arg) {
  if (!ObjectRegistry::IsIdentifier(arg.id)) {
    return absl::InvalidArgumentError("Parameter 'id' expects an identifier");
  }
  if (objects_.Find(arg.id) != nullptr) {
    return absl::AlreadyExistsError(absl::StrCat("attempt to add duplicate property '", arg.id,
                                                 "' to object (type 'container')"));
  }
  switch (arg.qom_type) {
    case qapi::ObjectType::kMemoryBackendRam:
    case qapi::ObjectType::kMemoryBackendFile: {
      MemoryBackendConfig c;
      c.id = arg.id;
      c.type = std::string(qapi::EnumToString(arg.qom_type));
      if (arg.qom_type == qapi::ObjectType::kMemoryBackendRam) {
        const auto& p = arg.u.memory_backend_ram;
        c.size = p.size;
        c.share = p.share.value_or(false);
        c.prealloc = p.prealloc.value_or(false);
      } else {
        const auto& p = arg.u.memory_backend_file;
        c.size = p.size;
        c.share = p.share.value_or(false);
        c.prealloc = p.prealloc.value_or(false);
        c.mem_path = p.mem_path;
      }
      absl::StatusOr<std::unique_ptr<MemoryBackendObject>> obj =
          MemoryBackendObject::Create(c, false);
      if (!obj.ok()) {
        return obj.status();
      }
      return objects_.Add(arg.id, std::move(*obj));
    }
    case qapi::ObjectType::kTlsCredsX509:
    case qapi::ObjectType::kTlsCredsPsk: {
      absl::StatusOr<std::unique_ptr<TlsCredsObject>> obj =
          CreateTlsCredsObject(arg.qom_type == qapi::ObjectType::kTlsCredsX509
                                   ? TlsCredsSpecFromX509(arg.u.tls_creds_x509)
                                   : TlsCredsSpecFromPsk(arg.u.tls_creds_psk));
      if (!obj.ok()) {
        return obj.status();
      }
      return objects_.Add(arg.id, std::move(*obj));
    }
    case qapi::ObjectType::kAuthzList:
      return objects_.Add(arg.id,
                          std::make_unique<AuthzListObject>(AuthzListFromQapi(arg.u.authz_list)));
  }
  return absl::InvalidArgumentError("Invalid parameter 'qom-type'");
}

absl::Status Machine::ObjectDel(const qapi::ObjectDelArg& arg) { return objects_.Del(arg.id); }

// ---- migemu extensions -----------------------------------------------------------------------

absl::StatusOr<qapi::RamDigestInfo> Machine::XQueryRamDigest() {
  qapi::RamDigestInfo info;
  info.algorithm = "sha256";
  gnutls_hash_hd_t whole;
  if (gnutls_hash_init(&whole, GNUTLS_DIG_SHA256) < 0) {
    return absl::InternalError("cannot initialise SHA-256");
  }
  for (const auto& block : vm_->memory().blocks()) {
    unsigned char digest[32];
    if (gnutls_hash_fast(GNUTLS_DIG_SHA256, block->host(), block->used_length(), digest) < 0) {
      gnutls_hash_deinit(whole, nullptr);
      return absl::InternalError("SHA-256 failed");
    }
    gnutls_hash(whole, block->host(), block->used_length());
    qapi::RamBlockDigest d;
    d.name = block->idstr();
    d.size = block->used_length();
    d.digest = Hex(digest, sizeof(digest));
    info.blocks.push_back(std::move(d));
  }
  unsigned char digest[32];
  gnutls_hash_deinit(whole, digest);
  info.digest = Hex(digest, sizeof(digest));
  WorkloadVerifyResult v = Workload::Verify(vm_->memory());
  info.workload_pages = v.workload_pages;
  info.bad_pages = v.bad_pages;
  return info;
}

absl::Status Machine::XSetWorkload(const qapi::XSetWorkloadArg& arg) {
  WorkloadConfig c = vm_->workload().config();
  if (arg.dirty_rate.has_value()) {
    c.dirty_rate = *arg.dirty_rate;
  }
  if (arg.pattern.has_value()) {
    c.pattern = static_cast<WorkloadPattern>(*arg.pattern);
  }
  if (arg.hot_fraction.has_value()) {
    if (!(*arg.hot_fraction > 0 && *arg.hot_fraction <= 1)) {
      return absl::InvalidArgumentError(
          "Parameter 'hot-fraction' expects a number in the range (0, 1]");
    }
    c.hot_fraction = *arg.hot_fraction;
  }
  if (arg.seed.has_value()) {
    c.seed = *arg.seed;
  }
  if (arg.threads.has_value()) {
    if (*arg.threads < 1 || *arg.threads > 64) {
      return absl::InvalidArgumentError(
          "Parameter 'threads' expects an integer in the range of 1 to 64");
    }
    c.threads = static_cast<int>(*arg.threads);
  }
  return vm_->workload().Configure(c);
}

absl::StatusOr<qapi::WorkloadInfo> Machine::XQueryWorkload() {
  const WorkloadConfig c = vm_->workload().config();
  qapi::WorkloadInfo info;
  info.dirty_rate = c.dirty_rate;
  info.pattern = static_cast<qapi::WorkloadPattern>(c.pattern);
  info.hot_fraction = c.hot_fraction;
  info.seed = c.seed;
  info.threads = c.threads;
  info.throttle = vm_->workload().throttle();
  info.pages_written = vm_->workload().Stats().pages_written;
  return info;
}

absl::Status Machine::XInjectFault(const qapi::XInjectFaultArg& arg) {
  if (migration::FindFaultPoint(arg.point) == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("Parameter 'point' expects a fault point name (see x-query-fault-points)"));
  }
  util::FaultSpec spec;
  spec.after = arg.after.value_or(0);
  spec.times = arg.times.value_or(1);
  spec.delay = absl::Milliseconds(static_cast<int64_t>(arg.delay_ms.value_or(0)));
  spec.fail = arg.fail.value_or(true);
  spec.message = arg.message.value_or("");
  util::Faults::Get().Arm(arg.point, spec);
  return absl::OkStatus();
}

absl::Status Machine::XClearFaults() {
  util::Faults::Get().Clear();
  return absl::OkStatus();
}

absl::StatusOr<std::vector<qapi::FaultPoint>> Machine::XQueryFaultPoints() {
  const std::vector<std::string> armed = util::Faults::Get().Armed();
  std::vector<qapi::FaultPoint> out;
  for (const migration::FaultPointInfo& p : migration::FaultPoints()) {
    qapi::FaultPoint f;
    f.name = p.name;
    f.side = p.side == migration::FaultSide::kSource ? qapi::FaultPointSide::kSource
                                                     : qapi::FaultPointSide::kDestination;
    f.description = p.what;
    f.armed = std::find(armed.begin(), armed.end(), f.name) != armed.end();
    f.hits = util::Faults::Get().Hits(f.name);
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace migemu::system
