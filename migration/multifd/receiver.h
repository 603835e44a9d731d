// File: migration/multifd/receiver.h
//
// MultifdReceiver: the destination side of multifd (QEMU 7.2 multifd_load_setup /
// multifd_recv_new_channel / multifd_recv_thread / multifd_recv_sync_main). Every connection
// that starts with MultiFDInit_t gets its own thread (`multifdrecv_<id>`), which reads and
// validates the init packet, then loops: read the 1344-byte header, validate it, read the
// pages straight into guest RAM (`none`: one readv into the pages; zlib/zstd: the packet's
// bytes, inflated with the channel's persistent stream into the pages). After a packet with
// the SYNC flag the thread waits until the main stream reaches the matching RAM EOS.
//
//   MultifdReceiver receiver(config, memory);
//   ram_loader.SetEosHook([&] { return receiver.SyncMain(); });
//   listener: multifd connection -> receiver.AddChannel(std::move(channel));
//   ... LoadVmState(...) on the load thread ...
//   // on failure or cancel: receiver.Shutdown();  ~MultifdReceiver joins every thread.
//
// Connections beyond `config.channels` are dropped on arrival (QEMU's "Extra incoming migration
// connection; ignoring"). Errors carry QEMU's texts (init errors prefixed with "failed to
// receive packet via multifd channel %d: "); the first one is kept, shuts every channel down
// and wakes SyncMain. A channel that reaches EOF while SyncMain waits for its SYNC makes
// SyncMain fail instead of waiting forever (QEMU 7.2 would hang).
//
// Thread-safety: AddChannel, AllConnected, Shutdown, error and Stats from any thread; SyncMain
// from the load thread. The destructor must not run concurrently with any other member.
#ifndef MIGEMU_MIGRATION_MULTIFD_RECEIVER_H_
#define MIGEMU_MIGRATION_MULTIFD_RECEIVER_H_

#include <absl/base/thread_annotations.h>
#include <absl/status/status.h>
#include <absl/synchronization/mutex.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "io/channel.h"
#include "migration/multifd/config.h"
#include "system/guest_memory.h"

namespace migemu::migration {

class MultifdReceiver final {
 public:
  // Told the first error once, on the thread that hit it (so the incoming migration can fail
  // at once, e.g. by shutting the main channel down: the loader may be blocked reading it). Not
  // called for errors SyncMain returns, nor after Shutdown(). Must not call back into the
  // receiver except error()/Shutdown().
  using ErrorCallback = std::function<void(const absl::Status&)>;

  struct ChannelStats {
    int id = -1;  // -1 until the init packet was accepted
    uint64_t packets = 0;
    uint64_t pages = 0;
    uint64_t syncs = 0;
  };

  // `memory` must outlive the receiver; its block list must not change while it runs.
  MultifdReceiver(MultifdConfig config, system::GuestMemory& memory);
  ~MultifdReceiver();
  MultifdReceiver(const MultifdReceiver&) = delete;
  MultifdReceiver& operator=(const MultifdReceiver&) = delete;

  // SetErrorCallback: before the first AddChannel.
  void SetErrorCallback(ErrorCallback on_error);

  // AddChannel: takes a connection whose first bytes are the 64-byte MultiFDInit_t (not yet
  // consumed) and starts its thread, which reads the init packet (never the caller's thread:
  // the main loop must not block on a slow peer). Returns false, closing the channel, when
  // `channels` connections were already taken or the receiver was shut down.
  bool AddChannel(std::unique_ptr<io::Channel> channel);

  // AllConnected: every channel id 0..channels-1 has sent a valid init packet.
  bool AllConnected() const;

  // SyncMain: multifd_recv_sync_main(), for RamLoader::SetEosHook: waits until every channel
  // delivered its SYNC for this round (and therefore wrote every page it carried before it),
  // then lets them all continue. Fails with the first channel error, when a channel was closed
  // before its SYNC, or after Shutdown().
  absl::Status SyncMain();

  // Shutdown: shuts every channel down and wakes every waiter; idempotent, any thread.
  void Shutdown();

  absl::Status error() const;
  std::vector<ChannelStats> Stats() const;  // in arrival order
  // packet_num: the highest packet number seen at a sync (QEMU keeps it for tracing).
  uint64_t packet_num() const;

 private:
  struct Slot;

  void ChannelMain(Slot& slot) noexcept;
  absl::Status RunChannel(Slot& slot);
  absl::Status ReceiveInit(Slot& slot);
  void Fail(const absl::Status& status) ABSL_LOCKS_EXCLUDED(mu_);
  void ShutdownChannelsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status StopStatusLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Constant after construction.
  const MultifdConfig config_;
  system::GuestMemory& memory_;

  mutable absl::Mutex mu_;
  ErrorCallback on_error_ ABSL_GUARDED_BY(mu_);
  bool quit_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  uint64_t packet_num_ ABSL_GUARDED_BY(mu_) = 0;
  int registered_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<Slot*> by_id_ ABSL_GUARDED_BY(mu_);
  // Arrival order. Slots are only appended (under mu_), and destroyed by the destructor after
  // every thread was joined.
  std::vector<std::unique_ptr<Slot>> slots_ ABSL_GUARDED_BY(mu_);
};

}  // namespace migemu::migration

#endif  // MIGEMU_MIGRATION_MULTIFD_RECEIVER_H_
