#include "runtime/local/exec_session.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
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

ProcessExecSession::ProcessExecSession(pid_t pid, int stdin_fd, int stdout_fd, int stderr_fd,
                                       int pty_master)
    : pid_(pid),
      stdin_fd_(stdin_fd),
      stdout_fd_(stdout_fd),
      stderr_fd_(stderr_fd),
      pty_master_(pty_master) {}

ProcessExecSession::~ProcessExecSession() {
  if (exit_code_ < 0 && pid_ > 0) {
    kill();
    (void)wait();
  }
  for (int* fd : {&stdin_fd_, &stdout_fd_, &stderr_fd_, &pty_master_}) closeFd(fd);
}

void ProcessExecSession::closeStdin() { closeFd(&stdin_fd_); }

Status ProcessExecSession::resize(uint16_t rows, uint16_t cols) {
  if (!tty()) return badRequest("the command runs without a terminal; it has no size to set");
  winsize size{};
  size.ws_row = rows;
  size.ws_col = cols;
  if (::ioctl(pty_master_, TIOCSWINSZ, &size) != 0)
    return internalError(std::string("cannot resize the terminal: ") + std::strerror(errno));
  return Status::ok();
}

Result<int> ProcessExecSession::wait() {
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

int ProcessExecSession::pollExit() {
  if (exit_code_ >= 0) return exit_code_;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) exit_code_ = exitCodeOf(status);
  return exit_code_;
}

void ProcessExecSession::kill() {
  // While the leader is unreaped its pid cannot be reused, so the group is still ours.
  if (exit_code_ < 0 && pid_ > 0) {
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
  }
}

void ProcessExecSession::hangUp() {
  if (exit_code_ < 0 && pid_ > 0) {
    ::kill(-pid_, SIGHUP);
    // A stopped process acts on SIGHUP only once continued (as the kernel does it for an
    // orphaned process group).
    ::kill(-pid_, SIGCONT);
  }
}

Result<std::unique_ptr<ExecSession>> startExecSession(const std::vector<std::string>& argv,
                                                      bool tty, const std::string& cwd,
                                                      const std::vector<std::string>* env) {
  std::vector<std::string> args = argv;
  std::vector<char*> cargv;
  for (auto& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  std::vector<std::string> vars = env ? *env : std::vector<std::string>();
  std::vector<char*> cenv;
  for (auto& v : vars) cenv.push_back(v.data());
  cenv.push_back(nullptr);

  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
  int master = -1, slave = -1;
  auto closeAll = [&] {
    for (int* p : {in, out, err})
      for (int i = 0; i < 2; ++i)
        if (p[i] >= 0) ::close(p[i]);
    for (int* fd : {&master, &slave})
      if (*fd >= 0) ::close(*fd);
  };
  bool ok;
  if (tty) {
    master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    ok = master >= 0 && ::grantpt(master) == 0 && ::unlockpt(master) == 0;
    if (ok) {
      char name[128];
      ok = ::ptsname_r(master, name, sizeof name) == 0 &&
           (slave = ::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)) >= 0;
    }
    if (ok) {
      winsize size{};
      size.ws_row = 24;
      size.ws_col = 80;
      ::ioctl(master, TIOCSWINSZ, &size);
    }
  } else {
    ok =
        ::pipe2(in, O_CLOEXEC) == 0 && ::pipe2(out, O_CLOEXEC) == 0 && ::pipe2(err, O_CLOEXEC) == 0;
  }
  if (!ok) {
    Status s =
        internalError(std::string("cannot set up the command's stdio: ") + std::strerror(errno));
    closeAll();
    return s;
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    Status s = internalError(std::string("fork: ") + std::strerror(errno));
    closeAll();
    return s;
  }
  if (pid == 0) {
    if (tty) {
      // A session of its own with our pty as controlling terminal, so that the command
      // receives SIGWINCH when the session resizes it.
      ::setsid();
      ::ioctl(slave, TIOCSCTTY, 0);
      ::dup2(slave, 0);
      ::dup2(slave, 1);
      ::dup2(slave, 2);
    } else {
      // A process group of its own, so that the session can end what the command started.
      ::setpgid(0, 0);
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      ::dup2(err[1], 2);
    }
    ::close_range(3, ~0U, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(126);
    if (env)
      ::execve(cargv[0], cargv.data(), cenv.data());
    else
      ::execv(cargv[0], cargv.data());
    ::_exit(127);
  }
  // Also here, so that the group exists before kill() may need it (whichever runs first).
  if (!tty) ::setpgid(pid, pid);
  std::unique_ptr<ExecSession> session;
  if (tty) {
    session = std::make_unique<ProcessExecSession>(pid, -1, -1, -1, master);
    master = -1;
  } else {
    session = std::make_unique<ProcessExecSession>(pid, in[1], out[0], err[0], -1);
    in[1] = out[0] = err[0] = -1;
  }
  closeAll();
  return session;
}

}  // namespace skiff::runtime
