#include "migration/fault_points.h"

#include <iterator>

namespace migemu::migration {

namespace {

using S = FaultSide;

constexpr FaultPointInfo kPoints[] = {
    {kFaultSendConnect, S::kSource, "before the main channel connects: the migration fails"},
    {kFaultSendTlsHandshake, S::kSource,
     "before each TLS client handshake (main stream and every multifd channel): the "
     "connection is closed, the migration fails"},
    {kFaultSendSetup, S::kSource, "setup, after the stream header is queued: setup fails"},
    {kFaultSendWrite, S::kSource,
     "a main-stream writev batch (after=N: the N+1th): nothing of it is written, the stream "
     "fails"},
    {kFaultSendShortWrite, S::kSource,
     "a main-stream writev batch: only its first half is written, then the stream fails (the "
     "destination sees a record cut in the middle)"},
    {kFaultSendFlush, S::kSource,
     "the flush that ends setup, each iteration and completion: the stream fails"},
    {kFaultSendIterate, S::kSource, "before an iteration of the dirty walk: the migration fails"},
    {kFaultSendComplete, S::kSource,
     "completion, after the guest stopped: the migration fails and the guest is restarted"},
    {kFaultSendReturnPath, S::kSource,
     "each return-path message the source reads: the return path reports an error"},
    {kFaultMultifdSendConnect, S::kSource, "before a multifd channel connects"},
    {kFaultMultifdSendConnected, S::kSource, "after a multifd channel connected"},
    {kFaultMultifdSendInit, S::kSource, "after a multifd channel sent its init packet"},
    {kFaultMultifdSendPacket, S::kSource, "before a multifd packet is written"},
    {kFaultMultifdSendSync, S::kSource, "a multifd sync (SyncMain)"},
    {kFaultMultifdSendFlush, S::kSource, "a multifd channel flush at a sync"},
    {kFaultRecvAccept, S::kDestination,
     "an accepted connection: it is dropped unread, the destination keeps listening"},
    {kFaultRecvTlsHandshake, S::kDestination,
     "before each TLS server handshake: the connection is dropped, the destination keeps "
     "listening"},
    {kFaultRecvRead, S::kDestination,
     "a read of the main stream (after=N: the N+1th): the load fails, the process exits"},
    {kFaultRecvLoad, S::kDestination, "the load thread's start: the load fails"},
    {kFaultRecvComplete, S::kDestination,
     "after the whole stream loaded, before the guest takes it: the load fails"},
    {kFaultRecvReturnPath, S::kDestination,
     "each return-path message the destination sends: the channel is shut down"},
    {kFaultMultifdRecvInit, S::kDestination, "reading a multifd channel's init packet"},
    {kFaultMultifdRecvPacket, S::kDestination, "reading a multifd packet"},
    {kFaultMultifdRecvSync, S::kDestination, "a multifd SYNC packet"},
};

}  // namespace

absl::Span<const FaultPointInfo> FaultPoints() {
  return absl::MakeConstSpan(kPoints, std::size(kPoints));
}

const FaultPointInfo* FindFaultPoint(absl::string_view name) {
  for (const FaultPointInfo& p : kPoints) {
    if (name == p.name) {
      return &p;
    }
  }
  return nullptr;
}

}  // namespace migemu::migration
