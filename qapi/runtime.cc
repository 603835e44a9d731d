#include "qapi/runtime.h"

#include <absl/status/status.h>
#include <rapidjson/document.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>

#include "qapi/any.h"
#include "qapi/input_path.h"
#include "util/status_macros.h"

namespace migemu::qapi {
namespace {

// qobject_input_type_int64(): only integers that fit int64.
absl::Status Int64FromJson(const rapidjson::Value& in, InputPath& path, int64_t* out) {
  if (!in.IsInt64()) {
    return path.TypeError("integer");
  }
  *out = in.GetInt64();
  return absl::OkStatus();
}

// visit_type_intN(): int64 first, then the range check, which names the member only.
template <typename T>
absl::Status IntNFromJson(const rapidjson::Value& in, InputPath& path, const char* c_type, T* out) {
  int64_t value = 0;
  MIG_RETURN_IF_ERROR(Int64FromJson(in, path, &value));
  if (value < std::numeric_limits<T>::min() || value > std::numeric_limits<T>::max()) {
    return path.RangeError(c_type);
  }
  *out = static_cast<T>(value);
  return absl::OkStatus();
}

// qobject_input_type_uint64(): non-negative integers up to UINT64_MAX, and negative
// int64 values wrapped "for backward compatibility".
absl::Status Uint64FromJson(const rapidjson::Value& in, InputPath& path, uint64_t* out) {
  if (in.IsUint64()) {
    *out = in.GetUint64();
    return absl::OkStatus();
  }
  if (in.IsInt64()) {
    *out = static_cast<uint64_t>(in.GetInt64());
    return absl::OkStatus();
  }
  return path.Uint64Error();
}

template <typename T>
absl::Status UintNFromJson(const rapidjson::Value& in, InputPath& path, const char* c_type,
                           T* out) {
  uint64_t value = 0;
  MIG_RETURN_IF_ERROR(Uint64FromJson(in, path, &value));
  if (value > std::numeric_limits<T>::max()) {
    return path.RangeError(c_type);
  }
  *out = static_cast<T>(value);
  return absl::OkStatus();
}

}  // namespace

absl::Status FromJson(const rapidjson::Value& in, InputPath& path, int8_t* out) {
  return IntNFromJson(in, path, "int8_t", out);
}

absl::Status FromJson(const rapidjson::Value& in, InputPath& path, int16_t* out) {
  return IntNFromJson(in, path, "int16_t", out);
}

absl::Status FromJson(const rapidjson::Value& in, InputPath& path, int32_t* out) {
  return IntNFromJson(in, path, "int32_t", out);
}

absl::Status FromJson(const rapidjson::Value& in, InputPath& path, int64_t* out) {
  return Int64FromJson(in, path, out);
}

absl::Status FromJson(const rapidjson::Value& in, InputPath& path, uint8_t* out) {
  return UintNFromJson(in, path, "uint8_t", out);
}

absl::Status FromJson(const rapidjson::Value& in, InputPath& path, uint16_t* out) {
  return UintNFromJson(in, path, "uint16_t", out);
}

absl::Status FromJson(const rapidjson::Value& in, InputPath& path, uint32_t* out) {
  return UintNFromJson(in, path, "uint32_t", out);
}

absl::Status FromJson(const rapidjson::Value& in, InputPath& path, uint64_t* out) {
  return Uint64FromJson(in, path, out);
}

absl::Status FromJson(const rapidjson::Value& in, InputPath& path, double* out) {
  if (!in.IsNumber()) {
    return path.TypeError("number");
  }
  *out = in.GetDouble();
  return absl::OkStatus();
}

absl::Status FromJson(const rapidjson::Value& in, InputPath& path, bool* out) {
  if (!in.IsBool()) {
    return path.TypeError("boolean");
  }
  *out = in.GetBool();
  return absl::OkStatus();
}

absl::Status FromJson(const rapidjson::Value& in, InputPath& path, std::string* out) {
  if (!in.IsString()) {
    return path.TypeError("string");
  }
  out->assign(in.GetString(), in.GetStringLength());
  return absl::OkStatus();
}

absl::Status FromJson(const rapidjson::Value& in, InputPath& path, std::nullptr_t* out) {
  if (!in.IsNull()) {
    return path.TypeError("null");
  }
  *out = nullptr;
  return absl::OkStatus();
}

absl::Status FromJson(const rapidjson::Value& in, InputPath& path, Any* out) {
  (void)path;
  *out = Any(in);
  return absl::OkStatus();
}

void ToJson(int8_t v, rapidjson::Value* out, JsonAllocator& alloc) {
  (void)alloc;
  out->SetInt64(v);
}

void ToJson(int16_t v, rapidjson::Value* out, JsonAllocator& alloc) {
  (void)alloc;
  out->SetInt64(v);
}

void ToJson(int32_t v, rapidjson::Value* out, JsonAllocator& alloc) {
  (void)alloc;
  out->SetInt64(v);
}

void ToJson(int64_t v, rapidjson::Value* out, JsonAllocator& alloc) {
  (void)alloc;
  out->SetInt64(v);
}

void ToJson(uint8_t v, rapidjson::Value* out, JsonAllocator& alloc) {
  (void)alloc;
  out->SetUint64(v);
}

void ToJson(uint16_t v, rapidjson::Value* out, JsonAllocator& alloc) {
  (void)alloc;
  out->SetUint64(v);
}

void ToJson(uint32_t v, rapidjson::Value* out, JsonAllocator& alloc) {
  (void)alloc;
  out->SetUint64(v);
}

void ToJson(uint64_t v, rapidjson::Value* out, JsonAllocator& alloc) {
  (void)alloc;
  out->SetUint64(v);
}

void ToJson(double v, rapidjson::Value* out, JsonAllocator& alloc) {
  (void)alloc;
  out->SetDouble(v);
}

void ToJson(bool v, rapidjson::Value* out, JsonAllocator& alloc) {
  (void)alloc;
  out->SetBool(v);
}

void ToJson(const std::string& v, rapidjson::Value* out, JsonAllocator& alloc) {
  out->SetString(v.data(), static_cast<rapidjson::SizeType>(v.size()), alloc);
}

void ToJson(std::nullptr_t v, rapidjson::Value* out, JsonAllocator& alloc) {
  (void)v;
  (void)alloc;
  out->SetNull();
}

void ToJson(const Any& v, rapidjson::Value* out, JsonAllocator& alloc) { v.CopyTo(out, alloc); }

absl::Status CheckNoArguments(const rapidjson::Value* args) {
  if (args == nullptr) {
    return absl::OkStatus();
  }
  InputPath path;
  MIG_RETURN_IF_ERROR(path.StartObject(*args));
  absl::Status status = path.CheckObject();
  path.EndObject();
  return status;
}

}  // namespace migemu::qapi
