// File: migration/incoming.h
//
// The destination side of one incoming migration (QEMU's MigrationIncomingState and
// process_incoming_migration_co/_bh): it listens (tcp/unix) or opens (exec/fd) the channel,
// tells the main stream from multifd channels by their first bytes, runs the loader on a load
// thread into guest RAM, answers the return path, and at the end starts the VM (or leaves it
// paused) exactly as QEMU does. A failed load ends the process with status 1, as QEMU 7.2 does,
// after printing QEMU's messages.
//
// Deliberate improvement over 7.2 (documented in docs/migration.md): QEMU 7.2 takes the first
// accepted connection as the main stream; migemu peeks at the first four bytes ("QEVM" is the
// main stream, 0x11223344 a multifd channel), so channels arriving before the main connection
// cannot be mistaken for it.
//
// With `tls-creds` set, every accepted connection (and an exec:/fd: channel) first runs a TLS
// server handshake on its own thread (migration_tls_channel_process_incoming()); the first
// plaintext bytes then tell the main stream from multifd channels as above. A failed handshake
// is printed and the connection dropped; the destination keeps listening, as QEMU 7.2 does.
//
// Ownership: the MigrationManager owns it; `env` and `status` must outlive it.
// Thread-safety: Start and the accept path run on the main loop; the load thread only touches
// the channel it was given and guest RAM; completion is posted back to the main loop.
#ifndef MIGEMU_MIGRATION_INCOMING_H_
#define MIGEMU_MIGRATION_INCOMING_H_

#include <absl/base/thread_annotations.h>
#include <absl/status/status.h>
#include <absl/synchronization/mutex.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "io/channel.h"
#include "io/listener.h"
#include "io/socket_address.h"
#include "migration/env.h"
#include "migration/multifd/receiver.h"
#include "migration/options.h"
#include "migration/source_state.h"
#include "qapi/qapi-types-sockets.h"

namespace migemu::migration {

class IncomingMigration final {
 public:
  // `on_done(status)` runs on the main loop when the load ended: OK after the VM was started or
  // left paused; an error after the failure was reported (the owner then exits the process).
  IncomingMigration(MigrationEnv& env, MigrationOptions& options, StatusCell& status,
                    std::function<void(absl::Status)> on_done);
  ~IncomingMigration();  // stops listening, shuts channels down, joins the load thread
  IncomingMigration(const IncomingMigration&) = delete;
  IncomingMigration& operator=(const IncomingMigration&) = delete;

  // Start: listens on / opens `uri` (already parsed). Errors are the socket layer's texts.
  absl::Status Start(const io::MigrationUri& uri);

  // The bound listener addresses, for query-migrate's socket-address.
  std::vector<qapi::SocketAddress> SocketAddresses() const;

  // Shutdown: stop listening and unblock the load thread (process exit).
  void Shutdown();

 private:
  void OnAccept(absl::StatusOr<std::unique_ptr<io::SocketChannel>> accepted);
  void Classify(io::SocketChannel* channel);
  // Dispatch: routes a connection whose first four bytes are `magic` (main stream or multifd).
  void Dispatch(std::unique_ptr<io::Channel> channel, uint32_t magic, int socket_fd);
  // StartTlsHandshake: main loop; HandshakeMain runs on the new thread, then posts Dispatch.
  void StartTlsHandshake(std::unique_ptr<io::Channel> channel, int socket_fd);
  void HandshakeMain(std::unique_ptr<io::Channel> channel, int socket_fd, std::atomic<bool>* done,
                     std::stop_token stop) noexcept;
  void StartLoad(std::unique_ptr<io::Channel> channel);
  void LoadMain() noexcept;
  void PrefaultMain(std::stop_token stop) noexcept;
  void FinishOnLoop(absl::Status load_status);
  void SendReturnPath(uint16_t type, uint32_t value);

  MigrationEnv& env_;
  MigrationOptions& options_;
  StatusCell& status_;
  std::function<void(absl::Status)> on_done_;
  MigrationOptions::Snapshot snap_;

  std::unique_ptr<io::Listener> listener_;
  std::vector<qapi::SocketAddress> addresses_;
  // Accepted connections whose first bytes have not arrived yet (main loop only).
  struct Pending {
    std::unique_ptr<io::SocketChannel> channel;
    std::unique_ptr<util::FdWatch> watch;
  };
  std::vector<Pending> pending_;
  // TLS server handshakes in progress or finished but not yet joined (main loop only). Each
  // thread owns its connection until it posts the result to the loop; Shutdown() stops them
  // (which shuts their sockets down) and the destructor joins them.
  struct Handshake {
    std::atomic<bool> done{false};
    std::jthread thread;
  };
  std::vector<std::unique_ptr<Handshake>> handshakes_;
  // Closures posted by handshake threads hold a weak reference: they do nothing once this
  // object is gone.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);

  absl::Mutex mu_;
  std::unique_ptr<io::Channel> main_ ABSL_GUARDED_BY(mu_);
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  io::Channel* main_raw_ = nullptr;  // the load thread's view
  int main_socket_fd_ = -1;          // main_'s socket when it is one (owned by main_)
  bool return_path_open_ = false;    // load thread only
  absl::Mutex rp_write_mu_;

  // The multifd receiver (capability `multifd`), created by Start() before any connection is
  // accepted; destroyed (its threads joined) after the load thread, before main_.
  std::unique_ptr<MultifdReceiver> multifd_;

  // Faults guest RAM in ahead of the incoming pages on the other core (see PrefaultMain).
  std::jthread prefault_thread_;
  std::jthread load_thread_;  // last: joined before the rest is destroyed
};

}  // namespace migemu::migration

#endif  // MIGEMU_MIGRATION_INCOMING_H_
