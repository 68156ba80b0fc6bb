// ExecSession: a command started inside a running instance (by a local driver, or through a
// cluster's pod exec), for the API layer to stream: it writes the user's input to stdinFd(),
// copies stdoutFd()/stderrFd() out, forwards terminal size changes with resize(), and
// collects the exit code with wait().
//
// Destroying a session whose command still runs ends the command, so nothing outlives it. Not
// thread-safe: one owner uses it; the fds may be polled from any thread while the owner is
// alive.
#pragma once

#include <sys/types.h>

#include <cstdint>

#include "common/status.h"

namespace skiff::runtime {

class ExecSession {
 public:
  virtual ~ExecSession() = default;

  virtual bool tty() const = 0;
  // The local process whose exit ends the command, for a pidfd to poll; -1 when the command
  // runs elsewhere, and only pollExit() tells its end.
  virtual pid_t pid() const = 0;
  // Where the command's input goes. Closing it (closeStdin()) gives the command EOF; with a
  // terminal, send the terminal's EOF character (^D) instead.
  virtual int stdinFd() const = 0;
  virtual int stdoutFd() const = 0;  // with a terminal, all of the command's output
  virtual int stderrFd() const = 0;  // -1 with a terminal
  virtual void closeStdin() = 0;

  // Sets the terminal's size (the command gets SIGWINCH); an error without a terminal.
  virtual Status resize(uint16_t rows, uint16_t cols) = 0;
  // Blocks until the command exits; its exit code, 128+N when signal N ended it. Calling it
  // again returns the same code. Everything the command wrote is in the output fds by then.
  virtual Result<int> wait() = 0;
  // The exit code if the command has exited, without blocking; -1 while it runs.
  virtual int pollExit() = 0;
  // Ends the command now.
  virtual void kill() = 0;
  // A polite end for a session whose user left, as a terminal that hangs up gives it.
  virtual void hangUp() = 0;
};

}  // namespace skiff::runtime
