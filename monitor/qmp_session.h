// File: monitor/qmp_session.h
//
// One QMP client connection (QEMU's MonitorQMP while a client is attached): the greeting,
// capabilities negotiation, the streaming JSON input, request validation and dispatch with
// QEMU 7.2's exact texts and error classes (qapi/qmp-dispatch.c, monitor/qmp.c), `id` echo,
// and event delivery once negotiated.
//
// Ownership: created and owned by its QmpMonitor. Thread-safety: main loop thread only.
#ifndef MIGEMU_MONITOR_QMP_SESSION_H_
#define MIGEMU_MONITOR_QMP_SESSION_H_

#include <absl/strings/string_view.h>
#include <rapidjson/document.h>

#include <functional>
#include <memory>
#include <string>

#include "monitor/connection.h"
#include "monitor/json_parser.h"
#include "qapi/command_registry.h"

namespace migemu::monitor {

class QmpSession final {
 public:
  struct Env {
    const qapi::CommandRegistry& registry;
    std::string greeting;  // formatted greeting line (without line end)
    bool offer_oob;
    // Called around each dispatch so control commands know the current session.
    std::function<void(QmpSession*)> set_current;
  };

  // `on_closed` runs when the client went away; the owner then destroys the session (not from
  // inside the callback: it posts the destruction). `out` may be null (a socket).
  QmpSession(Env env, util::EventLoop& loop, std::unique_ptr<io::Channel> in,
             std::unique_ptr<io::Channel> out, std::function<void()> on_closed);
  ~QmpSession();
  QmpSession(const QmpSession&) = delete;
  QmpSession& operator=(const QmpSession&) = delete;

  // Start: begin reading and send the greeting. `nonblocking`: see Connection::Start.
  void Start(bool nonblocking);
  bool negotiated() const { return command_mode_; }
  bool oob_enabled() const { return oob_enabled_; }
  bool oob_offered() const { return env_.offer_oob; }
  // EnterCommandMode: qmp_capabilities succeeded (with or without oob).
  void EnterCommandMode(bool oob) {
    command_mode_ = true;
    oob_enabled_ = oob;
  }
  // SendLine: writes one formatted JSON line (adds QEMU's "\r\n").
  void SendLine(absl::string_view json);
  bool closed() const { return connection_->closed(); }
  // TakeMsgFd: the descriptor received most recently (qemu_chr_fe_get_msgfd), or an invalid
  // one.
  util::UniqueFd TakeMsgFd();

 private:
  void OnData(absl::string_view bytes);
  void Handle(const JsonStreamParser::Result& value);
  void Respond(rapidjson::Document& response);

  Env env_;
  std::unique_ptr<Connection> connection_;
  JsonStreamParser parser_;
  bool command_mode_ = false;
  bool oob_enabled_ = false;
  util::UniqueFd msgfd_;
};

}  // namespace migemu::monitor

#endif  // MIGEMU_MONITOR_QMP_SESSION_H_
