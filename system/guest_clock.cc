#include "system/guest_clock.h"

#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

namespace migemu::system {

// ---- GuestClock --------------------------------------------------------------------------------

int64_t GuestClock::HostNanos() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

int64_t GuestClock::HostTicks() {
#if defined(__x86_64__) || defined(__i386__)
  return static_cast<int64_t>(__rdtsc());
#else
  return HostNanos();
#endif
}

void GuestClock::Start() {
  absl::MutexLock lock(&mu_);
  if (running_) {
    return;
  }
  ticks_offset_ -= HostTicks();
  clock_offset_ -= HostNanos();
  running_ = true;
}

void GuestClock::Stop() {
  absl::MutexLock lock(&mu_);
  if (!running_) {
    return;
  }
  ticks_offset_ += HostTicks();
  clock_offset_ += HostNanos();
  running_ = false;
}

bool GuestClock::running() const {
  absl::MutexLock lock(&mu_);
  return running_;
}

GuestClockState GuestClock::Snapshot() const {
  absl::MutexLock lock(&mu_);
  GuestClockState state;
  state.cpu_ticks_offset = running_ ? ticks_offset_ + HostTicks() : ticks_offset_;
  state.cpu_clock_offset = running_ ? clock_offset_ + HostNanos() : clock_offset_;
  return state;
}

void GuestClock::Restore(const GuestClockState& state) {
  absl::MutexLock lock(&mu_);
  ticks_offset_ = state.cpu_ticks_offset;
  clock_offset_ = state.cpu_clock_offset;
  if (running_) {
    ticks_offset_ -= HostTicks();
    clock_offset_ -= HostNanos();
  }
}

}  // namespace migemu::system
