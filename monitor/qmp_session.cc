#include "monitor/qmp_session.h"

#include <absl/strings/str_cat.h>

#include <utility>

#include "monitor/json_writer.h"
#include "qapi/error.h"
#include "qapi/qdict_order.h"

namespace migemu::monitor {

namespace {

rapidjson::Document ErrorResponse(const std::string& error_class, absl::string_view desc) {
  rapidjson::Document rsp(rapidjson::kObjectType);
  auto& a = rsp.GetAllocator();
  rapidjson::Value err(rapidjson::kObjectType);
  err.AddMember("class", rapidjson::Value(error_class.c_str(), a), a);
  err.AddMember("desc",
                rapidjson::Value(desc.data(), static_cast<rapidjson::SizeType>(desc.size()), a), a);
  rsp.AddMember("error", err, a);
  return rsp;
}

// qmp_dispatch_check_obj(): the request's members in QDict order; the first bad one wins.
absl::Status CheckRequest(const rapidjson::Value& req, bool allow_oob, std::string* exec_key) {
  exec_key->clear();
  for (size_t i : qapi::QdictIterationOrder(req)) {
    const auto& m = req.MemberBegin()[static_cast<rapidjson::SizeType>(i)];
    const std::string name(m.name.GetString(), m.name.GetStringLength());
    if (name == "execute" || (name == "exec-oob" && allow_oob)) {
      if (!m.value.IsString()) {
        return absl::InvalidArgumentError(
            absl::StrCat("QMP input member '", name, "' must be a string"));
      }
      if (!exec_key->empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("QMP input member '", name, "' clashes with '", *exec_key, "'"));
      }
      *exec_key = name;
    } else if (name == "arguments") {
      if (!m.value.IsObject()) {
        return absl::InvalidArgumentError("QMP input member 'arguments' must be an object");
      }
    } else if (name == "id") {
      continue;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("QMP input member '", name, "' is unexpected"));
    }
  }
  if (exec_key->empty()) {
    return absl::InvalidArgumentError("QMP input lacks member 'execute'");
  }
  return absl::OkStatus();
}

}  // namespace

QmpSession::QmpSession(Env env, util::EventLoop& loop, std::unique_ptr<io::Channel> in,
                       std::unique_ptr<io::Channel> out, std::function<void()> on_closed)
    : env_(std::move(env)) {
  Connection::Callbacks cb;
  cb.on_data = [this](absl::string_view bytes) { OnData(bytes); };
  cb.on_closed = std::move(on_closed);
  cb.on_fds = [this](std::vector<util::UniqueFd> fds) {
    // Like QEMU's socket chardev, a new batch replaces descriptors nobody took.
    msgfd_ = std::move(fds.back());
  };
  connection_ = std::make_unique<Connection>(loop, std::move(in), std::move(out), std::move(cb));
}

QmpSession::~QmpSession() { connection_->Close(); }

void QmpSession::Start(bool nonblocking) {
  connection_->Start(nonblocking);
  SendLine(env_.greeting);
}

util::UniqueFd QmpSession::TakeMsgFd() { return std::move(msgfd_); }

void QmpSession::SendLine(absl::string_view json) {
  connection_->Write(absl::StrCat(json, "\r\n"));
}

void QmpSession::OnData(absl::string_view bytes) {
  parser_.Feed(bytes);
  JsonStreamParser::Result value;
  while (!connection_->closed() && parser_.Next(&value)) {
    Handle(value);
  }
}

void QmpSession::Respond(rapidjson::Document& response) { SendLine(FormatQmpJson(response)); }

void QmpSession::Handle(const JsonStreamParser::Result& value) {
  if (!value.ok()) {
    // A JSON parse error has no request, hence no id.
    rapidjson::Document rsp = ErrorResponse("GenericError", value.status().message());
    Respond(rsp);
    return;
  }
  const rapidjson::Document& req = *value;
  if (!req.IsObject()) {
    rapidjson::Document rsp = ErrorResponse("GenericError", "QMP input must be a JSON object");
    Respond(rsp);
    return;
  }
  const rapidjson::Value* id = nullptr;
  if (auto it = req.FindMember("id"); it != req.MemberEnd()) {
    id = &it->value;
  }
  rapidjson::Document rsp(rapidjson::kObjectType);
  auto finish = [&](rapidjson::Document& r) {
    if (id != nullptr) {
      r.AddMember("id", rapidjson::Value(*id, r.GetAllocator()), r.GetAllocator());
    }
    Respond(r);
  };
  std::string exec_key;
  absl::Status check = CheckRequest(req, oob_enabled_, &exec_key);
  if (!check.ok()) {
    rapidjson::Document r = ErrorResponse("GenericError", check.message());
    finish(r);
    return;
  }
  const rapidjson::Value& name_value = req[exec_key.c_str()];
  const std::string command(name_value.GetString(), name_value.GetStringLength());
  const bool oob = exec_key == "exec-oob";
  // Before negotiation only qmp_capabilities exists (qmp_cap_negotiation_commands).
  const qapi::CommandEntry* entry = env_.registry.Find(command);
  if (!command_mode_ && command != "qmp_capabilities") {
    entry = nullptr;
  }
  if (entry == nullptr) {
    rapidjson::Document r = ErrorResponse(
        "CommandNotFound",
        command_mode_ ? absl::StrCat("The command ", command, " has not been found")
                      : std::string("Expecting capabilities negotiation with 'qmp_capabilities'"));
    finish(r);
    return;
  }
  if (oob && !entry->allow_oob) {
    rapidjson::Document r = ErrorResponse(
        "GenericError", absl::StrCat("The command ", command, " does not support OOB"));
    finish(r);
    return;
  }
  const rapidjson::Value* args = nullptr;
  if (auto it = req.FindMember("arguments"); it != req.MemberEnd()) {
    args = &it->value;
  }
  if (env_.set_current) {
    env_.set_current(this);
  }
  absl::StatusOr<rapidjson::Value> ret = env_.registry.Call(*entry, args, rsp.GetAllocator());
  if (env_.set_current) {
    env_.set_current(nullptr);
  }
  if (!ret.ok()) {
    std::string cls = qapi::ErrorClass(ret.status());
    // monitor_qmp_dispatch(): in negotiation mode a CommandNotFound gets a more useful text.
    rapidjson::Document r = ErrorResponse(
        cls, (!command_mode_ && cls == "CommandNotFound")
                 ? absl::string_view("Expecting capabilities negotiation with 'qmp_capabilities'")
                 : ret.status().message());
    finish(r);
    return;
  }
  if (!entry->success_response) {
    return;
  }
  rsp.AddMember("return", *ret, rsp.GetAllocator());
  finish(rsp);
}

}  // namespace migemu::monitor
