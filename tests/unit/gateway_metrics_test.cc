#include <gtest/gtest.h>

#include "gateway/metrics.h"

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

}  // namespace
}  // namespace skiff::gateway
