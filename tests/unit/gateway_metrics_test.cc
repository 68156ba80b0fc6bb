#include <gtest/gtest.h>

#include "gateway/metrics.h"

#include <memory>

namespace skiff::gateway {
namespace {

TEST(GatewayMetricsTest, RoutesWithoutRequestsHaveNoSeries) {
  MetricsSnapshot snap;
  snap.routes[{"shop/idle", ""}];  // in the table, never asked
  RouteStats& asked = snap.routes[{"shop/web", ""}];
  ++asked.proxied;  // went on to a backend and came back: in flight again 0
  snap.routes[{"shop/web", "shop-web-3"}].recordResponse(200, 0.002);
  snap.routes[{"shop/dead", "shop-dead-1"}].connect_errors = 2;

  const std::string text = snap.renderPrometheus();
  EXPECT_EQ(text.find("shop/idle"), std::string::npos) << text;
  EXPECT_NE(text.find("skiff_gateway_requests_in_flight{route=\"shop/web\"} 0\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("skiff_gateway_upstream_connect_errors_total{route=\"shop/dead\","
                      "revision=\"shop-dead-1\"} 2\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("skiff_gateway_upstream_connect_errors_total{route=\"shop/web\","
                      "revision=\"shop-web-3\"} 0\n"),
            std::string::npos)
      << text;
}

TEST(GatewayMetricsTest, MergingKeepsWhetherARouteWasUsed) {
  RouteStats a, b;
  b.proxied = 1;
  EXPECT_FALSE(a.used());
  a.merge(b);
  EXPECT_TRUE(a.used());
}

TEST(GatewayMetricsTest, CodesAreCountedInOrderAndMergedByCode) {
  RouteStats a, b;
  for (int code : {503, 200, 200, 404}) a.recordResponse(code, 0.001);
  for (int code : {500, 200, 99, 600}) b.recordResponse(code, 0.001);  // 99, 600: not codes
  a.merge(b);
  EXPECT_EQ(a.responses(200), 3u);
  EXPECT_EQ(a.responses(404), 1u);
  EXPECT_EQ(a.responses(500), 1u);
  EXPECT_EQ(a.responses(503), 1u);
  EXPECT_EQ(a.responses(99) + a.responses(600), 0u);
  EXPECT_EQ(a.latency_count, 8u);
  MetricsSnapshot snap;
  snap.routes[{"r", ""}] = a;
  const std::string text = snap.renderPrometheus();
  const size_t c200 = text.find("code=\"200\""), c404 = text.find("code=\"404\""),
               c503 = text.find("code=\"503\"");
  ASSERT_NE(c503, std::string::npos) << text;
  EXPECT_LT(c200, c404);
  EXPECT_LT(c404, c503);
  EXPECT_NE(text.find("skiff_gateway_responses_total{route=\"r\",class=\"5xx\"} 2\n"),
            std::string::npos)
      << text;
}

TEST(GatewayMetricsTest, CountersLiveWhileHeldAndEndAfter) {
  ThreadMetrics metrics;
  std::shared_ptr<RouteStats> web = metrics.route("web");
  web->recordResponse(200, 0.001);
  {
    std::shared_ptr<RouteStats> old = metrics.route("old", "1");
    old->recordResponse(200, 0.001);
    // Asked again while held (a route state rebuilt for new backends): the same counters.
    EXPECT_EQ(metrics.route("web").get(), web.get());
    EXPECT_EQ(metrics.snapshot().routes.size(), 2u);
  }
  metrics.prune();
  const MetricsSnapshot snap = metrics.snapshot();
  ASSERT_EQ(snap.routes.size(), 1u);
  EXPECT_EQ(snap.routes.begin()->first.route, "web");
  EXPECT_EQ(snap.routes.begin()->second.responses(200), 1u);
  // A route that comes back starts from zero, as Prometheus expects of a new series.
  EXPECT_EQ(metrics.route("old", "1")->latency_count, 0u);
}

}  // namespace
}  // namespace skiff::gateway
