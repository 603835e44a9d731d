// File: qapi/qdict_order.h
//
// The orders in which QEMU walks the members of a JSON object, for byte-compatible
// output and for picking the same member QEMU names in an error.
//
// * QDict order (qobject/qdict.c): QEMU's dictionaries hash each key with tdb_hash into
//   one of 512 buckets and iterate buckets 0..511, newest entry first within a bucket.
//   QMP output objects are printed in this order, and qmp-dispatch reports the first
//   unexpected request member in it.
//
// * GHashTable order (GLib 2.74 ghash.c): the input visitor tracks a struct's unvisited
//   members in a GHashTable filled in QDict order and emptied as members are consumed;
//   "Parameter '%s' is unexpected" names the first key left in that table's iteration
//   order. GHashKeySet models that table (open addressing, (hash * 11) % prime initial
//   slot, quadratic probing, tombstones, in-place resizes).
//
//   std::vector<size_t> order = QdictIterationOrder(object);   // member indices
//   GHashKeySet set;  for (size_t i : order) set.Insert(key(i));  set.Remove("used");
//   std::optional<std::string> first = set.First();
#ifndef MIGEMU_QAPI_QDICT_ORDER_H_
#define MIGEMU_QAPI_QDICT_ORDER_H_

#include <absl/strings/string_view.h>
#include <rapidjson/document.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace migemu::qapi {

// Number of buckets of a QDict (QDICT_BUCKET_MAX).
inline constexpr uint32_t kQdictBuckets = 512;

// QdictBucket returns the bucket QEMU's QDict puts `key` in: tdb_hash(key) % 512.
// QdictHash: QEMU's tdb_hash() of a key (qobject/qdict.c).
uint32_t QdictHash(absl::string_view key);
uint32_t QdictBucket(absl::string_view key);

// QdictOrderLess orders two distinct keys of one dictionary as QEMU iterates them, given
// the order they were inserted in (`a_index`, `b_index`: lower = inserted earlier).
bool QdictOrderLess(absl::string_view a, size_t a_index, absl::string_view b, size_t b_index);

// QdictIterationOrder returns the indices of `keys` (in insertion order) in QDict
// iteration order.
std::vector<size_t> QdictIterationOrder(const std::vector<absl::string_view>& keys);

// Same for the members of a RapidJSON object (document order = insertion order). A key
// that occurs more than once keeps its first occurrence (QEMU's parser rejects duplicate
// keys; the later ones are left out). Returns an empty vector for a non-object.
std::vector<size_t> QdictIterationOrder(const rapidjson::Value& object);

// GStrHash is GLib's g_str_hash (djb2 over signed chars).
uint32_t GStrHash(absl::string_view key);

// GHashKeySet is a set of strings that iterates in the order a GLib 2.74 GHashTable
// with g_str_hash/g_str_equal would. Not thread-safe; a plain value type.
class GHashKeySet {
 public:
  GHashKeySet();

  // Insert adds `key` (no effect if present), growing the table as GLib does.
  void Insert(absl::string_view key);
  // Remove deletes `key`, returning false if it was absent; may shrink the table.
  bool Remove(absl::string_view key);
  // First returns the first key in iteration order, or nullopt when empty.
  std::optional<std::string> First() const;
  // Keys returns all keys in iteration order.
  std::vector<std::string> Keys() const;
  size_t size() const { return nnodes_; }

 private:
  size_t Lookup(absl::string_view key, uint32_t hash) const;
  void MaybeResize();
  void Resize();
  void SetShift(int shift);
  size_t Index(uint32_t hash) const;

  size_t size_ = 0;  // number of slots, a power of two
  uint32_t mod_ = 0;
  uint32_t mask_ = 0;
  size_t nnodes_ = 0;
  size_t noccupied_ = 0;          // nodes + tombstones
  std::vector<uint32_t> hashes_;  // 0 = unused, 1 = tombstone, else the key's hash
  std::vector<std::string> keys_;
};

}  // namespace migemu::qapi

#endif  // MIGEMU_QAPI_QDICT_ORDER_H_
