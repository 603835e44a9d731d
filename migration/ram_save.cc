#include "migration/ram_save.h"

#include <absl/time/clock.h>

#include <bit>
#include <utility>

#include "migration/fault_points.h"
#include "util/fault.h"

namespace migemu::migration {

namespace {

// FlushSection: the flush that ends a `ram` section part (setup, each iteration, completion),
// with its fault point.
absl::Status FlushSection(QemuFileWriter& writer) {
  if (absl::Status fault = MIG_FAULT_POINT(kFaultSendFlush); !fault.ok()) {
    writer.SetError(std::move(fault));
  }
  return writer.Flush();
}

}  // namespace

RamSaver::RamSaver(system::GuestMemory& memory, RamCounters& counters, QemuFileWriter& writer,
                   MultifdPageQueue* multifd, Hooks hooks)
    : memory_(memory),
      counters_(counters),
      writer_(writer),
      encoder_(writer),
      multifd_(multifd),
      hooks_(std::move(hooks)) {}

void RamSaver::Account(uint64_t bytes) {
  // ram_transferred_add(): everything counts in `transferred`, and in precopy- or
  // downtime-bytes depending on whether the guest runs.
  RamCounters::Add(counters_.transferred, bytes);
  if (hooks_.vm_running && hooks_.vm_running()) {
    RamCounters::Add(counters_.precopy_bytes, bytes);
  } else {
    RamCounters::Add(counters_.downtime_bytes, bytes);
  }
}

absl::Status RamSaver::Setup() {
  blocks_.clear();
  dirty_pages_ = 0;
  for (const auto& block : memory_.blocks()) {
    BlockState b{block.get(), std::vector<uint64_t>(block->dirty_log().words(), 0)};
    // ram_list_init_bitmaps(): the first pass sends every page.
    for (size_t p = 0; p < block->page_count(); ++p) {
      b.bitmap[p >> 6] |= uint64_t{1} << (p & 63);
    }
    dirty_pages_ += block->page_count();
    blocks_.push_back(std::move(b));
  }
  cur_block_ = 0;
  cur_page_ = 0;
  BitmapSync();
  encoder_.PutMemSize(memory_);
  if (multifd_ != nullptr) {
    absl::Status s = multifd_->SyncMain();
    if (!s.ok()) {
      writer_.SetError(s);
      return s;
    }
  }
  encoder_.PutEos();
  return FlushSection(writer_);
}

void RamSaver::BitmapSync() {
  RamCounters::Add(counters_.dirty_sync_count, 1);
  absl::Time now = absl::Now();
  if (time_last_sync_ == absl::InfinitePast()) {
    time_last_sync_ = now;
  }
  uint64_t newly_dirty = 0;
  for (BlockState& b : blocks_) {
    newly_dirty += b.block->dirty_log().HarvestInto(b.bitmap.data());
  }
  dirty_pages_ += newly_dirty;
  dirty_pages_period_ += newly_dirty;
  counters_.remaining.store(dirty_pages_ * system::kPageSize, std::memory_order_relaxed);

  // Rates and auto-converge use periods of more than one second.
  now = absl::Now();
  if (now > time_last_sync_ + absl::Seconds(1)) {
    uint64_t transferred = RamCounters::Get(counters_.transferred);
    uint64_t bytes_xfer_period = transferred - bytes_xfer_prev_;
    uint64_t bytes_dirty_period = dirty_pages_period_ * system::kPageSize;
    uint64_t threshold_pct =
        hooks_.throttle_trigger_threshold ? hooks_.throttle_trigger_threshold() : 50;
    uint64_t bytes_dirty_threshold = bytes_xfer_period * threshold_pct / 100;
    if (hooks_.throttle && bytes_dirty_period > bytes_dirty_threshold &&
        ++dirty_rate_high_cnt_ >= 2) {
      dirty_rate_high_cnt_ = 0;
      hooks_.throttle(bytes_dirty_period, bytes_dirty_threshold);
    }
    int64_t ms = absl::ToInt64Milliseconds(now - time_last_sync_);
    counters_.dirty_pages_rate.store(dirty_pages_period_ * 1000 / static_cast<uint64_t>(ms),
                                     std::memory_order_relaxed);
    time_last_sync_ = now;
    dirty_pages_period_ = 0;
    bytes_xfer_prev_ = transferred;
  }
  if (hooks_.on_pass) {
    hooks_.on_pass(RamCounters::Get(counters_.dirty_sync_count));
  }
}

uint64_t RamSaver::PendingBytes(uint64_t threshold) {
  uint64_t remaining = dirty_pages_ * system::kPageSize;
  if (remaining < threshold) {
    BitmapSync();
    remaining = dirty_pages_ * system::kPageSize;
  }
  return remaining;
}

absl::Status RamSaver::SavePage(BlockState& b, size_t page) {
  system::RamBlock& block = *b.block;
  const uint64_t offset = uint64_t{page} << system::kPageBits;
  const uint64_t before = writer_.position();
  if (block.IsZeroPage(page)) {
    // Zero pages always go on the main stream, multifd or not (QEMU 7.2).
    encoder_.PutZeroPage(block, offset);
    RamCounters::Add(counters_.duplicate, 1);
    Account(writer_.position() - before);
  } else if (multifd_ != nullptr) {
    RamCounters::Add(counters_.normal, 1);
    absl::Status s = multifd_->QueuePage(block, offset);
    if (!s.ok()) {
      writer_.SetError(s);
      return s;
    }
  } else {
    encoder_.PutPage(block, offset);
    RamCounters::Add(counters_.normal, 1);
    Account(writer_.position() - before);
  }
  ++pages_sent_;
  return absl::OkStatus();
}

absl::StatusOr<int> RamSaver::FindAndSavePage() {
  if (dirty_pages_ == 0 || blocks_.empty()) {
    return 0;
  }
  // Walk from the cursor to the end of the last block, then wrap once (a "round").
  const size_t nblocks = blocks_.size();
  for (size_t visited = 0; visited <= nblocks; ++visited) {
    BlockState& b = blocks_[cur_block_];
    const size_t pages = b.block->page_count();
    size_t word = cur_page_ >> 6;
    while (cur_page_ < pages && word < b.bitmap.size()) {
      uint64_t bits = b.bitmap[word] & (~uint64_t{0} << (cur_page_ & 63));
      if (bits == 0) {
        ++word;
        cur_page_ = word << 6;
        continue;
      }
      size_t page = (word << 6) + static_cast<size_t>(std::countr_zero(bits));
      if (page >= pages) {
        break;
      }
      // Clear before sending: a guest write after this point re-dirties the page in the log
      // and a later sync picks it up (migration_bitmap_clear_dirty then save).
      b.bitmap[word] &= ~(uint64_t{1} << (page & 63));
      --dirty_pages_;
      // query-migrate's `remaining` is live (QEMU's ram_bytes_remaining()).
      counters_.remaining.store(dirty_pages_ * system::kPageSize, std::memory_order_relaxed);
      cur_page_ = page + 1;
      absl::Status s = SavePage(b, page);
      if (!s.ok()) {
        return s;
      }
      return 1;
    }
    cur_block_ = (cur_block_ + 1) % nblocks;
    cur_page_ = 0;
  }
  return 0;
}

absl::StatusOr<bool> RamSaver::Iterate(absl::Duration max_wait) {
  bool done = false;
  const absl::Time t0 = absl::Now();
  for (uint64_t i = 0; !writer_.RateLimited(); ++i) {
    if (writer_.has_error()) {
      return writer_.status();
    }
    absl::StatusOr<int> pages = FindAndSavePage();
    if (!pages.ok()) {
      return pages.status();
    }
    if (*pages == 0) {
      done = true;
      break;
    }
    // Reading the clock is not free: check every 64 pages, as QEMU does.
    if ((i & 63) == 0 && absl::Now() - t0 > max_wait) {
      break;
    }
  }
  if (multifd_ != nullptr) {
    absl::Status s = multifd_->SyncMain();
    if (!s.ok()) {
      writer_.SetError(s);
      return s;
    }
  }
  encoder_.PutEos();
  Account(8);
  absl::Status s = FlushSection(writer_);
  if (!s.ok()) {
    return s;
  }
  return done;
}

absl::Status RamSaver::Complete() {
  BitmapSync();
  while (true) {
    absl::StatusOr<int> pages = FindAndSavePage();
    if (!pages.ok()) {
      return pages.status();
    }
    if (*pages == 0) {
      break;
    }
    if (writer_.has_error()) {
      return writer_.status();
    }
  }
  if (multifd_ != nullptr) {
    absl::Status s = multifd_->SyncMain();
    if (!s.ok()) {
      writer_.SetError(s);
      return s;
    }
  }
  encoder_.PutEos();
  return FlushSection(writer_);
}

}  // namespace migemu::migration
