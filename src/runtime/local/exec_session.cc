#include "runtime/local/exec_session.h"

#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace skiff::runtime {

namespace {

int exitCodeOf(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

void closeFd(int* fd) {
  if (*fd >= 0) ::close(*fd);
  *fd = -1;
}

}  // namespace

ExecSession::ExecSession(pid_t pid, int stdin_fd, int stdout_fd, int stderr_fd, int pty_master)
    : pid_(pid),
      stdin_fd_(stdin_fd),
      stdout_fd_(stdout_fd),
      stderr_fd_(stderr_fd),
      pty_master_(pty_master) {}

ExecSession::~ExecSession() {
  if (exit_code_ < 0 && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    (void)wait();
  }
  for (int* fd : {&stdin_fd_, &stdout_fd_, &stderr_fd_, &pty_master_}) closeFd(fd);
}

void ExecSession::closeStdin() { closeFd(&stdin_fd_); }

Status ExecSession::resize(uint16_t rows, uint16_t cols) {
  if (!tty()) return badRequest("the command runs without a terminal; it has no size to set");
  winsize size{};
  size.ws_row = rows;
  size.ws_col = cols;
  if (::ioctl(pty_master_, TIOCSWINSZ, &size) != 0)
    return internalError(std::string("cannot resize the terminal: ") + std::strerror(errno));
  return Status::ok();
}

Result<int> ExecSession::wait() {
  if (exit_code_ >= 0) return exit_code_;
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0) {
    if (errno != EINTR)
      return internalError("cannot wait for command (pid " + std::to_string(pid_) +
                           "): " + std::strerror(errno));
  }
  exit_code_ = exitCodeOf(status);
  return exit_code_;
}

int ExecSession::pollExit() {
  if (exit_code_ >= 0) return exit_code_;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) exit_code_ = exitCodeOf(status);
  return exit_code_;
}

void ExecSession::kill() {
  if (exit_code_ < 0 && pid_ > 0) ::kill(pid_, SIGKILL);
}

}  // namespace skiff::runtime
