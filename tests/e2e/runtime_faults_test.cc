// End-to-end tests of faults on the embedded runtime: workloads that cannot start, exit at
// once, find their port taken or fail their liveness probe each show up as a clear condition
// on their instance and are restarted with growing backoff (on a new port when their own was
// taken), while the healthy component beside them keeps serving undisturbed.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e/harness.h"
#include "e2e/server_test.h"

namespace skiff::test {
namespace {

using nlohmann::json;

const std::string kApps = "/api/v1/tenants/default/applications";
const std::string kInstances = "/api/v1/tenants/default/instances";

json readinessOnHttp() {
  return {{"http", {{"path", "/healthz"}, {"port", "http"}}}, {"periodSeconds", 0.2}};
}

json component(const std::string& name, const std::string& command,
               const std::vector<std::string>& args, json health = json::object()) {
  json c = {{"name", name},
            {"run", {{"command", command}, {"args", args}}},
            {"ports", {{{"name", "http"}, {"port", 8080}}}},
            {"terminationGracePeriodSeconds", 2}};
  if (!health.empty()) c["health"] = std::move(health);
  return c;
}

json healthyWeb() {
  json web =
      component("web", "skiff-example", {"--name", "web"}, {{"readiness", readinessOnHttp()}});
  web["routes"] = {{{"host", "demo.localhost"}, {"port", "http"}}};
  return web;
}

// A TCP port held open for the test's lifetime, so a workload told to use it finds it taken.
class HeldPort {
 public:
  HeldPort() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        ::listen(fd_, 1) != 0 || ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
      return;
    port_ = ntohs(addr.sin_port);
  }
  ~HeldPort() {
    if (fd_ >= 0) ::close(fd_);
  }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

class RuntimeFaultsTest : public ServerTest {
 protected:
  void create(const json& components) {
    json doc = {{"metadata", {{"name", "demo"}}}, {"spec", {{"components", components}}}};
    auto r = httpRequest(server_.url(), "POST", kApps, doc.dump());
    ASSERT_EQ(r.status, 201) << r.body;
  }
  // The instances of one component (there is one replica of each in these tests).
  json instanceOf(const std::string& component_name) {
    for (const auto& i : get(kInstances).value("items", json::array()))
      if (i["spec"].value("component", "") == component_name) return i;
    return json();
  }
  // The instance's status, or an empty object while it has none.
  static json statusOf(const json& instance) {
    if (!instance.is_object() || !instance["status"].is_object()) return json::object();
    return instance["status"];
  }
  static json readyCondition(const json& instance) {
    for (const auto& c : statusOf(instance).value("conditions", json::array()))
      if (c.value("type", "") == "Ready") return c;
    return json::object();
  }
  static json lastExit(const json& instance) {
    const json exit = statusOf(instance).value("lastExit", json::object());
    return exit.is_object() ? exit : json::object();
  }
  int callWeb() {
    return httpRequest(server_.gatewayUrl(), "GET", "/", "", "application/json",
                       {{"Host", "demo.localhost"}})
        .status;
  }
};

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST_F(RuntimeFaultsTest, EachFaultIsAClearConditionAndDisturbsNothingElse) {
  HeldPort held;
  ASSERT_GT(held.port(), 0);
  create({healthyWeb(), component("missing", "/nonexistent/skiff-missing-command", {}),
          component("quits", "sh", {"-c", "echo 'boom: config file missing' >&2; exit 3"}),
          component("taken", "skiff-example", {"--port", std::to_string(held.port())}),
          component("moved", "skiff-example", {"--name", "moved"},
                    {{"readiness", readinessOnHttp()}})});

  // The command that does not exist is named in the instance's condition.
  ASSERT_TRUE(eventually(
      [&] {
        json c = readyCondition(instanceOf("missing"));
        return c.value("reason", "") == "StartFailed" &&
               contains(c.value("message", ""), "/nonexistent/skiff-missing-command");
      },
      std::chrono::seconds(10)))
      << instanceOf("missing").dump();
  // A workload that exits at once crash-loops, and its last stderr line says why.
  ASSERT_TRUE(eventually(
      [&] {
        json i = instanceOf("quits");
        json c = readyCondition(i);
        return c.value("reason", "") == "CrashLoopBackOff" &&
               contains(c.value("message", ""), "boom: config file missing") &&
               lastExit(i).value("exitCode", 0) == 3;
      },
      std::chrono::seconds(10)))
      << instanceOf("quits").dump();
  // A port already taken: the workload cannot listen, and the condition carries its error.
  ASSERT_TRUE(eventually(
      [&] {
        json c = readyCondition(instanceOf("taken"));
        return c.value("reason", "") == "CrashLoopBackOff" &&
               contains(c.value("message", ""), "Address already in use");
      },
      std::chrono::seconds(10)))
      << instanceOf("taken").dump();

  // The healthy component beside them is ready, routed and never restarted.
  ASSERT_TRUE(eventually([&] { return callWeb() == 200; }, std::chrono::seconds(10)));
  json web = instanceOf("web");
  EXPECT_EQ(statusOf(web).value("restarts", 0), 0) << web.dump();
  EXPECT_EQ(readyCondition(web).value("status", ""), "True");
  json app = get(kApps + "/demo");
  EXPECT_EQ(app["status"]["components"]["web"].value("ready", 0), 1) << app.dump();
  // Without a readiness probe a process counts as ready while it runs, which the crash loop's
  // restarts do for a moment: between them it is not.
  EXPECT_TRUE(eventually(
      [&] {
        app = get(kApps + "/demo");
        return app["status"]["components"]["quits"].value("ready", -1) == 0;
      },
      std::chrono::seconds(10)))
      << app.dump();

  // An instance whose port another socket takes while it is down restarts on a new port.
  ASSERT_TRUE(eventually([&] { return statusOf(instanceOf("moved")).value("ready", false); },
                         std::chrono::seconds(10)))
      << instanceOf("moved").dump();
  json moved = statusOf(instanceOf("moved"));
  const int old_port = moved["ports"].value("http", 0);
  ASSERT_GT(old_port, 0) << moved.dump();
  ASSERT_EQ(::kill(moved["pid"].get<int>(), SIGKILL), 0);
  int squatter = -1;
  ASSERT_TRUE(eventually(
      [&] {
        squatter = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(static_cast<uint16_t>(old_port));
        const int one = 1;
        ::setsockopt(squatter, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (::bind(squatter, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
            ::listen(squatter, 1) == 0)
          return true;
        ::close(squatter);
        return false;
      },
      std::chrono::seconds(5)));
  EXPECT_TRUE(eventually(
      [&] {
        json s = statusOf(instanceOf("moved"));
        return s.value("restarts", 0) >= 1 && s.value("ready", false) &&
               s["ports"].value("http", 0) != old_port;
      },
      std::chrono::seconds(10)))
      << instanceOf("moved").dump();
  ::close(squatter);

  // A probe on a port the component does not declare is refused at admission, naming it.
  json bad = {
      {"metadata", {{"name", "probe-typo"}}},
      {"spec",
       {{"components",
         {component("web", "skiff-example", {},
                    {{"readiness", {{"http", {{"path", "/healthz"}, {"port", "admin"}}}}}})}}}}};
  auto r = httpRequest(server_.url(), "POST", kApps, bad.dump());
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_TRUE(contains(r.body, "spec.components[0].health.readiness.http.port")) << r.body;
  EXPECT_EQ(httpRequest(server_.url(), "GET", kApps + "/probe-typo").status, 404);
}

TEST_F(RuntimeFaultsTest, FailingLivenessRestartsWithGrowingBackoff) {
  json liveness = {{"http", {{"path", "/healthz"}, {"port", "http"}}},
                   {"periodSeconds", 0.2},
                   {"failureThreshold", 2}};
  json web = healthyWeb();
  web["health"]["liveness"] = liveness;
  // Its liveness probe asks for a path the service does not have, so it never passes.
  json sick = component("sick", "skiff-example", {"--name", "sick"},
                        {{"liveness",
                          {{"http", {{"path", "/no-such-path"}, {"port", "http"}}},
                           {"periodSeconds", 0.2},
                           {"failureThreshold", 2}}}});
  create({web, sick});
  ASSERT_TRUE(eventually([&] { return callWeb() == 200; }, std::chrono::seconds(10)));

  // Told to fail its health check, the instance is killed for it, restarted and routed again.
  auto told = httpRequest(server_.gatewayUrl(), "POST", "/fail", "", "application/json",
                          {{"Host", "demo.localhost"}});
  ASSERT_EQ(told.status, 200) << told.body;
  ASSERT_TRUE(eventually(
      [&] {
        json i = instanceOf("web");
        return statusOf(i).value("restarts", 0) >= 1 && statusOf(i).value("ready", false) &&
               lastExit(i).value("reason", "") == "LivenessProbeFailed";
      },
      std::chrono::seconds(15)))
      << instanceOf("web").dump();
  EXPECT_TRUE(contains(lastExit(instanceOf("web")).value("message", ""), "liveness"))
      << instanceOf("web").dump();
  ASSERT_TRUE(eventually([&] { return callWeb() == 200; }, std::chrono::seconds(10)));

  // The instance that never passes is restarted again and again, each wait twice the last.
  std::set<int> delays;
  ASSERT_TRUE(eventually(
      [&] {
        json i = instanceOf("sick");
        const std::string message = readyCondition(i).value("message", "");
        const size_t at = message.find("restarting in ");
        if (at != std::string::npos) {
          EXPECT_TRUE(contains(message, "LivenessProbeFailed")) << message;
          delays.insert(std::stoi(message.substr(at + 14)));
        }
        return delays.size() >= 3;
      },
      std::chrono::seconds(30)))
      << instanceOf("sick").dump();
  std::vector<int> sorted(delays.begin(), delays.end());
  for (size_t n = 1; n < sorted.size(); ++n) EXPECT_EQ(sorted[n], 2 * sorted[n - 1]);
  EXPECT_GE(statusOf(instanceOf("sick")).value("restarts", 0), 2);
}

}  // namespace
}  // namespace skiff::test
