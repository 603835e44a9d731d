// File: monitor/hmp_monitor.h
//
// HmpMonitor: one `-monitor` chardev served over a socket (QEMU's MonitorHMP with readline on
// a socket chardev). It outlives its clients: the line editor's history and a suspension (a
// synchronous `migrate` in progress) carry over when a client leaves and the next one
// connects, as in QEMU. On connect the client gets the banner and the prompt; input is taken
// one byte at a time and not at all while the monitor is suspended (monitor_can_read()).
//
//   HmpMonitor mon(loop, commands, "7.2.0");
//   mon.Attach(std::move(socket), nullptr, [&] { /* accept the next client */ });
//
// Ownership: owns the current client's Connection. `loop` and `commands` must outlive it.
// Thread-safety: main loop thread only.
#ifndef MIGEMU_MONITOR_HMP_MONITOR_H_
#define MIGEMU_MONITOR_HMP_MONITOR_H_

#include <absl/strings/string_view.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "io/channel.h"
#include "monitor/connection.h"
#include "monitor/hmp_commands.h"
#include "monitor/hmp_line_editor.h"
#include "monitor/hmp_terminal.h"
#include "util/event_loop.h"

namespace migemu::monitor {

class HmpMonitor final : public HmpTerminal {
 public:
  // `qemu_version` goes into the banner ("7.2.0").
  HmpMonitor(util::EventLoop& loop, HmpCommands& commands, std::string qemu_version);
  ~HmpMonitor() override;
  HmpMonitor(const HmpMonitor&) = delete;
  HmpMonitor& operator=(const HmpMonitor&) = delete;

  // Attach: a client connected (CHR_EVENT_OPENED): banner, prompt, then its input is served.
  // `out` may be null (a socket writes where it reads). `on_closed` runs (from the loop, after
  // the client is gone) when the client disconnects.
  void Attach(std::unique_ptr<io::Channel> in, std::unique_ptr<io::Channel> out,
              std::function<void()> on_closed);
  bool connected() const { return connection_ != nullptr && !connection_->closed(); }
  // Close: drop the client, if any (no callback).
  void Close();

  // HmpTerminal
  void Print(absl::string_view text) override;
  bool Suspend() override;
  void Resume() override;
  std::vector<std::string> History() const override { return editor_.History(); }

 private:
  void OnData(absl::string_view bytes);
  void ProcessInput();
  void OnLine(const std::string& line);
  void UpdateReading();

  util::EventLoop& loop_;
  HmpCommands& commands_;
  const std::string version_;
  HmpLineEditor editor_;
  std::unique_ptr<Connection> connection_;
  std::function<void()> on_closed_;
  std::string input_;      // received, not yet handed to the editor
  size_t input_pos_ = 0;   // next byte of input_ to hand over
  int suspend_count_ = 0;  // monitor_suspend() depth
  bool processing_ = false;
  // Lets posted closures notice that the monitor is gone.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // shared: posted closures
};

}  // namespace migemu::monitor

#endif  // MIGEMU_MONITOR_HMP_MONITOR_H_
