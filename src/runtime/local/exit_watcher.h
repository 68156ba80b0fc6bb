// ExitWatcher: calls back when watched processes exit, also processes that are not our
// children (shims adopted from an earlier server), through pidfds on one epoll thread. The node
// agent learns this way that an instance without probes has exited.
//
// Thread-safe. The callback runs on the watcher's thread and must not block.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace skiff::runtime {

class ExitWatcher {
 public:
  using Callback = std::function<void(const std::string& key)>;

  // Starts the thread; without pidfds (Linux < 5.3) watch() returns false and nothing runs.
  explicit ExitWatcher(Callback on_exit);
  ~ExitWatcher();
  ExitWatcher(const ExitWatcher&) = delete;
  ExitWatcher& operator=(const ExitWatcher&) = delete;

  // Watches `pid` under `key`, replacing what `key` watched before (watching the same pid
  // again is a no-op). A pid that already exited calls back at once. False when the process
  // cannot be watched (gone before it could be opened, or no pidfd support): poll instead.
  bool watch(const std::string& key, pid_t pid);
  void forget(const std::string& key);

 private:
  struct Watched {
    pid_t pid;
    int fd;
  };
  void loop();
  void forgetLocked(const std::string& key);

  // Constant after construction.
  const Callback on_exit_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;  // eventfd that ends loop()

  std::mutex mu_;
  std::map<std::string, Watched> watched_;  // guarded by mu_
  std::map<int, std::string> key_of_fd_;    // guarded by mu_

  std::thread thread_;
};

}  // namespace skiff::runtime
