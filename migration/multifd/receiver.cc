#include "migration/multifd/receiver.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>
#include <pthread.h>

#include <algorithm>
#include <array>
#include <string>
#include <thread>
#include <utility>

#include "migration/fault_points.h"
#include "migration/multifd/compression.h"
#include "migration/multifd/errors.h"
#include "migration/multifd/packet.h"
#include "util/fault.h"
#include "util/status_macros.h"

namespace migemu::migration {

// MultiFDRecvParams. Fields marked (mu_) are guarded by MultifdReceiver::mu_; `channel` is set
// before the thread starts and destroyed after it was joined; the rest belong to the thread.
struct MultifdReceiver::Slot {
  explicit Slot(std::unique_ptr<io::Channel> ch)
      : channel(std::move(ch)), header(kMultifdPacketLen, 0) {}

  const std::unique_ptr<io::Channel> channel;
  // (mu_)
  int id = -1;
  bool posted = false;      // delivered a SYNC and waits to be released (QEMU's sem_sync post)
  uint64_t released = 0;    // releases by SyncMain (p->sem_sync posts)
  bool ended = false;       // the thread left its loop (EOF, error or shutdown)
  uint64_t packet_num = 0;  // of the last packet
  ChannelStats stats;
  // Thread-owned.
  std::unique_ptr<MultifdRecvMethod> method;
  std::vector<uint8_t> header;
  ReceivedPacket packet;
  // Last: destroyed (joined) first.
  std::jthread thread;
};

namespace {

void SetThreadName(const std::string& name) {
  pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
}

}  // namespace

MultifdReceiver::MultifdReceiver(MultifdConfig config, system::GuestMemory& memory)
    : config_(config), memory_(memory), by_id_(std::max(config.channels, 0), nullptr) {}

MultifdReceiver::~MultifdReceiver() {
  Shutdown();  // from now on AddChannel adds nothing
  std::vector<Slot*> slots;
  {
    absl::MutexLock lock(&mu_);
    for (auto& s : slots_) {
      slots.push_back(s.get());
    }
  }
  for (Slot* s : slots) {
    if (s->thread.joinable()) {
      s->thread.join();
    }
  }
}

void MultifdReceiver::SetErrorCallback(ErrorCallback on_error) {
  absl::MutexLock lock(&mu_);
  on_error_ = std::move(on_error);
}

bool MultifdReceiver::AddChannel(std::unique_ptr<io::Channel> channel) {
  std::unique_ptr<io::Channel> dropped;  // closed outside the lock
  absl::MutexLock lock(&mu_);
  if (quit_ || static_cast<int>(slots_.size()) >= config_.channels) {
    dropped = std::move(channel);
    return false;
  }
  auto slot = std::make_unique<Slot>(std::move(channel));
  Slot* s = slot.get();
  slots_.push_back(std::move(slot));
  // Started under the lock: the thread's first locked step waits until the slot is in place.
  s->thread = std::jthread([this, s] { ChannelMain(*s); });
  return true;
}

bool MultifdReceiver::AllConnected() const {
  absl::MutexLock lock(&mu_);
  return registered_ == config_.channels;
}

void MultifdReceiver::ChannelMain(Slot& slot) noexcept {
  SetThreadName("multifdrecv");
  const absl::Status status = RunChannel(slot);
  // Fail first: SyncMain must see this channel's error, not just a channel that ended.
  if (!status.ok()) {
    Fail(status);
  }
  absl::MutexLock lock(&mu_);
  slot.ended = true;
}

absl::Status MultifdReceiver::ReceiveInit(Slot& slot) {
  std::array<uint8_t, kMultifdInitSize> init{};
  absl::Status read = MIG_FAULT_POINT(kFaultMultifdRecvInit);
  if (read.ok()) {
    read = slot.channel->ReadAll(init.data(), init.size());
  }
  absl::StatusOr<uint8_t> id =
      read.ok() ? ParseInitPacket(init, config_.uuid, config_.channels) : read;
  absl::MutexLock lock(&mu_);
  if (!id.ok()) {
    // error_propagate_prepend(): %d counts the channels set up so far.
    return absl::Status(
        id.status().code(),
        absl::StrCat(absl::StrFormat(kFmtInitPrefix, registered_), id.status().message()));
  }
  if (by_id_[*id] != nullptr) {
    return absl::InvalidArgumentError(absl::StrFormat(kFmtIdAlreadySetup, int{*id}));
  }
  by_id_[*id] = &slot;
  slot.id = *id;
  slot.stats.id = *id;
  ++registered_;
  return absl::OkStatus();
}

absl::Status MultifdReceiver::RunChannel(Slot& slot) {
  MIG_RETURN_IF_ERROR(ReceiveInit(slot));
  const auto id = static_cast<uint8_t>(slot.stats.id);
  SetThreadName(absl::StrCat("multifdrecv_", id));
  MIG_ASSIGN_OR_RETURN(slot.method, CreateRecvMethod(config_, id));
  ReceivedPacket& packet = slot.packet;
  io::Channel& ch = *slot.channel;

  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (quit_) {
        return absl::OkStatus();
      }
    }
    const iovec header{slot.header.data(), kMultifdPacketLen};
    MIG_ASSIGN_OR_RETURN(bool got, ch.ReadvAll({&header, 1}));
    if (!got) {
      return absl::OkStatus();  // EOF between packets: the source closed the channel
    }
    MIG_RETURN_IF_ERROR(MIG_FAULT_POINT(kFaultMultifdRecvPacket));
    MIG_RETURN_IF_ERROR(UnfillPacket(slot.header, memory_, &packet));
    if (packet.normal_pages > 0) {
      MIG_RETURN_IF_ERROR(slot.method->RecvPages(ch, packet));
    }
    const bool sync = (packet.flags & kMultifdFlagSync) != 0;
    if (sync) {
      MIG_RETURN_IF_ERROR(MIG_FAULT_POINT(kFaultMultifdRecvSync));
    }
    absl::MutexLock lock(&mu_);
    slot.packet_num = packet.packet_num;
    ++slot.stats.packets;
    slot.stats.pages += packet.normal_pages;
    if (!sync) {
      continue;
    }
    // The pages of this packet are in guest RAM; report the sync and wait for the main stream.
    ++slot.stats.syncs;
    slot.posted = true;
    const uint64_t want = slot.released + 1;
    auto released = [this, &slot, want]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return quit_ || slot.released >= want;
    };
    mu_.Await(absl::Condition(&released));
    if (quit_) {
      return absl::OkStatus();
    }
  }
}

absl::Status MultifdReceiver::SyncMain() {
  absl::MutexLock lock(&mu_);
  // Ready when every channel posted its SYNC, or one of them can no longer post.
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (quit_) {
      return true;
    }
    bool all = true;
    for (const Slot* s : by_id_) {
      if (s == nullptr) {
        all = false;  // not connected yet
      } else if (!s->posted) {
        if (s->ended) {
          return true;
        }
        all = false;
      }
    }
    return all;
  };
  mu_.Await(absl::Condition(&ready));
  if (quit_) {
    return StopStatusLocked();
  }
  for (const Slot* s : by_id_) {
    if (s != nullptr && !s->posted && s->ended) {
      const absl::Status err =
          absl::UnavailableError(absl::StrFormat(kFmtChannelEndedBeforeSync, s->id));
      // Record it as the receiver's error too, so every other waiter stops.
      quit_ = true;
      error_ = err;
      ShutdownChannelsLocked();
      return err;
    }
  }
  for (Slot* s : by_id_) {
    packet_num_ = std::max(packet_num_, s->packet_num);
    s->posted = false;
    ++s->released;
  }
  return absl::OkStatus();
}

void MultifdReceiver::ShutdownChannelsLocked() {
  for (auto& s : slots_) {
    (void)s->channel->Shutdown(io::ShutdownDirection::kBoth);
  }
}

void MultifdReceiver::Fail(const absl::Status& status) {
  ErrorCallback on_error;
  {
    absl::MutexLock lock(&mu_);
    if (quit_) {
      return;
    }
    quit_ = true;
    error_ = status;
    ShutdownChannelsLocked();
    on_error = on_error_;
  }
  if (on_error) {
    on_error(status);
  }
}

void MultifdReceiver::Shutdown() {
  absl::MutexLock lock(&mu_);
  quit_ = true;
  ShutdownChannelsLocked();
}

absl::Status MultifdReceiver::StopStatusLocked() const {
  return error_.ok() ? absl::CancelledError(kErrReceiverShutDown) : error_;
}

absl::Status MultifdReceiver::error() const {
  absl::MutexLock lock(&mu_);
  return error_;
}

std::vector<MultifdReceiver::ChannelStats> MultifdReceiver::Stats() const {
  absl::MutexLock lock(&mu_);
  std::vector<ChannelStats> out;
  for (const auto& s : slots_) {
    out.push_back(s->stats);
  }
  return out;
}

uint64_t MultifdReceiver::packet_num() const {
  absl::MutexLock lock(&mu_);
  return packet_num_;
}

}  // namespace migemu::migration
