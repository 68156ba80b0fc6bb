// Reading secrets (passwords) for the CLI: from the terminal with echo off, or one line from a
// stream for scripts (--password-stdin). Not thread-safe: it changes the terminal's settings
// and, while it reads, the handlers of SIGINT, SIGTERM and SIGHUP (which restore the terminal).
#pragma once

#include <iosfwd>
#include <string>

#include "common/status.h"

namespace skiff::cli {

// True when standard input is a terminal.
bool stdinIsTerminal();

// Writes `prompt` to `err`, reads one line from the terminal on standard input with echo off,
// then ends the prompt's line. Ctrl-C leaves the terminal as it was.
Result<std::string> readHiddenLine(const std::string& prompt, std::ostream& err);

// One line of `in` without its line ending ("\n" or "\r\n"). `what` names the value in errors
// ("the password"): kBadRequest when the input has ended or the line is empty.
Result<std::string> readSecretLine(std::istream& in, const std::string& what);

}  // namespace skiff::cli
