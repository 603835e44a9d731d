// migemu: entry point. Parses the QEMU-style command line and runs the emulated machine.
#include <absl/strings/str_split.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <string>

#include "system/command_line.h"
#include "system/machine.h"
#include "system/machine_config.h"

namespace {

std::string ProgramName(const char* argv0) {
  const char* slash = strrchr(argv0, '/');
  return slash != nullptr ? slash + 1 : argv0;
}

// error_report(): every line of a message gets the program-name prefix.
void ReportError(const std::string& prog, absl::string_view message) {
  for (absl::string_view line : absl::StrSplit(message, '\n')) {
    fprintf(stderr, "%s: %s\n", prog.c_str(), std::string(line).c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string prog = ProgramName(argc > 0 ? argv[0] : "migemu");
  absl::StatusOr<migemu::system::CommandLine> cl = migemu::system::ParseCommandLine(argc, argv);
  if (!cl.ok()) {
    ReportError(prog, cl.status().message());
    return 1;
  }
  if (cl->Has("h")) {
    fputs(migemu::system::HelpText(prog).c_str(), stdout);
    return 0;
  }
  if (cl->Has("version")) {
    fputs(migemu::system::VersionText().c_str(), stdout);
    return 0;
  }
  migemu::system::EarlyExit early = migemu::system::EarlyExit::kNone;
  absl::StatusOr<migemu::system::MachineConfig> config =
      migemu::system::ParseMachineConfig(*cl, &early);
  if (!config.ok()) {
    ReportError(prog, config.status().message());
    return 1;
  }
  if (early == migemu::system::EarlyExit::kMachineHelp) {
    fputs(migemu::system::MachineHelpText().c_str(), stdout);
    return 0;
  }
  if (early == migemu::system::EarlyExit::kObjectHelp) {
    fputs(migemu::system::ObjectHelpText().c_str(), stdout);
    return 0;
  }

  // -daemonize: the parent waits until the child is ready (monitors listening), then exits.
  int ready_fd = -1;
  if (config->daemonize) {
    int fds[2];
    if (::pipe(fds) != 0) {
      ReportError(prog, "cannot create the daemonize pipe");
      return 1;
    }
    pid_t pid = ::fork();
    if (pid < 0) {
      ReportError(prog, "cannot fork");
      return 1;
    }
    if (pid > 0) {
      ::close(fds[1]);
      char status = 1;
      ssize_t n = ::read(fds[0], &status, 1);
      return n == 1 ? status : 1;
    }
    ::close(fds[0]);
    ::setsid();
    ready_fd = fds[1];
  }
  if (config->pidfile.has_value()) {
    FILE* f = fopen(config->pidfile->c_str(), "w");
    if (f == nullptr) {
      ReportError(prog, "cannot create PID file: " + std::string(strerror(errno)));
      return 1;
    }
    fprintf(f, "%d\n", static_cast<int>(::getpid()));
    fclose(f);
  }

  absl::StatusOr<std::unique_ptr<migemu::system::Machine>> machine =
      migemu::system::Machine::Create(*config);
  if (!machine.ok()) {
    ReportError(prog, machine.status().message());
    if (ready_fd >= 0) {
      char status = 1;
      (void)!::write(ready_fd, &status, 1);
    }
    return 1;
  }
  if (ready_fd >= 0) {
    char status = 0;
    (void)!::write(ready_fd, &status, 1);
    ::close(ready_fd);
    int null_fd = ::open("/dev/null", O_RDWR);
    if (null_fd >= 0) {
      ::dup2(null_fd, 0);
      ::dup2(null_fd, 1);
      ::dup2(null_fd, 2);
      ::close(null_fd);
    }
  }
  int code = (*machine)->Run();
  machine->reset();
  if (config->pidfile.has_value()) {
    ::unlink(config->pidfile->c_str());
  }
  return code;
}
