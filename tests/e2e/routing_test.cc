// End-to-end: the server runs its gateway, routes applications' hosts to their ready instances,
// restarts the gateway when it dies, and the gateway keeps serving while the server is down.
#include <signal.h>

#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e/backend.h"
#include "e2e/harness.h"

namespace skiff::test {
namespace {

using nlohmann::json;

const char* kApp = R"({"metadata":{"name":"shop"},"spec":{"components":[
  {"name":"web","run":{"command":"/bin/true"},"replicas":0,"ports":[{"name":"http","port":8080}],
   "routes":[{"host":"shop.localhost","path":"/","port":"http"}]}]}})";

class RoutingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.start();
    ASSERT_TRUE(eventually([&] { return !server_.gatewayUrl().empty(); }))
        << "the server did not start its gateway";
  }
  HttpResult viaGateway(const std::string& path = "/") {
    return httpRequest(server_.gatewayUrl(), "GET", path, "", "application/json",
                       {{"Host", "shop.localhost"}});
  }
  // Registers an instance of shop/web that is ready at `backend`, as a node other than this
  // machine's would (so the local node agent leaves it alone).
  void addReadyInstance(const std::string& name, const TestBackend& backend) {
    const std::string base = "/api/v1/tenants/default/instances";
    json instance = {
        {"metadata", {{"name", name}}},
        {"spec",
         {{"application", "shop"}, {"component", "web"}, {"revision", 1}, {"node", "edge-1"}}}};
    ASSERT_EQ(httpRequest(server_.url(), "POST", base, instance.dump()).status, 201);
    const std::string port = backend.address().substr(backend.address().rfind(':') + 1);
    json status = {
        {"status",
         {{"ready", true}, {"address", "127.0.0.1"}, {"ports", {{"http", std::stoi(port)}}}}}};
    ASSERT_EQ(
        httpRequest(server_.url(), "PUT", base + "/" + name + "/status", status.dump()).status,
        200);
  }
  TempDir dir_;
  ServerProcess server_{dir_.path()};
};

TEST_F(RoutingTest, RoutesFollowReadyInstancesAndSurviveGatewayAndServerKills) {
  EXPECT_EQ(viaGateway().status, 404) << "no application routes shop.localhost yet";
  ASSERT_EQ(httpRequest(server_.url(), "POST", "/api/v1/tenants/default/applications", kApp).status,
            201);
  ASSERT_TRUE(eventually([&] { return viaGateway().status == 503; }))
      << "a route without ready instances answers 503";
  EXPECT_NE(viaGateway().body.find("NoReadyInstance"), std::string::npos);

  TestBackend a("a"), b("b");
  addReadyInstance("shop-web-a", a);
  addReadyInstance("shop-web-b", b);
  // Routes follow readiness a moment later; then traffic spreads over both instances.
  std::set<std::string> seen;
  ASSERT_TRUE(eventually([&] {
    HttpResult r = viaGateway();
    if (r.status == 200) seen.insert(json::parse(r.body)["backend"]);
    return seen == std::set<std::string>{"a", "b"};
  })) << "traffic spreads over ready instances";

  // An instance that stops being ready leaves the route.
  ASSERT_EQ(httpRequest(server_.url(), "PUT", "/api/v1/tenants/default/instances/shop-web-b/status",
                        R"({"status":{"ready":false}})")
                .status,
            200);
  ASSERT_TRUE(eventually([&] {
    for (int i = 0; i < 6; ++i)
      if (json::parse(viaGateway().body)["backend"] != "a") return false;
    return true;
  }));

  // kill -9 of the gateway: the server starts it again, with its routes.
  const pid_t first = server_.gatewayPid();
  ASSERT_GT(first, 0);
  ASSERT_EQ(::kill(first, SIGKILL), 0);
  ASSERT_TRUE(eventually(
      [&] {
        return server_.gatewayPid() != first && !server_.gatewayUrl().empty() &&
               viaGateway().status == 200;
      },
      std::chrono::seconds(5)));

  // kill -9 of the server: the gateway keeps serving its last table.
  server_.kill9();
  for (int i = 0; i < 10; ++i) ASSERT_EQ(viaGateway().status, 200);

  // A restarted server adopts the running gateway instead of starting a second one.
  const pid_t running = server_.gatewayPid();
  ServerProcess again(dir_.path());
  again.start();
  EXPECT_EQ(again.gatewayPid(), running);
  EXPECT_EQ(viaGateway().status, 200);
}

}  // namespace
}  // namespace skiff::test
