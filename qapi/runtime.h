// File: qapi/runtime.h
//
// The runtime the generated QAPI code stands on (docs/qapi.md):
//
// * EnumTraits<E>, specialised by the generator for every enum, with EnumToString,
//   EnumFromString and EnumCount;
// * FromJson/ToJson for the builtin types (int8..uint64, size, number, bool, str, null,
//   any), for every enum and for lists (std::vector), with QEMU 7.2's input rules;
// * the member helpers generated struct code calls, and the conveniences
//   ParseArguments<T>(args) and ToDocument(v).
//
//   MIG_ASSIGN_OR_RETURN(MigrateSetParameters p, ParseArguments<MigrateSetParameters>(args));
//   rapidjson::Document doc = ToDocument(p);
//   EnumToString(MigrationStatus::kActive);          // "active"
//   EnumFromString<MigrationStatus>("active");       // MigrationStatus::kActive
//
// JSON numbers: an integer that fits int64 is int64 (IsInt64()), a larger one up to
// UINT64_MAX is uint64, anything else (fractions, exponents, huger) is a double. A
// double never satisfies an integer type; any number satisfies 'number'.
#ifndef MIGEMU_QAPI_RUNTIME_H_
#define MIGEMU_QAPI_RUNTIME_H_

#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include <absl/strings/string_view.h>
#include <rapidjson/document.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "qapi/any.h"
#include "qapi/input_path.h"
#include "util/status_macros.h"

namespace migemu::qapi {

// EnumTraits is specialised for every generated enum E:
//   static constexpr size_t kCount;              // number of values
//   static constexpr const char* kNames[kCount]; // wire names, in declaration order
//   static constexpr const char* kTypeName;      // the schema type name
template <typename E>
struct EnumTraits;

template <typename E>
concept QapiEnum = std::is_enum_v<E> && requires {
  EnumTraits<E>::kCount;
};

// EnumCount returns the number of values of E.
template <QapiEnum E>
constexpr size_t EnumCount() {
  return EnumTraits<E>::kCount;
}

// EnumToString returns the wire name of `v` ("" for a value outside the enum).
template <QapiEnum E>
absl::string_view EnumToString(E v) {
  auto index = static_cast<size_t>(v);
  if (index >= EnumTraits<E>::kCount) {
    return {};
  }
  return EnumTraits<E>::kNames[index];
}

// EnumFromString returns the value whose wire name is `s`, or nullopt.
template <QapiEnum E>
std::optional<E> EnumFromString(absl::string_view s) {
  for (size_t i = 0; i < EnumTraits<E>::kCount; ++i) {
    if (s == EnumTraits<E>::kNames[i]) {
      return static_cast<E>(i);
    }
  }
  return std::nullopt;
}

using JsonAllocator = rapidjson::Document::AllocatorType;

// -- builtin types --------------------------------------------------------------------

[[nodiscard]] absl::Status FromJson(const rapidjson::Value& in, InputPath& path, int8_t* out);
[[nodiscard]] absl::Status FromJson(const rapidjson::Value& in, InputPath& path, int16_t* out);
[[nodiscard]] absl::Status FromJson(const rapidjson::Value& in, InputPath& path, int32_t* out);
[[nodiscard]] absl::Status FromJson(const rapidjson::Value& in, InputPath& path, int64_t* out);
[[nodiscard]] absl::Status FromJson(const rapidjson::Value& in, InputPath& path, uint8_t* out);
[[nodiscard]] absl::Status FromJson(const rapidjson::Value& in, InputPath& path, uint16_t* out);
[[nodiscard]] absl::Status FromJson(const rapidjson::Value& in, InputPath& path, uint32_t* out);
// uint64 and size: negative integers are accepted and wrap, as in QEMU.
[[nodiscard]] absl::Status FromJson(const rapidjson::Value& in, InputPath& path, uint64_t* out);
[[nodiscard]] absl::Status FromJson(const rapidjson::Value& in, InputPath& path, double* out);
[[nodiscard]] absl::Status FromJson(const rapidjson::Value& in, InputPath& path, bool* out);
[[nodiscard]] absl::Status FromJson(const rapidjson::Value& in, InputPath& path, std::string* out);
[[nodiscard]] absl::Status FromJson(const rapidjson::Value& in, InputPath& path,
                                    std::nullptr_t* out);
[[nodiscard]] absl::Status FromJson(const rapidjson::Value& in, InputPath& path, Any* out);

void ToJson(int8_t v, rapidjson::Value* out, JsonAllocator& alloc);
void ToJson(int16_t v, rapidjson::Value* out, JsonAllocator& alloc);
void ToJson(int32_t v, rapidjson::Value* out, JsonAllocator& alloc);
void ToJson(int64_t v, rapidjson::Value* out, JsonAllocator& alloc);
void ToJson(uint8_t v, rapidjson::Value* out, JsonAllocator& alloc);
void ToJson(uint16_t v, rapidjson::Value* out, JsonAllocator& alloc);
void ToJson(uint32_t v, rapidjson::Value* out, JsonAllocator& alloc);
void ToJson(uint64_t v, rapidjson::Value* out, JsonAllocator& alloc);
void ToJson(double v, rapidjson::Value* out, JsonAllocator& alloc);
void ToJson(bool v, rapidjson::Value* out, JsonAllocator& alloc);
void ToJson(const std::string& v, rapidjson::Value* out, JsonAllocator& alloc);
void ToJson(std::nullptr_t v, rapidjson::Value* out, JsonAllocator& alloc);
void ToJson(const Any& v, rapidjson::Value* out, JsonAllocator& alloc);

// -- enums ----------------------------------------------------------------------------

template <QapiEnum E>
[[nodiscard]] absl::Status FromJson(const rapidjson::Value& in, InputPath& path, E* out) {
  if (!in.IsString()) {
    return path.TypeError("string");
  }
  absl::string_view text(in.GetString(), in.GetStringLength());
  std::optional<E> value = EnumFromString<E>(text);
  if (!value) {
    return path.EnumValueError(text);
  }
  *out = *value;
  return absl::OkStatus();
}

template <QapiEnum E>
void ToJson(E v, rapidjson::Value* out, JsonAllocator& alloc) {
  (void)alloc;
  absl::string_view name = EnumToString(v);
  // The names live in static storage: no copy needed.
  out->SetString(rapidjson::StringRef(name.data(), name.size()));
}

// -- lists ----------------------------------------------------------------------------

template <typename T>
[[nodiscard]] absl::Status FromJson(const rapidjson::Value& in, InputPath& path,
                                    std::vector<T>* out) {
  MIG_RETURN_IF_ERROR(path.StartList(in));
  out->clear();
  out->reserve(in.Size());
  absl::Status status;
  for (const rapidjson::Value& element : in.GetArray()) {
    path.NextElement();
    T value{};
    status = FromJson(element, path, &value);
    if (!status.ok()) {
      break;
    }
    out->push_back(std::move(value));
  }
  path.EndList();
  return status;
}

template <typename T>
void ToJson(const std::vector<T>& v, rapidjson::Value* out, JsonAllocator& alloc) {
  out->SetArray();
  out->Reserve(static_cast<rapidjson::SizeType>(v.size()), alloc);
  for (const auto& element : v) {
    rapidjson::Value item;
    ToJson(element, &item, alloc);
    out->PushBack(item, alloc);
  }
}

// -- members of generated structs -------------------------------------------------------

// VisitMember unmarshals required member `name` of the object `in` being visited.
template <typename T>
[[nodiscard]] absl::Status VisitMember(const rapidjson::Value& in, InputPath& path,
                                       absl::string_view name, T* out) {
  const rapidjson::Value* value = path.Member(in, name);
  if (value == nullptr) {
    return path.MissingError();
  }
  return FromJson(*value, path, out);
}

// VisitOptionalMember unmarshals optional member `name`; absent leaves `out` empty.
template <typename T>
[[nodiscard]] absl::Status VisitOptionalMember(const rapidjson::Value& in, InputPath& path,
                                               absl::string_view name, std::optional<T>* out) {
  const rapidjson::Value* value = path.Member(in, name);
  if (value == nullptr) {
    out->reset();
    return absl::OkStatus();
  }
  return FromJson(*value, path, &out->emplace());
}

// AddMember adds member `name` (a string with static storage) to object `out`.
template <typename T>
void AddMember(rapidjson::Value* out, const char* name, const T& v, JsonAllocator& alloc) {
  rapidjson::Value value;
  ToJson(v, &value, alloc);
  out->AddMember(rapidjson::StringRef(name), value, alloc);
}

// AddOptionalMember adds member `name` when `v` holds a value.
template <typename T>
void AddOptionalMember(rapidjson::Value* out, const char* name, const std::optional<T>& v,
                       JsonAllocator& alloc) {
  if (v) {
    AddMember(out, name, *v, alloc);
  }
}

// -- conveniences ---------------------------------------------------------------------

// ParseArguments unmarshals command arguments; null `args` means no arguments ({}).
template <typename T>
[[nodiscard]] absl::StatusOr<T> ParseArguments(const rapidjson::Value* args) {
  const rapidjson::Value empty(rapidjson::kObjectType);
  InputPath path;
  T out{};
  MIG_RETURN_IF_ERROR(FromJson(args != nullptr ? *args : empty, path, &out));
  return out;
}

// CheckNoArguments accepts null or an empty object: the arguments of a command without
// parameters ("Parameter 'x' is unexpected" otherwise).
[[nodiscard]] absl::Status CheckNoArguments(const rapidjson::Value* args);

// ToDocument marshals `v` into a document of its own.
template <typename T>
rapidjson::Document ToDocument(const T& v) {
  rapidjson::Document doc;
  ToJson(v, &doc, doc.GetAllocator());
  return doc;
}

}  // namespace migemu::qapi

#endif  // MIGEMU_QAPI_RUNTIME_H_
