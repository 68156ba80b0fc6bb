// Balancers: round robin spreads evenly (by weight), least request prefers idle backends.
#include <gtest/gtest.h>

#include "gateway/balancer.h"

namespace skiff::gateway {
namespace {

std::vector<Backend> backends(std::vector<uint32_t> weights) {
  std::vector<Backend> out;
  for (uint32_t w : weights) out.push_back({"127.0.0.1:1", {}, w, ""});
  return out;
}

// A canary release's weights as the route controller writes them: 10% over one canary
// backend, 90% over three stable ones.
TEST(GatewayBalancer, ACanarySplitIsExactOverTenThousandPicks) {
  Balancer b(BalancerKind::kRoundRobin, backends({1000, 3000, 3000, 3000}));
  int canary = 0;
  for (int i = 0; i < 10000; ++i) canary += b.pick() == 0;
  EXPECT_EQ(canary, 1000);
}

// Sticky routes: a client keeps its backend, clients spread by weight, and raising the
// canary's weight moves clients onto it only.
TEST(GatewayBalancer, StickyPicksKeepClientsAndFollowWeights) {
  std::vector<Backend> b = {{"10.0.0.1:80", {}, 1000, "2"},
                            {"10.0.0.2:80", {}, 4500, "1"},
                            {"10.0.0.3:80", {}, 4500, "1"}};
  Balancer at10(BalancerKind::kRoundRobin, b);
  b[0].weight = 5000;
  b[1].weight = b[2].weight = 2500;
  Balancer at50(BalancerKind::kRoundRobin, b);
  int canary10 = 0, canary50 = 0, moved_off_canary = 0;
  for (uint64_t client = 0; client < 10000; ++client) {
    const int first = at10.pickFor(client);
    EXPECT_EQ(at10.pickFor(client), first) << "the same client, the same backend";
    const int later = at50.pickFor(client);
    canary10 += first == 0;
    canary50 += later == 0;
    moved_off_canary += first == 0 && later != 0;
  }
  EXPECT_NEAR(canary10, 1000, 150);
  EXPECT_NEAR(canary50, 5000, 250);
  EXPECT_EQ(moved_off_canary, 0) << "a canary client stays on the canary as it grows";
  EXPECT_EQ(at10.pickFor(7, 0b111), -1) << "every backend excluded";
  EXPECT_NE(at10.pickFor(7, 0b001), 0);
}

TEST(GatewayBalancer, RoundRobinSpreadsEvenly) {
  Balancer b(BalancerKind::kRoundRobin, backends({100, 100, 100}));
  std::vector<int> counts(3);
  std::vector<int> order;
  for (int i = 0; i < 300; ++i) {
    int pick = b.pick();
    counts[static_cast<size_t>(pick)]++;
    if (i < 6) order.push_back(pick);
  }
  EXPECT_EQ(counts, (std::vector<int>{100, 100, 100}));
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 0, 1, 2}));  // strict rotation, no bursts
}

TEST(GatewayBalancer, RoundRobinFollowsWeightsInterleaved) {
  Balancer b(BalancerKind::kRoundRobin, backends({90, 10}));
  std::vector<int> counts(2);
  for (int i = 0; i < 1000; ++i) counts[static_cast<size_t>(b.pick())]++;
  EXPECT_EQ(counts, (std::vector<int>{900, 100}));
}

TEST(GatewayBalancer, ExcludedBackendsAreSkipped) {
  Balancer b(BalancerKind::kRoundRobin, backends({1, 1, 1}));
  for (int i = 0; i < 10; ++i) EXPECT_EQ(b.pick(/*exclude=*/0b101), 1);
  EXPECT_EQ(b.pick(0b111), -1);
  Balancer empty(BalancerKind::kLeastRequest, {});
  EXPECT_EQ(empty.pick(), -1);
}

TEST(GatewayBalancer, LeastRequestPrefersIdle) {
  Balancer b(BalancerKind::kLeastRequest, backends({1, 1, 1}));
  b.onRequestStart(0);
  b.onRequestStart(0);
  b.onRequestStart(2);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(b.pick(), 1);
  b.onRequestStart(1);
  b.onRequestStart(1);
  EXPECT_EQ(b.pick(), 2);  // 0: 2, 1: 2, 2: 1
  b.onRequestEnd(0);
  b.onRequestEnd(0);
  EXPECT_EQ(b.pick(), 0);
}

TEST(GatewayBalancer, LeastRequestRotatesAmongEquallyIdle) {
  Balancer b(BalancerKind::kLeastRequest, backends({1, 1, 1}));
  std::vector<int> counts(3);
  for (int i = 0; i < 30; ++i) counts[static_cast<size_t>(b.pick())]++;
  EXPECT_EQ(counts, (std::vector<int>{10, 10, 10}));
}

}  // namespace
}  // namespace skiff::gateway
