#include "io/exec_channel.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <future>
#include <iterator>
#include <string>
#include <vector>

#include "io/socket_address.h"
#include "tests/unit/io/test_util.h"

namespace migemu::io {
namespace {

using test_util::RandomBytes;
using test_util::TempDir;

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

std::vector<uint8_t> ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

// Reads until EOF.
absl::StatusOr<std::vector<uint8_t>> ReadToEof(Channel& ch) {
  std::vector<uint8_t> out;
  std::vector<uint8_t> buf(64 << 10);
  for (;;) {
    iovec v{buf.data(), buf.size()};
    auto n = ch.Readv({&v, 1});
    if (!n.ok()) {
      return n.status();
    }
    if (*n == 0) {
      return out;
    }
    out.insert(out.end(), buf.begin(), buf.begin() + static_cast<ptrdiff_t>(*n));
  }
}

// migrate "exec:cat > FILE", then -incoming "exec:cat FILE", as in QEMU.
TEST(ExecChannelTest, RoundTripThroughAFile) {
  TempDir dir;
  const std::string file = dir.File("stream.bin");
  const std::vector<uint8_t> data = RandomBytes(6 << 20, 42);

  auto uri = ParseMigrationUri("exec:cat > " + file, UriDirection::kOutgoing);
  ASSERT_TRUE(uri.ok());
  auto out = ExecChannel::Spawn(std::get<ExecUri>(*uri).command);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)->Name(), "exec:cat > " + file);
  ASSERT_TRUE((*out)->WriteAll(data.data(), data.size()).ok());
  // Close sends EOF and waits for cat to exit: the file is complete when it returns.
  ASSERT_TRUE((*out)->Close().ok());
  ASSERT_TRUE((*out)->wait_status().has_value());
  EXPECT_TRUE(WIFEXITED(*(*out)->wait_status()));
  EXPECT_EQ(WEXITSTATUS(*(*out)->wait_status()), 0);
  EXPECT_TRUE(ReadFile(file) == data);
  EXPECT_EQ((*out)->Stats().bytes_written, data.size());

  auto in = ExecChannel::Spawn("cat " + file);
  ASSERT_TRUE(in.ok()) << in.status();
  auto got = ReadToEof(**in);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(*got == data);
  ASSERT_TRUE((*in)->Close().ok());
  EXPECT_EQ(WEXITSTATUS(*(*in)->wait_status()), 0);
}

// QEMU 7.2: migrate "exec:" fails with "Unable to write to command: Broken pipe".
TEST(ExecChannelTest, CommandThatDoesNotReadGivesBrokenPipe) {
  auto ch = ExecChannel::Spawn("");
  ASSERT_TRUE(ch.ok()) << ch.status();
  const std::vector<uint8_t> data(1 << 20, 1);  // more than a pipe holds
  absl::Status s = (*ch)->WriteAll(data.data(), data.size());
  EXPECT_EQ(Msg(s), "Unable to write to command: Broken pipe");
  EXPECT_TRUE((*ch)->Close().ok());
}

TEST(ExecChannelTest, ExitStatusIsKept) {
  auto ch = ExecChannel::Spawn("exit 3");
  ASSERT_TRUE(ch.ok()) << ch.status();
  auto got = ReadToEof(**ch);
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->empty());
  ASSERT_TRUE((*ch)->Close().ok());
  ASSERT_TRUE((*ch)->wait_status().has_value());
  EXPECT_EQ(WEXITSTATUS(*(*ch)->wait_status()), 3);
  EXPECT_TRUE((*ch)->Close().ok());  // idempotent
}

TEST(ExecChannelTest, ShutdownUnblocksAReaderAndCloseStopsTheChild) {
  auto ch = ExecChannel::Spawn("sleep 60");
  ASSERT_TRUE(ch.ok()) << ch.status();
  const pid_t pid = (*ch)->pid();
  auto reader = std::async(std::launch::async, [&] { return ReadToEof(**ch); });
  EXPECT_EQ(reader.wait_for(std::chrono::milliseconds(100)), std::future_status::timeout);
  ASSERT_TRUE((*ch)->Shutdown(ShutdownDirection::kBoth).ok());
  ASSERT_EQ(reader.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  auto got = reader.get();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(got->empty());
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE((*ch)->Close().ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  ASSERT_TRUE((*ch)->wait_status().has_value());
  EXPECT_TRUE(WIFSIGNALED(*(*ch)->wait_status()));
  // Reaped: no such child any more.
  EXPECT_EQ(::waitpid(pid, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

TEST(ExecChannelTest, ShutdownUnblocksAWriter) {
  auto ch = ExecChannel::Spawn("sleep 60");  // never reads its stdin
  ASSERT_TRUE(ch.ok()) << ch.status();
  const std::vector<uint8_t> data(8 << 20, 1);
  auto writer =
      std::async(std::launch::async, [&] { return (*ch)->WriteAll(data.data(), data.size()); });
  EXPECT_EQ(writer.wait_for(std::chrono::milliseconds(100)), std::future_status::timeout);
  ASSERT_TRUE((*ch)->Shutdown(ShutdownDirection::kWrite).ok());
  ASSERT_EQ(writer.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(Msg(writer.get()), "Unable to write to command: Broken pipe");
}

TEST(ExecChannelTest, DestructorWithoutCloseStopsTheChild) {
  pid_t pid;
  {
    auto ch = ExecChannel::Spawn("sleep 60");
    ASSERT_TRUE(ch.ok()) << ch.status();
    pid = (*ch)->pid();
  }
  EXPECT_EQ(::waitpid(pid, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

TEST(ExecChannelTest, NonBlockingReadWouldBlockAndZeroCopyIsRefused) {
  auto ch = ExecChannel::Spawn("sleep 60");
  ASSERT_TRUE(ch.ok()) << ch.status();
  ASSERT_TRUE((*ch)->SetBlocking(false).ok());
  char c;
  iovec v{&c, 1};
  auto n = (*ch)->Readv({&v, 1});
  ASSERT_FALSE(n.ok());
  EXPECT_TRUE(IsWouldBlock(n.status()));
  EXPECT_FALSE((*ch)->HasFeature(Feature::kZeroCopySend));
  EXPECT_EQ(Msg((*ch)->WriteAll("x", 1, kWriteZeroCopy)),
            "Requested Zero Copy feature is not available: Invalid argument");
  auto f = (*ch)->Flush();
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(*f, FlushResult::kNothingPending);
  ASSERT_TRUE((*ch)->Shutdown(ShutdownDirection::kBoth).ok());
}

TEST(ExecChannelTest, StderrIsInheritedAndStdoutIsTheChannel) {
  auto ch = ExecChannel::Spawn("echo to-channel; echo to-stderr 1>&2");
  ASSERT_TRUE(ch.ok()) << ch.status();
  auto got = ReadToEof(**ch);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(std::string(got->begin(), got->end()), "to-channel\n");
  EXPECT_TRUE((*ch)->Close().ok());
}

}  // namespace
}  // namespace migemu::io
