#include "util/event_loop.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace migemu::util {
namespace {

TEST(EventLoopTest, PostFromOtherThreadsRunsInOrderOnLoopThread) {
  auto loop = EventLoop::Create();
  ASSERT_TRUE(loop.ok());
  std::vector<int> seen;
  std::atomic<bool> on_loop{true};
  std::thread producer([&] {
    for (int i = 0; i < 1000; ++i) {
      (*loop)->Post([&, i] {
        if (!(*loop)->IsLoopThread()) {
          on_loop = false;
        }
        seen.push_back(i);
        if (i == 999) {
          (*loop)->Quit();
        }
      });
    }
  });
  (*loop)->Run();
  producer.join();
  ASSERT_EQ(seen.size(), 1000u);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_EQ(seen[i], i);
  }
  EXPECT_TRUE(on_loop);
}

TEST(EventLoopTest, RepeatingTimerFiresUntilStopped) {
  auto loop = EventLoop::Create();
  ASSERT_TRUE(loop.ok());
  int fired = 0;
  std::unique_ptr<Timer> timer;
  timer = (*loop)->CreateTimer([&] {
    if (++fired == 3) {
      timer->Stop();
      (*loop)->Quit();
    }
  });
  timer->Start(absl::Milliseconds(1), /*repeat=*/true);
  EXPECT_TRUE(timer->pending());
  (*loop)->Run();
  EXPECT_EQ(fired, 3);
  EXPECT_FALSE(timer->pending());
}

TEST(EventLoopTest, FdWatchReportsReadabilityAndCanRemoveItself) {
  auto loop = EventLoop::Create();
  ASSERT_TRUE(loop.ok());
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  std::string got;
  std::unique_ptr<FdWatch> watch;
  watch = (*loop)->WatchFd(fds[0], EventLoop::kRead, [&](int events) {
    EXPECT_EQ(events & EventLoop::kRead, EventLoop::kRead);
    char buf[16];
    ssize_t n = ::read(fds[0], buf, sizeof(buf));
    got.append(buf, n > 0 ? n : 0);
    if (got == "hello") {
      watch.reset();  // destroying the watch inside its own callback is allowed
      (*loop)->Quit();
    }
  });
  ASSERT_EQ(::write(fds[1], "hel", 3), 3);
  (*loop)->Post([&] { ASSERT_EQ(::write(fds[1], "lo", 2), 2); });
  (*loop)->Run();
  EXPECT_EQ(got, "hello");
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST(EventLoopTest, RunPendingDispatchesWhatIsReadyWithoutWaiting) {
  auto loop = EventLoop::Create();
  ASSERT_TRUE(loop.ok());
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  std::string got;
  auto watch = (*loop)->WatchFd(fds[0], EventLoop::kRead, [&](int) {
    char buf[16];
    ssize_t n = ::read(fds[0], buf, sizeof(buf));
    got.append(buf, n > 0 ? n : 0);
  });
  int posted = 0;
  (*loop)->RunPending();  // nothing ready: returns at once
  EXPECT_EQ(got, "");
  ASSERT_EQ(::write(fds[1], "abc", 3), 3);
  (*loop)->Post([&] { ++posted; });
  (*loop)->RunPending();
  EXPECT_EQ(got, "abc");
  EXPECT_EQ(posted, 1);
  watch.reset();
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST(EventLoopTest, SignalRunsCallbackOnLoop) {
  auto loop = EventLoop::Create();
  ASSERT_TRUE(loop.ok());
  bool got = false;
  (*loop)->OnSignal(SIGUSR1, [&] {
    got = true;
    (*loop)->Quit();
  });
  (*loop)->Post([] { ::kill(::getpid(), SIGUSR1); });
  (*loop)->Run();
  EXPECT_TRUE(got);
}

}  // namespace
}  // namespace migemu::util
