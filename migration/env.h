// File: migration/env.h
//
// The process services the migration code uses, bundled: the VM, the main loop (for posting
// completion work back to the monitor thread), the QMP event sink, and lookups the monitor
// provides (named fds from `getfd`; TLS credentials by object id once they exist).
#ifndef MIGEMU_MIGRATION_ENV_H_
#define MIGEMU_MIGRATION_ENV_H_

#include <absl/status/statusor.h>

#include <functional>
#include <memory>
#include <stop_token>
#include <string>

#include "io/channel.h"
#include "io/named_fds.h"
#include "qapi/event_sink.h"
#include "system/vm.h"
#include "util/event_loop.h"

namespace migemu::migration {

// What a TLS wrap needs to know: the migration parameters and the URI host (the default name
// the server certificate is checked against).
struct TlsWrapRequest {
  bool client = true;
  std::string creds;     // tls-creds (non-empty)
  std::string hostname;  // tls-hostname ("" = use uri_host)
  std::string authz;     // tls-authz (server side; "" = none)
  std::string uri_host;  // host part of a tcp: URI, "" for unix/exec/fd
};

struct MigrationEnv {
  system::Vm& vm;
  util::EventLoop& loop;
  qapi::EventSink& events;
  // Resolves `fd:NAME` URIs (monitor getfd); may be empty.
  io::NamedFdLookup fd_lookup;
  // Wraps a freshly connected (client) or accepted (server) channel in TLS: resolves the
  // credentials (and, on a server, the authz object) by id at handshake time, as QEMU does, and
  // runs the handshake on the calling thread; a stop request on `stop` aborts it. Empty when
  // the process offers no TLS (unit tests); see migration/tls.h for the caller side.
  std::function<absl::StatusOr<std::unique_ptr<io::Channel>>(
      std::unique_ptr<io::Channel> channel, const TlsWrapRequest& request, std::stop_token stop)>
      tls_wrap;
};

}  // namespace migemu::migration

#endif  // MIGEMU_MIGRATION_ENV_H_
