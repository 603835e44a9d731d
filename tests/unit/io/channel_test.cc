// Tests of the Channel helpers (WritevAll, ReadvAll, ...) and of BufferChannel, the in-memory
// channel other modules test against.
#include "io/channel.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <string>
#include <vector>

#include "io/buffer_channel.h"
#include "io/errors.h"
#include "tests/unit/io/test_util.h"

namespace migemu::io {
namespace {

using test_util::RandomBytes;

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

TEST(IsWouldBlockTest, OnlyTheWouldBlockStatus) {
  EXPECT_TRUE(IsWouldBlock(absl::UnavailableError("would block")));
  EXPECT_FALSE(IsWouldBlock(absl::UnavailableError("Unable to write to socket: Broken pipe")));
  EXPECT_FALSE(IsWouldBlock(absl::InternalError("would block")));
  EXPECT_FALSE(IsWouldBlock(absl::OkStatus()));
}

TEST(ChannelHelpersTest, WritevAllAndReadvAllLoopOverTinyTransfers) {
  BufferChannel::Options o;
  o.max_io = 7;  // every Readv/Writev moves at most 7 bytes
  auto pair = BufferChannel::CreatePair(o);
  // (Named references, not a structured binding: clang 14 cannot capture bindings.)
  BufferChannel* a = pair.first.get();
  BufferChannel* b = pair.second.get();
  const std::vector<uint8_t> data = RandomBytes(100000, 1);
  std::vector<iovec> iov;
  for (size_t off = 0; off < data.size(); off += 1000) {
    iov.push_back(iovec{const_cast<uint8_t*>(data.data() + off), 1000});
    iov.push_back(iovec{nullptr, 0});  // empty entries are skipped
  }
  ASSERT_TRUE(a->WritevAll(iov).ok());
  std::vector<uint8_t> got(data.size());
  std::vector<iovec> riov;
  for (size_t off = 0; off < got.size(); off += 333) {
    riov.push_back(iovec{got.data() + off, std::min<size_t>(333, got.size() - off)});
  }
  auto r = b->ReadvAll(riov);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(*r);
  EXPECT_TRUE(got == data);
  EXPECT_EQ(a->Stats().bytes_written, data.size());
  EXPECT_EQ(b->Stats().bytes_read, data.size());
}

TEST(ChannelHelpersTest, ReadvAllEofSemantics) {
  auto ch = BufferChannel::Create({}, "abc");
  char buf[8];
  iovec v{buf, sizeof(buf)};
  auto r = ch->ReadvAll({&v, 1});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(Msg(r.status()), "Unexpected end-of-file before all data were read");

  auto empty = BufferChannel::Create({}, "");
  auto r2 = empty->ReadvAll({&v, 1});
  ASSERT_TRUE(r2.ok());
  EXPECT_FALSE(*r2);
  EXPECT_EQ(Msg(empty->ReadAll(buf, 1)), "Unexpected end-of-file before all data were read");
  EXPECT_TRUE(empty->ReadAll(buf, 0).ok());
}

TEST(ChannelHelpersTest, NonBlockingWritevAllWaitsForTheReader) {
  BufferChannel::Options o;
  o.capacity = 4096;
  auto pair = BufferChannel::CreatePair(o);
  // (Named references, not a structured binding: clang 14 cannot capture bindings.)
  BufferChannel* a = pair.first.get();
  BufferChannel* b = pair.second.get();
  ASSERT_TRUE(a->SetBlocking(false).ok());
  const std::vector<uint8_t> data = RandomBytes(1 << 20, 2);
  // Nothing reads yet: a single Writev is partial, the next one would block.
  iovec v{const_cast<uint8_t*>(data.data()), data.size()};
  auto n = a->Writev({&v, 1}, kWriteNone);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 4096u);
  auto blocked = a->Writev({&v, 1}, kWriteNone);
  ASSERT_FALSE(blocked.ok());
  EXPECT_TRUE(IsWouldBlock(blocked.status()));
  auto reader = std::async(std::launch::async, [&] {
    std::vector<uint8_t> got(data.size());
    EXPECT_TRUE(b->ReadAll(got.data(), got.size()).ok());
    return got;
  });
  iovec rest{const_cast<uint8_t*>(data.data()) + 4096, data.size() - 4096};
  ASSERT_TRUE(a->WritevAll({&rest, 1}).ok());
  EXPECT_TRUE(reader.get() == data);
}

TEST(BufferChannelTest, StandaloneInputAndOutput) {
  auto ch = BufferChannel::Create();
  ch->PushInput("hello ");
  ch->PushInput("world");
  ch->EndInput();
  char buf[11];
  ASSERT_TRUE(ch->ReadAll(buf, sizeof(buf)).ok());
  EXPECT_EQ(std::string(buf, sizeof(buf)), "hello world");
  ASSERT_TRUE(ch->WriteAll("out", 3).ok());
  EXPECT_EQ(ch->TakeOutput(), "out");
  EXPECT_EQ(ch->TakeOutput(), "");
}

TEST(BufferChannelTest, CloseOfOneEndIsEofAndBrokenPipeForTheOther) {
  auto pair = BufferChannel::CreatePair();
  BufferChannel* a = pair.first.get();
  BufferChannel* b = pair.second.get();
  ASSERT_TRUE(a->WriteAll("x", 1).ok());
  ASSERT_TRUE(a->Close().ok());
  char c;
  ASSERT_TRUE(b->ReadAll(&c, 1).ok());
  iovec v{&c, 1};
  auto eof = b->Readv({&v, 1});
  ASSERT_TRUE(eof.ok());
  EXPECT_EQ(*eof, 0u);
  EXPECT_EQ(Msg(b->WriteAll("y", 1)), "Unable to write to buffer: Broken pipe");
  EXPECT_EQ(Msg(a->WriteAll("z", 1)), "Channel is closed");
}

TEST(BufferChannelTest, ShutdownWakesABlockedReaderAndWriter) {
  BufferChannel::Options o;
  o.capacity = 1;
  auto pair = BufferChannel::CreatePair(o);  // the peer never reads
  // (A named pointer, not a structured binding: clang 14 cannot capture bindings.)
  BufferChannel* a = pair.first.get();
  auto reader = std::async(std::launch::async, [&] {
    char c;
    iovec v{&c, 1};
    return a->Readv({&v, 1});
  });
  auto writer = std::async(std::launch::async, [&] { return a->WriteAll("abc", 3); });
  EXPECT_EQ(reader.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout);
  ASSERT_TRUE(a->Shutdown(ShutdownDirection::kBoth).ok());
  ASSERT_EQ(reader.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  ASSERT_EQ(writer.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  auto r = reader.get();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 0u);
  EXPECT_EQ(Msg(writer.get()), "Unable to write to buffer: Broken pipe");
}

TEST(BufferChannelTest, ZeroCopyAccountingLikeLoopback) {
  auto plain = BufferChannel::Create();
  EXPECT_FALSE(plain->HasFeature(Feature::kZeroCopySend));
  EXPECT_EQ(Msg(plain->WriteAll("x", 1, kWriteZeroCopy)),
            "Requested Zero Copy feature is not available: Invalid argument");

  BufferChannel::Options o;
  o.zero_copy = true;
  auto ch = BufferChannel::Create(o);
  ASSERT_TRUE(ch->HasFeature(Feature::kZeroCopySend));
  auto none = ch->Flush();
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, FlushResult::kNothingPending);
  ASSERT_TRUE(ch->WriteAll("head", 4).ok());
  ASSERT_TRUE(ch->WriteAll("pages", 5, kWriteZeroCopy).ok());
  ASSERT_TRUE(ch->WriteAll("more", 4, kWriteZeroCopy).ok());
  EXPECT_EQ(ch->TakeOutput(), "headpagesmore");
  auto f = ch->Flush();
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(*f, FlushResult::kAllCopied);
  ChannelStats s = ch->Stats();
  EXPECT_EQ(s.zero_copy_calls, 2u);
  EXPECT_EQ(s.zero_copy_completed, 2u);
  EXPECT_EQ(s.zero_copy_copied, 2u);
  EXPECT_EQ(s.zero_copy_bytes, 9u);
  EXPECT_EQ(s.zero_copy_flushes_all_copied, 1u);
  EXPECT_EQ(*ch->Flush(), FlushResult::kNothingPending);

  o.zero_copy_copied = false;
  auto real = BufferChannel::Create(o);
  ASSERT_TRUE(real->WriteAll("p", 1, kWriteZeroCopy).ok());
  EXPECT_EQ(*real->Flush(), FlushResult::kZeroCopied);
}

}  // namespace
}  // namespace migemu::io
