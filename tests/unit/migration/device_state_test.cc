#include "migration/device_state.h"

#include <errno.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "tests/unit/migration/fake_channel.h"
#include "tests/unit/migration/test_util.h"

namespace migemu::migration {
namespace {

using ::migemu::migration::testing::Bytes;
using ::migemu::migration::testing::FakeChannel;
using ::testing::ElementsAre;

struct Outcome {
  absl::Status status;
  std::vector<std::string> lines;
  uint64_t consumed;
};

Outcome Load(SectionHandler& h, std::vector<uint8_t> bytes, uint32_t version) {
  FakeChannel ch(std::move(bytes));
  QemuFileReader r(ch);
  LoadReport report;
  Outcome o;
  o.status = h.Load(r, version, report);
  o.lines = report.lines();
  o.consumed = r.position();
  return o;
}

TEST(TimerSectionTest, SaveWritesTheTwentyFourBytesOfVersion2) {
  FakeChannel ch;
  QemuFileWriter w(ch);
  SaveTimer(w, TimerState{.cpu_ticks_offset = 252953386, .cpu_clock_offset = 103439743});
  ASSERT_TRUE(w.Flush().ok());
  // Capture (a), offset 0x7ed098.
  EXPECT_EQ(ch.output(), Bytes().Be64(0xf13c32a).Be64(0).Be64(0x62a5d7f).data());
}

TEST(TimerSectionTest, LoadsVersion2AndVersion1) {
  TimerSection timer;
  Outcome o = Load(timer, Bytes().Be64(-5).Be64(0).Be64(77).U8(0x7e).Take(), 2);
  ASSERT_TRUE(o.status.ok());
  EXPECT_EQ(o.consumed, 24u) << "stops before the footer";
  EXPECT_TRUE(timer.received());
  EXPECT_EQ(timer.state().cpu_ticks_offset, -5);
  EXPECT_EQ(timer.state().cpu_clock_offset, 77);
  EXPECT_FALSE(timer.state().icount.has_value());

  TimerSection v1;
  o = Load(v1, Bytes().Be64(9).Be64(0).Take(), 1);
  ASSERT_TRUE(o.status.ok());
  EXPECT_EQ(o.consumed, 16u) << "version 1 has no cpu_clock_offset";
  EXPECT_EQ(v1.state().cpu_ticks_offset, 9);
  EXPECT_EQ(v1.state().cpu_clock_offset, 0);
}

TEST(TimerSectionTest, LoadsIcountSubsections) {
  Bytes b;
  b.Be64(1).Be64(0).Be64(2);
  b.U8(5).Counted("timer/icount").Be32(1).Be64(100).Be64(200);
  b.U8(5).Counted("timer/icount/warp_timer").Be32(1).Be64(300).Be64(400);
  b.U8(5).Counted("timer/icount/shift").Be32(2).Be16(0xfffe).Be64(500);
  b.U8(0x7e);
  TimerSection timer;
  Outcome o = Load(timer, b.Take(), 2);
  ASSERT_TRUE(o.status.ok()) << o.status;
  ASSERT_TRUE(timer.state().icount.has_value());
  const TimerIcountState& ic = *timer.state().icount;
  EXPECT_EQ(ic.qemu_icount_bias, 100);
  EXPECT_EQ(ic.qemu_icount, 200);
  EXPECT_EQ(ic.vm_clock_warp_start, 300);
  EXPECT_EQ(ic.icount_warp_timer, 400);
  EXPECT_FALSE(ic.icount_rt_timer.has_value());
  EXPECT_EQ(ic.icount_time_shift, -2);
  EXPECT_EQ(ic.last_delta, 500);
}

TEST(TimerSectionTest, SubsectionChecks) {
  {
    TimerSection timer;
    Outcome o = Load(timer, Bytes().Fill(24, 0).U8(5).Counted("timer/bogus").Be32(1).Take(), 2);
    EXPECT_EQ(LoadErrno(o.status), -ENOENT);
    EXPECT_TRUE(o.lines.empty());
  }
  {
    TimerSection timer;
    Outcome o =
        Load(timer, Bytes().Fill(24, 0).U8(5).Counted("timer/icount/shift").Be32(1).Take(), 2);
    EXPECT_EQ(LoadErrno(o.status), -ENOENT) << "shift is a child of timer/icount, not of timer";
  }
  {
    TimerSection timer;
    Outcome o =
        Load(timer, Bytes().Fill(24, 0).U8(5).Counted("timer/icount").Be32(0x102).Take(), 2);
    EXPECT_THAT(o.lines, ElementsAre("timer/icount: incoming version_id 2 is too new for local "
                                     "version_id 1"))
        << "the be32 version is truncated to 8 bits";
  }
  {
    TimerSection timer;
    Outcome o = Load(timer, Bytes().Fill(24, 0).U8(5).Counted("other/x").Be32(1).Take(), 2);
    EXPECT_TRUE(o.status.ok()) << "a subsection of another parent ends the list";
    EXPECT_EQ(o.consumed, 24u);
  }
  {
    TimerSection timer;
    Outcome o =
        Load(timer, Bytes().Fill(24, 0).U8(5).Counted("timer/icount").Be32(1).Be64(1).Take(), 2);
    EXPECT_THAT(o.lines, ElementsAre("Failed to load timer/icount:qemu_icount"));
    EXPECT_EQ(LoadErrno(o.status), -EIO);
  }
}

TEST(GlobalStateSectionTest, SaveAndLoadEveryRunState) {
  for (const char* name : RunStateNames()) {
    FakeChannel ch;
    QemuFileWriter w(ch);
    ASSERT_TRUE(SaveGlobalState(w, name).ok());
    ASSERT_TRUE(w.Flush().ok());
    ASSERT_EQ(ch.output().size(), 104u);
    EXPECT_EQ(ch.output()[3], strlen(name) + 1);
    GlobalStateSection gs;
    Outcome o = Load(gs, ch.output(), 1);
    ASSERT_TRUE(o.status.ok()) << name;
    EXPECT_TRUE(gs.received());
    EXPECT_EQ(gs.runstate(), name);
  }
  EXPECT_EQ(RunStateNames().size(), 16u);
}

TEST(GlobalStateSectionTest, RejectsUnknownNames) {
  FakeChannel ch;
  QemuFileWriter w(ch);
  absl::Status s = SaveGlobalState(w, "bogus");
  EXPECT_EQ(s.message(), "invalid parameter value: bogus");
  EXPECT_EQ(w.bytes_pending(), 0u);

  GlobalStateSection gs;
  Outcome o = Load(gs, Bytes().Be32(6).Str("bogus").Fill(95, 0).Take(), 1);
  EXPECT_THAT(o.lines, ElementsAre("invalid parameter value: bogus"));
  EXPECT_EQ(LoadErrno(o.status), -EINVAL);

  GlobalStateSection unterminated;
  o = Load(unterminated, Bytes().Be32(0).Str(std::string(99, 'r')).Str("X").Take(), 1);
  EXPECT_THAT(o.lines, ElementsAre("invalid parameter value: " + std::string(99, 'r')));
}

TEST(DeviceVmdescTest, EntriesMatchQemuText) {
  EXPECT_EQ(TimerVmdescEntry(),
            "{\"name\": \"timer\", \"instance_id\": 0, \"vmsd_name\": \"timer\", \"version\": 2, "
            "\"fields\": [{\"name\": \"cpu_ticks_offset\", \"type\": \"int64\", \"size\": 8}, "
            "{\"name\": \"unused\", \"type\": \"unused_buffer\", \"size\": 8}, {\"name\": "
            "\"cpu_clock_offset\", \"type\": \"int64\", \"size\": 8}]}");
  EXPECT_EQ(GlobalStateVmdescEntry(),
            "{\"name\": \"globalstate\", \"instance_id\": 0, \"vmsd_name\": \"globalstate\", "
            "\"version\": 1, \"fields\": [{\"name\": \"size\", \"type\": \"uint32\", \"size\": 4}, "
            "{\"name\": \"runstate\", \"type\": \"buffer\", \"size\": 100}]}");
}

}  // namespace
}  // namespace migemu::migration
