#include "common/command.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <tuple>

namespace skiff {

const char* const kSystemPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

std::string joinArgs(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) {
    if (!s.empty()) s += ' ';
    s += a;
  }
  return s;
}

namespace {

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

// A pipe whose ends are closed when it goes out of scope unless released.
struct Pipe {
  int fd[2] = {-1, -1};
  ~Pipe() {
    for (int f : fd)
      if (f >= 0) ::close(f);
  }
  bool open() { return ::pipe2(fd, O_CLOEXEC) == 0; }
  void closeEnd(int i) {
    if (fd[i] >= 0) ::close(fd[i]);
    fd[i] = -1;
  }
};

// A program that exits without reading all of its input must not kill the server with
// SIGPIPE: the signal is blocked in this thread for the write and a pending one is consumed.
ssize_t writeWithoutSigpipe(int fd, const char* data, size_t size) {
  sigset_t pipe_only, old;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
  ssize_t w = ::write(fd, data, size);
  int saved = errno;
  if (w < 0 && errno == EPIPE) {
    timespec zero{0, 0};
    while (sigtimedwait(&pipe_only, nullptr, &zero) < 0 && errno == EINTR) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  errno = saved;
  return w;
}

}  // namespace

Result<CommandOutput> runCommand(const std::vector<std::string>& argv,
                                 const CommandOptions& options) {
  SKIFF_ASSERT(!argv.empty(), "runCommand without a program");
  const std::string what = "running " + joinArgs(argv);
  Pipe in, out, err;
  if (!in.open() || !out.open() || !err.open()) {
    return internalError(what + ": cannot create pipes: " + std::strerror(errno));
  }

  std::vector<std::string> env = options.env;
  if (env.empty()) env.push_back(std::string("PATH=") + kSystemPath);
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> argp;
  for (auto& a : args) argp.push_back(a.data());
  argp.push_back(nullptr);

  // A program given by name is looked up in the system directories, not in whatever PATH the
  // server happened to inherit.
  std::string program = argv[0];
  if (program.find('/') == std::string::npos) {
    std::string dirs = kSystemPath;
    size_t start = 0;
    while (start <= dirs.size()) {
      size_t end = dirs.find(':', start);
      if (end == std::string::npos) end = dirs.size();
      std::string candidate = dirs.substr(start, end - start) + "/" + argv[0];
      if (::access(candidate.c_str(), X_OK) == 0) {
        program = candidate;
        break;
      }
      start = end + 1;
    }
  }

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_adddup2(&actions, in.fd[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out.fd[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err.fd[1], 2);
  // Its own process group, so the deadline kills what it started too; signals as a fresh
  // process has them, whatever the server blocks or ignores.
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, program.c_str(), &actions, &attr, argp.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    return unavailable(what + ": cannot start " + program + ": " + std::strerror(rc));
  }
  in.closeEnd(0);
  out.closeEnd(1);
  err.closeEnd(1);
  // Writes must never block: the program may fill its stdout before reading more input.
  ::fcntl(in.fd[1], F_SETFL, ::fcntl(in.fd[1], F_GETFL) | O_NONBLOCK);

  // Feed stdin and drain stdout/stderr together: a program writing a large result before
  // reading all of its input must not deadlock against us.
  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  CommandOutput result;
  size_t written = 0;
  if (options.stdin_data.empty()) in.closeEnd(1);
  bool timed_out = false;
  while (in.fd[1] >= 0 || out.fd[0] >= 0 || err.fd[0] >= 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd fds[3];
    int n = 0;
    int in_slot = -1, out_slot = -1, err_slot = -1;
    if (in.fd[1] >= 0) {
      in_slot = n;
      fds[n++] = {in.fd[1], POLLOUT, 0};
    }
    if (out.fd[0] >= 0) {
      out_slot = n;
      fds[n++] = {out.fd[0], POLLIN, 0};
    }
    if (err.fd[0] >= 0) {
      err_slot = n;
      fds[n++] = {err.fd[0], POLLIN, 0};
    }
    int ready = ::poll(fds, n, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) break;
    if (in_slot >= 0 && fds[in_slot].revents) {
      if (fds[in_slot].revents & (POLLERR | POLLHUP)) {
        in.closeEnd(1);
      } else {
        ssize_t w = writeWithoutSigpipe(in.fd[1], options.stdin_data.data() + written,
                                        options.stdin_data.size() - written);
        if (w > 0) written += static_cast<size_t>(w);
        if ((w < 0 && errno != EINTR && errno != EAGAIN) || written == options.stdin_data.size()) {
          in.closeEnd(1);
        }
      }
    }
    for (auto [slot, pipe, sink] :
         {std::tuple{out_slot, &out, &result.out}, std::tuple{err_slot, &err, &result.err}}) {
      if (slot < 0 || !fds[slot].revents) continue;
      char buf[16384];
      ssize_t r = ::read(pipe->fd[0], buf, sizeof buf);
      if (r > 0) {
        sink->append(buf, static_cast<size_t>(r));
      } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
        pipe->closeEnd(0);
      }
    }
  }
  if (timed_out) ::kill(-pid, SIGKILL);

  int wstatus = 0;
  while (true) {
    pid_t reaped = ::waitpid(pid, &wstatus, timed_out ? 0 : WNOHANG);
    if (reaped == pid) break;
    if (reaped < 0 && errno == EINTR) continue;
    if (reaped < 0) return internalError(what + ": waitpid: " + std::strerror(errno));
    // The pipes closed but the program has not exited yet.
    if (std::chrono::steady_clock::now() >= deadline) {
      timed_out = true;
      ::kill(-pid, SIGKILL);
      continue;
    }
    ::usleep(2000);
  }
  if (timed_out) {
    return unavailable(what + ": no answer within " + std::to_string(options.timeout.count()) +
                       " ms; killed it");
  }
  result.exit_code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
  return result;
}

Result<std::string> runChecked(const std::vector<std::string>& argv,
                               const CommandOptions& options) {
  auto run = runCommand(argv, options);
  if (!run.ok()) return run.status();
  if (run->exit_code != 0) {
    std::string detail = trimmed(run->err.empty() ? run->out : run->err);
    return internalError(joinArgs(argv) + " failed (exit code " + std::to_string(run->exit_code) +
                         ")" + (detail.empty() ? "" : ": " + detail));
  }
  return std::move(run->out);
}

}  // namespace skiff
