// File: monitor/monitors.h
//
// MonitorSet: every monitor of the process (each -qmp and each -monitor option), the HMP
// command set they share with human-monitor-command, and the QMP event sink. A socket monitor
// serves one client at a time and accepts the next after a disconnect, as QEMU's socket
// chardev does; events go to every QMP client that finished capabilities negotiation, with
// QEMU's `timestamp`. stdio can be used by one monitor only.
//
//   MonitorSet monitors(loop, registry, version);
//   monitors.SetHmp(std::make_unique<HmpCommands>(backends, loop));
//   MIG_RETURN_IF_ERROR(monitors.AddQmp("unix:/tmp/q.sock,server=on,wait=off"));
//   MIG_RETURN_IF_ERROR(monitors.AddHmp("stdio"));
//   qapi::EmitStop(monitors);  // from any thread
//
// Ownership: owns listeners, sessions, HMP monitors and the HMP command set. `loop` and
// `registry` must outlive it.
// Thread-safety: EmitEvent is thread-safe; everything else runs on the loop thread.
#ifndef MIGEMU_MONITOR_MONITORS_H_
#define MIGEMU_MONITOR_MONITORS_H_

#include <absl/status/status.h>
#include <absl/strings/string_view.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/listener.h"
#include "io/socket_address.h"
#include "monitor/hmp_commands.h"
#include "monitor/hmp_monitor.h"
#include "monitor/hmp_shell.h"
#include "monitor/qmp_session.h"
#include "qapi/command_registry.h"
#include "qapi/event_sink.h"
#include "qapi/qapi-types-control.h"
#include "util/event_loop.h"

namespace migemu::monitor {

class MonitorSet final : public qapi::EventSink {
 public:
  MonitorSet(util::EventLoop& loop, const qapi::CommandRegistry& registry,
             qapi::VersionInfo version);
  ~MonitorSet() override;
  MonitorSet(const MonitorSet&) = delete;
  MonitorSet& operator=(const MonitorSet&) = delete;

  // AddQmp: a -qmp chardev: "unix:PATH,server=on[,wait=off]", "tcp:HOST:PORT,server=on...",
  // a client socket (server=off), or "stdio". With wait=on (QEMU's default for server=on) it
  // blocks until the first client connects. Errors: QEMU's chardev texts.
  absl::Status AddQmp(absl::string_view spec);

  // SetHmp: the HMP command set (before AddHmp; human-monitor-command uses it too).
  void SetHmp(std::unique_ptr<HmpCommands> hmp) { hmp_ = std::move(hmp); }
  HmpCommands* hmp() const { return hmp_.get(); }

  // AddHmp: a -monitor chardev: "stdio" (the readline shell), "none", or a socket as for
  // AddQmp (banner, prompt and QEMU's line editor on the wire). Errors: QEMU's chardev texts.
  absl::Status AddHmp(absl::string_view spec);

  // The session whose command is being dispatched (QEMU's cur_mon), or null.
  QmpSession* current() const { return current_; }

  // getfd / closefd on the current QMP monitor, with QEMU's texts.
  absl::Status GetFd(const std::string& name);
  absl::Status CloseFd(const std::string& name);
  // TakeFd: hands over (and forgets) the current monitor's descriptor `name`; used for fd:NAME
  // migration URIs during the command that names them.
  absl::StatusOr<util::UniqueFd> TakeFd(absl::string_view name);

  // qapi::EventSink: thread-safe.
  void EmitEvent(absl::string_view name, std::unique_ptr<rapidjson::Document> data) override;

  // Close: disconnect every client and stop listening (process exit).
  void Close();

  // The formatted greeting (for tests and the HMP banner's version).
  const qapi::VersionInfo& version() const { return version_; }

 private:
  struct HmpSocketMonitor {
    std::string spec;
    std::unique_ptr<io::Listener> listener;
    std::unique_ptr<HmpMonitor> monitor;
  };
  struct QmpMonitor {
    std::string spec;
    std::unique_ptr<io::Listener> listener;  // server mode
    std::unique_ptr<QmpSession> session;     // the connected client, if any
    bool offer_oob = false;
    bool stdio = false;
    // Descriptors kept with getfd; they belong to the monitor, not to one client connection.
    std::map<std::string, util::UniqueFd> fds;
  };
  void StartSession(QmpMonitor& m, std::unique_ptr<io::Channel> in,
                    std::unique_ptr<io::Channel> out);
  absl::Status ClaimStdio();
  void AttachHmp(HmpSocketMonitor& m, std::unique_ptr<io::Channel> ch);
  void WatchHmp(HmpSocketMonitor& m);
  void OnSessionClosed(QmpMonitor* m);
  void Broadcast(const std::string& line);
  std::string Greeting(bool offer_oob) const;

  util::EventLoop& loop_;
  const qapi::CommandRegistry& registry_;
  const qapi::VersionInfo version_;
  std::vector<std::unique_ptr<QmpMonitor>> qmp_;
  QmpSession* current_ = nullptr;
  QmpMonitor* current_monitor_ = nullptr;
  std::unique_ptr<HmpCommands> hmp_;
  std::vector<std::unique_ptr<HmpSocketMonitor>> hmp_sockets_;
  std::unique_ptr<HmpShell> hmp_shell_;
  bool stdio_used_ = false;
};

}  // namespace migemu::monitor

#endif  // MIGEMU_MONITOR_MONITORS_H_
