// File: migration/fault_points.h
//
// The catalogue of every named fault point (util/fault.h) the migration code declares, with the
// side it runs on and what a triggered fault does there. `x-inject-fault` refuses names that
// are not listed here (a typo would otherwise arm nothing and a test would pass for the wrong
// reason), `x-query-fault-points` reports the list, and the functional fault walk
// (tests/functional/test_faults.py) takes its points from that answer, so a point added here is
// walked without touching the test. docs/reliability.md describes each point.
//
//   MIG_RETURN_IF_ERROR(MIG_FAULT_POINT(kFaultSendSetup));
//   if (FindFaultPoint("migration.send.write") == nullptr) { ... unknown ... }
//
// Thread-safety: immutable data.
#ifndef MIGEMU_MIGRATION_FAULT_POINTS_H_
#define MIGEMU_MIGRATION_FAULT_POINTS_H_

#include <absl/strings/string_view.h>
#include <absl/types/span.h>

namespace migemu::migration {

enum class FaultSide { kSource, kDestination };

struct FaultPointInfo {
  const char* name;
  FaultSide side;
  const char* what;  // one line: where it sits and what a triggered fault does
};

// ---- The main stream, source side (OutgoingMigration, QemuFileWriter) ----
inline constexpr char kFaultSendConnect[] = "migration.send.connect";
inline constexpr char kFaultSendSetup[] = "migration.send.setup";
inline constexpr char kFaultSendWrite[] = "migration.send.write";
inline constexpr char kFaultSendShortWrite[] = "migration.send.short-write";
inline constexpr char kFaultSendFlush[] = "migration.send.flush";
inline constexpr char kFaultSendIterate[] = "migration.send.iterate";
inline constexpr char kFaultSendComplete[] = "migration.send.complete";
inline constexpr char kFaultSendReturnPath[] = "migration.send.return-path";
inline constexpr char kFaultSendTlsHandshake[] = "migration.send.tls-handshake";
// ---- The main stream, destination side (IncomingMigration, QemuFileReader) ----
inline constexpr char kFaultRecvAccept[] = "migration.recv.accept";
inline constexpr char kFaultRecvTlsHandshake[] = "migration.recv.tls-handshake";
inline constexpr char kFaultRecvRead[] = "migration.recv.read";
inline constexpr char kFaultRecvLoad[] = "migration.recv.load";
inline constexpr char kFaultRecvComplete[] = "migration.recv.complete";
inline constexpr char kFaultRecvReturnPath[] = "migration.recv.return-path";
// ---- Multifd channels (MultifdSender, MultifdReceiver) ----
inline constexpr char kFaultMultifdSendConnect[] = "multifd.send.connect";
inline constexpr char kFaultMultifdSendConnected[] = "multifd.send.connected";
inline constexpr char kFaultMultifdSendInit[] = "multifd.send.init";
inline constexpr char kFaultMultifdSendPacket[] = "multifd.send.packet";
inline constexpr char kFaultMultifdSendSync[] = "multifd.send.sync";
inline constexpr char kFaultMultifdSendFlush[] = "multifd.send.flush";
inline constexpr char kFaultMultifdRecvInit[] = "multifd.recv.init";
inline constexpr char kFaultMultifdRecvPacket[] = "multifd.recv.packet";
inline constexpr char kFaultMultifdRecvSync[] = "multifd.recv.sync";

// FaultPoints: every point, source points first, in the order a migration reaches them.
absl::Span<const FaultPointInfo> FaultPoints();

// FindFaultPoint: the entry named `name`, or null.
const FaultPointInfo* FindFaultPoint(absl::string_view name);

}  // namespace migemu::migration

#endif  // MIGEMU_MIGRATION_FAULT_POINTS_H_
