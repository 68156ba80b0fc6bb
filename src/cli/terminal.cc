#include "cli/terminal.h"

#include <signal.h>
#include <sys/ioctl.h>
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
// While in raw mode: also those a user or a closed pipe may still send.
constexpr int kRawRestoredSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE};

extern "C" void restoreTerminalAndDie(int sig) {
  ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &g_saved_terminal);  // async-signal-safe
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

}  // namespace

bool stdinIsTerminal() { return ::isatty(STDIN_FILENO) == 1; }

std::optional<TerminalSize> terminalSize(int fd) {
  winsize size{};
  if (::ioctl(fd, TIOCGWINSZ, &size) != 0) return std::nullopt;
  return TerminalSize{size.ws_col, size.ws_row};
}

struct RawTerminal::Saved {
  struct termios original;
  struct sigaction previous[std::size(kRawRestoredSignals)];
};

Result<std::unique_ptr<RawTerminal>> RawTerminal::enter() {
  auto saved = std::make_unique<Saved>();
  if (::tcgetattr(STDIN_FILENO, &saved->original) != 0)
    return badRequest(std::string("cannot read the terminal's settings: ") + std::strerror(errno));
  g_saved_terminal = saved->original;
  struct sigaction restore {};
  restore.sa_handler = restoreTerminalAndDie;
  sigemptyset(&restore.sa_mask);
  for (size_t i = 0; i < std::size(kRawRestoredSignals); ++i)
    ::sigaction(kRawRestoredSignals[i], &restore, &saved->previous[i]);
  struct termios raw = saved->original;
  ::cfmakeraw(&raw);
  // TCSANOW: what the user typed ahead is kept for the session.
  if (::tcsetattr(STDIN_FILENO, TCSANOW, &raw) != 0) {
    Status s =
        badRequest(std::string("cannot put the terminal in raw mode: ") + std::strerror(errno));
    for (size_t i = 0; i < std::size(kRawRestoredSignals); ++i)
      ::sigaction(kRawRestoredSignals[i], &saved->previous[i], nullptr);
    return s;
  }
  return std::unique_ptr<RawTerminal>(new RawTerminal(std::move(saved)));
}

RawTerminal::RawTerminal(std::unique_ptr<Saved> saved) : saved_(std::move(saved)) {}

RawTerminal::~RawTerminal() {
  // TCSADRAIN: what was written shows in raw mode still, as the session left it.
  ::tcsetattr(STDIN_FILENO, TCSADRAIN, &saved_->original);
  for (size_t i = 0; i < std::size(kRawRestoredSignals); ++i)
    ::sigaction(kRawRestoredSignals[i], &saved_->previous[i], nullptr);
}

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
