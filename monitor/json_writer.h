// File: monitor/json_writer.h
//
// FormatQmpJson prints a JSON value exactly as QEMU 7.2 prints a QObject on QMP
// (qobject_to_json() with qobject/json-writer.c, non-pretty), so migemu's responses and events
// can be byte-identical to QEMU's:
//  * objects as {"key": value, "key": value}, arrays as [a, b], empty ones as {} and [];
//  * object members in QDict iteration order (see monitor/qdict_order.h), computed from the
//    rapidjson member order taken as insertion order. A name that occurs twice is printed once,
//    where its first occurrence goes, with the value of its last one (qdict_put_obj() replaces);
//  * strings escaped as quoted_str() does: \" \\ \b \f \n \r \t, every other code point below
//    U+0020 or from U+007F up as \uXXXX (upper-case hex), beyond the BMP as a surrogate pair, and
//    each invalid (modified) UTF-8 sequence as \uFFFD. C0 80 and a NUL byte are U+0000;
//  * integers (int64 and uint64) in decimal, doubles as printf("%.17g") in the C locale (so an
//    infinity prints as inf, as QEMU does).
//
//   rapidjson::Document rsp(rapidjson::kObjectType);
//   rsp.AddMember("return", rapidjson::Value(rapidjson::kObjectType), rsp.GetAllocator());
//   std::string line = FormatQmpJson(rsp);   // {"return": {}}
//
// Thread-safe (no state).
#ifndef MIGEMU_MONITOR_JSON_WRITER_H_
#define MIGEMU_MONITOR_JSON_WRITER_H_

#include <absl/strings/string_view.h>
#include <rapidjson/document.h>

#include <string>

namespace migemu::monitor {

// FormatQmpJson: `value` as QEMU writes it, without the trailing newline.
std::string FormatQmpJson(const rapidjson::Value& value);

// AppendQmpJsonString: appends `s` as a quoted, escaped JSON string (QEMU's quoted_str()).
void AppendQmpJsonString(absl::string_view s, std::string* out);

// FormatQmpDouble: printf("%.17g", d) in the C locale ("inf", "-inf", "nan" included).
std::string FormatQmpDouble(double d);

}  // namespace migemu::monitor

#endif  // MIGEMU_MONITOR_JSON_WRITER_H_
