#include "monitor/hmp_monitor.h"

#include <absl/strings/str_cat.h>

#include <utility>

#include "monitor/errors.h"

namespace migemu::monitor {

HmpMonitor::HmpMonitor(util::EventLoop& loop, HmpCommands& commands, std::string qemu_version)
    : loop_(loop),
      commands_(commands),
      version_(std::move(qemu_version)),
      editor_(HmpLineEditor::Callbacks{
                  [this](absl::string_view text) { Print(text); },
                  [this](const std::string& line) { OnLine(line); },
                  [this](absl::string_view line) { return commands_.Complete(line); },
              },
              std::string(kHmpPrompt)) {}

HmpMonitor::~HmpMonitor() {
  *alive_ = false;
  commands_.Detach(*this);
  Close();
}

void HmpMonitor::Attach(std::unique_ptr<io::Channel> in, std::unique_ptr<io::Channel> out,
                        std::function<void()> on_closed) {
  Close();
  on_closed_ = std::move(on_closed);
  Connection::Callbacks cb;
  cb.on_data = [this](absl::string_view bytes) { OnData(bytes); };
  std::weak_ptr<bool> alive = alive_;
  cb.on_closed = [this, alive] {
    // Connection is inside its own callback: let go of it from the loop.
    loop_.Post([this, alive] {
      if (alive.expired() || !*alive.lock()) {
        return;
      }
      connection_.reset();
      input_.clear();
      input_pos_ = 0;
      if (on_closed_) {
        std::function<void()> done = std::move(on_closed_);
        on_closed_ = nullptr;
        done();
      }
    });
  };
  connection_ = std::make_unique<Connection>(loop_, std::move(in), std::move(out), std::move(cb));
  connection_->Start(/*nonblocking=*/true);
  // CHR_EVENT_OPENED: the banner and a fresh prompt, even while suspended.
  Print(absl::StrCat(HmpBanner(version_), "\n"));
  editor_.Restart();
  editor_.ShowPrompt();
  UpdateReading();
}

void HmpMonitor::Close() {
  if (connection_ != nullptr) {
    connection_->Close();
    connection_.reset();
  }
  input_.clear();
  input_pos_ = 0;
}

void HmpMonitor::Print(absl::string_view text) {
  if (connected()) {
    connection_->Write(ToMonitorText(text));
  }
}

bool HmpMonitor::Suspend() {
  ++suspend_count_;
  UpdateReading();
  return true;
}

void HmpMonitor::Resume() {
  if (suspend_count_ == 0) {
    return;
  }
  if (--suspend_count_ == 0) {
    editor_.ShowPrompt();
    // monitor_accept_input(): continue with what the client typed meanwhile, from the loop.
    std::weak_ptr<bool> alive = alive_;
    loop_.Post([this, alive] {
      if (!alive.expired() && *alive.lock()) {
        ProcessInput();
      }
    });
  }
  UpdateReading();
}

// Read from the client only while the bytes read so far have been used (monitor_can_read()).
void HmpMonitor::UpdateReading() {
  if (connected()) {
    connection_->SuspendInput(suspend_count_ > 0 || input_pos_ < input_.size());
  }
}

void HmpMonitor::OnData(absl::string_view bytes) {
  input_.append(bytes.data(), bytes.size());
  ProcessInput();
}

void HmpMonitor::ProcessInput() {
  if (processing_) {
    return;  // a command resumed the monitor from inside the loop below
  }
  processing_ = true;
  while (input_pos_ < input_.size() && suspend_count_ == 0 && connected()) {
    editor_.HandleByte(static_cast<unsigned char>(input_[input_pos_++]));
  }
  if (input_pos_ >= input_.size()) {
    input_.clear();
    input_pos_ = 0;
  }
  processing_ = false;
  UpdateReading();
}

// monitor_command_cb(): the command runs with the monitor suspended; resuming shows the prompt.
void HmpMonitor::OnLine(const std::string& line) {
  Suspend();
  commands_.Execute(*this, line);
  Resume();
}

}  // namespace migemu::monitor
