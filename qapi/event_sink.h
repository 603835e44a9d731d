// File: qapi/event_sink.h
//
// EventSink receives the events the generated emitters build (qapi-events-*.h):
//
//   EmitMigration(sink, MigrationStatus::kActive);
//   // -> sink.EmitEvent("MIGRATION", {"status": "active"})
//
// The monitor implements it: it stamps the event with a timestamp, applies QEMU's event
// rate limiting and sends it to every QMP client past capabilities negotiation.
#ifndef MIGEMU_QAPI_EVENT_SINK_H_
#define MIGEMU_QAPI_EVENT_SINK_H_

#include <absl/strings/string_view.h>
#include <rapidjson/document.h>

#include <memory>

namespace migemu::qapi {

// Thread-safety: implementations must accept calls from any thread.
class EventSink {
 public:
  virtual ~EventSink() = default;
  // EmitEvent delivers event `name` (its wire name, e.g. "MIGRATION"). `data` is the
  // event's "data" member, or null for events without members.
  virtual void EmitEvent(absl::string_view name, std::unique_ptr<rapidjson::Document> data) = 0;
};

}  // namespace migemu::qapi

#endif  // MIGEMU_QAPI_EVENT_SINK_H_
