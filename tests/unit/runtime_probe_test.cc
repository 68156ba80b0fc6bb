// Prober: HTTP, TCP and exec probes against real servers and processes started here (port 0),
// with Kubernetes' thresholds. Assertions are on the order and content of transitions and on
// eventual outcomes with generous deadlines, never on how long something took at most.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "runtime/probe/prober.h"

namespace skiff::runtime {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

constexpr auto kDeadline = 20s;

// A listening socket on 127.0.0.1, port chosen by the kernel.
int listenLocal(int* port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  EXPECT_EQ(::listen(fd, 64), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  *port = ntohs(addr.sin_port);
  return fd;
}

// A port on which nothing listens (it was bound a moment ago, then closed).
int closedPort() {
  int port = 0;
  ::close(listenLocal(&port));
  return port;
}

// Answers every request with the current `status`, then closes the connection.
class HttpServer {
 public:
  HttpServer() : fd_(listenLocal(&port_)), thread_([this] { serve(); }) {}
  ~HttpServer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }
  void setStatus(int status) { status_ = status; }
  // Alternate 200 and 503 on every request.
  void setFlapping(bool flapping) { flapping_ = flapping; }
  int requests() const { return requests_; }
  SteadyClock::time_point firstRequestAt() {
    std::lock_guard<std::mutex> lock(mu_);
    return first_request_at_;
  }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      int conn = ::accept(fd_, nullptr, nullptr);
      if (conn < 0) continue;
      std::string head;
      char buf[1024];
      while (head.find("\r\n\r\n") == std::string::npos) {
        pollfd c{conn, POLLIN, 0};
        if (::poll(&c, 1, 2000) <= 0) break;
        ssize_t n = ::recv(conn, buf, sizeof buf, 0);
        if (n <= 0) break;
        head.append(buf, static_cast<size_t>(n));
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (requests_ == 0) first_request_at_ = SteadyClock::now();
      }
      int n = ++requests_;
      int status = flapping_ ? (n % 2 == 1 ? 200 : 503) : status_.load();
      std::string response = "HTTP/1.1 " + std::to_string(status) +
                             " X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      ::send(conn, response.data(), response.size(), MSG_NOSIGNAL);
      ::close(conn);
    }
  }

  int port_ = 0;
  int fd_;
  std::atomic<bool> stop_{false};
  std::atomic<int> status_{200};
  std::atomic<bool> flapping_{false};
  std::atomic<int> requests_{0};
  std::mutex mu_;
  SteadyClock::time_point first_request_at_{};
  std::thread thread_;  // last: starts after the members it reads
};

// Collects the transitions a probe reports.
class Transitions {
 public:
  ProbeCallback callback() {
    return [this](const ProbeResult& r) {
      std::lock_guard<std::mutex> lock(mu_);
      results_.push_back(r);
      at_.push_back(SteadyClock::now());
      cv_.notify_all();
    };
  }
  // Waits until at least `n` transitions arrived; false after the deadline.
  bool waitFor(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kDeadline, [&] { return results_.size() >= n; });
  }
  std::vector<ProbeResult> results() {
    std::lock_guard<std::mutex> lock(mu_);
    return results_;
  }
  SteadyClock::time_point at(size_t i) {
    std::lock_guard<std::mutex> lock(mu_);
    return at_.at(i);
  }
  size_t count() {
    std::lock_guard<std::mutex> lock(mu_);
    return results_.size();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<ProbeResult> results_;
  std::vector<SteadyClock::time_point> at_;
};

ProbeSpec httpProbe(int port, std::string path = "/healthz") {
  ProbeSpec spec;
  spec.kind = ProbeKind::kHttp;
  spec.port = port;
  spec.path = std::move(path);
  spec.period = 30ms;
  spec.timeout = 2s;
  spec.success_threshold = 1;
  spec.failure_threshold = 1;
  return spec;
}

ProbeSpec execProbe(std::vector<std::string> argv) {
  ProbeSpec spec;
  spec.kind = ProbeKind::kExec;
  spec.argv = std::move(argv);
  spec.period = 30ms;
  spec.timeout = 5s;
  spec.failure_threshold = 1;
  return spec;
}

TEST(RuntimeProbe, HttpFollowsThresholdsBothWays) {
  HttpServer server;
  Prober prober;
  ASSERT_TRUE(prober.start().isOk());
  Transitions seen;
  ProbeSpec spec = httpProbe(server.port());
  spec.success_threshold = 2;
  spec.failure_threshold = 3;
  auto handle = prober.add("web-1/readiness", spec, seen.callback());
  ASSERT_TRUE(handle.ok()) << handle.status().toString();

  ASSERT_TRUE(seen.waitFor(1));
  server.setStatus(503);
  ASSERT_TRUE(seen.waitFor(2));
  server.setStatus(200);
  ASSERT_TRUE(seen.waitFor(3));
  prober.stop();

  std::string url = "http://127.0.0.1:" + std::to_string(server.port()) + "/healthz";
  auto results = seen.results();
  ASSERT_EQ(results.size(), 3u);  // only changes are reported
  EXPECT_EQ(results[0].id, "web-1/readiness");
  EXPECT_EQ(results[0].handle, *handle);
  EXPECT_TRUE(results[0].healthy);
  EXPECT_EQ(results[0].consecutive_successes, 2);
  EXPECT_EQ(results[0].message, "HTTP GET " + url + ": 200");
  EXPECT_FALSE(results[1].healthy);
  EXPECT_EQ(results[1].consecutive_failures, 3);
  EXPECT_EQ(results[1].consecutive_successes, 0);
  EXPECT_EQ(results[1].message, "HTTP GET " + url + ": 503");
  EXPECT_TRUE(results[2].healthy);
  EXPECT_EQ(results[2].consecutive_successes, 2);
}

TEST(RuntimeProbe, HttpRedirectIsHealthyAndClientErrorIsNot) {
  HttpServer server;
  server.setStatus(302);
  Prober prober;
  ASSERT_TRUE(prober.start().isOk());
  Transitions seen;
  ASSERT_TRUE(prober.add("a", httpProbe(server.port()), seen.callback()).ok());
  ASSERT_TRUE(seen.waitFor(1));
  server.setStatus(404);
  ASSERT_TRUE(seen.waitFor(2));
  auto results = seen.results();
  EXPECT_TRUE(results[0].healthy);
  EXPECT_FALSE(results[1].healthy);
  EXPECT_NE(results[1].message.find(": 404"), std::string::npos) << results[1].message;
}

TEST(RuntimeProbe, TcpSucceedsWhileListeningAndFailsWhenClosed) {
  int port = 0;
  int listener = listenLocal(&port);
  Prober prober;
  ASSERT_TRUE(prober.start().isOk());
  Transitions seen;
  ProbeSpec spec;
  spec.kind = ProbeKind::kTcp;
  spec.port = port;
  spec.period = 30ms;
  spec.failure_threshold = 1;
  ASSERT_TRUE(prober.add("db-0/liveness", spec, seen.callback()).ok());
  ASSERT_TRUE(seen.waitFor(1));
  ::close(listener);
  ASSERT_TRUE(seen.waitFor(2));
  auto results = seen.results();
  EXPECT_TRUE(results[0].healthy);
  EXPECT_FALSE(results[1].healthy);
  EXPECT_EQ(results[1].message,
            "dial tcp 127.0.0.1:" + std::to_string(port) + ": connection refused");
}

TEST(RuntimeProbe, TcpResolvesHostNames) {
  int port = 0;
  int listener = listenLocal(&port);
  Prober prober;
  ASSERT_TRUE(prober.start().isOk());
  Transitions seen;
  ProbeSpec spec;
  spec.kind = ProbeKind::kTcp;
  spec.host = "localhost";
  spec.port = port;
  spec.period = 30ms;
  ASSERT_TRUE(prober.add("a", spec, seen.callback()).ok());
  ASSERT_TRUE(seen.waitFor(1));
  prober.stop();
  ::close(listener);
  EXPECT_TRUE(seen.results()[0].healthy) << seen.results()[0].message;
  EXPECT_EQ(seen.results()[0].message,
            "dial tcp localhost:" + std::to_string(port) + ": connected");
}

TEST(RuntimeProbe, HttpConnectionRefusedSaysSo) {
  int port = closedPort();
  Prober prober;
  ASSERT_TRUE(prober.start().isOk());
  Transitions seen;
  ASSERT_TRUE(prober.add("a", httpProbe(port, "/"), seen.callback()).ok());
  ASSERT_TRUE(seen.waitFor(1));
  auto r = seen.results()[0];
  EXPECT_FALSE(r.healthy);
  std::string address = "127.0.0.1:" + std::to_string(port);
  EXPECT_EQ(r.message,
            "HTTP GET http://" + address + "/: dial tcp " + address + ": connection refused");
}

TEST(RuntimeProbe, TimesOutOnAServerThatNeverAnswers) {
  // Listening but never accepting: the kernel completes the handshake, nobody answers.
  int port = 0;
  int listener = listenLocal(&port);
  Prober prober;
  ASSERT_TRUE(prober.start().isOk());
  Transitions seen;
  ProbeSpec spec = httpProbe(port);
  spec.timeout = 200ms;
  ASSERT_TRUE(prober.add("a", spec, seen.callback()).ok());
  ASSERT_TRUE(seen.waitFor(1));
  prober.stop();
  ::close(listener);
  auto r = seen.results()[0];
  EXPECT_FALSE(r.healthy);
  EXPECT_EQ(r.message,
            "HTTP GET http://127.0.0.1:" + std::to_string(port) + "/healthz: timeout after 200ms");
}

TEST(RuntimeProbe, ExecSuccessIsExitCodeZero) {
  Prober prober;
  ASSERT_TRUE(prober.start().isOk());
  Transitions ok, fails, missing;
  ASSERT_TRUE(prober.add("true", execProbe({"true"}), ok.callback()).ok());
  ASSERT_TRUE(prober.add("false", execProbe({"sh", "-c", "exit 3"}), fails.callback()).ok());
  ASSERT_TRUE(prober.add("missing", execProbe({"/nonexistent/probe"}), missing.callback()).ok());
  ASSERT_TRUE(ok.waitFor(1));
  ASSERT_TRUE(fails.waitFor(1));
  ASSERT_TRUE(missing.waitFor(1));
  prober.stop();
  EXPECT_TRUE(ok.results()[0].healthy);
  EXPECT_EQ(ok.results()[0].message, "exec [true]: exit code 0");
  EXPECT_FALSE(fails.results()[0].healthy);
  EXPECT_EQ(fails.results()[0].message, "exec [sh -c exit 3]: exit code 3");
  EXPECT_FALSE(missing.results()[0].healthy);
  EXPECT_EQ(missing.results()[0].message, "exec [/nonexistent/probe]: no such file or directory");
}

TEST(RuntimeProbe, ExecBeyondTimeoutIsKilledAndFails) {
  char marker_template[] = "/tmp/skiff-probe-XXXXXX";
  int marker_fd = ::mkstemp(marker_template);
  ASSERT_GE(marker_fd, 0);
  ::close(marker_fd);
  std::string marker = marker_template;
  Prober prober;
  ASSERT_TRUE(prober.start().isOk());
  Transitions seen;
  // The child of the probe's shell would write the marker after 1.5s unless the process group
  // is killed at the timeout.
  ProbeSpec spec = execProbe({"sh", "-c", "(sleep 1.5; echo late > " + marker + ") & sleep 30"});
  spec.timeout = 200ms;
  spec.period = 10s;
  ASSERT_TRUE(prober.add("slow", spec, seen.callback()).ok());
  ASSERT_TRUE(seen.waitFor(1));
  auto r = seen.results()[0];
  EXPECT_FALSE(r.healthy);
  EXPECT_NE(r.message.find("timeout after 200ms"), std::string::npos) << r.message;
  std::this_thread::sleep_for(2s);
  prober.stop();
  FILE* f = std::fopen(marker.c_str(), "r");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(std::fgetc(f), EOF) << "the probe's background child survived the timeout";
  std::fclose(f);
  ::unlink(marker.c_str());
}

TEST(RuntimeProbe, InitialDelayIsRespected) {
  HttpServer server;
  Prober prober;
  ASSERT_TRUE(prober.start().isOk());
  Transitions seen;
  ProbeSpec spec = httpProbe(server.port());
  spec.initial_delay = 400ms;
  auto added_at = SteadyClock::now();
  ASSERT_TRUE(prober.add("a", spec, seen.callback()).ok());
  ASSERT_TRUE(seen.waitFor(1));
  // Lower bounds only: timers never fire early, however loaded the machine is.
  EXPECT_GE(server.firstRequestAt() - added_at, 400ms);
  EXPECT_GE(seen.at(0) - added_at, 400ms);
}

TEST(RuntimeProbe, RemoveStopsCallbacks) {
  HttpServer server;
  server.setFlapping(true);  // every attempt flips health, so every attempt reports
  Prober prober;
  ASSERT_TRUE(prober.start().isOk());
  Transitions seen;
  ASSERT_TRUE(prober.add("a", httpProbe(server.port()), seen.callback()).ok());
  ASSERT_TRUE(seen.waitFor(4));
  prober.remove("a");
  size_t after_remove = seen.count();
  int requests_after_remove = server.requests();
  std::this_thread::sleep_for(300ms);  // ten periods
  EXPECT_EQ(seen.count(), after_remove);
  EXPECT_LE(server.requests(), requests_after_remove + 1);  // at most the attempt in flight
  prober.remove("a");                                       // unknown by now: a no-op
}

TEST(RuntimeProbe, RemoveFromInsideACallbackDoesNotDeadlock) {
  HttpServer server;
  Prober prober;
  ASSERT_TRUE(prober.start().isOk());
  std::atomic<int> calls{0};
  ASSERT_TRUE(prober
                  .add("a", httpProbe(server.port()),
                       [&](const ProbeResult&) {
                         ++calls;
                         prober.remove("a");
                       })
                  .ok());
  server.setFlapping(true);
  Transitions other;
  ASSERT_TRUE(prober.add("b", httpProbe(server.port()), other.callback()).ok());
  ASSERT_TRUE(other.waitFor(3));  // the loop kept running after the removal
  EXPECT_EQ(calls.load(), 1);
}

TEST(RuntimeProbe, AddingAnExistingIdReplacesTheProbe) {
  HttpServer healthy;
  int refused = closedPort();
  Prober prober;
  ASSERT_TRUE(prober.start().isOk());
  Transitions first, second;
  auto h1 = prober.add("a", httpProbe(healthy.port()), first.callback());
  ASSERT_TRUE(first.waitFor(1));
  auto h2 = prober.add("a", httpProbe(refused), second.callback());
  ASSERT_TRUE(h1.ok() && h2.ok());
  EXPECT_NE(*h1, *h2);
  ASSERT_TRUE(second.waitFor(1));
  EXPECT_FALSE(second.results()[0].healthy);
  EXPECT_EQ(second.results()[0].handle, *h2);
  EXPECT_EQ(first.count(), 1u);
}

TEST(RuntimeProbe, StopEndsExecProbesInFlight) {
  Prober prober;
  ASSERT_TRUE(prober.start().isOk());
  Transitions seen;
  ProbeSpec spec = execProbe({"sleep", "60"});
  spec.timeout = 120s;
  ASSERT_TRUE(prober.add("a", spec, seen.callback()).ok());
  std::this_thread::sleep_for(100ms);
  auto before = SteadyClock::now();
  prober.stop();
  EXPECT_LT(SteadyClock::now() - before, 30s);  // killed, not waited for
  EXPECT_EQ(seen.count(), 0u);
  EXPECT_FALSE(prober.add("b", spec, seen.callback()).ok());
}

TEST(RuntimeProbe, RejectsInvalidSpecs) {
  ProbeSpec https = httpProbe(443);
  https.scheme = "https";
  Status s = validateProbeSpec(https);
  ASSERT_EQ(s.code(), StatusCode::kInvalid);
  ASSERT_EQ(s.fields().size(), 1u);
  EXPECT_EQ(s.fields()[0].path, "scheme");
  EXPECT_NE(s.fields()[0].message.find("not supported"), std::string::npos);

  ProbeSpec bad = httpProbe(0, "healthz");
  bad.period = 0ms;
  bad.failure_threshold = 0;
  Status b = validateProbeSpec(bad);
  std::vector<std::string> paths;
  for (const auto& f : b.fields()) paths.push_back(f.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"port", "path", "period", "failure_threshold"}));

  Prober prober;
  EXPECT_FALSE(prober.add("x", execProbe({}), [](const ProbeResult&) {}).ok());
}

}  // namespace
}  // namespace skiff::runtime
