// Tests for io::TlsCreds and io::TlsChannel over an in-process socket pair: PSK and x509
// handshakes (certificates made by certtool at test time; skipped when it is missing), the
// peer checks and their QEMU texts, data both ways, Peek, EOF, the zero-copy refusal and
// cancelling a handshake the peer never answers.
#include "io/tls_channel.h"

#include <absl/strings/match.h>
#include <absl/strings/str_cat.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <stop_token>
#include <string>
#include <thread>

#include "io/authz_list.h"
#include "io/socket_channel.h"
#include "io/tls_creds.h"
#include "tests/unit/io/test_util.h"

namespace migemu::io {
namespace {

using test_util::TempDir;

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
}

std::shared_ptr<const TlsCreds> Load(TlsCredsConfig c) {
  absl::StatusOr<std::shared_ptr<const TlsCreds>> creds = TlsCreds::Load(c);
  EXPECT_TRUE(creds.ok()) << creds.status();
  return creds.ok() ? *creds : nullptr;
}

std::shared_ptr<const TlsCreds> Psk(const std::string& dir, TlsEndpoint endpoint) {
  TlsCredsConfig c;
  c.kind = TlsCredsKind::kPsk;
  c.dir = dir;
  c.endpoint = endpoint;
  return Load(c);
}

struct Pair {
  absl::StatusOr<std::unique_ptr<TlsChannel>> client = absl::UnknownError("");
  absl::StatusOr<std::unique_ptr<TlsChannel>> server = absl::UnknownError("");
};

// Handshake: both ends of a socketpair, the server on a thread.
Pair Handshake(std::shared_ptr<const TlsCreds> client_creds, TlsSessionParams client_params,
               std::shared_ptr<const TlsCreds> server_creds, TlsSessionParams server_params) {
  auto sockets = SocketChannel::CreatePair();
  EXPECT_TRUE(sockets.ok());
  Pair p;
  std::thread server([&] {
    p.server = TlsChannel::Handshake(std::move(sockets->second), server_creds, server_params);
    if (!p.server.ok()) {
      // As the migration code does: a refused peer's connection is closed.
      p.server = p.server.status();
    }
  });
  p.client = TlsChannel::Handshake(std::move(sockets->first), client_creds, client_params);
  if (!p.client.ok()) {
    p.client = p.client.status();  // drops (closes) the client socket so the server ends
  }
  server.join();
  return p;
}

TlsSessionParams Client(const std::string& host = "") {
  TlsSessionParams p;
  p.endpoint = TlsEndpoint::kClient;
  p.hostname = host;
  return p;
}

TlsSessionParams Server() {
  TlsSessionParams p;
  p.endpoint = TlsEndpoint::kServer;
  return p;
}

class TlsPskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    WriteFile(dir_.File("keys.psk"), "qemu:00112233445566778899aabbccddeeff\n");
  }
  TempDir dir_;
};

TEST_F(TlsPskTest, RoundTripsDataBothWaysConcurrently) {
  Pair p = Handshake(Psk(dir_.path(), TlsEndpoint::kClient), Client(),
                     Psk(dir_.path(), TlsEndpoint::kServer), Server());
  ASSERT_TRUE(p.client.ok()) << p.client.status();
  ASSERT_TRUE(p.server.ok()) << p.server.status();
  TlsChannel& c = **p.client;
  TlsChannel& s = **p.server;
  const std::vector<uint8_t> up = test_util::RandomBytes(3 << 20, 1);
  const std::vector<uint8_t> down = test_util::RandomBytes(1 << 20, 2);
  std::vector<uint8_t> got_up(up.size());
  std::vector<uint8_t> got_down(down.size());
  // Each side writes on one thread and reads on another (GnuTLS allows one of each).
  auto w1 = std::async(std::launch::async, [&] {
    // An iovec of several pieces, as multifd writes a header then pages.
    iovec iov[3] = {{const_cast<uint8_t*>(up.data()), 100},
                    {const_cast<uint8_t*>(up.data()) + 100, 4096},
                    {const_cast<uint8_t*>(up.data()) + 4196, up.size() - 4196}};
    return c.WritevAll(iov);
  });
  auto w2 = std::async(std::launch::async, [&] { return s.WriteAll(down.data(), down.size()); });
  auto r1 = std::async(std::launch::async, [&] { return s.ReadAll(got_up.data(), got_up.size()); });
  ASSERT_TRUE(c.ReadAll(got_down.data(), got_down.size()).ok());
  ASSERT_TRUE(w1.get().ok());
  ASSERT_TRUE(w2.get().ok());
  ASSERT_TRUE(r1.get().ok());
  EXPECT_EQ(got_up, up);
  EXPECT_EQ(got_down, down);
  EXPECT_EQ(c.Stats().bytes_written, up.size());
  EXPECT_EQ(s.Stats().bytes_read, up.size());

  // Peek keeps the bytes for the next read.
  ASSERT_TRUE(c.WriteAll("QEVMrest", 8).ok());
  char peek[4];
  ASSERT_EQ(*s.Peek(peek, 4), 4u);
  EXPECT_EQ(std::string(peek, 4), "QEVM");
  char all[8];
  ASSERT_TRUE(s.ReadAll(all, 8).ok());
  EXPECT_EQ(std::string(all, 8), "QEVMrest");

  // A peer that closes without close_notify reads as end of file.
  ASSERT_TRUE(c.Close().ok());
  char b;
  iovec v{&b, 1};
  absl::StatusOr<size_t> n = s.Readv(absl::MakeConstSpan(&v, 1));
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 0u);
}

TEST_F(TlsPskTest, NeverOffersZeroCopy) {
  Pair p = Handshake(Psk(dir_.path(), TlsEndpoint::kClient), Client(),
                     Psk(dir_.path(), TlsEndpoint::kServer), Server());
  ASSERT_TRUE(p.client.ok());
  EXPECT_FALSE((*p.client)->HasFeature(Feature::kZeroCopySend));
  EXPECT_FALSE((*p.client)->HasFeature(Feature::kFdPass));
  EXPECT_TRUE((*p.client)->HasFeature(Feature::kShutdown));
  char buf[16] = {};
  iovec v{buf, sizeof(buf)};
  absl::StatusOr<size_t> r = (*p.client)->Writev(absl::MakeConstSpan(&v, 1), kWriteZeroCopy);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "Requested Zero Copy feature is not available: Invalid argument");
}

TEST_F(TlsPskTest, MismatchedKeysFailTheHandshakeOnBothSides) {
  TempDir other;
  WriteFile(other.File("keys.psk"), "qemu:ffeeddccbbaa99887766554433221100\n");
  Pair p = Handshake(Psk(other.path(), TlsEndpoint::kClient), Client(),
                     Psk(dir_.path(), TlsEndpoint::kServer), Server());
  ASSERT_FALSE(p.client.ok());
  ASSERT_FALSE(p.server.ok());
  EXPECT_TRUE(absl::StartsWith(p.client.status().message(), "TLS handshake failed: "))
      << p.client.status();
  EXPECT_TRUE(absl::StartsWith(p.server.status().message(), "TLS handshake failed: "))
      << p.server.status();
}

TEST_F(TlsPskTest, WrongEndpointIsRefused) {
  auto sockets = SocketChannel::CreatePair();
  ASSERT_TRUE(sockets.ok());
  absl::StatusOr<std::unique_ptr<TlsChannel>> c = TlsChannel::Handshake(
      std::move(sockets->first), Psk(dir_.path(), TlsEndpoint::kServer), Client());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "Credentials endpoint doesn't match session");
  EXPECT_EQ(Psk(dir_.path(), TlsEndpoint::kServer)->CheckEndpoint(TlsEndpoint::kClient).message(),
            "Expected TLS credentials for a client endpoint");
}

TEST_F(TlsPskTest, StopRequestEndsAHandshakeThePeerNeverAnswers) {
  auto sockets = SocketChannel::CreatePair();
  ASSERT_TRUE(sockets.ok());
  std::stop_source stop;
  auto result = std::async(std::launch::async, [&] {
    return TlsChannel::Handshake(std::move(sockets->first), Psk(dir_.path(), TlsEndpoint::kClient),
                                 Client(), stop.get_token());
  });
  // The peer reads the ClientHello (so the handshake is under way) and never answers.
  char hello[5];
  ASSERT_TRUE(sockets->second->ReadAll(hello, sizeof(hello)).ok());
  EXPECT_EQ(hello[0], 0x16);  // a TLS handshake record
  stop.request_stop();
  absl::StatusOr<std::unique_ptr<TlsChannel>> r = result.get();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled);
}

TEST(TlsCredsTest, LoadErrorsUseQemusTexts) {
  TlsCredsConfig c;
  c.kind = TlsCredsKind::kX509;
  c.endpoint = TlsEndpoint::kServer;
  EXPECT_EQ(TlsCreds::Load(c).status().message(), "Missing 'dir' property value");
  c.dir = "/nonexistent";
  EXPECT_EQ(TlsCreds::Load(c).status().message(),
            "Unable to access credentials /nonexistent/ca-cert.pem: No such file or directory");
  c.kind = TlsCredsKind::kPsk;
  EXPECT_EQ(TlsCreds::Load(c).status().message(),
            "Unable to access credentials /nonexistent/keys.psk: No such file or directory");
  TempDir d;
  WriteFile(d.File("keys.psk"), "alice:00\n");
  c.dir = d.path();
  c.username = "bob";
  EXPECT_EQ(TlsCreds::Load(c).status().message(),
            absl::StrCat("username should not be set when endpoint=server"));
  c.endpoint = TlsEndpoint::kClient;
  EXPECT_EQ(TlsCreds::Load(c).status().message(),
            absl::StrCat("Username bob not found in PSK file ", d.File("keys.psk")));
}

TEST(AuthzListTest, FirstMatchingRuleDecides) {
  AuthzList acl(
      false,
      {{"O=QEMU,CN=bad", false, false}, {"O=QEMU,CN=*", true, true}, {"CN=exact", true, false}});
  EXPECT_FALSE(acl.IsAllowed("O=QEMU,CN=bad"));
  EXPECT_TRUE(acl.IsAllowed("O=QEMU,CN=good"));
  EXPECT_TRUE(acl.IsAllowed("CN=exact"));
  EXPECT_FALSE(acl.IsAllowed("CN=exactly"));
  EXPECT_TRUE(AuthzList(true, {}).IsAllowed("anyone"));
}

// ---- x509, with certificates from certtool ---------------------------------------------------

class TlsX509Test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::system("certtool --version >/dev/null 2>&1") != 0) {
      return;
    }
    dir_ = new TempDir();  // NOLINT: suite-lifetime fixture
    const std::string d = dir_->path();
    auto run = [&](const std::string& args, const std::string& tmpl) {
      WriteFile(d + "/t.cfg", tmpl);
      return ::system(("cd " + d + " && certtool " + args + " --template t.cfg >/dev/null 2>&1")
                          .c_str()) == 0;
    };
    auto key = [&](const std::string& name) {
      return ::system(("cd " + d +
                       " && certtool --generate-privkey --key-type=ecdsa "
                       "--outfile " +
                       name + " >/dev/null 2>&1")
                          .c_str()) == 0;
    };
    const std::string issue = " --load-ca-certificate ca-cert.pem --load-ca-privkey ca-key.pem ";
    ok_ = key("ca-key.pem") &&
          run("--generate-self-signed --load-privkey ca-key.pem --outfile ca-cert.pem",
              "cn = \"ca\"\nca\ncert_signing_key\nexpiration_days = 2\n") &&
          key("server-key.pem") &&
          run("--generate-certificate --load-privkey server-key.pem --outfile server-cert.pem" +
                  issue,
              "cn = \"srv\"\ndns_name = \"localhost\"\ntls_www_server\nsigning_key\n"
              "encryption_key\nexpiration_days = 2\n") &&
          key("client-key.pem") &&
          run("--generate-certificate --load-privkey client-key.pem --outfile client-cert.pem" +
                  issue,
              "cn = \"qemu-client\"\norganization = \"QEMU\"\ntls_www_client\nsigning_key\n"
              "expiration_days = 2\n");
  }
  static void TearDownTestSuite() {
    delete dir_;  // NOLINT
    dir_ = nullptr;
  }
  void SetUp() override {
    if (!ok_) {
      GTEST_SKIP() << "certtool (gnutls-bin) is needed to make test certificates";
    }
  }
  static std::shared_ptr<const TlsCreds> X509(TlsEndpoint endpoint, bool verify = true) {
    TlsCredsConfig c;
    c.dir = dir_->path();
    c.endpoint = endpoint;
    c.verify_peer = verify;
    return Load(c);
  }
  static TempDir* dir_;
  static bool ok_;
};

TempDir* TlsX509Test::dir_ = nullptr;
bool TlsX509Test::ok_ = false;

TEST_F(TlsX509Test, HostnameIsChecked) {
  Pair ok = Handshake(X509(TlsEndpoint::kClient), Client("localhost"), X509(TlsEndpoint::kServer),
                      Server());
  ASSERT_TRUE(ok.client.ok()) << ok.client.status();
  ASSERT_TRUE(ok.server.ok()) << ok.server.status();
  EXPECT_EQ((*ok.server)->peer_name(), "O=QEMU,CN=qemu-client");

  Pair wrong = Handshake(X509(TlsEndpoint::kClient), Client("other.example"),
                         X509(TlsEndpoint::kServer), Server());
  EXPECT_EQ(wrong.client.status().message(),
            "Certificate does not match the hostname other.example");
  Pair none =
      Handshake(X509(TlsEndpoint::kClient), Client(""), X509(TlsEndpoint::kServer), Server());
  EXPECT_EQ(none.client.status().message(), "No hostname for certificate validation");
}

TEST_F(TlsX509Test, AuthzDecidesOnTheClientName) {
  TlsSessionParams deny = Server();
  AuthzList acl(false, {{"O=QEMU,CN=someone-else", true, false}});
  deny.authz = [&acl](const std::string& dn) -> absl::StatusOr<bool> { return acl.IsAllowed(dn); };
  Pair p =
      Handshake(X509(TlsEndpoint::kClient), Client("localhost"), X509(TlsEndpoint::kServer), deny);
  EXPECT_EQ(p.server.status().message(),
            "TLS x509 authz check for O=QEMU,CN=qemu-client is denied");

  TlsSessionParams missing = Server();
  missing.authz = [](const std::string&) -> absl::StatusOr<bool> {
    return absl::NotFoundError("Cannot find QAuthZ object ID auth0");
  };
  p = Handshake(X509(TlsEndpoint::kClient), Client("localhost"), X509(TlsEndpoint::kServer),
                missing);
  EXPECT_EQ(p.server.status().message(), "Cannot find QAuthZ object ID auth0");
}

TEST_F(TlsX509Test, ClientsWithoutACertificateNeedAServerThatDoesNotVerify) {
  TempDir anon;
  std::filesystem::copy_file(dir_->File("ca-cert.pem"), anon.File("ca-cert.pem"));
  TlsCredsConfig c;
  c.dir = anon.path();
  std::shared_ptr<const TlsCreds> anon_client = Load(c);
  Pair rejected = Handshake(anon_client, Client("localhost"), X509(TlsEndpoint::kServer), Server());
  EXPECT_EQ(rejected.server.status().message(), "Verify failed: No certificate was found.");
  Pair allowed = Handshake(anon_client, Client("localhost"),
                           X509(TlsEndpoint::kServer, /*verify=*/false), Server());
  EXPECT_TRUE(allowed.client.ok()) << allowed.client.status();
  EXPECT_TRUE(allowed.server.ok()) << allowed.server.status();
}

TEST_F(TlsX509Test, SanityCheckRefusesACaFileThatIsNotACa) {
  TempDir bad;
  std::filesystem::copy_file(dir_->File("client-cert.pem"), bad.File("ca-cert.pem"));
  std::filesystem::copy_file(dir_->File("server-cert.pem"), bad.File("server-cert.pem"));
  std::filesystem::copy_file(dir_->File("server-key.pem"), bad.File("server-key.pem"));
  TlsCredsConfig c;
  c.dir = bad.path();
  c.endpoint = TlsEndpoint::kServer;
  absl::StatusOr<std::shared_ptr<const TlsCreds>> creds = TlsCreds::Load(c);
  ASSERT_FALSE(creds.ok());
  EXPECT_EQ(creds.status().message(), absl::StrCat("The certificate ", bad.File("ca-cert.pem"),
                                                   " basic constraints do not show a CA"));
  c.sanity_check = false;
  EXPECT_TRUE(TlsCreds::Load(c).ok());
}

}  // namespace
}  // namespace migemu::io
