// End-to-end tests of `skiff gateway`: the real binary (SKIFF_BIN) proxying real HTTP traffic to
// backend servers started by the test, driven through its admin port.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e/backend.h"
#include "e2e/harness.h"

namespace skiff::test {
namespace {

using nlohmann::json;

// A `skiff gateway` child process on ephemeral ports; killed by pid when destroyed.
class GatewayProcess {
 public:
  explicit GatewayProcess(std::string state_dir) : state_dir_(std::move(state_dir)) { start(); }
  ~GatewayProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  void start() {
    std::string addr_file = state_dir_ + "/gateway.addr";
    unlink(addr_file.c_str());
    std::string log = state_dir_ + "/gateway.log";
    pid_ = fork();
    if (pid_ == 0) {
      FILE* f = freopen(log.c_str(), "a", stderr);
      (void)f;
      dup2(STDERR_FILENO, STDOUT_FILENO);
      execl(skiffBinary().c_str(), "skiff", "gateway", "--listen", "127.0.0.1:0", "--admin-listen",
            "127.0.0.1:0", "--state-dir", state_dir_.c_str(), "--threads", "2",
            static_cast<char*>(nullptr));
      _exit(127);
    }
    ASSERT_TRUE(eventually([&] {
      std::ifstream in(addr_file);
      std::stringstream ss;
      ss << in.rdbuf();
      json addr = json::parse(ss.str(), nullptr, false);
      if (addr.is_discarded() || !addr.is_object()) return false;
      std::string listen = addr["listen"], admin = addr["admin"];
      port_ = static_cast<uint16_t>(std::stoi(listen.substr(listen.rfind(':') + 1)));
      admin_url_ = "http://" + admin;
      return true;
    })) << "gateway did not write "
        << addr_file;
    ASSERT_TRUE(
        eventually([&] { return httpRequest(admin_url_, "GET", "/healthz").status == 200; }));
    // The admin token the gateway made on its first start; requests to its admin port carry it.
    std::ifstream token_file(state_dir_ + "/admin-token");
    std::getline(token_file, admin_token_);
    ASSERT_EQ(admin_token_.size(), 64u);
    rememberToken(admin_url_, admin_token_);
  }
  void kill9() {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  int terminate() {
    kill(pid_, SIGTERM);
    int status = -1;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }
  uint16_t port() const { return port_; }
  const std::string& adminUrl() const { return admin_url_; }
  HttpResult putRoutes(const json& table) const {
    return httpRequest(admin_url_, "PUT", "/routes", table.dump());
  }
  HttpResult patchRoutes(const json& delta) const {
    return httpRequest(admin_url_, "PATCH", "/routes", delta.dump());
  }

 private:
  std::string state_dir_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  std::string admin_url_;
  std::string admin_token_;
};

struct Reply {
  int status = 0;
  std::map<std::string, std::string> headers;
  std::string body;
  json bodyJson() const { return json::parse(body, nullptr, false); }
};

// A keep-alive client connection to the gateway.
class Client {
 public:
  explicit Client(uint16_t port) : fd_(connectLoopback(port)) {}
  ~Client() {
    if (fd_ >= 0) close(fd_);
  }
  Reply request(const std::string& host, const std::string& path, const std::string& method = "GET",
                const std::string& extra_headers = "", const std::string& body = "") {
    Reply reply;
    std::string req = method + " " + path + " HTTP/1.1\r\nHost: " + host + "\r\n" + extra_headers;
    if (!body.empty() && extra_headers.find("Transfer-Encoding") == std::string::npos)
      req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    req += "\r\n" + body;
    std::string line;
    if (fd_ < 0 || !sendAll(fd_, req) || !readMessage(fd_, buf_, line, reply.headers, reply.body))
      return reply;
    reply.status = std::stoi(line.substr(9, 3));
    return reply;
  }

 private:
  int fd_;
  std::string buf_;
};

json route(const std::string& id, const std::string& host, const std::string& prefix,
           std::vector<std::string> backends, json extra = json::object()) {
  json r = {{"id", id}, {"host", host}, {"pathPrefix", prefix}, {"backends", json::array()}};
  for (const auto& b : backends) r["backends"].push_back({{"address", b}});
  r.update(extra);
  return r;
}

// Sends `n` requests for `host`, each to be answered 200; how many `backend` answered.
int answeredBy(Client& c, const std::string& host, const std::string& backend, int n) {
  int count = 0;
  for (int i = 0; i < n; ++i) {
    Reply reply = c.request(host, "/");
    EXPECT_EQ(reply.status, 200);
    count += reply.headers["x-backend"] == backend;
  }
  return count;
}

class GatewayTest : public ::testing::Test {
 protected:
  TempDir dir_;
};

TEST_F(GatewayTest, RoutesByHostAndLongestPathPrefix) {
  TestBackend web("web"), api("api");
  GatewayProcess gw(dir_.path());
  json table = {{"version", 1},
                {"routes",
                 {route("web", "shop.localhost", "/", {web.address()}),
                  route("api", "shop.localhost", "/api", {api.address()})}}};
  ASSERT_EQ(gw.putRoutes(table).status, 200);
  Client c(gw.port());
  Reply r = c.request("Shop.Localhost:7481", "/index.html");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["x-backend"], "web");
  EXPECT_EQ(r.headers.count("keep-alive"), 0u);  // hop-by-hop, stripped
  EXPECT_EQ(c.request("shop.localhost", "/api/items?x=1").headers["x-backend"], "api");
  EXPECT_EQ(c.request("shop.localhost", "/apix").headers["x-backend"], "web");
  json echo = c.request("shop.localhost", "/api", "GET",
                        "X-Forwarded-For: 10.0.0.1\r\nConnection: keep-alive\r\n")
                  .bodyJson();
  EXPECT_EQ(echo["xff"], "10.0.0.1, 127.0.0.1");
  EXPECT_EQ(echo["proto"], "http");
  EXPECT_FALSE(echo["requestId"].get<std::string>().empty());
  EXPECT_EQ(echo["connection"], "");
  json passed = c.request("shop.localhost", "/", "GET", "X-Request-Id: trace-123\r\n").bodyJson();
  EXPECT_EQ(passed["requestId"], "trace-123");
  EXPECT_EQ(
      httpRequest(gw.adminUrl(), "GET", "/routes").body.find("\"version\":1") != std::string::npos,
      true);
}

TEST_F(GatewayTest, NoRouteAndNoReadyInstanceAnswerJson) {
  GatewayProcess gw(dir_.path());
  ASSERT_EQ(
      gw.putRoutes({{"version", 1}, {"routes", {route("shop", "shop.localhost", "/", {})}}}).status,
      200);
  Client c(gw.port());
  Reply none = c.request("unknown.localhost", "/x");
  EXPECT_EQ(none.status, 404);
  EXPECT_EQ(none.bodyJson()["reason"], "NoRoute");
  Reply empty = c.request("shop.localhost", "/x");
  EXPECT_EQ(empty.status, 503);
  EXPECT_EQ(empty.bodyJson()["reason"], "NoReadyInstance");
  EXPECT_EQ(empty.bodyJson()["message"], "route shop.localhost/ has no ready instance");
  EXPECT_EQ(empty.headers["content-type"], "application/json");
}

TEST_F(GatewayTest, RejectsInvalidTablesNamingTheField) {
  GatewayProcess gw(dir_.path());
  HttpResult r =
      gw.putRoutes({{"version", 1}, {"routes", {route("a", "a.test", "/", {"not-an-address"})}}});
  EXPECT_EQ(r.status, 400);
  json body = json::parse(r.body);
  EXPECT_EQ(body["fields"][0]["path"], "routes[0].backends[0].address");
  EXPECT_EQ(httpRequest(gw.adminUrl(), "PUT", "/routes", "{").status, 400);
  // Without the admin token the route table can be neither read nor replaced.
  for (const char* method : {"GET", "PUT"}) {
    HttpResult refused = httpRequest(gw.adminUrl(), method, "/routes", "{}", "application/json",
                                     {{"Authorization", ""}});
    EXPECT_EQ(refused.status, 401) << method << " " << refused.body;
    refused = httpRequest(gw.adminUrl(), method, "/routes", "{}", "application/json",
                          {{"Authorization", "Bearer wrong"}});
    EXPECT_EQ(refused.status, 401) << method;
  }
  EXPECT_EQ(
      httpRequest(gw.adminUrl(), "GET", "/metrics", "", "application/json", {{"Authorization", ""}})
          .status,
      200);
}

TEST_F(GatewayTest, SpreadsRequestsAcrossBackends) {
  TestBackend a("a"), b("b"), c("c");
  GatewayProcess gw(dir_.path());
  ASSERT_EQ(
      gw.putRoutes({{"version", 1},
                    {"routes", {route("r", "*", "/", {a.address(), b.address(), c.address()})}}})
          .status,
      200);
  std::map<std::string, int> seen;
  for (int conn = 0; conn < 6; ++conn) {
    Client client(gw.port());
    for (int i = 0; i < 50; ++i) seen[client.request("any.host", "/").headers["x-backend"]]++;
  }
  ASSERT_EQ(seen.size(), 3u);
  for (auto& [name, n] : seen) {
    EXPECT_GE(n, 90) << name;  // round robin per worker thread: exact up to one rotation each
    EXPECT_LE(n, 110) << name;
  }
}

TEST_F(GatewayTest, StreamsChunkedAndLengthBodies) {
  TestBackend web("web");
  GatewayProcess gw(dir_.path());
  ASSERT_EQ(
      gw.putRoutes({{"version", 1}, {"routes", {route("r", "*", "/", {web.address()})}}}).status,
      200);
  Client c(gw.port());
  std::string big(300000, 'x');
  EXPECT_EQ(c.request("h", "/upload", "POST", "", big).bodyJson()["bodyBytes"], big.size());
  std::string chunked = "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
  EXPECT_EQ(c.request("h", "/c", "POST", "Transfer-Encoding: chunked\r\n", chunked)
                .bodyJson()["bodyBytes"],
            11);
  EXPECT_EQ(c.request("h", "/after").status, 200);  // the connection is still in sync
}

TEST_F(GatewayTest, MalformedRequestsGetClearErrors) {
  GatewayProcess gw(dir_.path());
  int fd = connectLoopback(gw.port());
  ASSERT_TRUE(
      sendAll(fd, "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(40000, 'a') + "\r\n\r\n"));
  std::string buf, line, body;
  std::map<std::string, std::string> headers;
  ASSERT_TRUE(readMessage(fd, buf, line, headers, body));
  EXPECT_EQ(line.substr(9, 3), "431");
  close(fd);
  fd = connectLoopback(gw.port());
  ASSERT_TRUE(sendAll(
      fd, "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"));
  buf.clear();
  ASSERT_TRUE(readMessage(fd, buf, line, headers, body));
  EXPECT_EQ(line.substr(9, 3), "400");
  close(fd);
  EXPECT_EQ(httpRequest(gw.adminUrl(), "GET", "/healthz").status, 200);  // still alive
}

// A refused connection moves any request to another backend: nothing reached the first. A
// backend that takes the request and drops it gets another try only for idempotent requests,
// and only as many as the route's retries.
TEST_F(GatewayTest, RefusedConnectionsMoveOnAndDroppedIdempotentRequestsAreRetried) {
  TestBackend live("live");
  TestBackend dropper("dropper", /*drops=*/true);
  GatewayProcess gw(dir_.path());
  // A port nobody listens on: bind, note, close.
  TempDir unused;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  std::string dead = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  close(fd);
  ASSERT_EQ(
      gw.putRoutes(
            {{"version", 1},
             {"routes",
              {route("refused", "refused.test", "/", {dead, live.address()}),
               route("dead", "dead.test", "/", {dead}),
               route("drop", "drop.test", "/", {dropper.address(), live.address()},
                     {{"retries", 1}}),
               route("drop-once", "drop-once.test", "/", {dropper.address(), live.address()})}}})
          .status,
      200);
  Client c(gw.port());
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(c.request("refused.test", "/").status, 200);
    EXPECT_EQ(c.request("refused.test", "/", "POST", "", "x").status, 200);
  }
  int dropped_gets = 0, dropped_posts = 0, unretried_gets = 0;
  // One kind at a time: round robin alternates the two backends for each.
  for (int i = 0; i < 6; ++i) dropped_gets += c.request("drop.test", "/").status != 200;
  for (int i = 0; i < 6; ++i)
    dropped_posts += c.request("drop.test", "/", "POST", "", "x").status == 502;
  for (int i = 0; i < 6; ++i) unretried_gets += c.request("drop-once.test", "/").status == 502;
  EXPECT_EQ(dropped_gets, 0) << "a GET the dropper took went on to the live backend";
  EXPECT_GT(dropped_posts, 0) << "a POST may have done something: never resent";
  EXPECT_GT(unretried_gets, 0) << "without retries a dropped GET is a 502";
  EXPECT_GT(dropper.requests(), 0);
  Reply bad = c.request("dead.test", "/");
  EXPECT_EQ(bad.status, 502);
  EXPECT_EQ(bad.bodyJson()["reason"], "BadGateway");
  std::string metrics = httpRequest(gw.adminUrl(), "GET", "/metrics").body;
  EXPECT_NE(metrics.find("skiff_gateway_upstream_connect_errors_total{route=\"dead\"} "),
            std::string::npos);
}

TEST_F(GatewayTest, TimesOutSlowBackendsWith504) {
  TestBackend slow("slow");
  GatewayProcess gw(dir_.path());
  ASSERT_EQ(
      gw.putRoutes({{"version", 1},
                    {"routes", {route("r", "*", "/", {slow.address()}, {{"timeoutMs", 200}})}}})
          .status,
      200);
  Client c(gw.port());
  auto start = std::chrono::steady_clock::now();
  Reply r = c.request("h", "/sleep/2000");
  EXPECT_EQ(r.status, 504);
  EXPECT_EQ(r.bodyJson()["reason"], "UpstreamTimeout");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1500));
}

TEST_F(GatewayTest, SwapsTablesUnderLoadWithoutFailures) {
  TestBackend a("a"), b("b");
  GatewayProcess gw(dir_.path());
  ASSERT_EQ(
      gw.putRoutes({{"version", 1}, {"routes", {route("r", "shop.localhost", "/", {a.address()})}}})
          .status,
      200);
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&] {
      Client c(gw.port());
      while (!stop) {
        if (c.request("shop.localhost", "/").status == 200)
          ++ok;
        else
          ++failed;
      }
    });
  }
  for (int v = 2; v < 42; ++v) {
    std::vector<std::string> backends =
        v % 2 ? std::vector<std::string>{a.address()} : std::vector<std::string>{b.address()};
    ASSERT_EQ(
        gw.putRoutes({{"version", v}, {"routes", {route("r", "shop.localhost", "/", backends)}}})
            .status,
        200);
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  stop = true;
  for (auto& t : clients) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_GT(ok.load(), 100);
  EXPECT_GT(a.requests(), 0);
  EXPECT_GT(b.requests(), 0);
  // An older version is refused.
  EXPECT_EQ(gw.putRoutes({{"version", 1}, {"routes", json::array()}}).status, 409);
}

TEST_F(GatewayTest, KeepsServingRoutesAfterKill9Restart) {
  TestBackend web("web");
  GatewayProcess gw(dir_.path());
  ASSERT_EQ(gw.putRoutes({{"version", 7},
                          {"routes", {route("r", "shop.localhost", "/", {web.address()})}}})
                .status,
            200);
  gw.kill9();
  gw.start();
  Client c(gw.port());
  Reply r = c.request("shop.localhost", "/");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["x-backend"], "web");
  EXPECT_NE(httpRequest(gw.adminUrl(), "GET", "/routes").body.find("\"version\":7"),
            std::string::npos);
}

// A delta changes what it names and keeps the rest, is refused against another version, and
// survives a kill -9 through the journal.
TEST_F(GatewayTest, DeltasPatchTheTableAndSurviveKill9) {
  TestBackend web("web"), api("api");
  GatewayProcess gw(dir_.path());
  ASSERT_EQ(gw.putRoutes({{"version", 3},
                          {"routes",
                           {route("web", "shop.localhost", "/", {web.address()}),
                            route("old", "old.localhost", "/", {web.address()})}}})
                .status,
            200);
  auto stale = gw.patchRoutes({{"baseVersion", 2}, {"version", 4}, {"remove", {"old"}}});
  EXPECT_EQ(stale.status, 409) << stale.body;
  auto bad = gw.patchRoutes({{"baseVersion", 3}, {"version", 4}, {"remove", {"nope"}}});
  ASSERT_EQ(bad.status, 400) << bad.body;
  EXPECT_EQ(json::parse(bad.body)["fields"][0]["path"], "remove[0]");
  ASSERT_EQ(gw.patchRoutes({{"baseVersion", 3},
                            {"version", 5},
                            {"remove", {"old"}},
                            {"upsert", {route("api", "shop.localhost", "/api", {api.address()})}}})
                .status,
            200);
  auto check = [&] {
    Client c(gw.port());
    EXPECT_EQ(c.request("shop.localhost", "/").headers["x-backend"], "web") << "kept";
    EXPECT_EQ(c.request("shop.localhost", "/api/x").headers["x-backend"], "api") << "added";
    EXPECT_EQ(c.request("old.localhost", "/").status, 404) << "removed";
    const json table = json::parse(httpRequest(gw.adminUrl(), "GET", "/routes").body);
    EXPECT_EQ(table["version"], 5);
    EXPECT_EQ(table["routes"].size(), 2u);
  };
  check();
  gw.kill9();
  gw.start();
  check();
}

TEST_F(GatewayTest, MetricsCountRequestsPerRoute) {
  TestBackend web("web");
  GatewayProcess gw(dir_.path());
  ASSERT_EQ(gw.putRoutes({{"version", 1},
                          {"routes", {route("shop/web", "shop.localhost", "/", {web.address()})}}})
                .status,
            200);
  Client c(gw.port());
  for (int i = 0; i < 25; ++i) ASSERT_EQ(c.request("shop.localhost", "/").status, 200);
  c.request("nowhere", "/");
  std::string m = httpRequest(gw.adminUrl(), "GET", "/metrics").body;
  EXPECT_NE(
      m.find("skiff_gateway_requests_total{route=\"shop/web\",code=\"200\",class=\"2xx\"} 25\n"),
      std::string::npos)
      << m;
  EXPECT_NE(m.find("skiff_gateway_responses_total{route=\"shop/web\",class=\"2xx\"} 25\n"),
            std::string::npos);
  EXPECT_NE(m.find("skiff_gateway_request_duration_seconds_count{route=\"shop/web\"} 25\n"),
            std::string::npos);
  EXPECT_NE(
      m.find("skiff_gateway_request_duration_seconds_bucket{route=\"shop/web\",le=\"+Inf\"} 25\n"),
      std::string::npos);
  EXPECT_NE(m.find("skiff_gateway_requests_in_flight{route=\"shop/web\"} 0\n"), std::string::npos);
  EXPECT_NE(
      m.find("skiff_gateway_requests_total{route=\"_no_route\",code=\"404\",class=\"4xx\"} 1\n"),
      std::string::npos);
}

// A release judges its new revision by these: each backend's answers under its revision.
TEST_F(GatewayTest, MetricsCountEachBackendsRequestsUnderItsRevision) {
  TestBackend stable("stable"), canary("canary");
  GatewayProcess gw(dir_.path());
  json r = route("t/shop/web/0", "shop.localhost", "/", {});
  r["backends"] = {{{"address", stable.address()}, {"weight", 3}, {"revision", "1"}},
                   {{"address", canary.address()}, {"weight", 1}, {"revision", "2"}}};
  ASSERT_EQ(gw.putRoutes({{"version", 1}, {"routes", {r}}}).status, 200);
  Client c(gw.port());
  const int by_canary = answeredBy(c, "shop.localhost", "canary", 40);
  std::string m = httpRequest(gw.adminUrl(), "GET", "/metrics").body;
  EXPECT_NE(m.find("skiff_gateway_responses_total{route=\"t/shop/web/0\",revision=\"2\",class="
                   "\"2xx\"} " +
                   std::to_string(by_canary) + "\n"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("skiff_gateway_responses_total{route=\"t/shop/web/0\",revision=\"1\",class="
                   "\"2xx\"} " +
                   std::to_string(40 - by_canary) + "\n"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("skiff_gateway_request_duration_seconds_count{route=\"t/shop/web/0\",revision="
                   "\"2\"} " +
                   std::to_string(by_canary) + "\n"),
            std::string::npos);
  EXPECT_GT(by_canary, 0);
  // A revision longer than a label should be is refused, by its field.
  r["backends"][0]["revision"] = std::string(64, 'x');
  auto refused = gw.putRoutes({{"version", 2}, {"routes", {r}}});
  EXPECT_EQ(refused.status, 400);
  EXPECT_NE(refused.body.find("routes[0].backends[0].revision"), std::string::npos) << refused.body;
}

// A gateway lives through many releases: the series of a revision or route that left the table
// end, while those of what stays keep counting across the change.
TEST_F(GatewayTest, SeriesOfRoutesAndRevisionsThatLeftEndAndTheRestKeepCounting) {
  TestBackend stable("stable"), canary("canary");
  GatewayProcess gw(dir_.path());
  json web = route("t/web", "shop.localhost", "/", {});
  web["backends"] = {{{"address", stable.address()}, {"revision", "1"}},
                     {{"address", canary.address()}, {"revision", "2"}}};
  json old = route("t/old", "old.localhost", "/", {stable.address()});
  ASSERT_EQ(gw.putRoutes({{"version", 1}, {"routes", {web, old}}}).status, 200);
  Client c(gw.port());
  const int by_canary = answeredBy(c, "shop.localhost", "canary", 10);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(c.request("old.localhost", "/").status, 200);
  ASSERT_GT(by_canary, 0);
  ASSERT_LT(by_canary, 10);

  web["backends"] = {{{"address", canary.address()}, {"revision", "2"}}};
  ASSERT_EQ(
      gw.patchRoutes({{"baseVersion", 1}, {"version", 2}, {"remove", {"t/old"}}, {"upsert", {web}}})
          .status,
      200);
  for (int i = 0; i < 5; ++i) ASSERT_EQ(c.request("shop.localhost", "/").status, 200);
  std::string m;
  EXPECT_TRUE(eventually([&] {
    m = httpRequest(gw.adminUrl(), "GET", "/metrics").body;
    return m.find("t/old") == std::string::npos && m.find("revision=\"1\"") == std::string::npos;
  })) << m;
  EXPECT_NE(m.find("skiff_gateway_responses_total{route=\"t/web\",revision=\"2\",class="
                   "\"2xx\"} " +
                   std::to_string(by_canary + 5) + "\n"),
            std::string::npos)
      << m;
  // The backend that left is in no route: its pooled connections close now, not when they have
  // been idle for the pool's 30 s.
  EXPECT_TRUE(eventually([&] { return stable.openConnections() == 0; }, std::chrono::seconds(5)))
      << stable.openConnections();
}

TEST_F(GatewayTest, SigtermFinishesInFlightRequestsAndExitsZero) {
  TestBackend slow("slow");
  GatewayProcess gw(dir_.path());
  ASSERT_EQ(
      gw.putRoutes({{"version", 1}, {"routes", {route("r", "*", "/", {slow.address()})}}}).status,
      200);
  Reply reply;
  std::thread inflight([&] {
    Client c(gw.port());
    reply = c.request("h", "/sleep/500");
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  int status = gw.terminate();
  inflight.join();
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.headers["connection"], "close");
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace skiff::test
