// File: io/tls_channel.h
//
// io::TlsChannel: TLS (GnuTLS) over any other Channel, client or server (QEMU's QIOChannelTLS
// with its QCryptoTLSSession). Handshake() runs the whole handshake on the calling thread, then
// checks the peer as QEMU does (qcrypto_tls_session_check_credentials): for x509 credentials
// with verify-peer, the peer certificate chain, its validity period, the authz-list check of the
// client's distinguished name (server side, when an authorizer is given) and the host name
// (client side: "Certificate does not match the hostname %s", or "No hostname for certificate
// validation" when there is none).
//
//   io::TlsSessionParams p{io::TlsEndpoint::kClient, "127.0.0.1", nullptr};
//   MIG_ASSIGN_OR_RETURN(std::unique_ptr<io::TlsChannel> tls,
//                        io::TlsChannel::Handshake(std::move(socket), creds, p, stop));
//   MIG_RETURN_IF_ERROR(tls->WriteAll(buf, len));
//
// A TlsChannel never offers Feature::kZeroCopySend: every write is encrypted into a buffer
// GnuTLS reuses, so the kernel must copy it (this is why QEMU refuses zero-copy with TLS).
// Writev() corks the whole iovec into full-size records. A peer that closes without a TLS
// close_notify reads as end-of-file (the migration stream frames itself; QEMU 7.2 reports it as
// an error instead, see docs/tls.md).
//
// Thread-safety: as io::Channel: one reader and one writer may run concurrently (GnuTLS allows
// one thread in record_recv and one in record_send), Shutdown() from any thread. A stop request
// on the token given to Handshake() shuts the inner channel down, which ends the handshake.
#ifndef MIGEMU_IO_TLS_CHANNEL_H_
#define MIGEMU_IO_TLS_CHANNEL_H_

#include <absl/status/statusor.h>
#include <gnutls/gnutls.h>

#include <atomic>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>

#include "io/channel.h"
#include "io/tls_creds.h"

namespace migemu::io {

struct TlsSessionParams {
  TlsEndpoint endpoint = TlsEndpoint::kClient;
  // Client: the name the server certificate must carry ("" = none; x509 then fails the check).
  std::string hostname;
  // Server: when set, decides whether the client's distinguished name may connect (tls-authz);
  // an error is reported as is (e.g. "Cannot find QAuthZ object ID %s").
  std::function<absl::StatusOr<bool>(const std::string& dn)> authz;
};

class TlsChannel final : public Channel {
 public:
  // Handshake: wraps `inner` (blocking mode) and completes the TLS handshake and the peer
  // checks. Errors: QEMU's texts ("TLS handshake failed: %s", "Verify failed: %s", the checks
  // above, "Credentials endpoint doesn't match session"); kCancelled when `stop` was requested.
  static absl::StatusOr<std::unique_ptr<TlsChannel>> Handshake(
      std::unique_ptr<Channel> inner, std::shared_ptr<const TlsCreds> creds,
      TlsSessionParams params, std::stop_token stop = {});
  ~TlsChannel() override;

  // Peek: reads up to `len` plaintext bytes (fewer only at EOF) without consuming them: the
  // next Readv returns them first. Used to tell the main stream from multifd channels.
  absl::StatusOr<size_t> Peek(void* buf, size_t len);

  // The peer's certificate distinguished name (x509 with verify-peer), else "".
  const std::string& peer_name() const { return peer_name_; }
  // SessionDescription: protocol and cipher suite, e.g. "(TLS1.3)-(ECDHE-SECP256R1)-(AES-256-GCM)".
  std::string SessionDescription() const;
  Channel& inner() { return *inner_; }

  absl::StatusOr<size_t> Readv(absl::Span<const iovec> iov) override;
  absl::StatusOr<size_t> Writev(absl::Span<const iovec> iov, uint32_t flags) override;
  absl::Status Shutdown(ShutdownDirection direction) override;
  absl::Status Close() override;
  bool HasFeature(Feature feature) const override;
  absl::Status SetBlocking(bool blocking) override;
  absl::Status WaitReadable() override;
  absl::Status WaitWritable() override;
  int PollFd() const override { return inner_->PollFd(); }
  std::string Name() const override { return "tls:" + inner_->Name(); }
  ChannelStats Stats() const override;

 private:
  TlsChannel(std::unique_ptr<Channel> inner, std::shared_ptr<const TlsCreds> creds)
      : inner_(std::move(inner)), creds_(std::move(creds)) {}
  absl::Status CheckCredentials(const TlsSessionParams& params);
  absl::Status CheckCertificate(const TlsSessionParams& params);
  absl::StatusOr<size_t> RecvRecord(void* buf, size_t len);
  static ssize_t Push(gnutls_transport_ptr_t self, const giovec_t* iov, int iovcnt);
  static ssize_t Pull(gnutls_transport_ptr_t self, void* buf, size_t len);

  std::unique_ptr<Channel> inner_;
  std::shared_ptr<const TlsCreds> creds_;  // outlives session_ (QEMU holds a reference)
  gnutls_session_t session_ = nullptr;
  std::string peer_name_;
  std::string prefix_;  // peeked plaintext not yet returned by Readv (reader only)
  size_t prefix_off_ = 0;
  // Whether the inner channel's last failed read/write was "would block". Atomic: GnuTLS may
  // write from the reading thread (TLS 1.3 key update replies).
  std::atomic<bool> inner_would_block_read_{false};
  std::atomic<bool> inner_would_block_write_{false};
  std::atomic<uint64_t> bytes_read_{0};
  std::atomic<uint64_t> bytes_written_{0};
};

}  // namespace migemu::io

#endif  // MIGEMU_IO_TLS_CHANNEL_H_
