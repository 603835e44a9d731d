#include "migration/source_state.h"

#include <time.h>

namespace migemu::migration {

using MS = qapi::MigrationStatus;

bool IsRunning(MS s) {
  switch (s) {
    case MS::kActive:
    case MS::kPostcopyActive:
    case MS::kPostcopyPaused:
    case MS::kPostcopyRecover:
    case MS::kSetup:
    case MS::kPreSwitchover:
    case MS::kDevice:
    case MS::kWaitUnplug:
    case MS::kCancelling:
      return true;
    default:
      return false;
  }
}

bool IsSetupOrActive(MS s) {
  switch (s) {
    case MS::kActive:
    case MS::kPostcopyActive:
    case MS::kPostcopyPaused:
    case MS::kPostcopyRecover:
    case MS::kSetup:
    case MS::kPreSwitchover:
    case MS::kDevice:
    case MS::kWaitUnplug:
    case MS::kColo:
      return true;
    default:
      return false;
  }
}

bool IsActive(MS s) { return s == MS::kActive || s == MS::kPostcopyActive; }

bool StatusCell::SetState(MS old, MS next) {
  MS expected = old;
  if (!status_.compare_exchange_strong(expected, next, std::memory_order_acq_rel)) {
    return false;
  }
  if (on_change_) {
    on_change_(next);
  }
  return true;
}

void SourceState::Reset(int64_t start_time_ms, int64_t downtime_limit_ms) {
  counters.Reset();
  absl::MutexLock lock(&mu_);
  error_.reset();
  times_ = SourceTimes{};
  times_.start_time_ms = start_time_ms;
  times_.expected_downtime = downtime_limit_ms;
}

void SourceState::SetError(const absl::Status& error) {
  absl::MutexLock lock(&mu_);
  if (!error_.has_value()) {
    error_ = std::string(error.message());
  }
}

std::optional<std::string> SourceState::error() const {
  absl::MutexLock lock(&mu_);
  return error_;
}

SourceTimes SourceState::times() const {
  absl::MutexLock lock(&mu_);
  return times_;
}

void SourceState::UpdateTimes(const std::function<void(SourceTimes&)>& fn) {
  absl::MutexLock lock(&mu_);
  fn(times_);
}

int64_t NowMs() {
  timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

}  // namespace migemu::migration
