#include "runtime/local/shim_launcher.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "runtime/local/shim.h"

namespace skiff::runtime {

namespace {

// The launcher's argv is padded to this many bytes, room for a shim's command line.
constexpr size_t kTitleRoom = 4200;
constexpr int kChannelFd = 3;

bool writeAll(int fd, const std::string& text) {
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

// One line from `fd` (without its newline) after what `buffer` holds; false at EOF or error.
bool readLine(int fd, std::string* buffer, std::string* line) {
  while (true) {
    if (size_t nl = buffer->find('\n'); nl != std::string::npos) {
      *line = buffer->substr(0, nl);
      buffer->erase(0, nl + 1);
      return true;
    }
    char chunk[4096];
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    buffer->append(chunk, static_cast<size_t>(n));
  }
}

// In a forked shim: `skiff shim --dir DIR` in place of the launcher's argv, NUL-padded, which
// is what /proc/PID/cmdline then shows.
void setTitle(char* title, size_t room, const std::string& dir) {
  std::string text = std::string("skiff") + '\0' + "shim" + '\0' + "--dir" + '\0' + dir + '\0';
  std::memset(title, 0, room);
  std::memcpy(title, text.data(), std::min(text.size(), room - 1));
}

}  // namespace

ShimLauncher::ShimLauncher(std::string shim_binary) : shim_binary_(std::move(shim_binary)) {}

ShimLauncher::~ShimLauncher() {
  std::lock_guard lock(mu_);
  stopLocked();
}

void ShimLauncher::stopLocked() {
  if (fd_ >= 0) ::close(fd_);  // the launcher reads EOF and exits
  fd_ = -1;
  if (pid_ > 0)
    while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
  pid_ = -1;
}

Status ShimLauncher::startLocked() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
    return internalError(std::string("socketpair: ") + std::strerror(errno));
  std::vector<std::string> args = {"skiff", "shim", "--launcher", std::string(kTitleRoom, ' ')};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const char* binary = shim_binary_.c_str();
  // Only async-signal-safe calls between fork and exec: this process may have other threads.
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return internalError(std::string("cannot fork the shim launcher: ") + std::strerror(errno));
  }
  if (pid == 0) {
    ::dup2(fds[1], kChannelFd);  // without FD_CLOEXEC
    ::close_range(kChannelFd + 1, ~0U, 0);
    // Its own session: a signal to the caller's terminal or process group must not end it in
    // the middle of starting a shim.
    ::setsid();
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    resetSignals();
    ::execv(binary, argv.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  fd_ = fds[0];
  pid_ = pid;
  return Status::ok();
}

Status ShimLauncher::requestLocked(const std::string& dir) {
  if (fd_ < 0)
    if (Status s = startLocked(); !s.isOk()) return s;
  if (!writeAll(fd_, dir + "\n"))
    return unavailable(std::string("the shim launcher is gone: ") + std::strerror(errno));
  std::string buffer, reply;
  if (!readLine(fd_, &buffer, &reply)) return unavailable("the shim launcher is gone");
  if (reply != "ok") return internalError("the shim launcher could not start a shim: " + reply);
  return Status::ok();
}

Status ShimLauncher::spawn(const std::string& dir) {
  // A directory the title cannot hold, or one line cannot carry, goes the slow way.
  if (dir.size() + 32 > kTitleRoom || dir.find('\n') != std::string::npos)
    return spawnShim(shim_binary_, dir);
  std::lock_guard lock(mu_);
  for (int attempt = 0; attempt < 2; ++attempt) {
    Status s = requestLocked(dir);
    if (s.isOk() || s.code() != StatusCode::kUnavailable) return s;
    stopLocked();  // it died (or never ran): reap it, and start another once
  }
  return spawnShim(shim_binary_, dir);
}

namespace {

// A shim forked before it is asked for: detached and with its signals reset, it waits for its
// directory on a pipe, so that a start waits for neither a fork nor that setup.
struct Spare {
  pid_t pid = -1;
  int fd = -1;     // the pipe's write end; closing it unasked ends the spare
  int pidfd = -1;  // opened while the spare waits on the pipe, so it is the spare's
};

void closeFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// In a child of the launcher: the shim of DIR, detached, as spawnShim() leaves one.
[[noreturn]] void becomeShim(char* title, size_t title_room, const std::string& dir) {
  setTitle(title, title_room, dir);
  std::exit(runShim(dir));
}

void detach() {
  ::setsid();
  ::close(kChannelFd);
  stdioToDevNull();
  resetSignals();
}

Spare forkSpare(char* title, size_t title_room) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return {};
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[1]);
    detach();
    std::string buffer, dir;
    if (!readLine(fds[0], &buffer, &dir)) ::_exit(0);  // the launcher left without a request
    ::close(fds[0]);
    becomeShim(title, title_room, dir);
  }
  ::close(fds[0]);
  if (pid < 0) {
    ::close(fds[1]);
    return {};
  }
  return {pid, fds[1], static_cast<int>(::syscall(SYS_pidfd_open, pid, 0))};
}

// Ends an unused spare and waits for it (on its pidfd: the kernel reaps the launcher's
// children), so that no process outlives a stopped launcher by more than its shims. A spare
// that does not leave on EOF (stopped, say) is killed: it holds nothing yet.
void endSpare(Spare& spare) {
  if (spare.fd < 0) return;
  closeFd(spare.fd);
  if (spare.pidfd < 0) return;
  pollfd pfd{spare.pidfd, POLLIN, 0};
  if (::poll(&pfd, 1, 1000) <= 0 &&
      ::syscall(SYS_pidfd_send_signal, spare.pidfd, SIGKILL, nullptr, 0) == 0)
    (void)::poll(&pfd, 1, 1000);
  closeFd(spare.pidfd);
}

}  // namespace

int runShimLauncher(char* title, size_t title_room) {
  // A caller that left before reading its answer must not end the launcher.
  ::signal(SIGPIPE, SIG_IGN);
  // Shims are the launcher's children, but it never waits for them: the kernel reaps them
  // (no zombies), and a start waits for no fork of its own. A shim still leaves in its own
  // session, and init adopts it when the launcher goes.
  ::signal(SIGCHLD, SIG_IGN);
  Spare spare = forkSpare(title, title_room);
  std::string buffer, dir;
  while (readLine(kChannelFd, &buffer, &dir)) {
    std::string reply = "ok";
    // A spare that died (or was never forked) fails the write: the shim is forked now.
    const bool handed = spare.fd >= 0 && writeAll(spare.fd, dir + "\n");
    closeFd(spare.fd);
    closeFd(spare.pidfd);
    spare = {};
    if (!handed) {
      pid_t shim = ::fork();
      if (shim == 0) {
        detach();
        becomeShim(title, title_room, dir);
      }
      if (shim < 0) reply = std::string("fork: ") + std::strerror(errno);
    }
    if (!writeAll(kChannelFd, reply + "\n")) break;
    // After the answer, while the caller goes on: ready for the next request.
    spare = forkSpare(title, title_room);
  }
  endSpare(spare);
  return 0;
}

}  // namespace skiff::runtime
