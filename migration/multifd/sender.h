// File: migration/multifd/sender.h
//
// MultifdSender: the source side of multifd (QEMU 7.2 multifd_save_setup / multifd_queue_page /
// multifd_send_sync_main / multifd_send_thread). The migration thread queues dirty non-zero
// pages; full batches of 128 pages of one RAM block go round-robin to idle channels; each
// channel thread (`multifdsend_<i>`) connects, sends its MultiFDInit_t, then writes one packet
// per batch: the 1344-byte header followed by the guest pages themselves (`none`: iovecs into
// guest RAM, optionally with MSG_ZEROCOPY) or the channel's compressed stream (zlib/zstd).
//
//   MultifdSender sender(config, connector, counters, main_file);
//   MIG_RETURN_IF_ERROR(sender.Start());           // every channel connects on its own thread
//   MIG_RETURN_IF_ERROR(sender.SyncMain());        // end of RAM setup, before EOS
//   for (page : dirty) MIG_RETURN_IF_ERROR(sender.QueuePage(block, offset));
//   MIG_RETURN_IF_ERROR(sender.SyncMain());        // before every EOS
//   // migrate_cancel, from any thread: sender.Shutdown();
//   // ~MultifdSender: Shutdown() + join every thread ever started
//
// Lifetimes (docs/multifd.md): a channel's thread is started by Start() and *is* the connect,
// so "started" means "its thread exists" and the destructor joins it whatever stage it reached
// (connecting, sending the init packet, idle, writing). No callback outlives the sender: there
// is none. Channels and buffers are destroyed only after every thread has been joined, so the
// QEMU 7.x crash (cleanup freeing state a still-connecting channel wrote to later) cannot occur.
//
// Errors: the first error of any channel (connect, write, compression, flush) is kept,
// Shutdown()s every channel, aborts pending connects and wakes every waiter; QueuePage and
// SyncMain then return it. Errors that follow a Shutdown() are not recorded.
//
// Thread-safety: QueuePage, SyncMain and Start belong to one thread (the migration thread).
// Shutdown, error and Stats may be called from any thread. The destructor must not run
// concurrently with any other member.
#ifndef MIGEMU_MIGRATION_MULTIFD_SENDER_H_
#define MIGEMU_MIGRATION_MULTIFD_SENDER_H_

#include <absl/base/thread_annotations.h>
#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include <absl/synchronization/mutex.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <stop_token>
#include <vector>

#include "io/channel.h"
#include "migration/multifd/config.h"
#include "migration/multifd_queue.h"
#include "migration/qemu_file.h"
#include "migration/stats.h"
#include "system/guest_memory.h"

namespace migemu::migration {

class MultifdSender final : public MultifdPageQueue {
 public:
  // Opens one more connection to the destination (blocking; must return promptly, with an
  // error, once `stop` is requested). The caller makes it ready: TCP_NODELAY, SO_ZEROCOPY
  // enabled when config.zero_copy (a channel without io::Feature::kZeroCopySend then fails the
  // migration with "Zero copy send feature not detected in host kernel"), TLS wrapped.
  // Called from the channel threads, concurrently.
  using Connector = std::function<absl::StatusOr<std::unique_ptr<io::Channel>>(std::stop_token)>;
  // Told the first error once, on the thread that hit it (not called for errors QueuePage or
  // SyncMain return to their caller anyway, nor for errors after Shutdown()). It runs after the
  // error is recorded: SyncMain and error() may report the error before the callback has
  // returned; the destructor joins it. Must not call back into the sender except
  // error()/Shutdown().
  using ErrorCallback = std::function<void(const absl::Status&)>;

  // What each channel did (for query-migrate style reporting and tests).
  struct ChannelStats {
    bool connected = false;
    uint64_t packets = 0;        // packets written, init packet excluded
    uint64_t pages = 0;          // pages carried
    uint64_t syncs = 0;          // SYNC packets written
    uint64_t payload_bytes = 0;  // next_packet_size summed (compressed size for zlib/zstd)
  };

  // `counters` and `main_file` must outlive the sender; `main_file` is only touched by the
  // thread calling QueuePage/SyncMain (multifd bytes count against the main stream's rate
  // limit, as in QEMU).
  MultifdSender(MultifdConfig config, Connector connect, RamCounters& counters,
                QemuFileWriter& main_file);
  ~MultifdSender() override;
  MultifdSender(const MultifdSender&) = delete;
  MultifdSender& operator=(const MultifdSender&) = delete;

  // SetErrorCallback: before Start().
  void SetErrorCallback(ErrorCallback on_error);

  // Start: validates the configuration (zero copy with compression is refused with QEMU's
  // "Zero copy only available for non-compressed non-TLS multifd migration"), sets up each
  // channel's compression stream, then starts every channel thread, which connects. Returns
  // before the connections are made; the first SyncMain waits for all of them.
  absl::Status Start();

  // MultifdPageQueue. QueuePage: `offset` is page aligned and inside `block`.
  absl::Status QueuePage(system::RamBlock& block, uint64_t offset) override;
  absl::Status SyncMain() override;

  // Shutdown: migrate_cancel / cleanup. Aborts connects, shuts every channel down, wakes every
  // waiter; idempotent, any thread. Does not join (the destructor does).
  void Shutdown();

  // error: the first channel error, OK if none.
  absl::Status error() const;
  std::vector<ChannelStats> Stats() const;
  // packet_num: the next global packet number (how many packets were assigned).
  uint64_t packet_num() const;

 private:
  struct Batch;
  struct Slot;

  void ChannelMain(Slot& slot) noexcept;
  // `channel` holds the connection until the slot owns it.
  absl::Status RunChannel(Slot& slot, std::unique_ptr<io::Channel>& channel);
  // multifd_send_pages(): hands the current batch to an idle channel, waiting for one.
  absl::Status SendPages();
  void Account(uint64_t bytes);
  // Records the first error and tears everything down (multifd_send_terminate_threads).
  void Fail(const absl::Status& status) ABSL_LOCKS_EXCLUDED(mu_);
  void ShutdownChannelsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status StopStatusLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool AnyIdleLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Constant after construction.
  const MultifdConfig config_;
  const Connector connect_;
  RamCounters& counters_;
  QemuFileWriter& main_file_;
  ErrorCallback on_error_;  // set before Start()

  // Aborts connects in progress (passed to the connector).
  std::stop_source stop_;

  // The migration thread's own state.
  bool started_ = false;
  std::unique_ptr<Batch> batch_;  // the batch being filled (swapped with an idle channel's)
  int next_channel_ = 0;

  mutable absl::Mutex mu_;
  bool quit_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  uint64_t packet_num_ ABSL_GUARDED_BY(mu_) = 0;

  // Filled by Start() before any thread runs, never resized afterwards. Each slot's thread is
  // its last member; the destructor joins all threads before any slot is destroyed.
  std::vector<std::unique_ptr<Slot>> slots_;
};

}  // namespace migemu::migration

#endif  // MIGEMU_MIGRATION_MULTIFD_SENDER_H_
