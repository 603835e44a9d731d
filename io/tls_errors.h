// File: io/tls_errors.h
//
// Error texts and constants of the TLS layer, copied from QEMU 7.2 (crypto/tlscreds*.c,
// crypto/tlssession.c, io/channel-tls.c, migration/tls.c, authz/) and checked against the
// installed binary. Texts with %s are absl::StrFormat formats.
#ifndef MIGEMU_IO_TLS_ERRORS_H_
#define MIGEMU_IO_TLS_ERRORS_H_

namespace migemu::io {

// CONFIG_TLS_PRIORITY of Debian's QEMU 7.2 build, and the suites crypto/tlssession.c adds for PSK.
inline constexpr char kTlsDefaultPriority[] = "NORMAL";
inline constexpr char kTlsPriorityAdditionalPsk[] = "+ECDHE-PSK:+DHE-PSK:+PSK";

// ---- crypto/tlscreds*.c ----------------------------------------------------------------------
inline constexpr char kErrTlsMissingDir[] = "Missing 'dir' property value";
inline constexpr char kErrTlsPskServerUsername[] =
    "username should not be set when endpoint=server";
inline constexpr char kFmtNoSecret[] = "No secret with id '%s'";
inline constexpr char kFmtPropertyNotWritable[] = "Property '%s.loaded' is not writable";

// ---- crypto/tlssession.c ---------------------------------------------------------------------
inline constexpr char kFmtTlsHandshakeFailed[] = "TLS handshake failed: %s";
inline constexpr char kFmtTlsVerifyFailed[] = "Verify failed: %s";
inline constexpr char kErrTlsNoCertificatePeers[] = "No certificate peers";
inline constexpr char kFmtTlsHostnameMismatch[] = "Certificate does not match the hostname %s";
inline constexpr char kErrTlsNoHostname[] = "No hostname for certificate validation";
inline constexpr char kFmtTlsAuthzDenied[] = "TLS x509 authz check for %s is denied";
inline constexpr char kErrTlsExpired[] = "The certificate has expired";
inline constexpr char kErrTlsNotActivated[] = "The certificate is not yet activated";

// ---- io/channel-tls.c (errno text appended) -------------------------------------------------
inline constexpr char kErrTlsRead[] = "Cannot read from TLS channel";
inline constexpr char kErrTlsWrite[] = "Cannot write to TLS channel";

// ---- migration/tls.c ------------------------------------------------------------------------
inline constexpr char kFmtNoTlsCreds[] = "No TLS credentials with id '%s'";
inline constexpr char kFmtNotTlsCreds[] = "Object with id '%s' is not TLS credentials";

// ---- authz/base.c ---------------------------------------------------------------------------
inline constexpr char kFmtNoAuthz[] = "Cannot find QAuthZ object ID %s";
inline constexpr char kFmtNotAuthz[] = "Object '%s' is not a QAuthZ subclass";

// CertStatusReason: the text QEMU gives for a gnutls certificate verification status.
const char* CertStatusReason(unsigned int status);

}  // namespace migemu::io

#endif  // MIGEMU_IO_TLS_ERRORS_H_
