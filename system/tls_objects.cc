#include "system/tls_objects.h"

#include <absl/strings/numbers.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>
#include <absl/strings/str_split.h>

#include <map>
#include <vector>

#include "io/tls_errors.h"
#include "qapi/runtime.h"

namespace migemu::system {

namespace {

absl::Status NotAccepted(absl::string_view key, absl::string_view value) {
  return absl::InvalidArgumentError(
      absl::StrCat("Parameter '", key, "' does not accept value '", value, "'"));
}

absl::Status CheckSecret(const std::optional<std::string>& passwordid) {
  // migemu has no `secret` objects, so any passwordid names a secret that does not exist.
  if (passwordid.has_value()) {
    return absl::NotFoundError(absl::StrFormat(io::kFmtNoSecret, *passwordid));
  }
  return absl::OkStatus();
}

io::TlsEndpoint Endpoint(const std::optional<qapi::QCryptoTLSCredsEndpoint>& e) {
  return e.has_value() && *e == qapi::QCryptoTLSCredsEndpoint::kServer ? io::TlsEndpoint::kServer
                                                                       : io::TlsEndpoint::kClient;
}

}  // namespace

absl::StatusOr<TlsCredsSpec> TlsCredsSpecFromKeyval(const std::string& type,
                                                    const util::KeyvalList& kv) {
  const bool x509 = type == "tls-creds-x509";
  std::vector<absl::string_view> allowed = {"qom-type", "id",       "verify-peer", "dir",
                                            "endpoint", "priority", "loaded"};
  if (x509) {
    allowed.insert(allowed.end(), {"sanity-check", "passwordid"});
  } else {
    allowed.push_back("username");
  }
  if (auto unknown = kv.FirstUnknown(allowed)) {
    return absl::InvalidArgumentError(absl::StrCat("Invalid parameter '", *unknown, "'"));
  }
  io::TlsCredsConfig c;
  c.kind = x509 ? io::TlsCredsKind::kX509 : io::TlsCredsKind::kPsk;
  for (const char* key : {"verify-peer", "sanity-check", "loaded"}) {
    absl::StatusOr<std::optional<bool>> b = kv.GetBool(key);
    if (!b.ok()) {
      return b.status();
    }
  }
  c.verify_peer = kv.GetBool("verify-peer")->value_or(true);
  c.sanity_check = kv.GetBool("sanity-check")->value_or(true);
  c.dir = kv.Get("dir");
  c.priority = kv.Get("priority");
  if (std::optional<std::string> e = kv.Get("endpoint")) {
    if (*e == "server") {
      c.endpoint = io::TlsEndpoint::kServer;
    } else if (*e != "client") {
      return NotAccepted("endpoint", *e);
    }
  }
  TlsCredsSpec spec{type, c, kv.Has("loaded"), std::nullopt};
  if (!x509) {
    spec.config.username = kv.Get("username");
  } else {
    spec.passwordid = kv.Get("passwordid");
  }
  return spec;
}

absl::StatusOr<std::shared_ptr<const io::AuthzList>> AuthzListFromKeyval(
    const util::KeyvalList& kv) {
  bool default_allow = false;
  std::map<int, io::AuthzList::Rule> rules;
  std::map<int, bool> has_policy;
  for (const auto& [key, value] : kv.items) {
    if (key == "qom-type" || key == "id") {
      continue;
    }
    if (key == "policy") {
      if (value != "allow" && value != "deny") {
        return NotAccepted("policy", value);
      }
      default_allow = value == "allow";
      continue;
    }
    std::vector<std::string> parts = absl::StrSplit(key, '.');
    int index = 0;
    if (parts.size() != 3 || parts[0] != "rules" || !absl::SimpleAtoi(parts[1], &index) ||
        index < 0 || (parts[2] != "match" && parts[2] != "policy" && parts[2] != "format")) {
      return absl::InvalidArgumentError(absl::StrCat("Invalid parameter '", key, "'"));
    }
    io::AuthzList::Rule& rule = rules[index];
    const std::string member = absl::StrCat("rules[", index, "].", parts[2]);
    if (parts[2] == "match") {
      rule.match = value;
    } else if (parts[2] == "policy") {
      if (value != "allow" && value != "deny") {
        return NotAccepted(member, value);
      }
      rule.allow = value == "allow";
      has_policy[index] = true;
    } else {
      if (value != "exact" && value != "glob") {
        return NotAccepted(member, value);
      }
      rule.glob = value == "glob";
    }
  }
  std::vector<io::AuthzList::Rule> ordered;
  int expect = 0;
  for (auto& [index, rule] : rules) {
    if (index != expect) {
      return absl::InvalidArgumentError(absl::StrCat("Parameter 'rules[", expect, "]' is missing"));
    }
    if (!has_policy[index]) {
      return absl::InvalidArgumentError(
          absl::StrCat("Parameter 'rules[", index, "].policy' is missing"));
    }
    ordered.push_back(rule);
    ++expect;
  }
  return std::make_shared<const io::AuthzList>(default_allow, std::move(ordered));
}

TlsCredsSpec TlsCredsSpecFromX509(const qapi::TlsCredsX509Properties& p) {
  TlsCredsSpec spec;
  spec.type = "tls-creds-x509";
  spec.loaded_given = p.loaded.has_value();
  spec.passwordid = p.passwordid;
  io::TlsCredsConfig& c = spec.config;
  c.kind = io::TlsCredsKind::kX509;
  c.dir = p.dir;
  c.endpoint = Endpoint(p.endpoint);
  c.verify_peer = p.verify_peer.value_or(true);
  c.priority = p.priority;
  c.sanity_check = p.sanity_check.value_or(true);
  return spec;
}

TlsCredsSpec TlsCredsSpecFromPsk(const qapi::TlsCredsPskProperties& p) {
  TlsCredsSpec spec;
  spec.type = "tls-creds-psk";
  spec.loaded_given = p.loaded.has_value();
  io::TlsCredsConfig& c = spec.config;
  c.kind = io::TlsCredsKind::kPsk;
  c.dir = p.dir;
  c.endpoint = Endpoint(p.endpoint);
  c.verify_peer = p.verify_peer.value_or(true);
  c.priority = p.priority;
  c.username = p.username;
  return spec;
}

absl::StatusOr<std::unique_ptr<TlsCredsObject>> CreateTlsCredsObject(const TlsCredsSpec& spec) {
  if (spec.loaded_given) {
    // QEMU 7.2 declares `loaded` but refuses to set it from -object or object-add.
    return absl::InvalidArgumentError(absl::StrFormat(io::kFmtPropertyNotWritable, spec.type));
  }
  if (absl::Status s = CheckSecret(spec.passwordid); !s.ok()) {
    return s;
  }
  absl::StatusOr<std::shared_ptr<const io::TlsCreds>> creds = io::TlsCreds::Load(spec.config);
  if (!creds.ok()) {
    return creds.status();
  }
  return std::make_unique<TlsCredsObject>(spec.type, std::move(*creds));
}

std::shared_ptr<const io::AuthzList> AuthzListFromQapi(const qapi::AuthZListProperties& p) {
  std::vector<io::AuthzList::Rule> rules;
  if (p.rules.has_value()) {
    for (const qapi::QAuthZListRule& r : *p.rules) {
      rules.push_back(
          io::AuthzList::Rule{r.match, r.policy == qapi::QAuthZListPolicy::kAllow,
                              r.format.has_value() && *r.format == qapi::QAuthZListFormat::kGlob});
    }
  }
  return std::make_shared<const io::AuthzList>(
      p.policy.has_value() && *p.policy == qapi::QAuthZListPolicy::kAllow, std::move(rules));
}

}  // namespace migemu::system
