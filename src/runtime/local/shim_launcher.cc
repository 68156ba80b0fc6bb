#include "runtime/local/shim_launcher.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
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

int runShimLauncher(char* title, size_t title_room) {
  // A caller that left before reading its answer must not end the launcher.
  ::signal(SIGPIPE, SIG_IGN);
  // Shims are the launcher's children, but it never waits for them: the kernel reaps them
  // (no zombies), and one fork per shim, not two, is all a start waits for. A shim still
  // leaves in its own session, and init adopts it when the launcher goes.
  ::signal(SIGCHLD, SIG_IGN);
  std::string buffer, dir;
  while (readLine(kChannelFd, &buffer, &dir)) {
    pid_t shim = ::fork();
    if (shim == 0) {
      ::setsid();
      ::close(kChannelFd);
      setTitle(title, title_room, dir);
      stdioToDevNull();
      resetSignals();
      std::exit(runShim(dir));
    }
    const std::string reply = shim < 0 ? std::string("fork: ") + std::strerror(errno) : "ok";
    if (!writeAll(kChannelFd, reply + "\n")) break;
  }
  return 0;
}

}  // namespace skiff::runtime
