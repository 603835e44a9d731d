// File: monitor/connection.h
//
// One connected monitor client (QEMU's chardev frontend as the monitor sees it): non-blocking
// reads delivered to a callback, writes buffered and drained when the descriptor is writable,
// and a close notification. Used by QMP and HMP sessions alike.
//
// Ownership: owns its channel(s). Callbacks may destroy the Connection only through the owner's
// deferred path (the owner posts its own destruction); Connection never touches `this` after a
// callback that reported closure.
// Thread-safety: main loop thread only.
#ifndef MIGEMU_MONITOR_CONNECTION_H_
#define MIGEMU_MONITOR_CONNECTION_H_

#include <absl/strings/string_view.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "io/channel.h"
#include "util/event_loop.h"
#include "util/unique_fd.h"

namespace migemu::monitor {

class Connection final {
 public:
  struct Callbacks {
    std::function<void(absl::string_view)> on_data;
    std::function<void()> on_closed;  // EOF or an I/O error; called once
    // Descriptors that arrived with data (SCM_RIGHTS on a Unix socket), before on_data.
    std::function<void(std::vector<util::UniqueFd>)> on_fds;
  };
  // `in` is read; output goes to `out`, or to `in` when `out` is null (sockets).
  Connection(util::EventLoop& loop, std::unique_ptr<io::Channel> in,
             std::unique_ptr<io::Channel> out, Callbacks callbacks);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Start: begin reading. `nonblocking` switches the descriptors to O_NONBLOCK (sockets); stdio
  // stays blocking, because O_NONBLOCK on a terminal also affects stdout and stderr (the shell
  // shares one open file between them); a poll-ready blocking read does not block.
  void Start(bool nonblocking = true);
  // Write: queues `bytes` and writes what the descriptor takes now.
  void Write(absl::string_view bytes);
  // SuspendInput: stop/resume reading (HMP's monitor_suspend while `migrate` waits).
  void SuspendInput(bool suspended);
  bool closed() const { return closed_; }
  // Close: stop everything now (no callback).
  void Close();

 private:
  void OnReadable();
  void OnWritable();
  void Flush();
  void Fail();
  void UpdateWatches();

  util::EventLoop& loop_;
  std::unique_ptr<io::Channel> in_;
  std::unique_ptr<io::Channel> out_owned_;
  io::Channel* out_;
  Callbacks callbacks_;
  std::string pending_;
  bool closed_ = false;
  bool suspended_ = false;
  bool in_pollable_ = true;  // false: `in` is a file or /dev/null, read from posted tasks
  bool read_posted_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // shared: posted closures
  std::unique_ptr<util::FdWatch> read_watch_;
  std::unique_ptr<util::FdWatch> write_watch_;
};

}  // namespace migemu::monitor

#endif  // MIGEMU_MONITOR_CONNECTION_H_
