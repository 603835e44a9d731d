// File: io/tls_creds.h
//
// io::TlsCreds: a loaded set of TLS credentials (QEMU's QCryptoTLSCreds subclasses
// tls-creds-x509 and tls-creds-psk), read from QEMU's file names in one directory:
//
//   x509: ca-cert.pem (required), ca-crl.pem (optional), server-cert.pem + server-key.pem
//         (server, required) or client-cert.pem + client-key.pem (client, optional: a client
//         without them is "anonymous"), dh-params.pem (server, optional)
//   psk:  keys.psk, lines "username:hexkey" (the client uses `username`, default "qemu")
//
//   TlsCredsConfig c{.kind = TlsCredsKind::kX509, .dir = "/etc/pki/qemu",
//                    .endpoint = TlsEndpoint::kServer};
//   MIG_ASSIGN_OR_RETURN(std::shared_ptr<const io::TlsCreds> creds, io::TlsCreds::Load(c));
//
// Errors are QEMU 7.2's texts ("Unable to access credentials /d/ca-cert.pem: No such file or
// directory", "Username bob not found in PSK file /d/keys.psk", the x509 sanity checks ...).
//
// Ownership: shared (std::shared_ptr), because QEMU's TLS sessions hold a reference to their
// credentials object: `object-del` of the object while a migration handshakes must not free
// credentials a session still uses. Thread-safety: immutable after Load, so thread-safe.
#ifndef MIGEMU_IO_TLS_CREDS_H_
#define MIGEMU_IO_TLS_CREDS_H_

#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include <gnutls/gnutls.h>

#include <memory>
#include <optional>
#include <string>

namespace migemu::io {

enum class TlsEndpoint { kClient, kServer };
enum class TlsCredsKind { kX509, kPsk };

// EndpointName: "client" / "server" (QCryptoTLSCredsEndpoint).
const char* EndpointName(TlsEndpoint endpoint);

struct TlsCredsConfig {
  TlsCredsKind kind = TlsCredsKind::kX509;
  std::optional<std::string> dir;
  TlsEndpoint endpoint = TlsEndpoint::kClient;
  bool verify_peer = true;
  std::optional<std::string> priority;  // GnuTLS priority string; default "NORMAL"
  bool sanity_check = true;             // x509 only
  std::optional<std::string> username;  // psk clients only
};

class TlsCreds final {
 public:
  // Load: reads and checks the files (qcrypto_tls_creds_x509_load / _psk_load).
  static absl::StatusOr<std::shared_ptr<const TlsCreds>> Load(const TlsCredsConfig& config);
  ~TlsCreds();
  TlsCreds(const TlsCreds&) = delete;
  TlsCreds& operator=(const TlsCreds&) = delete;

  const TlsCredsConfig& config() const { return config_; }
  TlsCredsKind kind() const { return config_.kind; }
  TlsEndpoint endpoint() const { return config_.endpoint; }
  bool verify_peer() const { return config_.verify_peer; }

  // CheckEndpoint: qcrypto_tls_creds_check_endpoint(): "Expected TLS credentials for a %s
  // endpoint".
  absl::Status CheckEndpoint(TlsEndpoint endpoint) const;

  // ApplyTo: sets priority and credentials on a fresh session (qcrypto_tls_session_new()).
  absl::Status ApplyTo(gnutls_session_t session) const;

 private:
  explicit TlsCreds(TlsCredsConfig config) : config_(std::move(config)) {}
  absl::Status LoadX509();
  absl::Status LoadPsk();

  const TlsCredsConfig config_;
  gnutls_certificate_credentials_t x509_ = nullptr;
  gnutls_psk_client_credentials_t psk_client_ = nullptr;
  gnutls_psk_server_credentials_t psk_server_ = nullptr;
  gnutls_dh_params_t dh_params_ = nullptr;
};

}  // namespace migemu::io

#endif  // MIGEMU_IO_TLS_CREDS_H_
