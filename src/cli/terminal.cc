#include "cli/terminal.h"

#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <istream>
#include <iterator>
#include <ostream>

namespace skiff::cli {

namespace {

// The terminal's settings before echo was turned off, for the signal handler to restore.
struct termios g_saved_terminal;
constexpr int kRestoredSignals[] = {SIGINT, SIGTERM, SIGHUP};

extern "C" void restoreTerminalAndDie(int sig) {
  ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &g_saved_terminal);  // async-signal-safe
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

}  // namespace

bool stdinIsTerminal() { return ::isatty(STDIN_FILENO) == 1; }

Result<std::string> readHiddenLine(const std::string& prompt, std::ostream& err) {
  struct termios original;
  if (::tcgetattr(STDIN_FILENO, &original) != 0)
    return badRequest(std::string("cannot read the terminal's settings: ") + std::strerror(errno));
  g_saved_terminal = original;
  struct sigaction restore {};
  restore.sa_handler = restoreTerminalAndDie;
  sigemptyset(&restore.sa_mask);
  struct sigaction previous[std::size(kRestoredSignals)];
  for (size_t i = 0; i < std::size(kRestoredSignals); ++i)
    ::sigaction(kRestoredSignals[i], &restore, &previous[i]);

  struct termios quiet = original;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  quiet.c_lflag |= ECHONL;  // the Enter still ends the prompt's line
  err << prompt << std::flush;
  std::string line;
  Status status = Status::ok();
  if (::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) != 0) {
    status =
        badRequest(std::string("cannot turn off the terminal's echo: ") + std::strerror(errno));
  } else {
    // read(2) rather than a stream: nothing may be buffered past the line for later reads.
    bool ended = false;
    char c;
    while (true) {
      ssize_t n = ::read(STDIN_FILENO, &c, 1);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        ended = true;
        break;
      }
      if (c == '\n') break;
      line += c;
    }
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &original);
    if (ended) {
      err << "\n";
      status = badRequest("no password was entered (the input ended)");
    }
  }
  for (size_t i = 0; i < std::size(kRestoredSignals); ++i)
    ::sigaction(kRestoredSignals[i], &previous[i], nullptr);
  if (!status.isOk()) return status;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

Result<std::string> readSecretLine(std::istream& in, const std::string& what) {
  std::string line;
  if (!std::getline(in, line))
    return badRequest("expected " + what + " on a line of standard input, but the input ended");
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.empty()) return badRequest(what + " on standard input is empty");
  return line;
}

}  // namespace skiff::cli
