// Fuzz target: a QMP client's bytes, end to end. Each input gets a fresh migemu Machine (the
// real command registry with every command of the process, monitors, VM, migration manager)
// whose -qmp monitor is a client connection to this harness (`unix:PATH,server=off`), so the
// bytes take the real path: socket, Connection, QmpSession, the streaming JSON parser,
// request checks, dispatch, generated unmarshalling, the handlers, the writer. The input is
// written in 4 KiB pieces; after each the machine's loop runs until it has read everything,
// and the harness reads the answers. Then the harness closes its end (the session sees EOF)
// and the machine is torn down.
//
// Checked for every input: every line the machine sends is a JSON object that is the greeting,
// a response ("return" or "error", the latter with "class" and "desc") or an event.
//
// Commands whose effects would leave the process are wrapped (CommandRegistry::
// ReplaceMarshalForTest): `migrate` with a URI that parses (it would connect to, or run, what
// the input names) and `object-add` of a memory-backend-file (it creates files) or of a backend
// larger than 64 MiB answer an error without running; malformed arguments still reach the
// real command, so its argument checks are fuzzed. `migrate-incoming` needs -incoming, which
// the machine does not have, so it always refuses.
#include <absl/strings/str_cat.h>
#include <absl/strings/str_split.h>
#include <linux/sockios.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "io/socket_address.h"
#include "monitor/json_parser.h"
#include "system/machine.h"
#include "tests/fuzz/fuzz_util.h"
#include "util/fault.h"

namespace {

using namespace migemu;  // NOLINT(google-build-using-namespace): a fuzz entry point

constexpr size_t kPiece = 4096;

// The harness's listening socket, created once per process in a private directory.
struct Listener {
  std::string path;
  int fd = -1;
};

const Listener& TheListener() {
  static Listener* l = [] {
    auto* out = new Listener();  // NOLINT: lives for the whole fuzzing process
    char dir[] = "/tmp/migemu-qmp-fuzz-XXXXXX";
    fuzz::FuzzCheck(mkdtemp(dir) != nullptr, "mkdtemp");
    out->path = absl::StrCat(dir, "/qmp.sock");
    out->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, out->path.c_str(), sizeof(addr.sun_path) - 1);
    fuzz::FuzzCheck(bind(out->fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0, "bind");
    fuzz::FuzzCheck(listen(out->fd, 4) == 0, "listen");
    return out;
  }();
  return *l;
}

const rapidjson::Value* Member(const rapidjson::Value& v, const char* name) {
  auto it = v.FindMember(name);
  return it == v.MemberEnd() ? nullptr : &it->value;
}

// QEMU prints an infinite or NaN double (an `id` echoed from a number like 1e400) as the bare
// words inf / -inf / nan, which are not JSON; migemu does the same. Outside strings they become
// 0 here so the rest of the line can be checked.
std::string WithoutNonFinite(absl::string_view line) {
  std::string out;
  bool in_string = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (in_string) {
      out.push_back(c);
      if (c == '\\' && i + 1 < line.size()) {
        out.push_back(line[++i]);
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (line.substr(i, 4) == "-inf" || line.substr(i, 4) == "-nan") {
      out.push_back('0');
      i += 3;
      continue;
    } else if (line.substr(i, 3) == "inf" || line.substr(i, 3) == "nan") {
      out.push_back('0');
      i += 2;
      continue;
    }
    out.push_back(c);
  }
  return out;
}

void CheckLine(absl::string_view raw) {
  const std::string line = WithoutNonFinite(raw);
  absl::StatusOr<rapidjson::Document> doc = monitor::ParseQmpJson(line);
  fuzz::FuzzCheckOk(doc.status(), absl::StrCat("QMP output is JSON: ", line));
  fuzz::FuzzCheck(doc->IsObject(), absl::StrCat("QMP output is an object: ", line));
  if (Member(*doc, "QMP") != nullptr || Member(*doc, "return") != nullptr ||
      Member(*doc, "event") != nullptr) {
    return;
  }
  const rapidjson::Value* error = Member(*doc, "error");
  fuzz::FuzzCheck(error != nullptr && error->IsObject(),
                  absl::StrCat("QMP output is a greeting, response or event: ", line));
  const rapidjson::Value* cls = Member(*error, "class");
  const rapidjson::Value* desc = Member(*error, "desc");
  fuzz::FuzzCheck(cls != nullptr && cls->IsString() && desc != nullptr && desc->IsString(),
                  absl::StrCat("an error has class and desc: ", line));
}

// Reads what the machine wrote; checks every complete line.
void Drain(int fd, std::string* pending) {
  char buf[65536];
  while (true) {
    ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n <= 0) {
      break;
    }
    pending->append(buf, static_cast<size_t>(n));
  }
  size_t start = 0;
  while (true) {
    size_t end = pending->find("\r\n", start);
    if (end == std::string::npos) {
      break;
    }
    CheckLine(absl::string_view(*pending).substr(start, end - start));
    start = end + 2;
  }
  pending->erase(0, start);
}

// Runs the machine's loop until it has read everything the harness sent (bounded).
void Pump(system::Machine& machine, int fd, std::string* pending) {
  for (int i = 0; i < 10000; ++i) {
    machine.loop().RunPending();
    Drain(fd, pending);
    int unread = 0;
    if (ioctl(fd, SIOCOUTQ, &unread) != 0 || unread == 0) {
      machine.loop().RunPending();  // what the last read produced (posted work)
      Drain(fd, pending);
      return;
    }
  }
}

void Neutralise(qapi::CommandRegistry& registry) {
  auto migrate = std::make_shared<qapi::CommandMarshal>();
  *migrate = registry.ReplaceMarshalForTest(
      "migrate",
      [migrate](const rapidjson::Value* args,
                rapidjson::Document::AllocatorType& a) -> absl::StatusOr<rapidjson::Value> {
        if (args != nullptr && args->IsObject()) {
          const rapidjson::Value* uri = Member(*args, "uri");
          if (uri != nullptr && uri->IsString() &&
              io::ParseMigrationUri(absl::string_view(uri->GetString(), uri->GetStringLength()),
                                    io::UriDirection::kOutgoing)
                  .ok()) {
            return fuzz::Refused("a migration to a real address");
          }
        }
        return (*migrate)(args, a);
      });
  auto object_add = std::make_shared<qapi::CommandMarshal>();
  *object_add = registry.ReplaceMarshalForTest(
      "object-add",
      [object_add](const rapidjson::Value* args,
                   rapidjson::Document::AllocatorType& a) -> absl::StatusOr<rapidjson::Value> {
        if (args != nullptr && args->IsObject()) {
          const rapidjson::Value* type = Member(*args, "qom-type");
          const rapidjson::Value* size = Member(*args, "size");
          if (type != nullptr && type->IsString() &&
              std::strcmp(type->GetString(), "memory-backend-file") == 0) {
            return fuzz::Refused("a file backend");
          }
          if (size != nullptr && size->IsNumber() &&
              (!size->IsUint64() || size->GetUint64() > (uint64_t{64} << 20))) {
            return fuzz::Refused("a backend over 64 MiB");
          }
        }
        return (*object_add)(args, a);
      });
  fuzz::FuzzCheck(*migrate != nullptr && *object_add != nullptr, "commands to wrap exist");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Listener& listener = TheListener();
  system::MachineConfig config;
  config.ram_size = 1 << 20;
  config.ram_size_given = true;
  config.start_paused = true;
  config.monitors.push_back(
      system::MonitorOption{true, absl::StrCat("unix:", listener.path, ",server=off")});
  absl::StatusOr<std::unique_ptr<system::Machine>> machine = system::Machine::Create(config);
  fuzz::FuzzCheckOk(machine.status(), "the machine starts");
  // The machine connects while it is created; never wait for a connection that is not queued.
  pollfd ready{listener.fd, POLLIN, 0};
  fuzz::FuzzCheck(poll(&ready, 1, 0) == 1, "the monitor connects");
  const int fd = accept4(listener.fd, nullptr, nullptr, SOCK_CLOEXEC);
  fuzz::FuzzCheck(fd >= 0, "accept4 on a queued connection");
  Neutralise((*machine)->registry());
  std::string pending;
  Pump(**machine, fd, &pending);
  fuzz::FuzzCheck(pending.empty(), "the greeting is one line");
  for (size_t off = 0; off < size; off += kPiece) {
    const size_t len = std::min(kPiece, size - off);
    if (send(fd, data + off, len, MSG_NOSIGNAL) != static_cast<ssize_t>(len)) {
      break;  // the machine closed the connection
    }
    Pump(**machine, fd, &pending);
  }
  shutdown(fd, SHUT_WR);
  Pump(**machine, fd, &pending);
  machine->reset();
  close(fd);
  util::Faults::Get().Clear();  // x-inject-fault arms process-wide points
  return 0;
}
