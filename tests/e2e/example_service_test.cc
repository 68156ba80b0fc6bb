// End-to-end tests of the example service (examples/service, built as skiff-example next to
// SKIFF_BIN): the real binary on an ephemeral port, driven over real HTTP.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e/harness.h"

namespace skiff::test {
namespace {

using nlohmann::json;

std::string exampleBinary() {
  return std::filesystem::path(skiffBinary()).parent_path().string() + "/skiff-example";
}

// One skiff-example child process; killed (SIGKILL) by pid when destroyed if still running.
class ExampleProcess {
 public:
  ExampleProcess(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
    std::string bin = exampleBinary();
    if (::access(bin.c_str(), X_OK) != 0) {
      ADD_FAILURE() << bin << " is missing: build the skiff-example target";
      return;
    }
    std::string port_file = dir_.path() + "/port";
    std::string log = dir_.path() + "/out.log";
    std::vector<std::string> argv = {bin, "--host", "127.0.0.1", "--port-file", port_file};
    argv.insert(argv.end(), args.begin(), args.end());
    env.emplace("PORT", "0");
    std::vector<std::string> envs;
    for (const auto& [k, v] : env) envs.push_back(k + "=" + v);
    envs.push_back("PATH=/usr/bin:/bin");

    pid_ = ::fork();
    if (pid_ == 0) {
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      std::vector<char*> cargv, cenv;
      for (auto& a : argv) cargv.push_back(a.data());
      cargv.push_back(nullptr);
      for (auto& e : envs) cenv.push_back(e.data());
      cenv.push_back(nullptr);
      ::execve(cargv[0], cargv.data(), cenv.data());
      ::_exit(127);
    }
    bool up = eventually([&] {
      std::ifstream in(port_file);
      int port = 0;
      if (in >> port && port > 0) {
        url_ = "http://127.0.0.1:" + std::to_string(port);
        port_ = port;
        return true;
      }
      return exited();
    });
    EXPECT_TRUE(up && !url_.empty()) << "skiff-example did not start; see " << log;
  }
  ~ExampleProcess() {
    if (pid_ > 0 && !exited()) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status_, 0);
    }
  }

  // Reaps the process if it has exited; true once it has.
  bool exited() {
    if (reaped_) return true;
    if (pid_ <= 0) return true;
    if (::waitpid(pid_, &status_, WNOHANG) == pid_) reaped_ = true;
    return reaped_;
  }
  // The exit code once exited normally (waiting up to 10 s), else -1.
  int exitCode() {
    if (!eventually([&] { return exited(); })) return -1;
    return WIFEXITED(status_) ? WEXITSTATUS(status_) : -1;
  }
  pid_t pid() const { return pid_; }
  int port() const { return port_; }
  const std::string& url() const { return url_; }

 private:
  TempDir dir_;
  pid_t pid_ = -1;
  int port_ = 0;
  std::string url_;
  int status_ = 0;
  bool reaped_ = false;
};

// A raw keep-alive connection, for what httpRequest (one request per connection) cannot show.
class Connection {
 public:
  explicit Connection(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  }
  ~Connection() { ::close(fd_); }

  bool send(const std::string& data) {
    return ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
  }
  // Reads one response (head and Content-Length body); status 0 if the connection ended first.
  HttpResult read() {
    HttpResult result;
    size_t head_end;
    while ((head_end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return result;
    }
    std::string head = buf_.substr(0, head_end);
    result.status = std::stoi(head.substr(9, 3));
    size_t pos = head.find("\r\n");
    while (pos != std::string::npos) {
      size_t next = head.find("\r\n", pos + 2);
      std::string line = head.substr(pos + 2, next == std::string::npos ? next : next - pos - 2);
      size_t colon = line.find(':');
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      result.headers[name] = line.substr(colon + 2);
      pos = next;
    }
    size_t length = std::stoul(result.headers["content-length"]);
    while (buf_.size() < head_end + 4 + length) {
      if (!fill()) return HttpResult{};
    }
    result.body = buf_.substr(head_end + 4, length);
    buf_.erase(0, head_end + 4 + length);
    return result;
  }
  // True once the server has closed the connection (waits up to 10 s).
  bool closedByPeer() { return buf_.empty() && !fill(); }

 private:
  bool fill() {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 10000) <= 0) return false;
    char chunk[16384];
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buf_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  std::string buf_;
};

TEST(ExampleService, ReportsIdentityAndHealth) {
  ExampleProcess web({"--name", "web", "--version-label", "v2"}, {{"SKIFF_INSTANCE", "web-0"}});
  ASSERT_FALSE(web.url().empty());

  HttpResult root = httpRequest(web.url(), "GET", "/");
  ASSERT_EQ(root.status, 200);
  EXPECT_EQ(root.headers["content-type"], "application/json");
  json body = json::parse(root.body);
  EXPECT_EQ(body, (json{{"service", "web"}, {"version", "v2"}, {"instance", "web-0"}}));

  HttpResult health = httpRequest(web.url(), "GET", "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok\n");
  EXPECT_EQ(httpRequest(web.url(), "POST", "/fail").status, 200);
  EXPECT_EQ(httpRequest(web.url(), "GET", "/healthz").status, 503);
  EXPECT_EQ(httpRequest(web.url(), "GET", "/").status, 200);  // failing health only
  EXPECT_EQ(httpRequest(web.url(), "POST", "/recover").status, 200);
  EXPECT_EQ(httpRequest(web.url(), "GET", "/healthz").status, 200);

  EXPECT_EQ(httpRequest(web.url(), "GET", "/nope").status, 404);
  EXPECT_EQ(httpRequest(web.url(), "GET", "/fail").status, 405);
}

TEST(ExampleService, VersionAndInstanceDefaults) {
  ExampleProcess svc({}, {{"APP_VERSION", "v7"}});
  ASSERT_FALSE(svc.url().empty());
  json body = json::parse(httpRequest(svc.url(), "GET", "/").body);
  EXPECT_EQ(body["service"], "example");
  EXPECT_EQ(body["version"], "v7");
  std::string instance = body["instance"];
  std::string pid_suffix = "-" + std::to_string(svc.pid());
  ASSERT_GT(instance.size(), pid_suffix.size());
  EXPECT_EQ(instance.substr(instance.size() - pid_suffix.size()), pid_suffix);
}

TEST(ExampleService, EchoReturnsRequestHeaders) {
  ExampleProcess svc({"--name", "echo"});
  ASSERT_FALSE(svc.url().empty());
  HttpResult echo =
      httpRequest(svc.url(), "GET", "/echo?x=1", "", "", {{"X-Forwarded-For", "10.1.2.3"}});
  ASSERT_EQ(echo.status, 200);
  json body = json::parse(echo.body);
  EXPECT_EQ(body["method"], "GET");
  EXPECT_EQ(body["path"], "/echo?x=1");
  EXPECT_EQ(body["headers"]["x-forwarded-for"], "10.1.2.3");
  EXPECT_EQ(body["headers"]["host"], "skiff");
}

TEST(ExampleService, KeepAliveServesManyRequestsOnOneConnection) {
  ExampleProcess svc({"--name", "ka", "--pad", "1024"});
  ASSERT_FALSE(svc.url().empty());
  Connection conn(svc.port());
  // Pipelined: both requests are sent before either answer is read.
  ASSERT_TRUE(
      conn.send("GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /healthz HTTP/1.1\r\nHost: a\r\n\r\n"));
  HttpResult first = conn.read();
  ASSERT_EQ(first.status, 200);
  EXPECT_EQ(json::parse(first.body)["pad"].get<std::string>().size(), 1024u);
  EXPECT_EQ(conn.read().status, 200);
  ASSERT_TRUE(conn.send("GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"));
  HttpResult last = conn.read();
  EXPECT_EQ(last.status, 200);
  EXPECT_EQ(last.headers["connection"], "close");
  EXPECT_TRUE(conn.closedByPeer());
}

TEST(ExampleService, CrashExitsWithCodeTwo) {
  ExampleProcess svc({"--name", "doomed"});
  ASSERT_FALSE(svc.url().empty());
  HttpResult crash = httpRequest(svc.url(), "POST", "/crash");
  EXPECT_EQ(crash.status, 0);  // no answer: it exits at once
  EXPECT_EQ(svc.exitCode(), 2);
}

TEST(ExampleService, ChainsToItsUpstream) {
  ExampleProcess api({"--name", "api"}, {{"APP_VERSION", "v3"}, {"SKIFF_INSTANCE", "api-0"}});
  ASSERT_FALSE(api.url().empty());
  ExampleProcess web({"--name", "web", "--upstream-env", "API_ADDR"},
                     {{"API_ADDR", "127.0.0.1:" + std::to_string(api.port())}});
  ASSERT_FALSE(web.url().empty());

  json body = json::parse(httpRequest(web.url(), "GET", "/").body);
  EXPECT_EQ(body["service"], "web");
  EXPECT_EQ(body["upstream"], (json{{"service", "api"}, {"version", "v3"}, {"instance", "api-0"}}));

  // An upstream that is not there is reported, not fatal.
  ExampleProcess lonely({"--name", "lonely", "--upstream-env", "MISSING_ADDR"});
  ASSERT_FALSE(lonely.url().empty());
  HttpResult r = httpRequest(lonely.url(), "GET", "/");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body)["upstream"], "$MISSING_ADDR is not set");

  ::kill(api.pid(), SIGKILL);
  ASSERT_TRUE(eventually([&] { return api.exited(); }));
  json down = json::parse(httpRequest(web.url(), "GET", "/").body);
  ASSERT_TRUE(down["upstream"].is_string()) << down.dump();
  EXPECT_NE(down["upstream"].get<std::string>().find("connect"), std::string::npos) << down.dump();
}

TEST(ExampleService, SigtermFinishesRequestsInFlightAndExitsZero) {
  ExampleProcess svc({"--name", "graceful"});
  ASSERT_FALSE(svc.url().empty());
  Connection conn(svc.port());
  ASSERT_TRUE(conn.send("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n"));
  ASSERT_EQ(conn.read().status, 200);  // the connection is accepted and being served

  ASSERT_EQ(httpRequest(svc.url(), "POST", "/slow?ms=500").status, 200);
  // The request is in the server's socket buffer before the signal is sent, so it counts as
  // in flight and must be answered.
  ASSERT_TRUE(conn.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
  ASSERT_EQ(::kill(svc.pid(), SIGTERM), 0);
  HttpResult answered = conn.read();
  EXPECT_EQ(answered.status, 200);
  EXPECT_EQ(answered.headers["connection"], "close");
  EXPECT_TRUE(conn.closedByPeer());
  EXPECT_EQ(svc.exitCode(), 0);
}

TEST(ExampleService, RejectsBadArguments) {
  std::string bin = exampleBinary();
  pid_t pid = ::fork();
  if (pid == 0) {
    int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, 2);
    ::execl(bin.c_str(), bin.c_str(), "--port", "notaport", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 64);
}

}  // namespace
}  // namespace skiff::test
