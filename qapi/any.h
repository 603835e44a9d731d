// File: qapi/any.h
//
// Any is the C++ type of the schema's 'any': an arbitrary JSON value held by value
// (QEMU's QObject*). It owns a RapidJSON document; copies are deep, == compares JSON
// values (object member order does not matter).
//
//   MIG_ASSIGN_OR_RETURN(Any value, Any::Parse(R"({"a": [1, 2]})"));
//   value.value()["a"].Size();   // 2
//   value.ToJsonText();          // {"a":[1,2]}
#ifndef MIGEMU_QAPI_ANY_H_
#define MIGEMU_QAPI_ANY_H_

#include <absl/status/statusor.h>
#include <absl/strings/string_view.h>
#include <rapidjson/document.h>

#include <memory>
#include <string>

namespace migemu::qapi {

class Any {
 public:
  // A JSON null.
  Any() = default;
  // A deep copy of `value`.
  explicit Any(const rapidjson::Value& value);

  // Parse reads one JSON value; fails with InvalidArgument on malformed text.
  [[nodiscard]] static absl::StatusOr<Any> Parse(absl::string_view json);

  Any(const Any& other);
  Any& operator=(const Any& other);
  Any(Any&& other) noexcept = default;
  Any& operator=(Any&& other) noexcept = default;
  ~Any() = default;

  // The held value (a null value for a default-constructed or moved-from Any).
  const rapidjson::Value& value() const;
  // Compact JSON text of the value.
  std::string ToJsonText() const;
  // Deep-copies the value into `out`, allocating from `alloc`.
  void CopyTo(rapidjson::Value* out, rapidjson::Document::AllocatorType& alloc) const;

  friend bool operator==(const Any& a, const Any& b) { return a.value() == b.value(); }

 private:
  std::unique_ptr<rapidjson::Document> doc_;  // null means JSON null
};

}  // namespace migemu::qapi

#endif  // MIGEMU_QAPI_ANY_H_
