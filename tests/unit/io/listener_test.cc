#include "io/listener.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <set>
#include <stop_token>
#include <string>
#include <vector>

#include "tests/unit/io/test_util.h"
#include "util/event_loop.h"

namespace migemu::io {
namespace {

using test_util::Inet;
using test_util::PortOf;
using test_util::TempDir;

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

TEST(ListenerTest, PortZeroReportsTheBoundAddress) {
  auto l = Listener::Listen(Inet("127.0.0.1", "0"));
  ASSERT_TRUE(l.ok()) << l.status();
  ASSERT_EQ((*l)->addresses().size(), 1u);
  const auto& a = std::get<InetSocketAddress>((*l)->addresses()[0]);
  EXPECT_EQ(a.host, "127.0.0.1");
  EXPECT_NE(a.port, "0");
  EXPECT_EQ(a.ipv4, true);  // as QEMU's query-migrate shows it
  EXPECT_FALSE(a.ipv6.has_value());
}

TEST(ListenerTest, EmptyHostListensOnEveryResolvedFamily) {
  auto l = Listener::Listen(Inet("", "0"));
  ASSERT_TRUE(l.ok()) << l.status();
  ASSERT_GE((*l)->addresses().size(), 1u);
  std::set<std::string> hosts;
  for (const SocketAddress& a : (*l)->addresses()) {
    const auto& inet = std::get<InetSocketAddress>(a);
    EXPECT_NE(inet.port, "0");
    hosts.insert(inet.host);
  }
  EXPECT_TRUE(hosts.count("0.0.0.0") == 1 || hosts.count("::") == 1);
  // Every listening socket accepts.
  for (const SocketAddress& a : (*l)->addresses()) {
    const auto& inet = std::get<InetSocketAddress>(a);
    std::string host = inet.host == "::" ? "::1" : "127.0.0.1";
    auto c = SocketChannel::Connect(Inet(host, inet.port));
    ASSERT_TRUE(c.ok()) << c.status();
    auto s = (*l)->AcceptBlocking();
    ASSERT_TRUE(s.ok()) << s.status();
  }
}

TEST(ListenerTest, AcceptsAMainChannelPlusSeveralMore) {
  auto l = Listener::Listen(Inet("127.0.0.1", "0"), /*backlog=*/4);
  ASSERT_TRUE(l.ok()) << l.status();
  const std::string port = PortOf((*l)->addresses()[0]);
  std::vector<std::unique_ptr<SocketChannel>> clients;
  for (int i = 0; i < 5; ++i) {
    auto c = SocketChannel::Connect(Inet("127.0.0.1", port));
    ASSERT_TRUE(c.ok()) << c.status();
    char id = static_cast<char>('0' + i);
    ASSERT_TRUE((*c)->WriteAll(&id, 1).ok());
    clients.push_back(std::move(*c));
  }
  std::set<char> ids;
  for (int i = 0; i < 5; ++i) {
    auto s = (*l)->AcceptBlocking();
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ((*s)->origin(), SocketChannel::Origin::kAccepted);
    EXPECT_FALSE((*s)->HasFeature(Feature::kZeroCopySend));
    char id = 0;
    ASSERT_TRUE((*s)->ReadAll(&id, 1).ok());
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 5u);
  auto none = (*l)->Accept();
  ASSERT_FALSE(none.ok());
  EXPECT_TRUE(IsWouldBlock(none.status()));
}

TEST(ListenerTest, ErrorsUseQemuTexts) {
  auto first = Listener::Listen(Inet("127.0.0.1", "0"));
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string port = PortOf((*first)->addresses()[0]);
  EXPECT_EQ(Msg(Listener::Listen(Inet("127.0.0.1", port)).status()),
            "Failed to find an available port: Address already in use");
  EXPECT_EQ(Msg(Listener::Listen(Inet("1.2.3.4", "5555")).status()),
            "Failed to bind socket: Cannot assign requested address");
  EXPECT_EQ(Msg(Listener::Listen(Inet("127.0.0.1", "abc")).status()),
            "address resolution failed for 127.0.0.1:abc: Servname not supported for ai_socktype");
  EXPECT_EQ(Msg(Listener::Listen(UnixSocketAddress{"/nonexistent/x", {}, {}}).status()),
            "Failed to bind socket to /nonexistent/x: No such file or directory");
  std::string longpath = "/tmp/" + std::string(120, 'z');
  EXPECT_EQ(Msg(Listener::Listen(UnixSocketAddress{longpath, {}, {}}).status()),
            "UNIX socket path '" + longpath + "' is too long");
}

TEST(ListenerTest, ToSearchesTheNextFreePort) {
  auto busy = Listener::Listen(Inet("127.0.0.1", "0"));
  ASSERT_TRUE(busy.ok()) << busy.status();
  const int port = std::stoi(PortOf((*busy)->addresses()[0]));
  if (port > 65000) {
    GTEST_SKIP() << "ephemeral port too close to the top of the range";
  }
  InetSocketAddress range = Inet("127.0.0.1", std::to_string(port));
  range.to = port + 20;
  auto l = Listener::Listen(range);
  ASSERT_TRUE(l.ok()) << l.status();
  const int got = std::stoi(PortOf((*l)->addresses()[0]));
  EXPECT_GT(got, port);
  EXPECT_LE(got, port + 20);
}

TEST(ListenerTest, UnixSocketFileIsReplacedAndUnlinkedOnClose) {
  TempDir dir;
  const std::string path = dir.File("mig.sock");
  // A stale file of that name is replaced, as QEMU's unix_listen_saddr() does.
  {
    FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fclose(f);
  }
  auto l = Listener::Listen(UnixSocketAddress{path, {}, {}});
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(std::get<UnixSocketAddress>((*l)->addresses()[0]).path, path);
  auto c = SocketChannel::Connect(UnixSocketAddress{path, {}, {}});
  ASSERT_TRUE(c.ok()) << c.status();
  auto s = (*l)->AcceptBlocking();
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE((*s)->HasFeature(Feature::kFdPass));
  EXPECT_EQ((*s)->Name(), "unix:" + path);
  EXPECT_TRUE(Exists(path));
  EXPECT_TRUE((*l)->Close().ok());
  EXPECT_FALSE(Exists(path));
  EXPECT_TRUE((*l)->Close().ok());
}

TEST(ListenerTest, UnixEmptyPathGetsATemporaryName) {
  auto l = Listener::Listen(UnixSocketAddress{"", {}, {}});
  ASSERT_TRUE(l.ok()) << l.status();
  const std::string path = std::get<UnixSocketAddress>((*l)->addresses()[0]).path;
  EXPECT_NE(path.find("qemu-socket-"), std::string::npos) << path;
  EXPECT_TRUE(Exists(path));
  (void)(*l)->Close();
  EXPECT_FALSE(Exists(path));
}

TEST(ListenerTest, AbstractUnixSocket) {
  UnixSocketAddress ua{"migemu-test-" + std::to_string(::getpid()), true, {}};
  auto l = Listener::Listen(ua);
  ASSERT_TRUE(l.ok()) << l.status();
  const auto& bound = std::get<UnixSocketAddress>((*l)->addresses()[0]);
  EXPECT_EQ(bound.path, ua.path);
  EXPECT_EQ(bound.abstract, true);
  auto c = SocketChannel::Connect(ua);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE((*l)->AcceptBlocking().ok());
}

TEST(ListenerTest, AcceptBlockingIsCancellable) {
  auto l = Listener::Listen(Inet("127.0.0.1", "0"));
  ASSERT_TRUE(l.ok()) << l.status();
  std::stop_source stop;
  auto accept =
      std::async(std::launch::async, [&] { return (*l)->AcceptBlocking(stop.get_token()); });
  EXPECT_EQ(accept.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout);
  stop.request_stop();
  ASSERT_EQ(accept.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  auto r = accept.get();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled);
}

TEST(ListenerTest, WatchAcceptsOnTheEventLoop) {
  auto loop = util::EventLoop::Create();
  ASSERT_TRUE(loop.ok()) << loop.status();
  auto l = Listener::Listen(Inet("127.0.0.1", "0"), 4);
  ASSERT_TRUE(l.ok()) << l.status();
  const std::string port = PortOf((*l)->addresses()[0]);
  std::vector<std::unique_ptr<SocketChannel>> accepted;
  (*l)->Watch(**loop, [&](absl::StatusOr<std::unique_ptr<SocketChannel>> ch) {
    ASSERT_TRUE(ch.ok()) << ch.status();
    EXPECT_TRUE((*loop)->IsLoopThread());
    accepted.push_back(std::move(*ch));
    if (accepted.size() == 3) {
      // The callback may drop the listener (the destination stops listening once it has all
      // its channels).
      l->reset();
      (*loop)->Quit();
    }
  });
  std::vector<std::unique_ptr<SocketChannel>> clients;
  std::thread connector([&] {
    for (int i = 0; i < 3; ++i) {
      auto c = SocketChannel::Connect(Inet("127.0.0.1", port));
      ASSERT_TRUE(c.ok()) << c.status();
      clients.push_back(std::move(*c));
    }
  });
  (*loop)->Run();
  connector.join();
  EXPECT_EQ(accepted.size(), 3u);
  EXPECT_EQ(*l, nullptr);
}

}  // namespace
}  // namespace migemu::io
