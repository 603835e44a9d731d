// The expected orders below were captured from qemu-system-x86_64 7.2 (Debian 12):
// query-migrate-parameters output, and the member named by "Parameter '%s' is unexpected"
// for requests with several unknown members.
#include "qapi/qdict_order.h"

#include <absl/strings/string_view.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <cstddef>
#include <string>
#include <vector>

namespace migemu::qapi {
namespace {

std::vector<std::string> InQdictOrder(const std::vector<std::string>& keys) {
  std::vector<absl::string_view> views(keys.begin(), keys.end());
  std::vector<std::string> out;
  for (size_t i : QdictIterationOrder(views)) {
    out.push_back(keys[i]);
  }
  return out;
}

// Buckets of names QEMU 7.2 prints, computed with a separate (Python) transcription of
// tdb_hash(). The relations between them show in QEMU's own output: the greeting prints
// "micro", "minor", "major" for members inserted as major, minor, micro; query-status prints
// "status", "singlestep", "running" for running, singlestep, status.
TEST(QdictOrderTest, KnownBuckets) {
  EXPECT_EQ(QdictBucket("QMP"), 99u);
  EXPECT_EQ(QdictBucket("version"), 184u);
  EXPECT_EQ(QdictBucket("capabilities"), 216u);
  EXPECT_EQ(QdictBucket("qemu"), 232u);
  EXPECT_EQ(QdictBucket("package"), 326u);
  EXPECT_EQ(QdictBucket("major"), 481u);
  EXPECT_EQ(QdictBucket("minor"), 225u);
  EXPECT_EQ(QdictBucket("micro"), 225u);
  EXPECT_EQ(QdictBucket("return"), 401u);
  EXPECT_EQ(QdictBucket("id"), 486u);
  EXPECT_EQ(QdictBucket("error"), 489u);
  EXPECT_EQ(QdictBucket("class"), 211u);
  EXPECT_EQ(QdictBucket("desc"), 377u);
  EXPECT_EQ(QdictBucket("event"), 361u);
  EXPECT_EQ(QdictBucket("timestamp"), 26u);
  EXPECT_EQ(QdictBucket("data"), 505u);
  EXPECT_EQ(QdictBucket("seconds"), 5u);
  EXPECT_EQ(QdictBucket("microseconds"), 374u);
  EXPECT_EQ(QdictBucket("singlestep"), 202u);
  EXPECT_EQ(QdictBucket("status"), 202u);
  EXPECT_EQ(QdictBucket("running"), 246u);
  // 'a', 'rb' and 'rr' share a bucket; QEMU prints them most recent first (obj-same-bucket in
  // testdata/qemu72_json_cases.json).
  EXPECT_EQ(QdictBucket("a"), QdictBucket("rb"));
  EXPECT_EQ(QdictBucket("a"), QdictBucket("rr"));
}

TEST(QdictOrderTest, HashIsTdbHash) {
  // tdb_hash(""): 1103515243 * 0 + 12345.
  EXPECT_EQ(QdictHash(""), 12345u);
  // tdb_hash("a"): value = 0x238F13AF + 'a'.
  EXPECT_EQ(QdictHash("a"), 1103515243u * (0x238F13AFu + 'a') + 12345u);
  // The shift cycles with i * 5 % 24: byte 5 is shifted by 1, byte 24 by 0 again.
  std::string long_key(30, 'x');
  uint32_t v = 0x238F13AFu * 30;
  for (uint32_t i = 0; i < 30; ++i) {
    v += static_cast<uint32_t>('x') << (i * 5 % 24);
  }
  EXPECT_EQ(QdictHash(long_key), 1103515243u * v + 12345u);
  // Bytes are unsigned.
  EXPECT_EQ(QdictHash("\xff"), 1103515243u * (0x238F13AFu + 0xFFu) + 12345u);
}

TEST(QdictOrderTest, FullHashValues) {
  // Values from the Python transcription of tdb_hash().
  EXPECT_EQ(QdictHash("capabilities"), 2995004632u);
  EXPECT_EQ(QdictHash("multifd-compression"), 3847584111u);
  EXPECT_EQ(QdictHash("block-bitmap-mapping"), 2036113501u);
  EXPECT_EQ(QdictHash(std::string(30, 'x')), 832767455u);
  EXPECT_EQ(QdictHash("\xc3\xa9"), 3516110948u);
  EXPECT_EQ(QdictBucket("\xc3\xa9"), 100u);
}

TEST(QdictOrderTest, MatchesQemuOutputOrderOfMigrationParameters) {
  // Members in the order QEMU's output visitor inserts them (schema order).
  std::vector<std::string> inserted = {"announce-initial",
                                       "announce-max",
                                       "announce-rounds",
                                       "announce-step",
                                       "compress-level",
                                       "compress-threads",
                                       "compress-wait-thread",
                                       "decompress-threads",
                                       "throttle-trigger-threshold",
                                       "cpu-throttle-initial",
                                       "cpu-throttle-increment",
                                       "cpu-throttle-tailslow",
                                       "tls-creds",
                                       "tls-hostname",
                                       "tls-authz",
                                       "max-bandwidth",
                                       "downtime-limit",
                                       "x-checkpoint-delay",
                                       "block-incremental",
                                       "multifd-channels",
                                       "xbzrle-cache-size",
                                       "max-postcopy-bandwidth",
                                       "max-cpu-throttle",
                                       "multifd-compression",
                                       "multifd-zlib-level",
                                       "multifd-zstd-level"};
  std::vector<std::string> printed = {"cpu-throttle-tailslow",
                                      "xbzrle-cache-size",
                                      "cpu-throttle-initial",
                                      "announce-max",
                                      "decompress-threads",
                                      "compress-threads",
                                      "compress-level",
                                      "multifd-channels",
                                      "multifd-zstd-level",
                                      "announce-initial",
                                      "block-incremental",
                                      "compress-wait-thread",
                                      "downtime-limit",
                                      "tls-authz",
                                      "multifd-compression",
                                      "announce-rounds",
                                      "announce-step",
                                      "tls-creds",
                                      "multifd-zlib-level",
                                      "max-cpu-throttle",
                                      "max-postcopy-bandwidth",
                                      "tls-hostname",
                                      "throttle-trigger-threshold",
                                      "max-bandwidth",
                                      "x-checkpoint-delay",
                                      "cpu-throttle-increment"};
  EXPECT_EQ(InQdictOrder(inserted), printed);
}

TEST(QdictOrderTest, QueryStatusOrder) {
  EXPECT_EQ(InQdictOrder({"running", "singlestep", "status"}),
            (std::vector<std::string>{"status", "singlestep", "running"}));
}

TEST(QdictOrderTest, NewestFirstWithinABucket) {
  // Find two keys sharing a bucket; the later-inserted one comes first.
  std::string a = "k0";
  std::string b;
  for (int i = 1; i < 100000 && b.empty(); ++i) {
    std::string candidate = "k" + std::to_string(i);
    if (QdictBucket(candidate) == QdictBucket(a)) {
      b = candidate;
    }
  }
  ASSERT_FALSE(b.empty());
  EXPECT_TRUE(QdictOrderLess(b, 1, a, 0));
  EXPECT_FALSE(QdictOrderLess(a, 0, b, 1));
  EXPECT_EQ(InQdictOrder({a, b}), (std::vector<std::string>{b, a}));
}

TEST(QdictOrderTest, RapidJsonObjectOrderSkipsDuplicates) {
  rapidjson::Document doc;
  doc.Parse(R"({"running": 1, "status": 2, "running": 3, "singlestep": 4})");
  ASSERT_FALSE(doc.HasParseError());
  std::vector<size_t> order = QdictIterationOrder(doc);
  EXPECT_EQ(order, (std::vector<size_t>{3, 1, 0}));
  EXPECT_TRUE(QdictIterationOrder(rapidjson::Value(5)).empty());
}

TEST(GHashKeySetTest, GStrHashIsDjb2OverSignedChars) {
  EXPECT_EQ(GStrHash(""), 5381u);
  EXPECT_EQ(GStrHash("a"), 5381u * 33 + 'a');
  // 0xff counts as -1.
  EXPECT_EQ(GStrHash("\xff"), 5381u * 33 - 1);
}

TEST(GHashKeySetTest, InsertRemoveAndIterate) {
  GHashKeySet set;
  EXPECT_FALSE(set.First().has_value());
  for (int i = 0; i < 100; ++i) {
    set.Insert("key" + std::to_string(i));
  }
  set.Insert("key5");  // already there
  EXPECT_EQ(set.size(), 100u);
  EXPECT_EQ(set.Keys().size(), 100u);
  for (int i = 0; i < 100; ++i) {
    if (i != 42) {
      EXPECT_TRUE(set.Remove("key" + std::to_string(i)));
    }
  }
  EXPECT_FALSE(set.Remove("key0"));
  EXPECT_EQ(set.size(), 1u);
  EXPECT_EQ(set.First(), "key42");
}

// Which unknown member QEMU names: the GHashTable of unvisited members is filled in QDict
// order; here nothing is consumed (query-status takes no arguments).
struct UnexpectedCase {
  std::vector<std::string> keys;  // request order
  std::string reported;           // what QEMU 7.2 reported
};

std::string FirstUnexpected(const std::vector<std::string>& keys,
                            const std::vector<std::string>& consumed) {
  GHashKeySet set;
  for (const std::string& key : InQdictOrder(keys)) {
    set.Insert(key);
  }
  for (const std::string& key : consumed) {
    set.Remove(key);
  }
  return set.First().value_or("");
}

TEST(GHashKeySetTest, FirstUnexpectedMatchesQemu) {
  const std::vector<UnexpectedCase> cases = {
      {{"k5", "foo", "q", "bar"}, "k5"},
      {{"k1", "k2", "k7", "gamma", "abc", "bar", "k9", "zzz", "k8"}, "bar"},
      {{"k6", "zzz", "k1", "q", "hello", "k5", "bar", "alpha"}, "k6"},
      {{"zzz", "k7"}, "zzz"},
      {{"zzz", "gamma", "k8", "abc", "delta", "k10", "k3", "hello", "k1", "k4"}, "k10"},
      {{"hello", "beta", "k10", "k8", "k1", "migrate", "zzz", "delta", "bar", "foo"}, "k10"},
      {{"k10", "migrate", "bar", "alpha", "k3", "delta", "k6", "abc", "k9", "x", "k2", "hello"},
       "k6"},
      {{"gamma", "k5", "aaa", "k2", "hello", "k10", "delta", "y", "beta", "q"}, "k10"},
  };
  for (const UnexpectedCase& c : cases) {
    EXPECT_EQ(FirstUnexpected(c.keys, {}), c.reported);
  }
}

TEST(GHashKeySetTest, FirstUnexpectedAfterConsumingManyMembers) {
  // migrate-set-parameters with 54 members, 25 of them known: consuming them shrinks the
  // table, which reorders what is left.
  std::vector<std::string> keys = {"cpu-throttle-initial",
                                   "cpu-throttle-increment",
                                   "x",
                                   "announce-max",
                                   "multifd-channels",
                                   "max-bandwidth",
                                   "k38",
                                   "tls-hostname",
                                   "decompress-threads",
                                   "k20",
                                   "k0",
                                   "k13",
                                   "beta",
                                   "max-postcopy-bandwidth",
                                   "k7",
                                   "k18",
                                   "compress-threads",
                                   "throttle-trigger-threshold",
                                   "k15",
                                   "k28",
                                   "multifd-zlib-level",
                                   "block-bitmap-mapping",
                                   "k3",
                                   "k36",
                                   "gamma",
                                   "k5",
                                   "cpu-throttle-tailslow",
                                   "k26",
                                   "k22",
                                   "bar",
                                   "k33",
                                   "announce-initial",
                                   "announce-step",
                                   "zzz",
                                   "block-incremental",
                                   "k9",
                                   "max-cpu-throttle",
                                   "alpha",
                                   "announce-rounds",
                                   "k35",
                                   "k32",
                                   "tls-creds",
                                   "compress-level",
                                   "k27",
                                   "downtime-limit",
                                   "xbzrle-cache-size",
                                   "delta",
                                   "k24",
                                   "x-checkpoint-delay",
                                   "aaa",
                                   "multifd-compression",
                                   "k34",
                                   "tls-authz",
                                   "k29"};
  std::vector<std::string> consumed = {"announce-initial",       "announce-max",
                                       "announce-rounds",        "announce-step",
                                       "compress-level",         "compress-threads",
                                       "decompress-threads",     "throttle-trigger-threshold",
                                       "cpu-throttle-initial",   "cpu-throttle-increment",
                                       "cpu-throttle-tailslow",  "tls-creds",
                                       "tls-hostname",           "tls-authz",
                                       "max-bandwidth",          "downtime-limit",
                                       "x-checkpoint-delay",     "block-incremental",
                                       "multifd-channels",       "xbzrle-cache-size",
                                       "max-postcopy-bandwidth", "max-cpu-throttle",
                                       "multifd-compression",    "multifd-zlib-level",
                                       "block-bitmap-mapping"};
  EXPECT_EQ(FirstUnexpected(keys, consumed), "x");
}

}  // namespace
}  // namespace migemu::qapi
