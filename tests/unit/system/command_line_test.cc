#include "system/command_line.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace migemu::system {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

absl::StatusOr<CommandLine> Parse(std::vector<const char*> args) {
  args.insert(args.begin(), "migemu");
  return ParseCommandLine(static_cast<int>(args.size()), args.data());
}

TEST(CommandLineTest, SplitsOptionsInOrder) {
  auto cl = Parse({"-M", "none", "-m", "64M", "-S", "-qmp", "unix:/a,server=on,wait=off", "--qmp",
                   "tcp:127.0.0.1:0,server=on,wait=off"});
  ASSERT_TRUE(cl.ok()) << cl.status();
  EXPECT_EQ(*cl->Last("machine"), "none");  // -M is an alias of -machine
  EXPECT_EQ(*cl->Last("m"), "64M");
  EXPECT_TRUE(cl->Has("S"));
  EXPECT_EQ(cl->All("qmp").size(), 2u);
  EXPECT_EQ(cl->Last("incoming"), nullptr);
}

TEST(CommandLineTest, LastOccurrenceWins) {
  auto cl = Parse({"-m", "64M", "-m", "128M"});
  ASSERT_TRUE(cl.ok());
  EXPECT_EQ(*cl->Last("m"), "128M");
}

TEST(CommandLineTest, UnknownOptionHasQemuText) {
  auto cl = Parse({"-foo"});
  EXPECT_EQ(cl.status().message(), "-foo: invalid option");
}

TEST(CommandLineTest, MissingArgumentHasQemuText) {
  auto cl = Parse({"-m"});
  EXPECT_EQ(cl.status().message(), "-m: requires an argument");
}

TEST(CommandLineTest, PositionalArgumentRejected) {
  auto cl = Parse({"disk.img"});
  EXPECT_FALSE(cl.ok());
  EXPECT_THAT(std::string(cl.status().message()), StartsWith("disk.img: "));
}

TEST(CommandLineTest, VersionAndHelpTexts) {
  EXPECT_THAT(VersionText(), StartsWith("QEMU emulator version 7.2.0 (migemu "));
  std::string help = HelpText("migemu");
  EXPECT_THAT(help, HasSubstr("usage: migemu [options]"));
  EXPECT_THAT(help, HasSubstr("-version        display version information and exit\n"));
  EXPECT_THAT(help, HasSubstr("-incoming defer\n"));
  EXPECT_THAT(help, HasSubstr("-workload "));
}

}  // namespace
}  // namespace migemu::system
