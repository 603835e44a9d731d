// File: util/unique_fd.h
//
// UniqueFd owns one file descriptor and closes it when destroyed. Raw descriptors exist only at
// the syscall line; everywhere else they travel as UniqueFd (move-only).
//
//   util::UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
//   if (!fd.valid()) return util::ErrnoStatus(errno, "Failed to create socket");
//   ::connect(fd.get(), ...);
//
// Thread-safety: none; one owner at a time.
#ifndef MIGEMU_UTIL_UNIQUE_FD_H_
#define MIGEMU_UTIL_UNIQUE_FD_H_

#include <unistd.h>

#include <utility>

namespace migemu::util {

class UniqueFd final {
 public:
  UniqueFd() = default;
  // Takes ownership of `fd` (may be -1).
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { Reset(); }

  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      Reset(other.Release());
    }
    return *this;
  }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

  // Release: gives up ownership and returns the descriptor.
  int Release() { return std::exchange(fd_, -1); }

  // Reset: closes the current descriptor (if any) and takes `fd`.
  void Reset(int fd = -1) {
    int old = std::exchange(fd_, fd);
    if (old >= 0) {
      // close() must not be retried on EINTR on Linux: the descriptor is gone either way.
      ::close(old);
    }
  }

 private:
  int fd_ = -1;
};

}  // namespace migemu::util

#endif  // MIGEMU_UTIL_UNIQUE_FD_H_
