#include "io/fd_channel.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <string>

#include "io/socket_channel.h"
#include "tests/unit/io/test_util.h"

namespace migemu::io {
namespace {

using test_util::RandomBytes;

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

struct Pipe {
  util::UniqueFd read;
  util::UniqueFd write;
};

Pipe MakePipe() {
  int fds[2];
  EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  return Pipe{util::UniqueFd(fds[0]), util::UniqueFd(fds[1])};
}

TEST(FdChannelTest, PipeRoundTrip) {
  Pipe p = MakePipe();
  auto reader = OpenFdChannel(std::move(p.read), "fd:r");
  auto writer = OpenFdChannel(std::move(p.write), "fd:w");
  ASSERT_TRUE(reader.ok()) << reader.status();
  ASSERT_TRUE(writer.ok()) << writer.status();
  EXPECT_EQ(dynamic_cast<FdChannel*>(reader->get())->Name(), "fd:r");
  const std::vector<uint8_t> data = RandomBytes(3 << 20, 5);
  auto read = std::async(std::launch::async, [&] {
    std::vector<uint8_t> buf(data.size());
    absl::Status s = (*reader)->ReadAll(buf.data(), buf.size());
    return s.ok() ? buf : std::vector<uint8_t>();
  });
  ASSERT_TRUE((*writer)->WriteAll(data.data(), data.size()).ok());
  EXPECT_TRUE(read.get() == data);
  ASSERT_TRUE((*writer)->Close().ok());
  char c;
  iovec v{&c, 1};
  auto eof = (*reader)->Readv({&v, 1});
  ASSERT_TRUE(eof.ok());
  EXPECT_EQ(*eof, 0u);
}

TEST(FdChannelTest, WriteToAClosedPipeIsAnErrorNotASignal) {
  Pipe p = MakePipe();
  auto writer = FdChannel::Create(std::move(p.write), "fd:w");
  ASSERT_TRUE(writer.ok());
  p.read.Reset();
  EXPECT_EQ(Msg((*writer)->WriteAll("x", 1)), "Unable to write to file: Broken pipe");
}

TEST(FdChannelTest, ShutdownUnblocksABlockedReader) {
  Pipe p = MakePipe();
  auto reader = FdChannel::Create(std::move(p.read), "fd:r");
  ASSERT_TRUE(reader.ok());
  auto read = std::async(std::launch::async, [&] {
    char buf[4];
    iovec v{buf, sizeof(buf)};
    return (*reader)->ReadvAll({&v, 1});
  });
  EXPECT_EQ(read.wait_for(std::chrono::milliseconds(100)), std::future_status::timeout);
  ASSERT_TRUE((*reader)->Shutdown(ShutdownDirection::kRead).ok());
  ASSERT_EQ(read.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  auto r = read.get();
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(*r);
}

TEST(FdChannelTest, SocketDescriptorsBecomeSocketChannels) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  util::UniqueFd other(sv[1]);
  auto ch = OpenFdChannel(util::UniqueFd(sv[0]), "fd:s");
  ASSERT_TRUE(ch.ok()) << ch.status();
  auto* sock = dynamic_cast<SocketChannel*>(ch->get());
  ASSERT_NE(sock, nullptr);
  EXPECT_EQ(sock->origin(), SocketChannel::Origin::kAdopted);
  EXPECT_TRUE(sock->HasFeature(Feature::kFdPass));
}

TEST(ResolveMigrationFdTest, OutgoingNeedsAMonitorName) {
  // QEMU 7.2: `migrate fd:3` without `getfd` -> "File descriptor named '3' has not been found".
  EXPECT_EQ(Msg(ResolveMigrationFd("3", UriDirection::kOutgoing, nullptr).status()),
            "File descriptor named '3' has not been found");
  EXPECT_EQ(Msg(ResolveMigrationFd("", UriDirection::kOutgoing, nullptr).status()),
            "File descriptor named '' has not been found");
  Pipe p = MakePipe();
  const int raw = p.write.get();
  std::string asked;
  NamedFdLookup lookup = [&](absl::string_view name) -> absl::StatusOr<util::UniqueFd> {
    asked = std::string(name);
    return std::move(p.write);
  };
  auto fd = ResolveMigrationFd("migfd", UriDirection::kOutgoing, &lookup);
  ASSERT_TRUE(fd.ok()) << fd.status();
  EXPECT_EQ(fd->get(), raw);
  EXPECT_EQ(asked, "migfd");
}

TEST(ResolveMigrationFdTest, IncomingTakesNumbersOrMonitorNames) {
  Pipe p = MakePipe();
  const int raw = p.read.Release();
  auto fd = ResolveMigrationFd(std::to_string(raw), UriDirection::kIncoming, nullptr);
  ASSERT_TRUE(fd.ok()) << fd.status();
  EXPECT_EQ(fd->get(), raw);

  EXPECT_EQ(Msg(ResolveMigrationFd("abc", UriDirection::kIncoming, nullptr).status()),
            "Invalid file descriptor number 'abc'");
  EXPECT_EQ(Msg(ResolveMigrationFd("-1", UriDirection::kIncoming, nullptr).status()),
            "Invalid file descriptor number '-1'");
  EXPECT_EQ(Msg(ResolveMigrationFd("999999", UriDirection::kIncoming, nullptr).status()),
            "Invalid file descriptor number '999999': Bad file descriptor");

  int calls = 0;
  NamedFdLookup lookup = [&](absl::string_view name) -> absl::StatusOr<util::UniqueFd> {
    ++calls;
    return absl::NotFoundError("File descriptor named '" + std::string(name) +
                               "' has not been found");
  };
  // With a monitor: names go to it, numbers (leading digit) do not.
  EXPECT_EQ(Msg(ResolveMigrationFd("abc", UriDirection::kIncoming, &lookup).status()),
            "File descriptor named 'abc' has not been found");
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(Msg(ResolveMigrationFd("999999", UriDirection::kIncoming, &lookup).status()),
            "Invalid file descriptor number '999999': Bad file descriptor");
  EXPECT_EQ(calls, 1);
}

TEST(ResolveMigrationFdTest, OpenMigrationFdNamesTheChannel) {
  Pipe p = MakePipe();
  const int raw = p.read.Release();
  auto ch = OpenMigrationFd(std::to_string(raw), UriDirection::kIncoming, nullptr);
  ASSERT_TRUE(ch.ok()) << ch.status();
  EXPECT_EQ((*ch)->Name(), "fd:" + std::to_string(raw));
}

}  // namespace
}  // namespace migemu::io
