#include "system/workload.h"

#include <absl/status/status.h>
#include <absl/strings/match.h>
#include <absl/strings/numbers.h>
#include <absl/strings/str_cat.h>
#include <absl/time/clock.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "util/keyval.h"
#include "util/size.h"

namespace migemu::system {

namespace {

constexpr uint64_t kMagic = 0x4c57554d4547494dULL;  // "MIGEMUWL" little-endian
constexpr size_t kHeaderWords = 4;                  // magic, page, generation, seed

// splitmix64: a tiny, good-quality generator; also used to derive page bytes.
inline uint64_t SplitMix(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Fills the words after the header from (page, generation, seed).
void FillBody(uint64_t* words, uint64_t page, uint64_t generation, uint64_t seed) {
  uint64_t state = seed ^ (page * 0xd6e8feb86659fd93ULL) ^ (generation << 17);
  for (size_t i = kHeaderWords; i < kPageSize / 8; ++i) {
    words[i] = SplitMix(state);
  }
}

}  // namespace

absl::string_view PatternName(WorkloadPattern p) {
  switch (p) {
    case WorkloadPattern::kRandom:
      return "random";
    case WorkloadPattern::kSequential:
      return "sequential";
    case WorkloadPattern::kHotspot:
      return "hotspot";
  }
  return "random";
}

std::optional<WorkloadPattern> ParsePattern(absl::string_view name) {
  for (WorkloadPattern p :
       {WorkloadPattern::kRandom, WorkloadPattern::kSequential, WorkloadPattern::kHotspot}) {
    if (PatternName(p) == name) {
      return p;
    }
  }
  return std::nullopt;
}

absl::StatusOr<WorkloadConfig> ParseWorkloadConfig(absl::string_view text) {
  util::KeyvalList kv = util::ParseKeyval(text);
  if (auto unknown = kv.FirstUnknown(
          {"dirty-rate", "pattern", "hot-fraction", "seed", "threads", "prefill"})) {
    return absl::InvalidArgumentError(absl::StrCat("Invalid parameter '", *unknown, "'"));
  }
  WorkloadConfig c;
  if (auto rate = kv.Get("dirty-rate")) {
    absl::string_view r = *rate;
    if (absl::EndsWith(r, "/s")) {
      r.remove_suffix(2);
    }
    absl::StatusOr<uint64_t> bytes = util::ParseSize(r);
    if (!bytes.ok()) {
      return absl::InvalidArgumentError(
          "Parameter 'dirty-rate' expects a size per second, e.g. 64M/s");
    }
    c.dirty_rate = *bytes;
  }
  if (auto p = kv.Get("pattern")) {
    std::optional<WorkloadPattern> pattern = ParsePattern(*p);
    if (!pattern.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("Parameter 'pattern' does not accept value '", *p, "'"));
    }
    c.pattern = *pattern;
  }
  if (auto f = kv.Get("hot-fraction")) {
    double v = 0;
    if (!absl::SimpleAtod(*f, &v) || !(v > 0 && v <= 1)) {
      return absl::InvalidArgumentError(
          "Parameter 'hot-fraction' expects a number in the range (0, 1]");
    }
    c.hot_fraction = v;
  }
  if (auto s = kv.Get("seed")) {
    if (!absl::SimpleAtoi(*s, &c.seed)) {
      return absl::InvalidArgumentError("Parameter 'seed' expects an integer");
    }
  }
  if (auto t = kv.Get("threads")) {
    if (!absl::SimpleAtoi(*t, &c.threads) || c.threads < 1 || c.threads > 64) {
      return absl::InvalidArgumentError(
          "Parameter 'threads' expects an integer in the range of 1 to 64");
    }
  }
  absl::StatusOr<std::optional<bool>> prefill = kv.GetBool("prefill");
  if (!prefill.ok()) {
    return prefill.status();
  }
  c.prefill = prefill->value_or(false);
  return c;
}

// One writer thread; owns a partition of the pages (global page index % count == index).
struct Workload::Writer {
  int index = 0;
  int count = 1;
  WorkloadConfig config;
  uint64_t generation = 0;
  std::jthread thread;  // declared last: joined before the rest is destroyed
};

Workload::Workload(GuestMemory& memory) : memory_(memory) {}

Workload::~Workload() { StopWriters(); }

WorkloadConfig Workload::config() const {
  absl::MutexLock lock(&mu_);
  return config_;
}

bool Workload::running() const {
  absl::MutexLock lock(&mu_);
  return run_;
}

void Workload::StopWriters() {
  {
    absl::MutexLock lock(&mu_);
    quit_ = true;
  }
  for (auto& w : writers_) {
    if (w->thread.joinable()) {
      w->thread.join();
    }
  }
  writers_.clear();
  absl::MutexLock lock(&mu_);
  quit_ = false;
  active_writers_ = 0;
}

absl::Status Workload::Configure(const WorkloadConfig& config) {
  if (config.threads < 1 || config.threads > 64) {
    return absl::InvalidArgumentError(
        "Parameter 'threads' expects an integer in the range of 1 to 64");
  }
  StopWriters();
  {
    absl::MutexLock lock(&mu_);
    config_ = config;
  }
  if (config.dirty_rate == 0 || memory_.total_pages() == 0) {
    return absl::OkStatus();
  }
  for (int i = 0; i < config.threads; ++i) {
    auto w = std::make_unique<Writer>();
    w->index = i;
    w->count = config.threads;
    w->config = config;
    writers_.push_back(std::move(w));
  }
  {
    absl::MutexLock lock(&mu_);
    active_writers_ = static_cast<int>(writers_.size());
  }
  for (auto& w : writers_) {
    Writer* raw = w.get();
    w->thread = std::jthread([this, raw] { WriterMain(raw); });
  }
  return absl::OkStatus();
}

void Workload::Prefill(int threads) {
  const uint64_t seed = config().seed;
  const int n = std::max(1, threads);
  std::vector<std::jthread> workers;
  for (int t = 0; t < n; ++t) {
    workers.emplace_back([this, t, n, seed] {
      for (const auto& block : memory_.blocks()) {
        for (size_t p = static_cast<size_t>(t); p < block->page_count();
             p += static_cast<size_t>(n)) {
          auto* words = reinterpret_cast<uint64_t*>(block->PageHost(p));
          words[0] = kMagic;
          words[1] = p;
          words[2] = 0;
          words[3] = seed;
          FillBody(words, p, 0, seed);
        }
      }
    });
  }
}

void Workload::Resume() {
  absl::MutexLock lock(&mu_);
  run_ = true;
}

void Workload::Pause() {
  absl::MutexLock lock(&mu_);
  run_ = false;
  // Wait until every writer has parked (or exited): none is inside a page write any more.
  auto parked = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return active_writers_ == 0; };
  mu_.Await(absl::Condition(&parked));
}

void Workload::SetThrottle(int percent) {
  throttle_.store(std::clamp(percent, 0, 99), std::memory_order_relaxed);
}

WorkloadStats Workload::Stats() const {
  WorkloadStats s;
  s.pages_written = pages_written_.load(std::memory_order_relaxed);
  s.bytes_written = s.pages_written * kPageSize;
  return s;
}

void Workload::WritePage(RamBlock& block, uint64_t page, uint64_t generation, uint64_t seed) {
  auto* words = reinterpret_cast<uint64_t*>(block.PageHost(page));
  words[0] = kMagic;
  words[1] = page;
  words[2] = generation;
  words[3] = seed;
  FillBody(words, page, generation, seed);
  // The write is complete: publish it in the dirty log (release order, see DirtyLog::Mark).
  block.dirty_log().Mark(page);
  pages_written_.fetch_add(1, std::memory_order_relaxed);
}

void Workload::WriterMain(Writer* w) noexcept {
  const WorkloadConfig& c = w->config;
  // Pages of this writer: global indices g with g % count == index, over the concatenated
  // blocks. `mine` = how many there are.
  const uint64_t total = memory_.total_pages();
  const uint64_t mine = (total > static_cast<uint64_t>(w->index))
                            ? (total - static_cast<uint64_t>(w->index) + w->count - 1) / w->count
                            : 0;
  if (mine == 0) {
    absl::MutexLock lock(&mu_);
    --active_writers_;
    return;
  }
  const uint64_t hot = std::max<uint64_t>(
      1, static_cast<uint64_t>(std::ceil(static_cast<double>(mine) * c.hot_fraction)));
  uint64_t rng = c.seed * 0x2545f4914f6cdd1dULL + static_cast<uint64_t>(w->index) + 1;
  uint64_t next_seq = 0;
  const double pages_per_sec =
      static_cast<double>(c.dirty_rate) / kPageSize / static_cast<double>(w->count);

  auto pick = [&]() -> uint64_t {
    switch (c.pattern) {
      case WorkloadPattern::kSequential: {
        uint64_t p = next_seq;
        next_seq = (next_seq + 1) % mine;
        return p;
      }
      case WorkloadPattern::kHotspot:
        if (SplitMix(rng) % 10 != 0) {
          return SplitMix(rng) % hot;
        }
        return SplitMix(rng) % mine;
      case WorkloadPattern::kRandom:
        break;
    }
    return SplitMix(rng) % mine;
  };

  // Pacing: credit accrues at pages_per_sec while running (scaled down by the throttle);
  // the writer sleeps when it is ahead.
  double credit = 0;
  auto last = std::chrono::steady_clock::now();
  bool parked = false;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (quit_) {
        if (!parked) {
          --active_writers_;
        }
        return;
      }
      if (!run_) {
        if (!parked) {
          parked = true;
          --active_writers_;
        }
        auto wake = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return run_ || quit_; };
        mu_.Await(absl::Condition(&wake));
        if (quit_) {
          return;
        }
        parked = false;
        ++active_writers_;
        last = std::chrono::steady_clock::now();
        credit = 0;
      }
    }
    auto now = std::chrono::steady_clock::now();
    double dt = std::chrono::duration<double>(now - last).count();
    last = now;
    double factor = 1.0 - throttle_.load(std::memory_order_relaxed) / 100.0;
    credit = std::min(credit + dt * pages_per_sec * factor, std::max(64.0, pages_per_sec / 50));
    if (credit < 1) {
      // Sleep until the next page is due, but at most 5 ms so Pause stays responsive.
      double wait = (1 - credit) / std::max(pages_per_sec * factor, 1e-9);
      std::this_thread::sleep_for(std::chrono::duration<double>(std::min(wait, 0.005)));
      continue;
    }
    // Write a burst of at most 64 pages, then re-check the run state.
    int burst = static_cast<int>(std::min(credit, 64.0));
    for (int i = 0; i < burst; ++i) {
      uint64_t local = pick();
      uint64_t global = local * static_cast<uint64_t>(w->count) + static_cast<uint64_t>(w->index);
      // Map the global page index to its block.
      for (const auto& block : memory_.blocks()) {
        if (global < block->page_count()) {
          WritePage(*block, global, ++w->generation, c.seed);
          break;
        }
        global -= block->page_count();
      }
    }
    credit -= burst;
  }
}

bool Workload::VerifyPage(const uint8_t* page, uint64_t block_page, bool* is_workload_page) {
  uint64_t words[kPageSize / 8];
  std::memcpy(words, page, kPageSize);
  *is_workload_page = words[0] == kMagic;
  if (!*is_workload_page) {
    return true;
  }
  if (words[1] != block_page) {
    return false;
  }
  uint64_t expect[kPageSize / 8];
  FillBody(expect, words[1], words[2], words[3]);
  return std::memcmp(words + kHeaderWords, expect + kHeaderWords, kPageSize - kHeaderWords * 8) ==
         0;
}

WorkloadVerifyResult Workload::Verify(const GuestMemory& memory) {
  WorkloadVerifyResult r;
  for (const auto& block : memory.blocks()) {
    for (size_t p = 0; p < block->page_count(); ++p) {
      bool is_workload = false;
      if (!VerifyPage(block->PageHost(p), p, &is_workload)) {
        if (r.bad_pages++ == 0) {
          r.first_bad = absl::StrCat(block->idstr(), ":0x", absl::Hex(p * kPageSize));
        }
      } else if (is_workload) {
        ++r.workload_pages;
      }
    }
  }
  return r;
}

}  // namespace migemu::system
