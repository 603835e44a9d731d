// File: util/fault.h
//
// Named fault points for fault injection (issue "Reliability"): code at a risky spot asks
// `MIG_FAULT_POINT("multifd.send.connect")`; when a test (or the x-inject-fault QMP command) has
// armed that point, the call returns an error (or first sleeps, for a delay), so every failure
// path can be walked on purpose, and a line on stderr says which point triggered. When nothing
// is armed the check is one relaxed atomic load.
//
//   MIG_RETURN_IF_ERROR(MIG_FAULT_POINT("multifd.send.packet"));
//   util::Faults::Get().Arm("multifd.send.packet", {.after = 3});  // the 4th hit fails
//
// Thread-safety: thread-safe.
#ifndef MIGEMU_UTIL_FAULT_H_
#define MIGEMU_UTIL_FAULT_H_

#include <absl/base/thread_annotations.h>
#include <absl/status/status.h>
#include <absl/strings/string_view.h>
#include <absl/synchronization/mutex.h>
#include <absl/time/time.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace migemu::util {

struct FaultSpec {
  uint64_t after = 0;  // hits that pass before the fault triggers
  uint64_t times = 1;  // how many hits trigger (0 = every hit from then on)
  absl::Duration delay = absl::ZeroDuration();  // sleep before returning at a triggered hit
  bool fail = true;     // return an error at a triggered hit (false: only the delay)
  std::string message;  // error text; default "injected fault at <point>"
};

class Faults final {
 public:
  static Faults& Get();

  void Arm(const std::string& point, const FaultSpec& spec);
  void Disarm(const std::string& point);
  void Clear();

  // Check: counts a hit of `point`; returns the injected error when the point triggers.
  absl::Status Check(absl::string_view point) {
    if (!armed_.load(std::memory_order_relaxed)) {
      return absl::OkStatus();
    }
    return CheckSlow(point);
  }

  // Hits of `point` since it was armed (for tests).
  uint64_t Hits(const std::string& point) const;
  // Armed: the names of the points armed now (the catalogue of every point the code declares
  // is migration/fault_points.h).
  std::vector<std::string> Armed() const;

 private:
  struct Armed_ {
    FaultSpec spec;
    uint64_t hits = 0;
    uint64_t triggered = 0;
  };
  absl::Status CheckSlow(absl::string_view point);

  std::atomic<bool> armed_{false};
  mutable absl::Mutex mu_;
  std::map<std::string, Armed_, std::less<>> points_ ABSL_GUARDED_BY(mu_);
};

}  // namespace migemu::util

#define MIG_FAULT_POINT(name) (::migemu::util::Faults::Get().Check(name))

#endif  // MIGEMU_UTIL_FAULT_H_
