#include "migration/incoming.h"

#include <absl/strings/str_cat.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "io/exec_channel.h"
#include "io/fd_channel.h"
#include "io/tls_channel.h"
#include "migration/block_section.h"
#include "migration/device_state.h"
#include "migration/fault_points.h"
#include "migration/qemu_file.h"
#include "migration/ram_codec.h"
#include "migration/savevm.h"
#include "migration/section_handler.h"
#include "migration/stream_format.h"
#include "migration/tls.h"
#include "qapi/runtime.h"
#include "util/errno_status.h"
#include "util/fault.h"

namespace migemu::migration {

namespace {

using MS = qapi::MigrationStatus;
using Cap = qapi::MigrationCapability;

constexpr uint32_t kMultifdMagic = 0x11223344;

qapi::SocketAddress ToQapi(const io::SocketAddress& addr) {
  qapi::SocketAddress out;
  if (const auto* inet = std::get_if<io::InetSocketAddress>(&addr)) {
    out.type = qapi::SocketAddressType::kInet;
    out.u.inet.host = inet->host;
    out.u.inet.port = inet->port;
    out.u.inet.numeric = inet->numeric;
    if (inet->to.has_value()) {
      out.u.inet.to = static_cast<uint16_t>(*inet->to);
    }
    out.u.inet.ipv4 = inet->ipv4;
    out.u.inet.ipv6 = inet->ipv6;
    out.u.inet.keep_alive = inet->keep_alive;
    out.u.inet.mptcp = inet->mptcp;
  } else if (const auto* unix_addr = std::get_if<io::UnixSocketAddress>(&addr)) {
    out.type = qapi::SocketAddressType::kUnix;
    out.u.q_unix.path = unix_addr->path;
    out.u.q_unix.abstract = unix_addr->abstract;
    out.u.q_unix.tight = unix_addr->tight;
  } else if (const auto* vsock = std::get_if<io::VsockSocketAddress>(&addr)) {
    out.type = qapi::SocketAddressType::kVsock;
    out.u.vsock.cid = vsock->cid;
    out.u.vsock.port = vsock->port;
  } else {
    out.type = qapi::SocketAddressType::kFd;
    out.u.fd.str = std::get<io::FdSocketAddress>(addr).str;
  }
  return out;
}

}  // namespace

IncomingMigration::IncomingMigration(MigrationEnv& env, MigrationOptions& options,
                                     StatusCell& status, std::function<void(absl::Status)> on_done)
    : env_(env), options_(options), status_(status), on_done_(std::move(on_done)) {}

IncomingMigration::~IncomingMigration() {
  Shutdown();
  handshakes_.clear();  // joins: every handshake was stopped by Shutdown()
  if (load_thread_.joinable()) {
    load_thread_.join();
  }
}

void IncomingMigration::Shutdown() {
  pending_.clear();
  for (const std::unique_ptr<Handshake>& h : handshakes_) {
    h->thread.request_stop();
  }
  if (listener_ != nullptr) {
    listener_->StopWatching();
    listener_->Close().IgnoreError();
  }
  if (multifd_ != nullptr) {
    multifd_->Shutdown();
  }
  absl::MutexLock lock(&mu_);
  shutdown_ = true;
  if (main_ != nullptr) {
    main_->Shutdown(io::ShutdownDirection::kBoth).IgnoreError();
  }
}

std::vector<qapi::SocketAddress> IncomingMigration::SocketAddresses() const { return addresses_; }

absl::Status IncomingMigration::Start(const io::MigrationUri& uri) {
  snap_ = options_.Take();
  if (snap_.Enabled(Cap::kMultifd)) {
    MultifdConfig config;
    config.channels = snap_.params.multifd_channels;
    config.compression = snap_.params.multifd_compression;
    config.zlib_level = snap_.params.multifd_zlib_level;
    config.zstd_level = snap_.params.multifd_zstd_level;
    multifd_ = std::make_unique<MultifdReceiver>(config, env_.vm.memory());
    // A channel error fails the load at once: the loader may be blocked reading a main stream
    // the source can no longer feed (multifd_recv_terminate_threads).
    multifd_->SetErrorCallback([this](const absl::Status&) {
      absl::MutexLock lock(&mu_);
      if (main_ != nullptr) {
        main_->Shutdown(io::ShutdownDirection::kBoth).IgnoreError();
      }
    });
  }
  if (const auto* sock = std::get_if<io::SocketAddress>(&uri)) {
    // The backlog covers the main connection plus every multifd channel.
    int backlog = snap_.Enabled(Cap::kMultifd) ? snap_.params.multifd_channels : 1;
    absl::StatusOr<std::unique_ptr<io::Listener>> l =
        io::Listener::Listen(*sock, backlog, &env_.fd_lookup);
    if (!l.ok()) {
      return l.status();
    }
    listener_ = std::move(*l);
    for (const io::SocketAddress& a : listener_->addresses()) {
      addresses_.push_back(ToQapi(a));
    }
    listener_->Watch(env_.loop, [this](absl::StatusOr<std::unique_ptr<io::SocketChannel>> ch) {
      OnAccept(std::move(ch));
    });
    return absl::OkStatus();
  }
  std::unique_ptr<io::Channel> ch;
  if (const auto* exec = std::get_if<io::ExecUri>(&uri)) {
    absl::StatusOr<std::unique_ptr<io::ExecChannel>> e = io::ExecChannel::Spawn(exec->command);
    if (!e.ok()) {
      return e.status();
    }
    ch = std::move(*e);
  } else {
    const auto& fd = std::get<io::FdUri>(uri);
    absl::StatusOr<std::unique_ptr<io::Channel>> f =
        io::OpenMigrationFd(fd.name, io::UriDirection::kIncoming, &env_.fd_lookup);
    if (!f.ok()) {
      return f.status();
    }
    ch = std::move(*f);
  }
  if (!snap_.params.tls_creds.empty()) {
    StartTlsHandshake(std::move(ch), -1);
    return absl::OkStatus();
  }
  StartLoad(std::move(ch));
  return absl::OkStatus();
}

void IncomingMigration::OnAccept(absl::StatusOr<std::unique_ptr<io::SocketChannel>> accepted) {
  if (!accepted.ok()) {
    return;  // the listener reports transient accept errors; keep listening
  }
  if (absl::Status fault = MIG_FAULT_POINT(kFaultRecvAccept); !fault.ok()) {
    // As a failed accept: the connection is dropped unread and the listener stays.
    fprintf(stderr, "migemu: dropping an incoming migration connection: %s\n",
            std::string(fault.message()).c_str());
    return;
  }
  if (!snap_.params.tls_creds.empty()) {
    const int fd = (*accepted)->fd();
    StartTlsHandshake(std::move(*accepted), fd);
    return;
  }
  io::SocketChannel* raw = accepted->get();
  Pending p;
  p.channel = std::move(*accepted);
  p.watch = env_.loop.WatchFd(raw->fd(), util::EventLoop::kRead,
                              [this, raw](int /*events*/) { Classify(raw); });
  pending_.push_back(std::move(p));
}

void IncomingMigration::Classify(io::SocketChannel* channel) {
  auto it = pending_.begin();
  while (it != pending_.end() && it->channel.get() != channel) {
    ++it;
  }
  if (it == pending_.end()) {
    return;
  }
  uint8_t magic[4];
  ssize_t n = ::recv(channel->fd(), magic, sizeof(magic), MSG_PEEK | MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
    return;
  }
  if (n > 0 && n < 4) {
    return;  // wait for the whole magic
  }
  Pending p = std::move(*it);
  pending_.erase(it);
  p.watch.reset();
  if (n <= 0) {
    return;  // closed before saying anything
  }
  const uint32_t m =
      uint32_t{magic[0]} << 24 | uint32_t{magic[1]} << 16 | uint32_t{magic[2]} << 8 | magic[3];
  const int fd = p.channel->fd();
  Dispatch(std::move(p.channel), m, fd);
}

void IncomingMigration::Dispatch(std::unique_ptr<io::Channel> channel, uint32_t magic,
                                 int socket_fd) {
  if (magic == kMultifdMagic) {
    // Multifd channels go to the receiver, which reads their init packet on its own thread.
    // Without the capability QEMU would fail the migration on such a connection; it is
    // ignored here.
    if (multifd_ != nullptr) {
      multifd_->AddChannel(std::move(channel));
    }
    return;
  }
  bool have_main = false;
  {
    absl::MutexLock lock(&mu_);
    have_main = main_ != nullptr || shutdown_;
  }
  if (have_main) {
    // socket_accept_incoming_migration: "Extra incoming migration connection; ignoring".
    return;
  }
  if (listener_ != nullptr && !snap_.Enabled(Cap::kMultifd)) {
    // All channels are here: stop listening (QEMU closes the listener at this point).
    listener_->StopWatching();
    listener_->Close().IgnoreError();
  }
  main_socket_fd_ = socket_fd;
  StartLoad(std::move(channel));
}

void IncomingMigration::StartTlsHandshake(std::unique_ptr<io::Channel> channel, int socket_fd) {
  // Join the handshakes that ended (their results are already posted).
  handshakes_.erase(
      std::remove_if(handshakes_.begin(), handshakes_.end(),
                     [](const std::unique_ptr<Handshake>& h) { return h->done.load(); }),
      handshakes_.end());
  auto h = std::make_unique<Handshake>();
  std::atomic<bool>* done = &h->done;
  h->thread =
      std::jthread([this, socket_fd, done, ch = std::move(channel)](std::stop_token stop) mutable {
        HandshakeMain(std::move(ch), socket_fd, done, stop);
      });
  handshakes_.push_back(std::move(h));
}

void IncomingMigration::HandshakeMain(std::unique_ptr<io::Channel> channel, int socket_fd,
                                      std::atomic<bool>* done, std::stop_token stop) noexcept {
  absl::StatusOr<std::unique_ptr<io::Channel>> tls = MigrationTlsWrap(
      env_, snap_.params, std::move(channel), /*client=*/false, /*uri_host=*/"", stop);
  uint32_t magic = 0;
  absl::Status s = tls.status();
  if (s.ok()) {
    // The first plaintext bytes say what the connection is (see Classify).
    auto* t = dynamic_cast<io::TlsChannel*>(tls->get());
    uint8_t b[4] = {0, 0, 0, 0};
    absl::StatusOr<size_t> n = t != nullptr ? t->Peek(b, sizeof(b)) : absl::StatusOr<size_t>(0);
    if (!n.ok()) {
      s = n.status();
    } else if (*n < sizeof(b)) {
      s = absl::DataLossError("");  // closed before saying anything (e.g. the client refused
                                    // our certificate): drop it quietly
    }
    magic = uint32_t{b[0]} << 24 | uint32_t{b[1]} << 16 | uint32_t{b[2]} << 8 | b[3];
  }
  if (!s.ok()) {
    if (!stop.stop_requested() && !s.message().empty()) {
      // migration_tls_incoming_handshake(): error_report_err(); the listener stays.
      fprintf(stderr, "migemu: %s\n", std::string(s.message()).c_str());
    }
    done->store(true);
    return;
  }
  auto holder = std::make_shared<std::unique_ptr<io::Channel>>(std::move(*tls));
  std::weak_ptr<int> alive = alive_;
  env_.loop.Post([this, alive, holder, magic, socket_fd] {
    if (!alive.expired()) {
      Dispatch(std::move(*holder), magic, socket_fd);
    }
  });
  done->store(true);
}

void IncomingMigration::StartLoad(std::unique_ptr<io::Channel> channel) {
  {
    absl::MutexLock lock(&mu_);
    main_ = std::move(channel);
    main_raw_ = main_.get();
    if (shutdown_) {
      main_->Shutdown(io::ShutdownDirection::kBoth).IgnoreError();
    }
  }
  status_.SetState(MS::kNone, MS::kActive);
  prefault_thread_ = std::jthread([this](std::stop_token stop) { PrefaultMain(stop); });
  load_thread_ = std::jthread([this] { LoadMain(); });
}

void IncomingMigration::SendReturnPath(uint16_t type, uint32_t value) {
  // QEMU ignores a failed return-path write (migrate_send_rp_message only records it); here
  // it shuts the main channel down instead, so a source waiting for PONG or SHUT sees the
  // failure at once rather than waiting for a message that will never come.
  // migrate_send_rp_message(): be16 type, be16 len, data.
  uint8_t msg[8] = {static_cast<uint8_t>(type >> 8),
                    static_cast<uint8_t>(type),
                    0,
                    4,
                    static_cast<uint8_t>(value >> 24),
                    static_cast<uint8_t>(value >> 16),
                    static_cast<uint8_t>(value >> 8),
                    static_cast<uint8_t>(value)};
  absl::MutexLock lock(&rp_write_mu_);
  absl::Status s = MIG_FAULT_POINT(kFaultRecvReturnPath);
  if (s.ok()) {
    s = main_raw_->WriteAll(msg, sizeof(msg));
  }
  if (!s.ok()) {
    main_raw_->Shutdown(io::ShutdownDirection::kBoth).IgnoreError();
  }
}

void IncomingMigration::PrefaultMain(std::stop_token stop) noexcept {
  // A fresh destination spends most of its receive time in the kernel zeroing pages on first
  // touch (clear_page). Faulting RAM in, in order and in large steps, on another thread lets
  // that zeroing overlap with receiving; a page the load thread reaches first is simply
  // already mapped here (MADV_POPULATE_WRITE never changes contents).
  constexpr size_t kStep = size_t{8} << 20;
  for (const auto& block : env_.vm.memory().blocks()) {
    if (block->populated()) {
      continue;  // preallocated: faulting it in again would only burn CPU
    }
    for (uint64_t off = 0; off < block->used_length(); off += kStep) {
      if (stop.stop_requested()) {
        return;
      }
      const size_t len = std::min<uint64_t>(kStep, block->used_length() - off);
      if (::madvise(block->host() + off, len, MADV_POPULATE_WRITE) != 0) {
        return;  // old kernel or no memory: the load thread faults pages in itself
      }
    }
  }
}

void IncomingMigration::LoadMain() noexcept {
  QemuFileReader reader(*main_raw_);
  RamLoadOptions ram_options;
  ram_options.compress = snap_.Enabled(Cap::kCompress);
  RamLoader ram(env_.vm.memory(), ram_options);
  if (multifd_ != nullptr) {
    // multifd_recv_sync_main() at every RAM EOS.
    ram.SetEosHook([this] { return multifd_->SyncMain(); });
  }
  TimerSection timer;
  GlobalStateSection globalstate;
  BlockLoader block;
  // QEMU's registration order (see LoadVmState): timer, block, ram, globalstate.
  SectionHandler* handlers[] = {&timer, &block, &ram, &globalstate};
  LoadOptions options;
  options.machine = "none";
  options.x_ignore_shared = snap_.Enabled(Cap::kXIgnoreShared);
  LoadHooks hooks;
  hooks.open_return_path = [this]() -> absl::Status {
    return_path_open_ = true;
    return absl::OkStatus();
  };
  hooks.ping = [this](uint32_t value) {
    if (return_path_open_) {
      SendReturnPath(2, value);  // PONG
    }
  };
  LoadReport report;
  absl::Status s = MIG_FAULT_POINT(kFaultRecvLoad);
  if (s.ok()) {
    s = LoadVmState(reader, handlers, options, hooks, &report);
    if (s.ok()) {
      // Everything is in guest RAM, but nothing has been handed to the guest yet.
      s = MIG_FAULT_POINT(kFaultRecvComplete);
    }
  }
  prefault_thread_.request_stop();
  if (!s.ok() && report.empty()) {
    // A failure outside the stream parser (an injected fault): say what it was, then QEMU's
    // closing line.
    report.Error(std::string(s.message()));
    report.Error(absl::StrCat("load of migration failed: ", util::StrError(EIO)));
  }
  absl::Status channel_error;
  if (multifd_ != nullptr) {
    // Loaded (every channel synced at the last EOS) or failed: either way the channels have
    // nothing more to deliver; stop them so a source's teardown is not reported as an error.
    channel_error = multifd_->error();
    multifd_->Shutdown();
  }
  if (s.ok()) {
    if (timer.received()) {
      env_.vm.clock().Restore(
          system::GuestClockState{timer.state().cpu_ticks_offset, timer.state().cpu_clock_offset});
    }
    std::string runstate = globalstate.received() ? globalstate.runstate() : "";
    env_.loop.Post([this, runstate] {
      // process_incoming_migration_bh()
      if (runstate.empty() || runstate == "running") {
        if (env_.vm.autostart()) {
          env_.vm.Start();
        } else {
          env_.vm.SetState(qapi::RunState::kPaused);
        }
      } else {
        std::optional<qapi::RunState> rs = qapi::EnumFromString<qapi::RunState>(runstate);
        if (rs.has_value() && system::Vm::CanTransition(env_.vm.state(), *rs)) {
          env_.vm.SetState(*rs);
        } else {
          env_.vm.SetState(qapi::RunState::kPaused);
        }
      }
      status_.SetState(MS::kActive, MS::kCompleted);
      if (return_path_open_) {
        SendReturnPath(1, 0);  // SHUT: finished OK
      }
      on_done_(absl::OkStatus());
    });
    return;
  }
  // Failure: QEMU's messages (the report ends with "load of migration failed: <strerror>");
  // the owner exits the process.
  std::vector<std::string> lines = report.lines();
  if (lines.empty()) {
    lines.push_back(absl::StrCat("load of migration failed: ", std::strerror(-LoadErrno(s))));
  }
  if (!channel_error.ok() &&
      std::find(lines.begin(), lines.end(), channel_error.message()) == lines.end()) {
    // The multifd channel error is the cause (the main stream was shut down because of it);
    // QEMU prints it from the channel thread before the load fails.
    lines.insert(lines.begin(), std::string(channel_error.message()));
  }
  absl::Status final_status(s.code(), lines.back());
  if (main_socket_fd_ >= 0) {
    // Abortive close: the process exits after a failed load, and the source must hear of it at
    // once. An orderly close after shutdown() leaves the kernel's orphan socket in FIN-WAIT-2
    // advertising a zero window, and a source blocked in sendmsg() would wait for the orphan
    // to time out (tcp_fin_timeout, a minute); with SO_LINGER 0 the close sends a reset.
    const linger abort_on_close{1, 0};
    ::setsockopt(main_socket_fd_, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof(abort_on_close));
  }
  if (return_path_open_) {
    SendReturnPath(1, 1);
  }
  env_.loop.Post([this, lines, final_status] {
    for (const std::string& line : lines) {
      fprintf(stderr, "migemu: %s\n", line.c_str());
    }
    status_.SetState(MS::kActive, MS::kFailed);
    on_done_(final_status);
  });
}

}  // namespace migemu::migration
