// File: tests/unit/migration/fake_channel.h
//
// FakeChannel: an in-memory io::Channel for QemuFile tests. Reads come from a byte vector,
// writes go to another; knobs make it return short reads/writes, "would block", or fail at a
// given offset, and every call is recorded so tests can see what iovecs the code passed.
#ifndef MIGEMU_TESTS_UNIT_MIGRATION_FAKE_CHANNEL_H_
#define MIGEMU_TESTS_UNIT_MIGRATION_FAKE_CHANNEL_H_

#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include <sys/uio.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "io/channel.h"

namespace migemu::migration::testing {

class FakeChannel final : public io::Channel {
 public:
  struct ReadCall {
    const void* first_base;
    size_t first_len;
    size_t iovcnt;
    size_t returned;
  };
  struct WriteCall {
    std::vector<iovec> iov;
    size_t accepted;
  };

  FakeChannel() = default;
  explicit FakeChannel(std::vector<uint8_t> input) : input_(std::move(input)) {}

  // ---- knobs
  void set_input(std::vector<uint8_t> input) {
    input_ = std::move(input);
    read_pos_ = 0;
  }
  void set_max_read(size_t n) { max_read_ = n; }
  void set_max_write(size_t n) { max_write_ = n; }
  void set_read_error_at(size_t offset, absl::Status error) {
    read_error_at_ = offset;
    read_error_ = std::move(error);
  }
  void set_write_error_after(size_t bytes, absl::Status error) {
    write_error_after_ = bytes;
    write_error_ = std::move(error);
  }
  // Every other Readv/Writev call returns "would block" first.
  void set_would_block(bool on) { would_block_ = on; }

  // ---- observations
  const std::vector<uint8_t>& output() const { return output_; }
  const std::vector<ReadCall>& read_calls() const { return read_calls_; }
  const std::vector<WriteCall>& write_calls() const { return write_calls_; }
  size_t wait_readable_calls() const { return wait_readable_calls_; }
  size_t wait_writable_calls() const { return wait_writable_calls_; }
  size_t read_pos() const { return read_pos_; }

  // ---- io::Channel
  absl::StatusOr<size_t> Readv(absl::Span<const iovec> iov) override {
    if (would_block_ && (toggle_read_ = !toggle_read_)) {
      return absl::UnavailableError("would block");
    }
    if (read_pos_ >= read_error_at_) {
      return read_error_;
    }
    size_t limit = std::min({input_.size() - read_pos_, max_read_, read_error_at_ - read_pos_});
    size_t done = 0;
    for (const iovec& v : iov) {
      size_t n = std::min(v.iov_len, limit - done);
      std::memcpy(v.iov_base, input_.data() + read_pos_ + done, n);
      done += n;
      if (done == limit) {
        break;
      }
    }
    read_pos_ += done;
    read_calls_.push_back(ReadCall{iov.empty() ? nullptr : iov[0].iov_base,
                                   iov.empty() ? 0 : iov[0].iov_len, iov.size(), done});
    return done;
  }

  absl::StatusOr<size_t> Writev(absl::Span<const iovec> iov, uint32_t flags) override {
    if (flags != io::kWriteNone) {
      return absl::InvalidArgumentError("Requested Zero Copy feature is not available");
    }
    if (would_block_ && (toggle_write_ = !toggle_write_)) {
      return absl::UnavailableError("would block");
    }
    if (output_.size() >= write_error_after_) {
      return write_error_;
    }
    size_t limit = std::min(max_write_, write_error_after_ - output_.size());
    size_t done = 0;
    for (const iovec& v : iov) {
      size_t n = std::min(v.iov_len, limit - done);
      const auto* p = static_cast<const uint8_t*>(v.iov_base);
      output_.insert(output_.end(), p, p + n);
      done += n;
      if (done == limit) {
        break;
      }
    }
    write_calls_.push_back(WriteCall{std::vector<iovec>(iov.begin(), iov.end()), done});
    return done;
  }

  absl::Status Shutdown(io::ShutdownDirection) override { return absl::OkStatus(); }
  absl::Status Close() override { return absl::OkStatus(); }
  bool HasFeature(io::Feature feature) const override { return feature == io::Feature::kShutdown; }
  absl::Status SetBlocking(bool) override { return absl::OkStatus(); }
  absl::Status WaitReadable() override {
    ++wait_readable_calls_;
    return absl::OkStatus();
  }
  absl::Status WaitWritable() override {
    ++wait_writable_calls_;
    return absl::OkStatus();
  }
  std::string Name() const override { return "fake"; }
  io::ChannelStats Stats() const override {
    io::ChannelStats s;
    s.bytes_written = output_.size();
    s.bytes_read = read_pos_;
    return s;
  }

 private:
  static constexpr size_t kNoLimit = std::numeric_limits<size_t>::max();

  std::vector<uint8_t> input_;
  size_t read_pos_ = 0;
  size_t max_read_ = kNoLimit;
  size_t read_error_at_ = kNoLimit;
  absl::Status read_error_;
  std::vector<uint8_t> output_;
  size_t max_write_ = kNoLimit;
  size_t write_error_after_ = kNoLimit;
  absl::Status write_error_;
  bool would_block_ = false;
  bool toggle_read_ = false;
  bool toggle_write_ = false;
  std::vector<ReadCall> read_calls_;
  std::vector<WriteCall> write_calls_;
  size_t wait_readable_calls_ = 0;
  size_t wait_writable_calls_ = 0;
};

}  // namespace migemu::migration::testing

#endif  // MIGEMU_TESTS_UNIT_MIGRATION_FAKE_CHANNEL_H_
