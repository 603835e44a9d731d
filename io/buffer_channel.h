// File: io/buffer_channel.h
//
// BufferChannel is an in-memory io::Channel for tests (QEMU's QIOChannelBuffer, plus a
// connected pair like socketpair()). Bytes written to one end can be read from the other; a
// standalone channel reads what the test pushes in and keeps what the code under test writes.
//
//   auto [a, b] = io::BufferChannel::CreatePair();
//   ASSERT_TRUE(a->WriteAll("hello", 5).ok());
//   char buf[5];
//   ASSERT_TRUE(b->ReadAll(buf, 5).ok());
//
//   auto ch = io::BufferChannel::Create();
//   ch->PushInput(stream_bytes);  ch->EndInput();   // what the code under test will read
//   RunLoader(*ch);
//   std::string out = ch->TakeOutput();             // what it wrote
//
// Options let tests exercise the paths real sockets take under pressure: a byte `capacity`
// per direction makes writes partial and then block (or would-block), `max_io` caps every
// transfer to force partial reads and writes, and `zero_copy` offers Feature::kZeroCopySend
// with loopback-like accounting: every zero-copy write counts as a call (bytes are copied at
// once), and Flush() completes them all as "copied" (kAllCopied), or as real zero copy when
// `zero_copy_copied` is false.
//
// Thread-safety: fully thread-safe; blocking reads/writes wait on a condition variable and
// Shutdown()/Close() (of either end) wake them.
#ifndef MIGEMU_IO_BUFFER_CHANNEL_H_
#define MIGEMU_IO_BUFFER_CHANNEL_H_

#include <absl/base/thread_annotations.h>
#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include <absl/strings/string_view.h>
#include <absl/synchronization/mutex.h>

#include <atomic>
#include <cstddef>
#include <deque>
#include <limits>
#include <memory>
#include <string>
#include <utility>

#include "io/channel.h"

namespace migemu::io {

struct BufferChannelOptions {
  size_t capacity = std::numeric_limits<size_t>::max();  // bytes buffered per direction
  size_t max_io = std::numeric_limits<size_t>::max();    // cap per Readv/Writev call
  bool zero_copy = false;                                // offer Feature::kZeroCopySend
  bool zero_copy_copied = true;  // Flush reports completions as SO_EE_CODE_ZEROCOPY_COPIED
  std::string name = "buffer";
};

class BufferChannel final : public Channel {
 public:
  using Options = BufferChannelOptions;

  // Create: a standalone channel (input fed by PushInput, output kept for TakeOutput).
  static std::unique_ptr<BufferChannel> Create(Options options = {});
  static std::unique_ptr<BufferChannel> Create(Options options, std::string input) {
    auto ch = Create(std::move(options));
    ch->PushInput(input);
    ch->EndInput();
    return ch;
  }
  // CreatePair: two connected ends.
  static std::pair<std::unique_ptr<BufferChannel>, std::unique_ptr<BufferChannel>> CreatePair(
      const Options& options = {});

  ~BufferChannel() override;

  // PushInput: appends to what this end reads (regardless of capacity). EndInput: after the
  // pushed bytes, reads see EOF.
  void PushInput(absl::string_view bytes);
  void EndInput();
  // TakeOutput: removes and returns everything written by this end and not yet read by a peer.
  std::string TakeOutput();

  // io::Channel.
  absl::StatusOr<size_t> Readv(absl::Span<const iovec> iov) override;
  absl::StatusOr<size_t> Writev(absl::Span<const iovec> iov, uint32_t flags) override;
  absl::StatusOr<FlushResult> Flush() override;
  absl::Status Shutdown(ShutdownDirection direction) override;
  absl::Status Close() override;
  bool HasFeature(Feature feature) const override;
  absl::Status SetBlocking(bool blocking) override;
  absl::Status WaitReadable() override;
  absl::Status WaitWritable() override;
  std::string Name() const override { return options_.name; }
  ChannelStats Stats() const override;

 private:
  // One direction of bytes. Shared by the two ends of a pair: each end holds both of its pipes
  // and the peer holds the same two, so shared ownership is the simplest correct lifetime.
  struct Pipe {
    absl::Mutex mu;
    std::deque<char> data ABSL_GUARDED_BY(mu);
    bool writer_closed ABSL_GUARDED_BY(mu) = false;  // EOF after data
    bool reader_closed ABSL_GUARDED_BY(mu) = false;  // writes fail with EPIPE
  };

  BufferChannel(Options options, std::shared_ptr<Pipe> in, std::shared_ptr<Pipe> out);

  const Options options_;
  const std::shared_ptr<Pipe> in_;   // this end reads from here
  const std::shared_ptr<Pipe> out_;  // this end writes here
  std::atomic<bool> blocking_{true};
  std::atomic<bool> closed_{false};

  mutable absl::Mutex stats_mu_;
  ChannelStats stats_ ABSL_GUARDED_BY(stats_mu_);
  uint64_t zc_flushed_ ABSL_GUARDED_BY(stats_mu_) = 0;
};

}  // namespace migemu::io

#endif  // MIGEMU_IO_BUFFER_CHANNEL_H_
