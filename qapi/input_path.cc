#include "qapi/input_path.h"

#include <absl/status/status.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>
#include <absl/strings/string_view.h>
#include <rapidjson/document.h>

#include <cstddef>
#include <optional>
#include <string>
#include <utility>

#include "qapi/errors.h"
#include "qapi/qdict_order.h"

namespace migemu::qapi {

absl::Status InputPath::StartObject(const rapidjson::Value& in) {
  if (!in.IsObject()) {
    return TypeError("object");
  }
  Frame frame;
  frame.name = current_;
  // Mirrors qobject_input_push(): the unvisited set is filled in QDict order.
  for (size_t index : QdictIterationOrder(in)) {
    const rapidjson::Value& key = (in.MemberBegin() + static_cast<ptrdiff_t>(index))->name;
    frame.unvisited.Insert(absl::string_view(key.GetString(), key.GetStringLength()));
  }
  frames_.push_back(std::move(frame));
  return absl::OkStatus();
}

const rapidjson::Value* InputPath::Member(const rapidjson::Value& obj, absl::string_view name) {
  current_ = std::string(name);
  auto it = obj.FindMember(rapidjson::Value(rapidjson::StringRef(name.data(), name.size())));
  if (it == obj.MemberEnd()) {
    return nullptr;
  }
  if (!frames_.empty() && !frames_.back().is_list) {
    frames_.back().unvisited.Remove(name);
  }
  return &it->value;
}

absl::Status InputPath::CheckObject() const {
  if (frames_.empty() || frames_.back().is_list) {
    return absl::OkStatus();
  }
  std::optional<std::string> first = frames_.back().unvisited.First();
  if (!first) {
    return absl::OkStatus();
  }
  // full_name(key): the key named inside the object being visited.
  return absl::InvalidArgumentError(absl::StrFormat(kUnexpectedParameter, FullNameOf(first)));
}

void InputPath::EndObject() {
  if (!frames_.empty()) {
    current_ = frames_.back().name;
    frames_.pop_back();
  }
}

absl::Status InputPath::StartList(const rapidjson::Value& in) {
  if (!in.IsArray()) {
    return TypeError("array");
  }
  Frame frame;
  frame.name = current_;
  frame.is_list = true;
  frame.index = static_cast<size_t>(-1);
  frames_.push_back(std::move(frame));
  return absl::OkStatus();
}

void InputPath::NextElement() {
  if (!frames_.empty() && frames_.back().is_list) {
    ++frames_.back().index;
  }
  current_.reset();
}

void InputPath::EndList() { EndObject(); }

// Mirrors full_name_nth(): walks the frames innermost first, prepending ".name" for
// objects and "[index]" for lists, then the outermost frame's own name.
std::string InputPath::FullName() const { return FullNameOf(current_); }

std::string InputPath::FullNameOf(const std::optional<std::string>& innermost) const {
  std::string text;
  std::optional<std::string> name = innermost;
  for (auto it = frames_.rbegin(); it != frames_.rend(); ++it) {
    if (it->is_list) {
      text = absl::StrCat("[", static_cast<unsigned>(it->index), "]", text);
    } else {
      text = absl::StrCat(".", name ? *name : std::string("<anonymous>"), text);
    }
    name = it->name;
  }
  if (name) {
    return *name + text;
  }
  if (!text.empty() && text[0] == '.') {
    return text.substr(1);
  }
  if (text.empty()) {
    return "<anonymous>";
  }
  return text;
}

std::string InputPath::LocalName() const { return current_ ? *current_ : std::string("null"); }

absl::Status InputPath::MissingError() const {
  return absl::InvalidArgumentError(absl::StrFormat(kMissingParameter, FullName()));
}

absl::Status InputPath::TypeError(absl::string_view expected) const {
  return absl::InvalidArgumentError(absl::StrFormat(kInvalidParameterType, FullName(), expected));
}

absl::Status InputPath::Uint64Error() const {
  return absl::InvalidArgumentError(absl::StrFormat(kInvalidParameterValue, FullName(), "uint64"));
}

absl::Status InputPath::RangeError(absl::string_view c_type) const {
  return absl::InvalidArgumentError(absl::StrFormat(kInvalidParameterValue, LocalName(), c_type));
}

absl::Status InputPath::EnumValueError(absl::string_view value) const {
  return absl::InvalidArgumentError(absl::StrFormat(kInvalidEnumValue, LocalName(), value));
}

absl::Status InputPath::AlternateTypeError(absl::string_view type) const {
  return absl::InvalidArgumentError(absl::StrFormat(kInvalidParameterType, LocalName(), type));
}

}  // namespace migemu::qapi
