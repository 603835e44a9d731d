#include "tests/unit/migration/test_util.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <zlib.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>

namespace migemu::migration::testing {

std::optional<std::string> TestdataDir() {
  std::string dir;
  if (const char* env = ::getenv("MIGEMU_TESTDATA"); env != nullptr && *env != '\0') {
    dir = env;
  } else {
    dir = MIGEMU_TESTDATA_DIR;
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return std::nullopt;
  }
  return dir;
}

absl::StatusOr<std::vector<uint8_t>> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot open ", path));
  }
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

absl::StatusOr<std::vector<uint8_t>> Gunzip(const std::vector<uint8_t>& gz) {
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
    return absl::InternalError("inflateInit2 failed");
  }
  std::vector<uint8_t> out;
  std::vector<uint8_t> chunk(1 << 20);
  zs.next_in = const_cast<uint8_t*>(gz.data());
  zs.avail_in = static_cast<uInt>(gz.size());
  int err = Z_OK;
  while (err != Z_STREAM_END) {
    zs.next_out = chunk.data();
    zs.avail_out = static_cast<uInt>(chunk.size());
    err = inflate(&zs, Z_NO_FLUSH);
    if (err != Z_OK && err != Z_STREAM_END) {
      inflateEnd(&zs);
      return absl::DataLossError("gunzip failed");
    }
    out.insert(out.end(), chunk.data(), chunk.data() + (chunk.size() - zs.avail_out));
  }
  inflateEnd(&zs);
  return out;
}

absl::StatusOr<std::vector<uint8_t>> ReadCapture(const std::string& name) {
  std::optional<std::string> dir = TestdataDir();
  if (!dir.has_value()) {
    return absl::NotFoundError("no testdata");
  }
  absl::StatusOr<std::vector<uint8_t>> gz = ReadFile(*dir + "/" + name);
  if (!gz.ok()) {
    return gz.status();
  }
  return Gunzip(*gz);
}

std::string Sha256Hex(const uint8_t* data, size_t len) {
  uint8_t digest[32];
  if (gnutls_hash_fast(GNUTLS_DIG_SHA256, data, len, digest) != 0) {
    return "";
  }
  std::string hex;
  for (uint8_t b : digest) {
    absl::StrAppendFormat(&hex, "%02x", b);
  }
  return hex;
}

void FillPatternPage(size_t i, uint8_t* page) {
  if (i % 97 == 5 || i == 2047) {
    std::memset(page, 0, system::kPageSize);
    return;
  }
  char head[17];
  std::snprintf(head, sizeof(head), "PAGE%08zx", i);
  std::memcpy(page, head, 12);
  page[12] = static_cast<uint8_t>(i >> 24);
  page[13] = static_cast<uint8_t>(i >> 16);
  page[14] = static_cast<uint8_t>(i >> 8);
  page[15] = static_cast<uint8_t>(i);
  for (size_t j = 16; j < system::kPageSize; ++j) {
    page[j] = static_cast<uint8_t>((31 * i + j) & 0xff);
  }
}

std::unique_ptr<system::GuestMemory> MakeMemory(const std::string& name, uint64_t size) {
  auto memory = std::make_unique<system::GuestMemory>();
  absl::StatusOr<std::unique_ptr<system::RamBlock>> block =
      system::RamBlock::CreateAnonymous(name, size, false);
  if (!block.ok()) {
    return nullptr;
  }
  memory->AddBlock(std::move(*block));
  return memory;
}

void FillPattern(system::RamBlock& block) {
  for (size_t i = 0; i < 2048 && i < block.page_count(); ++i) {
    FillPatternPage(i, block.PageHost(i));
  }
}

std::string BlockSha256(const system::RamBlock& block) {
  return Sha256Hex(block.host(), block.used_length());
}

}  // namespace migemu::migration::testing
