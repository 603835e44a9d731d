#include "qapi/qdict_order.h"

#include <absl/strings/string_view.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace migemu::qapi {
namespace {

// tdb_hash() as qobject/qdict.c uses it, all arithmetic in unsigned 32 bits.
uint32_t TdbHash(absl::string_view key) {
  uint32_t value = 0x238F13AFu * static_cast<uint32_t>(key.size());
  for (size_t i = 0; i < key.size(); ++i) {
    value += static_cast<uint32_t>(static_cast<unsigned char>(key[i])) << (i * 5 % 24);
  }
  return 1103515243u * value + 12345u;
}

// GLib's table of moduli: the largest prime below each power of two.
constexpr std::array<uint32_t, 32> kPrimeMod = {
    1,        2,        3,        7,         13,        31,        61,         127,
    251,      509,      1021,     2039,      4093,      8191,      16381,      32749,
    65521,    131071,   262139,   524287,    1048573,   2097143,   4194301,    8388593,
    16777213, 33554393, 67108859, 134217689, 268435399, 536870909, 1073741789, 2147483647};

constexpr int kMinShift = 3;
constexpr uint32_t kUnused = 0;
constexpr uint32_t kTombstone = 1;

bool IsReal(uint32_t hash) { return hash >= 2; }

int ClosestShift(size_t n) {
  int shift = 0;
  for (; n != 0; n >>= 1) {
    ++shift;
  }
  return shift;
}

}  // namespace

uint32_t QdictHash(absl::string_view key) { return TdbHash(key); }

uint32_t QdictBucket(absl::string_view key) { return TdbHash(key) % kQdictBuckets; }

bool QdictOrderLess(absl::string_view a, size_t a_index, absl::string_view b, size_t b_index) {
  uint32_t bucket_a = QdictBucket(a);
  uint32_t bucket_b = QdictBucket(b);
  if (bucket_a != bucket_b) {
    return bucket_a < bucket_b;
  }
  // Within a bucket the newest entry comes first (QLIST_INSERT_HEAD).
  return a_index > b_index;
}

std::vector<size_t> QdictIterationOrder(const std::vector<absl::string_view>& keys) {
  std::vector<size_t> order(keys.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(),
            [&keys](size_t x, size_t y) { return QdictOrderLess(keys[x], x, keys[y], y); });
  return order;
}

std::vector<size_t> QdictIterationOrder(const rapidjson::Value& object) {
  if (!object.IsObject()) {
    return {};
  }
  std::vector<absl::string_view> keys;
  std::vector<size_t> member_index;
  std::set<absl::string_view> seen;
  size_t i = 0;
  for (auto it = object.MemberBegin(); it != object.MemberEnd(); ++it, ++i) {
    absl::string_view key(it->name.GetString(), it->name.GetStringLength());
    if (seen.insert(key).second) {
      keys.push_back(key);
      member_index.push_back(i);
    }
  }
  std::vector<size_t> order = QdictIterationOrder(keys);
  for (size_t& index : order) {
    index = member_index[index];
  }
  return order;
}

uint32_t GStrHash(absl::string_view key) {
  uint32_t hash = 5381;
  for (char c : key) {
    // g_str_hash walks `signed char`s: bytes >= 0x80 count as negative.
    hash = hash * 33 + static_cast<uint32_t>(static_cast<int32_t>(static_cast<signed char>(c)));
  }
  return hash;
}

GHashKeySet::GHashKeySet() {
  SetShift(kMinShift);
  hashes_.assign(size_, kUnused);
  keys_.assign(size_, std::string());
}

void GHashKeySet::SetShift(int shift) {
  size_ = size_t{1} << shift;
  mod_ = kPrimeMod[static_cast<size_t>(shift)];
  mask_ = static_cast<uint32_t>(size_ - 1);
}

size_t GHashKeySet::Index(uint32_t hash) const { return (hash * 11u) % mod_; }

// Mirrors g_hash_table_lookup_node(): the slot holding `key`, else the first tombstone
// on its probe sequence, else the empty slot that ended the probe.
size_t GHashKeySet::Lookup(absl::string_view key, uint32_t hash) const {
  size_t index = Index(hash);
  size_t step = 0;
  std::optional<size_t> tombstone;
  while (hashes_[index] != kUnused) {
    if (hashes_[index] == hash && keys_[index] == key) {
      return index;
    }
    if (hashes_[index] == kTombstone && !tombstone) {
      tombstone = index;
    }
    ++step;
    index = (index + step) & mask_;
  }
  return tombstone ? *tombstone : index;
}

void GHashKeySet::Insert(absl::string_view key) {
  uint32_t hash = GStrHash(key);
  if (!IsReal(hash)) {
    hash = 2;
  }
  size_t index = Lookup(key, hash);
  uint32_t old = hashes_[index];
  if (IsReal(old)) {
    return;
  }
  hashes_[index] = hash;
  keys_[index] = std::string(key);
  ++nnodes_;
  if (old == kUnused) {
    ++noccupied_;
    MaybeResize();
  }
}

bool GHashKeySet::Remove(absl::string_view key) {
  uint32_t hash = GStrHash(key);
  if (!IsReal(hash)) {
    hash = 2;
  }
  size_t index = Lookup(key, hash);
  if (!IsReal(hashes_[index])) {
    return false;
  }
  hashes_[index] = kTombstone;
  keys_[index].clear();
  --nnodes_;
  MaybeResize();
  return true;
}

// g_hash_table_maybe_resize(): shrink below 1/4 load, grow (and drop tombstones) at 15/16.
void GHashKeySet::MaybeResize() {
  if ((size_ > nnodes_ * 4 && size_ > (size_t{1} << kMinShift)) ||
      (size_ <= noccupied_ + noccupied_ / 16)) {
    Resize();
  }
}

// g_hash_table_resize(): picks the size for nnodes * 1.333 and relocates entries in place,
// walking old slots in order; an entry whose new slot is taken by a not yet relocated entry
// evicts it and the evicted one is placed next (a bitmap marks relocated slots).
void GHashKeySet::Resize() {
  size_t old_size = size_;
  SetShift(
      std::max(ClosestShift(static_cast<size_t>(static_cast<double>(nnodes_) * 1.333)), kMinShift));
  if (size_ > old_size) {
    hashes_.resize(size_, kUnused);
    keys_.resize(size_);
  }
  std::vector<bool> relocated(std::max(size_, old_size), false);
  for (size_t i = 0; i < old_size; ++i) {
    uint32_t hash = hashes_[i];
    if (!IsReal(hash)) {
      hashes_[i] = kUnused;
      continue;
    }
    if (relocated[i]) {
      continue;
    }
    hashes_[i] = kUnused;
    std::string key = std::move(keys_[i]);
    keys_[i].clear();
    for (;;) {
      size_t index = Index(hash);
      size_t step = 0;
      while (relocated[index]) {
        ++step;
        index = (index + step) & mask_;
      }
      relocated[index] = true;
      uint32_t replaced = hashes_[index];
      hashes_[index] = hash;
      if (!IsReal(replaced)) {
        keys_[index] = std::move(key);
        break;
      }
      hash = replaced;
      std::swap(key, keys_[index]);
    }
  }
  if (size_ < old_size) {
    hashes_.resize(size_);
    keys_.resize(size_);
  }
  noccupied_ = nnodes_;
}

std::optional<std::string> GHashKeySet::First() const {
  for (size_t i = 0; i < size_; ++i) {
    if (IsReal(hashes_[i])) {
      return keys_[i];
    }
  }
  return std::nullopt;
}

std::vector<std::string> GHashKeySet::Keys() const {
  std::vector<std::string> keys;
  for (size_t i = 0; i < size_; ++i) {
    if (IsReal(hashes_[i])) {
      keys.push_back(keys_[i]);
    }
  }
  return keys;
}

}  // namespace migemu::qapi
