#include "monitor/hmp_shell.h"

#include <absl/strings/match.h>
#include <absl/strings/str_cat.h>
#include <errno.h>
#include <readline/history.h>
#include <readline/readline.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <utility>

#include "monitor/errors.h"

namespace migemu::monitor {

namespace {

constexpr int kHistoryLimit = 1000;
constexpr int kMaxEofDeliveries = 4;
constexpr char kHistoryFileName[] = ".migemu_history";
// readline wants writable strings for these.
char kWordBreaks[] = " \t";
char kReadlineName[] = "migemu";
char kPrompt[] = "(qemu) ";

}  // namespace

HmpShell* HmpShell::instance_ = nullptr;

HmpShell::HmpShell(util::EventLoop& loop, HmpCommands& commands)
    : loop_(loop), commands_(commands) {}

absl::StatusOr<std::unique_ptr<HmpShell>> HmpShell::Create(util::EventLoop& loop,
                                                           HmpCommands& commands,
                                                           std::string qemu_version) {
  if (instance_ != nullptr) {
    return absl::FailedPreconditionError("cannot use stdio by multiple character devices");
  }
  std::unique_ptr<HmpShell> shell(new HmpShell(loop, commands));  // NOLINT: private constructor
  shell->Start(qemu_version);
  return shell;
}

void HmpShell::Start(const std::string& qemu_version) {
  instance_ = this;
  static_assert(sizeof(kPrompt) == kHmpPrompt.size() + 1);
  rl_readline_name = kReadlineName;
  rl_instream = stdin;
  rl_outstream = stdout;
  // Signals belong to the main loop (SIGINT ends the process as in QEMU), and the
  // environment of the commands migemu runs (exec: migration) stays untouched.
  rl_catch_signals = 0;
  rl_catch_sigwinch = 0;
  rl_change_environment = 0;
  rl_getc_function = &HmpShell::GetC;
  rl_input_available_hook = &HmpShell::InputAvailable;
  rl_attempted_completion_function = &HmpShell::CompleteTrampoline;
  rl_initialize();  // reads ~/.inputrc once; the settings below then take precedence
  rl_completer_word_break_characters = kWordBreaks;
  // QEMU runs each pasted line and lists every completion on the first TAB.
  rl_variable_bind("enable-bracketed-paste", "off");
  rl_variable_bind("show-all-if-ambiguous", "on");
  using_history();
  stifle_history(kHistoryLimit);
  const char* home = getenv("HOME");  // NOLINT(concurrency-mt-unsafe): start-up, one thread
  if (home != nullptr && home[0] != '\0' && access(home, W_OK) == 0) {
    history_file_ = absl::StrCat(home, "/", kHistoryFileName);
    (void)read_history(history_file_->c_str());
  }
  loop_.OnSignal(SIGWINCH, [] {
    if (instance_ != nullptr) {
      rl_resize_terminal();
    }
  });
  Print(absl::StrCat(HmpBanner(qemu_version), "\n"));
  Install();
  // epoll cannot watch regular files or /dev/null; reading those never blocks, so they are
  // read from the loop's queue instead.
  struct stat st;
  const bool pollable =
      fstat(STDIN_FILENO, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) ||
                                        (S_ISCHR(st.st_mode) && isatty(STDIN_FILENO) != 0));
  if (pollable) {
    watch_ = loop_.WatchFd(STDIN_FILENO, util::EventLoop::kRead, [this](int) { OnReadable(); });
  } else {
    read_by_posting_ = true;
    ScheduleRead();
  }
}

void HmpShell::ScheduleRead() {
  if (!read_by_posting_ || read_posted_) {
    return;
  }
  read_posted_ = true;
  std::weak_ptr<bool> alive = alive_;
  loop_.Post([this, alive] {
    if (alive.expired() || !*alive.lock()) {
      return;
    }
    read_posted_ = false;
    if (WantInput()) {
      OnReadable();
    }
  });
}

bool HmpShell::WantInput() const {
  return installed_ && suspend_count_ == 0 && !eof_ && !quitting_ && input_pos_ >= input_.size();
}

void HmpShell::UpdateWatch() {
  if (watch_ != nullptr) {
    watch_->SetEvents(WantInput() ? util::EventLoop::kRead : 0);
  }
  if (WantInput()) {
    ScheduleRead();
  }
}

HmpShell::~HmpShell() {
  *alive_ = false;
  commands_.Detach(*this);
  watch_.reset();
  Uninstall();
  rl_deprep_terminal();  // also after a suspension left it prepared
  fflush(stdout);
  if (instance_ == this) {
    instance_ = nullptr;
  }
}

void HmpShell::Install() {
  if (installed_) {
    return;
  }
  installed_ = true;
  rl_callback_handler_install(kPrompt, &HmpShell::LineTrampoline);
  UpdateWatch();
}

void HmpShell::Uninstall() {
  if (!installed_) {
    return;
  }
  installed_ = false;
  rl_callback_handler_remove();
}

void HmpShell::Print(absl::string_view text) {
  const std::string bytes = ToMonitorText(text);
  fwrite(bytes.data(), 1, bytes.size(), stdout);
  fflush(stdout);
}

bool HmpShell::Suspend() {
  ++suspend_count_;
  if (!in_handler_ && installed_) {
    Uninstall();
    rl_prep_terminal(0);  // keys typed meanwhile are not echoed, as on QEMU's raw terminal
  }
  UpdateWatch();
  return true;
}

void HmpShell::Resume() {
  if (suspend_count_ == 0) {
    return;
  }
  if (--suspend_count_ > 0 || in_handler_ || quitting_) {
    return;
  }
  Install();  // shows the prompt
  std::weak_ptr<bool> alive = alive_;
  loop_.Post([this, alive] {
    if (!alive.expired() && *alive.lock()) {
      Pump();
    }
  });
}

std::vector<std::string> HmpShell::History() const {
  std::vector<std::string> out;
  HIST_ENTRY** list = history_list();
  for (int i = 0; list != nullptr && i < history_length; ++i) {
    out.emplace_back(list[i]->line);
  }
  return out;
}

void HmpShell::AddHistory(const std::string& line) {
  if (line.empty()) {
    return;
  }
  // readline_hist_add(): a line already in the history moves to the end.
  HIST_ENTRY** list = history_list();
  for (int i = 0; list != nullptr && i < history_length; ++i) {
    if (line == list[i]->line) {
      HIST_ENTRY* old = remove_history(i);
      if (old != nullptr) {
        histdata_t data = free_history_entry(old);
        (void)data;
      }
      break;
    }
  }
  add_history(line.c_str());
  if (history_file_.has_value()) {
    (void)write_history(history_file_->c_str());
  }
}

void HmpShell::OnReadable() {
  char buf[4096];
  ssize_t n = ::read(STDIN_FILENO, buf, sizeof(buf));
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
    return;
  }
  if (n <= 0) {
    eof_ = true;
  } else {
    input_.append(buf, static_cast<size_t>(n));
  }
  Pump();
}

// Hands buffered input to readline one key at a time while the prompt is up.
void HmpShell::Pump() {
  if (pumping_) {
    return;
  }
  pumping_ = true;
  while (installed_ && suspend_count_ == 0 && !quitting_) {
    if (input_pos_ < input_.size()) {
      rl_callback_read_char();
      continue;
    }
    if (eof_ && eof_deliveries_ < kMaxEofDeliveries) {
      // GetC reports EOF: readline finishes a pending line, then passes NULL.
      ++eof_deliveries_;
      rl_callback_read_char();
      continue;
    }
    break;
  }
  if (input_pos_ >= input_.size()) {
    input_.clear();
    input_pos_ = 0;
  }
  pumping_ = false;
  if (eof_ && installed_ && suspend_count_ == 0 && !quitting_) {
    OnLine(nullptr);  // readline did not turn EOF into a NULL line (e.g. mid-search)
  }
  UpdateWatch();
}

void HmpShell::OnLine(char* raw) {
  if (raw == nullptr) {
    // EOF: Ctrl-D on an empty line, or the end of piped input. The shell's prompt goes on a
    // line of its own, then `quit`.
    Uninstall();
    quitting_ = true;
    if (isatty(STDOUT_FILENO) != 0) {
      Print("\n");
    }
    commands_.Execute(*this, "quit");
    return;
  }
  std::string line(raw);
  free(raw);  // NOLINT(cppcoreguidelines-no-malloc): readline allocates with malloc
  AddHistory(line);
  in_handler_ = true;
  ++suspend_count_;
  commands_.Execute(*this, line);
  --suspend_count_;
  in_handler_ = false;
  if (suspend_count_ > 0) {
    // The command holds the monitor (sync migrate, quit): no prompt until Resume().
    Uninstall();
    rl_prep_terminal(0);
    UpdateWatch();
  }
}

int HmpShell::GetC(FILE* stream) {
  (void)stream;
  HmpShell* self = instance_;
  if (self != nullptr && self->input_pos_ < self->input_.size()) {
    return static_cast<unsigned char>(self->input_[self->input_pos_++]);
  }
  if (self == nullptr || self->eof_) {
    return EOF;
  }
  // readline wants more of a key sequence than has arrived: wait for it, as rl_getc() does.
  for (;;) {
    unsigned char c;
    ssize_t n = ::read(STDIN_FILENO, &c, 1);
    if (n == 1) {
      return c;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    self->eof_ = true;
    return EOF;
  }
}

int HmpShell::InputAvailable() {
  HmpShell* self = instance_;
  return self != nullptr && self->input_pos_ < self->input_.size() ? 1 : 0;
}

void HmpShell::LineTrampoline(char* line) {
  if (instance_ != nullptr) {
    instance_->OnLine(line);
  } else {
    free(line);  // NOLINT(cppcoreguidelines-no-malloc)
  }
}

char** HmpShell::CompleteTrampoline(const char* text, int start, int end) {
  (void)start;
  rl_attempted_completion_over = 1;  // never fall back to file names
  HmpShell* self = instance_;
  if (self == nullptr) {
    return nullptr;
  }
  const std::string before(rl_line_buffer, static_cast<size_t>(end));
  HmpCompletion c = self->commands_.Complete(before);
  self->completions_.clear();
  for (std::string& candidate : c.candidates) {
    if (absl::StartsWith(candidate, text)) {
      self->completions_.push_back(std::move(candidate));
    }
  }
  if (self->completions_.empty()) {
    return nullptr;
  }
  return rl_completion_matches(text, &HmpShell::CompletionGenerator);
}

char* HmpShell::CompletionGenerator(const char* text, int state) {
  (void)text;
  static size_t next = 0;
  if (state == 0) {
    next = 0;
  }
  HmpShell* self = instance_;
  if (self == nullptr || next >= self->completions_.size()) {
    return nullptr;
  }
  return strdup(self->completions_[next++].c_str());
}

}  // namespace migemu::monitor
