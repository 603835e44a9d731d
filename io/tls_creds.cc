#include "io/tls_creds.h"

#include <absl/strings/match.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>
#include <absl/strings/str_split.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <fstream>
#include <sstream>
#include <vector>

#include <gnutls/x509.h>

#include "io/tls_errors.h"
#include "util/errno_status.h"

namespace migemu::io {

namespace {

constexpr char kCaCert[] = "ca-cert.pem";
constexpr char kCaCrl[] = "ca-crl.pem";
constexpr char kServerCert[] = "server-cert.pem";
constexpr char kServerKey[] = "server-key.pem";
constexpr char kClientCert[] = "client-cert.pem";
constexpr char kClientKey[] = "client-key.pem";
constexpr char kDhParams[] = "dh-params.pem";
constexpr char kPskFile[] = "keys.psk";
constexpr size_t kMaxCaCerts = 16;  // QEMU's MAX_CERTS

// GetPath: qcrypto_tls_creds_get_path(): "<dir>/<file>" when readable; "" when optional and
// absent; errors for a missing dir or an unreadable file.
absl::StatusOr<std::string> GetPath(const TlsCredsConfig& c, const char* file, bool required) {
  if (!c.dir.has_value()) {
    if (required) {
      return absl::InvalidArgumentError(kErrTlsMissingDir);
    }
    return std::string();
  }
  std::string path = absl::StrCat(*c.dir, "/", file);
  if (::access(path.c_str(), R_OK) < 0) {
    const int err = errno;
    if (err != ENOENT || required) {
      return util::ErrnoStatus(err, absl::StrCat("Unable to access credentials ", path));
    }
    return std::string();
  }
  return path;
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return util::ErrnoStatus(errno, absl::StrCat("Unable to read ", path));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct CrtDeleter {
  void operator()(gnutls_x509_crt_int* c) const { gnutls_x509_crt_deinit(c); }
};
using Crt = std::unique_ptr<gnutls_x509_crt_int, CrtDeleter>;

// ---- x509 sanity checks (qcrypto_tls_creds_x509_sanity_check and helpers) -----------------

absl::Status CheckTimes(gnutls_x509_crt_t cert, const std::string& file, bool is_server,
                        bool is_ca) {
  const time_t now = std::time(nullptr);
  const char* who = is_ca ? "CA" : (is_server ? "server" : "client");
  if (gnutls_x509_crt_get_expiration_time(cert) < now) {
    return absl::FailedPreconditionError(
        absl::StrFormat("The %s certificate %s has expired", who, file));
  }
  if (gnutls_x509_crt_get_activation_time(cert) > now) {
    return absl::FailedPreconditionError(
        absl::StrFormat("The %s certificate %s is not yet active", who, file));
  }
  return absl::OkStatus();
}

absl::Status CheckBasicConstraints(gnutls_x509_crt_t cert, const std::string& file, bool is_server,
                                   bool is_ca) {
  const int status = gnutls_x509_crt_get_basic_constraints(cert, nullptr, nullptr, nullptr);
  if (status > 0) {
    if (!is_ca) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "The certificate %s basic constraints show a CA, but we need one for a %s", file,
          is_server ? "server" : "client"));
    }
  } else if (status == 0) {
    if (is_ca) {
      return absl::FailedPreconditionError(
          absl::StrFormat("The certificate %s basic constraints do not show a CA", file));
    }
  } else if (status == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) {
    if (is_ca) {
      return absl::FailedPreconditionError(
          absl::StrFormat("The certificate %s is missing basic constraints for a CA", file));
    }
  } else {
    return absl::FailedPreconditionError(absl::StrFormat(
        "Unable to query certificate %s basic constraints: %s", file, gnutls_strerror(status)));
  }
  return absl::OkStatus();
}

absl::Status CheckKeyUsage(gnutls_x509_crt_t cert, const std::string& file, bool is_ca) {
  unsigned int usage = 0;
  unsigned int critical = 0;
  const int status = gnutls_x509_crt_get_key_usage(cert, &usage, &critical);
  if (status < 0) {
    if (status != GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "Unable to query certificate %s key usage: %s", file, gnutls_strerror(status)));
    }
    usage = is_ca ? GNUTLS_KEY_KEY_CERT_SIGN : GNUTLS_KEY_DIGITAL_SIGNATURE;
  }
  if (is_ca && (usage & GNUTLS_KEY_KEY_CERT_SIGN) == 0 && critical != 0) {
    return absl::FailedPreconditionError(
        absl::StrFormat("Certificate %s usage does not permit certificate signing", file));
  }
  if (!is_ca && (usage & GNUTLS_KEY_DIGITAL_SIGNATURE) == 0 && critical != 0) {
    return absl::FailedPreconditionError(
        absl::StrFormat("Certificate %s usage does not permit digital signature", file));
  }
  return absl::OkStatus();
}

absl::Status CheckKeyPurpose(gnutls_x509_crt_t cert, const std::string& file, bool is_server) {
  bool allow_server = false;
  bool allow_client = false;
  bool critical = false;
  for (unsigned int i = 0;; ++i) {
    char buffer[256];
    size_t size = sizeof(buffer);
    unsigned int purpose_critical = 0;
    const int status =
        gnutls_x509_crt_get_key_purpose_oid(cert, i, buffer, &size, &purpose_critical);
    if (status == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) {
      if (i == 0) {
        allow_server = allow_client = true;  // no purpose at all: anything goes
      }
      break;
    }
    if (status < 0) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "Unable to query certificate %s key purpose: %s", file, gnutls_strerror(status)));
    }
    critical = critical || purpose_critical != 0;
    const std::string oid(buffer, strnlen(buffer, sizeof(buffer)));
    if (oid == GNUTLS_KP_TLS_WWW_SERVER) {
      allow_server = true;
    } else if (oid == GNUTLS_KP_TLS_WWW_CLIENT) {
      allow_client = true;
    } else if (oid == GNUTLS_KP_ANY) {
      allow_server = allow_client = true;
    }
  }
  if (critical && (is_server ? !allow_server : !allow_client)) {
    return absl::FailedPreconditionError(
        absl::StrFormat("Certificate %s purpose does not allow use with a TLS %s", file,
                        is_server ? "server" : "client"));
  }
  return absl::OkStatus();
}

absl::Status CheckCert(gnutls_x509_crt_t cert, const std::string& file, bool is_server,
                       bool is_ca) {
  if (absl::Status s = CheckTimes(cert, file, is_server, is_ca); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckBasicConstraints(cert, file, is_server, is_ca); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckKeyUsage(cert, file, is_ca); !s.ok()) {
    return s;
  }
  return is_ca ? absl::OkStatus() : CheckKeyPurpose(cert, file, is_server);
}

absl::Status SanityCheck(bool is_server, const std::string& ca_file, const std::string& cert_file) {
  Crt cert;
  if (!cert_file.empty()) {
    absl::StatusOr<std::string> pem = ReadFile(cert_file);
    if (!pem.ok()) {
      return pem.status();
    }
    gnutls_x509_crt_t raw = nullptr;
    if (int r = gnutls_x509_crt_init(&raw); r < 0) {
      return absl::InternalError(
          absl::StrCat("Unable to initialize certificate: ", gnutls_strerror(r)));
    }
    cert.reset(raw);
    gnutls_datum_t data{reinterpret_cast<unsigned char*>(pem->data()),
                        static_cast<unsigned int>(pem->size())};
    if (int r = gnutls_x509_crt_import(raw, &data, GNUTLS_X509_FMT_PEM); r < 0) {
      return absl::InvalidArgumentError(absl::StrFormat("Unable to import %s certificate %s: %s",
                                                        is_server ? "server" : "client", cert_file,
                                                        gnutls_strerror(r)));
    }
  }
  std::vector<Crt> cas;
  {
    absl::StatusOr<std::string> pem = ReadFile(ca_file);
    if (!pem.ok()) {
      return pem.status();
    }
    gnutls_x509_crt_t raw[kMaxCaCerts] = {};
    unsigned int n = kMaxCaCerts;
    gnutls_datum_t data{reinterpret_cast<unsigned char*>(pem->data()),
                        static_cast<unsigned int>(pem->size())};
    if (gnutls_x509_crt_list_import(raw, &n, &data, GNUTLS_X509_FMT_PEM,
                                    GNUTLS_X509_CRT_LIST_IMPORT_FAIL_IF_EXCEED) < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("Unable to import CA certificate list ", ca_file));
    }
    for (unsigned int i = 0; i < n; ++i) {
      cas.emplace_back(raw[i]);
    }
  }
  if (cert != nullptr) {
    if (absl::Status s = CheckCert(cert.get(), cert_file, is_server, false); !s.ok()) {
      return s;
    }
  }
  for (const Crt& ca : cas) {
    if (absl::Status s = CheckCert(ca.get(), ca_file, is_server, true); !s.ok()) {
      return s;
    }
  }
  if (cert != nullptr && !cas.empty()) {
    std::vector<gnutls_x509_crt_t> list;
    for (const Crt& ca : cas) {
      list.push_back(ca.get());
    }
    gnutls_x509_crt_t one = cert.get();
    unsigned int status = 0;
    if (gnutls_x509_crt_list_verify(&one, 1, list.data(), static_cast<unsigned int>(list.size()),
                                    nullptr, 0, 0, &status) < 0) {
      return absl::FailedPreconditionError(
          absl::StrFormat("Unable to verify %s certificate %s against CA certificate %s",
                          is_server ? "server" : "client", cert_file, ca_file));
    }
    if (status != 0) {
      return absl::FailedPreconditionError(
          absl::StrFormat("Our own certificate %s failed validation against %s: %s", cert_file,
                          ca_file, CertStatusReason(status)));
    }
  }
  return absl::OkStatus();
}

// LookupPskKey: the hex key of `username` in a keys.psk file (lookup_key()).
absl::StatusOr<std::string> LookupPskKey(const std::string& file, const std::string& username) {
  absl::StatusOr<std::string> text = ReadFile(file);
  if (!text.ok()) {
    return absl::NotFoundError(
        absl::StrCat("Cannot read PSK file ", file, ": ", text.status().message()));
  }
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    if (line.size() > username.size() && absl::StartsWith(line, username) &&
        line[username.size()] == ':') {
      return std::string(line.substr(username.size() + 1));
    }
  }
  return absl::NotFoundError(
      absl::StrFormat("Username %s not found in PSK file %s", username, file));
}

}  // namespace

const char* EndpointName(TlsEndpoint endpoint) {
  return endpoint == TlsEndpoint::kServer ? "server" : "client";
}

const char* CertStatusReason(unsigned int status) {
  const char* reason = "Invalid certificate";
  if ((status & GNUTLS_CERT_INVALID) != 0) {
    reason = "The certificate is not trusted";
  }
  if ((status & GNUTLS_CERT_SIGNER_NOT_FOUND) != 0) {
    reason = "The certificate hasn't got a known issuer";
  }
  if ((status & GNUTLS_CERT_REVOKED) != 0) {
    reason = "The certificate has been revoked";
  }
  if ((status & GNUTLS_CERT_INSECURE_ALGORITHM) != 0) {
    reason = "The certificate uses an insecure algorithm";
  }
  return reason;
}

absl::StatusOr<std::shared_ptr<const TlsCreds>> TlsCreds::Load(const TlsCredsConfig& config) {
  std::shared_ptr<TlsCreds> creds(new TlsCreds(config));  // NOLINT: private constructor
  absl::Status s = config.kind == TlsCredsKind::kX509 ? creds->LoadX509() : creds->LoadPsk();
  if (!s.ok()) {
    return s;
  }
  return std::shared_ptr<const TlsCreds>(std::move(creds));
}

TlsCreds::~TlsCreds() {
  if (x509_ != nullptr) {
    gnutls_certificate_free_credentials(x509_);
  }
  if (psk_client_ != nullptr) {
    gnutls_psk_free_client_credentials(psk_client_);
  }
  if (psk_server_ != nullptr) {
    gnutls_psk_free_server_credentials(psk_server_);
  }
  if (dh_params_ != nullptr) {
    gnutls_dh_params_deinit(dh_params_);
  }
}

absl::Status TlsCreds::CheckEndpoint(TlsEndpoint endpoint) const {
  if (config_.endpoint != endpoint) {
    return absl::InvalidArgumentError(
        absl::StrFormat("Expected TLS credentials for a %s endpoint", EndpointName(endpoint)));
  }
  return absl::OkStatus();
}

absl::Status TlsCreds::LoadX509() {
  const bool server = config_.endpoint == TlsEndpoint::kServer;
  absl::StatusOr<std::string> ca = GetPath(config_, kCaCert, true);
  if (!ca.ok()) {
    return ca.status();
  }
  absl::StatusOr<std::string> crl = GetPath(config_, kCaCrl, false);
  if (!crl.ok()) {
    return crl.status();
  }
  absl::StatusOr<std::string> cert = GetPath(config_, server ? kServerCert : kClientCert, server);
  if (!cert.ok()) {
    return cert.status();
  }
  absl::StatusOr<std::string> key = GetPath(config_, server ? kServerKey : kClientKey, server);
  if (!key.ok()) {
    return key.status();
  }
  std::string dh;
  if (server) {
    absl::StatusOr<std::string> d = GetPath(config_, kDhParams, false);
    if (!d.ok()) {
      return d.status();
    }
    dh = *d;
  }
  if (config_.sanity_check) {
    if (absl::Status s = SanityCheck(server, *ca, *cert); !s.ok()) {
      return s;
    }
  }
  if (int r = gnutls_certificate_allocate_credentials(&x509_); r < 0) {
    return absl::InternalError(
        absl::StrFormat("Cannot allocate credentials: '%s'", gnutls_strerror(r)));
  }
  if (int r = gnutls_certificate_set_x509_trust_file(x509_, ca->c_str(), GNUTLS_X509_FMT_PEM);
      r < 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("Cannot load CA certificate '%s': %s", *ca, gnutls_strerror(r)));
  }
  if (!cert->empty() && !key->empty()) {
    if (int r = gnutls_certificate_set_x509_key_file(x509_, cert->c_str(), key->c_str(),
                                                     GNUTLS_X509_FMT_PEM);
        r < 0) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "Cannot load certificate '%s' & key '%s': %s", *cert, *key, gnutls_strerror(r)));
    }
  }
  if (!crl->empty()) {
    if (int r = gnutls_certificate_set_x509_crl_file(x509_, crl->c_str(), GNUTLS_X509_FMT_PEM);
        r < 0) {
      return absl::InvalidArgumentError(
          absl::StrFormat("Cannot load CRL '%s': %s", *crl, gnutls_strerror(r)));
    }
  }
  if (server) {
    if (!dh.empty()) {
      absl::StatusOr<std::string> pem = ReadFile(dh);
      if (!pem.ok()) {
        return pem.status();
      }
      gnutls_datum_t data{reinterpret_cast<unsigned char*>(pem->data()),
                          static_cast<unsigned int>(pem->size())};
      if (gnutls_dh_params_init(&dh_params_) < 0 ||
          gnutls_dh_params_import_pkcs3(dh_params_, &data, GNUTLS_X509_FMT_PEM) < 0) {
        return absl::InvalidArgumentError(absl::StrCat("Unable to load DH parameters ", dh));
      }
      gnutls_certificate_set_dh_params(x509_, dh_params_);
    } else {
      // Deliberate difference: QEMU 7.2 generates fresh DH parameters here (seconds of CPU);
      // GnuTLS's well-known RFC 7919 groups are as safe and free.
      gnutls_certificate_set_known_dh_params(x509_, GNUTLS_SEC_PARAM_MEDIUM);
    }
  }
  return absl::OkStatus();
}

absl::Status TlsCreds::LoadPsk() {
  if (config_.endpoint == TlsEndpoint::kServer) {
    if (config_.username.has_value()) {
      return absl::InvalidArgumentError(kErrTlsPskServerUsername);
    }
    absl::StatusOr<std::string> file = GetPath(config_, kPskFile, true);
    if (!file.ok()) {
      return file.status();
    }
    absl::StatusOr<std::string> dh = GetPath(config_, kDhParams, false);
    if (!dh.ok()) {
      return dh.status();
    }
    if (int r = gnutls_psk_allocate_server_credentials(&psk_server_); r < 0) {
      return absl::InternalError(absl::StrCat("Cannot allocate credentials: ", gnutls_strerror(r)));
    }
    if (int r = gnutls_psk_set_server_credentials_file(psk_server_, file->c_str()); r < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("Cannot set PSK server credentials: ", gnutls_strerror(r)));
    }
    gnutls_psk_set_server_known_dh_params(psk_server_, GNUTLS_SEC_PARAM_MEDIUM);
    return absl::OkStatus();
  }
  const std::string username = config_.username.value_or("qemu");
  absl::StatusOr<std::string> file = GetPath(config_, kPskFile, true);
  if (!file.ok()) {
    return file.status();
  }
  absl::StatusOr<std::string> key = LookupPskKey(*file, username);
  if (!key.ok()) {
    return key.status();
  }
  if (int r = gnutls_psk_allocate_client_credentials(&psk_client_); r < 0) {
    return absl::InternalError(absl::StrCat("Cannot allocate credentials: ", gnutls_strerror(r)));
  }
  gnutls_datum_t datum{reinterpret_cast<unsigned char*>(key->data()),
                       static_cast<unsigned int>(key->size())};
  if (int r = gnutls_psk_set_client_credentials(psk_client_, username.c_str(), &datum,
                                                GNUTLS_PSK_KEY_HEX);
      r < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("Cannot set PSK client credentials: ", gnutls_strerror(r)));
  }
  return absl::OkStatus();
}

absl::Status TlsCreds::ApplyTo(gnutls_session_t session) const {
  const std::string base = config_.priority.value_or(kTlsDefaultPriority);
  if (config_.kind == TlsCredsKind::kPsk) {
    const std::string prio = absl::StrCat(base, ":", kTlsPriorityAdditionalPsk);
    if (int r = gnutls_priority_set_direct(session, prio.c_str(), nullptr); r < 0) {
      return absl::InvalidArgumentError(
          absl::StrFormat("Unable to set TLS session priority %s: %s", prio, gnutls_strerror(r)));
    }
    int r = config_.endpoint == TlsEndpoint::kServer
                ? gnutls_credentials_set(session, GNUTLS_CRD_PSK, psk_server_)
                : gnutls_credentials_set(session, GNUTLS_CRD_PSK, psk_client_);
    if (r < 0) {
      return absl::InternalError(
          absl::StrCat("Cannot set session credentials: ", gnutls_strerror(r)));
    }
    return absl::OkStatus();
  }
  if (int r = gnutls_priority_set_direct(session, base.c_str(), nullptr); r < 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "Cannot set default TLS session priority %s: %s", base, gnutls_strerror(r)));
  }
  if (int r = gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, x509_); r < 0) {
    return absl::InternalError(
        absl::StrCat("Cannot set session credentials: ", gnutls_strerror(r)));
  }
  if (config_.endpoint == TlsEndpoint::kServer) {
    // Asks for, but does not require, a client certificate: the check after the handshake
    // enforces verify-peer (as QEMU does).
    gnutls_certificate_server_set_request(session, GNUTLS_CERT_REQUEST);
  }
  return absl::OkStatus();
}

}  // namespace migemu::io
