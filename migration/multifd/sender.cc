#include "migration/multifd/sender.h"

#include <absl/strings/str_cat.h>
#include <pthread.h>

#include <algorithm>
#include <array>
#include <string>
#include <thread>
#include <utility>

#include "io/errors.h"
#include "migration/fault_points.h"
#include "migration/multifd/compression.h"
#include "migration/multifd/errors.h"
#include "migration/multifd/packet.h"
#include "util/check.h"
#include "util/fault.h"
#include "util/status_macros.h"

namespace migemu::migration {

// MultiFDPages_t: offsets of up to 128 pages of one block. Owned by the migration thread while
// it fills it, by a channel while that channel has a pending job (the two swap under mu_).
struct MultifdSender::Batch {
  const system::RamBlock* block = nullptr;
  uint32_t num = 0;
  std::array<uint64_t, kMultifdPageCount> offset{};
};

// MultiFDSendParams. Fields marked (mu_) are guarded by MultifdSender::mu_; the rest belong to
// the slot's thread once it runs.
struct MultifdSender::Slot {
  explicit Slot(int i) : id(i), header(kMultifdPacketLen, 0) { iov.reserve(kMultifdPageCount + 1); }

  const int id;
  // (mu_)
  int pending_job = 0;       // 0: idle; the migration thread may hand it a batch or a SYNC
  bool in_progress = false;  // the thread took the current job (its flags are read)
  uint32_t flags = 0;        // kMultifdFlagSync when SyncMain asked for one
  uint64_t packet_num = 0;
  std::unique_ptr<Batch> batch = std::make_unique<Batch>();
  uint64_t syncs_done = 0;               // QEMU's sem_sync, as a count
  std::unique_ptr<io::Channel> channel;  // set once connected; destroyed after the join
  ChannelStats stats;
  // Thread-owned.
  std::unique_ptr<MultifdSendMethod> method;
  std::vector<uint8_t> header;  // reused for every packet: never sent with zero copy
  std::vector<iovec> iov;
  std::array<uint64_t, kMultifdPageCount> normal{};
  // Last: destroyed (joined) first.
  std::jthread thread;
};

namespace {

void SetThreadName(const std::string& name) {
  // Linux limits names to 15 characters; "multifdsend_254" fits.
  pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
}

}  // namespace

MultifdSender::MultifdSender(MultifdConfig config, Connector connect, RamCounters& counters,
                             QemuFileWriter& main_file)
    : config_(config),
      connect_(std::move(connect)),
      counters_(counters),
      main_file_(main_file),
      batch_(std::make_unique<Batch>()) {}

MultifdSender::~MultifdSender() {
  Shutdown();
  // Join every thread before any slot (channel, buffers) is destroyed: a thread that is still
  // failing may touch every slot through Fail() until it returns.
  for (auto& slot : slots_) {
    if (slot->thread.joinable()) {
      slot->thread.join();
    }
  }
}

void MultifdSender::SetErrorCallback(ErrorCallback on_error) {
  MIG_CHECK(!started_, "SetErrorCallback after Start");
  on_error_ = std::move(on_error);
}

absl::Status MultifdSender::Start() {
  if (started_) {
    return absl::FailedPreconditionError(kErrAlreadyStarted);
  }
  MIG_RETURN_IF_ERROR(ValidateMultifdConfig(config_));
  {
    absl::MutexLock lock(&mu_);
    if (quit_) {
      return StopStatusLocked();
    }
  }
  // send_setup of every channel first: a setup failure starts no thread at all.
  std::vector<std::unique_ptr<Slot>> slots;
  for (int i = 0; i < config_.channels; ++i) {
    auto slot = std::make_unique<Slot>(i);
    MIG_ASSIGN_OR_RETURN(slot->method, CreateSendMethod(config_, static_cast<uint8_t>(i)));
    slots.push_back(std::move(slot));
  }
  {
    absl::MutexLock lock(&mu_);  // Stats() may read slots_ from another thread
    slots_ = std::move(slots);
  }
  started_ = true;
  for (auto& slot : slots_) {
    Slot* s = slot.get();
    s->thread = std::jthread([this, s] { ChannelMain(*s); });
  }
  return absl::OkStatus();
}

void MultifdSender::ChannelMain(Slot& slot) noexcept {
  SetThreadName(absl::StrCat("multifdsend_", slot.id));
  // A connection not yet handed to the slot lives here, so that it closes only after the error
  // is recorded: its peer reacts to the close, and the error it provokes elsewhere must not
  // win over the cause.
  std::unique_ptr<io::Channel> connecting;
  const absl::Status status = RunChannel(slot, connecting);
  if (!status.ok()) {
    Fail(status);
  }
}

absl::Status MultifdSender::RunChannel(Slot& slot, std::unique_ptr<io::Channel>& channel) {
  MIG_RETURN_IF_ERROR(MIG_FAULT_POINT(kFaultMultifdSendConnect));
  absl::StatusOr<std::unique_ptr<io::Channel>> connected = connect_(stop_.get_token());
  if (!connected.ok()) {
    return connected.status();
  }
  channel = std::move(*connected);
  MIG_CHECK(channel != nullptr, "multifd connector returned no channel");
  MIG_RETURN_IF_ERROR(MIG_FAULT_POINT(kFaultMultifdSendConnected));
  if (config_.zero_copy && !channel->HasFeature(io::Feature::kZeroCopySend)) {
    return absl::FailedPreconditionError(io::kErrZeroCopyNotDetected);
  }
  io::Channel* ch = nullptr;
  {
    absl::MutexLock lock(&mu_);
    if (quit_) {
      return absl::OkStatus();  // cancelled while connecting; ChannelMain closes `channel`
    }
    slot.channel = std::move(channel);
    slot.stats.connected = true;
    ch = slot.channel.get();
  }

  const auto init = EncodeInitPacket(config_.uuid, static_cast<uint8_t>(slot.id));
  MIG_RETURN_IF_ERROR(ch->WriteAll(init.data(), init.size()));
  MIG_RETURN_IF_ERROR(MIG_FAULT_POINT(kFaultMultifdSendInit));

  // Only guest pages may go with the zero-copy flag (they live for the whole migration and a
  // change to one is re-sent after the next sync); the header buffer and compression output
  // are rewritten for the next packet, so they are always copied by the kernel.
  const bool zero_copy = config_.zero_copy;
  const uint32_t page_flags =
      zero_copy && slot.method->payload_is_guest_memory() ? io::kWriteZeroCopy : io::kWriteNone;
  uint8_t* const header = slot.header.data();

  for (;;) {
    uint64_t packet_num = 0;
    uint32_t flags = 0;
    const system::RamBlock* block = nullptr;
    uint32_t num = 0;
    {
      absl::MutexLock lock(&mu_);
      auto has_work = [this, &slot]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return quit_ || slot.pending_job > 0;
      };
      mu_.Await(absl::Condition(&has_work));
      if (quit_) {
        return absl::OkStatus();
      }
      slot.in_progress = true;
      packet_num = slot.packet_num;
      flags = slot.flags;
      slot.flags = 0;
      num = slot.batch->num;
      block = slot.batch->block;
      std::copy_n(slot.batch->offset.begin(), num, slot.normal.begin());
      slot.batch->num = 0;
      slot.batch->block = nullptr;
    }

    slot.iov.clear();
    if (!zero_copy) {
      slot.iov.push_back(iovec{header, kMultifdPacketLen});
    }
    uint32_t next_packet_size = 0;
    const absl::Span<const uint64_t> offsets(slot.normal.data(), num);
    if (num > 0) {
      MIG_ASSIGN_OR_RETURN(next_packet_size, slot.method->Prepare(*block, offsets, slot.iov));
      flags |= slot.method->flag();
    }
    FillPacket(header,
               PacketFields{.flags = flags,
                            .pages_alloc = kMultifdPageCount,
                            .next_packet_size = next_packet_size,
                            .packet_num = packet_num},
               num > 0 ? block : nullptr, offsets);
    MIG_RETURN_IF_ERROR(MIG_FAULT_POINT(kFaultMultifdSendPacket));

    if (zero_copy) {
      MIG_RETURN_IF_ERROR(ch->WriteAll(header, kMultifdPacketLen));
      if (!slot.iov.empty()) {
        MIG_RETURN_IF_ERROR(ch->WritevAll(slot.iov, page_flags));
      }
    } else {
      MIG_RETURN_IF_ERROR(ch->WritevAll(slot.iov));
    }

    absl::MutexLock lock(&mu_);
    --slot.pending_job;
    slot.in_progress = false;
    ++slot.stats.packets;
    slot.stats.pages += num;
    slot.stats.payload_bytes += next_packet_size;
    if ((flags & kMultifdFlagSync) != 0) {
      ++slot.syncs_done;
      ++slot.stats.syncs;
    }
  }
}

bool MultifdSender::AnyIdleLocked() const {
  return std::any_of(slots_.begin(), slots_.end(),
                     [](const std::unique_ptr<Slot>& s) { return s->pending_job == 0; });
}

absl::Status MultifdSender::SendPages() {
  uint64_t bytes = 0;
  {
    absl::MutexLock lock(&mu_);
    // channels_ready: wait for an idle channel. QEMU counts completed jobs in a semaphore and
    // then scans for an idle channel (spinning when a SYNC's credit has no idle channel behind
    // it); waiting for the condition itself gives the same choice without the spin.
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return quit_ || AnyIdleLocked(); };
    mu_.Await(absl::Condition(&ready));
    if (quit_) {
      return StopStatusLocked();
    }
    const int n = static_cast<int>(slots_.size());
    Slot* slot = nullptr;
    for (int k = 0; k < n; ++k) {
      const int i = (next_channel_ + k) % n;
      if (slots_[i]->pending_job == 0) {
        slot = slots_[i].get();
        next_channel_ = (i + 1) % n;
        break;
      }
    }
    MIG_CHECK(slot != nullptr, "no idle multifd channel after channels_ready");
    ++slot->pending_job;
    slot->packet_num = packet_num_++;
    std::swap(batch_, slot->batch);
    bytes = uint64_t{slot->batch->num} * system::kPageSize + kMultifdPacketLen;
  }
  Account(bytes);
  return absl::OkStatus();
}

void MultifdSender::Account(uint64_t bytes) {
  main_file_.AccountRateLimit(static_cast<int64_t>(bytes));
  RamCounters::Add(counters_.multifd_bytes, bytes);
  RamCounters::Add(counters_.transferred, bytes);
}

absl::Status MultifdSender::QueuePage(system::RamBlock& block, uint64_t offset) {
  if (!started_) {
    return absl::FailedPreconditionError(kErrNotStarted);
  }
  MIG_CHECK(offset % system::kPageSize == 0 && offset < block.used_length(),
            "multifd page offset outside its block");
  if (batch_->block != nullptr && batch_->block != &block) {
    // A batch carries pages of one block only. (QEMU 7.2 also re-queues the last page of every
    // full batch by accident; that duplicate is not reproduced.)
    MIG_RETURN_IF_ERROR(SendPages());
  }
  batch_->block = &block;
  batch_->offset[batch_->num++] = offset;
  if (batch_->num == kMultifdPageCount) {
    return SendPages();
  }
  return absl::OkStatus();
}

absl::Status MultifdSender::SyncMain() {
  if (!started_) {
    return absl::FailedPreconditionError(kErrNotStarted);
  }
  if (batch_->num > 0) {
    MIG_RETURN_IF_ERROR(SendPages());
  }
  std::vector<uint64_t> target(slots_.size());
  for (size_t i = 0; i < slots_.size(); ++i) {
    Slot& slot = *slots_[i];
    if (absl::Status fault = MIG_FAULT_POINT(kFaultMultifdSendSync); !fault.ok()) {
      Fail(fault);
    }
    io::Channel* ch = nullptr;
    uint64_t bytes = 0;
    {
      absl::MutexLock lock(&mu_);
      if (quit_) {
        return StopStatusLocked();
      }
      slot.packet_num = packet_num_++;
      slot.flags |= kMultifdFlagSync;
      // A batch the thread has not taken yet carries the SYNC itself. QEMU 7.2 does the same
      // but still counts a second job, which goes out as an empty packet after the sync (and
      // may be cut off by the cleanup's shutdown mid-write); here the SYNC is one packet.
      const bool merged = slot.pending_job > 0 && !slot.in_progress;
      if (!merged) {
        ++slot.pending_job;
      }
      target[i] = slot.syncs_done + 1;
      ch = slot.channel.get();  // null while still connecting: nothing of it to flush
      if (!merged) {
        bytes = kMultifdPacketLen;
      }
    }
    Account(bytes);
    if (config_.zero_copy && ch != nullptr) {
      // Flush right after posting this channel's SYNC, on this thread, while the channel may
      // still be writing: every zero-copy send queued before now must complete before the next
      // round can send a newer copy of one of its pages on another channel.
      const absl::Status fault = MIG_FAULT_POINT(kFaultMultifdSendFlush);
      absl::StatusOr<io::FlushResult> flushed =
          fault.ok() ? ch->Flush() : absl::StatusOr<io::FlushResult>(fault);
      if (!flushed.ok()) {
        Fail(flushed.status());
        absl::MutexLock lock(&mu_);
        return StopStatusLocked();
      }
      if (*flushed == io::FlushResult::kAllCopied) {
        RamCounters::Add(counters_.dirty_sync_missed_zero_copy, 1);
      }
    }
  }
  absl::MutexLock lock(&mu_);
  auto synced = [this, &target]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (quit_) {
      return true;
    }
    for (size_t i = 0; i < slots_.size(); ++i) {
      if (slots_[i]->syncs_done < target[i]) {
        return false;
      }
    }
    return true;
  };
  mu_.Await(absl::Condition(&synced));
  if (quit_) {
    return StopStatusLocked();
  }
  return absl::OkStatus();
}

void MultifdSender::ShutdownChannelsLocked() {
  for (auto& slot : slots_) {
    if (slot->channel != nullptr) {
      // Unblocks a writer or a flush; errors (already shut, closed peer) do not matter here.
      (void)slot->channel->Shutdown(io::ShutdownDirection::kBoth);
    }
  }
}

void MultifdSender::Fail(const absl::Status& status) {
  ErrorCallback on_error;
  {
    absl::MutexLock lock(&mu_);
    if (quit_) {
      return;  // first error wins; errors caused by the teardown are not news
    }
    quit_ = true;
    error_ = status;
    ShutdownChannelsLocked();
    on_error = on_error_;
  }
  stop_.request_stop();
  if (on_error) {
    on_error(status);
  }
}

void MultifdSender::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    quit_ = true;
    ShutdownChannelsLocked();
  }
  stop_.request_stop();
}

absl::Status MultifdSender::StopStatusLocked() const {
  return error_.ok() ? absl::CancelledError(kErrSenderShutDown) : error_;
}

absl::Status MultifdSender::error() const {
  absl::MutexLock lock(&mu_);
  return error_;
}

std::vector<MultifdSender::ChannelStats> MultifdSender::Stats() const {
  absl::MutexLock lock(&mu_);
  std::vector<ChannelStats> out;
  out.reserve(slots_.size());
  for (const auto& slot : slots_) {
    out.push_back(slot->stats);
  }
  return out;
}

uint64_t MultifdSender::packet_num() const {
  absl::MutexLock lock(&mu_);
  return packet_num_;
}

}  // namespace migemu::migration
