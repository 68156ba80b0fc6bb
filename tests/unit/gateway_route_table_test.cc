// Route tables: validation with field paths, and matching by host, path prefix and headers.
#include <gtest/gtest.h>

#include <set>

#include "gateway/route_table.h"

namespace skiff::gateway {
namespace {

std::shared_ptr<const RouteTable> table(const std::string& json) {
  auto t = parseRouteTable(json);
  EXPECT_TRUE(t.ok()) << t.status().toString();
  return t.ok() ? t.value() : std::make_shared<RouteTable>();
}

std::string idOf(const RouteTable& t, std::string_view host, std::string_view target,
                 std::vector<HttpHeader> headers = {}) {
  const Route* r = t.match(host, target, headers.data(), headers.size());
  return r ? r->id : "";
}

const char* kTable = R"({"version": 3, "routes": [
  {"id": "root", "host": "shop.localhost", "pathPrefix": "/", "backends": []},
  {"id": "api", "host": "shop.localhost", "pathPrefix": "/api", "backends": []},
  {"id": "api-v2", "host": "shop.localhost", "pathPrefix": "/api/v2/", "backends": []},
  {"id": "beta", "host": "shop.localhost", "pathPrefix": "/api",
   "match": {"headers": [{"name": "X-Beta", "type": "present"}]}, "backends": []},
  {"id": "beta-exact", "host": "shop.localhost", "pathPrefix": "/api",
   "match": {"headers": [{"name": "X-Beta", "value": "1"}, {"name": "X-User", "value": "ad", "type": "prefix"}]},
   "backends": []},
  {"id": "any", "host": "*", "pathPrefix": "/", "backends": []}
]})";

TEST(GatewayRouteTable, MatchesHostCaseInsensitivelyWithoutPort) {
  auto t = table(kTable);
  EXPECT_EQ(t->version(), 3u);
  EXPECT_EQ(idOf(*t, "SHOP.localhost:8080", "/"), "root");
  EXPECT_EQ(idOf(*t, "shop.localhost.", "/x"), "root");
  EXPECT_EQ(idOf(*t, "other.localhost", "/api"), "any");
}

TEST(GatewayRouteTable, LongestPrefixOnSegmentBoundaries) {
  auto t = table(kTable);
  EXPECT_EQ(idOf(*t, "shop.localhost", "/api"), "api");
  EXPECT_EQ(idOf(*t, "shop.localhost", "/api/x?q=1"), "api");
  EXPECT_EQ(idOf(*t, "shop.localhost", "/api?q=1"), "api");
  EXPECT_EQ(idOf(*t, "shop.localhost", "/apix"), "root");
  EXPECT_EQ(idOf(*t, "shop.localhost", "/api/v2/users"), "api-v2");
  EXPECT_EQ(idOf(*t, "shop.localhost", "/api/v2"), "api");  // "/api/v2/" needs the slash
  EXPECT_TRUE(pathHasPrefix("/a/b", "/a/"));
  EXPECT_FALSE(pathHasPrefix("/ab", "/a"));
}

TEST(GatewayRouteTable, MoreSpecificHeaderMatchesWin) {
  auto t = table(kTable);
  EXPECT_EQ(idOf(*t, "shop.localhost", "/api", {{"x-beta", "0"}}), "beta");
  EXPECT_EQ(idOf(*t, "shop.localhost", "/api", {{"X-Beta", "1"}, {"x-user", "admin"}}),
            "beta-exact");
  EXPECT_EQ(idOf(*t, "shop.localhost", "/api", {{"X-Beta", "1"}, {"x-user", "bob"}}), "beta");
  EXPECT_EQ(idOf(*t, "shop.localhost", "/api", {{"X-Other", "1"}}), "api");
}

// A/B routes: a cookie or a query parameter, exactly as sent.
TEST(GatewayRouteTable, CookieAndQueryMatchesAreExact) {
  auto t = table(R"({"version": 1, "routes": [
    {"id": "all", "host": "ab.test", "backends": []},
    {"id": "beta", "host": "ab.test", "match": {"cookies": [{"name": "beta", "value": "1"}]},
     "backends": []},
    {"id": "variant", "host": "ab.test", "match": {"query": [{"name": "v", "value": "b"}]},
     "backends": []}]})");
  EXPECT_EQ(idOf(*t, "ab.test", "/", {{"Cookie", "beta=1"}}), "beta");
  EXPECT_EQ(idOf(*t, "ab.test", "/", {{"cookie", "a=2; beta=1; c=3"}}), "beta");
  EXPECT_EQ(idOf(*t, "ab.test", "/", {{"Cookie", "a=1"}, {"Cookie", "beta=1"}}), "beta");
  EXPECT_EQ(idOf(*t, "ab.test", "/", {{"Cookie", "beta=10"}}), "all");
  EXPECT_EQ(idOf(*t, "ab.test", "/", {{"Cookie", "xbeta=1"}}), "all");
  EXPECT_EQ(idOf(*t, "ab.test", "/", {{"X-Cookie", "beta=1"}}), "all");
  EXPECT_EQ(idOf(*t, "ab.test", "/x?a=1&v=b"), "variant");
  EXPECT_EQ(idOf(*t, "ab.test", "/x?v=b"), "variant");
  EXPECT_EQ(idOf(*t, "ab.test", "/x?v=bb"), "all");
  EXPECT_EQ(idOf(*t, "ab.test", "/x?vv=b"), "all");
  EXPECT_EQ(idOf(*t, "ab.test", "/x"), "all");
  auto bad = parseRouteTable(
      R"({"version": 1, "routes": [{"id": "a", "host": "a.test", "backends": [],
          "match": {"cookies": [{"name": "x"}], "query": "v=1"}}]})");
  ASSERT_FALSE(bad.ok());
  std::set<std::string> paths;
  for (const auto& f : bad.status().fields()) paths.insert(f.path);
  EXPECT_EQ(paths,
            (std::set<std::string>{"routes[0].match.cookies[0].value", "routes[0].match.query"}));
}

TEST(GatewayRouteTable, InterleavedHostsEachKeepTheirOwnChain) {
  // Several hosts with several routes each, given interleaved and least specific first, and
  // "*" routes among them: every chain is sorted on its own.
  auto t = table(R"({"version": 1, "routes": [
    {"id": "a-root", "host": "a.test", "pathPrefix": "/", "backends": []},
    {"id": "any-root", "host": "*", "pathPrefix": "/", "backends": []},
    {"id": "b-root", "host": "b.test", "pathPrefix": "/", "backends": []},
    {"id": "a-api", "host": "a.test", "pathPrefix": "/api", "backends": []},
    {"id": "c-only", "host": "c.test", "pathPrefix": "/", "backends": []},
    {"id": "b-api", "host": "b.test", "pathPrefix": "/api", "backends": []},
    {"id": "any-api", "host": "*", "pathPrefix": "/api", "backends": []},
    {"id": "a-api-v1", "host": "a.test", "pathPrefix": "/api/v1", "backends": []},
    {"id": "b-api-v1", "host": "b.test", "pathPrefix": "/api/v1", "backends": []}
  ]})");
  for (const char* host : {"a", "b"}) {
    const std::string h = std::string(host) + ".test";
    EXPECT_EQ(idOf(*t, h, "/"), std::string(host) + "-root");
    EXPECT_EQ(idOf(*t, h, "/api/x"), std::string(host) + "-api");
    EXPECT_EQ(idOf(*t, h, "/api/v1/x"), std::string(host) + "-api-v1");
  }
  EXPECT_EQ(idOf(*t, "c.test", "/api"), "c-only");
  EXPECT_EQ(idOf(*t, "d.test", "/"), "any-root");
  EXPECT_EQ(idOf(*t, "d.test", "/api/v1"), "any-api");
  EXPECT_EQ(t->indexOf("b-api-v1"), 8u);
}

TEST(GatewayRouteTable, AbsoluteFormTargetCarriesHost) {
  auto t = table(kTable);
  EXPECT_EQ(idOf(*t, "ignored", "http://shop.localhost/api/x"), "api");
}

TEST(GatewayRouteTable, NoMatchWithoutWildcard) {
  auto t = table(
      R"({"version": 1, "routes": [{"id": "a", "host": "a.test", "pathPrefix": "/x", "backends": []}]})");
  EXPECT_EQ(idOf(*t, "a.test", "/y"), "");
  EXPECT_EQ(idOf(*t, "b.test", "/x"), "");
}

TEST(GatewayRouteTable, ParsesBackendsAndDefaults) {
  auto t = table(R"({"version": 1, "routes": [{"id": "a", "host": "a.test",
      "backends": [{"address": "127.0.0.1:8080"}, {"address": "[::1]:9090", "weight": 5}]}]})");
  const Route& r = *t->routes().at(0);
  EXPECT_EQ(r.path_prefix, "/");
  EXPECT_EQ(r.timeout_ms, 30000u);
  EXPECT_EQ(r.retries, 0u);
  EXPECT_EQ(r.balancer, BalancerKind::kRoundRobin);
  ASSERT_EQ(r.backends.size(), 2u);
  EXPECT_EQ(r.backends[0].endpoint.port(), 8080);
  EXPECT_EQ(r.backends[0].weight, 100u);
  EXPECT_TRUE(r.backends[1].endpoint.address().is_v6());
  EXPECT_EQ(r.backends[1].weight, 5u);
}

std::vector<std::string> errorPaths(const std::string& json) {
  auto t = parseRouteTable(json);
  EXPECT_FALSE(t.ok());
  std::vector<std::string> paths;
  for (const auto& f : t.status().fields()) paths.push_back(f.path);
  return paths;
}

TEST(GatewayRouteTable, ValidationNamesEveryBadField) {
  auto paths = errorPaths(R"({"version": -1, "routes": [
    {"id": "a", "host": "A B", "pathPrefix": "api", "timeoutMs": 0, "retries": 99, "balancer": "random",
     "match": {"headers": [{"name": "bad name", "type": "regex"}]},
     "backends": [{"address": "localhost:80"}, {"address": "127.0.0.1:0"}, {"address": "127.0.0.1:1", "weight": 0}]},
    {"id": "a", "host": "b.test"}
  ]})");
  std::vector<std::string> want = {"version",
                                   "routes[0].host",
                                   "routes[0].pathPrefix",
                                   "routes[0].timeoutMs",
                                   "routes[0].retries",
                                   "routes[0].balancer",
                                   "routes[0].match.headers[0].name",
                                   "routes[0].match.headers[0].type",
                                   "routes[0].match.headers[0].value",
                                   "routes[0].backends[0].address",
                                   "routes[0].backends[1].address",
                                   "routes[0].backends[2].weight",
                                   "routes[1].backends",
                                   "routes[1].id"};
  std::sort(paths.begin(), paths.end());
  std::sort(want.begin(), want.end());
  EXPECT_EQ(paths, want);
}

TEST(GatewayRouteTable, RejectsNonJsonAndMissingTopLevelFields) {
  auto bad = parseRouteTable("{not json");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kBadRequest);
  EXPECT_EQ(errorPaths(R"({"routes": []})"), std::vector<std::string>{"version"});
  EXPECT_EQ(errorPaths(R"({"version": 1, "routes": {}})"), std::vector<std::string>{"routes"});
}

}  // namespace
}  // namespace skiff::gateway
