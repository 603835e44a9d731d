#include "migration/qemu_file.h"

#include <errno.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "migration/errors.h"
#include "migration/fault_points.h"
#include "tests/unit/migration/fake_channel.h"
#include "util/fault.h"

namespace migemu::migration {
namespace {

using ::migemu::migration::testing::FakeChannel;
using ::testing::ElementsAre;

std::vector<uint8_t> Bytes(std::initializer_list<int> v) {
  std::vector<uint8_t> out;
  for (int b : v) {
    out.push_back(static_cast<uint8_t>(b));
  }
  return out;
}

std::vector<uint8_t> Page(uint8_t seed) {
  std::vector<uint8_t> page(4096);
  for (size_t i = 0; i < page.size(); ++i) {
    page[i] = static_cast<uint8_t>(seed + i * 7);
  }
  return page;
}

// ---- Writer ---------------------------------------------------------------------------------

TEST(QemuFileWriterTest, SmallFieldsAreBigEndianAndCoalescedIntoOneIovec) {
  FakeChannel ch;
  QemuFileWriter w(ch);
  w.PutByte(0x7e);
  w.PutBe16(0x0102);
  w.PutBe32(0x03040506);
  w.PutBe64(0x0708090a0b0c0d0eULL);
  w.PutCountedString("ram0");
  EXPECT_EQ(w.bytes_pending(), 20u);
  EXPECT_TRUE(ch.output().empty()) << "nothing is written before a flush";
  ASSERT_TRUE(w.Flush().ok());
  EXPECT_EQ(ch.output(),
            Bytes({0x7e, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 4, 'r', 'a', 'm', '0'}));
  ASSERT_EQ(ch.write_calls().size(), 1u);
  EXPECT_EQ(ch.write_calls()[0].iov.size(), 1u);
  EXPECT_EQ(w.bytes_written(), 20u);
  EXPECT_EQ(w.bytes_pending(), 0u);
  EXPECT_EQ(w.position(), 20u);
}

TEST(QemuFileWriterTest, PagesAreReferencedNotCopiedAndFieldsBetweenThemAreSeparateIovecs) {
  std::vector<uint8_t> ram(3 * 4096);
  for (size_t i = 0; i < ram.size(); ++i) {
    ram[i] = static_cast<uint8_t>(i * 13);
  }
  FakeChannel ch;
  QemuFileWriter w(ch);
  w.PutBe64(0x08);
  w.PutPageRef(ram.data(), 4096);
  w.PutBe64(0x1028);
  w.PutPageRef(ram.data() + 4096, 4096);
  ASSERT_TRUE(w.Flush().ok());
  ASSERT_EQ(ch.write_calls().size(), 1u);
  const auto& iov = ch.write_calls()[0].iov;
  ASSERT_EQ(iov.size(), 4u);
  EXPECT_EQ(iov[1].iov_base, ram.data()) << "the page must be sent from guest RAM itself";
  EXPECT_EQ(iov[1].iov_len, 4096u);
  EXPECT_EQ(iov[3].iov_base, ram.data() + 4096);
  // The two headers live in the writer's buffer, next to each other, but are separate iovecs
  // because a page sits between them on the wire.
  EXPECT_EQ(static_cast<uint8_t*>(iov[0].iov_base) + 8, iov[2].iov_base);
  ASSERT_EQ(ch.output().size(), 8u + 4096 + 8 + 4096);
  EXPECT_EQ(0, std::memcmp(ch.output().data() + 8, ram.data(), 4096));
  EXPECT_EQ(0, std::memcmp(ch.output().data() + 8 + 4096 + 8, ram.data() + 4096, 4096));
}

TEST(QemuFileWriterTest, ContiguousPagesCoalesceIntoOneIovec) {
  std::vector<uint8_t> ram(8 * 4096, 0x5a);
  FakeChannel ch;
  QemuFileWriter w(ch);
  w.PutByte(1);
  for (int i = 0; i < 8; ++i) {
    w.PutPageRef(ram.data() + i * 4096, 4096);
  }
  w.PutPageRef(ram.data(), 4096);  // not contiguous with the previous one
  ASSERT_TRUE(w.Flush().ok());
  ASSERT_EQ(ch.write_calls().size(), 1u);
  const auto& iov = ch.write_calls()[0].iov;
  ASSERT_EQ(iov.size(), 3u);
  EXPECT_EQ(iov[1].iov_base, ram.data());
  EXPECT_EQ(iov[1].iov_len, 8u * 4096);
  EXPECT_EQ(iov[2].iov_len, 4096u);
  EXPECT_EQ(ch.output().size(), 1u + 9 * 4096);
}

TEST(QemuFileWriterTest, BatchIsFlushedWhenTheIovecArrayReachesIovMax) {
  // Alternating header/page pairs from non-adjacent pages: two iovecs per record.
  constexpr size_t kRecords = QemuFileWriter::kMaxIov;  // 2 * IOV_MAX iovecs in total
  std::vector<uint8_t> ram(2 * kRecords * 4096);
  for (size_t i = 0; i < ram.size(); i += 4096) {
    ram[i] = static_cast<uint8_t>(i / 4096);
  }
  FakeChannel ch;
  QemuFileWriter w(ch);
  for (size_t r = 0; r < kRecords; ++r) {
    w.PutBe64(r);
    w.PutPageRef(ram.data() + 2 * r * 4096, 4096);
  }
  ASSERT_TRUE(w.Flush().ok());
  ASSERT_GE(ch.write_calls().size(), 2u);
  for (const auto& call : ch.write_calls()) {
    EXPECT_LE(call.iov.size(), QemuFileWriter::kMaxIov);
  }
  EXPECT_EQ(ch.write_calls()[0].iov.size(), QemuFileWriter::kMaxIov)
      << "the first batch is exactly IOV_MAX iovecs: one writev for 512 pages";
  EXPECT_EQ(w.flush_count(), ch.write_calls().size());
  ASSERT_EQ(ch.output().size(), kRecords * (8 + 4096));
  for (size_t r = 0; r < kRecords; ++r) {
    const uint8_t* rec = ch.output().data() + r * (8 + 4096);
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) {
      v = (v << 8) | rec[i];
    }
    ASSERT_EQ(v, r);
    ASSERT_EQ(rec[8], static_cast<uint8_t>(2 * r));
  }
}

TEST(QemuFileWriterTest, FullBufferIsFlushedAndLargeBuffersAreChunked) {
  FakeChannel ch;
  QemuFileWriter w(ch, /*buffer_size=*/64);
  std::vector<uint8_t> data(1000);
  std::iota(data.begin(), data.end(), 0);
  w.PutBuffer(data.data(), data.size());
  EXPECT_GE(ch.write_calls().size(), 15u) << "a 64-byte buffer flushes every 64 bytes";
  ASSERT_TRUE(w.Flush().ok());
  EXPECT_EQ(ch.output(), data);
  EXPECT_EQ(w.bytes_written(), 1000u);
}

TEST(QemuFileWriterTest, MultiByteFieldsNeverStraddleABufferFlush) {
  FakeChannel ch;
  QemuFileWriter w(ch, /*buffer_size=*/16);
  for (uint64_t i = 0; i < 10; ++i) {
    w.PutByte(0xaa);
    w.PutBe64(i);
  }
  ASSERT_TRUE(w.Flush().ok());
  ASSERT_EQ(ch.output().size(), 90u);
  for (uint64_t i = 0; i < 10; ++i) {
    EXPECT_EQ(ch.output()[i * 9], 0xaa);
    EXPECT_EQ(ch.output()[i * 9 + 8], i);
  }
}

TEST(QemuFileWriterTest, PartialWritesAreCompleted) {
  std::vector<uint8_t> page = Page(3);
  FakeChannel ch;
  ch.set_max_write(3);
  ch.set_would_block(true);
  QemuFileWriter w(ch);
  w.PutBe32(0xdeadbeef);
  w.PutPageRef(page.data(), page.size());
  w.PutByte(9);
  ASSERT_TRUE(w.Flush().ok());
  ASSERT_EQ(ch.output().size(), 4u + 4096 + 1);
  EXPECT_EQ(0, std::memcmp(ch.output().data() + 4, page.data(), 4096));
  EXPECT_EQ(ch.output().back(), 9);
  EXPECT_EQ(w.bytes_written(), 4101u);
  EXPECT_GT(ch.wait_writable_calls(), 0u);
}

TEST(QemuFileWriterTest, FirstErrorIsStickyAndLaterPutsAreDropped) {
  std::vector<uint8_t> page = Page(1);
  FakeChannel ch;
  ch.set_write_error_after(10, absl::UnavailableError("Unable to write to socket: Broken pipe"));
  QemuFileWriter w(ch);
  w.PutBe64(1);
  ASSERT_TRUE(w.Flush().ok());
  w.PutBe64(2);
  w.PutPageRef(page.data(), page.size());
  absl::Status s = w.Flush();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), "Unable to write to socket: Broken pipe");
  EXPECT_TRUE(w.has_error());
  EXPECT_TRUE(w.RateLimited()) << "a failed file is always rate limited (qemu_file_rate_limit)";
  EXPECT_EQ(w.bytes_written(), 8u) << "the failed batch is not counted";
  const size_t calls = ch.write_calls().size();
  w.SetError(absl::InternalError("second"));
  w.PutBe64(3);
  w.PutBuffer("xyz", 3);
  EXPECT_EQ(w.bytes_pending(), 0u);
  EXPECT_EQ(w.Flush().message(), "Unable to write to socket: Broken pipe");
  EXPECT_EQ(ch.write_calls().size(), calls) << "nothing more reaches the channel";
}

TEST(QemuFileWriterTest, WriteFaultFailsTheNthBatchWithNothingWritten) {
  util::Faults::Get().Clear();
  util::Faults::Get().Arm(kFaultSendWrite, {.after = 1});
  FakeChannel ch;
  QemuFileWriter w(ch);
  w.PutBe64(1);
  ASSERT_TRUE(w.Flush().ok());
  w.PutBe64(2);
  EXPECT_EQ(w.Flush().message(), "injected fault at migration.send.write");
  util::Faults::Get().Clear();
  EXPECT_EQ(ch.output().size(), 8u) << "the failed batch never reached the channel";
  EXPECT_EQ(w.bytes_written(), 8u);
}

TEST(QemuFileWriterTest, ShortWriteFaultWritesHalfTheBatchThenFails) {
  util::Faults::Get().Clear();
  util::Faults::Get().Arm(kFaultSendShortWrite, {});
  std::vector<uint8_t> page = Page(3);
  FakeChannel ch;
  QemuFileWriter w(ch);
  w.PutBe64(0x0102030405060708);
  w.PutPageRef(page.data(), page.size());
  EXPECT_EQ(w.Flush().message(), "injected fault at migration.send.short-write");
  util::Faults::Get().Clear();
  ASSERT_EQ(ch.output().size(), (8 + page.size()) / 2) << "half of the batch went out";
  EXPECT_EQ(ch.output()[0], 0x01);
  EXPECT_TRUE(std::equal(ch.output().begin() + 8, ch.output().end(), page.begin()));
  w.PutBe64(3);
  EXPECT_FALSE(w.Flush().ok()) << "the error is sticky";
  EXPECT_EQ(ch.output().size(), (8 + page.size()) / 2);
}

TEST(QemuFileWriterTest, RateLimitCountsEveryPut) {
  std::vector<uint8_t> page = Page(2);
  FakeChannel ch;
  QemuFileWriter w(ch);
  w.SetRateLimit(4096);
  w.PutBe64(1);
  EXPECT_FALSE(w.RateLimited());
  w.PutPageRef(page.data(), page.size());
  EXPECT_EQ(w.rate_limit_used(), 4104);
  EXPECT_TRUE(w.RateLimited());
  w.ResetRateLimit();
  EXPECT_FALSE(w.RateLimited());
  w.AccountRateLimit(5000);
  EXPECT_TRUE(w.RateLimited());
  w.SetRateLimit(0);
  EXPECT_FALSE(w.RateLimited()) << "0 means unlimited";
}

// ---- Reader ---------------------------------------------------------------------------------

TEST(QemuFileReaderTest, ReadsBigEndianFieldsAcrossTinyChannelReads) {
  FakeChannel ch(Bytes({0x7e, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 3, 'r', 'a', 'm'}));
  ch.set_max_read(1);
  ch.set_would_block(true);
  QemuFileReader r(ch);
  EXPECT_EQ(r.GetByte(), 0x7e);
  EXPECT_EQ(r.GetBe16(), 0x0102);
  EXPECT_EQ(r.GetBe32(), 0x03040506u);
  EXPECT_EQ(r.GetBe64(), 0x0708090a0b0c0d0eULL);
  std::string s;
  EXPECT_EQ(r.GetCountedString(&s), 3u);
  EXPECT_EQ(s, "ram");
  EXPECT_EQ(r.error(), 0);
  EXPECT_EQ(r.position(), 19u);
  EXPECT_GT(ch.wait_readable_calls(), 0u);
}

TEST(QemuFileReaderTest, EndOfStreamReturnsZerosAndIsASticky_EIO) {
  FakeChannel ch(Bytes({0x12, 0x34}));
  QemuFileReader r(ch);
  EXPECT_EQ(r.GetBe32(), 0x12340000u) << "missing bytes read as zero, as qemu_get_byte";
  EXPECT_EQ(r.error(), -EIO);
  EXPECT_EQ(r.status().message(), kErrStreamEof);
  const size_t reads = ch.read_calls().size();
  EXPECT_EQ(r.GetBe64(), 0u);
  uint8_t buf[16] = {1};
  EXPECT_EQ(r.ReadInto(buf, sizeof(buf)), 0u);
  EXPECT_EQ(r.PeekByte(), 0);
  EXPECT_EQ(ch.read_calls().size(), reads) << "a failed stream is never read again";
  r.SetError(-EINVAL, absl::InvalidArgumentError("later"));
  EXPECT_EQ(r.error(), -EIO) << "first error wins";
}

TEST(QemuFileReaderTest, ChannelErrorBecomesStickyWithItsText) {
  std::vector<uint8_t> data(100, 0x11);
  FakeChannel ch(data);
  ch.set_read_error_at(50, absl::UnavailableError("Unable to read from socket: Connection reset"));
  QemuFileReader r(ch);
  std::vector<uint8_t> out(100);
  EXPECT_EQ(r.GetBuffer(out.data(), out.size()), 50u);
  EXPECT_EQ(r.error(), -EIO);
  EXPECT_EQ(r.status().message(), "Unable to read from socket: Connection reset");
}

TEST(QemuFileReaderTest, ReadFaultFailsTheNthChannelReadAsEio) {
  util::Faults::Get().Clear();
  util::Faults::Get().Arm(kFaultRecvRead, {.after = 1});
  std::vector<uint8_t> data(4096, 0x22);
  FakeChannel ch(data);
  QemuFileReader r(ch, 1024);
  EXPECT_EQ(r.GetBe32(), 0x22222222u) << "the first read passes";
  std::vector<uint8_t> out(2048);
  EXPECT_LT(r.GetBuffer(out.data(), out.size()), out.size());
  util::Faults::Get().Clear();
  EXPECT_EQ(r.error(), -EIO);
  EXPECT_EQ(r.status().message(), "injected fault at migration.recv.read");
}

TEST(FaultPointsTest, CatalogueNamesAreUniqueAndFindable) {
  std::set<std::string> names;
  for (const FaultPointInfo& p : FaultPoints()) {
    const std::string name = p.name;
    EXPECT_TRUE(names.insert(name).second) << name;
    EXPECT_TRUE(name.rfind("migration.", 0) == 0 || name.rfind("multifd.", 0) == 0) << name;
    EXPECT_EQ(FindFaultPoint(name), &p);
    EXPECT_GT(std::strlen(p.what), 10u) << name;
  }
  EXPECT_EQ(FindFaultPoint("migration.send.conect"), nullptr);
  EXPECT_EQ(FindFaultPoint(""), nullptr);
  EXPECT_EQ(names.size(), 24u);
}

TEST(QemuFileReaderTest, ReadIntoReadsPageDataStraightIntoTheDestination) {
  // A page record stream: be64 header + 4096 bytes, twice, read from a channel that hands out
  // everything it has in one go.
  std::vector<uint8_t> stream;
  std::vector<uint8_t> p1 = Page(1);
  std::vector<uint8_t> p2 = Page(2);
  stream.insert(stream.end(), 8, 0);
  stream.insert(stream.end(), p1.begin(), p1.end());
  stream.insert(stream.end(), 8, 1);
  stream.insert(stream.end(), p2.begin(), p2.end());
  FakeChannel ch(stream);
  ch.set_max_read(4000);  // the first page needs two reads
  QemuFileReader r(ch, /*buffer_size=*/1024);
  EXPECT_EQ(r.GetBe64(), 0u);  // buffers 1024 bytes: 8 header + 1016 of page 1
  std::vector<uint8_t> dst(4096);
  ASSERT_EQ(r.ReadInto(dst.data(), dst.size()), 4096u);
  EXPECT_EQ(dst, p1);
  // After copying the 1016 buffered bytes, the rest went into dst itself: the readv's first
  // iovec is inside dst, followed by the read-ahead buffer.
  ASSERT_GE(ch.read_calls().size(), 2u);
  const auto& direct = ch.read_calls()[1];
  EXPECT_EQ(direct.first_base, dst.data() + 1016);
  EXPECT_EQ(direct.first_len, 4096u - 1016);
  EXPECT_EQ(direct.iovcnt, 2u);
  // What followed page 1 in that readv (the next header) is buffered, not lost.
  EXPECT_EQ(r.GetBe64(), 0x0101010101010101ULL);
  ASSERT_EQ(r.ReadInto(dst.data(), dst.size()), 4096u);
  EXPECT_EQ(dst, p2);
  EXPECT_EQ(r.position(), stream.size());
  EXPECT_EQ(r.error(), 0);
}

TEST(QemuFileReaderTest, LargeReadIntoCopiesOnlyWhatWasBuffered) {
  std::vector<uint8_t> stream(1 << 20);
  for (size_t i = 0; i < stream.size(); ++i) {
    stream[i] = static_cast<uint8_t>(i * 31 + 7);
  }
  FakeChannel ch(stream);
  ch.set_max_read(64 * 1024);
  QemuFileReader r(ch, /*buffer_size=*/4096);
  EXPECT_EQ(r.GetByte(), stream[0]);  // fills 4096 bytes of buffer
  std::vector<uint8_t> dst(stream.size() - 1);
  ASSERT_EQ(r.ReadInto(dst.data(), dst.size()), dst.size());
  EXPECT_EQ(0, std::memcmp(dst.data(), stream.data() + 1, dst.size()));
  size_t direct = 0;
  for (const auto& call : ch.read_calls()) {
    const auto* base = static_cast<const uint8_t*>(call.first_base);
    if (base >= dst.data() && base < dst.data() + dst.size()) {
      direct += std::min(call.returned, call.first_len);
    }
  }
  EXPECT_EQ(direct, dst.size() - 4095) << "everything not already buffered bypassed the buffer";
}

TEST(QemuFileReaderTest, PeekDoesNotConsume) {
  FakeChannel ch(Bytes({5, 3, 'a', 'b', 'c', 9}));
  ch.set_max_read(2);
  QemuFileReader r(ch);
  absl::Span<const uint8_t> p = r.Peek(3, 2);
  EXPECT_THAT(std::vector<uint8_t>(p.begin(), p.end()), ElementsAre('a', 'b', 'c'));
  EXPECT_EQ(r.PeekByte(0), 5);
  EXPECT_EQ(r.PeekByte(1), 3);
  EXPECT_EQ(r.position(), 0u);
  EXPECT_EQ(r.Skip(5), 5u);
  EXPECT_EQ(r.GetByte(), 9);
  EXPECT_EQ(r.Peek(4).size(), 0u);
  EXPECT_EQ(r.error(), -EIO);
}

TEST(QemuFileReaderTest, CountedStringCutShortOrEmptyReturnsZero) {
  {
    FakeChannel ch(Bytes({5, 'a', 'b'}));
    QemuFileReader r(ch);
    std::string s;
    EXPECT_EQ(r.GetCountedString(&s), 0u);
    EXPECT_EQ(s, "ab");
    EXPECT_EQ(r.error(), -EIO);
  }
  {
    FakeChannel ch(Bytes({0, 1}));
    QemuFileReader r(ch);
    std::string s;
    EXPECT_EQ(r.GetCountedString(&s), 0u);
    EXPECT_EQ(r.error(), 0);
    EXPECT_EQ(r.GetByte(), 1);
  }
}

// Writer and reader agree, across many interleavings of field and page sizes.
TEST(QemuFileTest, WriterOutputReadsBackThroughTheReader) {
  std::vector<uint8_t> ram(64 * 4096);
  for (size_t i = 0; i < ram.size(); ++i) {
    ram[i] = static_cast<uint8_t>((i * 2654435761u) >> 13);
  }
  FakeChannel out;
  QemuFileWriter w(out, 256, 16);
  for (int i = 0; i < 64; ++i) {
    w.PutBe64(static_cast<uint64_t>(i) << 12 | 8);
    w.PutCountedString(std::string(static_cast<size_t>(i % 7), 'x'));
    w.PutPageRef(ram.data() + (63 - i) * 4096, 4096);
  }
  ASSERT_TRUE(w.Flush().ok());
  FakeChannel in(out.output());
  in.set_max_read(1000);
  QemuFileReader r(in, 700);
  std::vector<uint8_t> page(4096);
  for (int i = 0; i < 64; ++i) {
    ASSERT_EQ(r.GetBe64(), static_cast<uint64_t>(i) << 12 | 8);
    std::string s;
    r.GetCountedString(&s);
    ASSERT_EQ(s.size(), static_cast<size_t>(i % 7));
    ASSERT_EQ(r.ReadInto(page.data(), 4096), 4096u);
    ASSERT_EQ(0, std::memcmp(page.data(), ram.data() + (63 - i) * 4096, 4096)) << i;
  }
  EXPECT_EQ(r.error(), 0);
  EXPECT_EQ(r.position(), w.bytes_written());
}

}  // namespace
}  // namespace migemu::migration
