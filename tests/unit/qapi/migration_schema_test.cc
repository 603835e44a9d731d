// The real schema (qapi/*.json): a JSON -> C++ -> JSON round trip for every type of the
// migration module, checked against the model dump so a new type cannot be missed, and
// the argument checks migration commands rely on.
#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include <absl/strings/str_split.h>
#include <absl/strings/string_view.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <cstdint>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "qapi/qapi-types-migration.h"
#include "qapi/qapi-visit-migration.h"
#include "qapi/runtime.h"
#include "tests/unit/qapi/json_test_util.h"

#ifndef MIGEMU_QAPI_MODEL_DUMP
#error "MIGEMU_QAPI_MODEL_DUMP must name the schema's --dump-model output"
#endif

namespace migemu::qapi {
namespace {

using testing::JsonEq;
using testing::ParseJson;

template <typename T>
void RoundTrip(const std::string& json) {
  SCOPED_TRACE(json);
  rapidjson::Document in = ParseJson(json);
  absl::StatusOr<T> value = ParseArguments<T>(&in);
  ASSERT_TRUE(value.ok()) << value.status();
  rapidjson::Document out = ToDocument(*value);
  EXPECT_TRUE(JsonEq(out, json));
  absl::StatusOr<T> again = ParseArguments<T>(&out);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(*again == *value);
}

// Lists and enums are not objects; wrap them the way their users do.
template <typename T>
void RoundTripValue(const std::string& json) {
  SCOPED_TRACE(json);
  rapidjson::Document in = ParseJson(json);
  InputPath path;
  T value{};
  absl::Status status = FromJson(in, path, &value);
  ASSERT_TRUE(status.ok()) << status;
  rapidjson::Document out = ToDocument(value);
  EXPECT_TRUE(JsonEq(out, json));
}

struct Sample {
  std::function<void(const std::string&)> check;
  std::vector<std::string> json;
};

constexpr char kStats[] =
    R"({"transferred": 1, "remaining": 2, "total": 3, "duplicate": 4, "skipped": 5,
        "normal": 6, "normal-bytes": 7, "dirty-pages-rate": 8, "mbps": 9.5,
        "dirty-sync-count": 10, "postcopy-requests": 11, "page-size": 4096,
        "multifd-bytes": 18446744073709551615, "pages-per-second": 13, "precopy-bytes": 14,
        "downtime-bytes": 15, "postcopy-bytes": 16, "dirty-sync-missed-zero-copy": 17})";

constexpr char kAllParameters[] =
    R"({"announce-initial": 50, "announce-max": 550, "announce-rounds": 5,
        "announce-step": 100, "compress-level": 1, "compress-threads": 8,
        "compress-wait-thread": true, "decompress-threads": 2,
        "throttle-trigger-threshold": 50, "cpu-throttle-initial": 20,
        "cpu-throttle-increment": 10, "cpu-throttle-tailslow": false, "%TLS%"
        "max-bandwidth": 134217728, "downtime-limit": 300, "x-checkpoint-delay": 20000,
        "block-incremental": false, "multifd-channels": 2, "xbzrle-cache-size": 67108864,
        "max-postcopy-bandwidth": 0, "max-cpu-throttle": 99, "multifd-compression": "zstd",
        "multifd-zlib-level": 1, "multifd-zstd-level": 1,
        "block-bitmap-mapping": [{"node-name": "n", "alias": "a", "bitmaps": [
            {"name": "b", "alias": "c", "transform": {"persistent": true}}]}]})";

std::string Parameters(const std::string& tls) {
  std::string text = kAllParameters;
  text.replace(text.find("\"%TLS%\""), 7, tls);
  return text;
}

std::map<std::string, Sample> Samples() {
  std::map<std::string, Sample> s;
  s["MigrationStats"] = {RoundTrip<MigrationStats>, {kStats}};
  s["XBZRLECacheStats"] = {RoundTrip<XBZRLECacheStats>,
                           {R"({"cache-size": 67108864, "bytes": 1, "pages": 2, "cache-miss": 3,
           "cache-miss-rate": 0.25, "encoding-rate": 1.5, "overflow": 4})"}};
  s["CompressionStats"] = {RoundTrip<CompressionStats>,
                           {R"({"pages": 1, "busy": 2, "busy-rate": 0.5,
                                "compressed-size": 3, "compression-rate": 2.5})"}};
  s["MigrationStatus"] = {RoundTripValue<MigrationStatus>,
                          {R"("none")", R"("postcopy-active")", R"("wait-unplug")"}};
  s["VfioStats"] = {RoundTrip<VfioStats>, {R"({"transferred": 0})"}};
  s["MigrationInfo"] = {
      RoundTrip<MigrationInfo>,
      {"{}", R"({"status": "setup"})",
       std::string(R"({"status": "completed", "ram": )") + kStats + R"(, "disk": )" + kStats +
           R"(, "vfio": {"transferred": 5},
               "xbzrle-cache": {"cache-size": 1, "bytes": 1, "pages": 2, "cache-miss": 3,
                                "cache-miss-rate": 0.5, "encoding-rate": 1, "overflow": 4},
               "total-time": 100, "expected-downtime": 300, "downtime": 12, "setup-time": 3,
               "cpu-throttle-percentage": 20, "error-desc": "boom",
               "blocked-reasons": ["a", "b"], "postcopy-blocktime": 5,
               "postcopy-vcpu-blocktime": [1, 2], "compression": {"pages": 1, "busy": 2,
               "busy-rate": 0.5, "compressed-size": 3, "compression-rate": 2.5},
               "socket-address": [{"type": "inet", "host": "127.0.0.1", "port": "4444"},
                                  {"type": "unix", "path": "/tmp/m.sock"},
                                  {"type": "vsock", "cid": "3", "port": "9"},
                                  {"type": "fd", "str": "migfd"}]})"}};
  s["MigrationCapability"] = {RoundTripValue<MigrationCapability>,
                              {R"("xbzrle")", R"("x-colo")", R"("zero-copy-send")"}};
  s["MigrationCapabilityStatus"] = {RoundTrip<MigrationCapabilityStatus>,
                                    {R"({"capability": "multifd", "state": true})"}};
  s["MigrationCapabilityStatusList"] = {RoundTripValue<std::vector<MigrationCapabilityStatus>>,
                                        {"[]", R"([{"capability": "events", "state": false},
                 {"capability": "postcopy-preempt", "state": true}])"}};
  s["q_obj_migrate-set-capabilities-arg"] = {
      RoundTrip<MigrateSetCapabilitiesArg>,
      {R"({"capabilities": [{"capability": "zero-copy-send", "state": true}]})"}};
  s["MultiFDCompression"] = {RoundTripValue<MultiFDCompression>,
                             {R"("none")", R"("zlib")", R"("zstd")"}};
  s["BitmapMigrationBitmapAliasTransform"] = {RoundTrip<BitmapMigrationBitmapAliasTransform>,
                                              {"{}", R"({"persistent": false})"}};
  s["BitmapMigrationBitmapAlias"] = {
      RoundTrip<BitmapMigrationBitmapAlias>,
      {R"({"name": "b", "alias": "c"})",
       R"({"name": "b", "alias": "c", "transform": {"persistent": true}})"}};
  s["BitmapMigrationBitmapAliasList"] = {RoundTripValue<std::vector<BitmapMigrationBitmapAlias>>,
                                         {R"([{"name": "b", "alias": "c"}])"}};
  s["BitmapMigrationNodeAlias"] = {RoundTrip<BitmapMigrationNodeAlias>,
                                   {R"({"node-name": "n", "alias": "a", "bitmaps": []})"}};
  s["MigrationParameter"] = {RoundTripValue<MigrationParameter>,
                             {R"("announce-initial")", R"("block-bitmap-mapping")"}};
  s["BitmapMigrationNodeAliasList"] = {
      RoundTripValue<std::vector<BitmapMigrationNodeAlias>>,
      {R"([{"node-name": "n", "alias": "a", "bitmaps": [{"name": "x", "alias": "y"}]}])"}};
  s["MigrateSetParameters"] = {
      RoundTrip<MigrateSetParameters>,
      {"{}", R"({"tls-creds": null, "tls-hostname": "", "multifd-channels": 4})",
       Parameters(R"("tls-creds": "tls0", "tls-hostname": null, "tls-authz": "authz0",)")}};
  s["MigrationParameters"] = {
      RoundTrip<MigrationParameters>,
      {"{}", Parameters(R"("tls-creds": "", "tls-hostname": "", "tls-authz": "",)")}};
  s["q_obj_MIGRATION-arg"] = {RoundTrip<MigrationEventArg>, {R"({"status": "active"})"}};
  s["q_obj_MIGRATION_PASS-arg"] = {RoundTrip<MigrationPassEventArg>, {R"({"pass": 3})"}};
  s["q_obj_migrate-continue-arg"] = {RoundTrip<MigrateContinueArg>,
                                     {R"({"state": "pre-switchover"})"}};
  s["q_obj_migrate-arg"] = {RoundTrip<MigrateArg>,
                            {R"({"uri": "tcp:127.0.0.1:4444"})",
                             R"({"uri": "unix:/tmp/m", "blk": false, "inc": false,
                                 "detach": true, "resume": false})"}};
  s["q_obj_migrate-incoming-arg"] = {RoundTrip<MigrateIncomingArg>, {R"({"uri": "defer"})"}};
  s["q_obj_migrate-recover-arg"] = {RoundTrip<MigrateRecoverArg>, {R"({"uri": "tcp:0:4446"})"}};
  s["DirtyRateVcpu"] = {RoundTrip<DirtyRateVcpu>, {R"({"id": 0, "dirty-rate": 12})"}};
  s["DirtyRateStatus"] = {RoundTripValue<DirtyRateStatus>, {R"("measuring")"}};
  s["DirtyRateMeasureMode"] = {RoundTripValue<DirtyRateMeasureMode>, {R"("dirty-ring")"}};
  s["DirtyRateVcpuList"] = {RoundTripValue<std::vector<DirtyRateVcpu>>,
                            {R"([{"id": 1, "dirty-rate": -1}])"}};
  s["DirtyRateInfo"] = {
      RoundTrip<DirtyRateInfo>,
      {R"({"status": "unstarted", "start-time": 0, "calc-time": 0, "sample-pages": 512,
           "mode": "page-sampling"})",
       R"({"dirty-rate": 100, "status": "measured", "start-time": 1, "calc-time": 2,
           "sample-pages": 0, "mode": "dirty-bitmap",
           "vcpu-dirty-rate": [{"id": 0, "dirty-rate": 5}]})"}};
  s["q_obj_calc-dirty-rate-arg"] = {
      RoundTrip<CalcDirtyRateArg>,
      {R"({"calc-time": 1})", R"({"calc-time": 1, "sample-pages": 256, "mode": "dirty-ring"})"}};
  return s;
}

// The type names the generator's model gives the migration module.
std::set<std::string> MigrationModuleTypes() {
  std::ifstream dump(MIGEMU_QAPI_MODEL_DUMP);
  EXPECT_TRUE(dump.good()) << MIGEMU_QAPI_MODEL_DUMP;
  std::set<std::string> types;
  bool in_module = false;
  std::string line;
  while (std::getline(dump, line)) {
    std::vector<std::string> words = absl::StrSplit(line, ' ');
    if (words[0] == "module") {
      in_module = words.size() > 1 && words[1] == "migration.json";
    } else if (in_module && words.size() > 1 &&
               (words[0] == "object" || words[0] == "enum" || words[0] == "alternate" ||
                words[0] == "array")) {
      types.insert(words[1]);
    }
  }
  return types;
}

TEST(MigrationSchemaTest, EveryMigrationTypeRoundTrips) {
  std::set<std::string> types = MigrationModuleTypes();
  ASSERT_GT(types.size(), 30u);
  std::map<std::string, Sample> samples = Samples();
  for (const std::string& type : types) {
    SCOPED_TRACE(type);
    auto it = samples.find(type);
    ASSERT_NE(it, samples.end()) << "no round-trip sample for migration type " << type;
    for (const std::string& json : it->second.json) {
      it->second.check(json);
    }
  }
  for (const auto& [name, sample] : samples) {
    EXPECT_EQ(types.count(name), 1u) << "sample for a type the schema lacks: " << name;
  }
}

TEST(MigrationSchemaTest, SetParametersWithNullTlsCreds) {
  rapidjson::Document args = ParseJson(R"({"multifd-channels": 4, "tls-creds": null})");
  absl::StatusOr<MigrateSetParameters> p = ParseArguments<MigrateSetParameters>(&args);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->multifd_channels, 4);
  ASSERT_TRUE(p->tls_creds.has_value());
  EXPECT_EQ(p->tls_creds->type, QType::kQnull);
  EXPECT_FALSE(p->tls_hostname.has_value());
  EXPECT_FALSE(p->max_bandwidth.has_value());
}

TEST(MigrationSchemaTest, SetParametersErrors) {
  auto error = [](const std::string& json) {
    rapidjson::Document args = ParseJson(json);
    absl::StatusOr<MigrateSetParameters> p = ParseArguments<MigrateSetParameters>(&args);
    return p.ok() ? std::string("<ok>") : std::string(p.status().message());
  };
  // Texts captured from qemu-system-x86_64 7.2.
  EXPECT_EQ(error(R"({"multifd-channels": 256})"), "Parameter 'multifd-channels' expects uint8_t");
  EXPECT_EQ(error(R"({"compress-level": -1})"), "Parameter 'compress-level' expects uint8_t");
  EXPECT_EQ(error(R"({"multifd-channels": "a"})"), "Parameter 'multifd-channels' expects uint64");
  EXPECT_EQ(error(R"({"max-bandwidth": 1.0})"), "Parameter 'max-bandwidth' expects uint64");
  EXPECT_EQ(error(R"({"max-bandwidth": 18446744073709551616})"),
            "Parameter 'max-bandwidth' expects uint64");
  EXPECT_EQ(error(R"({"tls-creds": 1})"),
            "Invalid parameter type for 'tls-creds', expected: StrOrNull");
  EXPECT_EQ(error(R"({"multifd-compression": "foo"})"),
            "Parameter 'multifd-compression' does not accept value 'foo'");
  EXPECT_EQ(error(R"({"announce-initial": "x"})"), "Parameter 'announce-initial' expects uint64");
  EXPECT_EQ(error(R"({"block-bitmap-mapping": [{"node-name": "a", "alias": "b", "bitmaps":
                        [{"name": "x", "alias": "y", "transform": {"persistent": 3}}]}]})"),
            "Invalid parameter type for "
            "'block-bitmap-mapping[0].bitmaps[0].transform.persistent', expected: boolean");
  EXPECT_EQ(error(R"({"zzz": 1, "aaa": 2, "multifd-channels": 2})"),
            "Parameter 'zzz' is unexpected");
  EXPECT_EQ(error(R"({"max-bandwidth": -1})"), "<ok>");
}

TEST(MigrationSchemaTest, SetCapabilitiesErrors) {
  auto error = [](const std::string& json) {
    rapidjson::Document args = ParseJson(json);
    absl::StatusOr<MigrateSetCapabilitiesArg> p = ParseArguments<MigrateSetCapabilitiesArg>(&args);
    return p.ok() ? std::string("<ok>") : std::string(p.status().message());
  };
  EXPECT_EQ(error(R"({"capabilities": [{"capability": "foo", "state": true}]})"),
            "Parameter 'capability' does not accept value 'foo'");
  EXPECT_EQ(error(R"({"capabilities": [{"capability": 1, "state": true}]})"),
            "Invalid parameter type for 'capabilities[0].capability', expected: string");
  EXPECT_EQ(error(R"({"capabilities": [{"capability": "xbzrle", "state": 1}]})"),
            "Invalid parameter type for 'capabilities[0].state', expected: boolean");
  EXPECT_EQ(error(R"({"capabilities": [{"capability": "xbzrle"}]})"),
            "Parameter 'capabilities[0].state' is missing");
  EXPECT_EQ(error(R"({"capabilities": [{"capability": "xbzrle", "state": true,
                                        "zz": 1, "aa": 2}]})"),
            "Parameter 'capabilities[0].aa' is unexpected");
  EXPECT_EQ(error(R"({"capabilities": {}})"),
            "Invalid parameter type for 'capabilities', expected: array");
  EXPECT_EQ(error(R"({"capabilities": [1]})"),
            "Invalid parameter type for 'capabilities[0]', expected: object");
  EXPECT_EQ(error("{}"), "Parameter 'capabilities' is missing");
}

TEST(MigrationSchemaTest, CalcDirtyRateErrors) {
  auto error = [](const std::string& json) {
    rapidjson::Document args = ParseJson(json);
    absl::StatusOr<CalcDirtyRateArg> p = ParseArguments<CalcDirtyRateArg>(&args);
    return p.ok() ? std::string("<ok>") : std::string(p.status().message());
  };
  EXPECT_EQ(error(R"({"calc-time": 1.0})"),
            "Invalid parameter type for 'calc-time', expected: integer");
  EXPECT_EQ(error(R"({"calc-time": 9223372036854775808})"),
            "Invalid parameter type for 'calc-time', expected: integer");
  EXPECT_EQ(error(R"({"calc-time": 1, "mode": "x"})"),
            "Parameter 'mode' does not accept value 'x'");
}

}  // namespace
}  // namespace migemu::qapi
