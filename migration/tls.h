// File: migration/tls.h
//
// The migration side of TLS (QEMU's migration/tls.c): wraps the main stream and every multifd
// channel, on both sides, when `tls-creds` is set. One function, so the fault point and the
// error for a process without TLS support are in one place.
//
//   MIG_ASSIGN_OR_RETURN(ch, MigrationTlsWrap(env, params, std::move(ch), true, host, stop));
//
// Thread-safety: runs on the calling (migration, channel or handshake) thread.
#ifndef MIGEMU_MIGRATION_TLS_H_
#define MIGEMU_MIGRATION_TLS_H_

#include <absl/status/statusor.h>

#include <memory>
#include <stop_token>
#include <string>

#include "io/channel.h"
#include "migration/env.h"
#include "migration/options.h"

namespace migemu::migration {

// MigrationTlsWrap: TLS client (source) or server (destination) handshake over `channel`,
// with the fault point `migration.send.tls-handshake` (source) or
// `migration.recv.tls-handshake` (destination) in front. Errors: QEMU's texts ("No TLS
// credentials with id '%s'", "TLS handshake failed: %s", "Certificate does not match the
// hostname %s", ...).
absl::StatusOr<std::unique_ptr<io::Channel>> MigrationTlsWrap(
    MigrationEnv& env, const Parameters& params, std::unique_ptr<io::Channel> channel, bool client,
    const std::string& uri_host, std::stop_token stop);

}  // namespace migemu::migration

#endif  // MIGEMU_MIGRATION_TLS_H_
