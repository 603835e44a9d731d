#include "io/tls_channel.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <vector>

#include <gnutls/x509.h>

#include "io/errors.h"
#include "io/internal/iov.h"
#include "io/tls_errors.h"
#include "util/errno_status.h"

namespace migemu::io {

absl::StatusOr<std::unique_ptr<TlsChannel>> TlsChannel::Handshake(
    std::unique_ptr<Channel> inner, std::shared_ptr<const TlsCreds> creds, TlsSessionParams params,
    std::stop_token stop) {
  Channel* raw = inner.get();
  std::unique_ptr<TlsChannel> ch(  // NOLINT: private constructor
      new TlsChannel(std::move(inner), std::move(creds)));
  if (ch->creds_->endpoint() != params.endpoint) {
    return absl::InvalidArgumentError("Credentials endpoint doesn't match session");
  }
  const unsigned int flags =
      params.endpoint == TlsEndpoint::kServer ? GNUTLS_SERVER : GNUTLS_CLIENT;
  if (int r = gnutls_init(&ch->session_, flags); r < 0) {
    ch->session_ = nullptr;
    return absl::InternalError(absl::StrCat("Cannot initialize TLS session: ", gnutls_strerror(r)));
  }
  if (absl::Status s = ch->creds_->ApplyTo(ch->session_); !s.ok()) {
    return s;
  }
  gnutls_transport_set_ptr(ch->session_, ch.get());
  gnutls_transport_set_vec_push_function(ch->session_, &TlsChannel::Push);
  gnutls_transport_set_pull_function(ch->session_, &TlsChannel::Pull);

  // A stop request (cancel, shutdown) shuts the transport down: the blocked read or write in
  // the handshake returns and the handshake fails.
  std::stop_callback on_stop(stop,
                             [raw] { raw->Shutdown(ShutdownDirection::kBoth).IgnoreError(); });
  while (true) {
    const int r = gnutls_handshake(ch->session_);
    if (r == 0) {
      break;
    }
    if (stop.stop_requested()) {
      return absl::CancelledError("TLS handshake cancelled");
    }
    if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
      // Only a non-blocking inner channel gets here: wait for it, then continue.
      absl::Status w = gnutls_record_get_direction(ch->session_) == 1 ? raw->WaitWritable()
                                                                      : raw->WaitReadable();
      if (!w.ok()) {
        return w;
      }
      continue;
    }
    if (gnutls_error_is_fatal(r) == 0) {
      continue;  // a warning alert: keep going
    }
    return absl::UnavailableError(absl::StrFormat(kFmtTlsHandshakeFailed, gnutls_strerror(r)));
  }
  if (absl::Status s = ch->CheckCredentials(params); !s.ok()) {
    return s;
  }
  return ch;
}

TlsChannel::~TlsChannel() {
  if (session_ != nullptr) {
    gnutls_deinit(session_);
  }
}

absl::Status TlsChannel::CheckCredentials(const TlsSessionParams& params) {
  // Anonymous and PSK sessions have nothing more to check; x509 only with verify-peer.
  if (creds_->kind() != TlsCredsKind::kX509 || !creds_->verify_peer()) {
    return absl::OkStatus();
  }
  return CheckCertificate(params);
}

absl::Status TlsChannel::CheckCertificate(const TlsSessionParams& params) {
  unsigned int status = 0;
  if (int r = gnutls_certificate_verify_peers2(session_, &status); r < 0) {
    return absl::PermissionDeniedError(absl::StrFormat(kFmtTlsVerifyFailed, gnutls_strerror(r)));
  }
  if (status != 0) {
    return absl::PermissionDeniedError(CertStatusReason(status));
  }
  unsigned int ncerts = 0;
  const gnutls_datum_t* certs = gnutls_certificate_get_peers(session_, &ncerts);
  if (certs == nullptr) {
    return absl::PermissionDeniedError(kErrTlsNoCertificatePeers);
  }
  const time_t now = std::time(nullptr);
  for (unsigned int i = 0; i < ncerts; ++i) {
    gnutls_x509_crt_t cert = nullptr;
    if (int r = gnutls_x509_crt_init(&cert); r < 0) {
      return absl::InternalError(
          absl::StrCat("Cannot initialize certificate: ", gnutls_strerror(r)));
    }
    std::unique_ptr<gnutls_x509_crt_int, void (*)(gnutls_x509_crt_t)> guard(cert,
                                                                            gnutls_x509_crt_deinit);
    if (int r = gnutls_x509_crt_import(cert, &certs[i], GNUTLS_X509_FMT_DER); r < 0) {
      return absl::PermissionDeniedError(
          absl::StrCat("Cannot import certificate: ", gnutls_strerror(r)));
    }
    if (gnutls_x509_crt_get_expiration_time(cert) < now) {
      return absl::PermissionDeniedError(kErrTlsExpired);
    }
    if (gnutls_x509_crt_get_activation_time(cert) > now) {
      return absl::PermissionDeniedError(kErrTlsNotActivated);
    }
    if (i != 0) {
      continue;
    }
    std::string dn(1024, '\0');
    size_t size = dn.size();
    int r = gnutls_x509_crt_get_dn(cert, dn.data(), &size);
    if (r == GNUTLS_E_SHORT_MEMORY_BUFFER) {
      dn.resize(size);
      r = gnutls_x509_crt_get_dn(cert, dn.data(), &size);
    }
    if (r < 0) {
      return absl::PermissionDeniedError(
          absl::StrCat("Cannot get client distinguished name: ", gnutls_strerror(r)));
    }
    dn.resize(strnlen(dn.data(), dn.size()));
    peer_name_ = dn;
    if (params.authz) {
      absl::StatusOr<bool> allowed = params.authz(dn);
      if (!allowed.ok()) {
        return allowed.status();
      }
      if (!*allowed) {
        return absl::PermissionDeniedError(absl::StrFormat(kFmtTlsAuthzDenied, dn));
      }
    }
    if (!params.hostname.empty()) {
      if (gnutls_x509_crt_check_hostname(cert, params.hostname.c_str()) == 0) {
        return absl::PermissionDeniedError(
            absl::StrFormat(kFmtTlsHostnameMismatch, params.hostname));
      }
    } else if (creds_->endpoint() == TlsEndpoint::kClient) {
      return absl::PermissionDeniedError(kErrTlsNoHostname);
    }
  }
  return absl::OkStatus();
}

// ---- transport callbacks (GnuTLS -> inner channel) --------------------------------------------

ssize_t TlsChannel::Push(gnutls_transport_ptr_t self, const giovec_t* iov, int iovcnt) {
  auto* ch = static_cast<TlsChannel*>(self);
  std::vector<iovec> v(static_cast<size_t>(iovcnt));
  for (int i = 0; i < iovcnt; ++i) {
    v[static_cast<size_t>(i)] = iovec{iov[i].iov_base, iov[i].iov_len};
  }
  absl::StatusOr<size_t> n = ch->inner_->Writev(v, kWriteNone);
  if (!n.ok()) {
    ch->inner_would_block_write_ = IsWouldBlock(n.status());
    gnutls_transport_set_errno(ch->session_, ch->inner_would_block_write_ ? EAGAIN : EIO);
    return -1;
  }
  return static_cast<ssize_t>(*n);
}

ssize_t TlsChannel::Pull(gnutls_transport_ptr_t self, void* buf, size_t len) {
  auto* ch = static_cast<TlsChannel*>(self);
  iovec v{buf, len};
  absl::StatusOr<size_t> n = ch->inner_->Readv(absl::MakeConstSpan(&v, 1));
  if (!n.ok()) {
    ch->inner_would_block_read_ = IsWouldBlock(n.status());
    gnutls_transport_set_errno(ch->session_, ch->inner_would_block_read_ ? EAGAIN : EIO);
    return -1;
  }
  return static_cast<ssize_t>(*n);  // 0: EOF
}

// ---- Channel -----------------------------------------------------------------------------------

absl::StatusOr<size_t> TlsChannel::RecvRecord(void* buf, size_t len) {
  while (true) {
    const ssize_t r = gnutls_record_recv(session_, buf, len);
    if (r >= 0) {
      bytes_read_.fetch_add(static_cast<uint64_t>(r), std::memory_order_relaxed);
      return static_cast<size_t>(r);
    }
    if (r == GNUTLS_E_PREMATURE_TERMINATION) {
      return 0;  // the peer closed without close_notify: end of file (see header)
    }
    if (r == GNUTLS_E_INTERRUPTED) {
      continue;
    }
    if (r == GNUTLS_E_AGAIN) {
      if (inner_would_block_read_) {
        return absl::UnavailableError(kErrWouldBlock);
      }
      continue;
    }
    if (gnutls_error_is_fatal(static_cast<int>(r)) == 0) {
      continue;
    }
    return util::ErrnoStatus(EIO, kErrTlsRead);
  }
}

absl::StatusOr<size_t> TlsChannel::Peek(void* buf, size_t len) {
  while (prefix_.size() - prefix_off_ < len) {
    char tmp[256];
    const size_t want = std::min(sizeof(tmp), len - (prefix_.size() - prefix_off_));
    absl::StatusOr<size_t> n = RecvRecord(tmp, want);
    if (!n.ok()) {
      return n.status();
    }
    if (*n == 0) {
      break;
    }
    prefix_.append(tmp, *n);
  }
  const size_t have = std::min(len, prefix_.size() - prefix_off_);
  std::memcpy(buf, prefix_.data() + prefix_off_, have);
  return have;
}

absl::StatusOr<size_t> TlsChannel::Readv(absl::Span<const iovec> iov) {
  size_t total = 0;
  if (prefix_off_ < prefix_.size()) {
    for (const iovec& v : iov) {
      const size_t n = std::min(v.iov_len, prefix_.size() - prefix_off_);
      std::memcpy(v.iov_base, prefix_.data() + prefix_off_, n);
      prefix_off_ += n;
      total += n;
      if (prefix_off_ == prefix_.size()) {
        break;
      }
    }
    if (prefix_off_ == prefix_.size()) {
      prefix_.clear();
      prefix_off_ = 0;
    }
    return total;
  }
  for (const iovec& v : iov) {
    size_t off = 0;
    while (off < v.iov_len) {
      // After the first bytes, only take what GnuTLS already has decrypted: never block for
      // more than one record.
      if (total > 0 && gnutls_record_check_pending(session_) == 0) {
        return total;
      }
      absl::StatusOr<size_t> n = RecvRecord(static_cast<char*>(v.iov_base) + off, v.iov_len - off);
      if (!n.ok()) {
        if (total > 0) {
          return total;
        }
        return n.status();
      }
      if (*n == 0) {
        return total;
      }
      off += *n;
      total += *n;
    }
  }
  return total;
}

absl::StatusOr<size_t> TlsChannel::Writev(absl::Span<const iovec> iov, uint32_t flags) {
  if (absl::Status s = internal::CheckWriteFlags(*this, flags, 0); !s.ok()) {
    return s;
  }
  size_t total = 0;
  // Cork: the whole iovec goes out as full-size records in as few writes as possible.
  gnutls_record_cork(session_);
  for (const iovec& v : iov) {
    size_t off = 0;
    while (off < v.iov_len) {
      const ssize_t r =
          gnutls_record_send(session_, static_cast<const char*>(v.iov_base) + off, v.iov_len - off);
      if (r < 0) {
        gnutls_record_uncork(session_, 0);
        return util::ErrnoStatus(EIO, kErrTlsWrite);
      }
      off += static_cast<size_t>(r);
    }
    total += v.iov_len;
  }
  while (true) {
    const int r = gnutls_record_uncork(session_, GNUTLS_RECORD_WAIT);
    if (r >= 0) {
      break;
    }
    if ((r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)) {
      if (inner_would_block_write_) {
        if (absl::Status w = inner_->WaitWritable(); !w.ok()) {
          return w;
        }
      }
      continue;
    }
    return util::ErrnoStatus(EIO, kErrTlsWrite);
  }
  bytes_written_.fetch_add(total, std::memory_order_relaxed);
  return total;
}

absl::Status TlsChannel::Shutdown(ShutdownDirection direction) {
  return inner_->Shutdown(direction);
}

absl::Status TlsChannel::Close() { return inner_->Close(); }

bool TlsChannel::HasFeature(Feature feature) const {
  // Never zero-copy (the ciphertext buffer is reused) nor fd passing (QIOChannelTLS neither).
  return feature == Feature::kShutdown && inner_->HasFeature(feature);
}

absl::Status TlsChannel::SetBlocking(bool blocking) { return inner_->SetBlocking(blocking); }

absl::Status TlsChannel::WaitReadable() {
  if (prefix_off_ < prefix_.size() || gnutls_record_check_pending(session_) > 0) {
    return absl::OkStatus();
  }
  return inner_->WaitReadable();
}

absl::Status TlsChannel::WaitWritable() { return inner_->WaitWritable(); }

std::string TlsChannel::SessionDescription() const {
  char* desc = gnutls_session_get_desc(session_);
  std::string out = desc != nullptr ? desc : "";
  gnutls_free(desc);
  return out;
}

ChannelStats TlsChannel::Stats() const {
  ChannelStats s;
  s.bytes_read = bytes_read_.load(std::memory_order_relaxed);
  s.bytes_written = bytes_written_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace migemu::io
