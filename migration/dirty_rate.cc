#include "migration/dirty_rate.h"

#include <absl/strings/str_format.h>
#include <zlib.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>
#include <vector>

#include "migration/source_state.h"
#include "qapi/runtime.h"

namespace migemu::migration {

namespace {

constexpr int64_t kMinCalcTime = 1;   // MIN_FETCH_DIRTYRATE_TIME_SEC
constexpr int64_t kMaxCalcTime = 60;  // MAX_FETCH_DIRTYRATE_TIME_SEC
constexpr int64_t kMinSamplePages = 128;
constexpr int64_t kMaxSamplePages = 16384;
constexpr int64_t kDefaultSamplePages = 512;
constexpr uint64_t kMinBlockSize = 128 << 10;  // MIN_RAMBLOCK_SIZE << 10: smaller blocks skipped

uint32_t PageCrc(const uint8_t* page) {
  return static_cast<uint32_t>(::crc32(0, page, static_cast<uInt>(system::kPageSize)));
}

// Sleeps `ms` or until stopped; returns the milliseconds actually waited.
int64_t Wait(std::stop_token stop, int64_t ms, int64_t start_ms) {
  std::mutex m;
  std::condition_variable_any cv;
  std::unique_lock<std::mutex> lock(m);
  cv.wait_for(lock, stop, std::chrono::milliseconds(ms), [] { return false; });
  return NowMs() - start_ms;
}

}  // namespace

DirtyRateMeter::~DirtyRateMeter() {
  if (thread_.joinable()) {
    thread_.request_stop();
    thread_.join();
  }
}

absl::Status DirtyRateMeter::Start(const qapi::CalcDirtyRateArg& arg) {
  if (status_.load() == qapi::DirtyRateStatus::kMeasuring) {
    return absl::FailedPreconditionError("the dirty rate is already being measured.");
  }
  if (arg.calc_time < kMinCalcTime || arg.calc_time > kMaxCalcTime) {
    return absl::InvalidArgumentError(
        absl::StrFormat("calc-time is out of range[%d, %d].", kMinCalcTime, kMaxCalcTime));
  }
  qapi::DirtyRateMeasureMode mode = arg.mode.value_or(qapi::DirtyRateMeasureMode::kPageSampling);
  if (arg.sample_pages.has_value() && mode == qapi::DirtyRateMeasureMode::kDirtyRing) {
    return absl::InvalidArgumentError("either sample-pages or dirty-ring can be specified.");
  }
  int64_t sample_pages = kDefaultSamplePages;
  if (arg.sample_pages.has_value()) {
    if (*arg.sample_pages < kMinSamplePages || *arg.sample_pages > kMaxSamplePages) {
      return absl::InvalidArgumentError(absl::StrFormat("sample-pages is out of range[%d, %d].",
                                                        kMinSamplePages, kMaxSamplePages));
    }
    sample_pages = *arg.sample_pages;
  }
  // No KVM dirty ring here: dirty-ring is the mode that is "not enabled" (as under TCG).
  if (mode == qapi::DirtyRateMeasureMode::kDirtyRing) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "mode %s is not enabled, use other method instead.", qapi::EnumToString(mode)));
  }
  if (thread_.joinable()) {
    thread_.join();
  }
  {
    absl::MutexLock lock(&mu_);
    mode_ = mode;
    start_time_ = NowMs() / 1000;
    calc_time_ = 0;
    sample_pages_ = static_cast<uint64_t>(sample_pages);
    dirty_rate_ = -1;
  }
  status_.store(qapi::DirtyRateStatus::kMeasuring);
  thread_ = std::jthread([this, calc = arg.calc_time, sample_pages, mode](std::stop_token stop) {
    Measure(stop, calc, static_cast<uint64_t>(sample_pages), mode);
  });
  return absl::OkStatus();
}

void DirtyRateMeter::Measure(std::stop_token stop, int64_t calc_time, uint64_t sample_pages,
                             qapi::DirtyRateMeasureMode mode) noexcept {
  const int64_t initial = NowMs();
  int64_t rate = 0;
  int64_t msec = 0;
  if (mode == qapi::DirtyRateMeasureMode::kDirtyBitmap) {
    for (const auto& b : memory_.blocks()) {
      b->dirty_log().EnableRateClient(true);
    }
    msec = Wait(stop, calc_time * 1000, initial);
    uint64_t dirtied = 0;
    for (const auto& b : memory_.blocks()) {
      std::vector<uint64_t> bits(b->dirty_log().words(), 0);
      dirtied += b->dirty_log().HarvestInto(bits.data(), system::DirtyLog::kDirtyRate);
      b->dirty_log().EnableRateClient(false);
    }
    // MB dirtied per second (do_calculate_dirtyrate).
    rate = msec > 0 ? static_cast<int64_t>((dirtied * system::kPageSize >> 20) * 1000 /
                                           static_cast<uint64_t>(msec))
                    : 0;
  } else {
    struct Sample {
      const system::RamBlock* block;
      std::vector<uint64_t> pages;
      std::vector<uint32_t> crcs;
    };
    std::vector<Sample> samples;
    std::mt19937_64 rng(static_cast<uint64_t>(initial));
    for (const auto& b : memory_.blocks()) {
      if (b->used_length() < kMinBlockSize) {
        continue;
      }
      Sample s{b.get(), {}, {}};
      const uint64_t count = (b->used_length() * sample_pages) >> 30;
      const uint64_t pages = b->page_count();
      for (uint64_t i = 0; i < count && pages > 1; ++i) {
        uint64_t page = rng() % (pages - 1);  // g_rand_int_range(0, pages - 1)
        s.pages.push_back(page);
        s.crcs.push_back(PageCrc(b->PageHost(page)));
      }
      samples.push_back(std::move(s));
    }
    msec = Wait(stop, calc_time * 1000, initial);
    uint64_t dirty = 0;
    uint64_t total = 0;
    uint64_t mem_mb = 0;
    for (const Sample& s : samples) {
      for (size_t i = 0; i < s.pages.size(); ++i) {
        if (PageCrc(s.block->PageHost(s.pages[i])) != s.crcs[i]) {
          ++dirty;
        }
      }
      total += s.pages.size();
      mem_mb += s.block->used_length() >> 20;
    }
    if (total != 0 && msec > 0) {
      rate = static_cast<int64_t>(dirty * mem_mb * 1000 / (total * static_cast<uint64_t>(msec)));
    }
  }
  {
    absl::MutexLock lock(&mu_);
    calc_time_ = msec / 1000;
    dirty_rate_ = rate;
  }
  status_.store(qapi::DirtyRateStatus::kMeasured);
}

qapi::DirtyRateInfo DirtyRateMeter::Query() const {
  qapi::DirtyRateInfo info;
  info.status = status_.load();
  absl::MutexLock lock(&mu_);
  info.start_time = start_time_;
  info.calc_time = calc_time_;
  info.sample_pages = sample_pages_;
  info.mode = mode_;
  if (info.status == qapi::DirtyRateStatus::kMeasured) {
    info.dirty_rate = dirty_rate_;
    if (mode_ == qapi::DirtyRateMeasureMode::kDirtyBitmap) {
      info.sample_pages = 0;
    }
  }
  return info;
}

}  // namespace migemu::migration
