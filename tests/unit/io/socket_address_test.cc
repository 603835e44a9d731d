#include "io/socket_address.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace migemu::io {
namespace {

using ::testing::Eq;

std::string Err(const absl::Status& s) { return std::string(s.message()); }

// Every expected text below was produced by qemu-system-x86_64 7.2 (QMP `migrate` /
// `migrate-incoming` / -qmp) on this machine.

TEST(ParseInetAddressTest, AcceptsHostPortForms) {
  auto a = ParseInetAddress("127.0.0.1:4444");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, "4444");
  EXPECT_FALSE(a->ipv4.has_value());

  auto v6 = ParseInetAddress("[::1]:5555");
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, "5555");

  auto any = ParseInetAddress(":0");
  ASSERT_TRUE(any.ok()) << any.status();
  EXPECT_EQ(any->host, "");
  EXPECT_EQ(any->port, "0");

  // The port is everything up to the first ',' (colons included), as sscanf("%32[^,]") takes.
  auto odd = ParseInetAddress("a:b:c");
  ASSERT_TRUE(odd.ok()) << odd.status();
  EXPECT_EQ(odd->host, "a");
  EXPECT_EQ(odd->port, "b:c");

  auto svc = ParseInetAddress("localhost:http");
  ASSERT_TRUE(svc.ok());
  EXPECT_EQ(svc->port, "http");
}

TEST(ParseInetAddressTest, ParsesOptions) {
  auto a = ParseInetAddress("host:1,to=9,ipv4,ipv6=off,keep-alive=on,mptcp");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->to, 9);
  EXPECT_EQ(a->ipv4, true);
  EXPECT_EQ(a->ipv6, false);
  EXPECT_EQ(a->keep_alive, true);
  EXPECT_EQ(a->mptcp, true);
}

TEST(ParseInetAddressTest, RejectsWithQemuTexts) {
  EXPECT_THAT(Err(ParseInetAddress("foo").status()), Eq("error parsing address 'foo'"));
  EXPECT_THAT(Err(ParseInetAddress("").status()), Eq("error parsing address ''"));
  EXPECT_THAT(Err(ParseInetAddress("host:").status()), Eq("error parsing address 'host:'"));
  EXPECT_THAT(Err(ParseInetAddress("[::1").status()), Eq("error parsing IPv6 address '[::1'"));
  EXPECT_THAT(Err(ParseInetAddress("[::1]").status()), Eq("error parsing IPv6 address '[::1]'"));
  EXPECT_THAT(Err(ParseInetAddress("[]:1").status()), Eq("error parsing IPv6 address '[]:1'"));
  EXPECT_THAT(Err(ParseInetAddress(":").status()), Eq("error parsing port in address ':'"));
  EXPECT_THAT(Err(ParseInetAddress("h:1,to=x").status()), Eq("error parsing to= argument"));
  EXPECT_THAT(Err(ParseInetAddress("h:1,to=5x").status()), Eq("error parsing to= argument"));
  EXPECT_THAT(Err(ParseInetAddress("127.0.0.1:1,ipv4=maybe").status()),
              Eq("error parsing 'ipv4' flag '=maybe'"));
  EXPECT_THAT(Err(ParseInetAddress("127.0.0.1:1,ipv4=on,,x").status()),
              Eq("error parsing 'ipv4' flag '=on,,x'"));
  // A host longer than 64 characters never reaches the ':'.
  EXPECT_THAT(Err(ParseInetAddress(std::string(65, 'h') + ":1").status()),
              Eq("error parsing address '" + std::string(65, 'h') + ":1'"));
  EXPECT_TRUE(ParseInetAddress(std::string(64, 'h') + ":1").ok());
}

TEST(ParseSocketAddressTest, Prefixes) {
  auto u = ParseSocketAddress("unix:/tmp/sock");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(std::get<UnixSocketAddress>(*u).path, "/tmp/sock");

  auto f = ParseSocketAddress("fd:mon0");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(std::get<FdSocketAddress>(*f).str, "mon0");

  auto v = ParseSocketAddress("vsock:2:1234");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(std::get<VsockSocketAddress>(*v), (VsockSocketAddress{"2", "1234"}));

  auto t = ParseSocketAddress("tcp:h:1");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(std::get<InetSocketAddress>(*t).host, "h");
  auto bare = ParseSocketAddress("h:1");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(*bare, *t);

  EXPECT_THAT(Err(ParseSocketAddress("unix:").status()), Eq("invalid Unix socket address"));
  EXPECT_THAT(Err(ParseSocketAddress("fd:").status()), Eq("invalid file descriptor address"));
  EXPECT_THAT(Err(ParseSocketAddress("vsock:x").status()), Eq("error parsing address 'x'"));
  EXPECT_THAT(Err(ParseSocketAddress("vsock:1:2,foo").status()),
              Eq("trailing characters in address '1:2,foo'"));
}

TEST(ParseSocketAddressTest, ToStringIsSocketUri) {
  EXPECT_EQ(SocketAddressToString(*ParseSocketAddress("tcp:[::1]:4")), "tcp:::1:4");
  EXPECT_EQ(SocketAddressToString(*ParseSocketAddress("unix:/a")), "unix:/a");
  EXPECT_EQ(SocketAddressToString(*ParseSocketAddress("fd:x")), "fd:x");
  EXPECT_EQ(SocketAddressToString(*ParseSocketAddress("vsock:3:4")), "vsock:3:4");
}

TEST(ParseMigrationUriTest, DispatchesLikeQmpMigrate) {
  auto tcp = ParseMigrationUri("tcp:127.0.0.1:4444", UriDirection::kOutgoing);
  ASSERT_TRUE(tcp.ok());
  EXPECT_EQ(std::get<InetSocketAddress>(std::get<SocketAddress>(*tcp)).port, "4444");

  auto un = ParseMigrationUri("unix:/tmp/m.sock", UriDirection::kIncoming);
  ASSERT_TRUE(un.ok());
  EXPECT_EQ(std::get<UnixSocketAddress>(std::get<SocketAddress>(*un)).path, "/tmp/m.sock");

  auto ex = ParseMigrationUri("exec:cat > /tmp/f", UriDirection::kOutgoing);
  ASSERT_TRUE(ex.ok());
  EXPECT_EQ(std::get<ExecUri>(*ex).command, "cat > /tmp/f");

  auto empty_exec = ParseMigrationUri("exec:", UriDirection::kOutgoing);
  ASSERT_TRUE(empty_exec.ok());
  EXPECT_EQ(std::get<ExecUri>(*empty_exec).command, "");

  auto fd = ParseMigrationUri("fd:3", UriDirection::kIncoming);
  ASSERT_TRUE(fd.ok());
  EXPECT_EQ(std::get<FdUri>(*fd).name, "3");

  // "tcp:" hands the rest to socket_parse(), which honours its own prefixes.
  auto nested = ParseMigrationUri("tcp:unix:/p", UriDirection::kOutgoing);
  ASSERT_TRUE(nested.ok());
  EXPECT_EQ(std::get<UnixSocketAddress>(std::get<SocketAddress>(*nested)).path, "/p");
}

TEST(ParseMigrationUriTest, RejectsWithQemuTexts) {
  EXPECT_THAT(Err(ParseMigrationUri("tcp:foo", UriDirection::kOutgoing).status()),
              Eq("error parsing address 'foo'"));
  EXPECT_THAT(Err(ParseMigrationUri("tcp:[::1", UriDirection::kOutgoing).status()),
              Eq("error parsing IPv6 address '[::1'"));
  EXPECT_THAT(Err(ParseMigrationUri("tcp::", UriDirection::kOutgoing).status()),
              Eq("error parsing port in address ':'"));
  EXPECT_THAT(Err(ParseMigrationUri("unix:", UriDirection::kOutgoing).status()),
              Eq("invalid Unix socket address"));
  EXPECT_THAT(Err(ParseMigrationUri("vsock:1:2,foo", UriDirection::kOutgoing).status()),
              Eq("trailing characters in address '1:2,foo'"));
  EXPECT_THAT(Err(ParseMigrationUri("bogus:1", UriDirection::kOutgoing).status()),
              Eq("Parameter 'uri' expects a valid migration protocol"));
  EXPECT_THAT(Err(ParseMigrationUri("foo:1234", UriDirection::kOutgoing).status()),
              Eq("Parameter 'uri' expects a valid migration protocol"));
  EXPECT_THAT(Err(ParseMigrationUri("bogus:", UriDirection::kIncoming).status()),
              Eq("unknown migration protocol: bogus:"));
  EXPECT_THAT(Err(ParseMigrationUri("tcp:foo", UriDirection::kIncoming).status()),
              Eq("error parsing address 'foo'"));
}

TEST(ParseChardevSocketTest, TcpAndUnixServers) {
  auto t = ParseChardevSocket("tcp:127.0.0.1:4444,server=on,wait=off");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_TRUE(t->server);
  EXPECT_FALSE(t->wait);
  EXPECT_EQ(std::get<InetSocketAddress>(t->addr).host, "127.0.0.1");
  EXPECT_EQ(std::get<InetSocketAddress>(t->addr).port, "4444");

  auto u = ParseChardevSocket("unix:/tmp/qmp.sock,server=on,wait=off");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_TRUE(u->server);
  EXPECT_FALSE(u->wait);
  EXPECT_EQ(std::get<UnixSocketAddress>(u->addr).path, "/tmp/qmp.sock");

  // Flags without values, the "no" prefix, ",," escapes and an empty host.
  auto f = ParseChardevSocket("tcp::0,server,nowait,nodelay");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_TRUE(f->server);
  EXPECT_FALSE(f->wait);
  EXPECT_EQ(f->nodelay, true);
  EXPECT_EQ(std::get<InetSocketAddress>(f->addr).host, "");

  auto esc = ParseChardevSocket("unix:/tmp/a,,b,server=on");
  ASSERT_TRUE(esc.ok()) << esc.status();
  EXPECT_EQ(std::get<UnixSocketAddress>(esc->addr).path, "/tmp/a,b");

  auto client = ParseChardevSocket("tcp:localhost:4444");
  ASSERT_TRUE(client.ok());
  EXPECT_FALSE(client->server);
  EXPECT_TRUE(client->wait);
}

TEST(ParseChardevSocketTest, RejectsWithQemuTexts) {
  EXPECT_THAT(Err(ParseChardevSocket("tcp:foo").status()), Eq("parse error: tcp:foo"));
  EXPECT_THAT(Err(ParseChardevSocket("tcp::").status()), Eq("parse error: tcp::"));
  EXPECT_THAT(Err(ParseChardevSocket("tcp:127.0.0.1").status()), Eq("parse error: tcp:127.0.0.1"));
  EXPECT_THAT(Err(ParseChardevSocket("tcp:host:").status()), Eq("parse error: tcp:host:"));
  EXPECT_THAT(Err(ParseChardevSocket("bogus:1").status()),
              Eq("'bogus:1' is not a valid char driver\nparse error: bogus:1"));
  EXPECT_THAT(
      Err(ParseChardevSocket("tcp:127.0.0.1:0,server=on,wait=off,foo=bar").status()),
      Eq("Invalid parameter 'foo'\nparse error: tcp:127.0.0.1:0,server=on,wait=off,foo=bar"));
  EXPECT_THAT(Err(ParseChardevSocket("tcp:127.0.0.1:0,server=maybe,wait=off").status()),
              Eq("Parameter 'server' expects 'on' or 'off'\nparse error: "
                 "tcp:127.0.0.1:0,server=maybe,wait=off"));
  // ",," escapes a comma in the value: "off,x" is not a boolean.
  EXPECT_THAT(Err(ParseChardevSocket("tcp:127.0.0.1:0,server=on,wait=off,,x").status()),
              Eq("Parameter 'wait' expects 'on' or 'off'\nparse error: "
                 "tcp:127.0.0.1:0,server=on,wait=off,,x"));
  EXPECT_THAT(Err(ParseChardevSocket("unix:").status()), Eq("Unable to parse FD number "));
  EXPECT_THAT(Err(ParseChardevSocket("unix:/a,host=b").status()),
              Eq("None or one of 'path', 'fd' or 'host' option required."));
  EXPECT_THAT(Err(ParseChardevSocket("tcp:h:1,delay=on,nodelay=on").status()),
              Eq("'delay' and 'nodelay' are mutually exclusive"));
  // As a short flag "nodelay" is "delay=off" (the "no" prefix), so this is not a conflict.
  auto flags = ParseChardevSocket("tcp:h:1,delay,nodelay");
  ASSERT_TRUE(flags.ok()) << flags.status();
  EXPECT_EQ(flags->nodelay, true);
  EXPECT_THAT(Err(ParseChardevSocket("tcp:h:1,reconnect=x").status()),
              Eq("Parameter 'reconnect' expects a number\nparse error: tcp:h:1,reconnect=x"));
}

TEST(ParseChardevSocketTest, IPv6ThroughCompatSyntaxKeepsQemuQuirk) {
  // qemu_chr_parse_compat() splits at the first ':' even inside brackets; QEMU then fails
  // resolving host "[" port ":1" ("address resolution failed for [::1: ...").
  auto a = ParseChardevSocket("tcp:[::1");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(std::get<InetSocketAddress>(a->addr).host, "[");
  EXPECT_EQ(std::get<InetSocketAddress>(a->addr).port, ":1");
}

}  // namespace
}  // namespace migemu::io
