// The CLI's dealings with the user's terminal: reading secrets (passwords) with echo off, or
// one line from a stream for scripts (--password-stdin); and raw mode for interactive sessions
// (skiff exec -it). Not thread-safe: they change the terminal's settings and, meanwhile, the
// handlers of the signals that end the process (which restore the terminal first).
#pragma once

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>

#include "common/status.h"

namespace skiff::cli {

// True when standard input is a terminal.
bool stdinIsTerminal();

struct TerminalSize {
  uint16_t columns = 0;
  uint16_t rows = 0;
};
// The size of the terminal on `fd`; nullopt when `fd` is no terminal.
std::optional<TerminalSize> terminalSize(int fd);

// The terminal on standard input in raw mode while this lives: no echo, no line editing, and
// keys such as Ctrl-C and Ctrl-D reach the program as bytes (to be forwarded) instead of
// becoming signals or EOF here. Its settings are restored when this goes, and also when
// SIGINT, SIGTERM, SIGHUP, SIGQUIT or SIGPIPE end the process meanwhile.
class RawTerminal {
 public:
  static Result<std::unique_ptr<RawTerminal>> enter();
  ~RawTerminal();
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;

 private:
  struct Saved;
  explicit RawTerminal(std::unique_ptr<Saved> saved);
  std::unique_ptr<Saved> saved_;
};

// Writes `prompt` to `err`, reads one line from the terminal on standard input with echo off,
// then ends the prompt's line. Ctrl-C leaves the terminal as it was.
Result<std::string> readHiddenLine(const std::string& prompt, std::ostream& err);

// One line of `in` without its line ending ("\n" or "\r\n"). `what` names the value in errors
// ("the password"): kBadRequest when the input has ended or the line is empty.
Result<std::string> readSecretLine(std::istream& in, const std::string& what);

}  // namespace skiff::cli
