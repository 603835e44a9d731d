// File: migration/source_state.h
//
// The source side's migration state as query-migrate reports it (QEMU's MigrationState fields):
// the status machine with compare-and-swap transitions that emit MIGRATION events, the error of
// a failed migration (first error wins), the timings and rates, and the RAM counters.
//
// Thread-safety: thread-safe. The migration thread writes, the monitor reads; status changes
// are atomic compare-and-swap as in QEMU's migrate_set_state().
#ifndef MIGEMU_MIGRATION_SOURCE_STATE_H_
#define MIGEMU_MIGRATION_SOURCE_STATE_H_

#include <absl/base/thread_annotations.h>
#include <absl/status/status.h>
#include <absl/synchronization/mutex.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "migration/stats.h"
#include "qapi/qapi-types-migration.h"

namespace migemu::migration {

// migration_is_running(): the states that block a new migrate and set-capabilities.
bool IsRunning(qapi::MigrationStatus s);
// migration_is_setup_or_active().
bool IsSetupOrActive(qapi::MigrationStatus s);
// migration_is_active(): the thread loop continues.
bool IsActive(qapi::MigrationStatus s);

// A migration status cell with QEMU's CAS transitions. `on_change` (set once, before use) is
// called after every successful transition (emits MIGRATION when the events capability is on).
class StatusCell final {
 public:
  qapi::MigrationStatus Get() const { return status_.load(std::memory_order_acquire); }
  // SetState: old -> next if the status is still `old`; returns whether it moved.
  bool SetState(qapi::MigrationStatus old, qapi::MigrationStatus next);
  // Reset: silently back to `none` (migrate_init()).
  void Reset() { status_.store(qapi::MigrationStatus::kNone, std::memory_order_release); }
  void set_on_change(std::function<void(qapi::MigrationStatus)> cb) { on_change_ = std::move(cb); }

 private:
  std::atomic<qapi::MigrationStatus> status_{qapi::MigrationStatus::kNone};
  std::function<void(qapi::MigrationStatus)> on_change_;
};

struct SourceTimes {
  int64_t start_time_ms = 0;   // wall clock (ms) when migrate started
  int64_t setup_time = 0;      // ms
  int64_t total_time = 0;      // ms, set at completion
  int64_t downtime = 0;        // ms, set at completion
  int64_t downtime_start = 0;  // wall clock ms when the VM stopped
  int64_t expected_downtime = 0;
  double mbps = 0;
  uint64_t pages_per_second = 0;
  std::optional<int64_t> cpu_throttle_percentage;  // while auto-converge throttles
};

class SourceState final {
 public:
  StatusCell status;
  RamCounters counters;

  // Reset for a new migration (migrate_init + the counter memset of migrate_prepare).
  void Reset(int64_t start_time_ms, int64_t downtime_limit_ms);

  // SetError: records the reason of a failure; the first one wins (migrate_set_error).
  void SetError(const absl::Status& error);
  std::optional<std::string> error() const;

  SourceTimes times() const;
  void UpdateTimes(const std::function<void(SourceTimes&)>& fn);

 private:
  mutable absl::Mutex mu_;
  std::optional<std::string> error_ ABSL_GUARDED_BY(mu_);
  SourceTimes times_ ABSL_GUARDED_BY(mu_);
};

// Wall-clock milliseconds (QEMU_CLOCK_REALTIME / HOST).
int64_t NowMs();

}  // namespace migemu::migration

#endif  // MIGEMU_MIGRATION_SOURCE_STATE_H_
