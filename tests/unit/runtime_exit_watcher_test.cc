// ExitWatcher: calls back once per watched process exit, also for a process already gone.
#include "runtime/local/exit_watcher.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <vector>

namespace skiff::runtime {
namespace {

class Exits {
 public:
  ExitWatcher::Callback callback() {
    return [this](const std::string& key) {
      std::lock_guard lock(mu_);
      keys_.push_back(key);
      cv_.notify_all();
    };
  }
  // The keys called back so far, after waiting up to 5 s for at least `n`.
  std::vector<std::string> waitFor(size_t n) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(5), [&] { return keys_.size() >= n; });
    return keys_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> keys_;
};

pid_t sleeper() {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::pause();
    ::_exit(0);
  }
  return pid;
}

TEST(ExitWatcherTest, CallsBackWhenAWatchedProcessExits) {
  Exits exits;
  ExitWatcher watcher(exits.callback());
  const pid_t a = sleeper(), b = sleeper();
  ASSERT_TRUE(watcher.watch("a", a));
  ASSERT_TRUE(watcher.watch("b", b));
  ASSERT_TRUE(watcher.watch("a", a));  // again: still one watch
  ::kill(a, SIGKILL);
  EXPECT_EQ(exits.waitFor(1), std::vector<std::string>{"a"});
  // Forgotten: b's exit is not reported.
  watcher.forget("b");
  ::kill(b, SIGKILL);
  ::waitpid(a, nullptr, 0);
  ::waitpid(b, nullptr, 0);
  EXPECT_EQ(exits.waitFor(2), std::vector<std::string>{"a"});
}

TEST(ExitWatcherTest, AnExitedProcessIsReportedAtOnceAndAGoneOneCannotBeWatched) {
  Exits exits;
  ExitWatcher watcher(exits.callback());
  const pid_t zombie = sleeper();
  ::kill(zombie, SIGKILL);
  siginfo_t info{};
  ::waitid(P_PID, zombie, &info, WEXITED | WNOWAIT);  // exited, not yet reaped
  ASSERT_TRUE(watcher.watch("z", zombie));
  EXPECT_EQ(exits.waitFor(1), std::vector<std::string>{"z"});
  ::waitpid(zombie, nullptr, 0);
  EXPECT_FALSE(watcher.watch("gone", zombie));
}

}  // namespace
}  // namespace skiff::runtime
