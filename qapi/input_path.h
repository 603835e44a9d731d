// File: qapi/input_path.h
//
// InputPath is the state of one JSON -> C++ unmarshalling pass (QEMU's
// QObjectInputVisitor stack): where in the input the visit is, for QEMU-exact error texts,
// and which members of each object have not been consumed yet, to reject the leftovers.
//
// Generated FromJson functions drive it; hand-written code normally only creates one:
//
//   InputPath path;
//   MigrateSetParameters params;
//   MIG_RETURN_IF_ERROR(FromJson(args, path, &params));
//
// Names in errors follow qobject-input-visitor.c's full_name(): members of nested objects
// are joined with '.', list elements add "[i]" ("capabilities[0].state"), the root has no
// name. Range and enum errors name only the innermost member, or "null" for a list
// element, exactly as QEMU does.
//
// Not thread-safe; one InputPath per unmarshalling pass.
#ifndef MIGEMU_QAPI_INPUT_PATH_H_
#define MIGEMU_QAPI_INPUT_PATH_H_

#include <absl/status/status.h>
#include <absl/strings/string_view.h>
#include <rapidjson/document.h>

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "qapi/qdict_order.h"

namespace migemu::qapi {

class InputPath {
 public:
  InputPath() = default;

  // StartObject begins visiting the object `in` as the current value; fails with
  // "Invalid parameter type for '<path>', expected: object" if it is not one. On success
  // the caller must call EndObject().
  [[nodiscard]] absl::Status StartObject(const rapidjson::Value& in);
  // Member makes `name` the current member of the object being visited (`obj`, the value
  // passed to StartObject) and returns its value, consuming it, or null when it is absent.
  const rapidjson::Value* Member(const rapidjson::Value& obj, absl::string_view name);
  // CheckObject fails with "Parameter '<path>' is unexpected" for the first member (in
  // QEMU's order) that no Member() call consumed.
  [[nodiscard]] absl::Status CheckObject() const;
  void EndObject();

  // StartList begins visiting the array `in`; fails with "... expected: array". On
  // success the caller calls NextElement() before each element and EndList() at the end.
  [[nodiscard]] absl::Status StartList(const rapidjson::Value& in);
  void NextElement();
  void EndList();

  // FullName is the path of the current value ("a.b[2].c"; "<anonymous>" for the root).
  std::string FullName() const;
  // LocalName is the current member's own name, or "null" for a list element or the root.
  std::string LocalName() const;

  // Errors about the current value.
  [[nodiscard]] absl::Status MissingError() const;                              // full path
  [[nodiscard]] absl::Status TypeError(absl::string_view expected) const;       // full path
  [[nodiscard]] absl::Status Uint64Error() const;                               // full path
  [[nodiscard]] absl::Status RangeError(absl::string_view c_type) const;        // local name
  [[nodiscard]] absl::Status EnumValueError(absl::string_view value) const;     // local name
  [[nodiscard]] absl::Status AlternateTypeError(absl::string_view type) const;  // local name

  // Depth of nested objects and lists being visited (0 at the root).
  size_t depth() const { return frames_.size(); }

 private:
  struct Frame {
    std::optional<std::string> name;  // the frame's own name in its parent
    bool is_list = false;
    size_t index = 0;       // lists: index of the current element
    GHashKeySet unvisited;  // objects: members not consumed yet
  };

  std::string FullNameOf(const std::optional<std::string>& innermost) const;

  std::vector<Frame> frames_;
  std::optional<std::string> current_;  // name of the value being visited
};

}  // namespace migemu::qapi

#endif  // MIGEMU_QAPI_INPUT_PATH_H_
