#include "util/event_loop.h"

#include <absl/status/status.h>

#include <mutex>
#include <utility>

#include <event2/event.h>
#include <event2/thread.h>

#include "util/check.h"

namespace migemu::util {

namespace {

// libevent needs its pthread locking installed once, before the first event_base, so that
// event_active() from other threads (Post) is safe.
void InitLibeventThreads() {
  static std::once_flag once;
  std::call_once(once, [] { MIG_CHECK(evthread_use_pthreads() == 0, "evthread_use_pthreads"); });
}

timeval DelayToTimeval(absl::Duration d) {
  if (d < absl::ZeroDuration()) {
    d = absl::ZeroDuration();
  }
  return absl::ToTimeval(d);
}

}  // namespace

// ---- FdWatch ------------------------------------------------------------------------------

FdWatch::FdWatch(EventLoop& loop, int fd, std::function<void(int)> callback)
    : loop_(loop), fd_(fd), callback_(std::move(callback)) {}

FdWatch::~FdWatch() {
  if (ev_ != nullptr) {
    event_free(ev_);
  }
}

void FdWatch::SetEvents(int events) {
  if (events == events_ && ev_ != nullptr) {
    return;
  }
  if (ev_ != nullptr) {
    event_free(ev_);
    ev_ = nullptr;
  }
  events_ = events;
  if (events == 0) {
    return;
  }
  short what = EV_PERSIST;  // NOLINT(google-runtime-int)
  if ((events & EventLoop::kRead) != 0) {
    what |= EV_READ;
  }
  if ((events & EventLoop::kWrite) != 0) {
    what |= EV_WRITE;
  }
  ev_ = event_new(loop_.base_, fd_, what, &FdWatch::Trampoline, this);
  MIG_CHECK(ev_ != nullptr, "event_new");
  MIG_CHECK(event_add(ev_, nullptr) == 0, "event_add");
}

void FdWatch::Trampoline(int /*fd*/, short what, void* arg) {  // NOLINT(google-runtime-int)
  auto* self = static_cast<FdWatch*>(arg);
  int ready = 0;
  if ((what & EV_READ) != 0) {
    ready |= EventLoop::kRead;
  }
  if ((what & EV_WRITE) != 0) {
    ready |= EventLoop::kWrite;
  }
  // The callback may destroy this watch; do not touch `self` afterwards.
  std::function<void(int)> cb = self->callback_;
  cb(ready);
}

// ---- Timer --------------------------------------------------------------------------------

Timer::Timer(EventLoop& loop, std::function<void()> callback)
    : loop_(loop), callback_(std::move(callback)) {
  ev_ = event_new(loop_.base_, -1, 0, &Timer::Trampoline, this);
  MIG_CHECK(ev_ != nullptr, "event_new(timer)");
}

Timer::~Timer() { event_free(ev_); }

void Timer::Start(absl::Duration delay, bool repeat) {
  repeat_ = repeat;
  delay_ = delay;
  timeval tv = DelayToTimeval(delay);
  MIG_CHECK(event_add(ev_, &tv) == 0, "event_add(timer)");
}

void Timer::Stop() { event_del(ev_); }

bool Timer::pending() const { return event_pending(ev_, EV_TIMEOUT, nullptr) != 0; }

void Timer::Trampoline(int /*fd*/, short /*what*/, void* arg) {  // NOLINT(google-runtime-int)
  auto* self = static_cast<Timer*>(arg);
  if (self->repeat_) {
    timeval tv = DelayToTimeval(self->delay_);
    event_add(self->ev_, &tv);
  }
  // The callback may destroy this timer; copy it first.
  std::function<void()> cb = self->callback_;
  cb();
}

// ---- EventLoop ----------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<EventLoop>> EventLoop::Create() {
  InitLibeventThreads();
  std::unique_ptr<EventLoop> loop(new EventLoop());  // NOLINT: private constructor
  loop->base_ = event_base_new();
  if (loop->base_ == nullptr) {
    return absl::InternalError("Failed to create the event loop (event_base_new)");
  }
  loop->post_event_ = event_new(loop->base_, -1, 0, &EventLoop::PostTrampoline, loop.get());
  if (loop->post_event_ == nullptr) {
    return absl::InternalError("Failed to create the event loop (event_new)");
  }
  return loop;
}

EventLoop::~EventLoop() {
  for (auto& s : signals_) {
    event_free(s->ev);
  }
  signals_.clear();
  if (post_event_ != nullptr) {
    event_free(post_event_);
  }
  if (base_ != nullptr) {
    event_base_free(base_);
  }
}

void EventLoop::Run() {
  loop_thread_ = std::this_thread::get_id();
  // EVLOOP_NO_EXIT_ON_EMPTY: keep running with no events registered (Post may add work).
  event_base_loop(base_, EVLOOP_NO_EXIT_ON_EMPTY);
  loop_thread_ = std::thread::id();
}

void EventLoop::Quit() { event_base_loopbreak(base_); }

void EventLoop::RunPending() {
  loop_thread_ = std::this_thread::get_id();
  event_base_loop(base_, EVLOOP_NONBLOCK);
  loop_thread_ = std::thread::id();
}

bool EventLoop::IsLoopThread() const { return std::this_thread::get_id() == loop_thread_; }

void EventLoop::Post(std::function<void()> fn) {
  bool arm = false;
  {
    absl::MutexLock lock(&mu_);
    posted_.push_back(std::move(fn));
    if (!post_armed_) {
      post_armed_ = true;
      arm = true;
    }
  }
  if (arm) {
    event_active(post_event_, EV_TIMEOUT, 0);
  }
}

void EventLoop::PostTrampoline(int /*fd*/, short /*what*/, void* arg) {  // NOLINT
  static_cast<EventLoop*>(arg)->RunPosted();
}

void EventLoop::RunPosted() {
  std::deque<std::function<void()>> batch;
  {
    absl::MutexLock lock(&mu_);
    batch.swap(posted_);
    post_armed_ = false;
  }
  for (auto& fn : batch) {
    fn();
  }
}

std::unique_ptr<FdWatch> EventLoop::WatchFd(int fd, int events, std::function<void(int)> callback) {
  std::unique_ptr<FdWatch> w(new FdWatch(*this, fd, std::move(callback)));  // NOLINT
  w->SetEvents(events);
  return w;
}

std::unique_ptr<Timer> EventLoop::CreateTimer(std::function<void()> callback) {
  return std::unique_ptr<Timer>(new Timer(*this, std::move(callback)));  // NOLINT
}

void EventLoop::OnSignal(int signo, std::function<void()> callback) {
  auto handler = std::make_unique<SignalHandler>();
  handler->loop = this;
  handler->callback = std::move(callback);
  handler->ev =
      event_new(base_, signo, EV_SIGNAL | EV_PERSIST, &EventLoop::SignalTrampoline, handler.get());
  MIG_CHECK(handler->ev != nullptr, "event_new(signal)");
  MIG_CHECK(event_add(handler->ev, nullptr) == 0, "event_add(signal)");
  signals_.push_back(std::move(handler));
}

void EventLoop::SignalTrampoline(int /*fd*/, short /*what*/, void* arg) {  // NOLINT
  auto* h = static_cast<SignalHandler*>(arg);
  h->callback();
}

}  // namespace migemu::util
