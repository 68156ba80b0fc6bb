// Driver::exec on the runc driver: commands in a running container, with pipes and with a
// terminal (the pty master received from runc over a console socket), and resizing it.
#include <poll.h>
#include <unistd.h>

#include "runtime_runc_test_support.h"

namespace skiff::testing {
namespace {

// Reads `fd` until EOF, EIO (a pty whose other side closed) or `timeout`.
std::string readAll(int fd, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[4096];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

class RuncExecTest : public RuncTest {};

TEST_F(RuncExecTest, PipesCarryStdinStdoutStderrAndExitCode) {
  auto s = spec("exec-1", {"sleep", "1000"});
  s.env["MODE"] = "prod";
  s.working_dir = "/tmp";
  s.container->user = "app";
  ASSERT_TRUE(driver_->start(s).ok());
  auto session = driver_->exec(
      "exec-1", {"sh", "-c", "echo $MODE $(pwd) $(id -u); cat; echo err >&2; exit 7"}, false);
  ASSERT_TRUE(session.ok()) << session.status().toString();
  auto& exec = **session;
  EXPECT_FALSE(exec.tty());
  const std::string input = "from stdin\n";
  ASSERT_EQ(::write(exec.stdinFd(), input.data(), input.size()),
            static_cast<ssize_t>(input.size()));
  exec.closeStdin();
  EXPECT_EQ(readAll(exec.stdoutFd()), "prod /tmp 1000\nfrom stdin\n");
  EXPECT_EQ(readAll(exec.stderrFd()), "err\n");
  auto code = exec.wait();
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 7);
  EXPECT_FALSE(exec.resize(24, 80).isOk());
}

TEST_F(RuncExecTest, TerminalIsAPtyThatCanBeResized) {
  ASSERT_TRUE(driver_->start(spec("exec-2", {"sleep", "1000"})).ok());
  auto session = driver_->exec("exec-2", {"sh", "-c", "tty; sleep 0.5; stty size; exit 3"}, true);
  ASSERT_TRUE(session.ok()) << session.status().toString();
  auto& exec = **session;
  EXPECT_TRUE(exec.tty());
  EXPECT_EQ(exec.stderrFd(), -1);
  ASSERT_TRUE(exec.resize(33, 101).isOk());
  std::string out = readAll(exec.stdoutFd());
  EXPECT_NE(out.find("/dev/pts/"), std::string::npos) << out;
  EXPECT_NE(out.find("33 101"), std::string::npos) << out;
  auto code = exec.wait();
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 3);
}

TEST_F(RuncExecTest, ErrorsForMissingCommandsAndStoppedInstances) {
  ASSERT_TRUE(driver_->start(spec("exec-3", {"sleep", "1000"})).ok());
  auto tty_missing = driver_->exec("exec-3", {"no-such-command"}, true);
  if (tty_missing.ok()) {
    // runc may report the missing command only after handing over the terminal.
    EXPECT_NE((*tty_missing)->wait().value(), 0);
  }
  auto piped_missing = driver_->exec("exec-3", {"no-such-command"}, false);
  ASSERT_TRUE(piped_missing.ok());
  EXPECT_NE((*piped_missing)->wait().value(), 0);

  ASSERT_TRUE(driver_->stop("exec-3", std::chrono::milliseconds(100)).isOk());
  EXPECT_EQ(driver_->exec("exec-3", {"true"}, false).status().code(), StatusCode::kConflict);
  EXPECT_EQ(driver_->exec("nope", {"true"}, false).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace skiff::testing
