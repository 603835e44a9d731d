// File: migration/multifd_queue.h
//
// The interface the RAM saver uses to hand non-zero pages to the multifd engine (QEMU's
// multifd_queue_page() / multifd_send_sync_main()). Zero pages never go through it: QEMU 7.2
// sends them on the main stream.
#ifndef MIGEMU_MIGRATION_MULTIFD_QUEUE_H_
#define MIGEMU_MIGRATION_MULTIFD_QUEUE_H_

#include <absl/status/status.h>

#include <cstdint>

#include "system/guest_memory.h"

namespace migemu::migration {

class MultifdPageQueue {
 public:
  virtual ~MultifdPageQueue() = default;
  // QueuePage: adds the page at `offset` of `block` to the current batch; a full batch (or a
  // page of another block) is handed to an idle channel, waiting for one if needed. Errors: the
  // first error of any channel.
  virtual absl::Status QueuePage(system::RamBlock& block, uint64_t offset) = 0;
  // SyncMain: sends the partial batch, then a SYNC packet on every channel, flushes zero-copy
  // sends and waits until every channel wrote its SYNC. Must precede every RAM EOS.
  virtual absl::Status SyncMain() = 0;

 protected:
  MultifdPageQueue() = default;
};

}  // namespace migemu::migration

#endif  // MIGEMU_MIGRATION_MULTIFD_QUEUE_H_
