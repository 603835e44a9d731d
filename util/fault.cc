#include "util/fault.h"

#include <absl/strings/str_cat.h>
#include <absl/time/clock.h>
#include <stdio.h>

#include <string>

namespace migemu::util {

Faults& Faults::Get() {
  static Faults* faults = new Faults();  // never destroyed: checked from threads at exit
  return *faults;
}

void Faults::Arm(const std::string& point, const FaultSpec& spec) {
  absl::MutexLock lock(&mu_);
  points_[point] = Armed_{spec, 0, 0};
  armed_.store(true, std::memory_order_relaxed);
}

void Faults::Disarm(const std::string& point) {
  absl::MutexLock lock(&mu_);
  points_.erase(point);
  armed_.store(!points_.empty(), std::memory_order_relaxed);
}

void Faults::Clear() {
  absl::MutexLock lock(&mu_);
  points_.clear();
  armed_.store(false, std::memory_order_relaxed);
}

uint64_t Faults::Hits(const std::string& point) const {
  absl::MutexLock lock(&mu_);
  auto it = points_.find(point);
  return it == points_.end() ? 0 : it->second.hits;
}

std::vector<std::string> Faults::Armed() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> out;
  for (const auto& [name, a] : points_) {
    out.push_back(name);
  }
  return out;
}

absl::Status Faults::CheckSlow(absl::string_view point) {
  FaultSpec spec;
  {
    absl::MutexLock lock(&mu_);
    auto it = points_.find(point);
    if (it == points_.end()) {
      return absl::OkStatus();
    }
    Armed_& a = it->second;
    const uint64_t hit = a.hits++;
    if (hit < a.spec.after) {
      return absl::OkStatus();
    }
    if (a.spec.times != 0 && a.triggered >= a.spec.times) {
      return absl::OkStatus();
    }
    ++a.triggered;
    spec = a.spec;
    // Faults are armed only by tests and by hand: say so on stderr, so a test can prove the
    // point was reached even when the process then exits.
    fprintf(stderr, "migemu: fault point %s triggered (hit %llu)\n", std::string(point).c_str(),
            static_cast<unsigned long long>(hit + 1));  // NOLINT(google-runtime-int)
  }
  if (spec.delay > absl::ZeroDuration()) {
    absl::SleepFor(spec.delay);
  }
  if (!spec.fail) {
    return absl::OkStatus();
  }
  return absl::UnavailableError(spec.message.empty() ? absl::StrCat("injected fault at ", point)
                                                     : spec.message);
}

}  // namespace migemu::util
