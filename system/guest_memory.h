// File: system/guest_memory.h
//
// Guest RAM of the emulated machine: a list of RAM blocks (QEMU's RAMBlock), each a page-aligned
// mapping with a dirty log. Machine `none` has one block: "ram" for `-m SIZE`, or the backend id
// for `-machine none,memory-backend=ID` with `-object memory-backend-{ram,file},id=ID,...`.
//
//   MIG_ASSIGN_OR_RETURN(auto block, RamBlock::CreateAnonymous("ram", 64 << 20, false));
//   memory.AddBlock(std::move(block));
//   RamBlock* ram = memory.Find("ram");
//   ram->dirty_log().Mark(page);          // a guest write (workload thread)
//   ram->dirty_log().HarvestInto(bitmap); // migration's bitmap sync
//
// Ownership: GuestMemory owns its blocks; a block owns its mapping. Blocks are created before
// any thread starts and live until the process ends, so workers hold plain pointers.
//
// Thread-safety: the page contents are shared with the guest workload threads and the migration
// threads (as guest RAM is in QEMU); DirtyLog is lock-free and safe from any thread; the block
// list is immutable once the machine starts.
#ifndef MIGEMU_SYSTEM_GUEST_MEMORY_H_
#define MIGEMU_SYSTEM_GUEST_MEMORY_H_

#include <absl/status/statusor.h>
#include <absl/strings/string_view.h>
#include <absl/types/span.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace migemu::system {

// x86_64's TARGET_PAGE_SIZE: the unit of dirty tracking and of the migration stream.
inline constexpr size_t kPageBits = 12;
inline constexpr size_t kPageSize = size_t{1} << kPageBits;

// DirtyLog: one bit per page, set by guest writers after they finish a write (release order),
// harvested by bitmap syncs (KVM_GET_DIRTY_LOG semantics: read-and-clear). Like QEMU's dirty
// memory clients, there are two independent logs: one for migration and one for dirty-rate
// measurement (calc-dirty-rate mode=dirty-bitmap), enabled only while a measurement runs.
class DirtyLog final {
 public:
  enum Client { kMigration = 0, kDirtyRate = 1 };

  explicit DirtyLog(size_t pages);
  DirtyLog(const DirtyLog&) = delete;
  DirtyLog& operator=(const DirtyLog&) = delete;

  size_t pages() const { return pages_; }
  size_t words() const { return words_[0].size(); }

  // Mark: records that `page` was written. The write must be complete before the call, so that a
  // harvester that sees the bit also sees the new contents.
  void Mark(size_t page) {
    const uint64_t bit = uint64_t{1} << (page & 63);
    words_[kMigration][page >> 6].fetch_or(bit, std::memory_order_release);
    if (rate_enabled_.load(std::memory_order_relaxed)) {
      words_[kDirtyRate][page >> 6].fetch_or(bit, std::memory_order_release);
    }
  }
  // MarkAll: every page dirty in the migration log.
  void MarkAll();

  // HarvestInto: ORs every set bit of `client`'s log into `dest` (words() words) and clears the
  // log; returns how many bits were newly set in `dest` (QEMU's num_dirty of a bitmap sync).
  // After it, a page write that completes is either in this harvest or in a later one.
  uint64_t HarvestInto(uint64_t* dest, Client client = kMigration);

  // EnableRateClient: starts (clearing it) or stops the dirty-rate log.
  void EnableRateClient(bool on);

  // Count: bits currently set in `client`'s log (racy snapshot, for statistics).
  uint64_t Count(Client client = kMigration) const;

 private:
  size_t pages_;
  std::vector<std::atomic<uint64_t>> words_[2];
  std::atomic<bool> rate_enabled_{false};
};

// RamBlock: one contiguous region of guest RAM.
class RamBlock final {
 public:
  // CreateAnonymous: private anonymous memory (zero-filled). With `prealloc`, every page is
  // faulted in up front (-mem-prealloc), so the first migration write does not pay for it.
  static absl::StatusOr<std::unique_ptr<RamBlock>> CreateAnonymous(std::string idstr, uint64_t size,
                                                                   bool prealloc);
  // CreateFromFile: memory-backend-file. The file is created if missing and extended to `size`;
  // with `share` the mapping is MAP_SHARED, so the file shows guest RAM (tests read it).
  static absl::StatusOr<std::unique_ptr<RamBlock>> CreateFromFile(std::string idstr, uint64_t size,
                                                                  const std::string& path,
                                                                  bool share, bool prealloc);
  ~RamBlock();
  RamBlock(const RamBlock&) = delete;
  RamBlock& operator=(const RamBlock&) = delete;

  const std::string& idstr() const { return idstr_; }
  uint64_t used_length() const { return size_; }
  size_t page_count() const { return size_ >> kPageBits; }
  uint8_t* host() const { return host_; }
  uint8_t* PageHost(size_t page) const { return host_ + (page << kPageBits); }
  DirtyLog& dirty_log() { return dirty_log_; }
  // populated: every page was faulted in when the block was created (prealloc), so there is
  // nothing left for a destination to fault in ahead of the load.
  bool populated() const { return populated_; }

  // IsZeroPage: true if the page is all zero bytes (QEMU's buffer_is_zero on the page).
  bool IsZeroPage(size_t page) const;

 private:
  RamBlock(std::string idstr, uint8_t* host, uint64_t size);

  std::string idstr_;
  uint8_t* host_;
  uint64_t size_;
  DirtyLog dirty_log_;
  bool populated_ = false;
};

// IsZeroBuffer: true if `len` bytes at `p` are zero; `len` a multiple of 64. Vectorisable.
bool IsZeroBuffer(const uint8_t* p, size_t len);

// GuestMemory: the machine's RAM blocks, in creation order (= QEMU's RAM list order).
class GuestMemory final {
 public:
  GuestMemory() = default;
  GuestMemory(const GuestMemory&) = delete;
  GuestMemory& operator=(const GuestMemory&) = delete;

  void AddBlock(std::unique_ptr<RamBlock> block);
  RamBlock* Find(absl::string_view idstr) const;
  absl::Span<const std::unique_ptr<RamBlock>> blocks() const { return blocks_; }
  uint64_t total_bytes() const;
  uint64_t total_pages() const { return total_bytes() >> kPageBits; }

 private:
  std::vector<std::unique_ptr<RamBlock>> blocks_;
};

}  // namespace migemu::system

#endif  // MIGEMU_SYSTEM_GUEST_MEMORY_H_
