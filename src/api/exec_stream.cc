#include "api/exec_stream.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace skiff {

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr size_t kReadChunk = 32 * 1024;
// Input not yet written to the command: past this, no more is taken from the channel (which
// then stops reading from the client).
constexpr size_t kMaxPendingInput = 1 << 20;
// Without a pidfd, how often the command's exit is looked for.
constexpr int kExitPollMillis = 100;
// After the command's exit, how long what it left behind may keep its output open.
constexpr auto kDrainTime = std::chrono::milliseconds(500);

void setNonBlocking(int fd) {
  if (fd >= 0) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

// -1 also for a command that is no local process (its exit is then polled).
int openPidFd(pid_t pid) {
#ifdef SYS_pidfd_open
  if (pid <= 0) return -1;
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  return -1;
#endif
}

std::string frame(ExecStreamId stream, std::string_view payload) {
  std::string out;
  out.reserve(payload.size() + 1);
  out.push_back(static_cast<char>(stream));
  out.append(payload);
  return out;
}

// One session's state; run() is the loop. Owned by the thread that runs it.
class ExecPump {
 public:
  ExecPump(runtime::ExecSession& session, WebSocketChannel& channel,
           const ExecStreamOptions& options)
      : session_(session),
        channel_(channel),
        options_(options),
        wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
        pid_fd_(openPidFd(session.pid())),
        out_fd_(session.stdoutFd()),
        err_fd_(session.stderrFd()) {
    const int wake = wake_fd_;
    channel_.setHandlerWaker([wake] {
      const uint64_t one = 1;
      (void)!::write(wake, &one, sizeof one);
    });
    if (options_.stdin) {
      in_fd_ = session.stdinFd();
    } else if (!session.tty()) {
      session.closeStdin();
    }
    for (int fd : {out_fd_, err_fd_, in_fd_}) setNonBlocking(fd);
  }

  ~ExecPump() {
    channel_.setHandlerWaker(nullptr);
    if (wake_fd_ >= 0) ::close(wake_fd_);
    if (pid_fd_ >= 0) ::close(pid_fd_);
  }

  void run() {
    if (wake_fd_ < 0) {
      channel_.send(
          frame(ExecStreamId::kStatus,
                json{{"error", "the server cannot watch the session (eventfd failed)"}}.dump()));
      channel_.close();
      return endCommand();
    }
    for (;;) {
      if (channel_.ended()) return endCommand();
      takeMessages();
      writeInput();
      // Writing may have made room for what arrived meanwhile: its wake-up may be spent
      // already, so it is taken now rather than after the poll.
      takeMessages();
      if (!exited_ && pid_fd_ < 0) noteExit();
      if (exited_ && drainOutput()) return sendStatus();

      pollfd fds[5];
      nfds_t n = 0;
      fds[n++] = {wake_fd_, POLLIN, 0};
      if (!exited_ && pid_fd_ >= 0) fds[n++] = {pid_fd_, POLLIN, 0};
      const bool room = channel_.canSend();
      if (room && out_fd_ >= 0) fds[n++] = {out_fd_, POLLIN, 0};
      if (room && err_fd_ >= 0) fds[n++] = {err_fd_, POLLIN, 0};
      if (in_fd_ >= 0 && !pending_input_.empty()) fds[n++] = {in_fd_, POLLOUT, 0};
      const int timeout = pid_fd_ < 0 || exited_ ? kExitPollMillis : -1;
      if (::poll(fds, n, timeout) < 0 && errno != EINTR) return endCommand();
      for (nfds_t i = 0; i < n; ++i) {
        if (fds[i].revents == 0) continue;
        if (fds[i].fd == wake_fd_) {
          uint64_t count;
          (void)!::read(wake_fd_, &count, sizeof count);
        } else if (fds[i].fd == pid_fd_) {
          noteExit();
        } else if (fds[i].events & POLLIN) {  // output (with a terminal, also its input)
          forward(fds[i].fd);
        }
      }
    }
  }

 private:
  void noteExit() {
    if (exited_ || session_.pollExit() < 0) return;
    exited_ = true;
    drain_deadline_ = Clock::now() + kDrainTime;
  }

  // Input beyond the bound stays in the channel, which then stops reading from the client.
  void takeMessages() {
    if (pending_input_.size() >= kMaxPendingInput) return;
    for (const std::string& message : channel_.receive()) handle(message);
  }

  void handle(const std::string& message) {
    if (message.empty()) return;
    const auto stream = static_cast<ExecStreamId>(static_cast<uint8_t>(message[0]));
    const std::string_view payload = std::string_view(message).substr(1);
    switch (stream) {
      case ExecStreamId::kStdin:
        if (in_fd_ >= 0 && !input_closing_) pending_input_.append(payload);
        break;
      case ExecStreamId::kResize: {
        if (!session_.tty()) break;
        const json size = json::parse(payload, nullptr, false);
        if (!size.is_object()) break;
        const int64_t width = dimension(size, "width"), height = dimension(size, "height");
        if (width > 0 && height > 0)
          (void)session_.resize(static_cast<uint16_t>(height), static_cast<uint16_t>(width));
        break;
      }
      case ExecStreamId::kClose:
        if (payload.size() == 1 && payload[0] == static_cast<char>(ExecStreamId::kStdin) &&
            in_fd_ >= 0 && !input_closing_) {
          input_closing_ = true;
          // A terminal has no EOF of its own to give: its EOF character makes the reader's
          // read() return 0 at the start of a line, as when a user types it.
          if (session_.tty()) pending_input_.push_back('\x04');
        }
        break;
      default:
        break;
    }
  }

  // A terminal dimension from a resize message; 0 when absent or out of range.
  static int64_t dimension(const json& size, const char* name) {
    auto it = size.find(name);
    if (it == size.end() || !it->is_number_integer()) return 0;
    const int64_t value = it->get<int64_t>();
    return value > 0 && value <= 0xffff ? value : 0;
  }

  void writeInput() {
    while (in_fd_ >= 0 && !pending_input_.empty()) {
      const ssize_t w = ::write(in_fd_, pending_input_.data(), pending_input_.size());
      if (w < 0 && errno == EINTR) continue;
      if (w < 0 && errno == EAGAIN) return;
      if (w <= 0) {
        // The command closed its input (EPIPE) or the terminal is gone: the rest is moot.
        pending_input_.clear();
        stopInput();
        return;
      }
      pending_input_.erase(0, static_cast<size_t>(w));
    }
    if (input_closing_ && pending_input_.empty()) stopInput();
  }

  void stopInput() {
    if (in_fd_ < 0) return;
    if (!session_.tty()) session_.closeStdin();
    in_fd_ = -1;
  }

  enum class Read { kData, kNothingNow, kEnd };

  // Sends what `fd` has now.
  Read forward(int fd) {
    char buf[kReadChunk];
    const ssize_t r = ::read(fd, buf, sizeof buf);
    if (r < 0 && errno == EINTR) return Read::kData;
    if (r < 0 && errno == EAGAIN) return Read::kNothingNow;
    if (r <= 0) {
      // EOF, or EIO from a terminal that its last user closed.
      (fd == out_fd_ ? out_fd_ : err_fd_) = -1;
      if (session_.tty()) in_fd_ = -1;
      return Read::kEnd;
    }
    const auto stream = fd == err_fd_ ? ExecStreamId::kStderr : ExecStreamId::kStdout;
    channel_.send(frame(stream, std::string_view(buf, static_cast<size_t>(r))));
    return Read::kData;
  }

  // After the command's exit: sends what its output still holds. True once all is sent. A
  // pipe holds it all already: once empty, it is done (what a process left behind writes
  // later is not waited for). A terminal passes what the command wrote on a little later: it
  // is done at its EIO, which comes once nothing holds it open any more. Either way a
  // process left behind gets kDrainTime at most.
  bool drainOutput() {
    if (Clock::now() > drain_deadline_) out_fd_ = err_fd_ = -1;
    for (int* fd : {&out_fd_, &err_fd_}) {
      while (*fd >= 0 && channel_.canSend()) {
        if (forward(*fd) == Read::kNothingNow) {
          if (!session_.tty()) *fd = -1;
          break;
        }
      }
    }
    return out_fd_ < 0 && err_fd_ < 0;
  }

  void sendStatus() {
    auto code = session_.wait();
    const json status =
        code.ok() ? json{{"exitCode", *code}} : json{{"error", code.status().message()}};
    channel_.send(frame(ExecStreamId::kStatus, status.dump()));
    channel_.close();
  }

  // The user left: hang up on the command as a terminal would, then make sure.
  void endCommand() {
    if (session_.pollExit() < 0) {
      session_.hangUp();
      const auto deadline = Clock::now() + options_.hangup_grace;
      while (session_.pollExit() < 0 && Clock::now() < deadline) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        pollfd exit_fd = {pid_fd_, POLLIN, 0};
        if (pid_fd_ >= 0) {
          ::poll(&exit_fd, 1, static_cast<int>(std::max<int64_t>(1, left.count())));
        } else {
          ::usleep(static_cast<useconds_t>(kExitPollMillis) * 1000);
        }
      }
      session_.kill();
    }
    (void)session_.wait();
  }

  runtime::ExecSession& session_;
  WebSocketChannel& channel_;
  const ExecStreamOptions options_;
  const int wake_fd_;
  const int pid_fd_;  // -1 when the kernel has no pidfd_open
  int out_fd_;
  int err_fd_;
  int in_fd_ = -1;  // -1 once input has ended (or was never asked for)
  std::string pending_input_;
  bool input_closing_ = false;
  bool exited_ = false;
  Clock::time_point drain_deadline_;
};

}  // namespace

void runExecStream(runtime::ExecSession& session, WebSocketChannel& channel,
                   const ExecStreamOptions& options) {
  ExecPump(session, channel, options).run();
}

}  // namespace skiff
