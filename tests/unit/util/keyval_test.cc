#include "util/keyval.h"

#include <gtest/gtest.h>

namespace migemu::util {
namespace {

using Items = std::vector<std::pair<std::string, std::string>>;

TEST(KeyvalTest, ImpliedFirstKeyAndPairs) {
  KeyvalList l =
      ParseKeyval("memory-backend-file,id=ram0,size=8M,mem-path=/x,share=on", "qom-type");
  EXPECT_EQ(l.items, (Items{{"qom-type", "memory-backend-file"},
                            {"id", "ram0"},
                            {"size", "8M"},
                            {"mem-path", "/x"},
                            {"share", "on"}}));
}

TEST(KeyvalTest, DoubledCommaIsLiteral) {
  KeyvalList l = ParseKeyval("path=/a,,b,x=1");
  EXPECT_EQ(*l.Get("path"), "/a,b");
  EXPECT_EQ(*l.Get("x"), "1");
}

TEST(KeyvalTest, BareFlagsAndNoPrefix) {
  KeyvalList l = ParseKeyval("unix:/tmp/s,server,nowait");
  EXPECT_EQ(l.items, (Items{{"unix:/tmp/s", "on"}, {"server", "on"}, {"wait", "off"}}));
  KeyvalList with_implied = ParseKeyval("unix:/tmp/s,server,nowait", "path");
  EXPECT_EQ(*with_implied.Get("path"), "unix:/tmp/s");
}

TEST(KeyvalTest, LastOccurrenceWinsAndUnknownKeys) {
  KeyvalList l = ParseKeyval("a=1,b=2,a=3");
  EXPECT_EQ(*l.Get("a"), "3");
  EXPECT_EQ(l.FirstUnknown({"a"}), "b");
  EXPECT_EQ(l.FirstUnknown({"a", "b"}), std::nullopt);
  EXPECT_FALSE(l.Has("c"));
}

TEST(KeyvalTest, Booleans) {
  KeyvalList l = ParseKeyval("x=on,y=no,z=maybe");
  EXPECT_EQ(*l.GetBool("x"), true);
  EXPECT_EQ(*l.GetBool("y"), false);
  EXPECT_EQ(*l.GetBool("w"), std::nullopt);
  EXPECT_EQ(l.GetBool("z").status().message(), "Parameter 'z' expects 'on' or 'off'");
}

TEST(KeyvalTest, EmptyValueAndEmptyText) {
  EXPECT_TRUE(ParseKeyval("").items.empty());
  KeyvalList l = ParseKeyval("tls-creds=,x=1");
  EXPECT_EQ(*l.Get("tls-creds"), "");
}

}  // namespace
}  // namespace migemu::util
