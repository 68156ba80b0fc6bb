// ProcessExecSession: the ExecSession (runtime/exec_session.h) of a command that a local
// Driver::exec() started as a child of this process: it writes the user's input to stdinFd(),
// copies stdoutFd()/stderrFd() out, forwards terminal size changes with resize(), and collects
// the exit code with wait().
//
// The session owns the command's process (a child of this process, leading a process group
// of its own) and the fds: destroying a session whose command still runs kills its process
// group (SIGKILL) and reaps it, so no zombie or stray process outlives it. Not thread-safe: one
// owner uses it; the fds may be polled from any thread while the owner is alive.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "runtime/exec_session.h"

namespace skiff::runtime {

class ProcessExecSession final : public ExecSession {
 public:
  // Takes ownership of `pid` (a child to reap) and of the fds (-1: none). With a terminal,
  // `pty_master` is the command's stdin and stdout (and stderr) at once, and the other fds
  // are -1.
  ProcessExecSession(pid_t pid, int stdin_fd, int stdout_fd, int stderr_fd, int pty_master);
  ~ProcessExecSession() override;
  ProcessExecSession(const ProcessExecSession&) = delete;
  ProcessExecSession& operator=(const ProcessExecSession&) = delete;

  bool tty() const override { return pty_master_ >= 0; }
  // The command's process, also its process group's id: for a pidfd to poll, not to signal.
  pid_t pid() const override { return pid_; }
  // Where the command's input goes. Closing it (closeStdin()) gives the command EOF; with a
  // terminal, send the terminal's EOF character (^D) instead.
  int stdinFd() const override { return tty() ? pty_master_ : stdin_fd_; }
  int stdoutFd() const override { return tty() ? pty_master_ : stdout_fd_; }
  int stderrFd() const override { return stderr_fd_; }  // -1 with a terminal
  void closeStdin() override;

  // Sets the terminal's size (the command gets SIGWINCH); an error without a terminal.
  Status resize(uint16_t rows, uint16_t cols) override;
  // Blocks until the command exits; its exit code, 128+N when signal N ended it. Calling it
  // again returns the same code.
  Result<int> wait() override;
  // The exit code if the command has exited, without blocking; -1 while it runs.
  int pollExit() override;
  // SIGKILL to the process group this session started (for runc, `runc exec`'s, whose
  // command inside the container then gets EOF and SIGHUP from its terminal or pipes).
  void kill() override;
  // SIGHUP to that process group, as a terminal that hangs up sends it: a polite end for a
  // session whose user left (runc forwards it to the command inside the container).
  void hangUp() override;

 private:
  pid_t pid_;
  int stdin_fd_;
  int stdout_fd_;
  int stderr_fd_;
  int pty_master_;
  int exit_code_ = -1;  // set once reaped
};

// Starts `argv` (argv[0] a path) as a child with pipes for its stdio, or with `tty` a pty of
// ours as its controlling terminal and stdio (24x80 until resized), in `cwd` when given and
// with exactly `env` when given (else this process's environment).
Result<std::unique_ptr<ExecSession>> startExecSession(
    const std::vector<std::string>& argv, bool tty, const std::string& cwd = "",
    const std::vector<std::string>* env = nullptr);

}  // namespace skiff::runtime
