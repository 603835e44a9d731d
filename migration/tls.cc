#include "migration/tls.h"

#include <absl/strings/str_format.h>

#include <utility>

#include "io/tls_errors.h"
#include "migration/fault_points.h"
#include "util/fault.h"

namespace migemu::migration {

absl::StatusOr<std::unique_ptr<io::Channel>> MigrationTlsWrap(
    MigrationEnv& env, const Parameters& params, std::unique_ptr<io::Channel> channel, bool client,
    const std::string& uri_host, std::stop_token stop) {
  if (absl::Status fault =
          MIG_FAULT_POINT(client ? kFaultSendTlsHandshake : kFaultRecvTlsHandshake);
      !fault.ok()) {
    return fault;  // `channel` is closed on return, as after a failed handshake
  }
  if (!env.tls_wrap) {
    // A process without TLS support has no credentials objects at all.
    return absl::NotFoundError(absl::StrFormat(io::kFmtNoTlsCreds, params.tls_creds));
  }
  TlsWrapRequest request;
  request.client = client;
  request.creds = params.tls_creds;
  request.hostname = params.tls_hostname;
  request.authz = params.tls_authz;
  request.uri_host = uri_host;
  return env.tls_wrap(std::move(channel), request, std::move(stop));
}

}  // namespace migemu::migration
