// File: migration/ram_save.h
//
// The source side of the `ram` section (QEMU's RAMState in migration/ram.c): per-block
// migration bitmaps fed by bitmap syncs from the guest's dirty logs, the walk that finds dirty
// pages and sends them (zero pages as ZERO records, others as PAGE records on the main stream or
// to multifd), and the counters query-migrate reports.
//
//   RamSaver ram(memory, counters, writer, multifd_or_null, hooks);
//   ram.Setup();                       // all pages dirty, first sync, MEM_SIZE list
//   while (...) { ram.Iterate(...); }  // one ram_save_iterate()
//   ram.Complete();                    // final sync and every remaining page
//
// Ownership: borrows everything; all must outlive the saver.
// Thread-safety: used only by the migration thread.
#ifndef MIGEMU_MIGRATION_RAM_SAVE_H_
#define MIGEMU_MIGRATION_RAM_SAVE_H_

#include <absl/status/status.h>
#include <absl/time/time.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "migration/multifd_queue.h"
#include "migration/qemu_file.h"
#include "migration/ram_codec.h"
#include "migration/stats.h"
#include "system/guest_memory.h"

namespace migemu::migration {

class RamSaver final {
 public:
  struct Hooks {
    // True while the guest runs (bytes count as precopy-bytes; otherwise downtime-bytes).
    std::function<bool()> vm_running;
    // Called after every bitmap sync with the new dirty-sync-count (MIGRATION_PASS).
    std::function<void(uint64_t pass)> on_pass;
    // Auto-converge: called when the dirtying outpaces the transfer twice in a row, with the
    // bytes dirtied and the threshold of the last period (mig_throttle_guest_down).
    std::function<void(uint64_t bytes_dirty_period, uint64_t bytes_dirty_threshold)> throttle;
    // throttle-trigger-threshold, read at each sync (percent).
    std::function<uint64_t()> throttle_trigger_threshold;
  };

  RamSaver(system::GuestMemory& memory, RamCounters& counters, QemuFileWriter& writer,
           MultifdPageQueue* multifd, Hooks hooks);
  RamSaver(const RamSaver&) = delete;
  RamSaver& operator=(const RamSaver&) = delete;

  // Setup: ram_save_setup(): every page dirty, the first bitmap sync, the MEM_SIZE block list,
  // then (multifd) a sync, and EOS. Returns the writer's error if any.
  absl::Status Setup();

  // PendingBytes: dirty pages x page size (ram_save_pending); when that is below `threshold`
  // a bitmap sync runs first (as QEMU does), so the answer includes the newest dirtying.
  uint64_t PendingBytes(uint64_t threshold);

  // Iterate: ram_save_iterate(): sends dirty pages until the rate limit is hit, `max_wait`
  // passes, or no dirty page is left; then multifd sync, EOS. Returns true when the walk found
  // no dirty page left ("done").
  absl::StatusOr<bool> Iterate(absl::Duration max_wait = absl::Milliseconds(50));

  // Complete: ram_save_complete(): final sync, every remaining page regardless of rate limit,
  // multifd sync, EOS.
  absl::Status Complete();

  uint64_t dirty_pages() const { return dirty_pages_; }
  // Pages handled so far (normal + zero), for pages-per-second.
  uint64_t pages_sent() const { return pages_sent_; }

  // BitmapSync: migration_bitmap_sync(): harvest every block's dirty log.
  void BitmapSync();

 private:
  struct BlockState {
    system::RamBlock* block;
    std::vector<uint64_t> bitmap;  // one bit per page: dirty, not yet sent
  };

  // Sends the next dirty page after the cursor; returns 0 when a whole round found none.
  absl::StatusOr<int> FindAndSavePage();
  absl::Status SavePage(BlockState& b, size_t page);
  void Account(uint64_t bytes);

  system::GuestMemory& memory_;
  RamCounters& counters_;
  QemuFileWriter& writer_;
  RamEncoder encoder_;
  MultifdPageQueue* multifd_;
  Hooks hooks_;

  std::vector<BlockState> blocks_;
  uint64_t dirty_pages_ = 0;
  size_t cur_block_ = 0;
  size_t cur_page_ = 0;
  uint64_t pages_sent_ = 0;

  // Period counters of migration_bitmap_sync (rates and auto-converge).
  absl::Time time_last_sync_ = absl::InfinitePast();
  uint64_t dirty_pages_period_ = 0;
  uint64_t bytes_xfer_prev_ = 0;
  int dirty_rate_high_cnt_ = 0;
};

}  // namespace migemu::migration

#endif  // MIGEMU_MIGRATION_RAM_SAVE_H_
