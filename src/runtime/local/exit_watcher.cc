#include "runtime/local/exit_watcher.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace skiff::runtime {

namespace {

int pidfdOpen(pid_t pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
  errno = ENOSYS;
  return -1;
#endif
}

}  // namespace

ExitWatcher::ExitWatcher(Callback on_exit) : on_exit_(std::move(on_exit)) {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (epoll_fd_ < 0 || wake_fd_ < 0) return;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake_fd_;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) != 0) return;
  thread_ = std::thread([this] { loop(); });
}

ExitWatcher::~ExitWatcher() {
  if (thread_.joinable()) {
    const uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof one);
    thread_.join();
  }
  for (const auto& [key, w] : watched_) ::close(w.fd);
  if (wake_fd_ >= 0) ::close(wake_fd_);
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

bool ExitWatcher::watch(const std::string& key, pid_t pid) {
  if (!thread_.joinable() || pid <= 0) return false;
  std::lock_guard lock(mu_);
  if (auto it = watched_.find(key); it != watched_.end()) {
    if (it->second.pid == pid) return true;
    forgetLocked(key);
  }
  const int fd = pidfdOpen(pid);
  if (fd < 0) return false;
  epoll_event ev{};
  ev.events = EPOLLIN;  // a pidfd becomes readable when its process exits
  ev.data.fd = fd;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    ::close(fd);
    return false;
  }
  watched_[key] = {pid, fd};
  key_of_fd_[fd] = key;
  return true;
}

void ExitWatcher::forget(const std::string& key) {
  std::lock_guard lock(mu_);
  forgetLocked(key);
}

void ExitWatcher::forgetLocked(const std::string& key) {
  auto it = watched_.find(key);
  if (it == watched_.end()) return;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, it->second.fd, nullptr);
  ::close(it->second.fd);
  key_of_fd_.erase(it->second.fd);
  watched_.erase(it);
}

void ExitWatcher::loop() {
  epoll_event events[32];
  while (true) {
    const int n = ::epoll_wait(epoll_fd_, events, 32, -1);
    if (n < 0 && errno != EINTR) return;
    std::vector<std::string> exited;
    {
      std::lock_guard lock(mu_);
      for (int i = 0; i < n; ++i) {
        if (events[i].data.fd == wake_fd_) return;
        auto it = key_of_fd_.find(events[i].data.fd);
        if (it == key_of_fd_.end()) continue;  // forgotten meanwhile
        exited.push_back(it->second);
        forgetLocked(std::string(it->second));
      }
    }
    for (const std::string& key : exited) on_exit_(key);
  }
}

}  // namespace skiff::runtime
