// File: monitor/hmp_terminal.h
//
// HmpTerminal: what an HMP command sees of the monitor it runs on (QEMU's Monitor as the HMP
// handlers use it): printing, suspending input (monitor_suspend/monitor_resume, which `quit`
// and a synchronous `migrate` use), and the line history (`info history`). Implemented by the
// socket monitor (HmpMonitor), the stdio shell (HmpShell) and human-monitor-command's capture.
//
// Thread-safety: main loop thread only.
#ifndef MIGEMU_MONITOR_HMP_TERMINAL_H_
#define MIGEMU_MONITOR_HMP_TERMINAL_H_

#include <absl/strings/string_view.h>

#include <string>
#include <vector>

namespace migemu::monitor {

class HmpTerminal {
 public:
  virtual ~HmpTerminal() = default;

  // Print: monitor_printf(): `text` uses '\n' line ends; the terminal sends "\r\n" (QEMU's
  // monitor output buffer inserts the '\r').
  virtual void Print(absl::string_view text) = 0;
  // Suspend: monitor_suspend(): no prompt and no input until the matching Resume(). Returns
  // false when the terminal cannot be suspended (not interactive: human-monitor-command).
  virtual bool Suspend() = 0;
  // Resume: monitor_resume(): when the last suspension ends, the prompt comes back and input
  // is read again.
  virtual void Resume() = 0;
  // History: the command lines entered so far, oldest first (empty when not interactive).
  virtual std::vector<std::string> History() const = 0;
};

// ToMonitorText: the bytes a monitor sends for `text`: every '\n' becomes "\r\n".
std::string ToMonitorText(absl::string_view text);

}  // namespace migemu::monitor

#endif  // MIGEMU_MONITOR_HMP_TERMINAL_H_
