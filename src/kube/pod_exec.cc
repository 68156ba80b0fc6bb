#include "kube/pod_exec.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>

#include "net/websocket.h"

namespace skiff::kube {

namespace {

enum Channel : uint8_t {
  kStdin = 0,
  kStdout = 1,
  kStderr = 2,
  kError = 3,
  kResize = 4,
  kClose = 255
};

// A command that a terminal hangup or SIGKILL ended reports as a shell would.
constexpr int kHungUpCode = 128 + 1;
constexpr int kKilledCode = 128 + 9;

void closeFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// Writes all of `data`, blocking while the pipe is full; false once its reader is gone.
bool writeAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t w = ::write(fd, data.data(), data.size());
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    data.remove_prefix(static_cast<size_t>(w));
  }
  return true;
}

class PodExecSession final : public runtime::ExecSession {
 public:
  PodExecSession(std::unique_ptr<net::WebSocketClient> socket, bool tty, int fds[6])
      : socket_(std::move(socket)),
        tty_(tty),
        v5_(socket_->subprotocol() == kExecProtocolV5),
        stdin_read_(fds[0]),
        stdin_write_(fds[1]),
        stdout_read_(fds[2]),
        stdout_write_(fds[3]),
        stderr_read_(fds[4]),
        stderr_write_(fds[5]) {
    input_ = std::thread([this] { pumpInput(); });
    output_ = std::thread([this] { pumpOutput(); });
  }

  ~PodExecSession() override {
    socket_->abort();
    closeFd(stdin_write_);  // the input pump reads EOF
    {
      // The output pump, blocked writing to a full pipe, gets EPIPE.
      std::lock_guard lock(mu_);
      closeFd(stdout_read_);
      closeFd(stderr_read_);
    }
    input_.join();
    output_.join();
    closeFd(stdin_read_);
  }

  bool tty() const override { return tty_; }
  pid_t pid() const override { return -1; }
  int stdinFd() const override { return stdin_write_; }
  int stdoutFd() const override { return stdout_read_; }
  int stderrFd() const override { return stderr_read_; }
  void closeStdin() override { closeFd(stdin_write_); }

  Status resize(uint16_t rows, uint16_t cols) override {
    if (!tty_) return badRequest("the command runs without a terminal; it has no size to set");
    const json size = {{"Width", cols}, {"Height", rows}};
    if (!socket_->send(std::string(1, static_cast<char>(kResize)) + size.dump()))
      return unavailable("the exec connection to the API server has ended");
    return Status::ok();
  }

  Result<int> wait() override {
    std::unique_lock lock(mu_);
    ended_cv_.wait(lock, [this] { return ended_; });
    if (!failure_.isOk()) return failure_;
    return exit_code_;
  }

  int pollExit() override {
    std::lock_guard lock(mu_);
    if (!ended_) return -1;
    return failure_.isOk() ? exit_code_ : 255;
  }

  void kill() override { end(kKilledCode, /*polite=*/false); }
  void hangUp() override { end(kHungUpCode, /*polite=*/true); }

 private:
  // Ends the session from this side: what the command did not report is `code`.
  void end(int code, bool polite) {
    {
      std::lock_guard lock(mu_);
      if (ended_) return;
      ended_by_us_ = code;
    }
    if (polite) {
      socket_->close();
    } else {
      socket_->abort();
    }
  }

  void pumpInput() {
    char buf[32 * 1024];
    for (;;) {
      const ssize_t r = ::read(stdin_read_, buf + 1, sizeof buf - 1);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      buf[0] = static_cast<char>(kStdin);
      if (!socket_->send(std::string(buf, static_cast<size_t>(r) + 1))) return;
    }
    // EOF for the command; v4 has no way to say it (the command reads on until it ends).
    if (v5_) socket_->send(std::string{static_cast<char>(kClose), static_cast<char>(kStdin)});
  }

  void pumpOutput() {
    bool reported = false;
    while (auto message = socket_->receive()) {
      if (message->empty() || reported) continue;
      const auto channel = static_cast<uint8_t>((*message)[0]);
      const std::string_view payload = std::string_view(*message).substr(1);
      if (channel == kStdout || channel == kStderr) {
        // With a terminal there is no stderr: all output is the terminal's.
        const int fd = channel == kStderr && stderr_write_ >= 0 ? stderr_write_ : stdout_write_;
        (void)writeAll(fd, payload);  // a reader that left drops the rest
      } else if (channel == kError) {
        // Everything the command wrote came before: the output is complete.
        finish(execExitCode(payload));
        reported = true;
      }
    }
    if (reported) return;
    std::optional<int> ours;
    {
      std::lock_guard lock(mu_);
      ours = ended_by_us_;
    }
    if (ours) return finish(*ours);
    Status ending = socket_->ending();
    finish(Status(StatusCode::kUnavailable,
                  "the exec connection to the API server ended before the command's exit status" +
                      (ending.isOk() ? std::string() : ": " + ending.message())));
  }

  void finish(Result<int> code) {
    closeFd(stdout_write_);
    closeFd(stderr_write_);
    std::lock_guard lock(mu_);
    if (code.ok()) {
      exit_code_ = *code;
    } else {
      failure_ = code.status();
    }
    ended_ = true;
    ended_cv_.notify_all();
  }

  // Constant after construction.
  const std::unique_ptr<net::WebSocketClient> socket_;
  const bool tty_;
  const bool v5_;

  // The pumps' ends (each used by its pump only), and the owner's.
  int stdin_read_;
  int stdin_write_;
  int stdout_read_;   // guarded by mu_ while the destructor closes it
  int stdout_write_;  // the output pump's
  int stderr_read_;   // guarded by mu_ while the destructor closes it
  int stderr_write_;  // the output pump's; -1 with a terminal

  std::mutex mu_;
  std::condition_variable ended_cv_;
  bool ended_ = false;              // guarded by mu_
  int exit_code_ = -1;              // guarded by mu_
  Status failure_;                  // guarded by mu_
  std::optional<int> ended_by_us_;  // guarded by mu_

  std::thread input_;
  std::thread output_;
};

}  // namespace

Result<int> execExitCode(std::string_view status) {
  const json parsed = json::parse(status, nullptr, false);
  if (!parsed.is_object())
    return Status(StatusCode::kInternal,
                  "the API server ended the exec with something not a Status: " +
                      std::string(status.substr(0, 200)));
  if (parsed.value("status", "") == "Success") return 0;
  const json causes = parsed.value("details", json::object()).value("causes", json::array());
  if (parsed.value("reason", "") == "NonZeroExitCode") {
    for (const auto& cause : causes) {
      if (!cause.is_object() || cause.value("reason", cause.value("type", "")) != "ExitCode")
        continue;
      const std::string text = cause.value("message", "");
      char* end = nullptr;
      const long code = std::strtol(text.c_str(), &end, 10);
      if (!text.empty() && *end == '\0' && code >= 0 && code <= 255) return static_cast<int>(code);
    }
  }
  return Status(
      StatusCode::kInternal,
      "the command could not run to an exit code in the pod: " +
          parsed.value("message", parsed.value("reason", std::string("no reason given"))));
}

Result<std::unique_ptr<runtime::ExecSession>> startPodExec(Client& client, const std::string& ns,
                                                           const std::string& pod,
                                                           const std::string& container,
                                                           const std::vector<std::string>& argv,
                                                           bool tty) {
  int fds[6] = {-1, -1, -1, -1, -1, -1};
  auto closeAll = [&] {
    for (int& fd : fds) closeFd(fd);
  };
  if (::pipe2(fds, O_CLOEXEC) != 0 || ::pipe2(fds + 2, O_CLOEXEC) != 0 ||
      (!tty && ::pipe2(fds + 4, O_CLOEXEC) != 0)) {
    Status s =
        internalError(std::string("cannot set up the command's stdio: ") + std::strerror(errno));
    closeAll();
    return s;
  }
  auto socket = client.openWebSocket(podExecPath(ns, pod, container, argv, tty),
                                     {kExecProtocolV5, kExecProtocolV4});
  if (!socket.ok()) {
    closeAll();
    return socket.status();
  }
  return std::unique_ptr<runtime::ExecSession>(
      std::make_unique<PodExecSession>(std::move(*socket), tty, fds));
}

}  // namespace skiff::kube
