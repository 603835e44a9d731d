// File: migration/outgoing.h
//
// One outgoing (source-side) precopy migration: the connection, the migration thread that runs
// QEMU's setup / iterate / complete flow (migration_thread() in QEMU's migration/migration.c),
// the return path, rate limiting and convergence, and the end-of-migration handling of the VM.
//
//   auto m = std::make_unique<OutgoingMigration>(env, snapshot, state, std::move(target), cb);
//   m->Start();     // returns at once; the thread connects and migrates
//   m->Cancel();    // migrate_cancel, from the main thread
//   ... `cb` is posted to the main loop when the thread is done; the owner then destroys `m`,
//   which joins the thread.
//
// Ownership: the MigrationManager owns it. `env` and `state` must outlive it.
// Thread-safety: Start/Cancel/Continue are called on the main thread; the thread works on the
// rest. The channel is shut down (not closed) by Cancel, so the thread never sees a freed fd.
#ifndef MIGEMU_MIGRATION_OUTGOING_H_
#define MIGEMU_MIGRATION_OUTGOING_H_

#include <absl/base/thread_annotations.h>
#include <absl/status/status.h>
#include <absl/synchronization/mutex.h>

#include <functional>
#include <memory>
#include <semaphore>
#include <string>
#include <thread>

#include "io/channel.h"
#include "io/socket_address.h"
#include "migration/env.h"
#include "migration/multifd/sender.h"
#include "migration/multifd_queue.h"
#include "migration/options.h"
#include "migration/qemu_file.h"
#include "migration/ram_save.h"
#include "migration/source_state.h"

namespace migemu::migration {

class OutgoingMigration final {
 public:
  // `target` is the parsed `migrate` URI. `on_finished` is posted to the main loop when the
  // migration thread has ended (after the VM was restarted or moved to postmigrate).
  OutgoingMigration(MigrationEnv& env, MigrationOptions& options,
                    MigrationOptions::Snapshot snapshot, SourceState& state,
                    io::MigrationUri target, std::function<void()> on_finished);
  ~OutgoingMigration();  // cancels if still running and joins every thread
  OutgoingMigration(const OutgoingMigration&) = delete;
  OutgoingMigration& operator=(const OutgoingMigration&) = delete;

  // SetPreopenedChannel: the channel of an fd: URI, opened by the command (before Start).
  void SetPreopenedChannel(std::unique_ptr<io::Channel> channel) {
    preopened_ = std::move(channel);
  }
  void Start();
  // Cancel: migrate_fd_cancel(): moves a running migration to `cancelling`, kicks a
  // pre-switchover pause, and shuts the channels down so blocked I/O returns.
  void Cancel();
  // Continue: releases a pause-before-switchover (migrate-continue).
  void Continue();
  // Join: waits for the migration thread (and its helpers) to end.
  void Join();

 private:
  void Run(std::stop_token stop) noexcept;
  absl::Status Connect(std::stop_token stop);
  absl::Status Setup();
  void Loop(std::stop_token stop);
  absl::Status Completion();
  absl::Status MaybePause(qapi::MigrationStatus* current_active);
  void Fail(const absl::Status& error);
  void IterationFinish();
  // Rate limiting: true if the window's budget is used; sleeps to the end of the window.
  bool RateLimit(std::stop_token stop);
  void UpdateCounters(int64_t now_ms);
  void StartReturnPath();
  void ReturnPathMain() noexcept;
  absl::Status AwaitReturnPath();
  void Throttle(uint64_t bytes_dirty_period, uint64_t bytes_dirty_threshold);
  void ShutdownChannels();
  // StartMultifd: creates and starts the sender (after the main channel connected, as QEMU's
  // multifd_save_setup runs from migrate_fd_connect).
  absl::Status StartMultifd(std::stop_token stop);

  MigrationEnv& env_;
  MigrationOptions& options_;
  const MigrationOptions::Snapshot snap_;
  SourceState& state_;
  const io::MigrationUri target_;
  std::function<void()> on_finished_;

  absl::Mutex channel_mu_;
  std::unique_ptr<io::Channel> channel_ ABSL_GUARDED_BY(channel_mu_);
  bool cancelled_ ABSL_GUARDED_BY(channel_mu_) = false;
  io::Channel* ch_ = nullptr;  // the thread's view of channel_ (set once connected)
  std::unique_ptr<io::Channel> preopened_;

  std::unique_ptr<QemuFileWriter> writer_;
  std::unique_ptr<RamSaver> ram_;
  // The multifd sender (capability `multifd`): set and reset by the migration thread under
  // channel_mu_ (so Cancel can shut it down); used by that thread without the lock. Declared
  // after writer_, which it accounts into, so it goes first.
  std::unique_ptr<MultifdSender> multifd_;

  // Pause before switchover (QEMU's pause_sem).
  std::counting_semaphore<1024> pause_sem_{0};

  // Iteration bookkeeping (migration thread only).
  int64_t iteration_start_ms_ = 0;
  uint64_t iteration_initial_bytes_ = 0;
  uint64_t iteration_initial_pages_ = 0;
  uint64_t threshold_size_ = 0;
  bool vm_was_running_ = false;
  int throttle_pct_ = 0;

  // Return path.
  absl::Mutex rp_mu_;
  bool rp_error_ ABSL_GUARDED_BY(rp_mu_) = false;
  std::string rp_error_text_ ABSL_GUARDED_BY(rp_mu_);
  bool rp_shut_ ABSL_GUARDED_BY(rp_mu_) = false;
  std::jthread rp_thread_;

  std::jthread thread_;  // declared last: joined before the members it uses are destroyed
};

}  // namespace migemu::migration

#endif  // MIGEMU_MIGRATION_OUTGOING_H_
