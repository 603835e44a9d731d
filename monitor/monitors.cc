#include "monitor/monitors.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_replace.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/time.h>

#include <utility>

#include "io/fd_channel.h"
#include "io/socket_channel.h"
#include "monitor/json_writer.h"
#include "qapi/qapi-visit-control.h"
#include "util/check.h"
#include "util/unique_fd.h"

namespace migemu::monitor {

namespace {

// A fresh open file description of stdin/stdout, so that O_NONBLOCK and friends on the monitor
// never leak into the descriptors the rest of the process (and the shell) share.
absl::StatusOr<std::unique_ptr<io::Channel>> ReopenStdio(int fd, int flags, const char* name) {
  util::UniqueFd copy(::open(absl::StrCat("/proc/self/fd/", fd).c_str(), flags | O_CLOEXEC));
  if (!copy.valid()) {
    copy.Reset(::fcntl(fd, F_DUPFD_CLOEXEC, 3));
  }
  if (!copy.valid()) {
    return absl::InternalError(absl::StrCat("cannot open ", name, " for the monitor"));
  }
  absl::StatusOr<std::unique_ptr<io::FdChannel>> ch = io::FdChannel::Create(std::move(copy), name);
  if (!ch.ok()) {
    return ch.status();
  }
  return std::unique_ptr<io::Channel>(std::move(*ch));
}

// "7.2.0": the QEMU version in the HMP banner (QEMU_VERSION).
std::string QemuVersionString(const qapi::VersionInfo& v) {
  return absl::StrCat(v.qemu.major, ".", v.qemu.minor, ".", v.qemu.micro);
}

}  // namespace

MonitorSet::MonitorSet(util::EventLoop& loop, const qapi::CommandRegistry& registry,
                       qapi::VersionInfo version)
    : loop_(loop), registry_(registry), version_(std::move(version)) {}

MonitorSet::~MonitorSet() { Close(); }

std::string MonitorSet::Greeting(bool offer_oob) const {
  rapidjson::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  rapidjson::Value qmp(rapidjson::kObjectType);
  rapidjson::Value version;
  qapi::ToJson(version_, &version, a);
  qmp.AddMember("version", version, a);
  rapidjson::Value caps(rapidjson::kArrayType);
  if (offer_oob) {
    caps.PushBack(rapidjson::Value("oob", a), a);
  }
  qmp.AddMember("capabilities", caps, a);
  d.AddMember("QMP", qmp, a);
  return FormatQmpJson(d);
}

absl::Status MonitorSet::AddQmp(absl::string_view spec) {
  auto m = std::make_unique<QmpMonitor>();
  m->spec = std::string(spec);
  if (spec == "stdio") {
    if (absl::Status s = ClaimStdio(); !s.ok()) {
      return s;
    }
    m->stdio = true;
    absl::StatusOr<std::unique_ptr<io::Channel>> in = ReopenStdio(0, O_RDONLY, "stdin");
    if (!in.ok()) {
      return in.status();
    }
    absl::StatusOr<std::unique_ptr<io::Channel>> out = ReopenStdio(1, O_WRONLY, "stdout");
    if (!out.ok()) {
      return out.status();
    }
    QmpMonitor& ref = *m;
    qmp_.push_back(std::move(m));
    StartSession(ref, std::move(*in), std::move(*out));
    return absl::OkStatus();
  }
  if (spec == "none") {
    return absl::OkStatus();
  }
  absl::StatusOr<io::ChardevSocket> cs = io::ParseChardevSocket(spec);
  if (!cs.ok()) {
    return cs.status();
  }
  // QEMU offers out-of-band execution on socket monitors (they run in the I/O thread).
  m->offer_oob = true;
  if (!cs->server) {
    absl::StatusOr<std::unique_ptr<io::SocketChannel>> ch = io::SocketChannel::Connect(cs->addr);
    if (!ch.ok()) {
      return ch.status();
    }
    QmpMonitor& ref = *m;
    qmp_.push_back(std::move(m));
    StartSession(ref, std::move(*ch), nullptr);
    return absl::OkStatus();
  }
  absl::StatusOr<std::unique_ptr<io::Listener>> l = io::Listener::Listen(cs->addr, 1);
  if (!l.ok()) {
    return l.status();
  }
  m->listener = std::move(*l);
  QmpMonitor* raw = m.get();
  qmp_.push_back(std::move(m));
  if (cs->wait) {
    fprintf(stderr, "migemu: -qmp %s: info: QEMU waiting for connection on: disconnected:%s\n",
            std::string(spec).c_str(), std::string(spec).c_str());
    absl::StatusOr<std::unique_ptr<io::SocketChannel>> first = raw->listener->AcceptBlocking();
    if (!first.ok()) {
      return first.status();
    }
    StartSession(*raw, std::move(*first), nullptr);
    return absl::OkStatus();
  }
  raw->listener->Watch(loop_, [this, raw](absl::StatusOr<std::unique_ptr<io::SocketChannel>> ch) {
    if (!ch.ok() || raw->session != nullptr) {
      return;
    }
    StartSession(*raw, std::move(*ch), nullptr);
  });
  return absl::OkStatus();
}

absl::Status MonitorSet::ClaimStdio() {
  if (stdio_used_) {
    return absl::FailedPreconditionError("cannot use stdio by multiple character devices");
  }
  stdio_used_ = true;
  return absl::OkStatus();
}

absl::Status MonitorSet::AddHmp(absl::string_view spec) {
  MIG_CHECK(hmp_ != nullptr, "MonitorSet::AddHmp before SetHmp");
  if (spec == "none") {
    return absl::OkStatus();
  }
  if (spec == "stdio") {
    if (absl::Status s = ClaimStdio(); !s.ok()) {
      return s;
    }
    absl::StatusOr<std::unique_ptr<HmpShell>> shell =
        HmpShell::Create(loop_, *hmp_, QemuVersionString(version_));
    if (!shell.ok()) {
      return shell.status();
    }
    hmp_shell_ = std::move(*shell);
    return absl::OkStatus();
  }
  absl::StatusOr<io::ChardevSocket> cs = io::ParseChardevSocket(spec);
  if (!cs.ok()) {
    return cs.status();
  }
  auto m = std::make_unique<HmpSocketMonitor>();
  m->spec = std::string(spec);
  m->monitor = std::make_unique<HmpMonitor>(loop_, *hmp_, QemuVersionString(version_));
  HmpSocketMonitor* raw = m.get();
  if (!cs->server) {
    absl::StatusOr<std::unique_ptr<io::SocketChannel>> ch = io::SocketChannel::Connect(cs->addr);
    if (!ch.ok()) {
      return ch.status();
    }
    hmp_sockets_.push_back(std::move(m));
    AttachHmp(*raw, std::move(*ch));
    return absl::OkStatus();
  }
  absl::StatusOr<std::unique_ptr<io::Listener>> l = io::Listener::Listen(cs->addr, 1);
  if (!l.ok()) {
    return l.status();
  }
  m->listener = std::move(*l);
  hmp_sockets_.push_back(std::move(m));
  if (cs->wait) {
    fprintf(stderr, "migemu: -monitor %s: info: QEMU waiting for connection on: disconnected:%s\n",
            std::string(spec).c_str(), std::string(spec).c_str());
    absl::StatusOr<std::unique_ptr<io::SocketChannel>> first = raw->listener->AcceptBlocking();
    if (!first.ok()) {
      return first.status();
    }
    AttachHmp(*raw, std::move(*first));
    return absl::OkStatus();
  }
  WatchHmp(*raw);
  return absl::OkStatus();
}

void MonitorSet::WatchHmp(HmpSocketMonitor& m) {
  HmpSocketMonitor* raw = &m;
  raw->listener->Watch(loop_, [this, raw](absl::StatusOr<std::unique_ptr<io::SocketChannel>> ch) {
    if (!ch.ok() || raw->monitor->connected()) {
      return;
    }
    AttachHmp(*raw, std::move(*ch));
  });
}

void MonitorSet::AttachHmp(HmpSocketMonitor& m, std::unique_ptr<io::Channel> ch) {
  // One client at a time: stop accepting until this one leaves.
  if (m.listener != nullptr) {
    m.listener->StopWatching();
  }
  HmpSocketMonitor* raw = &m;
  m.monitor->Attach(std::move(ch), nullptr, [this, raw] {
    if (raw->listener != nullptr) {
      WatchHmp(*raw);
    }
  });
}

void MonitorSet::StartSession(QmpMonitor& m, std::unique_ptr<io::Channel> in,
                              std::unique_ptr<io::Channel> out) {
  // One client at a time: stop accepting until this one leaves.
  if (m.listener != nullptr) {
    m.listener->StopWatching();
  }
  QmpMonitor* raw = &m;
  QmpSession::Env env{registry_, Greeting(m.offer_oob), m.offer_oob, [this, raw](QmpSession* s) {
                        current_ = s;
                        current_monitor_ = s != nullptr ? raw : nullptr;
                      }};
  m.session = std::make_unique<QmpSession>(std::move(env), loop_, std::move(in), std::move(out),
                                           [this, raw] { OnSessionClosed(raw); });
  m.session->Start(/*nonblocking=*/!m.stdio);
}

void MonitorSet::OnSessionClosed(QmpMonitor* m) {
  // Destroy the session outside its own callback, then accept the next client.
  loop_.Post([this, m] {
    m->session.reset();
    if (m->listener != nullptr) {
      m->listener->Watch(loop_, [this, m](absl::StatusOr<std::unique_ptr<io::SocketChannel>> ch) {
        if (!ch.ok() || m->session != nullptr) {
          return;
        }
        StartSession(*m, std::move(*ch), nullptr);
      });
    }
  });
}

absl::Status MonitorSet::GetFd(const std::string& name) {
  if (current_ == nullptr || current_monitor_ == nullptr) {
    return absl::FailedPreconditionError("No file descriptor supplied via SCM_RIGHTS");
  }
  // qmp_getfd(): the descriptor comes first, the name check second (the fd is closed then).
  util::UniqueFd fd = current_->TakeMsgFd();
  if (!fd.valid()) {
    return absl::InvalidArgumentError("No file descriptor supplied via SCM_RIGHTS");
  }
  if (!name.empty() && name[0] >= '0' && name[0] <= '9') {
    return absl::InvalidArgumentError(
        "Parameter 'fdname' expects a name not starting with a digit");
  }
  current_monitor_->fds[name] = std::move(fd);
  return absl::OkStatus();
}

absl::Status MonitorSet::CloseFd(const std::string& name) {
  if (current_monitor_ == nullptr || current_monitor_->fds.erase(name) == 0) {
    return absl::NotFoundError(absl::StrCat("File descriptor named '", name, "' not found"));
  }
  return absl::OkStatus();
}

absl::StatusOr<util::UniqueFd> MonitorSet::TakeFd(absl::string_view name) {
  // monitor_get_fd(): the caller takes the descriptor; the monitor forgets it.
  if (current_monitor_ != nullptr) {
    auto it = current_monitor_->fds.find(std::string(name));
    if (it != current_monitor_->fds.end()) {
      util::UniqueFd fd = std::move(it->second);
      current_monitor_->fds.erase(it);
      return fd;
    }
  }
  return absl::NotFoundError(absl::StrCat("File descriptor named '", name, "' has not been found"));
}

void MonitorSet::EmitEvent(absl::string_view name, std::unique_ptr<rapidjson::Document> data) {
  // monitor_qapi_event_emit(): the timestamp is taken when the event happens.
  timeval tv;
  ::gettimeofday(&tv, nullptr);
  rapidjson::Document ev(rapidjson::kObjectType);
  auto& a = ev.GetAllocator();
  rapidjson::Value ts(rapidjson::kObjectType);
  ts.AddMember("seconds", rapidjson::Value(static_cast<int64_t>(tv.tv_sec)), a);
  ts.AddMember("microseconds", rapidjson::Value(static_cast<int64_t>(tv.tv_usec)), a);
  ev.AddMember("timestamp", ts, a);
  ev.AddMember("event",
               rapidjson::Value(name.data(), static_cast<rapidjson::SizeType>(name.size()), a), a);
  if (data != nullptr) {
    ev.AddMember("data", rapidjson::Value(*data, a), a);
  }
  std::string line = FormatQmpJson(ev);
  // An event a command causes (STOP, RESUME) goes out before the command's response, as in
  // QEMU; events from worker threads reach the clients through the loop.
  if (loop_.IsLoopThread()) {
    Broadcast(line);
    return;
  }
  loop_.Post([this, line = std::move(line)] { Broadcast(line); });
}

void MonitorSet::Broadcast(const std::string& line) {
  for (auto& m : qmp_) {
    if (m->session != nullptr && m->session->negotiated() && !m->session->closed()) {
      m->session->SendLine(line);
    }
  }
}

void MonitorSet::Close() {
  // Pending synchronous migrates first: they point at the HMP monitors.
  if (hmp_ != nullptr) {
    hmp_->Shutdown();
  }
  hmp_shell_.reset();  // restores the terminal
  for (auto& m : hmp_sockets_) {
    m->monitor->Close();
    if (m->listener != nullptr) {
      m->listener->StopWatching();
      m->listener->Close().IgnoreError();
    }
  }
  hmp_sockets_.clear();
  for (auto& m : qmp_) {
    m->session.reset();
    if (m->listener != nullptr) {
      m->listener->StopWatching();
      m->listener->Close().IgnoreError();
    }
  }
  qmp_.clear();
}

}  // namespace migemu::monitor
