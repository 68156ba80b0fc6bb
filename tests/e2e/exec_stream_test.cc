// End-to-end tests of interactive exec (`skiff exec -i/-t`, the WebSocket form of the exec
// endpoint) against the real server: input forwarded until it ends, exit codes, a terminal
// session driven through a real pseudo-terminal, refusal before the upgrade, and a client that
// goes away taking its command with it. The instances are processes, so no container runtime
// is needed; one server serves every test of the file.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e/harness.h"

namespace skiff::test {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

const std::string kInstances = "/api/v1/tenants/default/instances";

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Processes a test found (by pid) that must not outlive it, whatever it asserts.
struct PidGuard {
  std::vector<pid_t> pids;
  ~PidGuard() {
    for (pid_t pid : pids)
      if (pid > 0) ::kill(pid, SIGKILL);
  }
};

// `skiff ARGS...` started with the environment runSkiff() gives it, its stdio on `stdio_fd`
// (a pty's slave, which becomes its controlling terminal) or, when -1, on `in`/`out` pipes.
pid_t spawnSkiff(const std::vector<std::string>& args, const std::string& server_url,
                 const std::string& tty_name, int in_fd, int out_fd,
                 const std::map<std::string, std::string>& env = {}) {
  const std::string bin = skiffBinary();
  const std::string ca = caFor(server_url);
  const std::string token = tokenFor(server_url);
  std::vector<std::string> copy = args;
  std::vector<char*> argv = {const_cast<char*>(bin.c_str())};
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  if (!tty_name.empty()) {
    ::setsid();
    const int slave = ::open(tty_name.c_str(), O_RDWR);  // our controlling terminal now
    if (slave < 0) ::_exit(126);
    ::dup2(slave, 0);
    ::dup2(slave, 1);
    ::dup2(slave, 2);
  } else {
    ::dup2(in_fd, 0);
    ::dup2(out_fd, 1);
    ::dup2(out_fd, 2);
  }
  ::setenv("SKIFF_SERVER", server_url.c_str(), 1);
  if (!ca.empty()) ::setenv("SKIFF_CA", ca.c_str(), 1);
  if (!token.empty()) ::setenv("SKIFF_TOKEN", token.c_str(), 1);
  for (const auto& [name, value] : env) ::setenv(name.c_str(), value.c_str(), 1);
  ::execv(argv[0], argv.data());
  ::_exit(127);
}

// The exit status of `pid` once it exits within `timeout` (killed, and nullopt, otherwise).
std::optional<int> waitExit(pid_t pid, milliseconds timeout) {
  int status = 0;
  const bool exited = eventually([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, timeout);
  if (!exited) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    return std::nullopt;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

class ExecStreamTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    server_ = new ServerProcess(dir_->path());
    server_->start();
    json app = {{"metadata", {{"name", "demo"}}},
                {"spec",
                 {{"components",
                   {{{"name", "web"}, {"run", {{"command", "sleep"}, {"args", {"600"}}}}}}}}}};
    auto created =
        httpRequest(server_->url(), "POST", "/api/v1/tenants/default/applications", app.dump());
    ASSERT_EQ(created.status, 201) << created.body;
    ASSERT_TRUE(eventually(
        [] {
          auto list =
              json::parse(httpRequest(server_->url(), "GET", kInstances).body, nullptr, false);
          for (const auto& i : list.value("items", json::array()))
            if (i.value("status", json::object()).value("ready", false)) return true;
          return false;
        },
        seconds(15)))
        << "no instance became ready";
  }
  static void TearDownTestSuite() {
    delete server_;
    delete dir_;
  }
  void SetUp() override {
    if (HasFatalFailure()) GTEST_SKIP();
    ASSERT_TRUE(server_->running());
  }

  static CommandResult skiff(const std::vector<std::string>& args, const std::string& input = "",
                             const std::map<std::string, std::string>& env = {}) {
    return runSkiff(args, server_->url(), input, env);
  }

  static TempDir* dir_;
  static ServerProcess* server_;
  TempDir files_;
};

TempDir* ExecStreamTest::dir_ = nullptr;
ServerProcess* ExecStreamTest::server_ = nullptr;

TEST_F(ExecStreamTest, InputIsForwardedUntilItEnds) {
  auto r = skiff({"exec", "-i", "demo/web", "--", "cat"}, "hello\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "hello\n");
  EXPECT_EQ(r.err, "");

  // Larger than any one message or queue, and in order.
  std::string big;
  for (int i = 0; big.size() < (3 << 20); ++i) big += std::to_string(i) + "\n";
  auto counted = skiff({"exec", "-i", "demo/web", "--", "wc", "-c"}, big);
  ASSERT_EQ(counted.exit_code, 0) << counted.err;
  EXPECT_EQ(std::atol(counted.out.c_str()), static_cast<long>(big.size())) << counted.out;
}

TEST_F(ExecStreamTest, ExitCodeAndErrorStreamComeBack) {
  auto r =
      skiff({"exec", "-i", "demo/web", "--", "sh", "-c", "cat; echo oops >&2; exit 7"}, "in\n");
  EXPECT_EQ(r.exit_code, 7);
  EXPECT_EQ(r.out, "in\n");
  EXPECT_EQ(r.err, "oops\n");

  // Without input, with a terminal: the command's output, merged, and its exit code.
  auto tty = skiff({"exec", "-t", "demo/web", "--", "sh", "-c", "echo out; echo err >&2; exit 4"});
  EXPECT_EQ(tty.exit_code, 4);
  EXPECT_EQ(tty.out, "out\r\nerr\r\n");

  auto missing = skiff({"exec", "-i", "demo/web/demo-web-nope", "--", "true"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_TRUE(contains(missing.err, "not running")) << missing.err;
}

TEST_F(ExecStreamTest, TerminalSessionRunsAShellInRawMode) {
  const int master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  ASSERT_GE(master, 0);
  ASSERT_EQ(::grantpt(master), 0);
  ASSERT_EQ(::unlockpt(master), 0);
  auto setSize = [master](unsigned short rows, unsigned short columns) {
    winsize size{};
    size.ws_row = rows;
    size.ws_col = columns;
    return ::ioctl(master, TIOCSWINSZ, &size);
  };
  ASSERT_EQ(setSize(33, 111), 0);
  const std::string slave = ::ptsname(master);
  const pid_t pid =
      spawnSkiff({"exec", "-it", "demo/web", "--", "sh"}, server_->url(), slave, -1, -1);
  PidGuard guard{{pid}};
  auto type = [master](const std::string& keys) {
    return ::write(master, keys.data(), keys.size()) == static_cast<ssize_t>(keys.size());
  };
  // Typed at once: the line waits in the terminal until the session reads it.
  ASSERT_TRUE(type("stty size; echo $((6*7))\n"));

  std::string screen;
  int status = -1;
  bool resized = false;
  const auto deadline = std::chrono::steady_clock::now() + seconds(15);
  while (status < 0 && std::chrono::steady_clock::now() < deadline) {
    pollfd fd = {master, POLLIN, 0};
    if (::poll(&fd, 1, 50) > 0) {
      char buf[4096];
      const ssize_t n = ::read(master, buf, sizeof buf);
      if (n > 0) screen.append(buf, static_cast<size_t>(n));
    }
    // Once the shell has answered, the local terminal changes size (the client gets SIGWINCH
    // from it), and the remote one follows before the next line arrives.
    if (!resized && contains(screen, "42\r\n")) {
      resized = true;
      ASSERT_EQ(setSize(40, 120), 0);
      // The client sends the new size when its SIGWINCH handler runs, which may be just
      // after it forwards this line: the remote shell looks a moment later.
      ASSERT_TRUE(type("sleep 0.3; stty size; exit 3\n"));
    }
    int raw_status;
    if (::waitpid(pid, &raw_status, WNOHANG) == pid)
      status = WIFEXITED(raw_status) ? WEXITSTATUS(raw_status) : 128 + WTERMSIG(raw_status);
  }
  if (status < 0) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
  guard.pids.clear();
  // What the client wrote last may still wait in the terminal.
  for (pollfd fd = {master, POLLIN, 0}; ::poll(&fd, 1, 0) > 0;) {
    char buf[4096];
    const ssize_t n = ::read(master, buf, sizeof buf);
    if (n <= 0) break;
    screen.append(buf, static_cast<size_t>(n));
  }
  EXPECT_EQ(status, 3) << screen;
  // Only the remote shell computes it: the echoes show the expression.
  EXPECT_TRUE(contains(screen, "42\r\n")) << screen;
  EXPECT_TRUE(contains(screen, "33 111\r\n")) << "the size at the start: " << screen;
  EXPECT_TRUE(contains(screen, "40 120\r\n")) << "the size after SIGWINCH: " << screen;
  // The terminal is as it was before the session (a pty's settings are shared by both ends).
  termios settings{};
  ASSERT_EQ(::tcgetattr(master, &settings), 0);
  EXPECT_TRUE(settings.c_lflag & ICANON);
  EXPECT_TRUE(settings.c_lflag & ECHO);
  ::close(master);
}

TEST_F(ExecStreamTest, ViewerIsRefusedBeforeTheUpgrade) {
  const std::string password = "Viewer-Password-2026";
  ASSERT_EQ(httpRequest(server_->url(), "POST", "/api/v1/users",
                        json{{"metadata", {{"name", "viewer"}}}}.dump())
                .status,
            201);
  ASSERT_EQ(httpRequest(server_->url(), "PUT", "/api/v1/users/viewer/password",
                        json{{"password", password}}.dump())
                .status,
            200);
  ASSERT_EQ(httpRequest(
                server_->url(), "POST", "/api/v1/tenants/default/rolebindings",
                json{{"metadata", {{"name", "viewer"}}},
                     {"spec",
                      {{"role", "viewer"}, {"subjects", {{{"kind", "User"}, {"name", "viewer"}}}}}}}
                    .dump())
                .status,
            201);
  auto issued = httpRequest(server_->url(), "POST", "/api/v1/tokens",
                            json{{"user", "viewer"}, {"description", "exec test"}}.dump());
  ASSERT_EQ(issued.status, 201) << issued.body;
  const std::string token = json::parse(issued.body)["token"];

  // The CLI as the viewer: refused with the server's reason, and nothing ran.
  const std::string marker = files_.path() + "/ran";
  auto refused =
      skiff({"exec", "-i", "demo/web", "--", "touch", marker}, "", {{"SKIFF_TOKEN", token}});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_TRUE(contains(refused.err, "instances/exec")) << refused.err;
  EXPECT_EQ(refused.out, "");

  // The upgrade request itself: answered with a JSON error, not 101.
  const std::string listed = httpRequest(server_->url(), "GET", kInstances).body;
  std::string instance;
  for (const auto& i : json::parse(listed, nullptr, false).value("items", json::array()))
    instance = i["metadata"].value("name", "");
  ASSERT_FALSE(instance.empty()) << listed;
  const std::string path = kInstances + "/" + instance + "/exec?command=touch&command=" + marker;
  const std::map<std::string, std::string> upgrade = {
      {"Upgrade", "websocket"},
      {"Sec-WebSocket-Version", "13"},
      {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
      {"Sec-WebSocket-Protocol", "v1.exec.skiff.dev"}};
  auto as_viewer = upgrade;
  as_viewer["Authorization"] = "Bearer " + token;
  auto forbidden = httpRequest(server_->url(), "GET", path, "", "", as_viewer);
  EXPECT_EQ(forbidden.status, 403) << forbidden.body;
  EXPECT_EQ(json::parse(forbidden.body, nullptr, false).value("reason", ""), "Forbidden");
  auto anonymous = upgrade;
  anonymous["Authorization"] = "";
  auto unauthenticated = httpRequest(server_->url(), "GET", path, "", "", anonymous);
  EXPECT_EQ(unauthenticated.status, 401) << unauthenticated.body;
  EXPECT_EQ(readFile(marker), "");
  EXPECT_NE(::access(marker.c_str(), F_OK), 0) << "the command ran for a refused caller";
}

TEST_F(ExecStreamTest, ClosingTheClientEndsTheCommand) {
  const std::string pid_file = files_.path() + "/pids";
  int in[2], out[2];
  ASSERT_EQ(::pipe2(in, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
  // The shell and a child of its own, both waiting forever for input that never ends.
  const pid_t client =
      spawnSkiff({"exec", "-i", "demo/web", "--", "sh", "-c",
                  "echo $$ > " + pid_file + "; sleep 300 & echo $! >> " + pid_file + "; cat; wait"},
                 server_->url(), "", in[0], out[1]);
  ::close(in[0]);
  ::close(out[1]);
  PidGuard guard{{client}};
  std::vector<pid_t> remote;
  ASSERT_TRUE(eventually(
      [&] {
        std::istringstream pids(readFile(pid_file));
        remote.clear();
        for (pid_t p; pids >> p;) remote.push_back(p);
        return remote.size() == 2;
      },
      seconds(10)))
      << "the command did not start";
  guard.pids.insert(guard.pids.end(), remote.begin(), remote.end());
  for (pid_t p : remote) EXPECT_FALSE(processGone(p));

  ::kill(client, SIGKILL);
  EXPECT_TRUE(waitExit(client, seconds(5)).has_value());
  for (pid_t p : remote) EXPECT_TRUE(eventually([&] { return processGone(p); }, seconds(5))) << p;
  ::close(in[1]);
  ::close(out[0]);
}

}  // namespace
}  // namespace skiff::test
