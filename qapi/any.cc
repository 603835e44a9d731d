#include "qapi/any.h"

#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/string_view.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <memory>
#include <string>

namespace migemu::qapi {

Any::Any(const rapidjson::Value& value) : doc_(std::make_unique<rapidjson::Document>()) {
  doc_->CopyFrom(value, doc_->GetAllocator());
}

absl::StatusOr<Any> Any::Parse(absl::string_view json) {
  Any any;
  any.doc_ = std::make_unique<rapidjson::Document>();
  any.doc_->Parse(json.data(), json.size());
  if (any.doc_->HasParseError()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid JSON at offset ", any.doc_->GetErrorOffset(), ": ",
                     rapidjson::GetParseError_En(any.doc_->GetParseError())));
  }
  return any;
}

Any::Any(const Any& other) {
  if (other.doc_ != nullptr) {
    doc_ = std::make_unique<rapidjson::Document>();
    doc_->CopyFrom(*other.doc_, doc_->GetAllocator());
  }
}

Any& Any::operator=(const Any& other) {
  if (this != &other) {
    Any copy(other);
    doc_ = std::move(copy.doc_);
  }
  return *this;
}

const rapidjson::Value& Any::value() const {
  static const rapidjson::Value null_value;
  return doc_ != nullptr ? static_cast<const rapidjson::Value&>(*doc_) : null_value;
}

std::string Any::ToJsonText() const {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value().Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

void Any::CopyTo(rapidjson::Value* out, rapidjson::Document::AllocatorType& alloc) const {
  out->CopyFrom(value(), alloc);
}

}  // namespace migemu::qapi
