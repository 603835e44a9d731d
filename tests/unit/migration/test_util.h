// File: tests/unit/migration/test_util.h
//
// Helpers shared by the migration tests: locating the QEMU 7.2 captures (meson define
// MIGEMU_TESTDATA_DIR, overridden by env MIGEMU_TESTDATA), gunzip, sha256 (GnuTLS), the 8 MiB
// RAM pattern of the captures, guest memory setup, and stream builders.
#ifndef MIGEMU_TESTS_UNIT_MIGRATION_TEST_UTIL_H_
#define MIGEMU_TESTS_UNIT_MIGRATION_TEST_UTIL_H_

#include <absl/status/statusor.h>
#include <absl/strings/string_view.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "system/guest_memory.h"

namespace migemu::migration::testing {

// The sha256 of block ram0 in every capture (testdata README).
inline constexpr char kPatternSha256[] =
    "0e4be570037a2ec847b8e538509c2bcc488af0f7fd0c8b849031aa87106cebc3";
inline constexpr uint64_t kPatternSize = 8 << 20;

// TestdataDir: the captures directory, or nullopt when it does not exist.
std::optional<std::string> TestdataDir();
// ReadFile / Gunzip / ReadGz.
absl::StatusOr<std::vector<uint8_t>> ReadFile(const std::string& path);
absl::StatusOr<std::vector<uint8_t>> Gunzip(const std::vector<uint8_t>& gz);
absl::StatusOr<std::vector<uint8_t>> ReadCapture(const std::string& name);  // "<dir>/<name>"

std::string Sha256Hex(const uint8_t* data, size_t len);
inline std::string Sha256Hex(const std::vector<uint8_t>& v) {
  return Sha256Hex(v.data(), v.size());
}

// PatternPage: page i of the captures' RAM (make_captures.ram_pattern()).
void FillPatternPage(size_t i, uint8_t* page);
// MakeMemory: a GuestMemory with one anonymous (zeroed) block.
std::unique_ptr<system::GuestMemory> MakeMemory(const std::string& name, uint64_t size);
// FillPattern: writes the 8 MiB pattern into the first 2048 pages of `block`.
void FillPattern(system::RamBlock& block);
std::string BlockSha256(const system::RamBlock& block);

// Bytes: builds raw stream bytes for hand-made test streams.
class Bytes {
 public:
  Bytes& U8(uint8_t v) {
    data_.push_back(v);
    return *this;
  }
  Bytes& Be16(uint16_t v) { return U8(static_cast<uint8_t>(v >> 8)).U8(static_cast<uint8_t>(v)); }
  Bytes& Be32(uint32_t v) {
    return Be16(static_cast<uint16_t>(v >> 16)).Be16(static_cast<uint16_t>(v));
  }
  Bytes& Be64(uint64_t v) {
    return Be32(static_cast<uint32_t>(v >> 32)).Be32(static_cast<uint32_t>(v));
  }
  Bytes& Str(absl::string_view s) {
    data_.insert(data_.end(), s.begin(), s.end());
    return *this;
  }
  Bytes& Counted(absl::string_view s) { return U8(static_cast<uint8_t>(s.size())).Str(s); }
  Bytes& Raw(const std::vector<uint8_t>& v) {
    data_.insert(data_.end(), v.begin(), v.end());
    return *this;
  }
  Bytes& Fill(size_t n, uint8_t v) {
    data_.insert(data_.end(), n, v);
    return *this;
  }
  const std::vector<uint8_t>& data() const { return data_; }
  std::vector<uint8_t> Take() { return std::move(data_); }

 private:
  std::vector<uint8_t> data_;
};

}  // namespace migemu::migration::testing

#endif  // MIGEMU_TESTS_UNIT_MIGRATION_TEST_UTIL_H_
