#include "io/socket_channel.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <limits.h>
#include <linux/capability.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <future>
#include <iostream>
#include <stop_token>
#include <thread>
#include <vector>

#include "io/errors.h"
#include "io/listener.h"
#include "tests/unit/io/test_util.h"

namespace migemu::io {
namespace {

using test_util::Inet;
using test_util::MakeTcpPair;
using test_util::PortOf;
using test_util::RandomBytes;
using test_util::TcpPair;
using test_util::TempDir;
using ::testing::AnyOf;
using ::testing::Eq;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr size_t kPage = 4096;
constexpr size_t kBatch = 128;  // pages per multifd packet

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

// Reads exactly `n` bytes on a thread; the future yields them (or the error text).
std::future<absl::StatusOr<std::vector<uint8_t>>> ReadAsync(Channel& ch, size_t n) {
  return std::async(std::launch::async, [&ch, n]() -> absl::StatusOr<std::vector<uint8_t>> {
    std::vector<uint8_t> buf(n);
    absl::Status s = ch.ReadAll(buf.data(), buf.size());
    if (!s.ok()) {
      return s;
    }
    return buf;
  });
}

// Skips the test (saying why) when the kernel refuses SO_ZEROCOPY on TCP.
#define REQUIRE_ZERO_COPY(channel)                                                 \
  do {                                                                             \
    absl::Status zc = (channel).EnableZeroCopy();                                  \
    if (!zc.ok()) {                                                                \
      GTEST_SKIP() << "kernel lacks SO_ZEROCOPY for TCP (" << zc.message() << ")"; \
    }                                                                              \
  } while (false)

TEST(SocketChannelTest, TcpRoundTripOfLargeRandomBuffersThroughManyIovecs) {
  auto p = MakeTcpPair();
  ASSERT_TRUE(p.ok()) << p.status();
  const std::vector<uint8_t> data = RandomBytes(24 << 20, 7);
  auto reader = ReadAsync(*p->server, data.size());

  // Irregular iovec sizes (1 byte .. 64 KiB), several hundred per call.
  std::mt19937 rng(3);
  size_t off = 0;
  while (off < data.size()) {
    std::vector<iovec> iov;
    for (int i = 0; i < 300 && off < data.size(); ++i) {
      size_t len = std::min<size_t>(1 + rng() % 65536, data.size() - off);
      iov.push_back(iovec{const_cast<uint8_t*>(data.data() + off), len});
      off += len;
    }
    ASSERT_TRUE(p->client->WritevAll(iov).ok());
  }
  auto got = reader.get();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(*got == data);
  EXPECT_EQ(p->client->Stats().bytes_written, data.size());
  EXPECT_EQ(p->server->Stats().bytes_read, data.size());
  EXPECT_EQ(p->client->Stats().zero_copy_calls, 0u);
}

TEST(SocketChannelTest, MoreIovecsThanIovMaxArriveInOrder) {
  auto p = MakeTcpPair();
  ASSERT_TRUE(p.ok()) << p.status();
  const size_t count = 3 * IOV_MAX + 17;
  std::vector<uint8_t> data = RandomBytes(count * 3, 11);
  std::vector<iovec> iov;
  for (size_t i = 0; i < count; ++i) {
    iov.push_back(iovec{data.data() + 3 * i, 3});
  }
  // One Writev call takes at most IOV_MAX entries (a partial write, never EMSGSIZE).
  auto n = p->client->Writev(iov, kWriteNone);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_LE(*n, static_cast<size_t>(IOV_MAX) * 3);
  auto reader = ReadAsync(*p->server, data.size());
  std::vector<iovec> rest = iov;
  size_t skip = *n;
  // Finish the remainder with WritevAll, starting after the bytes already written.
  std::vector<iovec> tail;
  for (const iovec& v : rest) {
    if (skip >= v.iov_len) {
      skip -= v.iov_len;
      continue;
    }
    tail.push_back(iovec{static_cast<char*>(v.iov_base) + skip, v.iov_len - skip});
    skip = 0;
  }
  ASSERT_TRUE(p->client->WritevAll(tail).ok());
  auto got = reader.get();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(*got == data);
}

TEST(SocketChannelTest, NonBlockingWritesArePartialThenWouldBlockThenComplete) {
  auto p = MakeTcpPair();
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_TRUE(p->client->SetBlocking(false).ok());
  // Far more than both socket buffers hold while nobody reads.
  const std::vector<uint8_t> data = RandomBytes(96 << 20, 5);
  size_t off = 0;
  bool saw_partial = false;
  bool saw_would_block = false;
  while (off < data.size()) {
    iovec v{const_cast<uint8_t*>(data.data() + off), data.size() - off};
    auto n = p->client->Writev({&v, 1}, kWriteNone);
    if (!n.ok()) {
      ASSERT_TRUE(IsWouldBlock(n.status())) << n.status();
      EXPECT_EQ(Msg(n.status()), "would block");
      saw_would_block = true;
      break;
    }
    if (*n < v.iov_len) {
      saw_partial = true;
    }
    off += *n;
  }
  EXPECT_TRUE(saw_partial);
  ASSERT_TRUE(saw_would_block);
  // WritevAll in non-blocking mode waits for writability itself.
  auto reader = ReadAsync(*p->server, data.size());
  iovec rest{const_cast<uint8_t*>(data.data() + off), data.size() - off};
  ASSERT_TRUE(p->client->WritevAll({&rest, 1}).ok());
  auto got = reader.get();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(*got == data);
}

TEST(SocketChannelTest, NonBlockingReadWouldBlockAndReadvAllWaits) {
  auto p = MakeTcpPair();
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_TRUE(p->server->SetBlocking(false).ok());
  char c;
  iovec v{&c, 1};
  auto n = p->server->Readv({&v, 1});
  ASSERT_FALSE(n.ok());
  EXPECT_TRUE(IsWouldBlock(n.status()));
  std::thread writer([&] { ASSERT_TRUE(p->client->WriteAll("abcdef", 6).ok()); });
  char buf[6];
  ASSERT_TRUE(p->server->ReadAll(buf, 6).ok());
  writer.join();
  EXPECT_EQ(std::string(buf, 6), "abcdef");
}

TEST(SocketChannelTest, EofBeforeFirstByteAndInTheMiddle) {
  auto p = MakeTcpPair();
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_TRUE(p->client->WriteAll("abc", 3).ok());
  ASSERT_TRUE(p->client->Close().ok());
  char buf[8];
  iovec v{buf, sizeof(buf)};
  auto partial = p->server->ReadvAll({&v, 1});
  ASSERT_FALSE(partial.ok());
  EXPECT_EQ(partial.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(Msg(partial.status()), "Unexpected end-of-file before all data were read");
  auto clean = p->server->ReadvAll({&v, 1});
  ASSERT_TRUE(clean.ok()) << clean.status();
  EXPECT_FALSE(*clean);  // EOF before the first byte
  EXPECT_EQ(Msg(p->server->ReadAll(buf, 1)), "Unexpected end-of-file before all data were read");
}

TEST(SocketChannelTest, ZeroCopyWithoutTheFeatureIsAnErrorNotACopy) {
  auto p = MakeTcpPair();
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_FALSE(p->client->HasFeature(Feature::kZeroCopySend));
  std::vector<uint8_t> page(kPage, 1);
  auto s = p->client->WriteAll(page.data(), page.size(), kWriteZeroCopy);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Msg(s), "Requested Zero Copy feature is not available: Invalid argument");
  EXPECT_EQ(p->client->Stats().bytes_written, 0u);
  auto f = p->client->Flush();
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(*f, FlushResult::kNothingPending);
}

TEST(SocketChannelTest, ZeroCopyIsOnlyOfferedOnConnectedTcpSockets) {
  auto p = MakeTcpPair();
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(Msg(p->server->EnableZeroCopy()),
            "Zero copy send is only available on outgoing connections");
  EXPECT_FALSE(p->server->HasFeature(Feature::kZeroCopySend));

  // Unix sockets: the kernel refuses SO_ZEROCOPY (EOPNOTSUPP); reported as QEMU does.
  TempDir dir;
  UnixSocketAddress ua{dir.File("s"), {}, {}};
  auto l = Listener::Listen(ua);
  ASSERT_TRUE(l.ok()) << l.status();
  auto c = SocketChannel::Connect(ua);
  ASSERT_TRUE(c.ok()) << c.status();
  absl::Status s = (*c)->EnableZeroCopy();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Msg(s), "Zero copy send feature not detected in host kernel");
  EXPECT_FALSE((*c)->HasFeature(Feature::kZeroCopySend));
  EXPECT_TRUE((*c)->HasFeature(Feature::kFdPass));
  EXPECT_FALSE(p->client->HasFeature(Feature::kFdPass));
}

// The multifd pattern: header copied, pages zero-copy, flush at the sync point.
TEST(SocketChannelTest, ZeroCopyPagesArriveIntactAndFlushDetectsLoopbackCopies) {
  auto p = MakeTcpPair();
  ASSERT_TRUE(p.ok()) << p.status();
  REQUIRE_ZERO_COPY(*p->client);
  ASSERT_TRUE(p->client->HasFeature(Feature::kZeroCopySend));
  ASSERT_TRUE(p->client->SetNoDelay(true).ok());

  const size_t batches = 64;
  const std::vector<uint8_t> ram = RandomBytes(batches * kBatch * kPage, 21);
  std::vector<uint8_t> expected;
  auto reader = ReadAsync(*p->server, batches * (64 + kBatch * kPage));
  for (size_t b = 0; b < batches; ++b) {
    char header[64];
    std::memset(header, static_cast<int>(b), sizeof(header));
    ASSERT_TRUE(p->client->WriteAll(header, sizeof(header)).ok());
    expected.insert(expected.end(), header, header + sizeof(header));
    std::vector<iovec> pages;
    for (size_t i = 0; i < kBatch; ++i) {
      // Pages in a scrambled order, as dirty pages are.
      size_t page = (b * kBatch + (i * 37) % kBatch);
      pages.push_back(iovec{const_cast<uint8_t*>(ram.data() + page * kPage), kPage});
      expected.insert(expected.end(), ram.begin() + page * kPage, ram.begin() + (page + 1) * kPage);
    }
    ASSERT_TRUE(p->client->WritevAll(pages, kWriteZeroCopy).ok());
  }
  auto flushed = p->client->Flush();
  ASSERT_TRUE(flushed.ok()) << flushed.status();
  ChannelStats s = p->client->Stats();
  EXPECT_GE(s.zero_copy_calls, batches);                // one per sendmsg, at least one per batch
  EXPECT_EQ(s.zero_copy_completed, s.zero_copy_calls);  // Flush waited for every id
  EXPECT_EQ(s.zero_copy_bytes, batches * kBatch * kPage);
  EXPECT_EQ(s.bytes_written, batches * (64 + kBatch * kPage));
  // Loopback delivery makes the kernel copy the pages: every completion says so, and the flush
  // reports it (QEMU counts this as dirty-sync-missed-zero-copy).
  EXPECT_EQ(s.zero_copy_copied, s.zero_copy_completed);
  EXPECT_EQ(*flushed, FlushResult::kAllCopied);
  EXPECT_EQ(s.zero_copy_flushes, 1u);
  EXPECT_EQ(s.zero_copy_flushes_all_copied, 1u);

  auto got = reader.get();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(*got == expected);

  // Nothing sent since: the next flush has nothing to wait for.
  auto again = p->client->Flush();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, FlushResult::kNothingPending);
}

TEST(SocketChannelTest, FlushWaitsForCompletionsOfSendsStillQueued) {
  auto p = MakeTcpPair();
  ASSERT_TRUE(p.ok()) << p.status();
  REQUIRE_ZERO_COPY(*p->client);
  // Fill the pipe while nobody reads: the last sends sit in the send queue, so their
  // completions cannot have arrived when Flush starts.
  ASSERT_TRUE(p->client->SetBlocking(false).ok());
  const std::vector<uint8_t> ram = RandomBytes(96 << 20, 9);
  size_t off = 0;
  while (off < ram.size()) {
    iovec v{const_cast<uint8_t*>(ram.data() + off), std::min<size_t>(512 << 10, ram.size() - off)};
    auto n = p->client->Writev({&v, 1}, kWriteZeroCopy);
    if (!n.ok()) {
      ASSERT_TRUE(IsWouldBlock(n.status())) << n.status();
      break;
    }
    off += *n;
  }
  ASSERT_LT(off, ram.size()) << "socket buffers never filled";
  const uint64_t queued = p->client->Stats().zero_copy_calls;
  ASSERT_LT(p->client->Stats().zero_copy_completed, queued);

  // Flush blocks until the reader drains the socket and the kernel completes every send.
  auto flush = std::async(std::launch::async, [&] { return p->client->Flush(); });
  auto got = ReadAsync(*p->server, off);
  auto r = flush.get();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, FlushResult::kAllCopied);
  EXPECT_GE(p->client->Stats().zero_copy_completed, queued);
  auto bytes = got.get();
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_TRUE(std::equal(bytes->begin(), bytes->end(), ram.begin()));
}

TEST(SocketChannelTest, FlushConcurrentWithAZeroCopyWriter) {
  auto p = MakeTcpPair();
  ASSERT_TRUE(p.ok()) << p.status();
  REQUIRE_ZERO_COPY(*p->client);
  const size_t batches = 400;
  const std::vector<uint8_t> ram = RandomBytes(16 << 20, 4);
  const size_t batch_bytes = kBatch * kPage;
  auto reader = ReadAsync(*p->server, batches * batch_bytes);
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (size_t b = 0; b < batches; ++b) {
      size_t base = (b * batch_bytes) % ram.size();
      iovec v{const_cast<uint8_t*>(ram.data() + base), batch_bytes};
      ASSERT_TRUE(p->client->WritevAll({&v, 1}, kWriteZeroCopy).ok());
    }
    done = true;
  });
  // The migration thread flushes while the send thread writes (as multifd does).
  int flushes = 0;
  while (!done) {
    auto r = p->client->Flush();
    ASSERT_TRUE(r.ok()) << r.status();
    ++flushes;
    std::this_thread::yield();
  }
  writer.join();
  auto last = p->client->Flush();
  ASSERT_TRUE(last.ok()) << last.status();
  ChannelStats s = p->client->Stats();
  EXPECT_EQ(s.zero_copy_completed, s.zero_copy_calls);
  auto got = reader.get();
  ASSERT_TRUE(got.ok()) << got.status();
  for (size_t b = 0; b < batches; ++b) {
    size_t base = (b * batch_bytes) % ram.size();
    ASSERT_EQ(std::memcmp(got->data() + b * batch_bytes, ram.data() + base, batch_bytes), 0)
        << "batch " << b;
  }
  EXPECT_GT(flushes, 0);
}

TEST(SocketChannelTest, WriterSeesPeerDeathMidStream) {
  auto p = MakeTcpPair();
  ASSERT_TRUE(p.ok()) << p.status();
  // The peer reads a little and then dies with unread data: the kernel resets the connection.
  auto reader = std::async(std::launch::async, [&] {
    char buf[4096];
    (void)p->server->ReadAll(buf, sizeof(buf));
    (void)p->server->Close();
  });
  const std::vector<uint8_t> data = RandomBytes(32 << 20, 1);
  absl::Status s;
  for (int i = 0; i < 64 && s.ok(); ++i) {
    s = p->client->WriteAll(data.data(), data.size());
  }
  reader.get();
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(Msg(s), AnyOf(Eq("Unable to write to socket: Connection reset by peer"),
                            Eq("Unable to write to socket: Broken pipe")));
}

TEST(SocketChannelTest, ZeroCopyWriterSeesPeerDeathAndFlushTerminates) {
  auto p = MakeTcpPair();
  ASSERT_TRUE(p.ok()) << p.status();
  REQUIRE_ZERO_COPY(*p->client);
  auto reader = std::async(std::launch::async, [&] {
    char buf[4096];
    (void)p->server->ReadAll(buf, sizeof(buf));
    (void)p->server->Close();
  });
  const std::vector<uint8_t> data = RandomBytes(64 << 20, 1);
  absl::Status s;
  for (int i = 0; i < 32 && s.ok(); ++i) {
    s = p->client->WriteAll(data.data(), data.size(), kWriteZeroCopy);
  }
  reader.get();
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(Msg(s), StartsWith("Unable to write to socket: "));
  // The reset freed every queued buffer: the flush must finish (ok or a socket error), not hang.
  auto f = p->client->Flush();
  if (!f.ok()) {
    EXPECT_THAT(Msg(f.status()), StartsWith("Error on socket: "));
  }
}

TEST(SocketChannelTest, ReaderSeesResetAsError) {
  auto p = MakeTcpPair();
  ASSERT_TRUE(p.ok()) << p.status();
  linger lg{1, 0};  // close() sends RST
  ASSERT_EQ(::setsockopt(p->client->fd(), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
  ASSERT_TRUE(p->client->WriteAll("xy", 2).ok());
  ASSERT_TRUE(p->client->Close().ok());
  char buf[16];
  absl::Status s = p->server->ReadAll(buf, sizeof(buf));
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(Msg(s), AnyOf(Eq("Unable to read from socket: Connection reset by peer"),
                            Eq("Unexpected end-of-file before all data were read")));
}

// ---- Shutdown from another thread -----------------------------------------------------------

struct ShutdownCase {
  const char* name;
  bool tcp;
  ShutdownDirection how;
};

class ShutdownTest : public ::testing::TestWithParam<ShutdownCase> {
 protected:
  void SetUp() override {
    if (GetParam().tcp) {
      auto p = MakeTcpPair();
      ASSERT_TRUE(p.ok()) << p.status();
      pair_ = std::move(*p);
      a_ = pair_.client.get();
      b_ = pair_.server.get();
    } else {
      auto p = SocketChannel::CreatePair();
      ASSERT_TRUE(p.ok()) << p.status();
      unix_a_ = std::move(p->first);
      unix_b_ = std::move(p->second);
      a_ = unix_a_.get();
      b_ = unix_b_.get();
    }
  }
  TcpPair pair_;
  std::unique_ptr<SocketChannel> unix_a_;
  std::unique_ptr<SocketChannel> unix_b_;
  SocketChannel* a_ = nullptr;  // shut down
  SocketChannel* b_ = nullptr;  // peer, never reads
};

TEST_P(ShutdownTest, UnblocksBlockedReader) {
  auto reader = std::async(std::launch::async, [&] {
    char buf[16];
    iovec v{buf, sizeof(buf)};
    return a_->ReadvAll({&v, 1});
  });
  // Give the reader time to block; the test holds whether or not it already has.
  EXPECT_EQ(reader.wait_for(std::chrono::milliseconds(100)), std::future_status::timeout);
  EXPECT_TRUE(a_->Shutdown(GetParam().how).ok());
  if (GetParam().how == ShutdownDirection::kWrite) {
    // A write shutdown leaves the reader alone; the read shutdown then ends it.
    EXPECT_EQ(reader.wait_for(std::chrono::milliseconds(100)), std::future_status::timeout);
    EXPECT_TRUE(a_->Shutdown(ShutdownDirection::kRead).ok());
  }
  ASSERT_EQ(reader.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  auto r = reader.get();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(*r);  // EOF
}

TEST_P(ShutdownTest, UnblocksBlockedWriter) {
  const std::vector<uint8_t> data = RandomBytes(128 << 20, 2);
  auto writer = std::async(std::launch::async, [&] {
    absl::Status s;
    while (s.ok()) {
      s = a_->WriteAll(data.data(), data.size());
    }
    return s;
  });
  EXPECT_EQ(writer.wait_for(std::chrono::milliseconds(100)), std::future_status::timeout);
  EXPECT_TRUE(a_->Shutdown(GetParam().how).ok());
  if (GetParam().how == ShutdownDirection::kRead) {
    // A read shutdown leaves the writer alone; the write shutdown then ends it.
    EXPECT_EQ(writer.wait_for(std::chrono::milliseconds(100)), std::future_status::timeout);
    EXPECT_TRUE(a_->Shutdown(ShutdownDirection::kWrite).ok());
  }
  ASSERT_EQ(writer.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(Msg(writer.get()), "Unable to write to socket: Broken pipe");
}

TEST_P(ShutdownTest, UnblocksNonBlockingWaits) {
  ASSERT_TRUE(a_->SetBlocking(false).ok());
  if (GetParam().how != ShutdownDirection::kWrite) {
    auto waiter = std::async(std::launch::async, [&] { return a_->WaitReadable(); });
    EXPECT_EQ(waiter.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout);
    EXPECT_TRUE(a_->Shutdown(GetParam().how).ok());
    ASSERT_EQ(waiter.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    EXPECT_TRUE(waiter.get().ok());
    char c;
    iovec v{&c, 1};
    auto n = a_->Readv({&v, 1});
    ASSERT_TRUE(n.ok()) << n.status();
    EXPECT_EQ(*n, 0u);
  } else {
    EXPECT_TRUE(a_->Shutdown(GetParam().how).ok());
    EXPECT_TRUE(a_->WaitWritable().ok());
    EXPECT_EQ(Msg(a_->WriteAll("x", 1)), "Unable to write to socket: Broken pipe");
  }
}

INSTANTIATE_TEST_SUITE_P(
    All, ShutdownTest,
    ::testing::Values(ShutdownCase{"TcpRead", true, ShutdownDirection::kRead},
                      ShutdownCase{"TcpWrite", true, ShutdownDirection::kWrite},
                      ShutdownCase{"TcpBoth", true, ShutdownDirection::kBoth},
                      ShutdownCase{"UnixRead", false, ShutdownDirection::kRead},
                      ShutdownCase{"UnixWrite", false, ShutdownDirection::kWrite},
                      ShutdownCase{"UnixBoth", false, ShutdownDirection::kBoth}),
    [](const ::testing::TestParamInfo<ShutdownCase>& param_info) { return param_info.param.name; });

TEST(SocketChannelTest, ShutdownUnblocksAFlushWaitingForCompletions) {
  auto p = MakeTcpPair();
  ASSERT_TRUE(p.ok()) << p.status();
  REQUIRE_ZERO_COPY(*p->client);
  ASSERT_TRUE(p->client->SetBlocking(false).ok());
  const std::vector<uint8_t> ram = RandomBytes(96 << 20, 3);
  size_t off = 0;
  for (;;) {
    iovec v{const_cast<uint8_t*>(ram.data() + off % ram.size()), 512 << 10};
    auto n = p->client->Writev({&v, 1}, kWriteZeroCopy);
    if (!n.ok()) {
      ASSERT_TRUE(IsWouldBlock(n.status())) << n.status();
      break;
    }
    off += *n;
  }
  // The peer never reads: the queued sends cannot complete; only Shutdown ends the wait.
  auto flush = std::async(std::launch::async, [&] { return p->client->Flush(); });
  EXPECT_EQ(flush.wait_for(std::chrono::milliseconds(100)), std::future_status::timeout);
  EXPECT_TRUE(p->client->Shutdown(ShutdownDirection::kBoth).ok());
  ASSERT_EQ(flush.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  auto r = flush.get();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(Msg(r.status()), "Channel shut down while waiting for zero copy");
}

// ---- connect --------------------------------------------------------------------------------

TEST(SocketChannelTest, ConnectErrorsUseQemuTexts) {
  // A port nobody listens on: bind one, note it, close it.
  std::string port;
  {
    auto l = Listener::Listen(Inet("127.0.0.1", "0"));
    ASSERT_TRUE(l.ok()) << l.status();
    port = PortOf((*l)->addresses()[0]);
  }
  EXPECT_EQ(Msg(SocketChannel::Connect(Inet("127.0.0.1", port)).status()),
            "Failed to connect to '127.0.0.1:" + port + "': Connection refused");
  EXPECT_EQ(Msg(SocketChannel::Connect(Inet("127.0.0.1", "abc")).status()),
            "address resolution failed for 127.0.0.1:abc: Servname not supported for ai_socktype");
  InetSocketAddress none = Inet("localhost", "1");
  none.ipv4 = false;
  none.ipv6 = false;
  EXPECT_EQ(Msg(SocketChannel::Connect(none).status()),
            "Cannot disable IPv4 and IPv6 at same time");
  EXPECT_EQ(Msg(SocketChannel::Connect(UnixSocketAddress{"/nonexistent/x", {}, {}}).status()),
            "Failed to connect to '/nonexistent/x': No such file or directory");
  std::string longpath = "/tmp/" + std::string(120, 'y');
  EXPECT_EQ(Msg(SocketChannel::Connect(UnixSocketAddress{longpath, {}, {}}).status()),
            "UNIX socket path '" + longpath + "' is too long");
  EXPECT_EQ(Msg(SocketChannel::Connect(FdSocketAddress{"x"}).status()),
            "Unable to parse FD number x");
  int pipefd[2];
  ASSERT_EQ(::pipe(pipefd), 0);
  EXPECT_EQ(Msg(SocketChannel::Connect(FdSocketAddress{std::to_string(pipefd[0])}).status()),
            "File descriptor '" + std::to_string(pipefd[0]) + "' is not a socket");
  ::close(pipefd[0]);
  ::close(pipefd[1]);
}

TEST(SocketChannelTest, ConnectsOverIpv6) {
  auto p = MakeTcpPair("::1");
  if (!p.ok()) {
    GTEST_SKIP() << "no IPv6 loopback: " << p.status();
  }
  EXPECT_EQ(std::get<InetSocketAddress>(*p->client->remote_address()).ipv6, true);
  EXPECT_THAT(p->client->Name(), StartsWith("tcp:::1:"));
  ASSERT_TRUE(p->client->WriteAll("v6", 2).ok());
  char buf[2];
  ASSERT_TRUE(p->server->ReadAll(buf, 2).ok());
  EXPECT_EQ(std::string(buf, 2), "v6");
}

// A listener whose accept queue is full drops further SYNs, so a connect to it hangs in
// SYN_SENT: the situation migrate_cancel must be able to end.
TEST(SocketChannelTest, CancelAbortsAPendingTcpConnect) {
  auto l = Listener::Listen(Inet("127.0.0.1", "0"), /*backlog=*/0);
  ASSERT_TRUE(l.ok()) << l.status();
  const std::string port = PortOf((*l)->addresses()[0]);
  // Fill the accept queue (never accepted).
  std::vector<std::unique_ptr<SocketChannel>> fillers;
  for (int i = 0; i < 2; ++i) {
    std::stop_source quick;
    auto attempt = std::async(std::launch::async, [&] {
      return SocketChannel::Connect(Inet("127.0.0.1", port), quick.get_token());
    });
    if (attempt.wait_for(std::chrono::milliseconds(500)) == std::future_status::timeout) {
      quick.request_stop();
      (void)attempt.get();
      break;  // the queue is full now
    }
    auto c = attempt.get();
    ASSERT_TRUE(c.ok()) << c.status();
    fillers.push_back(std::move(*c));
  }
  std::stop_source cancel;
  auto connect = std::async(std::launch::async, [&] {
    return SocketChannel::Connect(Inet("127.0.0.1", port), cancel.get_token());
  });
  EXPECT_EQ(connect.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout);
  auto start = std::chrono::steady_clock::now();
  cancel.request_stop();
  ASSERT_EQ(connect.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  auto r = connect.get();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(Msg(r.status()), "Failed to connect to '127.0.0.1:" + port + "': Operation canceled");
}

TEST(SocketChannelTest, CancelAbortsAUnixConnectToAFullBacklog) {
  TempDir dir;
  UnixSocketAddress ua{dir.File("full"), {}, {}};
  auto l = Listener::Listen(ua, /*backlog=*/0);
  ASSERT_TRUE(l.ok()) << l.status();
  std::vector<std::unique_ptr<SocketChannel>> fillers;
  std::stop_source cancel;
  std::future<absl::StatusOr<std::unique_ptr<SocketChannel>>> pending;
  for (int i = 0; i < 4; ++i) {
    auto attempt = std::async(std::launch::async,
                              [&] { return SocketChannel::Connect(ua, cancel.get_token()); });
    if (attempt.wait_for(std::chrono::milliseconds(300)) == std::future_status::timeout) {
      pending = std::move(attempt);
      break;
    }
    auto c = attempt.get();
    ASSERT_TRUE(c.ok()) << c.status();
    fillers.push_back(std::move(*c));
  }
  ASSERT_TRUE(pending.valid()) << "the Unix backlog never filled";
  cancel.request_stop();
  ASSERT_EQ(pending.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  auto r = pending.get();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(Msg(r.status()), "Failed to connect to '" + ua.path + "': Operation canceled");
}

TEST(SocketChannelTest, AlreadyCancelledConnectFailsAtOnce) {
  std::stop_source cancel;
  cancel.request_stop();
  auto r = SocketChannel::Connect(Inet("127.0.0.1", "1"), cancel.get_token());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled);
}

// ---- descriptors ----------------------------------------------------------------------------

TEST(SocketChannelTest, PassesDescriptorsOverUnixSockets) {
  auto pair = SocketChannel::CreatePair();
  ASSERT_TRUE(pair.ok()) << pair.status();
  auto& [a, b] = *pair;
  int pipefd[2];
  ASSERT_EQ(::pipe2(pipefd, O_NONBLOCK), 0);
  util::UniqueFd pipe_read(pipefd[0]);
  util::UniqueFd pipe_write(pipefd[1]);
  char tag = 'F';
  iovec v{&tag, 1};
  const int send_fds[] = {pipe_write.get()};
  auto n = a->WritevWithFds({&v, 1}, send_fds);
  ASSERT_TRUE(n.ok()) << n.status();
  pipe_write.Reset();  // the peer now holds the only write end

  std::vector<util::UniqueFd> got;
  char rtag = 0;
  iovec rv{&rtag, 1};
  auto m = b->ReadvWithFds({&rv, 1}, &got);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(rtag, 'F');
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(::fcntl(got[0].get(), F_GETFL) & O_NONBLOCK, 0);  // handed over blocking
  EXPECT_NE(::fcntl(got[0].get(), F_GETFD) & FD_CLOEXEC, 0);
  ASSERT_EQ(::write(got[0].get(), "ok", 2), 2);
  char buf[2];
  ASSERT_EQ(::read(pipe_read.get(), buf, 2), 2);
  EXPECT_EQ(std::string(buf, 2), "ok");

  std::vector<int> too_many(SocketChannel::kMaxFds + 1, pipe_read.get());
  EXPECT_EQ(Msg(a->WritevWithFds({&v, 1}, too_many).status()),
            "Only 16 FDs can be sent, got 17: Invalid argument");
}

TEST(SocketChannelTest, NoDescriptorsOverTcp) {
  auto p = MakeTcpPair();
  ASSERT_TRUE(p.ok()) << p.status();
  char c = 0;
  iovec v{&c, 1};
  const int fds[] = {0};
  EXPECT_EQ(Msg(p->client->WritevWithFds({&v, 1}, fds).status()),
            "Channel does not support file descriptor passing: Invalid argument");
}

TEST(SocketChannelTest, FromFdRejectsNonSockets) {
  int pipefd[2];
  ASSERT_EQ(::pipe(pipefd), 0);
  ::close(pipefd[1]);
  auto r = SocketChannel::FromFd(util::UniqueFd(pipefd[0]));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(Msg(r.status()),
            "Unable to query local socket address: Socket operation on non-socket");
}

TEST(SocketChannelTest, CloseIsIdempotentAndLaterIoFails) {
  auto p = MakeTcpPair();
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE(p->client->Close().ok());
  EXPECT_TRUE(p->client->Close().ok());
  EXPECT_EQ(p->client->fd(), -1);
  EXPECT_EQ(Msg(p->client->WriteAll("x", 1)), "Channel is closed");
  EXPECT_TRUE(p->client->Shutdown(ShutdownDirection::kBoth).ok());
}

// ---- locked memory (MSG_ZEROCOPY pins pages against RLIMIT_MEMLOCK) ------------------------

// Runs in a child process (death-test style): drop CAP_IPC_LOCK so the memlock limit applies
// even to root, lower the limit, and report through stderr and the exit code.
void DropIpcLockAndLimitMemlock(rlim_t bytes) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct caps[2];
  if (::syscall(SYS_capget, &hdr, caps) != 0) {
    std::cerr << "capget failed";
    std::exit(3);
  }
  caps[0].effective &= ~(1u << CAP_IPC_LOCK);
  caps[0].permitted &= ~(1u << CAP_IPC_LOCK);
  if (::syscall(SYS_capset, &hdr, caps) != 0) {
    std::cerr << "capset failed";
    std::exit(3);
  }
  rlimit rl{bytes, bytes};
  if (::setrlimit(RLIMIT_MEMLOCK, &rl) != 0) {
    std::cerr << "setrlimit failed";
    std::exit(3);
  }
}

bool KernelHasTcpZeroCopy() {
  auto p = MakeTcpPair();
  return p.ok() && p->client->EnableZeroCopy().ok();
}

// Child body: one zero-copy send larger than the whole limit, nothing in flight.
[[noreturn]] void SendLargerThanMemlockLimit() {
  DropIpcLockAndLimitMemlock(64 << 10);
  auto p = MakeTcpPair();
  if (!p.ok() || !p->client->EnableZeroCopy().ok()) {
    std::exit(3);
  }
  std::vector<uint8_t> buf(1 << 20, 7);
  absl::Status s = p->client->WriteAll(buf.data(), buf.size(), kWriteZeroCopy);
  std::cerr << s.message();
  std::exit(s.code() == absl::StatusCode::kResourceExhausted ? 0 : 1);
}

// Child body: a 32 MiB stream in 512 KiB zero-copy sends under a 1 MiB lock limit.
[[noreturn]] void StreamUnderSmallMemlockLimit() {
  DropIpcLockAndLimitMemlock(1 << 20);
  auto p = MakeTcpPair();
  if (!p.ok() || !p->client->EnableZeroCopy().ok()) {
    std::exit(3);
  }
  const std::vector<uint8_t> ram = RandomBytes(32 << 20, 8);
  auto reader = ReadAsync(*p->server, ram.size());
  for (size_t off = 0; off < ram.size(); off += 512 << 10) {
    iovec v{const_cast<uint8_t*>(ram.data() + off), 512 << 10};
    absl::Status s = p->client->WritevAll({&v, 1}, kWriteZeroCopy);
    if (!s.ok()) {
      std::cerr << "write: " << s.message();
      std::exit(1);
    }
  }
  auto f = p->client->Flush();
  auto got = reader.get();
  if (!f.ok() || !got.ok() || *got != ram) {
    std::cerr << "flush or data mismatch";
    std::exit(1);
  }
  ChannelStats st = p->client->Stats();
  std::cerr << "intact; enobufs retries " << st.zero_copy_enobufs;
  std::exit(st.zero_copy_completed == st.zero_copy_calls ? 0 : 1);
}

TEST(SocketChannelMemlockDeathTest, ASendLargerThanTheLockLimitFailsWithQemusText) {
  if (!KernelHasTcpZeroCopy()) {
    GTEST_SKIP() << "kernel lacks SO_ZEROCOPY for TCP";
  }
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(SendLargerThanMemlockLimit(), ::testing::ExitedWithCode(0),
              "^Process can't lock enough memory for using MSG_ZEROCOPY: No buffer space "
              "available$");
}

// QEMU fails on the first ENOBUFS; sends still in flight hold the pin budget, so reaping their
// completions and retrying lets a stream far larger than the limit through.
TEST(SocketChannelMemlockDeathTest, EnobufsFromSendsInFlightIsReapedAndRetried) {
  if (!KernelHasTcpZeroCopy()) {
    GTEST_SKIP() << "kernel lacks SO_ZEROCOPY for TCP";
  }
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(StreamUnderSmallMemlockLimit(), ::testing::ExitedWithCode(0),
              "^intact; enobufs retries [0-9]+$");
}

}  // namespace
}  // namespace migemu::io
