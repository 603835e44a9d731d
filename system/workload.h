// File: system/workload.h
//
// The synthetic guest: threads that write guest pages at a configured rate while the VM runs,
// marking each written page in its block's dirty log the way KVM's dirty logging would. Each
// written page is self-describing (a header with a magic, the page's index, the writer's
// generation and the seed, then bytes derived from those), so a check can tell a page the
// workload wrote completely from a torn or misplaced one (VerifyPage).
//
//   -workload dirty-rate=64M/s,pattern=random,seed=7
//   Workload w(memory);
//   MIG_RETURN_IF_ERROR(w.Configure(config));  // starts threads (paused until Resume)
//   w.Resume();   // the VM runs
//   w.Pause();    // returns once no writer is in the middle of a page
//
// Patterns: `random` (uniform over all pages), `sequential` (each writer walks its pages in
// order, wrapping), `hotspot` (90% of writes go uniformly to a hot set of `hot-fraction` of the
// pages, 10% anywhere). Pages are partitioned among writer threads (page % threads), so two
// writers never write the same page at once.
//
// Thread-safety: all public methods are called from the main thread (or the migration thread
// for SetThrottle/Pause/Resume through the VM); writers synchronise through an internal mutex.
#ifndef MIGEMU_SYSTEM_WORKLOAD_H_
#define MIGEMU_SYSTEM_WORKLOAD_H_

#include <absl/base/thread_annotations.h>
#include <absl/status/statusor.h>
#include <absl/strings/string_view.h>
#include <absl/synchronization/mutex.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "system/guest_memory.h"

namespace migemu::system {

enum class WorkloadPattern { kRandom, kSequential, kHotspot };

struct WorkloadConfig {
  uint64_t dirty_rate = 0;  // bytes per second; 0 = idle
  WorkloadPattern pattern = WorkloadPattern::kRandom;
  double hot_fraction = 0.1;  // (0, 1], hotspot only
  uint64_t seed = 1;
  int threads = 1;  // 1..64
  // Fill every page with workload contents once at start-up (so RAM holds real, verifiable,
  // non-zero data before anything migrates). A start-up option only.
  bool prefill = false;

  bool operator==(const WorkloadConfig&) const = default;
};

// ParseWorkloadConfig: "-workload dirty-rate=64M/s,pattern=random,hot-fraction=0.1,seed=7,
// threads=2". Errors name the offending key (Invalid parameter 'x', Parameter 'x' expects ...).
absl::StatusOr<WorkloadConfig> ParseWorkloadConfig(absl::string_view text);

// PatternName / ParsePattern: "random", "sequential", "hotspot".
absl::string_view PatternName(WorkloadPattern p);
std::optional<WorkloadPattern> ParsePattern(absl::string_view name);

// Statistics, monotonic since the workload was created.
struct WorkloadStats {
  uint64_t pages_written = 0;
  uint64_t bytes_written = 0;
};

// Result of verifying guest RAM written by the workload.
struct WorkloadVerifyResult {
  uint64_t workload_pages = 0;  // pages carrying a valid workload header
  uint64_t bad_pages = 0;       // pages with the header magic whose contents don't match
  std::string first_bad;        // "<block>:0x<offset>" of the first bad page, if any
};

class Workload final {
 public:
  // `memory` must outlive the workload.
  explicit Workload(GuestMemory& memory);
  ~Workload();  // stops and joins every writer
  Workload(const Workload&) = delete;
  Workload& operator=(const Workload&) = delete;

  // Configure: replaces the running configuration (stops old writers, starts new ones). The
  // run/paused state is kept.
  absl::Status Configure(const WorkloadConfig& config);
  WorkloadConfig config() const;

  // Resume: writers run. Pause: writers stop; returns once none is inside a page write, so the
  // dirty logs then contain every write that happened.
  void Resume();
  void Pause();
  bool running() const;

  // Prefill: writes every page of guest RAM with workload contents (generation 0), on
  // `threads` threads. Call before the guest runs.
  void Prefill(int threads);

  // SetThrottle: auto-converge; the writers sleep `percent`% of the time (0..99).
  void SetThrottle(int percent);
  int throttle() const { return throttle_.load(std::memory_order_relaxed); }

  WorkloadStats Stats() const;

  // VerifyPage: true if `page` is not a workload page, or is a complete, correctly placed one.
  // `block_page` is the page's index in its block.
  static bool VerifyPage(const uint8_t* page, uint64_t block_page, bool* is_workload_page);
  // Verify: VerifyPage over all of guest RAM.
  static WorkloadVerifyResult Verify(const GuestMemory& memory);

 private:
  struct Writer;
  void StopWriters();
  void WriterMain(Writer* w) noexcept;
  void WritePage(RamBlock& block, uint64_t page, uint64_t generation, uint64_t seed);

  GuestMemory& memory_;
  std::atomic<int> throttle_{0};
  std::atomic<uint64_t> pages_written_{0};

  mutable absl::Mutex mu_;
  WorkloadConfig config_ ABSL_GUARDED_BY(mu_);
  bool run_ ABSL_GUARDED_BY(mu_) = false;         // the VM runs
  bool quit_ ABSL_GUARDED_BY(mu_) = false;        // writers must exit
  int active_writers_ ABSL_GUARDED_BY(mu_) = 0;   // writers not parked
  std::vector<std::unique_ptr<Writer>> writers_;  // main thread only; joined in StopWriters
};

}  // namespace migemu::system

#endif  // MIGEMU_SYSTEM_WORKLOAD_H_
