#include "monitor/connection.h"

#include <sys/stat.h>
#include <unistd.h>

#include <utility>

#include "io/socket_channel.h"

namespace migemu::monitor {

Connection::Connection(util::EventLoop& loop, std::unique_ptr<io::Channel> in,
                       std::unique_ptr<io::Channel> out, Callbacks callbacks)
    : loop_(loop),
      in_(std::move(in)),
      out_owned_(std::move(out)),
      out_(out_owned_ != nullptr ? out_owned_.get() : in_.get()),
      callbacks_(std::move(callbacks)) {}

Connection::~Connection() {
  *alive_ = false;
  Close();
}

namespace {

// epoll cannot watch regular files or /dev/null (stdio redirected from them); reading those
// never blocks.
bool Pollable(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) {
    return true;
  }
  return S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || (S_ISCHR(st.st_mode) && isatty(fd) != 0);
}

}  // namespace

void Connection::Start(bool nonblocking) {
  in_pollable_ = Pollable(in_->PollFd());
  if (nonblocking) {
    in_->SetBlocking(false).IgnoreError();
    if (out_ != in_.get()) {
      out_->SetBlocking(false).IgnoreError();
    }
  }
  UpdateWatches();
}

void Connection::UpdateWatches() {
  if (closed_) {
    read_watch_.reset();
    write_watch_.reset();
    return;
  }
  const int in_fd = in_->PollFd();
  const int out_fd = out_->PollFd();
  const bool want_read = !suspended_;
  const bool want_write = !pending_.empty();
  if (!in_pollable_) {
    if (want_read && !read_posted_) {
      read_posted_ = true;
      std::weak_ptr<bool> alive = alive_;
      loop_.Post([this, alive] {
        if (alive.expired() || !*alive.lock()) {
          return;
        }
        read_posted_ = false;
        if (!closed_ && !suspended_) {
          OnReadable();
          UpdateWatches();
        }
      });
    }
    if (in_fd != out_fd) {
      if (write_watch_ == nullptr) {
        write_watch_ = loop_.WatchFd(out_fd, 0, [this](int) { OnWritable(); });
      }
      write_watch_->SetEvents(want_write ? util::EventLoop::kWrite : 0);
    }
    return;
  }
  if (in_fd == out_fd) {
    int events =
        (want_read ? util::EventLoop::kRead : 0) | (want_write ? util::EventLoop::kWrite : 0);
    if (read_watch_ == nullptr) {
      read_watch_ = loop_.WatchFd(in_fd, events, [this](int ready) {
        if ((ready & util::EventLoop::kWrite) != 0) {
          OnWritable();
        }
        if ((ready & util::EventLoop::kRead) != 0 && !closed_) {
          OnReadable();
        }
      });
    } else {
      read_watch_->SetEvents(events);
    }
    return;
  }
  if (read_watch_ == nullptr) {
    read_watch_ = loop_.WatchFd(in_fd, 0, [this](int) { OnReadable(); });
  }
  read_watch_->SetEvents(want_read ? util::EventLoop::kRead : 0);
  if (write_watch_ == nullptr) {
    write_watch_ = loop_.WatchFd(out_fd, 0, [this](int) { OnWritable(); });
  }
  write_watch_->SetEvents(want_write ? util::EventLoop::kWrite : 0);
}

void Connection::SuspendInput(bool suspended) {
  suspended_ = suspended;
  UpdateWatches();
}

void Connection::Fail() {
  if (closed_) {
    return;
  }
  Close();
  if (callbacks_.on_closed) {
    // The owner may destroy us from here: nothing touches `this` afterwards.
    std::function<void()> cb = callbacks_.on_closed;
    cb();
  }
}

void Connection::Close() {
  if (closed_) {
    return;
  }
  closed_ = true;
  read_watch_.reset();
  write_watch_.reset();
  in_->Close().IgnoreError();
  if (out_owned_ != nullptr) {
    out_owned_->Close().IgnoreError();
  }
}

void Connection::OnReadable() {
  char buf[4096];
  iovec iov{buf, sizeof(buf)};
  absl::StatusOr<size_t> n;
  std::vector<util::UniqueFd> fds;
  auto* sock =
      in_->HasFeature(io::Feature::kFdPass) ? dynamic_cast<io::SocketChannel*>(in_.get()) : nullptr;
  if (sock != nullptr) {
    n = sock->ReadvWithFds(absl::MakeConstSpan(&iov, 1), &fds);
  } else {
    n = in_->Readv(absl::MakeConstSpan(&iov, 1));
  }
  if (!n.ok()) {
    if (io::IsWouldBlock(n.status())) {
      return;
    }
    Fail();
    return;
  }
  if (*n == 0) {
    Fail();
    return;
  }
  if (!fds.empty() && callbacks_.on_fds) {
    callbacks_.on_fds(std::move(fds));
  }
  if (callbacks_.on_data) {
    callbacks_.on_data(absl::string_view(buf, *n));
  }
}

void Connection::Write(absl::string_view bytes) {
  if (closed_) {
    return;
  }
  pending_.append(bytes.data(), bytes.size());
  Flush();
}

void Connection::OnWritable() { Flush(); }

void Connection::Flush() {
  while (!pending_.empty() && !closed_) {
    iovec iov{pending_.data(), pending_.size()};
    absl::StatusOr<size_t> n = out_->Writev(absl::MakeConstSpan(&iov, 1), io::kWriteNone);
    if (!n.ok()) {
      if (io::IsWouldBlock(n.status())) {
        break;
      }
      Fail();
      return;
    }
    pending_.erase(0, *n);
  }
  UpdateWatches();
}

}  // namespace migemu::monitor
