// File: migration/stats.h
//
// The counters behind query-migrate's `ram` member (QEMU's ram_counters plus the per-iteration
// rate values kept in MigrationState). Written by the migration thread (and, for the zero-copy
// fallback count, by whoever flushes channels); read by the monitor at any time.
//
// Thread-safety: every field is a relaxed atomic; a query may see a mix of values from adjacent
// moments, as QEMU's does.
#ifndef MIGEMU_MIGRATION_STATS_H_
#define MIGEMU_MIGRATION_STATS_H_

#include <atomic>
#include <cstdint>

namespace migemu::migration {

struct RamCounters {
  std::atomic<uint64_t> transferred{0};  // main-stream RAM bytes + multifd bytes
  std::atomic<uint64_t> duplicate{0};    // zero pages
  std::atomic<uint64_t> normal{0};       // full pages
  std::atomic<uint64_t> dirty_sync_count{0};
  std::atomic<uint64_t> dirty_pages_rate{0};  // pages/s over the last >= 1 s sync period
  std::atomic<uint64_t> remaining{0};         // bytes still dirty
  std::atomic<uint64_t> postcopy_requests{0};
  std::atomic<uint64_t> multifd_bytes{0};
  std::atomic<uint64_t> precopy_bytes{0};
  std::atomic<uint64_t> downtime_bytes{0};
  std::atomic<uint64_t> postcopy_bytes{0};
  std::atomic<uint64_t> dirty_sync_missed_zero_copy{0};

  void Reset() {
    for (std::atomic<uint64_t>* c :
         {&transferred, &duplicate, &normal, &dirty_sync_count, &dirty_pages_rate, &remaining,
          &postcopy_requests, &multifd_bytes, &precopy_bytes, &downtime_bytes, &postcopy_bytes,
          &dirty_sync_missed_zero_copy}) {
      c->store(0, std::memory_order_relaxed);
    }
  }
  static void Add(std::atomic<uint64_t>& c, uint64_t v) {
    c.fetch_add(v, std::memory_order_relaxed);
  }
  static uint64_t Get(const std::atomic<uint64_t>& c) { return c.load(std::memory_order_relaxed); }
};

}  // namespace migemu::migration

#endif  // MIGEMU_MIGRATION_STATS_H_
