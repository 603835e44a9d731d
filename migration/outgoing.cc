#include "migration/outgoing.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>
#include <absl/time/clock.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <utility>

#include "io/exec_channel.h"
#include "io/fd_channel.h"
#include "io/socket_channel.h"
#include "migration/block_section.h"
#include "migration/device_state.h"
#include "migration/fault_points.h"
#include "migration/savevm.h"
#include "migration/stream_format.h"
#include "migration/tls.h"
#include "qapi/qapi-events-migration.h"
#include "util/fault.h"
#include "util/status_macros.h"

namespace migemu::migration {

namespace {

using MS = qapi::MigrationStatus;
using Cap = qapi::MigrationCapability;

constexpr int64_t kBufferDelayMs = 100;  // BUFFER_DELAY: the rate-limit window
constexpr int64_t kXferLimitRatio = 1000 / kBufferDelayMs;

// The section ids QEMU 7.2 uses for machine `none` (a destination maps ids itself, but staying
// byte-compatible with QEMU's own streams makes captures comparable).
const SectionInfo kRamSection{kRamIdstr, kQemuSectionIdRam, 0, kRamVersion};

std::string HostOf(const io::MigrationUri& uri) {
  if (const auto* sock = std::get_if<io::SocketAddress>(&uri)) {
    if (const auto* inet = std::get_if<io::InetSocketAddress>(sock)) {
      return inet->host;
    }
  }
  return "";
}

}  // namespace

OutgoingMigration::OutgoingMigration(MigrationEnv& env, MigrationOptions& options,
                                     MigrationOptions::Snapshot snapshot, SourceState& state,
                                     io::MigrationUri target, std::function<void()> on_finished)
    : env_(env),
      options_(options),
      snap_(std::move(snapshot)),
      state_(state),
      target_(std::move(target)),
      on_finished_(std::move(on_finished)) {}

OutgoingMigration::~OutgoingMigration() {
  Cancel();
  Join();
}

void OutgoingMigration::Start() {
  thread_ = std::jthread([this](std::stop_token stop) { Run(stop); });
}

void OutgoingMigration::Join() {
  if (thread_.joinable()) {
    thread_.join();
  }
  if (rp_thread_.joinable()) {
    rp_thread_.join();
  }
}

void OutgoingMigration::ShutdownChannels() {
  absl::MutexLock lock(&channel_mu_);
  cancelled_ = true;
  if (channel_ != nullptr) {
    channel_->Shutdown(io::ShutdownDirection::kBoth).IgnoreError();
  }
  if (multifd_ != nullptr) {
    multifd_->Shutdown();
  }
}

absl::Status OutgoingMigration::StartMultifd(std::stop_token stop) {
  const auto* sock = std::get_if<io::SocketAddress>(&target_);
  if (sock == nullptr) {
    return absl::FailedPreconditionError("multifd is not supported by current protocol");
  }
  MultifdConfig config;
  config.channels = snap_.params.multifd_channels;
  config.compression = snap_.params.multifd_compression;
  config.zlib_level = snap_.params.multifd_zlib_level;
  config.zstd_level = snap_.params.multifd_zstd_level;
  config.zero_copy = snap_.Enabled(Cap::kZeroCopySend);
  // Each channel connects to the same address, on its own thread (the connect is aborted by
  // the sender's stop token on cancel, and by the migration's own stop request).
  MultifdSender::Connector connect =
      [this, sock, config,
       stop](std::stop_token sender_stop) -> absl::StatusOr<std::unique_ptr<io::Channel>> {
    std::stop_source both;
    std::stop_callback a(stop, [&both] { both.request_stop(); });
    std::stop_callback b(sender_stop, [&both] { both.request_stop(); });
    MIG_ASSIGN_OR_RETURN(std::unique_ptr<io::SocketChannel> sc,
                         io::SocketChannel::Connect(*sock, both.get_token(), &env_.fd_lookup));
    sc->SetNoDelay(true).IgnoreError();
    if (config.zero_copy) {
      MIG_RETURN_IF_ERROR(sc->EnableZeroCopy());
    }
    std::unique_ptr<io::Channel> ch = std::move(sc);
    if (!snap_.params.tls_creds.empty()) {
      // Each multifd channel runs its own handshake (multifd_tls_channel_connect()), on its
      // own thread; a cancel shuts its socket down through the stop token.
      MIG_ASSIGN_OR_RETURN(ch,
                           MigrationTlsWrap(env_, snap_.params, std::move(ch),
                                            /*client=*/true, HostOf(target_), both.get_token()));
    }
    return ch;
  };
  auto sender =
      std::make_unique<MultifdSender>(config, std::move(connect), state_.counters, *writer_);
  MultifdSender* raw = sender.get();
  {
    absl::MutexLock lock(&channel_mu_);
    multifd_ = std::move(sender);
    if (cancelled_) {
      multifd_->Shutdown();
    }
  }
  return raw->Start();
}

void OutgoingMigration::Cancel() {
  // migrate_fd_cancel(): move any running state to cancelling (kicking a pause first).
  while (true) {
    MS old = state_.status.Get();
    if (!IsRunning(old)) {
      break;
    }
    if (old == MS::kPreSwitchover) {
      pause_sem_.release();
    }
    if (state_.status.SetState(old, MS::kCancelling)) {
      break;
    }
  }
  thread_.request_stop();
  if (state_.status.Get() == MS::kCancelling || !thread_.joinable()) {
    ShutdownChannels();
  }
}

void OutgoingMigration::Continue() { pause_sem_.release(); }

void OutgoingMigration::Fail(const absl::Status& error) {
  state_.SetError(error);
  MS s = state_.status.Get();
  if (s != MS::kFailed && s != MS::kCancelling && s != MS::kCancelled) {
    state_.status.SetState(s, MS::kFailed);
  }
}

absl::Status OutgoingMigration::Connect(std::stop_token stop) {
  MIG_RETURN_IF_ERROR(MIG_FAULT_POINT(kFaultSendConnect));
  std::unique_ptr<io::Channel> ch;
  if (const auto* sock = std::get_if<io::SocketAddress>(&target_)) {
    MIG_ASSIGN_OR_RETURN(std::unique_ptr<io::SocketChannel> sc,
                         io::SocketChannel::Connect(*sock, stop, &env_.fd_lookup));
    if (snap_.Enabled(Cap::kZeroCopySend)) {
      // QEMU probes SO_ZEROCOPY on every socket it connects and refuses a zero-copy
      // migration whose main socket lacks it (socket_outgoing_migration()).
      if (!sc->EnableZeroCopy().ok()) {
        return absl::FailedPreconditionError("Zero copy send feature not detected in host kernel");
      }
    }
    ch = std::move(sc);
  } else if (const auto* exec = std::get_if<io::ExecUri>(&target_)) {
    MIG_ASSIGN_OR_RETURN(ch, io::ExecChannel::Spawn(exec->command));
  } else {
    ch = std::move(preopened_);  // fd: URIs are opened by the migrate command
  }
  if (!snap_.params.tls_creds.empty()) {
    // migration_tls_channel_connect(): TLS over whatever transport the URI named. The
    // handshake runs here, on the migration thread; migrate_cancel stops it through `stop`.
    MIG_ASSIGN_OR_RETURN(ch, MigrationTlsWrap(env_, snap_.params, std::move(ch), /*client=*/true,
                                              HostOf(target_), stop));
  }
  absl::MutexLock lock(&channel_mu_);
  channel_ = std::move(ch);
  ch_ = channel_.get();
  if (cancelled_) {
    channel_->Shutdown(io::ShutdownDirection::kBoth).IgnoreError();
  }
  return absl::OkStatus();
}

void OutgoingMigration::Run(std::stop_token stop) noexcept {
  absl::Status s = Connect(stop);
  if (!s.ok()) {
    // A cancel during connect ends as cancelled (cleanup), not failed.
    if (state_.status.Get() != MS::kCancelling) {
      Fail(s);
    }
    IterationFinish();
    return;
  }
  writer_ = std::make_unique<QemuFileWriter>(*ch_);
  writer_->SetRateLimit(static_cast<int64_t>(options_.max_bandwidth() / kXferLimitRatio));
  RamSaver::Hooks hooks;
  hooks.vm_running = [this] { return env_.vm.running(); };
  hooks.on_pass = [this](uint64_t pass) {
    if (snap_.Enabled(Cap::kEvents)) {
      qapi::EmitMigrationPass(env_.events, static_cast<int64_t>(pass));
    }
  };
  hooks.throttle_trigger_threshold = [this] {
    return static_cast<uint64_t>(
        options_.QueryParameters().throttle_trigger_threshold.value_or(50));
  };
  if (snap_.Enabled(Cap::kAutoConverge)) {
    hooks.throttle = [this](uint64_t dirty, uint64_t threshold) { Throttle(dirty, threshold); };
  }
  if (snap_.Enabled(Cap::kMultifd)) {
    s = StartMultifd(stop);
    if (!s.ok()) {
      Fail(s);
      IterationFinish();
      return;
    }
  }
  ram_ = std::make_unique<RamSaver>(env_.vm.memory(), state_.counters, *writer_, multifd_.get(),
                                    std::move(hooks));
  if (snap_.Enabled(Cap::kReturnPath)) {
    StartReturnPath();
  }
  s = Setup();
  if (!s.ok()) {
    Fail(s);
    IterationFinish();
    return;
  }
  Loop(stop);
  IterationFinish();
}

absl::Status OutgoingMigration::Setup() {
  const int64_t setup_start = NowMs();
  iteration_start_ms_ = setup_start;
  iteration_initial_bytes_ = 0;
  iteration_initial_pages_ = 0;
  PutFileHeader(*writer_);
  PutConfiguration(*writer_, "none");
  MIG_RETURN_IF_ERROR(MIG_FAULT_POINT(kFaultSendSetup));
  if (snap_.Enabled(Cap::kReturnPath)) {
    PutOpenReturnPath(*writer_);
    PutPing(*writer_, 1);
  }
  if (snap_.Enabled(Cap::kPostcopyRam)) {
    // qemu_savevm_send_postcopy_advise(): host and target page sizes.
    uint8_t data[16];
    for (int i = 0; i < 8; ++i) {
      data[i] = static_cast<uint8_t>(system::kPageSize >> (56 - 8 * i));
      data[8 + i] = data[i];
    }
    PutCommand(*writer_, MigCmd::kPostcopyAdvise, absl::MakeConstSpan(data, sizeof(data)));
  }
  if (snap_.Enabled(Cap::kBlock)) {
    PutSectionStart(*writer_, kBlockSection);
    PutBlockSetup(*writer_);
    PutSectionFooter(*writer_, kBlockSection);
  }
  PutSectionStart(*writer_, kRamSection);
  MIG_RETURN_IF_ERROR(ram_->Setup());
  PutSectionFooter(*writer_, kRamSection);
  MIG_RETURN_IF_ERROR(writer_->Flush());
  state_.status.SetState(MS::kSetup, MS::kActive);
  const int64_t setup_time = NowMs() - setup_start;
  state_.UpdateTimes([&](SourceTimes& t) { t.setup_time = setup_time; });
  return absl::OkStatus();
}

void OutgoingMigration::UpdateCounters(int64_t now_ms) {
  // migration_update_counters(): once per window, the bandwidth of the window decides the
  // threshold under which the rest can be sent within downtime-limit.
  if (now_ms < iteration_start_ms_ + kBufferDelayMs) {
    return;
  }
  const uint64_t current_bytes =
      writer_->position() + RamCounters::Get(state_.counters.multifd_bytes);
  const uint64_t transferred = current_bytes - iteration_initial_bytes_;
  const int64_t time_spent = now_ms - iteration_start_ms_;
  const double bandwidth = static_cast<double>(transferred) / static_cast<double>(time_spent);
  threshold_size_ =
      static_cast<uint64_t>(bandwidth * static_cast<double>(options_.downtime_limit_ms()));
  const uint64_t pages = ram_->pages_sent() - iteration_initial_pages_;
  const uint64_t remaining = RamCounters::Get(state_.counters.remaining);
  const bool dirtying = RamCounters::Get(state_.counters.dirty_pages_rate) != 0;
  state_.UpdateTimes([&](SourceTimes& t) {
    t.mbps = (static_cast<double>(transferred) * 8.0 / (static_cast<double>(time_spent) / 1000.0)) /
             1000.0 / 1000.0;
    t.pages_per_second = static_cast<uint64_t>(static_cast<double>(pages) /
                                               (static_cast<double>(time_spent) / 1000.0));
    if (dirtying && transferred > 10000 && bandwidth > 0) {
      t.expected_downtime = static_cast<int64_t>(static_cast<double>(remaining) / bandwidth);
    }
  });
  // qemu_file_reset_rate_limit() + a new budget (max-bandwidth may have changed meanwhile).
  writer_->ResetRateLimit();
  writer_->SetRateLimit(static_cast<int64_t>(options_.max_bandwidth() / kXferLimitRatio));
  iteration_start_ms_ = now_ms;
  iteration_initial_bytes_ = current_bytes;
  iteration_initial_pages_ = ram_->pages_sent();
}

bool OutgoingMigration::RateLimit(std::stop_token stop) {
  // migration_rate_limit(): when the window's budget is used, sleep until the window ends.
  const int64_t now = NowMs();
  bool urgent = false;
  if (writer_->RateLimited()) {
    const int64_t ms = iteration_start_ms_ + kBufferDelayMs - now;
    if (ms > 0) {
      std::mutex m;
      std::condition_variable_any cv;
      std::unique_lock<std::mutex> lock(m);
      // Interruptible by cancel (request_stop).
      urgent = cv.wait_for(lock, stop, std::chrono::milliseconds(ms), [] { return false; });
    }
  }
  UpdateCounters(NowMs());
  return urgent;
}

void OutgoingMigration::Loop(std::stop_token stop) {
  bool urgent = false;
  while (IsActive(state_.status.Get())) {
    if (urgent || !writer_->RateLimited()) {
      const uint64_t pending = ram_->PendingBytes(threshold_size_);
      if (pending != 0 && pending >= threshold_size_) {
        if (snap_.Enabled(Cap::kBlock)) {
          PutSectionPart(*writer_, kBlockSection);
          PutBlockIterate(*writer_);
          PutSectionFooter(*writer_, kBlockSection);
        }
        if (absl::Status fault = MIG_FAULT_POINT(kFaultSendIterate); !fault.ok()) {
          Fail(fault);
          break;
        }
        PutSectionPart(*writer_, kRamSection);
        absl::StatusOr<bool> done = ram_->Iterate();
        if (!done.ok()) {
          Fail(done.status());
          break;
        }
        PutSectionFooter(*writer_, kRamSection);
      } else {
        absl::Status s = Completion();
        if (!s.ok()) {
          Fail(s);
        }
        break;
      }
    }
    // migration_detect_error(): a stream error or a return-path error fails the migration.
    if (writer_->has_error()) {
      Fail(writer_->status());
      break;
    }
    {
      absl::MutexLock lock(&rp_mu_);
      if (rp_error_) {
        Fail(absl::UnavailableError(rp_error_text_));
        break;
      }
    }
    if (stop.stop_requested()) {
      break;
    }
    urgent = RateLimit(stop);
  }
}

absl::Status OutgoingMigration::MaybePause(MS* current_active) {
  if (!snap_.Enabled(Cap::kPauseBeforeSwitchover)) {
    return absl::OkStatus();
  }
  // Eat stale posts (several migrate-continue calls) before waiting.
  while (pause_sem_.try_acquire()) {
  }
  if (state_.status.Get() != MS::kCancelling) {
    state_.status.SetState(*current_active, MS::kPreSwitchover);
    pause_sem_.acquire();
    state_.status.SetState(MS::kPreSwitchover, MS::kDevice);
    *current_active = MS::kDevice;
  }
  if (state_.status.Get() != MS::kDevice) {
    return absl::CancelledError("migration cancelled while paused before switchover");
  }
  return absl::OkStatus();
}

absl::Status OutgoingMigration::Completion() {
  MS current_active = state_.status.Get();
  if (current_active != MS::kActive) {
    return absl::FailedPreconditionError("migration is not active");
  }
  state_.UpdateTimes([](SourceTimes& t) { t.downtime_start = NowMs(); });
  // The run state the destination resumes into (global_state_store) is taken before the stop.
  const qapi::RunState runstate = env_.vm.state();
  vm_was_running_ = env_.vm.running();
  env_.vm.StopForceState(qapi::RunState::kFinishMigrate);
  MIG_RETURN_IF_ERROR(MaybePause(&current_active));
  MIG_RETURN_IF_ERROR(MIG_FAULT_POINT(kFaultSendComplete));
  // qemu_savevm_state_complete_precopy(): the rest of RAM, then the device sections.
  writer_->SetRateLimit(INT64_MAX);
  if (snap_.Enabled(Cap::kBlock)) {
    PutSectionEnd(*writer_, kBlockSection);
    PutBlockComplete(*writer_);
    PutSectionFooter(*writer_, kBlockSection);
  }
  PutSectionEnd(*writer_, kRamSection);
  MIG_RETURN_IF_ERROR(ram_->Complete());
  PutSectionFooter(*writer_, kRamSection);
  DeviceStateParams dev;
  const system::GuestClockState clocks = env_.vm.clock().Snapshot();
  dev.timer.cpu_ticks_offset = clocks.cpu_ticks_offset;
  dev.timer.cpu_clock_offset = clocks.cpu_clock_offset;
  dev.runstate = std::string(qapi::EnumToString(runstate));
  MIG_RETURN_IF_ERROR(PutDeviceStateAndEof(*writer_, dev));
  if (absl::Status fault = MIG_FAULT_POINT(kFaultSendFlush); !fault.ok()) {
    writer_->SetError(fault);
  }
  MIG_RETURN_IF_ERROR(writer_->Flush());
  if (snap_.Enabled(Cap::kReturnPath)) {
    MIG_RETURN_IF_ERROR(AwaitReturnPath());
  }
  if (writer_->has_error()) {
    return writer_->status();
  }
  if (std::holds_alternative<io::ExecUri>(target_)) {
    // Deliberate improvement over QEMU (which closes the command only in cleanup, after
    // `completed`): wait for the command to consume the stream and exit, so that `completed`
    // means e.g. `exec:cat > FILE` has the whole stream in FILE.
    absl::MutexLock lock(&channel_mu_);
    MIG_RETURN_IF_ERROR(channel_->Close());
  }
  if (!state_.status.SetState(current_active, MS::kCompleted)) {
    return absl::CancelledError("migration cancelled");
  }
  return absl::OkStatus();
}

void OutgoingMigration::IterationFinish() {
  // cpu_throttle_stop()
  env_.vm.workload().SetThrottle(0);
  state_.UpdateTimes([](SourceTimes& t) { t.cpu_throttle_percentage.reset(); });
  switch (state_.status.Get()) {
    case MS::kCompleted: {
      // migration_calculate_complete()
      const int64_t end = NowMs();
      const uint64_t bytes =
          (writer_ ? writer_->position() : 0) + RamCounters::Get(state_.counters.multifd_bytes);
      state_.UpdateTimes([&](SourceTimes& t) {
        t.total_time = end - t.start_time_ms;
        t.downtime = end - t.downtime_start;
        const int64_t transfer_time = t.total_time - t.setup_time;
        if (transfer_time > 0) {
          t.mbps = static_cast<double>(bytes) * 8.0 / static_cast<double>(transfer_time) / 1000;
        }
      });
      state_.counters.remaining.store(0, std::memory_order_relaxed);
      env_.vm.SetState(qapi::RunState::kPostmigrate);
      break;
    }
    case MS::kFailed:
    case MS::kCancelled:
    case MS::kCancelling:
      if (vm_was_running_) {
        if (env_.vm.state() != qapi::RunState::kShutdown) {
          env_.vm.Start();
        }
      } else if (env_.vm.state() == qapi::RunState::kFinishMigrate) {
        env_.vm.SetState(qapi::RunState::kPostmigrate);
      }
      break;
    default:
      break;
  }
  // Unblock the return path reader and anything else still waiting on the channel; the
  // multifd sender is shut down and joined here (multifd_save_cleanup), after its last sync.
  std::unique_ptr<MultifdSender> multifd;
  {
    absl::MutexLock lock(&channel_mu_);
    if (channel_ != nullptr) {
      channel_->Shutdown(io::ShutdownDirection::kBoth).IgnoreError();
    }
    multifd = std::move(multifd_);
  }
  multifd.reset();
  env_.loop.Post(on_finished_);
}

void OutgoingMigration::Throttle(uint64_t bytes_dirty_period, uint64_t bytes_dirty_threshold) {
  // mig_throttle_guest_down()
  const Parameters p = snap_.params;
  const qapi::MigrationParameters live = options_.QueryParameters();
  const int initial = live.cpu_throttle_initial.value_or(p.cpu_throttle_initial);
  const int increment = live.cpu_throttle_increment.value_or(p.cpu_throttle_increment);
  const bool tailslow = live.cpu_throttle_tailslow.value_or(p.cpu_throttle_tailslow);
  const int max_pct = live.max_cpu_throttle.value_or(p.max_cpu_throttle);
  if (throttle_pct_ == 0) {
    throttle_pct_ = initial;
  } else {
    int inc = increment;
    if (tailslow) {
      const double cpu_now = 100 - throttle_pct_;
      const double cpu_ideal = cpu_now * (static_cast<double>(bytes_dirty_threshold) /
                                          static_cast<double>(bytes_dirty_period));
      inc = std::min(static_cast<int>(cpu_now - cpu_ideal), increment);
    }
    throttle_pct_ = std::min(throttle_pct_ + inc, max_pct);
  }
  env_.vm.workload().SetThrottle(throttle_pct_);
  const int pct = throttle_pct_;
  state_.UpdateTimes([pct](SourceTimes& t) { t.cpu_throttle_percentage = pct; });
}

// ---- Return path ------------------------------------------------------------------------------

void OutgoingMigration::StartReturnPath() {
  rp_thread_ = std::jthread([this] { ReturnPathMain(); });
}

void OutgoingMigration::ReturnPathMain() noexcept {
  // source_return_path_thread(): messages are be16 type, be16 length, data.
  struct Msg {
    const char* name;
    int len;
  };
  static constexpr Msg kMsgs[] = {{"INVALID", -1},   {"SHUT", 4},          {"PONG", 4},
                                  {"REQ_PAGES", 12}, {"REQ_PAGES_ID", -1}, {"RECV_BITMAP", -1},
                                  {"RESUME_ACK", 4}};
  auto bad = [this](std::string text) {
    absl::MutexLock lock(&rp_mu_);
    rp_error_ = true;
    if (rp_error_text_.empty()) {
      rp_error_text_ = std::move(text);
    }
  };
  while (IsSetupOrActive(state_.status.Get())) {
    uint8_t hdr[4];
    absl::Status s = ch_->ReadAll(hdr, sizeof(hdr));
    if (s.ok()) {
      s = MIG_FAULT_POINT(kFaultSendReturnPath);
    }
    if (!s.ok()) {
      bad(absl::StrCat("RP: ", s.message()));
      return;
    }
    const uint16_t type = static_cast<uint16_t>(hdr[0] << 8 | hdr[1]);
    const uint16_t len = static_cast<uint16_t>(hdr[2] << 8 | hdr[3]);
    if (type >= std::size(kMsgs) || type == 0) {
      bad(absl::StrFormat("RP: Received invalid message 0x%04x length 0x%04x", type, len));
      return;
    }
    if ((kMsgs[type].len != -1 && len != kMsgs[type].len) || len > 512) {
      bad(absl::StrFormat(
          "RP: Received '%s' message (0x%04x) withincorrect length %d expecting %zu",
          kMsgs[type].name, type, len, static_cast<size_t>(kMsgs[type].len)));
      return;
    }
    uint8_t buf[512];
    s = ch_->ReadAll(buf, len);
    if (!s.ok()) {
      bad(absl::StrFormat("RP: Failed reading data for message 0x%04x read %d expected %d", type, 0,
                          len));
      return;
    }
    if (type == 1) {  // SHUT
      const uint32_t sibling =
          uint32_t{buf[0]} << 24 | uint32_t{buf[1]} << 16 | uint32_t{buf[2]} << 8 | buf[3];
      if (sibling != 0) {
        bad(absl::StrFormat("RP: Sibling indicated error %d", sibling));
      }
      absl::MutexLock lock(&rp_mu_);
      rp_shut_ = true;
      return;
    }
    if (type == 2) {  // PONG
      continue;
    }
    // Page requests, bitmaps and resume acks only exist in postcopy, which migemu does not run.
    bad(absl::StrFormat("RP: Received '%s' message (0x%04x) outside postcopy", kMsgs[type].name,
                        type));
    return;
  }
}

absl::Status OutgoingMigration::AwaitReturnPath() {
  // await_return_path_close_on_source(): wait for the destination's SHUT.
  if (rp_thread_.joinable()) {
    rp_thread_.join();
  }
  absl::MutexLock lock(&rp_mu_);
  if (rp_error_) {
    return absl::UnavailableError(rp_error_text_);
  }
  if (!rp_shut_) {
    return absl::UnavailableError("RP: the destination closed the return path without SHUT");
  }
  return absl::OkStatus();
}

}  // namespace migemu::migration
