// File: migration/dirty_rate.h
//
// calc-dirty-rate / query-dirty-rate (QEMU's migration/dirtyrate.c): measures how fast the guest
// dirties memory, by page sampling (CRC32 of random pages before and after the period) or with
// the dirty log (mode dirty-bitmap). The dirty-ring mode needs KVM's dirty ring, which this
// machine (like QEMU under TCG) does not have.
//
// Thread-safety: Start/Query on the main thread; the measurement runs on an owned thread.
#ifndef MIGEMU_MIGRATION_DIRTY_RATE_H_
#define MIGEMU_MIGRATION_DIRTY_RATE_H_

#include <absl/base/thread_annotations.h>
#include <absl/status/status.h>
#include <absl/synchronization/mutex.h>

#include <atomic>
#include <thread>

#include "qapi/qapi-types-migration.h"
#include "system/guest_memory.h"

namespace migemu::migration {

class DirtyRateMeter final {
 public:
  explicit DirtyRateMeter(system::GuestMemory& memory) : memory_(memory) {}
  ~DirtyRateMeter();  // stops and joins a running measurement
  DirtyRateMeter(const DirtyRateMeter&) = delete;
  DirtyRateMeter& operator=(const DirtyRateMeter&) = delete;

  // Start: qmp_calc_dirty_rate with its checks and texts.
  absl::Status Start(const qapi::CalcDirtyRateArg& arg);
  qapi::DirtyRateInfo Query() const;

 private:
  void Measure(std::stop_token stop, int64_t calc_time, uint64_t sample_pages,
               qapi::DirtyRateMeasureMode mode) noexcept;

  system::GuestMemory& memory_;
  std::atomic<qapi::DirtyRateStatus> status_{qapi::DirtyRateStatus::kUnstarted};
  mutable absl::Mutex mu_;
  qapi::DirtyRateMeasureMode mode_ ABSL_GUARDED_BY(mu_) = qapi::DirtyRateMeasureMode::kPageSampling;
  int64_t start_time_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t calc_time_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t sample_pages_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t dirty_rate_ ABSL_GUARDED_BY(mu_) = -1;
  std::jthread thread_;
};

}  // namespace migemu::migration

#endif  // MIGEMU_MIGRATION_DIRTY_RATE_H_
