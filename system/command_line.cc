#include "system/command_line.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_split.h>

#include "migemu_config.h"

namespace migemu::system {

std::vector<std::string> CommandLine::All(absl::string_view name) const {
  std::vector<std::string> out;
  for (const OptionArg& o : options) {
    if (o.name == name) {
      out.push_back(o.value);
    }
  }
  return out;
}

const std::string* CommandLine::Last(absl::string_view name) const {
  const std::string* last = nullptr;
  for (const OptionArg& o : options) {
    if (o.name == name) {
      last = &o.value;
    }
  }
  return last;
}

bool CommandLine::Has(absl::string_view name) const { return Last(name) != nullptr; }

const std::vector<OptionSpec>& SupportedOptions() {
  static const std::vector<OptionSpec> kOptions = {
      {"h", false, "-h or -help", "display this help and exit"},
      {"help", false, "", ""},
      {"version", false, "-version", "display version information and exit"},
      {"machine", true, "-machine [type=]name[,prop[=value][,...]]",
       "selects emulated machine (only 'none' exists)\n"
       "memory-backend='backend-id' specifies explicitly provided backend for main RAM "
       "(default=none)"},
      {"M", true, "", ""},
      {"m", true, "-m [size=]megs", "configure guest RAM\nsize: initial amount of guest memory"},
      {"mem-prealloc", false, "-mem-prealloc", "preallocate guest memory"},
      {"name", true, "-name string1[,process=string2][,debug-threads=on|off]",
       "set the name of the guest"},
      {"uuid", true, "-uuid %08x-%04x-%04x-%04x-%012x", "specify machine UUID"},
      {"object", true, "-object TYPENAME[,PROP1=VALUE1,...]",
       "create a new object of type TYPENAME setting properties\n"
       "in the order they are specified. Supported types:\n"
       "memory-backend-file, memory-backend-ram, tls-creds-x509, tls-creds-psk, authz-list"},
      {"nodefaults", false, "-nodefaults", "don't create default devices"},
      {"display", true, "-display none", "select display backend type (only 'none')"},
      {"nographic", false, "-nographic", "disable graphical output"},
      {"qmp", true, "-qmp dev", "like -monitor but opens in 'control' mode"},
      {"monitor", true, "-monitor dev", "redirect the monitor to char device 'dev'"},
      {"S", false, "-S", "freeze CPU at startup (use 'c' to start execution)"},
      {"incoming", true,
       "-incoming tcp:[host]:port\n-incoming unix:socketpath\n-incoming fd:fd\n"
       "-incoming exec:cmdline\n-incoming defer",
       "prepare for incoming migration, listen on the given address, read from the\n"
       "given file descriptor or command, or wait for migrate-incoming (defer)"},
      {"daemonize", false, "-daemonize", "daemonize QEMU after initializing"},
      {"pidfile", true, "-pidfile file", "write PID to 'file'"},
      {"serial", true, "-serial none", "accepted for compatibility; only 'none'"},
      {"parallel", true, "-parallel none", "accepted for compatibility; only 'none'"},
      {"vga", true, "-vga none", "accepted for compatibility; only 'none'"},
      {"workload", true,
       "-workload dirty-rate=SIZE/s[,pattern=random|sequential|hotspot][,hot-fraction=F][,seed=N]"
       "[,threads=N][,prefill=on]",
       "migemu only: a synthetic guest workload that dirties guest RAM\n"
       "at the given rate while the guest runs"},
  };
  return kOptions;
}

namespace {

const OptionSpec* FindOption(absl::string_view name) {
  for (const OptionSpec& spec : SupportedOptions()) {
    if (spec.name == name) {
      return &spec;
    }
  }
  return nullptr;
}

}  // namespace

absl::StatusOr<CommandLine> ParseCommandLine(int argc, const char* const* argv) {
  CommandLine cl;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg.empty() || arg[0] != '-') {
      return absl::InvalidArgumentError(
          absl::StrCat(arg, ": disk images are not supported (machine 'none' has no drives)"));
    }
    absl::string_view name = arg.substr(1);
    // QEMU accepts "--option" as well as "-option".
    if (!name.empty() && name[0] == '-') {
      name.remove_prefix(1);
    }
    const OptionSpec* spec = FindOption(name);
    if (spec == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(arg, ": invalid option"));
    }
    OptionArg opt;
    opt.name = std::string(spec->name);
    if (spec->has_arg) {
      if (i + 1 >= argc) {
        return absl::InvalidArgumentError(absl::StrCat(arg, ": requires an argument"));
      }
      opt.value = argv[++i];
    }
    // Canonical names for aliases.
    if (opt.name == "M") {
      opt.name = "machine";
    } else if (opt.name == "help") {
      opt.name = "h";
    }
    cl.options.push_back(std::move(opt));
  }
  return cl;
}

std::string HelpText(absl::string_view program_name) {
  std::string out = VersionText();
  absl::StrAppend(&out, "usage: ", program_name, " [options]\n\nStandard options:\n");
  for (const OptionSpec& spec : SupportedOptions()) {
    if (spec.help_synopsis.empty()) {
      continue;
    }
    std::vector<absl::string_view> synopsis = absl::StrSplit(spec.help_synopsis, '\n');
    std::vector<absl::string_view> text = absl::StrSplit(spec.help_text, '\n');
    // QEMU's layout: a one-line synopsis shorter than 16 columns shares its line with the first
    // line of the text; other synopses get the text on the following lines, indented by 16.
    for (size_t i = 0; i < synopsis.size(); ++i) {
      bool last = i + 1 == synopsis.size();
      if (synopsis.size() == 1 && synopsis[i].size() < 16) {
        absl::StrAppend(&out, synopsis[i], std::string(16 - synopsis[i].size(), ' '), text[0],
                        "\n");
        for (size_t j = 1; j < text.size(); ++j) {
          absl::StrAppend(&out, std::string(16, ' '), text[j], "\n");
        }
      } else {
        absl::StrAppend(&out, synopsis[i], "\n");
        if (last) {
          for (absl::string_view line : text) {
            absl::StrAppend(&out, std::string(16, ' '), line, "\n");
          }
        }
      }
    }
  }
  absl::StrAppend(&out,
                  "\nmigemu emulates the live-migration subsystem of QEMU 7.2 for machine 'none'.\n"
                  "See README.md for the monitor commands and migration features.\n");
  return out;
}

std::string VersionText() {
  return absl::StrCat("QEMU emulator version ", MIGEMU_QEMU_VERSION, " (migemu ", MIGEMU_VERSION,
                      ")\n",
                      "Copyright (c) 2003-2022 Fabrice Bellard and the QEMU Project developers\n");
}

}  // namespace migemu::system
