// File: util/event_loop.h
//
// EventLoop is the main thread's reactor (QEMU's main loop), built on libevent: it watches
// descriptors (monitor sockets, stdin, listeners), runs timers, and runs closures that other
// threads post to it. Everything that touches monitor state runs on this loop; worker threads
// (migration, multifd, workload) never call into the monitor directly, they Post().
//
//   MIG_ASSIGN_OR_RETURN(std::unique_ptr<util::EventLoop> loop, util::EventLoop::Create());
//   auto watch = loop->WatchFd(fd, util::EventLoop::kRead, [&](int events) { ... });
//   auto timer = loop->CreateTimer([&] { ... });
//   timer->Start(absl::Milliseconds(1000), /*repeat=*/true);
//   loop->Post([&] { ... });  // from any thread
//   loop->Run();              // until Quit()
//
// Why libevent: it is the well-kept, Debian-packaged reactor with a small C API that maps 1:1
// onto what QEMU's monitor needs (fd readiness, timers, cross-thread wakeups, signals), and it
// integrates with readline's callback interface by simply watching stdin.
//
// Thread-safety: Post() and Quit() are safe from any thread. Everything else, including
// destroying watches and timers, happens on the loop thread (or before Run()/after it returns).
// Watches and timers must be destroyed before the loop.
#ifndef MIGEMU_UTIL_EVENT_LOOP_H_
#define MIGEMU_UTIL_EVENT_LOOP_H_

#include <absl/base/thread_annotations.h>
#include <absl/status/statusor.h>
#include <absl/synchronization/mutex.h>
#include <absl/time/time.h>

#include <deque>
#include <functional>
#include <memory>
#include <thread>

struct event_base;
struct event;

namespace migemu::util {

class EventLoop;

// A descriptor watch; destroying it stops the watch.
class FdWatch final {
 public:
  ~FdWatch();
  FdWatch(const FdWatch&) = delete;
  FdWatch& operator=(const FdWatch&) = delete;

  // Changes the events watched (EventLoop::kRead | kWrite); 0 pauses the watch.
  void SetEvents(int events);

 private:
  friend class EventLoop;
  FdWatch(EventLoop& loop, int fd, std::function<void(int)> callback);
  static void Trampoline(int fd, short what, void* arg);  // NOLINT(google-runtime-int)

  EventLoop& loop_;
  int fd_;
  int events_ = 0;
  std::function<void(int)> callback_;
  struct event* ev_ = nullptr;
};

// A one-shot or repeating timer; destroying it cancels it.
class Timer final {
 public:
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  // Start: (re)arms the timer to fire after `delay`, then every `delay` if `repeat`.
  void Start(absl::Duration delay, bool repeat = false);
  void Stop();
  bool pending() const;

 private:
  friend class EventLoop;
  Timer(EventLoop& loop, std::function<void()> callback);
  static void Trampoline(int fd, short what, void* arg);  // NOLINT(google-runtime-int)

  EventLoop& loop_;
  std::function<void()> callback_;
  struct event* ev_ = nullptr;
  bool repeat_ = false;
  absl::Duration delay_;
};

class EventLoop final {
 public:
  static constexpr int kRead = 1;
  static constexpr int kWrite = 2;

  // Create: fails only if libevent cannot set up its backend.
  static absl::StatusOr<std::unique_ptr<EventLoop>> Create();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Run: dispatches events on the calling thread until Quit() is called.
  void Run();
  // Quit: makes Run() return after the current callback. Thread-safe.
  void Quit();
  // RunPending: dispatches what is ready now (descriptors, expired timers, posted closures)
  // once, without waiting, on the calling thread; for harnesses that drive the loop step by
  // step (fuzz targets).
  void RunPending();

  // Post: runs `fn` on the loop thread, in posting order. Thread-safe. Closures still queued
  // when the loop is destroyed are dropped without running.
  void Post(std::function<void()> fn);

  // WatchFd: calls `callback(ready_events)` whenever `fd` is ready for one of `events`.
  std::unique_ptr<FdWatch> WatchFd(int fd, int events, std::function<void(int)> callback);

  // CreateTimer: an unarmed timer.
  std::unique_ptr<Timer> CreateTimer(std::function<void()> callback);

  // OnSignal: runs `callback` on the loop thread when `signo` arrives (SIGINT, SIGTERM, ...).
  void OnSignal(int signo, std::function<void()> callback);

  // True on the thread currently inside Run().
  bool IsLoopThread() const;

 private:
  EventLoop() = default;
  static void PostTrampoline(int fd, short what, void* arg);    // NOLINT(google-runtime-int)
  static void SignalTrampoline(int fd, short what, void* arg);  // NOLINT(google-runtime-int)
  void RunPosted();

  friend class FdWatch;
  friend class Timer;

  struct SignalHandler {
    EventLoop* loop;
    std::function<void()> callback;
    struct event* ev;
  };

  struct event_base* base_ = nullptr;
  struct event* post_event_ = nullptr;
  std::deque<std::unique_ptr<SignalHandler>> signals_;
  std::thread::id loop_thread_;

  absl::Mutex mu_;
  std::deque<std::function<void()>> posted_ ABSL_GUARDED_BY(mu_);
  bool post_armed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace migemu::util

#endif  // MIGEMU_UTIL_EVENT_LOOP_H_
