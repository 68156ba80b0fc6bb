// Running a host program to completion (CNI plugins, ip, iptables, mount, runc): fork/exec through
// posix_spawn, never a shell, with stdin given as a string, stdout and stderr captured, and a
// deadline after which the program and everything it started are killed.
//
// Stateless and thread-safe: each call owns its child and pipes.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/status.h"

namespace skiff {

struct CommandOutput {
  int exit_code = 0;  // 128 + signal when killed by a signal
  std::string out;
  std::string err;
};

struct CommandOptions {
  // The whole environment of the program ("NAME=value"); empty: a minimal one with PATH.
  std::vector<std::string> env;
  std::string stdin_data;
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};
};

// Runs argv[0] (a path, or a name looked up in the system directories) and waits for it.
// A program that ran and exited, with any code, is a value; failing to start it or hitting
// the deadline is an error naming the program.
Result<CommandOutput> runCommand(const std::vector<std::string>& argv,
                                 const CommandOptions& options = {});

// runCommand() where anything but exit code 0 is an error carrying the program's stderr.
Result<std::string> runChecked(const std::vector<std::string>& argv,
                               const CommandOptions& options = {});

// `argv` as one line, words separated by spaces, for messages.
std::string joinArgs(const std::vector<std::string>& argv);

// The PATH given to programs started here: the plugins themselves run iptables and friends.
extern const char* const kSystemPath;

}  // namespace skiff
