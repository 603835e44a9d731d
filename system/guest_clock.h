// File: system/guest_clock.h
//
// GuestClock: the guest's run-time clocks as QEMU keeps them in TimersState
// (cpu_enable_ticks/cpu_disable_ticks): while running, offsets are "minus the host value at
// start"; when stopped they hold the accumulated host TSC ticks and nanoseconds spent running.
// The `timer` section of the migration stream carries these two values: a source that ran sends
// what it spent running, one started with -S and never run sends zeros.
//
//   GuestClock clock;  clock.Start();  ...  clock.Stop();
//   GuestClockState s = clock.Snapshot();
//
// Thread-safety: thread-safe.
#ifndef MIGEMU_SYSTEM_GUEST_CLOCK_H_
#define MIGEMU_SYSTEM_GUEST_CLOCK_H_

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>

#include <cstdint>

namespace migemu::system {

struct GuestClockState {
  int64_t cpu_ticks_offset = 0;  // host TSC ticks spent running
  int64_t cpu_clock_offset = 0;  // nanoseconds spent running
  bool operator==(const GuestClockState&) const = default;
};

class GuestClock final {
 public:
  GuestClock() = default;
  GuestClock(const GuestClock&) = delete;
  GuestClock& operator=(const GuestClock&) = delete;

  void Start() ABSL_LOCKS_EXCLUDED(mu_);
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);
  bool running() const ABSL_LOCKS_EXCLUDED(mu_);
  GuestClockState Snapshot() const ABSL_LOCKS_EXCLUDED(mu_);
  // Restore: continue from migrated values (the destination, after loading `timer`).
  void Restore(const GuestClockState& state) ABSL_LOCKS_EXCLUDED(mu_);

  static int64_t HostTicks();
  static int64_t HostNanos();

 private:
  mutable absl::Mutex mu_;
  bool running_ ABSL_GUARDED_BY(mu_) = false;
  int64_t ticks_offset_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t clock_offset_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace migemu::system

#endif  // MIGEMU_SYSTEM_GUEST_CLOCK_H_
