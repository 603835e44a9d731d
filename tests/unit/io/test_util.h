// File: tests/unit/io/test_util.h
//
// Helpers shared by the io tests: temporary directories, random buffers, a loopback TCP pair.
#ifndef MIGEMU_TESTS_UNIT_IO_TEST_UTIL_H_
#define MIGEMU_TESTS_UNIT_IO_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "io/listener.h"
#include "io/socket_address.h"
#include "io/socket_channel.h"

namespace migemu::io::test_util {

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it.
class TempDir final {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "migemu-io-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data()) != nullptr ? tmpl : std::string();
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) {
      std::filesystem::remove_all(path_, ec);
    }
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline std::vector<uint8_t> RandomBytes(size_t n, uint32_t seed) {
  std::vector<uint8_t> v(n);
  std::mt19937 rng(seed);
  for (size_t i = 0; i < n; i += 4) {
    uint32_t r = rng();
    for (size_t j = 0; j < 4 && i + j < n; ++j) {
      v[i + j] = static_cast<uint8_t>(r >> (8 * j));
    }
  }
  return v;
}

inline InetSocketAddress Inet(const std::string& host, const std::string& port) {
  InetSocketAddress a;
  a.host = host;
  a.port = port;
  return a;
}

inline std::string PortOf(const SocketAddress& a) { return std::get<InetSocketAddress>(a).port; }

// A connected pair over loopback TCP: `client` was connected (zero copy possible), `server`
// accepted.
struct TcpPair {
  std::unique_ptr<Listener> listener;
  std::unique_ptr<SocketChannel> client;
  std::unique_ptr<SocketChannel> server;
};

inline absl::StatusOr<TcpPair> MakeTcpPair(const std::string& host = "127.0.0.1") {
  TcpPair p;
  auto l = Listener::Listen(Inet(host, "0"), 4);
  if (!l.ok()) {
    return l.status();
  }
  p.listener = std::move(*l);
  auto c = SocketChannel::Connect(Inet(host, PortOf(p.listener->addresses().at(0))));
  if (!c.ok()) {
    return c.status();
  }
  p.client = std::move(*c);
  auto s = p.listener->AcceptBlocking();
  if (!s.ok()) {
    return s.status();
  }
  p.server = std::move(*s);
  return p;
}

}  // namespace migemu::io::test_util

#endif  // MIGEMU_TESTS_UNIT_IO_TEST_UTIL_H_
